"""The whole deploy file: top-level keys, destination files merged Kamal's way, the parsed model."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from components.config.accessories import read_accessories
from components.config.project import project_root
from components.config.container_settings import (
    read_env,
    read_env_tags,
    read_labels,
    read_logging,
)
from components.config.assets import read_asset_path
from components.config.model import DeployConfig, EnvConfig
from components.config.proxy import read_top_proxy
from components.config.aliases import read_aliases
from components.config.boot import read_boot
from components.config.hooks import read_hooks
from components.config.builder import read_app_image, read_builder
from components.config.registry import read_registry
from components.config.ssh import read_ssh
from components.config.servers import read_servers
from components.config.values import (
    NAME_PATTERN,
    NAME_RULE,
    Section,
    checked_name,
    describe,
    is_ascii_number,
    list_value,
    normalise_volume,
    scalar_text,
    string_value,
    whole_number,
)
from components.config.yaml_text import read_yaml_file
from components.errors import DeployConfigError
from components.version import VERSION


# Key sets, here and in every section module: KEYS are read; NOT_YET keys are real Kamal 2 keys
# that fleetform refuses by name; KAMAL_1_KEYS were removed in Kamal 2. Anything else is unknown.
TOP_LEVEL_KEYS = frozenset(
    {
        "service", "image", "servers", "primary_role", "builder", "registry", "env",
        "accessories", "ssh", "boot", "volumes", "labels", "retain_containers", "proxy",
        "deploy_timeout", "drain_timeout", "readiness_delay", "aliases",
        "require_destination", "minimum_version", "logging", "allow_empty_roles",
        "error_pages_path", "hooks_path", "hooks_output", "secrets_path", "asset_path",
    }
)  # fmt: skip

TOP_LEVEL_NOT_YET: Mapping[str, str] = {
    "run_directory": "fleetform keeps its host files under ~/.fleetform/<stack>, one per stack",
    "sshkit": "fleetform does not use SSHKit: each remote command is one pulumi-command session",
    "output": "output loggers (OTel, file) are not built; `pulumi up --json` and the engine's "
    "event log carry the deploy's output",
    "rollout": "traffic-split rollouts are not built",
}


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Kamal's destination merge: mappings merge key by key; lists and scalars replace."""
    merged = dict(base)
    for key, value in override.items():
        current = merged.get(key)
        if isinstance(current, Mapping) and isinstance(value, Mapping):
            merged[key] = deep_merge(current, value)
        else:
            merged[key] = value
    return merged


def destination_path(path: str | Path, destination: str) -> Path:
    """`config/deploy.yml` with destination `staging` is `config/deploy.staging.yml`."""
    base = Path(path)
    return base.with_name(f"{base.stem}.{destination}{base.suffix}")


def load_config(
    path: str | Path, destination: str | None = None, environ: Mapping[str, str] | None = None
) -> DeployConfig:
    """Reads `path` and, with a destination, `deploy.<destination>.yml` beside it, deep-merged.

    An empty destination file is allowed (a destination with no overrides); an empty base file is
    not. ERB environment tags in either take their values from `environ` (default: the process
    environment).
    """
    raw = read_yaml_file(Path(path), environ=environ)
    if destination is not None:
        if not NAME_PATTERN.match(destination):
            raise DeployConfigError(f"destination: {NAME_RULE} (got {describe(destination)})")
        overrides_path = destination_path(path, destination)
        if not overrides_path.is_file():
            raise DeployConfigError(
                f"{overrides_path}: file not found for destination '{destination}'"
            )
        raw = deep_merge(raw, read_yaml_file(overrides_path, allow_empty=True, environ=environ))
    return parse_config(raw, source=str(path), destination=destination)


def _version_numbers(text: str, path: str) -> tuple[int, ...]:
    parts = text.split(".")
    if not 1 <= len(parts) <= 3 or not all(is_ascii_number(part) for part in parts):
        raise DeployConfigError(f"{path}: must be a version like 1.2.0 (got {describe(text)})")
    return tuple(int(part) for part in parts) + (0,) * (3 - len(parts))


def _check_minimum_version(section: Section) -> None:
    """Kamal's `minimum_version`, against fleetform's own version (the tool doing the deploy)."""
    if not section.has("minimum_version"):
        return
    wanted = scalar_text(section.get("minimum_version"), "minimum_version")
    if _version_numbers(wanted, "minimum_version") > _version_numbers(VERSION, "VERSION"):
        raise DeployConfigError(
            f"minimum_version: this deploy file needs fleetform {wanted} or newer "
            f"(this is {VERSION})"
        )


def parse_config(
    raw: Mapping[str, Any], *, source: str = "deploy.yml", destination: str | None = None
) -> DeployConfig:
    """Validates an already-read (and destination-merged) deploy file."""
    section = Section(raw, "", source)
    section.check_keys(TOP_LEVEL_KEYS, TOP_LEVEL_NOT_YET)
    _check_minimum_version(section)
    if section.has("require_destination"):
        required = section.get("require_destination")
        if not isinstance(required, bool):
            raise DeployConfigError(
                f"require_destination: must be true or false (got {describe(required)})"
            )
        if required and destination is None:
            raise DeployConfigError(
                "require_destination: this deploy file is only deployed to a destination "
                "(set fleetform:destination, or -d for plan)"
            )
    service = checked_name(string_value(section.require("service"), "service"), "service")
    image = read_app_image(section.require("image"))
    builder = read_builder(section.get("builder"))
    env = EnvConfig()
    if section.has("env"):
        env = read_env(section.get("env"), "env", tags_allowed=True)
    env_tags = read_env_tags(section.get("env"), "env")
    allow_empty_roles = (
        section.get("allow_empty_roles") if section.has("allow_empty_roles") else False
    )
    if not isinstance(allow_empty_roles, bool):
        raise DeployConfigError(
            f"allow_empty_roles: must be true or false (got {describe(allow_empty_roles)})"
        )
    labels = read_labels(section.get("labels"), "labels") if section.has("labels") else ()
    primary_role = "web"
    if section.has("primary_role"):
        primary_role = string_value(section.get("primary_role"), "primary_role")
    route, proxy_run = read_top_proxy(section.get("proxy"))
    asset_path = None
    if section.has("asset_path"):
        asset_path = read_asset_path(section.get("asset_path"), "asset_path")
    roles = read_servers(
        section.require("servers"),
        builder=builder,
        env=env,
        labels=labels,
        proxy=route,
        primary_role=primary_role,
        logging=read_logging(section.get("logging"), "logging") if section.has("logging") else None,
        env_tags=env_tags,
        allow_empty_roles=allow_empty_roles,
        asset_path=asset_path,
    )
    if asset_path is not None and not any(role.proxy is not None for role in roles):
        raise DeployConfigError(
            f"asset_path: only proxied roles bridge assets, and no role is behind kamal-proxy "
            f"(got {describe(asset_path.spec)})"
        )
    role_names = [role.name for role in roles]
    if primary_role not in role_names:
        default = "" if section.has("primary_role") else ", the default"
        raise DeployConfigError(
            f"primary_role: must name a role in servers "
            f"(got {describe(primary_role)}{default}; roles are {', '.join(role_names)})"
        )
    volumes: tuple[str, ...] = ()
    if section.has("volumes"):
        volumes = tuple(
            normalise_volume(item, f"volumes/{index}")
            for index, item in enumerate(list_value(section.get("volumes"), "volumes"))
        )
    retain_containers = None
    if section.has("retain_containers"):
        retain_containers = whole_number(
            section.get("retain_containers"), "retain_containers", minimum=1
        )
    timeouts = {
        key: whole_number(section.get(key), key, minimum=0 if key == "readiness_delay" else 1)
        if section.has(key)
        else None
        for key in ("deploy_timeout", "drain_timeout", "readiness_delay")
    }
    return DeployConfig(
        service=service,
        image=image,
        roles=roles,
        primary_role=primary_role,
        builder=builder,
        registry=read_registry(section.get("registry")),
        env=env,
        accessories=read_accessories(section.get("accessories"), roles, project_root(source)),
        ssh=read_ssh(section.get("ssh")),
        boot=read_boot(section.get("boot")),
        volumes=volumes,
        labels=labels,
        retain_containers=retain_containers,
        destination=destination,
        proxy_run=proxy_run,
        deploy_timeout=timeouts["deploy_timeout"],
        drain_timeout=timeouts["drain_timeout"],
        readiness_delay=timeouts["readiness_delay"],
        aliases=tuple(read_aliases(section.get("aliases")).items()),
        env_tags=env_tags,
        allow_empty_roles=allow_empty_roles,
        secrets_path=(
            string_value(section.get("secrets_path"), "secrets_path")
            if section.has("secrets_path")
            else None
        ),
        error_pages_path=(
            _error_pages_path(section.get("error_pages_path"))
            if section.has("error_pages_path")
            else None
        ),
        hooks=read_hooks(
            section.get("hooks_path"),
            section.get("hooks_output"),
            has_path=section.has("hooks_path"),
            has_output=section.has("hooks_output"),
        )
        if section.has("hooks_path") or section.has("hooks_output")
        else None,
    )


def _error_pages_path(value: object) -> str:
    """A directory, relative to the project root (Kamal's app root); read when deploying."""
    return string_value(value, "error_pages_path")
