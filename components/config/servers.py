"""`servers`: the app roles, each with its hosts, arch, cmd, env, labels and options."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from components.config.assets import read_asset_path
from components.config.container_settings import (
    checked_env,
    logging_options,
    read_env,
    read_labels,
    read_logging,
    read_options,
)
from components.config.model import (
    AssetPath,
    BuilderConfig,
    EnvConfig,
    EnvTags,
    HostTags,
    Logging,
    Options,
    Pairs,
    RoleConfig,
    tagged_env,
)
from components.config.proxy import role_proxy
from components.config.values import (
    Section,
    checked_name,
    child_path,
    describe,
    normalise_arch,
    shell_words,
    tagged_host_list,
)
from components.errors import DeployConfigError


ROLE_KEYS = frozenset(
    {"hosts", "arch", "cmd", "env", "options", "labels", "proxy", "logging", "asset_path"}
)
ROLE_NOT_YET: Mapping[str, str] = {}


def read_servers(
    value: object,
    *,
    builder: BuilderConfig,
    env: EnvConfig,
    labels: Pairs,
    proxy: Mapping[str, Any] | None = None,
    primary_role: str = "web",
    logging: Logging | None = None,
    env_tags: EnvTags = (),
    allow_empty_roles: bool = False,
    asset_path: AssetPath | None = None,
) -> tuple[RoleConfig, ...]:
    """The roles; `proxy` is the top-level route section every proxied role starts from.

    `asset_path` (top level) reaches proxied roles only, as in Kamal: only they are switched
    between versions while the previous one still serves.
    """
    top = proxy or {}
    if isinstance(value, list):
        # Kamal's short form: a plain list of hosts is the `web` role.
        hosts, host_tags = _role_hosts(
            value, "servers", primary=primary_role == "web", allow_empty=allow_empty_roles
        )
        _check_tagged_env(env, hosts, host_tags, env_tags, "servers")
        route = role_proxy(
            None, "servers/web/proxy", top=top, primary=primary_role == "web", publishes=False
        )
        return (
            RoleConfig(
                name="web",
                hosts=hosts,
                arch=builder.single_arch,
                env=env,
                labels=labels,
                options=logging_options(logging or Logging()),
                proxy=route,
                host_tags=host_tags,
                asset_path=asset_path if route is not None else None,
            ),
        )
    if not isinstance(value, Mapping):
        raise DeployConfigError(
            f"servers: must be a list of hosts or a mapping of roles (got {describe(value)})"
        )
    section = Section(value, "servers", "servers")
    roles = [
        _role(
            checked_name(name, f"servers/{name}"),
            role,
            builder=builder,
            env=env,
            labels=labels,
            top=top,
            primary=name == primary_role,
            logging=logging or Logging(),
            env_tags=env_tags,
            allow_empty=allow_empty_roles,
            asset_path=asset_path,
        )
        for name, role in section.items()
    ]
    if not roles:
        raise DeployConfigError("servers: must define at least one role (got an empty mapping)")
    return tuple(roles)


def _role(
    name: str,
    value: object,
    *,
    builder: BuilderConfig,
    env: EnvConfig,
    labels: Pairs,
    top: Mapping[str, Any],
    primary: bool,
    logging: Logging,
    env_tags: EnvTags,
    allow_empty: bool,
    asset_path: AssetPath | None,
) -> RoleConfig:
    path = f"servers/{name}"
    if isinstance(value, list):
        hosts, host_tags = _role_hosts(value, path, primary=primary, allow_empty=allow_empty)
        _check_tagged_env(env, hosts, host_tags, env_tags, path)
        short_route = role_proxy(None, f"{path}/proxy", top=top, primary=primary, publishes=False)
        return RoleConfig(
            name=name,
            hosts=hosts,
            host_tags=host_tags,
            arch=builder.single_arch,
            env=env,
            labels=labels,
            options=logging_options(logging),
            proxy=short_route,
            asset_path=asset_path if short_route is not None else None,
        )
    if not isinstance(value, Mapping):
        raise DeployConfigError(
            f"{path}: must be a list of hosts or a mapping (got {describe(value)})"
        )
    section = Section(value, path, path)
    section.check_keys(ROLE_KEYS, ROLE_NOT_YET)
    # A role without `hosts` is an empty role, which only allow_empty_roles permits.
    if not section.has("hosts") and (primary or not allow_empty):
        section.require("hosts")
    hosts, host_tags = _role_hosts(
        section.get("hosts") if section.has("hosts") else [],
        section.child("hosts"),
        primary=primary,
        allow_empty=allow_empty,
    )
    arch = builder.single_arch
    if section.has("arch"):
        arch = normalise_arch(section.get("arch"), section.child("arch"))
        if arch not in builder.arches:
            built = ", ".join(builder.arches)
            raise DeployConfigError(f"{path}: arch {arch} is not built (builder/arch is {built})")
    role_env = env
    if section.has("env"):
        role_env = checked_env(
            read_env(section.get("env"), section.child("env")).merged_over(env), path
        )
    _check_tagged_env(role_env, hosts, host_tags, env_tags, section.child("hosts"))
    role_labels = labels
    if section.has("labels"):
        own = read_labels(section.get("labels"), section.child("labels"))
        role_labels = tuple({**dict(labels), **dict(own)}.items())
    options: Options = ()
    ports: tuple[str, ...] = ()
    if section.has("options"):
        options, ports = read_options(section.get("options"), section.child("options"))
    if section.has("logging"):
        logging = read_logging(section.get("logging"), section.child("logging"), over=logging)
    options = (*options, *logging_options(logging))
    cmd = shell_words(section.get("cmd"), section.child("cmd")) if section.has("cmd") else None
    route = role_proxy(
        section.get("proxy"),
        section.child("proxy"),
        top=top,
        primary=primary,
        publishes=bool(ports),
    )
    if section.has("asset_path"):
        asset_path = read_asset_path(section.get("asset_path"), section.child("asset_path"))
        if route is None:
            # Kamal skips it silently there; fleetform says so instead of ignoring the key.
            raise DeployConfigError(
                f"{section.child('asset_path')}: only a proxied role bridges assets, and "
                f"{path} is not behind kamal-proxy (got {describe(asset_path.spec)})"
            )
    elif route is None:
        asset_path = None
    return RoleConfig(
        name=name,
        hosts=hosts,
        arch=arch,
        cmd=cmd,
        env=role_env,
        options=options,
        labels=role_labels,
        ports=ports,
        proxy=route,
        host_tags=host_tags,
        asset_path=asset_path,
    )


def _role_hosts(
    value: object, path: str, *, primary: bool, allow_empty: bool
) -> tuple[tuple[str, ...], HostTags]:
    """A role's hosts and tags. As in Kamal, an empty role needs allow_empty_roles, and the
    primary role is never empty (its first batch is what the other roles boot after)."""
    if value == [] and primary and allow_empty:
        raise DeployConfigError(
            f"{path}: the primary role must list at least one host, even with allow_empty_roles "
            f"(got an empty list)"
        )
    if value == [] and not primary and not allow_empty:
        raise DeployConfigError(
            f"{path}: must list at least one host, or set allow_empty_roles: true "
            f"(got an empty list)"
        )
    return tagged_host_list(value, path, allow_empty=allow_empty)


def _check_tagged_env(
    env: EnvConfig, hosts: tuple[str, ...], host_tags: HostTags, env_tags: EnvTags, path: str
) -> None:
    """A tag may not make a variable both clear and secret on a host: say which host."""
    tags_of = dict(host_tags)
    for index, host in enumerate(hosts):
        if host in tags_of:
            checked_env(tagged_env(env, tags_of[host], env_tags), child_path(path, index))
