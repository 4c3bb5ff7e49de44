"""ssh/proxy, ssh/key_data and a secret registry user name end to end: h1 is the jump host.

The stack logs in with the key written into the deploy file (`key_data`) instead of a stack
setting, and reaches h2 and h3 only through h1: their sshd logs (kept by the fleet on this
machine) must show every new login coming from h1's address, for the deploy and for the day-2
commands alike. The pin on the jump host is enforced, the key never reaches the state in plain
text, and the deploy never logs in with an ssh-agent's key (Kamal's `keys_only: true`).
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pulumi import automation as auto

from tests.e2e.fleet_stack import OpsStack
from tests.support import fleet_dir, host_address, inventory, ssh

pytestmark = pytest.mark.e2e

STACK = "e2e-ssh-jump"
JOBS_CMD = "sh -c 'while true; do echo \"jump-jobs on $(uname -m)\"; sleep 5; done'"
_ACCEPTED = re.compile(r"Accepted publickey for \S+ from (\S+) port")


def jump_config() -> dict[str, Any]:
    inv = inventory()
    return {
        "service": "jump",
        "image": "fleetform/busybox",
        "registry": {
            "server": inv["registry"],
            # A secret user name: logged in from stdin, never on a command line.
            "username": ["REGISTRY_USER"],
            "password": ["REGISTRY_PASSWORD"],
        },
        "builder": {"arch": "arm64"},
        "servers": {
            "web": {
                "hosts": [host_address("h2"), host_address("h3")],
                "arch": "arm64",
                "cmd": JOBS_CMD,
                "proxy": False,
            }
        },
        "env": {"secret": ["APP_SECRET"]},
        "ssh": {
            "proxy": f"root@{host_address('h1')}",
            "key_data": [Path(inv["client_key"]).read_text()],
        },
    }


def sshd_log(name: str) -> Path:
    return fleet_dir() / "hosts" / name / "sshd.log"


def log_sizes() -> dict[str, int]:
    return {name: sshd_log(name).stat().st_size for name in ("h1", "h2", "h3")}


def logins_since(sizes: dict[str, int]) -> dict[str, set[str]]:
    """Host name to the source addresses of the logins its sshd accepted since `sizes`."""
    found: dict[str, set[str]] = {}
    for name, size in sizes.items():
        with sshd_log(name).open() as log:
            log.seek(size)
            found[name] = set(_ACCEPTED.findall(log.read()))
    return found


@pytest.fixture(scope="module", autouse=True)
def dev_passphrase() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as environment:
        environment.setenv("PULUMI_CONFIG_PASSPHRASE", os.environ["FLEETFORM_DEV_PASSPHRASE"])
        environment.delenv("PULUMI_CONFIG_PASSPHRASE_FILE", raising=False)
        environment.delenv("SSH_AUTH_SOCK", raising=False)
        yield


@pytest.fixture(scope="module")
def deployed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[OpsStack, dict]]:
    stack = OpsStack(STACK, tmp_path_factory.mktemp("jump"), jump_config())
    try:
        # The key comes from the deploy file alone.
        stack.stack.remove_config("fleetform:sshPrivateKeyPath")
        stack.stack.set_config(
            "fleetform:REGISTRY_USER", auto.ConfigValue(inventory()["registry_user"], secret=True)
        )
        sizes = log_sizes()
        stack.up()
        yield stack, logins_since(sizes)
    finally:
        stack.drop()


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "components", *args, "--stack", STACK],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_deploy_reaches_h2_and_h3_only_through_h1(deployed: tuple[OpsStack, dict]) -> None:
    _, logins = deployed
    jump, here = host_address("h1"), inventory()["gateway"]
    assert logins["h2"] == {jump} and logins["h3"] == {jump}, logins
    # The jump host itself is dialed from this machine.
    assert here in logins["h1"], logins
    for name in ("h2", "h3"):
        names = ssh(host_address(name), "docker ps --format '{{.Names}}'").stdout
        assert re.search(rf"^jump-web-{STACK}-[0-9a-f]{{12}}$", names, re.M), names


def test_day2_commands_go_through_the_jump_host(deployed: tuple[OpsStack, dict]) -> None:
    sizes = log_sizes()
    containers = cli("app", "containers")
    assert containers.returncode == 0, containers.stderr
    for name in ("h2", "h3"):
        assert host_address(name) in containers.stdout
    logs = cli("app", "logs", "--lines", "3")
    assert logs.returncode == 0, logs.stderr
    for name in ("h2", "h3"):
        assert re.search(
            rf"^\[{re.escape(host_address(name))} web\] \S+ jump-jobs on aarch64$",
            logs.stdout,
            re.M,
        ), logs.stdout
    logins = logins_since(sizes)
    assert logins["h2"] == {host_address("h1")} and logins["h3"] == {host_address("h1")}, logins


def test_the_key_is_a_secret_in_the_state(deployed: tuple[OpsStack, dict]) -> None:
    # The state file as the backend holds it (export_stack would decrypt with --show-secrets).
    backend = Path(os.environ["PULUMI_BACKEND_URL"].removeprefix("file://"))
    (state,) = (backend / ".pulumi" / "stacks").glob(f"*/{STACK}.json")
    text = state.read_text()
    key_line = Path(inventory()["client_key"]).read_text().splitlines()[1]
    assert key_line[:40] not in text
    assert '"privateKey"' not in text and "ciphertext" in text


def test_a_jump_host_offering_another_key_is_refused(deployed: tuple[OpsStack, dict]) -> None:
    stack, _ = deployed
    other = next(h["host_public_key"] for h in inventory()["hosts"] if h["name"] == "h4")
    stack.stack.set_config(
        "fleetform:hostKeys", auto.ConfigValue(json.dumps({host_address("h1"): other}))
    )
    try:
        failure = stack.failing_up()
    finally:
        stack.stack.remove_config("fleetform:hostKeys")
    assert f"{host_address('h1')}: host key mismatch: the host offered ssh-ed25519" in failure


@pytest.fixture
def agent(tmp_path: Path) -> Iterator[dict[str, str]]:
    """An ssh-agent of this test's own, holding the fleet's client key; stopped by its pid."""
    socket = tmp_path / "agent.sock"
    started = subprocess.run(
        ["ssh-agent", "-s", "-a", str(socket)], capture_output=True, text=True, timeout=30
    )
    pid = re.search(r"SSH_AGENT_PID=(\d+)", started.stdout)
    assert started.returncode == 0 and pid, started.stderr
    env = {"SSH_AUTH_SOCK": str(socket), "SSH_AGENT_PID": pid.group(1)}
    try:
        added = subprocess.run(
            ["ssh-add", inventory()["client_key"]],
            env={**os.environ, **env},
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert added.returncode == 0, added.stderr
        yield env
    finally:
        os.kill(int(env["SSH_AGENT_PID"]), signal.SIGTERM)


def test_keys_only_holds_even_when_an_agent_has_the_right_key(
    deployed: tuple[OpsStack, dict],
    agent: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    """keys_only: true is what the deploy does: with a key the hosts refuse and an ssh-agent
    (SSH_AUTH_SOCK) holding the right one, pulumi-command still offers only the configured key
    and fails; it never falls back to the agent (why keys_only: false is refused)."""
    stack, _ = deployed
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(tmp_path / "wrong")],
        check=True,
        timeout=30,
    )
    original = stack.edited()
    config = stack.edited()
    config["ssh"]["key_data"] = [(tmp_path / "wrong").read_text()]
    config["ssh"]["keys_only"] = True
    stack.write(config)
    for name, value in agent.items():
        monkeypatch.setenv(name, value)
    sizes = log_sizes()
    try:
        failure = stack.failing_up()
        assert "unable to authenticate, attempted methods [none publickey]" in failure
        assert logins_since(sizes) == {"h1": set(), "h2": set(), "h3": set()}
    finally:
        stack.write(original)
        monkeypatch.delenv("SSH_AUTH_SOCK")
        # The failed update recorded nothing; this puts the file's own key back for teardown.
        assert stack.up().summary.result == "succeeded"
