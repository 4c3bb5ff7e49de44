"""SSH sessions pinned like the deploy: the known_hosts and key files, the argv, ssh's errors."""

from __future__ import annotations

import base64
import json
import stat
import struct
from pathlib import Path
from typing import Any

import pytest

from components.day2.ssh_session import SshAccess
from components.day2.stack_access import StackAccessError
from components.errors import DeployConfigError
from components.host_key_check import fingerprint

PRIVATE_KEY = (
    "-----BEGIN OPENSSH PRIVATE KEY-----\nnot-a-real-key\n-----END OPENSSH PRIVATE KEY-----"
)


def public_key(seed: int) -> str:
    blob = struct.pack(">I", 11) + b"ssh-ed25519" + struct.pack(">I", 32) + bytes([seed]) * 32
    return "ssh-ed25519 " + base64.b64encode(blob).decode()


class FakeReader:
    """StackReader's interface over a dict of settings (secret ones in `secrets`)."""

    def __init__(self, settings: dict[str, Any], secrets: dict[str, str] | None = None) -> None:
        self.stack = "dev"
        self._settings = {**settings, **{key: None for key in secrets or {}}}
        self.secrets = secrets or {}

    def settings(self) -> dict[str, Any]:
        return self._settings

    def setting(self, key: str) -> str | None:
        value = self._settings.get(key)
        return None if value in (None, "") else str(value)

    def has_setting(self, key: str) -> bool:
        return key in self._settings

    def secret(self, key: str) -> str:
        return self.secrets[key]


@pytest.fixture
def deploy_file(tmp_path: Path) -> Path:
    path = tmp_path / "deploy.yml"
    path.write_text(
        "service: app\nimage: org/app\nbuilder:\n  arch: arm64\n"
        "servers:\n  web:\n    hosts: [10.0.0.1, 10.0.0.2]\n"
        "ssh:\n  user: deploy\n  port: 2222\n"
    )
    return path


def test_pinned_known_hosts_and_secret_key_live_only_as_long_as_the_session(
    deploy_file: Path, tmp_path: Path
) -> None:
    known_hosts = tmp_path / "known_hosts"
    known_hosts.write_text(f"[10.0.0.2]:2222 {public_key(2)}\nother.example {public_key(9)}\n")
    reader = FakeReader(
        {
            "deployFile": str(deploy_file),
            "knownHostsFile": str(known_hosts),
            "hostKeys": json.dumps({"10.0.0.1": public_key(1)}),
        },
        secrets={"sshPrivateKey": PRIVATE_KEY},
    )
    with SshAccess(reader, ["10.0.0.1", "10.0.0.2", "10.0.0.1"]) as access:  # type: ignore[arg-type]
        argv = access.argv("10.0.0.2", "uname -m")
        directory = Path(argv[argv.index("-i") + 1]).parent
        assert stat.S_IMODE(directory.stat().st_mode) == 0o700
        files = {path.name: path for path in directory.iterdir()}
        assert set(files) == {"known_hosts", "key"}
        assert all(stat.S_IMODE(path.stat().st_mode) == 0o600 for path in files.values())
        assert files["known_hosts"].read_text() == (
            f"[10.0.0.1]:2222 {public_key(1)}\n[10.0.0.2]:2222 {public_key(2)}\n"
        )
        assert files["key"].read_text() == PRIVATE_KEY + "\n"
    assert not directory.exists()
    assert argv[-3:] == ["10.0.0.2", "--", "uname -m"]
    assert "-T" in argv and "-t" not in argv
    assert argv[argv.index("-p") + 1] == "2222" and argv[argv.index("-l") + 1] == "deploy"
    for option in ("StrictHostKeyChecking=yes", "BatchMode=yes", "IdentitiesOnly=yes"):
        assert argv[argv.index(option) - 1] == "-o"
    assert f"UserKnownHostsFile={directory / 'known_hosts'}" in argv
    assert not any("not-a-real-key" in word for word in argv)


def test_a_key_path_is_used_in_place(deploy_file: Path, tmp_path: Path) -> None:
    key = tmp_path / "id_ed25519"
    key.write_text(PRIVATE_KEY)
    reader = FakeReader(
        {
            "deployFile": str(deploy_file),
            "sshPrivateKeyPath": str(key),
            "hostKeys": json.dumps({"10.0.0.1": public_key(1)}),
        }
    )
    with SshAccess(reader, ["10.0.0.1"]) as access:  # type: ignore[arg-type]
        argv = access.argv("10.0.0.1", "true", interactive=True)
    assert argv[argv.index("-i") + 1] == str(key)
    assert "-t" in argv and "-T" not in argv
    assert key.exists()


def test_a_host_without_a_pinned_key_is_refused_before_connecting(deploy_file: Path) -> None:
    reader = FakeReader(
        {"deployFile": str(deploy_file), "hostKeys": json.dumps({"10.0.0.1": public_key(1)})},
        secrets={"sshPrivateKey": PRIVATE_KEY},
    )
    with pytest.raises(DeployConfigError) as error:
        SshAccess(reader, ["10.0.0.2"]).__enter__()  # type: ignore[arg-type]
    assert str(error.value) == (
        "[10.0.0.2]:2222: no pinned host key (set fleetform:hostKeys or fleetform:knownHostsFile)"
    )


def test_no_key_at_all_is_named(deploy_file: Path) -> None:
    reader = FakeReader(
        {"deployFile": str(deploy_file), "hostKeys": json.dumps({"10.0.0.1": public_key(1)})}
    )
    with pytest.raises(StackAccessError) as error:
        SshAccess(reader, ["10.0.0.1"]).__enter__()  # type: ignore[arg-type]
    assert str(error.value) == (
        "fleetform:sshPrivateKeyPath: not set, and no secret fleetform:sshPrivateKey"
    )
    reader = FakeReader(
        {
            "deployFile": str(deploy_file),
            "sshPrivateKeyPath": "/nonexistent/key",
            "hostKeys": json.dumps({"10.0.0.1": public_key(1)}),
        }
    )
    with pytest.raises(StackAccessError, match=r"sshPrivateKeyPath: no such file"):
        SshAccess(reader, ["10.0.0.1"]).__enter__()  # type: ignore[arg-type]


def test_a_changed_host_key_becomes_one_line_with_both_fingerprints(deploy_file: Path) -> None:
    reader = FakeReader(
        {"deployFile": str(deploy_file), "hostKeys": json.dumps({"10.0.0.1": public_key(1)})},
        secrets={"sshPrivateKey": PRIVATE_KEY},
    )
    ssh_said = (
        "@@@@@@@@\n@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @\n"
        "The fingerprint for the ED25519 key sent by the remote host is\n"
        "SHA256:U2Wdfr2lwrpl03TsQOfgGfXHMrT9mrea4XDthrQ6yQg.\n"
        "Host key verification failed.\n"
    )
    with SshAccess(reader, ["10.0.0.1"]) as access:  # type: ignore[arg-type]
        assert access.explain("10.0.0.1", 255, ssh_said) == (
            "host key mismatch: the host offered ED25519 "
            "SHA256:U2Wdfr2lwrpl03TsQOfgGfXHMrT9mrea4XDthrQ6yQg, but "
            f"{fingerprint(public_key(1))} is pinned "
            "(fleetform:knownHostsFile / fleetform:hostKeys)\n"
        )
        assert access.explain("10.0.0.1", 1, "boom\n") == "boom\n"
