"""The file-wide sections: the app image, builder, registry, ssh and boot."""

from __future__ import annotations

from collections.abc import Collection, Mapping

import re
import shlex

from components.config.model import (
    ARCHES,
    Arch,
    BootConfig,
    BuilderConfig,
    Pairs,
    RegistryConfig,
    SshConfig,
)
from components.config.values import (
    ENV_NAME,
    REPOSITORY_PATH,
    Section,
    describe,
    is_ascii_number,
    name_value_pairs,
    normalise_arch,
    string_list,
    string_value,
    whole_number,
)
from components.errors import DeployConfigError


BUILDER_KEYS = frozenset({"arch", "dockerfile", "context", "args"})
BUILDER_NOT_YET = frozenset(
    {
        "driver", "remote", "local", "cache", "target", "secrets", "ssh", "provenance",
        "sbom", "pack",
    }
)  # fmt: skip

REGISTRY_KEYS = frozenset({"server", "username", "password"})
SSH_KEYS = frozenset({"user", "port", "keys"})
SSH_NOT_YET = frozenset({"proxy", "proxy_command", "log_level", "keys_only", "key_data", "config"})
BOOT_KEYS = frozenset({"limit", "wait", "parallel_roles"})
_APP_IMAGE = re.compile(rf"^{REPOSITORY_PATH}$")
_REGISTRY_SERVER = re.compile(r"^[A-Za-z0-9.-]+(?::[0-9]+)?(?:/[a-z0-9._-]+)*$")
_SSH_USER = re.compile(r"^[a-z_][a-z0-9_.-]*$")


def read_app_image(value: object) -> str:
    image = string_value(value, "image")
    first = image.split("/", 1)[0]
    if "/" in image and ("." in first or ":" in first or first == "localhost"):
        raise DeployConfigError(
            f"image: the registry belongs in registry/server, not in image (got {describe(image)})"
        )
    if not _APP_IMAGE.match(image):
        raise DeployConfigError(
            f"image: must be a lowercase repository name without a tag, like org/app "
            f"(got {describe(image)})"
        )
    return image


def read_builder(value: object) -> BuilderConfig:
    if value is None:
        return BuilderConfig()
    section = Section(value, "builder", "builder")
    section.check_keys(BUILDER_KEYS, BUILDER_NOT_YET)
    arches: tuple[Arch, ...] = ARCHES
    if section.has("arch"):
        arch_value = section.get("arch")
        if isinstance(arch_value, list):
            if not arch_value:
                raise DeployConfigError(
                    "builder/arch: must name at least one arch (got an empty list)"
                )
            found: list[Arch] = []
            for index, item in enumerate(arch_value):
                arch = normalise_arch(item, f"builder/arch/{index}")
                if arch in found:
                    raise DeployConfigError(
                        f"builder/arch/{index}: duplicate arch {arch} (got {describe(item)})"
                    )
                found.append(arch)
            arches = tuple(arch for arch in ARCHES if arch in found)
        else:
            arches = (normalise_arch(arch_value, "builder/arch"),)
    dockerfile = "Dockerfile"
    if section.has("dockerfile"):
        dockerfile = string_value(section.get("dockerfile"), "builder/dockerfile")
    context = "."
    if section.has("context"):
        context = string_value(section.get("context"), "builder/context")
    args: Pairs = ()
    if section.has("args"):
        args = name_value_pairs(
            section.get("args"),
            "builder/args",
            key_pattern=ENV_NAME,
            rule="invalid build arg name",
        )
    return BuilderConfig(arches=arches, dockerfile=dockerfile, context=context, args=args)


def read_registry(value: object) -> RegistryConfig | None:
    if value is None:
        return None
    section = Section(value, "registry", "registry")
    section.check_keys(REGISTRY_KEYS)
    server = "docker.io"
    if section.has("server"):
        server = string_value(section.get("server"), "registry/server")
        if not _REGISTRY_SERVER.match(server):
            raise DeployConfigError(
                f"registry/server: must be a registry host[:port] (got {describe(server)})"
            )
    username = section.require("username")
    if isinstance(username, list):
        raise DeployConfigError(
            f"registry/username: secret usernames are not supported yet by fleetform "
            f"(got {describe(username)})"
        )
    password = section.require("password")
    if isinstance(password, list):
        if len(password) != 1:
            raise DeployConfigError(
                f"registry/password: must name exactly one secret (got a list of {len(password)})"
            )
        password = password[0]
    # The value might be a literal password pasted by mistake, so it is never echoed.
    if not isinstance(password, str) or not ENV_NAME.match(password):
        raise DeployConfigError(
            "registry/password: must be the name of a secret, like [KAMAL_REGISTRY_PASSWORD] "
            "(got a value that is not a secret name)"
        )
    return RegistryConfig(
        server=server,
        username=string_value(username, "registry/username"),
        password_secret=password,
    )


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


def read_boot(value: object) -> BootConfig:
    if value is None:
        return BootConfig()
    section = Section(value, "boot", "boot")
    section.check_keys(BOOT_KEYS)
    limit: int | None = None
    limit_percent: int | None = None
    if section.has("limit"):
        raw_limit = section.get("limit")
        if isinstance(raw_limit, str) and raw_limit.endswith("%"):
            if not is_ascii_number(raw_limit[:-1]):
                raise DeployConfigError(
                    f"boot/limit: must be a number of hosts or a percentage like 25% "
                    f"(got {describe(raw_limit)})"
                )
            limit_percent = whole_number(int(raw_limit[:-1]), "boot/limit", minimum=1, maximum=100)
        else:
            limit = whole_number(raw_limit, "boot/limit", minimum=1)
    wait: int | None = None
    if section.has("wait"):
        wait = whole_number(section.get("wait"), "boot/wait", minimum=0)
    parallel_roles = False
    if section.has("parallel_roles"):
        parallel_roles = section.get("parallel_roles")
        if not isinstance(parallel_roles, bool):
            raise DeployConfigError(
                f"boot/parallel_roles: must be true or false (got {describe(parallel_roles)})"
            )
    return BootConfig(
        limit=limit, limit_percent=limit_percent, wait=wait, parallel_roles=parallel_roles
    )


ALIAS_NAME = re.compile(r"^[a-z0-9_-]+$")
"""Kamal's rule for alias names."""
FLEETFORM_COMMANDS = ("plan", "app", "accessory", "secrets", "drift")
"""`python -m components` commands an alias may expand to (and may not be named like)."""


def read_aliases(
    raw: object, commands: Collection[str] = FLEETFORM_COMMANDS, path: str = "aliases"
) -> dict[str, str]:
    """deploy.yml's `aliases:` checked Kamal's way: names of lowercase letters, digits, `-` and
    `_` that are not a built-in command, each mapping to a non-empty command line."""
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise DeployConfigError(f"{path}: must be a map of alias names to command lines")
    aliases: dict[str, str] = {}
    for name, command in raw.items():
        where = f"{path}/{name}"
        if not isinstance(name, str) or not ALIAS_NAME.match(name):
            raise DeployConfigError(
                f"{where}: alias names may only contain lowercase letters, digits, - and _"
            )
        if name in commands:
            raise DeployConfigError(f"{where}: conflicts with the built-in command '{name}'")
        if not isinstance(command, str) or not command.strip():
            raise DeployConfigError(f"{where}: must be a command line like 'app logs -r web'")
        try:
            words = shlex.split(command)
        except ValueError as error:
            raise DeployConfigError(f"{where}: not a valid command line ({error})") from None
        if words[0] not in commands and words[0] not in raw:
            raise DeployConfigError(
                f"{where}: '{words[0]}' is not a command (commands: {', '.join(sorted(commands))})"
            )
        aliases[name] = command
    return aliases
