"""How fleetform reaches the hosts: SSH user, port and keys."""

from __future__ import annotations


from collections.abc import Mapping

import re

from components.config.model import (
    SshConfig,
)
from components.config.values import (
    Section,
    describe,
    string_list,
    string_value,
    whole_number,
)
from components.errors import DeployConfigError

SSH_KEYS = frozenset({"user", "port", "keys"})
SSH_NOT_YET: Mapping[str, str] = {
    "proxy": "jump hosts are not wired to pulumi-command's connection.proxy yet",
    "proxy_command": "pulumi-command dials hosts itself and cannot run a local ProxyCommand",
    "log_level": "SSH logging belongs to pulumi-command; run `pulumi up --logtostderr -v=9`",
    "keys_only": "not supported yet",
    "key_data": "not supported yet",
    "config": "fleetform does not read ~/.ssh/config: hosts, ports, users and host keys are "
    "pinned in the deploy file and the stack",
}
_SSH_USER = re.compile(r"^[a-z_][a-z0-9_.-]*$")


def read_ssh(value: object) -> SshConfig:
    if value is None:
        return SshConfig()
    section = Section(value, "ssh", "ssh")
    section.check_keys(SSH_KEYS, SSH_NOT_YET)
    user = "root"
    if section.has("user"):
        user = string_value(section.get("user"), "ssh/user")
        if not _SSH_USER.match(user):
            raise DeployConfigError(f"ssh/user: invalid user name (got {describe(user)})")
    port = 22
    if section.has("port"):
        port = whole_number(section.get("port"), "ssh/port", minimum=1, maximum=65535)
    keys: tuple[str, ...] = ()
    if section.has("keys"):
        keys = tuple(string_list(section.get("keys"), "ssh/keys"))
        # Kamal's net-ssh tries each key in turn; pulumi-command logs in with exactly one.
        if len(keys) > 1:
            raise DeployConfigError(
                f"ssh/keys: fleetform logs in with one private key; list one (got {len(keys)})"
            )
    return SshConfig(user=user, port=port, keys=keys)
