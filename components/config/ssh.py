"""How fleetform reaches the hosts: SSH user, port, keys and the jump host."""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping

from components.config.model import JumpHostConfig, SshConfig
from components.config.values import (
    Section,
    describe,
    string_list,
    string_value,
    whole_number,
)
from components.errors import DeployConfigError

SSH_KEYS = frozenset(
    {"user", "port", "keys", "proxy", "proxy_command", "keys_only", "key_data", "config"}
)
SSH_NOT_YET: Mapping[str, str] = {
    "log_level": "pulumi-command's SSH client has no log level setting; its connection errors "
    "are in `pulumi up` output, and `pulumi up --logtostderr -v=9` shows the provider's log",
}
CONFIG_REASON = (
    "pulumi-command never reads OpenSSH config files, so fleetform reads none either (only "
    "`config: false` says that); hosts, ports, users, the jump host and host keys come from the "
    "deploy file and the stack"
)
PROXY_COMMAND_REASON = (
    "pulumi-command dials hosts itself and cannot use a local command as the transport; only "
    "an ssh jump, `ssh [-q] [-p PORT] [-l USER] -W %h:%p USER@HOST`, maps onto its "
    "connection.proxy (or write ssh/proxy: USER@HOST:PORT)"
)
KEYS_ONLY_FALSE_REASON = (
    "fleetform always logs in with its one configured key, and once a host refuses that key "
    "pulumi-command's SSH client never tries an ssh-agent's identities; fleetform always "
    "behaves as keys_only: true"
)
_SSH_USER = re.compile(r"^[a-z_][a-z0-9_.-]*$")
_JUMP = re.compile(
    r"^(?:(?P<user>[^@:/\s]+)@)?(?P<host>[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)"
    r"(?::(?P<port>[^:]*))?$"
)
_PRIVATE_KEY = re.compile(
    r"\A\s*-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----\r?\n.+\n-----END [A-Z0-9 ]*PRIVATE KEY-----\s*\Z",
    re.DOTALL,
)


def _user(value: str, path: str) -> str:
    if not _SSH_USER.match(value):
        raise DeployConfigError(f"{path}: invalid user name (got {describe(value)})")
    return value


def read_jump_host(value: object) -> JumpHostConfig:
    """`host`, `user@host` or `user@host:port`, as Net::SSH's jump proxy reads it (user root)."""
    text = string_value(value, "ssh/proxy")
    if "," in text:
        # Net::SSH chains `a,b` through several hosts; pulumi-command's proxy is one host.
        raise DeployConfigError(
            f"ssh/proxy: fleetform goes through one jump host; pulumi-command's connection.proxy "
            f"has no chain (got {describe(text)})"
        )
    match = _JUMP.match(text.strip())
    if match is None:
        raise DeployConfigError(
            f"ssh/proxy: must be host, user@host or user@host:port (got {describe(text)})"
        )
    user = _user(match["user"], "ssh/proxy") if match["user"] is not None else "root"
    port = 22
    if match["port"] is not None:
        port = whole_number(match["port"], "ssh/proxy", minimum=1, maximum=65535)
    return JumpHostConfig(host=match["host"], user=user, port=port)


def read_proxy_command(value: object) -> JumpHostConfig:
    """Kamal's documented `ssh -W %h:%p user@proxy` is a jump host; nothing else maps."""
    text = string_value(value, "ssh/proxy_command")
    refused = DeployConfigError(
        f"ssh/proxy_command: not supported by fleetform: {PROXY_COMMAND_REASON} "
        f"(got {describe(text)})"
    )
    try:
        words = shlex.split(text)
    except ValueError:
        raise refused from None
    if not words or words[0] != "ssh":
        raise refused
    user = port = destination = None
    forward = False
    rest = iter(words[1:])
    for word in rest:
        if word == "-q":
            continue
        if word in ("-W", "-p", "-l"):
            argument = next(rest, None)
            if argument is None:
                raise refused
            if word == "-W":
                forward = argument == "%h:%p"
            elif word == "-p":
                port = argument
            else:
                user = argument
        elif word.startswith("-") or destination is not None:
            raise refused
        else:
            destination = word
    if not forward or destination is None or ":" in destination:
        raise refused
    if "@" in destination:
        if user is not None:
            raise refused
        user, destination = destination.split("@", 1)
    if user is None:
        # ssh would take the user from ~/.ssh/config or the local login, neither of which
        # fleetform reads.
        raise DeployConfigError(
            f"ssh/proxy_command: name the jump host's user (-l USER or USER@HOST); ssh would "
            f"take it from your ssh config or login, which fleetform does not read "
            f"(got {describe(text)})"
        )
    jump = f"{user}@{destination}" + (f":{port}" if port is not None else "")
    try:
        return read_jump_host(jump)
    except DeployConfigError as error:
        raise DeployConfigError(str(error).replace("ssh/proxy:", "ssh/proxy_command:", 1)) from None


def _key_data(value: object) -> tuple[str, ...]:
    # Error messages never show these values: each one is a private key.
    if not isinstance(value, list):
        raise DeployConfigError(
            "ssh/key_data: must be a list of one private key (got a value that is not a list; "
            "it is not shown)"
        )
    items = value
    if len(items) != 1:
        raise DeployConfigError(
            f"ssh/key_data: fleetform logs in with one private key; list one (got {len(items)})"
        )
    key = items[0]
    if not isinstance(key, str) or not _PRIVATE_KEY.match(key):
        raise DeployConfigError(
            "ssh/key_data/0: must be a private key in PEM or OpenSSH form, "
            "'-----BEGIN ... PRIVATE KEY-----' to '-----END ... PRIVATE KEY-----' on lines of "
            "their own (got a value that is not; it is not shown)"
        )
    return (key.strip() + "\n",)


def read_ssh(value: object) -> SshConfig:
    if value is None:
        return SshConfig()
    section = Section(value, "ssh", "ssh")
    section.check_keys(SSH_KEYS, SSH_NOT_YET)
    user = "root"
    if section.has("user"):
        user = _user(string_value(section.get("user"), "ssh/user"), "ssh/user")
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
    key_data = _key_data(section.get("key_data")) if section.has("key_data") else ()
    if keys and key_data:
        raise DeployConfigError(
            "ssh/key_data: fleetform logs in with one private key, and ssh/keys names one "
            "already; keep one of them (got 1 key in key_data)"
        )
    keys_only = None
    if section.has("keys_only"):
        keys_only = section.get("keys_only")
        if not isinstance(keys_only, bool):
            raise DeployConfigError(
                f"ssh/keys_only: must be true or false (got {describe(keys_only)})"
            )
        if not keys_only:
            raise DeployConfigError(
                f"ssh/keys_only: not supported by fleetform: {KEYS_ONLY_FALSE_REASON} (got false)"
            )
    if section.has("config") and section.get("config") is not False:
        raise DeployConfigError(
            f"ssh/config: not supported by fleetform: {CONFIG_REASON} "
            f"(got {describe(section.get('config'))})"
        )
    proxy = read_jump_host(section.get("proxy")) if section.has("proxy") else None
    if section.has("proxy_command"):
        if proxy is not None:
            # Kamal uses ssh/proxy and ignores proxy_command; fleetform ignores no key.
            raise DeployConfigError(
                "ssh/proxy_command: Kamal ignores it when ssh/proxy is set; keep one of them "
                f"(got {describe(section.get('proxy_command'))})"
            )
        proxy = read_proxy_command(section.get("proxy_command"))
    return SshConfig(
        user=user, port=port, keys=keys, proxy=proxy, keys_only=keys_only, key_data=key_data
    )
