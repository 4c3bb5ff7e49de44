"""Accessory files, directories, service, network and registry on the real fleet.

One stack runs a jobs role on h3 and a Redis accessory on h4 whose `redis.conf.erb` takes its
password from a stack secret, beside a plain file with its own mode and owner. The file contents
carry markers that must never show in the state files, on a host's process list or in the
output of `pulumi up`.
"""

from __future__ import annotations

import http.client
import secrets
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from pulumi import automation as auto

from tests.e2e.fleet_stack import fleet_app, OpsStack
from tests.support import ROOT, host_address, inventory, ssh

pytestmark = pytest.mark.e2e

STACK = "e2e-acc-files"
REDIS_PORT = 6390
NETWORK = "acc-e2e-net"
FAMILY = f"acc-store-{STACK}"
# The redis image's own user: the mounted files and the data directory belong to it.
REDIS_IDS = "999:999"
ADMIN_HOST = "admin.acc.test"


def accessory_config() -> dict[str, Any]:
    registry = inventory()["registry"]
    return {
        **fleet_app("acc"),
        "servers": {
            "jobs": {
                "hosts": [host_address("h3")],
                "arch": "arm64",
                "cmd": "sh -c 'while true; do sleep 5; done'",
                "proxy": False,
            }
        },
        "primary_role": "jobs",
        "proxy": {"run": {"registry": registry}},
        "accessories": {
            # Placed by role: beside the jobs role on h3.
            "sidecar": {
                "image": f"{registry}/fleetform/busybox:arm64",
                "role": "jobs",
                "cmd": "sh -c 'while true; do sleep 5; done'",
            },
            # Served through h4's kamal-proxy, from a file uploaded with it.
            "admin": {
                "image": f"{registry}/fleetform/busybox:amd64",
                "host": host_address("h4"),
                "arch": "amd64",
                "cmd": "httpd -f -p 8080 -h /www",
                "files": ["config/index.html:/www/index.html", "config/index.html:/www/up"],
                "proxy": {
                    "host": ADMIN_HOST,
                    "app_port": 8080,
                    "healthcheck": {"path": "/up", "interval": 1, "timeout": 2},
                },
            },
            "redis": {
                "service": "acc-store",
                # Pulled with the accessory's own login: the image is written without its server.
                "image": "fleetform/redis:7.0",
                "registry": {
                    "server": registry,
                    "username": inventory()["registry_user"],
                    "password": ["REGISTRY_PASSWORD"],
                },
                "host": host_address("h4"),
                "arch": "amd64",
                "port": f"{REDIS_PORT}:6379",
                "network": NETWORK,
                "env": {"secret": ["REDIS_PASSWORD"]},
                "files": [
                    "config/redis.conf.erb:/usr/local/etc/redis/redis.conf:ro",
                    {
                        "local": "config/motd.txt",
                        "remote": "/etc/acc/motd.txt",
                        "mode": "0640",
                        "owner": REDIS_IDS,
                    },
                ],
                "directories": [
                    {"local": "data", "remote": "/data", "mode": "0750", "owner": REDIS_IDS},
                    "seed:/seed:ro",
                ],
                "cmd": "redis-server /usr/local/etc/redis/redis.conf",
            },
        },
    }


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("acc-project")
    (root / "config").mkdir()
    return root


@pytest.fixture(scope="module")
def markers() -> dict[str, str]:
    return {"password": "pw-" + secrets.token_hex(12), "motd": "motd-" + secrets.token_hex(12)}


@pytest.fixture(scope="module")
def acc(project: Path, markers: dict[str, str]) -> Any:
    write_files(project, markers["motd"] + " first")
    ssh(host_address("h4"), f"docker network inspect {NETWORK} >/dev/null 2>&1 || "
        f"docker network create {NETWORK} >/dev/null")  # fmt: skip
    stack = OpsStack(STACK, project / "config", accessory_config())
    stack.stack.set_config(
        "fleetform:REDIS_PASSWORD", auto.ConfigValue(markers["password"], secret=True)
    )
    yield stack
    try:
        stack.drop()
    finally:
        ssh(
            host_address("h4"),
            f"docker network rm {NETWORK} >/dev/null 2>&1; rm -rf ~/{FAMILY} ~/acc-admin-{STACK}",
        )


def write_files(project: Path, motd: str, admin: str = "admin first") -> None:
    (project / "config" / "index.html").write_text(admin + "\n")
    (project / "config" / "redis.conf.erb").write_text(
        'requirepass <%= ENV["REDIS_PASSWORD"] %>\n'
        "dir /data\nappendonly yes\nprotected-mode no\nbind 0.0.0.0\n"
    )
    (project / "config" / "motd.txt").write_text(motd + "\n")


def admin_page() -> tuple[int, str]:
    connection = http.client.HTTPConnection(host_address("h4"), 80, timeout=5)
    try:
        connection.request("GET", "/", headers={"Host": ADMIN_HOST})
        response = connection.getresponse()
        return response.status, response.read().decode().strip()
    finally:
        connection.close()


def redis(password: str, *commands: str) -> str:
    with socket.create_connection((host_address("h4"), REDIS_PORT), timeout=10) as conn:
        for command in (f"AUTH {password}", *commands):
            conn.sendall(command.encode() + b"\r\n")
            time.sleep(0.2)
        return conn.recv(4096).decode()


def store_container() -> str:
    out = ssh(
        host_address("h4"),
        f"docker ps --filter label=fleetform.container={FAMILY} --format '{{{{.Names}}}}'",
    ).stdout.split()
    assert len(out) == 1, out
    return out[0]


def in_container(name: str, command: str) -> str:
    # The fleet's redis image has busybox without applet links.
    return ssh(host_address("h4"), f"docker exec {name} busybox {command}").stdout


class ProcessWatch:
    """Samples every command line on a host while a deploy runs (bounded in count and time).

    The samples go to a file: a pipe nobody reads would fill and stall the sampling.
    """

    def __init__(self, address: str, log: Path) -> None:
        script = (
            "for i in $(seq 1 1500); do cat /proc/[0-9]*/cmdline 2>/dev/null | tr '\\0' ' '; "
            "echo; sleep 0.1; done"
        )
        inv = inventory()
        self.log = log
        with log.open("w") as sink:
            self.process = subprocess.Popen(
                [
                    "ssh",
                    "-n",
                    "-i",
                    inv["client_key"],
                    "-o",
                    "BatchMode=yes",
                    "-o",
                    "StrictHostKeyChecking=yes",
                    "-o",
                    f"UserKnownHostsFile={inv['known_hosts']}",
                    f"root@{address}",
                    script,
                ],  # fmt: skip
                stdout=sink,
                stderr=subprocess.DEVNULL,
            )

    def stop(self) -> str:
        self.process.terminate()
        self.process.wait(timeout=30)
        return self.log.read_text(errors="replace")


def up_watched(stack: OpsStack) -> tuple[auto.UpResult, str, str]:
    """`pulumi up` with its whole output kept, and h4's command lines sampled meanwhile."""
    lines: list[str] = []
    watch = ProcessWatch(host_address("h4"), stack.deploy_file.with_suffix(".ps"))
    try:
        result = stack.stack.up(color="never", on_output=lines.append)
    finally:
        processes = watch.stop()
    return result, "\n".join(lines), processes


def state_text() -> str:
    return "\n".join(
        path.read_text(errors="replace")
        for path in (ROOT / ".pulumi-state").rglob("*")
        if path.is_file() and STACK in str(path)
    )


def assert_nowhere(markers: dict[str, str], output: str, processes: str) -> None:
    state = state_text()
    # Each place was really looked at: the deployed container's family shows in all three.
    for text in (output, processes, state):
        assert FAMILY in text or "redis" in text
        for marker in markers.values():
            assert marker not in text


def test_files_are_uploaded_with_content_mode_and_owner(
    acc: OpsStack, markers: dict[str, str]
) -> None:
    result, output, processes = up_watched(acc)
    assert result.summary.result == "succeeded"
    assert processes.count("\n") > 10, "the process watch saw too little of the deploy"
    assert_nowhere(markers, output, processes)

    name = store_container()
    assert name.startswith(FAMILY + "-")
    # The rendered template took the password from the stack secret: Redis demands it.
    assert "+OK" in redis(markers["password"], "SET acc-key kept")
    assert in_container(name, "cat /etc/acc/motd.txt") == markers["motd"] + " first\n"
    stat = "stat -c '%a %u:%g'"
    assert in_container(name, f"{stat} /etc/acc/motd.txt").split() == ["640", REDIS_IDS]
    assert in_container(name, f"{stat} /usr/local/etc/redis/redis.conf").split() == ["755", "0:0"]
    # `:ro` reached Docker: the file cannot be written from inside.
    denied = ssh(
        host_address("h4"),
        f"docker exec {name} sh -c 'echo x >> /usr/local/etc/redis/redis.conf'",
        check=False,
    )
    assert denied.returncode != 0
    data = ssh(host_address("h4"), f"stat -c '%a %u:%g' ~/{FAMILY}/data").stdout.split()
    assert data == ["750", REDIS_IDS]
    # A directory's mount options reached Docker too.
    seed = ssh(host_address("h4"), f"docker exec {name} busybox touch /seed/x", check=False)
    assert seed.returncode != 0 and "Read-only file system" in seed.stdout + seed.stderr
    sidecar = ssh(
        host_address("h3"),
        f"docker ps --filter label=fleetform.container=acc-sidecar-{STACK} --format '{{{{.State}}}}'",
    ).stdout.split()
    assert sidecar == ["running"]
    networks = ssh(
        host_address("h4"),
        f"docker inspect --format '{{{{range $k, $v := .NetworkSettings.Networks}}}}{{{{$k}}}} "
        f"{{{{end}}}}' {name}",
    ).stdout.split()
    assert networks == [NETWORK]
    assert admin_page() == (200, "admin first")
    # The accessory pulled with a login of its own, in a Docker config dir of this stack.
    assert (
        ssh(host_address("h4"), f"ls ~/.fleetform/{STACK}/docker-redis/config.json").returncode == 0
    )


def test_a_file_change_replaces_the_accessory_and_keeps_its_data(
    acc: OpsStack, project: Path, markers: dict[str, str]
) -> None:
    before = store_container()
    write_files(project, markers["motd"] + " second", "admin second")
    result, output, processes = up_watched(acc)
    assert result.summary.result == "succeeded"
    assert result.summary.resource_changes.get("replace", 0) >= 1
    assert_nowhere(markers, output, processes)
    after = store_container()
    assert after != before
    assert in_container(after, "cat /etc/acc/motd.txt") == markers["motd"] + " second\n"
    assert "kept" in redis(markers["password"], "GET acc-key")
    # The proxied accessory was replaced too, and kamal-proxy switched to the new version.
    assert admin_page() == (200, "admin second")
    # The old version's copy of the files went with it; only the running version's is left.
    copies = ssh(host_address("h4"), f"ls ~/{FAMILY}/.files").stdout.split()
    assert copies == [after]


def test_an_unchanged_file_changes_nothing(acc: OpsStack) -> None:
    preview = acc.stack.preview(color="never", on_output=lambda _line: None)
    assert set(preview.change_summary) == {"same"}


def test_a_missing_network_fails_before_the_running_version_stops(
    acc: OpsStack, project: Path, markers: dict[str, str]
) -> None:
    running = store_container()
    config = acc.edited()
    config["accessories"]["redis"]["network"] = "acc-e2e-missing"
    acc.write(config)
    try:
        message = acc.failing_up()
        assert "network acc-e2e-missing does not exist on this host" in message
        assert store_container() == running
        assert "kept" in redis(markers["password"], "GET acc-key")
    finally:
        acc.write(accessory_config())
