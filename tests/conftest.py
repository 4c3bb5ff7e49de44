"""Test-wide setup: load scripts/env.sh so tests see the same toolchain and backend as `make`."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _load_project_env() -> None:
    # env.sh is the single source of truth for paths and offline defaults; sourcing it through
    # bash keeps Python from re-implementing its defaults.
    dump = subprocess.run(
        ["bash", "-c", f"source {ROOT}/scripts/env.sh && env -0"],
        check=True,
        capture_output=True,
    ).stdout
    for entry in dump.split(b"\0"):
        if b"=" in entry:
            key, _, value = entry.partition(b"=")
            os.environ[key.decode()] = value.decode()


_load_project_env()
# Every stack the suite creates is a throwaway `e2e-*` stack, which the public dev passphrase may
# protect (scripts/env.sh, fleetform_stack_passphrase); nothing else does.
os.environ.setdefault("PULUMI_CONFIG_PASSPHRASE", os.environ["FLEETFORM_DEV_PASSPHRASE"])
os.environ.pop("PULUMI_CONFIG_PASSPHRASE_FILE", None)
# The embedded file backend must exist before any stack is created (a fresh clone has none).
if os.environ["PULUMI_BACKEND_URL"].startswith("file://"):
    Path(os.environ["PULUMI_BACKEND_URL"].removeprefix("file://")).mkdir(exist_ok=True)


def pytest_configure(config) -> None:  # type: ignore[no-untyped-def]
    config.addinivalue_line("markers", "e2e: real Pulumi CLI (and local fleet) end-to-end tests")
    config.addinivalue_line("markers", "fleet: tests against the embedded local fleet")
    config.addinivalue_line("markers", "components: Pulumi-mock tests of the resource graph")
