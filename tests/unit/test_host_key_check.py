"""The fingerprints a host-key mismatch names are OpenSSH's own."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from components.host_key_check import PinnedHost, check_host_keys, fingerprint


@pytest.mark.skipif(shutil.which("ssh-keygen") is None, reason="needs ssh-keygen")
def test_fingerprint_matches_ssh_keygen(tmp_path: Path) -> None:
    key = tmp_path / "id"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    public = (tmp_path / "id.pub").read_text().strip()
    listed = subprocess.run(
        ["ssh-keygen", "-l", "-E", "sha256", "-f", str(tmp_path / "id.pub")],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()[1]
    assert fingerprint(public) == listed


def test_an_unreachable_host_is_left_to_the_remote_commands() -> None:
    # 127.0.0.1:1 refuses at once: no key offered, so no mismatch is claimed.
    check_host_keys([PinnedHost("127.0.0.1", 1, "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA==")])
