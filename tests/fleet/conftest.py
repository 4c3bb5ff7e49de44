"""Fixtures for the embedded local fleet: bring it up once per session and leave it up."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FLEET = ROOT / "scripts" / "fleet"
UNAME = {"arm64": "aarch64", "amd64": "x86_64"}


@dataclass(frozen=True)
class Fleet:
    """The running fleet as its inventory describes it, with an SSH helper."""

    inventory: dict
    path: Path

    @property
    def hosts(self) -> list[dict]:
        return self.inventory["hosts"]

    def host(self, name: str) -> dict:
        return next(h for h in self.hosts if h["name"] == name)

    def first(self, arch: str) -> dict:
        return next(h for h in self.hosts if h["arch"] == arch)

    def image(self, repository: str, tag: str) -> str:
        return f"{self.inventory['registry']}/fleetform/{repository}:{tag}"

    def ssh_argv(self, host: dict, known_hosts: str | None = None) -> list[str]:
        return [
            "ssh",
            "-F",
            "/dev/null",
            "-i",
            self.inventory["client_key"],
            "-o",
            "IdentitiesOnly=yes",
            "-o",
            "BatchMode=yes",
            "-o",
            "StrictHostKeyChecking=yes",
            "-o",
            f"UserKnownHostsFile={known_hosts or self.inventory['known_hosts']}",
            "-o",
            "ConnectTimeout=10",
            "-p",
            str(host["ssh_port"]),
            f"{host['user']}@{host['address']}",
        ]

    def ssh(
        self,
        host: dict | str,
        command: str,
        *,
        input: str | None = None,
        check: bool = True,
        timeout: float = 180,
    ) -> subprocess.CompletedProcess:
        record = self.host(host) if isinstance(host, str) else host
        result = subprocess.run(
            [*self.ssh_argv(record), command],
            input=input,
            text=True,
            capture_output=True,
            timeout=timeout,
            stdin=None if input is not None else subprocess.DEVNULL,
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"{record['name']}: `{command}` exited {result.returncode}\n"
                f"stdout: {result.stdout}\nstderr: {result.stderr}"
            )
        return result


def fleet_command(
    *args: str, env: dict | None = None, timeout: float = 900
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(FLEET), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=dict(os.environ, **(env or {})),
        stdin=subprocess.DEVNULL,
    )


@pytest.fixture(scope="session")
def fleet() -> Iterator[Fleet]:
    """The default fleet: brought up if it is not (and never brought down: others use it)."""
    result = fleet_command("up")
    assert result.returncode == 0, f"scripts/fleet up failed:\n{result.stdout}\n{result.stderr}"
    fleet_dir = Path(
        os.environ.get("FLEETFORM_FLEET_DIR", Path.home() / ".cache" / "fleetform" / "fleet")
    )
    inventory = json.loads((fleet_dir / "inventory.json").read_text())
    yield Fleet(inventory, fleet_dir)


@pytest.fixture(scope="session")
def logged_in(fleet: Fleet) -> Fleet:
    """Every host logged in to the fleet registry, the password sent on stdin."""
    password = Path(fleet.inventory["registry_password_file"]).read_text()
    for host in fleet.hosts:
        fleet.ssh(
            host,
            f"docker login -u {fleet.inventory['registry_user']} --password-stdin "
            f"{fleet.inventory['registry']}",
            input=password,
        )
    return fleet
