"""Boot order and per-host env on the real fleet: the primary-role barrier, and env/tags.

One stack (`e2e-boot`): web (the primary role) on h1, jobs on h2 and h3, with h3 tagged `canary`.
Every container is unproxied and must keep running for `readiness_delay` seconds before it is
ready, so the primary's first batch takes that long to become ready and a barrier shows as a gap
between docker's start times. Tests run in file order; each leaves the stack deployed.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
from pulumi import automation as auto

from tests.e2e.fleet_stack import fleet_app, OpsStack
from tests.support import ROOT, host_address, ssh

pytestmark = pytest.mark.e2e

STACK = "e2e-boot"
READINESS_DELAY = 10
"""Seconds each container must run before it is ready: the width of the barrier's gap."""
LOOP = "sh -c 'while true; do sleep 5; done'"
CANARY_SECRET = "canary-secret-4f9c2e"


def boot_config() -> dict[str, Any]:
    return {
        **fleet_app("boot"),
        "readiness_delay": READINESS_DELAY,
        "servers": {
            "web": {"hosts": [host_address("h1")], "cmd": LOOP, "proxy": False},
            "jobs": {
                "hosts": [host_address("h2"), {host_address("h3"): ["canary"]}],
                "cmd": LOOP,
            },
        },
        "env": {
            "clear": {"GREETING": "one"},
            "secret": ["APP_SECRET"],
            "tags": {"canary": {"clear": {"CANARY": "one"}, "secret": ["CANARY_SECRET"]}},
        },
        "retain_containers": 1,
    }


@pytest.fixture(scope="module")
def boot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OpsStack]:
    stack = OpsStack(STACK, tmp_path_factory.mktemp("boot"), boot_config())
    stack.stack.set_config("fleetform:CANARY_SECRET", auto.ConfigValue(CANARY_SECRET, secret=True))
    yield stack
    stack.drop()


def container(name: str) -> dict[str, str]:
    """This stack's one running container on fleet host `name`: its name, id and start time."""
    out = ssh(
        host_address(name),
        f"docker ps --filter label=fleetform.stack={STACK} --format '{{{{.Names}}}}'",
    ).stdout.split()
    assert len(out) == 1, out
    inspected = ssh(
        host_address(name),
        f"docker inspect --format '{{{{.Id}}}} {{{{.State.StartedAt}}}}' {out[0]}",
    ).stdout.split()
    return {"name": out[0], "id": inspected[0], "started": inspected[1]}


def started_at(stamp: str) -> datetime:
    """Docker's RFC 3339 start time, nanoseconds cut to what datetime holds."""
    whole, _, fraction = stamp.rstrip("Z").partition(".")
    return datetime.fromisoformat(f"{whole}.{(fraction + '000000')[:6]}+00:00")


def gap(first: dict[str, str], then: dict[str, str]) -> float:
    return (started_at(then["started"]) - started_at(first["started"])).total_seconds()


def env_of(name: str) -> dict[str, str]:
    out = ssh(host_address(name), f"docker exec {container(name)['name']} env").stdout
    return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)


def components(*args: str) -> subprocess.CompletedProcess[str]:
    argv = [str(ROOT / ".venv/bin/python"), "-m", "components", *args]
    return subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=600)


def test_other_roles_boot_after_the_primary_roles_first_batch_is_ready(boot: OpsStack) -> None:
    assert boot.up().summary.result == "succeeded"
    web, h2, h3 = container("h1"), container("h2"), container("h3")
    # The primary's container is ready only after READINESS_DELAY seconds of running; jobs may
    # start only then. Without the barrier both roles start within a second or two.
    print(f"\nbarrier: jobs start {gap(web, h2):.1f}s and {gap(web, h3):.1f}s after web")
    for jobs in (h2, h3):
        assert gap(web, jobs) >= READINESS_DELAY - 1, (web, jobs)


def test_the_tagged_host_gets_the_tag_env_and_the_untagged_does_not(boot: OpsStack) -> None:
    tagged, untagged = env_of("h3"), env_of("h2")
    assert tagged["CANARY"] == "one"
    assert tagged["CANARY_SECRET"] == CANARY_SECRET
    assert tagged["GREETING"] == untagged["GREETING"] == "one"
    assert "CANARY" not in untagged and "CANARY_SECRET" not in untagged
    assert "CANARY" not in env_of("h1")
    # The tag's secret is a Pulumi secret like any other: never plaintext in the state.
    # (The Automation API's export shows secrets decrypted: it proves the search finds the value.)
    assert CANARY_SECRET in json.dumps(boot.stack.export_stack().deployment)
    stored = subprocess.run(
        [boot.stack.workspace.pulumi_command.command, "stack", "export", "--stack", STACK],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout
    assert "ciphertext" in stored and CANARY_SECRET not in stored


def test_a_tag_env_change_replaces_only_the_tagged_hosts_container(boot: OpsStack) -> None:
    before = {name: container(name) for name in ("h1", "h2", "h3")}
    config = boot.edited()
    config["env"]["tags"]["canary"]["clear"]["CANARY"] = "two"
    boot.write(config)
    assert boot.up().summary.result == "succeeded"
    after = {name: container(name) for name in ("h1", "h2", "h3")}
    assert after["h1"] == before["h1"]
    assert after["h2"] == before["h2"]
    assert after["h3"]["id"] != before["h3"]["id"]
    assert after["h3"]["name"] != before["h3"]["name"]
    assert env_of("h3")["CANARY"] == "two"
    assert "CANARY" not in env_of("h2")


def test_day2_and_drift_follow_per_host_env(boot: OpsStack) -> None:
    clean = components("drift", "--stack", STACK, "--format", "json")
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert {f["status"] for f in json.loads(clean.stdout)} == {"ok"}
    done = components("app", "exec", "--stack", STACK, "-r", "jobs", "sh -c 'echo [$CANARY]'")
    assert done.returncode == 0, done.stdout + done.stderr
    assert sorted(done.stdout.splitlines()) == [
        f"[{host_address('h2')} jobs] []",
        f"[{host_address('h3')} jobs] [two]",
    ]


def test_parallel_roles_boot_without_waiting_for_the_primary(boot: OpsStack) -> None:
    config = boot.edited()
    config["boot"] = {"parallel_roles": True}
    # A new global value replaces every container, so both roles boot again.
    config["env"]["clear"]["GREETING"] = "two"
    boot.write(config)
    assert boot.up().summary.result == "succeeded"
    web, h2, h3 = container("h1"), container("h2"), container("h3")
    assert env_of("h1")["GREETING"] == "two"
    # With the barrier these gaps are >= READINESS_DELAY - 1 (the first test proves it).
    print(f"\nparallel_roles: jobs start {gap(web, h2):.1f}s and {gap(web, h3):.1f}s after web")
    for jobs in (h2, h3):
        assert abs(gap(web, jobs)) < READINESS_DELAY / 2, (web, jobs)
