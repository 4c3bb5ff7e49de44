"""Reads a Kamal 2 style `config/deploy.yml` into frozen, validated dataclasses (no Pulumi here).

Every error is a `DeployConfigError` whose text is `path: problem (got X)`, with `path` written the
way Kamal writes it (`servers/web/hosts/0`, `accessories/redis/port`). Keys fleetform does not know
are rejected; Kamal keys it does not implement yet say so by name; keys that start with `x-` are
ignored anywhere a section or a role/accessory name is expected, so YAML anchors can live there.

One module per concern, imported from here:
- `model`: the dataclasses;
- `yaml_text`: file text to a mapping (strict YAML), after `erb` substitutes `<%= ENV[...] %>`;
- `loading`: top-level keys, destination merge, `load_config` and `parse_config`;
- `values`: validation primitives (paths, strings, numbers, hosts, ports, volumes);
- `container_settings`: env, labels and options, shared by roles and accessories;
- `sections`: image, builder, registry, ssh, boot;
- `servers`, `accessories`: the roles and the accessories;
- `proxy`: the kamal-proxy section, top level and per role.
"""

from __future__ import annotations

from components.config.accessories import ACCESSORY_KEYS, ACCESSORY_NOT_YET
from components.config.container_settings import (
    ENV_KEYS,
    ENV_NOT_YET,
    RESERVED_LABELS,
    LOGGING_KEYS as CONTAINER_LOGGING_KEYS,
    RESERVED_OPTIONS,
)
from components.config.loading import (
    TOP_LEVEL_KEYS,
    TOP_LEVEL_NOT_YET,
    deep_merge,
    destination_path,
    load_config,
    parse_config,
)
from components.config.model import (
    AssetPath,
    ARCHES,
    AccessoryConfig,
    Arch,
    BootConfig,
    BuilderConfig,
    DeployConfig,
    EnvConfig,
    Options,
    KAMAL_DEPLOY_TIMEOUT,
    KAMAL_DRAIN_TIMEOUT,
    KAMAL_READINESS_DELAY,
    Pairs,
    ProxyConfig,
    ProxyRunConfig,
    RegistryConfig,
    RoleConfig,
    SshConfig,
)
from components.config.proxy import (
    BUFFERING_KEYS,
    HEALTHCHECK_KEYS,
    PROXY_KEYS,
    PROXY_NOT_YET,
    RUN_KEYS,
    RUN_NOT_YET,
)
from components.config.proxy import LOGGING_KEYS as PROXY_LOGGING_KEYS
from components.config.boot import BOOT_KEYS
from components.config.builder import BUILDER_KEYS, BUILDER_NOT_YET, BUILDER_VALUES_NOT_YET
from components.config.registry import REGISTRY_KEYS
from components.config.ssh import SSH_KEYS, SSH_NOT_YET
from components.config.servers import ROLE_KEYS, ROLE_NOT_YET
from components.config.values import (
    ARCH_ALIASES,
    KAMAL_1_KEYS,
    MOUNT_OPTIONS,
    NAME_PATTERN,
    NAME_RULE,
    PORT_FORMS,
    describe,
    normalise_arch,
    normalise_port,
    normalise_volume,
)
from components.config.yaml_text import load_yaml_text, read_yaml_file

__all__ = [
    "AssetPath",
    "ACCESSORY_KEYS",
    "ACCESSORY_NOT_YET",
    "ARCHES",
    "ARCH_ALIASES",
    "BOOT_KEYS",
    "BUILDER_KEYS",
    "BUILDER_NOT_YET",
    "BUILDER_VALUES_NOT_YET",
    "ENV_KEYS",
    "CONTAINER_LOGGING_KEYS",
    "PROXY_LOGGING_KEYS",
    "HEALTHCHECK_KEYS",
    "BUFFERING_KEYS",
    "ENV_NOT_YET",
    "KAMAL_1_KEYS",
    "KAMAL_DEPLOY_TIMEOUT",
    "KAMAL_DRAIN_TIMEOUT",
    "KAMAL_READINESS_DELAY",
    "MOUNT_OPTIONS",
    "NAME_PATTERN",
    "NAME_RULE",
    "PORT_FORMS",
    "PROXY_KEYS",
    "PROXY_NOT_YET",
    "REGISTRY_KEYS",
    "RESERVED_LABELS",
    "RESERVED_OPTIONS",
    "ROLE_KEYS",
    "ROLE_NOT_YET",
    "RUN_KEYS",
    "RUN_NOT_YET",
    "SSH_KEYS",
    "SSH_NOT_YET",
    "TOP_LEVEL_KEYS",
    "TOP_LEVEL_NOT_YET",
    "AccessoryConfig",
    "Arch",
    "BootConfig",
    "BuilderConfig",
    "DeployConfig",
    "EnvConfig",
    "Options",
    "Pairs",
    "ProxyConfig",
    "ProxyRunConfig",
    "RegistryConfig",
    "RoleConfig",
    "SshConfig",
    "deep_merge",
    "describe",
    "destination_path",
    "load_config",
    "load_yaml_text",
    "normalise_arch",
    "normalise_port",
    "normalise_volume",
    "parse_config",
    "read_yaml_file",
]
