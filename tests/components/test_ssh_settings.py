"""The jump host's pin and key_data as the login key."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pulumi
import pytest

from components.config.model import JumpHostConfig
from components.errors import DeployConfigError
from components.known_hosts import HostKeys
from components.remote_command import JumpHost
from components.stack_config import jump_host, private_key

pytestmark = pytest.mark.components

KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----\n"


def settings(key: Any) -> Any:
    return SimpleNamespace(ssh_private_key=key)


def test_the_jump_host_is_pinned_by_its_own_name_and_port() -> None:
    keys = HostKeys({"[bastion]:2222": "ssh-ed25519 AAAAjump"})
    assert jump_host(JumpHostConfig("bastion", "app", 2222), keys) == JumpHost(
        host="bastion", port=2222, user="app", host_key="ssh-ed25519 AAAAjump"
    )
    assert jump_host(None, keys) is None
    with pytest.raises(DeployConfigError) as raised:
        jump_host(JumpHostConfig("bastion", "root", 22), keys)
    assert str(raised.value) == (
        "ssh/proxy: bastion: no pinned host key (set fleetform:hostKeys or fleetform:knownHostsFile)"
    )


@pulumi.runtime.test
def test_key_data_is_the_key_when_the_stack_sets_none() -> pulumi.Output[Any]:
    output = private_key(settings(None), (), (KEY,))

    def check(values: list[Any]) -> None:
        assert values == [KEY, True]

    return pulumi.Output.all(output, pulumi.Output.from_input(output.is_secret())).apply(check)


def test_key_data_beside_a_stack_key_is_refused_without_the_key() -> None:
    with pytest.raises(DeployConfigError) as raised:
        private_key(settings(pulumi.Output.secret("k")), (), (KEY,))
    assert str(raised.value) == (
        "ssh/key_data: the stack sets fleetform:sshPrivateKey(Path) too; keep one of them "
        "(got a private key, not shown)"
    )
