"""Runs the real __main__.py under recording Pulumi mocks, for the graph tests of one feature."""

from __future__ import annotations

import os
import runpy
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pulumi

from tests.components.test_graph import ROOT, SECRET_SIGNATURE, RecordingMocks


def run_program(settings: Mapping[str, str]) -> RecordingMocks:
    """A preview of __main__.py with exactly these `fleetform:` stack settings."""
    mocks = RecordingMocks()
    pulumi.runtime.set_mocks(mocks, project="fleetform", stack="unit", preview=True)
    # All of them, replacing whatever another module's graph set.
    pulumi.runtime.set_all_config({f"fleetform:{key}": value for key, value in settings.items()})

    @pulumi.runtime.test
    def run() -> None:
        runpy.run_path(str(ROOT / "__main__.py"), run_name="__main__")

    # The mock stack is no dev stack: it must not see the dev passphrase the suite exports.
    passphrase = os.environ.pop("PULUMI_CONFIG_PASSPHRASE", None)
    try:
        run()
    finally:
        if passphrase is not None:
            os.environ["PULUMI_CONFIG_PASSPHRASE"] = passphrase
    return mocks


def fake_ssh_files(directory: Path, hosts: Iterable[str]) -> dict[str, str]:
    """A key file and a known_hosts pinning each host; the settings that name them."""
    (directory / "id").write_text("not-a-real-key")
    (directory / "known_hosts").write_text(
        "".join(f"{host} ssh-ed25519 AAAAkey{host}\n" for host in hosts)
    )
    return {
        "sshPrivateKeyPath": str(directory / "id"),
        "knownHostsFile": str(directory / "known_hosts"),
    }


def secret_value(value: Any) -> Any:
    """The plain value of an input that must arrive as a Pulumi secret."""
    assert isinstance(value, dict) and SECRET_SIGNATURE in value, "must arrive as a secret"
    return value["value"]


def unsecret(value: Any) -> Any:
    """The plain value of an input, secret or not."""
    return value["value"] if isinstance(value, dict) and SECRET_SIGNATURE in value else value
