"""SshCommand's diff: what replaces a remote command and what only updates how we reach it."""

from __future__ import annotations

from typing import Any

import pytest

from components.ssh_command import _SshCommandProvider

pytestmark = pytest.mark.components

OLD: dict[str, Any] = {
    "connection": {
        "host": "10.203.0.11",
        "port": 22,
        "user": "root",
        "private_key": "key-1",
        "host_key": "ssh-ed25519 AAAA1",
    },
    "create": "docker run …",
    "delete": "docker rm …",
    "stdin": "A=1\n",
    "triggers": ["sha256:1", "hash-1"],
    "stdout": "container-id",
}


def with_change(path: str, value: Any) -> dict[str, Any]:
    new = {**OLD, "connection": dict(OLD["connection"])}
    if path.startswith("connection."):
        new["connection"][path.split(".", 1)[1]] = value
    else:
        new[path] = value
    return new


def test_identical_inputs_change_nothing() -> None:
    result = _SshCommandProvider().diff("id", OLD, with_change("stdout", "other"))
    assert result.changes is False and result.replaces == []


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("create", "docker run --new …"),
        ("delete", "docker rm --new …"),
        ("stdin", "A=2\n"),
        ("triggers", ["sha256:2", "hash-1"]),
        ("connection.host", "10.203.0.12"),
        ("connection.port", 2222),
        ("connection.user", "deploy"),
    ],
)
def test_what_the_command_does_or_where_it_runs_replaces_it(path: str, value: Any) -> None:
    result = _SshCommandProvider().diff("id", OLD, with_change(path, value))
    assert result.changes is True
    assert result.replaces == [path]
    assert result.delete_before_replace is False


@pytest.mark.parametrize(
    ("path", "value"), [("connection.private_key", "key-2"), ("connection.host_key", "ssh-x B")]
)
def test_new_credentials_update_without_rerunning(path: str, value: Any) -> None:
    provider = _SshCommandProvider()
    new = with_change(path, value)
    result = provider.diff("id", OLD, new)
    assert result.changes is True and result.replaces == []
    updated = provider.update("id", OLD, new).outs
    assert updated is not None
    assert updated["connection"] == new["connection"]
    assert updated["stdout"] == "container-id"
