"""Helpers shared by the suites that touch the local fleet and the real Pulumi CLI."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# The CLI every e2e test drives: the built toolchain, or a stock CLI on PATH.
from components.promote import toolchain_command as pulumi_command  # noqa: F401

ROOT = Path(__file__).resolve().parent.parent


def fleet_dir() -> Path:
    return Path(os.environ["FLEETFORM_FLEET_DIR"])


def inventory() -> dict[str, Any]:
    return json.loads((fleet_dir() / "inventory.json").read_text())


@dataclass(frozen=True)
class Result:
    returncode: int
    stdout: str
    stderr: str


def ssh(address: str, command: str, *, check: bool = True, timeout: int = 120) -> Result:
    """Runs a command on a fleet host with strict host-key checking against the fleet's known_hosts."""
    inv = inventory()
    argv = [
        "ssh", "-n", "-i", inv["client_key"],
        "-o", "BatchMode=yes",
        "-o", "StrictHostKeyChecking=yes",
        "-o", f"UserKnownHostsFile={inv['known_hosts']}",
        "-o", "ConnectTimeout=10",
        f"root@{address}", command,
    ]  # fmt: skip
    done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    if check and done.returncode != 0:
        raise AssertionError(f"ssh {address} {command!r} -> {done.returncode}: {done.stderr}")
    return Result(done.returncode, done.stdout, done.stderr)


def host_address(name: str) -> str:
    return next(h["address"] for h in inventory()["hosts"] if h["name"] == name)


def host_processes(name: str, command: str) -> list[int]:
    """Pids of `command` (its comm) running inside fleet host `name`'s PID namespace."""
    state = json.loads((fleet_dir() / "state.json").read_text())
    namespace = os.readlink(f"/proc/{state['hosts'][name]['init_pid']}/ns/pid")
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if (entry / "comm").read_text().strip() == command and (
                os.readlink(entry / "ns" / "pid") == namespace
            ):
                found.append(int(entry.name))
        except OSError:
            continue
    return found


@contextmanager
def frozen(name: str, command: str) -> Iterator[list[int]]:
    """Stops `command` on fleet host `name` with SIGSTOP (a hung daemon), and thaws it after."""
    pids = host_processes(name, command)
    assert pids, f"no {command} on {name}"
    for pid in pids:
        os.kill(pid, signal.SIGSTOP)
    try:
        yield pids
    finally:
        for pid in pids:
            os.kill(pid, signal.SIGCONT)
