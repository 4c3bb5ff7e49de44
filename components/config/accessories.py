"""`accessories`: services with their own image, on hosts of their own or on the hosts of roles."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path

from components.config.accessory_mounts import read_directories, read_files

from components.config.container_settings import read_env, read_labels, read_options
from components.config.model import (
    AccessoryConfig,
    AccessoryFile,
    DirectoryMount,
    EnvConfig,
    Options,
    ProxyConfig,
    RoleConfig,
)
from components.config.proxy import read_route
from components.config.registry import read_registry
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
        "image", "arch", "host", "hosts", "role", "roles", "port", "cmd", "env", "volumes",
        "directories", "options", "labels", "files", "service", "network", "registry", "proxy",
        "tag", "tags",
    }
)  # fmt: skip

ACCESSORY_NOT_YET: Mapping[str, str] = {}
PLACED_BY = ("host", "hosts", "role", "roles", "tag", "tags")
# Docker's own rule for container and network names.
_DOCKER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")

_IMAGE_REFERENCE = re.compile(
    rf"^(?:[A-Za-z0-9.-]+(?::[0-9]+)?/)?{REPOSITORY_PATH}"
    r"(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(?:@sha256:[0-9a-f]{64})?$"
)


def read_accessories(
    value: object, roles: Sequence[RoleConfig], root: Path = Path(".")
) -> tuple[AccessoryConfig, ...]:
    """`root` is the project root, where relative `files` are read from."""
    if value is None:
        return ()
    section = Section(value, "accessories", "accessories")
    return tuple(
        _accessory(checked_name(name, f"accessories/{name}"), accessory, roles, root)
        for name, accessory in section.items()
    )


def _docker_name(section: Section, key: str) -> str:
    name = string_value(section.get(key), section.child(key))
    if not _DOCKER_NAME.match(name):
        raise DeployConfigError(
            f"{section.child(key)}: must be a Docker name: letters, digits and _.- "
            f"(got {describe(name)})"
        )
    return name


def _accessory(
    name: str, value: object, roles: Sequence[RoleConfig], root: Path
) -> AccessoryConfig:
    path = f"accessories/{name}"
    section = Section(value, path, path)
    section.check_keys(ACCESSORY_KEYS, ACCESSORY_NOT_YET)
    image = string_value(section.require("image"), section.child("image"))
    if not _IMAGE_REFERENCE.match(image):
        raise DeployConfigError(
            f"{section.child('image')}: must be an image reference like redis:7.0 "
            f"(got {describe(image)})"
        )
    placed_by = [key for key in PLACED_BY if section.has(key)]
    if len(placed_by) != 1:
        got = f" (got {', '.join(placed_by)})" if placed_by else ""
        raise DeployConfigError(
            f"{path}: must set exactly one of host, hosts, role, roles, tag or tags{got}"
        )
    hosts: tuple[str, ...]
    accessory_roles: tuple[str, ...] = ()
    if section.has("host"):
        hosts = (host_name(section.get("host"), section.child("host")),)
    elif section.has("hosts"):
        hosts = host_list(section.get("hosts"), section.child("hosts"))
    elif section.has("role"):
        role = section.get("role")
        if not isinstance(role, str):
            raise DeployConfigError(
                f"{section.child('role')}: must be one role name; use roles for a list "
                f"(got {describe(role)})"
            )
        known = {known_role.name: known_role for known_role in roles}
        if role not in known:
            raise DeployConfigError(
                f"{section.child('role')}: not a role in servers "
                f"(got {describe(role)}; roles are {', '.join(known)})"
            )
        accessory_roles, hosts = (role,), known[role].hosts
    elif section.has("roles"):
        accessory_roles, hosts = _accessory_roles(
            section.get("roles"), section.child("roles"), roles
        )
    elif section.has("tag"):
        tag = section.get("tag")
        if not isinstance(tag, str):
            raise DeployConfigError(
                f"{section.child('tag')}: must be one tag; use tags for a list "
                f"(got {describe(tag)})"
            )
        hosts = _tagged_hosts((tag,), section.child("tag"), roles)
    else:
        tags = string_list(section.get("tags"), section.child("tags"))
        hosts = _tagged_hosts(tags, section.child("tags"), roles)
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
    directories: tuple[DirectoryMount, ...] = ()
    if section.has("directories"):
        directories = read_directories(section.get("directories"), section.child("directories"))
    registry = None
    if section.has("registry"):
        registry = read_registry(section.get("registry"), section.child("registry"))
        if registry is not None and image.startswith(f"{registry.server}/"):
            raise DeployConfigError(
                f"{section.child('image')}: the accessory's registry adds {registry.server}/ "
                f"itself; write the image without it (got {describe(image)})"
            )
    files: tuple[AccessoryFile, ...] = ()
    if section.has("files"):
        files = read_files(section.get("files"), section.child("files"), root)
        _check_mount_points(section, files, directories, volumes)
    route = None
    if section.has("proxy"):
        route = _route(section, ports=((port,) if port else ()) + published)
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
        files=files,
        service=_docker_name(section, "service") if section.has("service") else None,
        network=_docker_name(section, "network") if section.has("network") else None,
        registry=registry,
        proxy=route,
    )


def _route(section: Section, ports: tuple[str, ...]) -> ProxyConfig:
    """Kamal's accessory `proxy`: a route of its own, not merged with the top-level one."""
    path = section.child("proxy")
    value = section.get("proxy")
    if not isinstance(value, Mapping):
        raise DeployConfigError(f"{path}: must be a mapping (got {describe(value)})")
    if ports:
        raise DeployConfigError(
            f"{path}: a proxied accessory publishes no host port, kamal-proxy serves it; remove "
            f"port and options/publish (got {', '.join(ports)})"
        )
    if section.has("network"):
        raise DeployConfigError(
            f"{path}: kamal-proxy reaches containers on fleetform's network only; remove network "
            f"(got {describe(section.get('network'))})"
        )
    return read_route(value, path)


def _tagged_hosts(tags: Sequence[str], path: str, roles: Sequence[RoleConfig]) -> tuple[str, ...]:
    """Kamal's tag placement: every host in servers that carries one of `tags`, in file order."""
    if len(set(tags)) != len(tags):
        raise DeployConfigError(f"{path}: duplicate tag (got {', '.join(tags)})")
    hosts = {
        host: None
        for role in roles
        for host in role.hosts
        if any(tag in role.tags_of(host) for tag in tags)
    }
    if not hosts:
        raise DeployConfigError(
            f"{path}: no host in servers carries this tag, so the accessory would run nowhere "
            f"(got {', '.join(tags) or 'no tags'})"
        )
    return tuple(hosts)


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


def _check_mount_points(
    section: Section,
    files: tuple[AccessoryFile, ...],
    directories: tuple[DirectoryMount, ...],
    volumes: tuple[str, ...],
) -> None:
    """Docker refuses two mounts on one container path; say which entries clash before a deploy."""
    taken = {d.remote: f"directories/{i}" for i, d in enumerate(directories)}
    taken.update({v.split(":")[1]: f"volumes/{i}" for i, v in enumerate(volumes)})
    for index, file in enumerate(files):
        if file.remote in taken:
            raise DeployConfigError(
                f"{section.child('files')}/{index}: {file.remote} is already mounted by "
                f"{section.child(taken[file.remote])}"
            )
