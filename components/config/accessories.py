"""`accessories`: services with their own image, on hosts of their own or on the hosts of roles."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from components.config.container_settings import read_env, read_labels, read_options
from components.config.model import AccessoryConfig, EnvConfig, Options, Pairs, RoleConfig
from components.config.values import (
    REPOSITORY_PATH,
    Section,
    checked_name,
    child_path,
    describe,
    host_list,
    host_name,
    list_value,
    normalise_arch,
    normalise_port,
    normalise_volume,
    shell_words,
    string_list,
    string_value,
)
from components.errors import DeployConfigError


ACCESSORY_KEYS = frozenset(
    {
        "image", "arch", "host", "hosts", "roles", "port", "cmd", "env", "volumes",
        "directories", "options", "labels",
    }
)  # fmt: skip

ACCESSORY_NOT_YET: Mapping[str, str] = {
    key: "not supported yet"
    for key in ("service", "registry", "role", "tag", "tags", "files", "network", "proxy")
}

_IMAGE_REFERENCE = re.compile(
    rf"^(?:[A-Za-z0-9.-]+(?::[0-9]+)?/)?{REPOSITORY_PATH}"
    r"(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(?:@sha256:[0-9a-f]{64})?$"
)


def read_accessories(value: object, roles: Sequence[RoleConfig]) -> tuple[AccessoryConfig, ...]:
    if value is None:
        return ()
    section = Section(value, "accessories", "accessories")
    return tuple(
        _accessory(checked_name(name, f"accessories/{name}"), accessory, roles)
        for name, accessory in section.items()
    )


def _accessory(name: str, value: object, roles: Sequence[RoleConfig]) -> AccessoryConfig:
    path = f"accessories/{name}"
    section = Section(value, path, path)
    section.check_keys(ACCESSORY_KEYS, ACCESSORY_NOT_YET)
    image = string_value(section.require("image"), section.child("image"))
    if not _IMAGE_REFERENCE.match(image):
        raise DeployConfigError(
            f"{section.child('image')}: must be an image reference like redis:7.0 "
            f"(got {describe(image)})"
        )
    placed_by = [key for key in ("host", "hosts", "roles") if section.has(key)]
    if len(placed_by) != 1:
        got = f" (got {', '.join(placed_by)})" if placed_by else ""
        raise DeployConfigError(f"{path}: must set exactly one of host, hosts or roles{got}")
    hosts: tuple[str, ...]
    accessory_roles: tuple[str, ...] = ()
    if section.has("host"):
        hosts = (host_name(section.get("host"), section.child("host")),)
    elif section.has("hosts"):
        hosts = host_list(section.get("hosts"), section.child("hosts"))
    else:
        accessory_roles, hosts = _accessory_roles(
            section.get("roles"), section.child("roles"), roles
        )
    arch = (
        normalise_arch(section.get("arch"), section.child("arch")) if section.has("arch") else None
    )
    port = (
        normalise_port(section.get("port"), section.child("port")) if section.has("port") else None
    )
    options: Options = ()
    published: tuple[str, ...] = ()
    if section.has("options"):
        options, published = read_options(section.get("options"), section.child("options"))
    volumes: tuple[str, ...] = ()
    if section.has("volumes"):
        volumes_path = section.child("volumes")
        volumes = tuple(
            normalise_volume(item, child_path(volumes_path, index))
            for index, item in enumerate(list_value(section.get("volumes"), volumes_path))
        )
    directories: Pairs = ()
    if section.has("directories"):
        directories_path = section.child("directories")
        directories = tuple(
            _directory(item, child_path(directories_path, index))
            for index, item in enumerate(list_value(section.get("directories"), directories_path))
        )
    return AccessoryConfig(
        name=name,
        image=image,
        hosts=hosts,
        arch=arch,
        port=port,
        cmd=shell_words(section.get("cmd"), section.child("cmd")) if section.has("cmd") else None,
        env=read_env(section.get("env"), section.child("env"))
        if section.has("env")
        else EnvConfig(),
        volumes=volumes,
        directories=directories,
        options=options,
        labels=read_labels(section.get("labels"), section.child("labels"))
        if section.has("labels")
        else (),
        roles=accessory_roles,
        ports=((port,) if port else ()) + published,
    )


def _accessory_roles(
    value: object, path: str, roles: Sequence[RoleConfig]
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    by_name = {role.name: role for role in roles}
    names: list[str] = []
    hosts: dict[str, None] = {}
    for index, name in enumerate(string_list(value, path)):
        role = by_name.get(name)
        if role is None:
            known = ", ".join(by_name)
            raise DeployConfigError(
                f"{child_path(path, index)}: not a role in servers "
                f"(got {describe(name)}; roles are {known})"
            )
        if name in names:
            raise DeployConfigError(
                f"{child_path(path, index)}: duplicate role (got {describe(name)})"
            )
        names.append(name)
        hosts.update(dict.fromkeys(role.hosts))
    if not hosts:
        # Only allow_empty_roles lets a role have no hosts; an accessory would silently vanish.
        raise DeployConfigError(
            f"{path}: these roles have no hosts, so the accessory would run nowhere; "
            f"give it host or hosts (got {', '.join(names)})"
        )
    return tuple(names), tuple(hosts)


def _directory(value: object, path: str) -> tuple[str, str]:
    if isinstance(value, Mapping):
        raise DeployConfigError(
            f"{path}: the mapping form of directories is not supported yet by fleetform "
            f"(got {describe(value)})"
        )
    spec = string_value(value, path)
    parts = spec.split(":")
    if len(parts) == 3:
        raise DeployConfigError(
            f"{path}: mount options on directories are not supported yet by fleetform "
            f"(got {describe(spec)})"
        )
    if (
        len(parts) != 2
        or not parts[0]
        or not parts[1].startswith("/")
        or ".." in parts[0].split("/")
    ):
        raise DeployConfigError(f"{path}: must be host-dir:/container/path (got {describe(spec)})")
    return parts[0], parts[1]
