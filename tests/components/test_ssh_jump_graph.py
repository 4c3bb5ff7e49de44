"""The graph of a deploy through a jump host, with key_data and a secret registry user name.

The real __main__.py under Pulumi mocks: every remote command carries the same pinned jump host
in `connection.proxy`, the key from the deploy file, and the registry login takes the secret
user name on stdin, never in its script.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from tests.components.program import run_program, unsecret
from tests.components.program import (
    REMOTE_COMMAND,
    connection,
)

pytestmark = pytest.mark.components

JUMP = "10.203.0.9"
KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----\n"
DEPLOY = {
    "service": "hello",
    "image": "fleetform/hello",
    "registry": {
        "server": "10.203.0.1:5000",
        "username": ["REGISTRY_USER"],
        "password": ["REGISTRY_PASSWORD"],
    },
    "builder": {"arch": "arm64", "context": "app", "dockerfile": "app/Dockerfile"},
    "servers": {"web": {"hosts": ["10.203.0.11", "10.203.0.12"], "arch": "arm64", "proxy": False}},
    "ssh": {"proxy": f"app@{JUMP}:2222", "key_data": [KEY]},
}


@pytest.fixture(scope="module")
def created(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[Any]]:
    files = tmp_path_factory.mktemp("jump")
    (files / "deploy.yml").write_text(yaml.safe_dump(DEPLOY))
    (files / "known_hosts").write_text(
        "".join(f"{h} ssh-ed25519 AAAAkey{h}\n" for h in ("10.203.0.11", "10.203.0.12"))
        + f"[{JUMP}]:2222 ssh-ed25519 AAAAjumpkey\n"
    )
    mocks = run_program(
        {
            "deployFile": str(files / "deploy.yml"),
            "knownHostsFile": str(files / "known_hosts"),
            "REGISTRY_USER": "secret-user",
            "REGISTRY_PASSWORD": "registry-pass",
            "versionKey": "unit-version-key",
        }
    )
    yield mocks.created


def test_every_command_goes_through_the_pinned_jump_host(created: list[Any]) -> None:
    commands = [r for r in created if r.typ == REMOTE_COMMAND]
    assert commands
    for command in commands:
        ssh = connection(command.inputs)
        assert ssh["privateKey"] == KEY
        proxy = ssh["proxy"]
        assert (proxy["host"], proxy["port"], proxy["user"]) == (JUMP, 2222, "app")
        assert proxy["hostKey"] == "ssh-ed25519 AAAAjumpkey"
        assert proxy["privateKey"] == KEY
        assert ssh["host"] != JUMP
        # The jump host is the way in, not where the command runs: not in its identity.
        assert JUMP not in command.inputs["triggers"]


def test_the_secret_user_name_is_on_stdin_only(created: list[Any]) -> None:
    logins = [r for r in created if r.name.endswith("-registry-login")]
    assert len(logins) == 2
    for login in logins:
        assert unsecret(login.inputs["stdin"]) == "secret-user\nregistry-pass"
        assert "secret-user" not in login.inputs["create"]
        assert "IFS= read -r user" in login.inputs["create"]
    (image,) = [r for r in created if r.typ == "docker-build:index:Image"]
    (registry,) = unsecret(image.inputs["registries"])
    assert unsecret(registry["username"]) == "secret-user"
