"""Zero-downtime deploys through kamal-proxy on the real fleet, each host's proxy on its own arch.

One stack (`e2e-proxy`) runs web on the two arm64 hosts and `api` on the amd64 host, both
proxied, and `worker` with `proxy: false` on a third host. The app is the fleet's busybox image
pinned by digest per platform, so nothing is built. Request loops are bounded in count and time
and aimed only at fleet addresses. Tests run in file order; each leaves the stack serving.
"""

from __future__ import annotations

import http.client
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import json
import pytest
from pulumi import automation as auto

from tests.e2e.fleet_stack import OpsStack, registry_digest
from tests.support import host_address, inventory, ssh

pytestmark = pytest.mark.e2e

STACK = "e2e-proxy"
WEB_CMD = (
    'sh -c \'mkdir -p /tmp/www && echo "$GREETING on $(uname -m)" > /tmp/www/index.html'
    " && exec httpd -f -p 8080 -h /tmp/www'"
)
WORKER_CMD = "sh -c 'while true; do echo \"worker $GREETING\"; sleep 5; done'"
RATE = 20  # requests per second, over both web hosts
MAX_SECONDS = 400
MAX_REQUESTS = RATE * MAX_SECONDS


def proxy_config(service: str = "px") -> dict[str, Any]:
    registry = inventory()["registry"]
    return {
        "service": service,
        "image": "fleetform/busybox",
        "registry": {
            "server": registry,
            "username": inventory()["registry_user"],
            "password": ["REGISTRY_PASSWORD"],
        },
        "builder": {"arch": ["arm64", "amd64"]},
        "servers": {
            "web": {
                "hosts": [host_address("h1"), host_address("h2")],
                "arch": "arm64",
                "cmd": WEB_CMD,
            },
            "api": {"hosts": [host_address("h4")], "arch": "amd64", "cmd": WEB_CMD, "proxy": True},
            "worker": {
                "hosts": [host_address("h3")],
                "arch": "arm64",
                "cmd": WORKER_CMD,
                "proxy": False,
            },
        },  # fmt: skip
        "proxy": {
            "app_port": 8080,
            "healthcheck": {"path": "/", "interval": 1, "timeout": 2},
            "run": {"registry": registry},
        },
        "deploy_timeout": 20,
        "drain_timeout": 5,
        "env": {"clear": {"GREETING": "one"}, "secret": ["APP_SECRET"]},
        "retain_containers": 1,
    }


def pin_both_platforms(stack: OpsStack) -> None:
    stack.stack.set_config(
        "fleetform:appDigests",
        auto.ConfigValue(
            json.dumps(
                {
                    "linux/arm64": registry_digest("fleetform/busybox", "arm64"),
                    "linux/amd64": registry_digest("fleetform/busybox", "amd64"),
                }
            )
        ),
    )


@pytest.fixture(scope="module")
def proxied(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OpsStack]:
    stack = OpsStack(STACK, tmp_path_factory.mktemp("proxy"), proxy_config())
    try:
        pin_both_platforms(stack)
        yield stack
    finally:
        stack.drop()


def get(address: str, host_header: str | None = None) -> tuple[int, str]:
    connection = http.client.HTTPConnection(address, 80, timeout=5)
    try:
        headers = {"Host": host_header} if host_header else {}
        connection.request("GET", "/", headers=headers)
        response = connection.getresponse()
        return response.status, response.read().decode().strip()
    finally:
        connection.close()


@dataclass
class Loop:
    """Requests at RATE per second, alternating over the web hosts, until stopped (bounded)."""

    addresses: list[str]
    requests: int = 0
    failures: list[str] = field(default_factory=list)
    bodies: Counter[str] = field(default_factory=Counter)
    started: float = 0.0
    elapsed: float = 0.0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def __enter__(self) -> Loop:
        self.started = time.monotonic()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        assert self._thread is not None
        self._thread.join(timeout=30)
        self.elapsed = time.monotonic() - self.started

    def _run(self) -> None:
        deadline = self.started + MAX_SECONDS
        while not self._stop.is_set() and self.requests < MAX_REQUESTS:
            now = time.monotonic()
            if now > deadline:
                break
            address = self.addresses[self.requests % len(self.addresses)]
            self.requests += 1
            try:
                status, body = get(address)
                if status == 200:
                    self.bodies[body] += 1
                else:
                    self.failures.append(f"{address}: HTTP {status} {body[:80]}")
            except OSError as error:
                self.failures.append(f"{address}: {error}")
            pause = self.started + self.requests / RATE - time.monotonic()
            if pause > 0:
                time.sleep(pause)

    @property
    def rate(self) -> float:
        return self.requests / self.elapsed if self.elapsed else 0.0

    def report(self, what: str) -> str:
        return (
            f"{what}: {self.requests} requests in {self.elapsed:.1f}s ({self.rate:.1f}/s), "
            f"{len(self.failures)} failed; answers {dict(self.bodies)}"
        )


def web_addresses() -> list[str]:
    return [host_address("h1"), host_address("h2")]


def proxy_container(address: str) -> dict[str, str] | None:
    out = ssh(
        address,
        "docker inspect --format '{{.Image}} {{.State.Running}} {{.Config.Image}}' kamal-proxy",
        check=False,
    )
    if out.returncode != 0:
        return None
    image_id, running, image = out.stdout.split()
    arch = ssh(address, f"docker image inspect --format '{{{{.Architecture}}}}' {image_id}")
    return {"running": running, "image": image, "arch": arch.stdout.strip()}


def routes(address: str) -> str:
    return ssh(address, "docker exec kamal-proxy kamal-proxy list", check=False).stdout


def test_first_up_serves_through_each_hosts_own_proxy(proxied: OpsStack) -> None:
    assert proxied.up().summary.result == "succeeded"
    for address in web_addresses():
        assert get(address) == (200, "one on aarch64")
    assert get(host_address("h4")) == (200, "one on x86_64")
    image = f"{inventory()['registry']}/basecamp/kamal-proxy:v0.9.2"
    for name, arch in (("h1", "arm64"), ("h2", "arm64"), ("h4", "amd64")):
        assert proxy_container(host_address(name)) == {
            "running": "true",
            "image": image,
            "arch": arch,
        }, name


def test_a_role_with_proxy_false_publishes_nothing_and_gets_no_proxy(proxied: OpsStack) -> None:
    h3 = host_address("h3")
    assert proxy_container(h3) is None
    names = ssh(h3, f"docker ps --filter label=fleetform.stack={STACK} --format '{{{{.Names}}}}'")
    (worker,) = names.stdout.split()
    assert worker.startswith("px-worker-e2e-proxy-")
    # Nor do the proxied containers publish anything: only the proxy holds ports 80 and 443.
    for address in (h3, *web_addresses()):
        published = ssh(
            address,
            f"docker ps --filter label=fleetform.stack={STACK} --format '{{{{.Ports}}}}'",
        ).stdout
        assert "->" not in published, (address, published)


def test_an_env_change_deploys_both_web_hosts_without_a_failed_request(
    proxied: OpsStack,
) -> None:
    config = proxied.edited()
    config["env"]["clear"]["GREETING"] = "two"
    proxied.write(config)
    with Loop(web_addresses()) as loop:
        time.sleep(2)
        started = time.monotonic()
        assert proxied.up().summary.result == "succeeded"
        deploy_seconds = time.monotonic() - started
        time.sleep(2)
    print(loop.report(f"env-change deploy ({deploy_seconds:.1f}s)"))
    assert loop.failures == [], loop.report("deploy")
    assert loop.rate >= 10, loop.report("deploy")
    assert set(loop.bodies) == {"one on aarch64", "two on aarch64"}, loop.report("deploy")
    for address in web_addresses():
        assert get(address) == (200, "two on aarch64")
        # The old version is stopped once the proxy serves the new one (retained for rollback).
        states = ssh(
            address,
            "docker ps -a --filter label=fleetform.container=px-web-e2e-proxy "
            "--format '{{.State}}'",
        ).stdout.split()
        assert sorted(states) == ["exited", "running"], (address, states)


def test_a_release_that_exits_at_once_fails_and_the_old_version_keeps_serving(
    proxied: OpsStack,
) -> None:
    before = proxied.edited()
    config = proxied.edited()
    config["servers"]["web"]["cmd"] = "sh -c 'echo release broke >&2; exit 3'"
    proxied.write(config)
    try:
        with Loop(web_addresses()) as loop:
            time.sleep(1)
            error = proxied.failing_up()
            time.sleep(1)
    finally:
        proxied.write(before)
    print(loop.report("failed release"))
    assert "exited or restarted" in error and "release broke" in error, error
    assert loop.failures == [], loop.report("failed release")
    assert loop.rate >= 10, loop.report("failed release")
    assert set(loop.bodies) == {"two on aarch64"}, loop.report("failed release")
    assert proxied.up().summary.result == "succeeded"


def test_an_unhealthy_release_is_refused_by_the_proxy_and_the_old_target_kept(
    proxied: OpsStack,
) -> None:
    """Runs, but never answers its health check: kamal-proxy keeps the previous target."""
    before = proxied.edited()
    config = proxied.edited()
    config["servers"]["web"]["cmd"] = "sh -c 'echo never healthy; exec sleep 600'"
    config["deploy_timeout"] = 5
    config["boot"] = {"limit": 1}
    proxied.write(config)
    try:
        with Loop(web_addresses()) as loop:
            error = proxied.failing_up()
    finally:
        proxied.write(before)
    print(loop.report("unhealthy release"))
    assert "kamal-proxy kept the previous target of px-web-e2e-proxy" in error, error
    assert "never healthy" in error, error
    assert loop.failures == [], loop.report("unhealthy release")
    assert set(loop.bodies) == {"two on aarch64"}, loop.report("unhealthy release")
    assert proxied.up().summary.result == "succeeded"


def test_a_proxy_upgrade_replaces_only_the_proxy_one_host_at_a_time(proxied: OpsStack) -> None:
    """Changed proxy settings (here log_max_size; an image version alike) replace the proxy.

    App containers and routes stay; port 80 is closed on one host at a time while its new
    kamal-proxy starts. The loop measures that cost; it asserts only that both hosts recover.
    """
    apps = {a: ssh(a, "docker ps -q --filter label=fleetform.stack=" + STACK).stdout
            for a in web_addresses()}  # fmt: skip
    proxies = {a: ssh(a, "docker inspect --format '{{.Id}}' kamal-proxy").stdout
               for a in web_addresses()}  # fmt: skip
    config = proxied.edited()
    config["proxy"]["run"]["log_max_size"] = "20m"
    proxied.write(config)
    with Loop(web_addresses()) as loop:
        assert proxied.up().summary.result == "succeeded"
        time.sleep(1)
    print(loop.report("proxy upgrade"))
    for address in web_addresses():
        assert (
            ssh(address, "docker ps -q --filter label=fleetform.stack=" + STACK).stdout
            == (apps[address])
        )
        assert (
            ssh(address, "docker inspect --format '{{.Id}}' kamal-proxy").stdout
            != (proxies[address])
        )
        assert get(address) == (200, "two on aarch64")
    assert len(loop.failures) < loop.requests / 2, loop.report("proxy upgrade")


def test_two_stacks_share_one_proxy_and_a_destroy_spares_the_others_routes(
    proxied: OpsStack, tmp_path: Path
) -> None:
    other = proxy_config(service="other")
    other["servers"] = {
        "web": {
            "hosts": [host_address("h2")],
            "arch": "arm64",
            "cmd": WEB_CMD,
            "proxy": {"host": "other.test"},
        }
    }
    other["builder"] = {"arch": "arm64"}
    # The same proxy settings as the first stack: one kamal-proxy per host serves both.
    other["proxy"] = proxied.edited()["proxy"]
    other["env"]["clear"]["GREETING"] = "other"
    second = OpsStack("e2e-proxy2", tmp_path, other)
    h2 = host_address("h2")
    proxy_before = ssh(h2, "docker inspect --format '{{.Id}}' kamal-proxy").stdout
    try:
        assert second.up().summary.result == "succeeded"
        assert get(h2, "other.test") == (200, "other on aarch64")
        assert get(h2) == (200, "two on aarch64")
        assert ssh(h2, "docker inspect --format '{{.Id}}' kamal-proxy").stdout == proxy_before
        # A third stack claiming what the first one serves (every host name) is refused.
        clash = proxy_config(service="clash")
        clash["servers"] = {"web": {**other["servers"]["web"], "proxy": True}}
        clash["builder"] = {"arch": "arm64"}
        clash["proxy"] = other["proxy"]
        third = OpsStack("e2e-proxy3", tmp_path, clash)
        try:
            error = third.failing_up()
            assert "host settings conflict with another service" in error, error
        finally:
            third.drop()
    finally:
        second.drop()
    listed = routes(h2)
    assert "px-web-e2e-proxy" in listed and "other-web-e2e-proxy2" not in listed, listed
    assert get(h2) == (200, "two on aarch64")


def test_destroy_removes_the_routes_and_the_proxies_nobody_uses(proxied: OpsStack) -> None:
    proxied.stack.destroy(color="never", on_output=lambda _line: None)
    for name in ("h1", "h2", "h3", "h4"):
        assert proxy_container(host_address(name)) is None, name
