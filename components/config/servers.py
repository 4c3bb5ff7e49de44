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
    Logging,
    Options,
    Pairs,
    RoleConfig,
)
from components.config.proxy import role_proxy
from components.config.values import (
    Section,
    checked_name,
    describe,
    host_list,
    normalise_arch,
    shell_words,
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
    asset_path: AssetPath | None = None,
) -> tuple[RoleConfig, ...]:
    """The roles; `proxy` is the top-level route section every proxied role starts from.

    `asset_path` (top level) reaches proxied roles only, as in Kamal: only they are switched
    between versions while the previous one still serves.
    """
    top = proxy or {}
    if isinstance(value, list):
        # Kamal's short form: a plain list of hosts is the `web` role.
        hosts = host_list(value, "servers")
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
    asset_path: AssetPath | None,
) -> RoleConfig:
    path = f"servers/{name}"
    if isinstance(value, list):
        short_route = role_proxy(None, f"{path}/proxy", top=top, primary=primary, publishes=False)
        return RoleConfig(
            name=name,
            hosts=host_list(value, path),
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
    hosts = host_list(section.require("hosts"), section.child("hosts"))
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
        asset_path=asset_path,
    )
