"""Changes operators make every week, and faults, on the real fleet: nothing stops, nothing is lost.

One stack (`e2e-ops`) runs a small service on the fleet in the inventory: web on two arm64
hosts behind a published port, jobs on a third, Redis with a data directory on the amd64 host.
The app image is the fleet's own busybox image, pinned by digest, so nothing is built here.
Tests run in file order; each leaves the stack deployed and healthy for the next.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from pulumi import automation as auto

from components.promote import preview_changes
from tests.e2e.fleet_stack import fleet_app, OpsStack, registry_digest
from tests.support import ROOT, host_address, inventory, pulumi_command, ssh

pytestmark = pytest.mark.e2e

STACK = "e2e-ops"
WEB_PORT = 8081
REDIS_PORT = 6380
WEB_CMD = (
    'sh -c \'mkdir -p /tmp/www && echo "$GREETING on $(uname -m)" > /tmp/www/index.html'
    " && exec httpd -f -p 8080 -h /tmp/www'"
)
JOBS_CMD = "sh -c 'while true; do echo \"jobs $GREETING\"; sleep 5; done'"
REDIS_CMD = "redis-server --dir /data --appendonly yes --bind 0.0.0.0 --protected-mode no"


def ops_config(service: str = "ops", redis_port: int = REDIS_PORT) -> dict[str, Any]:
    registry = inventory()["registry"]
    return {
        **fleet_app(service),
        "servers": {
            "web": {
                "hosts": [host_address("h1"), host_address("h2")],
                "arch": "arm64",
                "cmd": WEB_CMD,
                "options": {"publish": f"{WEB_PORT}:8080"},
            },
            # No HTTP: never behind kamal-proxy, even where it is the primary role.
            "jobs": {
                "hosts": [host_address("h3")],
                "arch": "arm64",
                "cmd": JOBS_CMD,
                "proxy": False,
            },
        },
        "env": {"clear": {"GREETING": "one"}, "secret": ["APP_SECRET"]},
        "accessories": {
            "redis": {
                "image": f"{registry}/fleetform/redis:7.0",
                "host": host_address("h4"),
                "arch": "amd64",
                "port": f"{redis_port}:6379",
                "directories": ["data:/data"],
                "cmd": REDIS_CMD,
            }
        },
        "retain_containers": 1,
    }


@pytest.fixture(scope="module")
def ops(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OpsStack]:
    stack = OpsStack(STACK, tmp_path_factory.mktemp("ops"), ops_config())
    yield stack
    stack.drop()


def running(address: str, stack: str = STACK, *, every: bool = False) -> list[dict[str, str]]:
    """This stack's containers on a host (running ones, or all with `every`), newest first."""
    out = ssh(
        address,
        f"docker ps {'-a' if every else ''} --filter label=fleetform.stack={stack} --format "
        "'{{.Names}} {{.ID}} {{.State}} {{.Label \"fleetform.container\"}}'",
    ).stdout
    rows = [line.split() + ["-"] for line in out.splitlines() if line.strip()]
    return [{"name": r[0], "id": r[1], "state": r[2], "family": r[3]} for r in rows]


def families(address: str, stack: str = STACK) -> list[str]:
    return sorted(c["family"] for c in running(address, stack))


def web_text(address: str) -> str:
    with urllib.request.urlopen(f"http://{address}:{WEB_PORT}/", timeout=15) as response:
        return response.read().decode()


def redis(command: str, port: int = REDIS_PORT) -> str:
    with socket.create_connection((host_address("h4"), port), timeout=10) as conn:
        conn.sendall(command.encode() + b"\r\n")
        return conn.recv(4096).decode()


def container_env(address: str, name: str) -> str:
    return ssh(address, f"docker exec {name} env").stdout


def assert_whole_service_runs(greeting: str) -> None:
    for name in ("h1", "h2"):
        assert families(host_address(name)) == ["ops-web-e2e-ops"]
        assert web_text(host_address(name)) == f"{greeting} on aarch64\n"
    assert families(host_address("h3")) == ["ops-jobs-e2e-ops"]
    assert families(host_address("h4")) == ["ops-redis-e2e-ops"]


def test_first_up_runs_the_service_and_redis_keeps_a_key(ops: OpsStack) -> None:
    assert ops.up().summary.result == "succeeded"
    assert_whole_service_runs("one")
    assert redis("SET ops-key kept").startswith("+OK")


def test_a_timeout_change_replaces_under_new_names_and_keeps_serving(ops: OpsStack) -> None:
    """Defect 1: a same-name replacement let the old delete remove the new container."""
    before = {name: running(host_address(name)) for name in ("h1", "h2", "h3", "h4")}
    ops.stack.set_config("fleetform:readinessTimeout", auto.ConfigValue("75"))
    try:
        assert ops.up().summary.result == "succeeded"
    finally:
        ops.stack.remove_config("fleetform:readinessTimeout")
    for name, old in before.items():
        now = running(host_address(name))
        assert len(now) == 1 and now[0]["name"] != old[0]["name"], (name, old, now)
    assert_whole_service_runs("one")
    assert "kept" in redis("GET ops-key")
    # Back to the default: another replacement, again under new names.
    assert ops.up().summary.result == "succeeded"
    assert_whole_service_runs("one")


def test_a_replaced_registry_login_keeps_every_host_logged_in(ops: OpsStack) -> None:
    """Defect 2: the replaced login's delete logged the host out of the registry."""
    ops.stack.set_config(
        "fleetform:versionKey", auto.ConfigValue(secrets.token_hex(32), secret=True)
    )
    changes = preview_changes(ops.stack, color="never")[1]
    assert "replace" in changes[f"{host_address('h1')}-registry-login"], changes
    assert ops.up().summary.result == "succeeded"
    registry = inventory()["registry"]
    for name in ("h1", "h4"):
        pulled = ssh(
            host_address(name),
            f'docker --config "$HOME/.fleetform/{STACK}/docker" pull --quiet '
            f"{registry}/fleetform/busybox:latest",
            check=False,
        )
        assert pulled.returncode == 0, pulled.stderr
        ssh(host_address(name), f"docker image rm {registry}/fleetform/busybox:latest", check=False)
    assert_whole_service_runs("one")


def test_a_secret_rotation_replaces_app_containers_and_leaves_redis_alone(ops: OpsStack) -> None:
    redis_before = running(host_address("h4"))
    ops.stack.set_config("fleetform:APP_SECRET", auto.ConfigValue("second-secret", secret=True))
    changes = preview_changes(ops.stack, color="never")[1]
    assert not [name for name in changes if name.startswith("redis-")], changes
    assert ops.up().summary.result == "succeeded"
    assert running(host_address("h4")) == redis_before
    web = running(host_address("h1"))[0]["name"]
    assert "APP_SECRET=second-secret" in container_env(host_address("h1"), web)
    assert "kept" in redis("GET ops-key")


def test_an_accessory_upgrade_stops_the_old_redis_before_the_new_one_starts(
    ops: OpsStack,
) -> None:
    """Defect 3: old and new Redis ran side by side on one data directory."""
    old = running(host_address("h4"))[0]
    since = ssh(host_address("h4"), "date +%s").stdout.strip()
    config = ops.edited()
    config["accessories"]["redis"]["image"] = config["accessories"]["redis"]["image"].replace(
        ":7.0", ":7"
    )
    ops.write(config)
    assert ops.up().summary.result == "succeeded"
    new = running(host_address("h4"))[0]
    assert new["name"] != old["name"]
    until = ssh(host_address("h4"), "date +%s").stdout.strip()
    events = ssh(
        host_address("h4"),
        f"docker events --since {since} --until {int(until) + 1} "
        f"--filter label=fleetform.stack={STACK} --filter type=container "
        "--format '{{.Action}} {{.Actor.Attributes.name}} {{.Actor.Attributes.exitCode}}'",
    ).stdout.splitlines()
    old_died = next(i for i, e in enumerate(events) if e.startswith(f"die {old['name']}"))
    new_started = next(i for i, e in enumerate(events) if e.startswith(f"start {new['name']}"))
    assert old_died < new_started, events
    # Stopped gracefully: Redis exits 0 on SIGTERM after saving.
    assert events[old_died].split()[2] == "0", events
    assert "kept" in redis("GET ops-key")


def test_a_failure_after_an_interrupted_deploy_restarts_the_stopped_predecessor(
    ops: OpsStack,
) -> None:
    """Defect 10: rollback restarted only running predecessors (`docker ps` without -a)."""
    h1 = host_address("h1")
    old = running(h1)[0]
    # What an interrupted deploy leaves behind: the old web container stopped, no successor.
    ssh(h1, f"docker stop {old['name']}")
    config = ops.edited()
    config["servers"]["web"]["cmd"] = "false"
    ops.write(config)
    try:
        error = ops.failing_up()
    finally:
        ops.write(ops_config() | {"accessories": ops.config["accessories"]})
    assert "exited or restarted" in error
    assert [c["name"] for c in running(h1)] == [old["name"]]
    assert web_text(h1) == "one on aarch64\n"
    assert ops.up().summary.result == "succeeded"
    assert_whole_service_runs("one")


def test_retained_versions_are_pruned_and_a_rollback_starts_the_retained_one(
    ops: OpsStack,
) -> None:
    """Defect 11 (retain_containers): parsed and ignored before."""
    h3 = host_address("h3")
    first = running(h3)[0]
    config = ops.edited()
    config["env"]["clear"]["GREETING"] = "two"
    ops.write(config)
    assert ops.up().summary.result == "succeeded"
    assert_whole_service_runs("two")
    # retain_containers: 1 keeps exactly the previous version, stopped.
    stopped = [c for c in running(h3, every=True) if c["state"] != "running"]
    assert [c["name"] for c in stopped] == [first["name"]]
    config["env"]["clear"]["GREETING"] = "one"
    ops.write(config)
    assert ops.up().summary.result == "succeeded"
    # The same inputs give the same name: the retained container itself runs again.
    assert running(h3)[0]["id"] == first["id"]
    assert_whole_service_runs("one")


def test_renaming_roles_stops_what_the_old_names_ran(ops: OpsStack) -> None:
    """Defect 5: a renamed web role failed on the port its predecessor still held."""
    config = ops.edited()
    config["servers"]["www"] = config["servers"].pop("web")
    config["servers"]["worker"] = config["servers"].pop("jobs")
    config["primary_role"] = "www"
    ops.write(config)
    try:
        assert ops.up().summary.result == "succeeded"
        for name in ("h1", "h2"):
            assert families(host_address(name)) == ["ops-www-e2e-ops"]
            assert web_text(host_address(name)) == "one on aarch64\n"
        assert families(host_address("h3")) == ["ops-worker-e2e-ops"]
    finally:
        ops.write(ops_config() | {"accessories": ops.config["accessories"]})
    assert ops.up().summary.result == "succeeded"
    assert_whole_service_runs("one")


def test_a_second_stack_on_the_same_hosts_keeps_its_own_containers_and_data(
    ops: OpsStack, tmp_path: Path
) -> None:
    """Defect 5: stacks shared names, family labels, env files and data directories."""
    other = ops_config(redis_port=REDIS_PORT + 1)
    other["servers"] = {"jobs": other["servers"]["jobs"]}
    other["primary_role"] = "jobs"
    second = OpsStack("e2e-ops2", tmp_path, other)
    try:
        assert second.up().summary.result == "succeeded"
        assert families(host_address("h4"), "e2e-ops2") == ["ops-redis-e2e-ops2"]
        assert families(host_address("h3"), "e2e-ops2") == ["ops-jobs-e2e-ops2"]
        assert redis("GET ops-key", REDIS_PORT + 1).startswith("$-1")
        assert redis("SET other-key other", REDIS_PORT + 1).startswith("+OK")
        data = ssh(host_address("h4"), "ls -d ~/ops-redis-*").stdout.split()
        assert sorted(data) == ["/root/ops-redis-e2e-ops", "/root/ops-redis-e2e-ops2"]
    finally:
        second.drop()
    assert running(host_address("h4"), "e2e-ops2", every=True) == []
    assert_whole_service_runs("one")
    assert "kept" in redis("GET ops-key")


def test_one_host_unreachable_mid_deploy_fails_naming_it_and_a_rerun_converges(
    ops: OpsStack,
) -> None:
    h3 = host_address("h3")
    before = running(h3)
    config = ops.edited()
    config["env"]["clear"]["GREETING"] = "reachable again"
    ops.write(config)
    with host_link_down("h3"):
        started = time.monotonic()
        error = ops.failing_up()
        elapsed = time.monotonic() - started
    assert h3 in error
    assert elapsed < 120, elapsed
    # The other hosts finished or were left as they were; the unreachable one kept what it ran.
    for name in ("h1", "h2"):
        assert web_text(host_address(name)) in ("one on aarch64\n", "reachable again on aarch64\n")
    assert running(h3) == before
    assert ops.up().summary.result == "succeeded"
    assert_whole_service_runs("reachable again")
    assert "jobs reachable again" in ssh(h3, f"docker logs {running(h3)[0]['name']}").stdout


def test_registry_down_during_a_deploy_fails_clearly_and_changes_nothing(ops: OpsStack) -> None:
    limit = 40
    redis_before = running(host_address("h4"))
    ops.stack.set_config("fleetform:commandTimeout", auto.ConfigValue(str(limit)))
    ops.stack.set_config("fleetform:readinessTimeout", auto.ConfigValue("20"))
    config = ops.edited()
    # The other tag, untagged on the host first: the deploy must reach the registry.
    image = config["accessories"]["redis"]["image"]
    repository, tag = image.rsplit(":", 1)
    config["accessories"]["redis"]["image"] = f"{repository}:{'7' if tag == '7.0' else '7.0'}"
    ops.write(config)
    ssh(
        host_address("h4"),
        f"docker image rm {config['accessories']['redis']['image']}",
        check=False,
    )
    try:
        with frozen_registry():
            error = ops.failing_up()
        assert f"{host_address('h4')}: the remote script did not finish within {limit}s" in error
        # The pull comes before the old Redis is stopped: it never stopped.
        assert running(host_address("h4")) == redis_before
        assert "kept" in redis("GET ops-key")
        assert ops.up().summary.result == "succeeded"
    finally:
        ops.stack.remove_config("fleetform:commandTimeout")
        ops.stack.remove_config("fleetform:readinessTimeout")
    assert ops.up().summary.result == "succeeded"
    assert "kept" in redis("GET ops-key")


def test_a_deploy_interrupted_with_sigint_converges_on_rerun(ops: OpsStack) -> None:
    config = ops.edited()
    config["env"]["clear"]["GREETING"] = "after sigint"
    ops.write(config)
    env = {**os.environ, "PULUMI_CONFIG_PASSPHRASE": os.environ["FLEETFORM_DEV_PASSPHRASE"]}
    process = subprocess.Popen(
        [pulumi_command().command, "up", "--yes", "--skip-preview", "--stack", STACK],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    deadline = time.monotonic() + 120
    for line in process.stdout:
        # Interrupt while containers are being replaced on the hosts.
        if "replacing" in line or "creating replacement" in line:
            process.send_signal(signal.SIGINT)
            break
        assert time.monotonic() < deadline, "no replacement started"
    process.communicate(timeout=300)
    result = ops.up()
    assert result.summary.result == "succeeded"
    assert_whole_service_runs("after sigint")
    ops.stack.preview(expect_no_changes=True, color="never")


def test_a_non_root_ssh_user_deploys_into_its_own_home(tmp_path: Path) -> None:
    """Defect 6: the env dir was /root/... and homes were assumed to be /home/<user>."""
    config = ops_config(service="deployer", redis_port=REDIS_PORT + 2)
    config["ssh"] = {"user": "deploy"}
    config["servers"] = {"jobs": {**config["servers"]["jobs"], "hosts": [host_address("h2")]}}
    config["primary_role"] = "jobs"
    stack = OpsStack("e2e-ops-deploy", tmp_path, config)
    try:
        assert stack.up().summary.result == "succeeded"
        h2, h4 = host_address("h2"), host_address("h4")
        jobs = running(h2, "e2e-ops-deploy")[0]["name"]
        env_file = f"/home/deploy/.fleetform/e2e-ops-deploy/env/{jobs}.env"
        # uid 1000 is the fleet's deploy user (scripts/fleetlib/common.py).
        assert ssh(h2, f"stat -c '%u %a' {env_file}").stdout.split() == ["1000", "600"]
        data = ssh(h4, "stat -c %u /home/deploy/deployer-redis-e2e-ops-deploy/data").stdout
        assert data.strip() == "1000"
        assert redis("PING", REDIS_PORT + 2).startswith("+PONG")
    finally:
        stack.drop()
    assert running(host_address("h2"), "e2e-ops-deploy", every=True) == []


def drift(*args: str) -> subprocess.CompletedProcess[str]:
    argv = [str(ROOT / ".venv/bin/python"), "-m", "components", "drift", "--stack", STACK, *args]
    return subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=600)


def test_drift_reports_stopped_and_missing_containers_and_repairs_them(ops: OpsStack) -> None:
    clean = drift("--format", "json")
    assert clean.returncode == 0, clean.stderr
    assert {f["status"] for f in json.loads(clean.stdout)} == {"ok"}
    h1, h3 = host_address("h1"), host_address("h3")
    ssh(h1, f"docker stop {running(h1)[0]['name']}")
    ssh(h3, f"docker rm --force {running(h3)[0]['name']}")
    ssh(h3, f"docker run -d --name stray --label fleetform.stack={STACK} {busybox()} sleep 600")
    try:
        found = drift("--format", "json")
        table = drift()
    finally:
        ssh(h3, "docker rm --force stray")
    assert found.returncode == 1, found.stderr
    statuses = {(f["host"], f["name"], f["status"]) for f in json.loads(found.stdout)}
    assert {(h1, "web", "stopped"), (h3, "jobs", "missing"), (h3, "-", "unexpected")} <= statuses
    assert "stopped" in table.stdout and "missing" in table.stdout
    repaired = drift("--repair")
    assert repaired.returncode == 0, repaired.stdout + repaired.stderr
    assert "web-" + h1 in repaired.stderr and "jobs-" + h3 in repaired.stderr
    assert_whole_service_runs(ops.config["env"]["clear"]["GREETING"])


def busybox() -> str:
    return f"{inventory()['registry']}/fleetform/busybox@" + registry_digest(
        "fleetform/busybox", "arm64"
    )


def test_destroy_keeps_redis_data_and_a_redeploy_finds_it(ops: OpsStack) -> None:
    ops.stack.destroy(color="never", on_output=lambda _line: None)
    for host in inventory()["hosts"]:
        assert running(host["address"], every=True) == []
    assert ssh(host_address("h4"), f"test -d ~/ops-redis-{STACK}/data").returncode == 0
    assert ops.up().summary.result == "succeeded"
    assert "kept" in redis("GET ops-key")


# Fault injection on the fleet's own links and processes ------------------------------------------


def _fleet_state() -> dict[str, Any]:
    return json.loads((Path(os.environ["FLEETFORM_FLEET_DIR"]) / "state.json").read_text())


@contextmanager
def host_link_down(name: str) -> Iterator[None]:
    """Takes a fleet host's only link down (unreachable, as a dead host), and back up after."""
    pid = str(_fleet_state()["hosts"][name]["init_pid"])

    def link(direction: str) -> None:
        argv = ["nsenter", "-t", pid, "-n", "ip", "link", "set", "eth0", direction]
        subprocess.run(argv, check=True, timeout=10)

    link("down")
    try:
        yield
    finally:
        link("up")
        for _ in range(30):  # bounded: until SSH answers again
            if ssh(host_address(name), "true", check=False, timeout=10).returncode == 0:
                break
            time.sleep(1)


@contextmanager
def frozen_registry() -> Iterator[None]:
    """The fleet registry hung (SIGSTOP): connections open, nothing answers."""
    pid = int(_fleet_state()["registry_pid"])
    os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(pid, signal.SIGCONT)
