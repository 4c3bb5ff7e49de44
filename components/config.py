"""Reads a Kamal 2 style `config/deploy.yml` into frozen, validated dataclasses (no Pulumi here).

Every error is a `DeployConfigError` whose text is `path: problem (got X)`, with `path` written the
way Kamal writes it (`servers/web/hosts/0`, `accessories/redis/port`). Keys fleetform does not know
are rejected; Kamal keys it does not implement yet say so by name; keys that start with `x-` are
ignored anywhere a section or a role/accessory name is expected, so YAML anchors can live there.

Two deliberate departures from Kamal's YAML reading, both to fail loudly instead of guessing:
- unquoted `22:22` is the string "22:22", not the YAML 1.1 base-60 integer 1342;
- a key written twice in the same mapping is an error, not "the last one wins".
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, cast

import yaml
from yaml.constructor import ConstructorError
from yaml.nodes import MappingNode, ScalarNode

from components.errors import DeployConfigError

Arch = Literal["amd64", "arm64"]
ARCHES: tuple[Arch, ...] = ("amd64", "arm64")
Pairs = tuple[tuple[str, str], ...]
Options = tuple[tuple[str, str | None], ...]

ARCH_ALIASES: Mapping[str, Arch] = {
    "amd64": "amd64",
    "x86_64": "amd64",
    "linux/amd64": "amd64",
    "arm64": "arm64",
    "aarch64": "arm64",
    "linux/arm64": "arm64",
}

# Key sets per section. SUPPORTED keys are read; NOT_YET keys are real Kamal 2 keys that fleetform
# refuses by name; KAMAL_1 keys were removed in Kamal 2. Anything else is an unknown key.
TOP_LEVEL_KEYS = frozenset(
    {
        "service", "image", "servers", "primary_role", "builder", "registry", "env",
        "accessories", "ssh", "boot", "volumes", "labels", "retain_containers",
    }
)  # fmt: skip
TOP_LEVEL_NOT_YET = frozenset(
    {
        "proxy", "aliases", "asset_path", "hooks_path", "hooks_output", "secrets_path",
        "error_pages_path", "require_destination", "allow_empty_roles", "deploy_timeout",
        "drain_timeout", "readiness_delay", "run_directory", "minimum_version", "logging",
        "sshkit", "output",
    }
)  # fmt: skip
ROLE_KEYS = frozenset({"hosts", "arch", "cmd", "env", "options", "labels"})
ROLE_NOT_YET = frozenset({"proxy", "logging", "asset_path"})
ACCESSORY_KEYS = frozenset(
    {
        "image", "arch", "host", "hosts", "roles", "port", "cmd", "env", "volumes",
        "directories", "options", "labels",
    }
)  # fmt: skip
ACCESSORY_NOT_YET = frozenset(
    {"service", "registry", "role", "tag", "tags", "files", "network", "proxy"}
)
BUILDER_KEYS = frozenset({"arch", "dockerfile", "context", "args"})
BUILDER_NOT_YET = frozenset(
    {
        "driver", "remote", "local", "cache", "target", "secrets", "ssh", "provenance",
        "sbom", "pack",
    }
)  # fmt: skip
REGISTRY_KEYS = frozenset({"server", "username", "password"})
ENV_KEYS = frozenset({"clear", "secret"})
ENV_NOT_YET = frozenset({"tags"})
SSH_KEYS = frozenset({"user", "port", "keys"})
SSH_NOT_YET = frozenset({"proxy", "proxy_command", "log_level", "keys_only", "key_data", "config"})
BOOT_KEYS = frozenset({"limit", "wait"})
KAMAL_1_KEYS = frozenset({"traefik", "healthcheck", "stop_wait_time", "multiarch"})

# Labels fleetform sets itself on every container (see components.plan).
RESERVED_LABELS = frozenset({"service", "role", "accessory", "destination"})
# Options fleetform derives from the plan; letting the file set them would contradict the plan.
RESERVED_OPTIONS: Mapping[str, str] = {
    "name": "set by fleetform from the service and role",
    "platform": "set by fleetform from arch",
}
MOUNT_OPTIONS = frozenset(
    {
        "ro", "rw", "z", "Z", "cached", "delegated", "consistent", "nocopy", "shared", "slave",
        "private", "rshared", "rslave", "rprivate",
    }
)  # fmt: skip

NAME_PATTERN = re.compile(r"^[a-z0-9_-]+$")
NAME_RULE = "must contain only lowercase letters, digits, '-' and '_'"
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_ENV_RULE = "invalid environment variable name"
_HOST = re.compile(r"^(?:[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?|[0-9A-Fa-f:]*:[0-9A-Fa-f:.]+)$")
_REPOSITORY_PATH = (
    r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*"
)
_APP_IMAGE = re.compile(rf"^{_REPOSITORY_PATH}$")
_IMAGE_REFERENCE = re.compile(
    rf"^(?:[A-Za-z0-9.-]+(?::[0-9]+)?/)?{_REPOSITORY_PATH}"
    r"(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(?:@sha256:[0-9a-f]{64})?$"
)
_REGISTRY_SERVER = re.compile(r"^[A-Za-z0-9.-]+(?::[0-9]+)?(?:/[a-z0-9._-]+)*$")
_OPTION_NAME = re.compile(r"^[a-z0-9][a-z0-9-]*[a-z0-9]$")
_LABEL_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]*$")
_SSH_USER = re.compile(r"^[a-z_][a-z0-9_.-]*$")
_PORT = re.compile(
    r"^(?:(?P<ip>[0-9]{1,3}(?:\.[0-9]{1,3}){3}|\[[0-9A-Fa-f:.]+\]):)?"
    r"(?:(?P<host>[0-9]+):)?(?P<container>[0-9]+)(?P<protocol>/(?:tcp|udp|sctp))?$"
)
_DOCKER_VOLUME_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
PORT_FORMS = "6379, 6379:6379 or 127.0.0.1:6379:6379"


@dataclass(frozen=True)
class EnvConfig:
    """Environment for a container: clear values, and secret *names* resolved at deploy time."""

    clear: Pairs = ()
    """(NAME, value) pairs, in file order; values are not secret and may appear in plans."""
    secret: tuple[str, ...] = ()
    """Names of secrets; their values never pass through the config or the plan."""

    def merged_over(self, base: EnvConfig) -> EnvConfig:
        """Kamal's role env merge: clear values override `base` by name; secret names add up."""
        clear = dict(base.clear)
        clear.update(self.clear)
        secret = (*base.secret, *(name for name in self.secret if name not in base.secret))
        return EnvConfig(clear=tuple(clear.items()), secret=secret)


@dataclass(frozen=True)
class RegistryConfig:
    """Where the app image is pushed and pulled, and the secret that logs in there."""

    server: str
    """Registry host[:port], e.g. `10.203.0.1:5000`; `docker.io` when the file names none."""
    username: str
    password_secret: str
    """Name of the secret that holds the password (Kamal's `password: [NAME]`)."""


@dataclass(frozen=True)
class BuilderConfig:
    """How the app image is built: for which arches, from which Dockerfile and context."""

    arches: tuple[Arch, ...] = ARCHES
    """Arches the builder may build (Kamal's default is both); the plan builds only those needed."""
    dockerfile: str = "Dockerfile"
    context: str = "."
    args: Pairs = ()

    @property
    def single_arch(self) -> Arch | None:
        """The builder's arch when it builds exactly one, which roles without `arch` inherit."""
        return self.arches[0] if len(self.arches) == 1 else None


@dataclass(frozen=True)
class SshConfig:
    """How fleetform reaches every host."""

    user: str = "root"
    port: int = 22
    keys: tuple[str, ...] = ()


@dataclass(frozen=True)
class BootConfig:
    """How many hosts of a role boot at once, and the pause between batches."""

    limit: int | None = None
    """Hosts per batch, when given as a number."""
    limit_percent: int | None = None
    """Hosts per batch as a percentage of a role's hosts (Kamal's `limit: 25%`)."""
    wait: int | None = None
    """Seconds between batches."""

    def limit_for(self, host_count: int) -> int | None:
        """The batch size for a role on `host_count` hosts; a percentage rounds down, minimum 1."""
        if self.limit_percent is not None:
            return max(host_count * self.limit_percent // 100, 1)
        return self.limit


@dataclass(frozen=True)
class RoleConfig:
    """One app role (`servers.<name>`): the app image on these hosts, with this cmd and env."""

    name: str
    hosts: tuple[str, ...]
    arch: Arch | None
    """The declared arch, else the builder's arch when it builds only one, else None."""
    cmd: str | None = None
    env: EnvConfig = field(default_factory=EnvConfig)
    """The role's env merged over the global env, as Kamal does."""
    options: Options = ()
    """Docker long options without `--`, in file order; `None` values are flags."""
    labels: Pairs = ()
    """Global labels merged with the role's own, the role's winning."""
    ports: tuple[str, ...] = ()
    """Normalised `docker -p` specs, taken from the role's `options.publish`."""


@dataclass(frozen=True)
class AccessoryConfig:
    """One accessory (`accessories.<name>`): a service with its own image on its own hosts."""

    name: str
    image: str
    """The full image reference as written, e.g. `redis:7.0`."""
    hosts: tuple[str, ...]
    """Resolved from `host`, `hosts`, or the hosts of `roles` (in role order, without repeats)."""
    arch: Arch | None = None
    port: str | None = None
    """The `port` key, normalised (`6379` becomes `6379:6379`)."""
    cmd: str | None = None
    env: EnvConfig = field(default_factory=EnvConfig)
    volumes: tuple[str, ...] = ()
    directories: Pairs = ()
    """(host dir, container path) as written; the plan resolves relative host dirs."""
    options: Options = ()
    labels: Pairs = ()
    roles: tuple[str, ...] = ()
    """The roles the hosts came from, when placed with `roles`."""
    ports: tuple[str, ...] = ()
    """`port` followed by any `options.publish`, all normalised."""


@dataclass(frozen=True)
class DeployConfig:
    """A whole validated deploy file (with its destination file merged in, if any)."""

    service: str
    image: str
    """The app image repository without registry or tag, e.g. `fleetform/hello`."""
    roles: tuple[RoleConfig, ...]
    primary_role: str
    builder: BuilderConfig
    registry: RegistryConfig | None
    env: EnvConfig
    accessories: tuple[AccessoryConfig, ...]
    ssh: SshConfig
    boot: BootConfig
    volumes: tuple[str, ...]
    """`docker -v` specs for every app role."""
    labels: Pairs
    """Labels for every app role (already merged into each RoleConfig)."""
    retain_containers: int | None
    destination: str | None = None
    """The destination whose file was merged in by load_config, if any."""

    @property
    def app_repository(self) -> str:
        """What hosts pull the app image from: `<registry server>/<image>`."""
        return f"{self.registry.server}/{self.image}" if self.registry else self.image

    def role(self, name: str) -> RoleConfig:
        for role in self.roles:
            if role.name == name:
                return role
        raise KeyError(name)

    def accessory(self, name: str) -> AccessoryConfig:
        for accessory in self.accessories:
            if accessory.name == name:
                return accessory
        raise KeyError(name)


# --- YAML reading --------------------------------------------------------------------------------

_INT = "tag:yaml.org,2002:int"
_FLOAT = "tag:yaml.org,2002:float"


class _DeployFileLoader(yaml.SafeLoader):
    """SafeLoader without YAML 1.1 base-60 numbers, and with duplicate keys as errors."""

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[tuple[str, str]] = set()
        for key_node, _ in node.value:
            if isinstance(key_node, ScalarNode) and key_node.tag != "tag:yaml.org,2002:merge":
                key = (key_node.tag, key_node.value)
                if key in seen:
                    raise ConstructorError(
                        None, None, f"duplicate key '{key_node.value}'", key_node.start_mark
                    )
                seen.add(key)
        return super().construct_mapping(node, deep=deep)


# YAML 1.1 int and float resolvers minus their base-60 forms, so `22:22` stays a string.
_NUMBERS: tuple[tuple[str, re.Pattern[str], str], ...] = (
    (
        _INT,
        re.compile(
            r"^(?:[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+)$"
        ),
        "-+0123456789",
    ),
    (
        _FLOAT,
        re.compile(
            r"^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9_]+(?:[eE][-+][0-9]+)?"
            r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
        ),
        "-+0123456789.",
    ),
)
_DeployFileLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag not in (_INT, _FLOAT)]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
for _tag, _regexp, _first_characters in _NUMBERS:
    for _character in _first_characters:
        _DeployFileLoader.yaml_implicit_resolvers.setdefault(_character, []).append((_tag, _regexp))


def read_yaml_file(path: Path, *, allow_empty: bool = False) -> dict[str, Any]:
    """Reads one deploy file into a mapping; every failure is a DeployConfigError naming it."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DeployConfigError(f"{path}: file not found") from None
    except IsADirectoryError:
        raise DeployConfigError(f"{path}: is a directory, not a deploy file") from None
    except UnicodeDecodeError:
        raise DeployConfigError(f"{path}: is not UTF-8 text") from None
    except OSError as error:
        raise DeployConfigError(f"{path}: cannot be read ({error.strerror})") from None
    return load_yaml_text(text, source=str(path), allow_empty=allow_empty)


def load_yaml_text(text: str, *, source: str, allow_empty: bool = False) -> dict[str, Any]:
    """Parses deploy-file text; `source` names it in errors."""
    erb_at = text.find("<%")
    if erb_at >= 0:
        erb_line = text.count("\n", 0, erb_at) + 1
        raise DeployConfigError(
            f"{source}: ERB templates are not supported by fleetform (got '<%' at line {erb_line})"
        )
    try:
        data = yaml.load(text, Loader=_DeployFileLoader)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = f" at line {mark.line + 1}" if mark is not None else ""
        problem = error.problem or error.context or "cannot be parsed"
        raise DeployConfigError(f"{source}: invalid YAML{line}: {problem}") from None
    except yaml.YAMLError as error:
        raise DeployConfigError(f"{source}: invalid YAML: {error}") from None
    if data is None:
        if allow_empty:
            return {}
        raise DeployConfigError(f"{source}: must be a mapping of settings (got an empty file)")
    if not isinstance(data, dict):
        raise DeployConfigError(f"{source}: must be a mapping of settings (got {describe(data)})")
    return cast(dict[str, Any], data)


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


def load_config(path: str | Path, destination: str | None = None) -> DeployConfig:
    """Reads `path` and, with a destination, `deploy.<destination>.yml` beside it, deep-merged.

    An empty destination file is allowed (a destination with no overrides); an empty base file is
    not.
    """
    raw = read_yaml_file(Path(path))
    if destination is not None:
        if not NAME_PATTERN.match(destination):
            raise DeployConfigError(f"destination: {NAME_RULE} (got {describe(destination)})")
        overrides_path = destination_path(path, destination)
        if not overrides_path.is_file():
            raise DeployConfigError(
                f"{overrides_path}: file not found for destination '{destination}'"
            )
        raw = deep_merge(raw, read_yaml_file(overrides_path, allow_empty=True))
    return parse_config(raw, source=str(path), destination=destination)


# --- value helpers -------------------------------------------------------------------------------


def describe(value: object) -> str:
    """How a YAML value appears after `got` in an error message."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Mapping):
        return "an empty mapping" if not value else "a mapping"
    if isinstance(value, list | tuple):
        return "an empty list" if not value else "a list"
    if isinstance(value, str):
        shown = value if len(value) <= 80 else value[:77] + "..."
        return repr(shown)
    if isinstance(value, int | float):
        return str(value)
    return f"a {type(value).__name__}"


def _at(path: str, key: str | int) -> str:
    return f"{path}/{key}" if path else str(key)


class _Section:
    """One mapping of the file with its path, so every error can name where it is."""

    def __init__(self, value: object, path: str, where: str) -> None:
        if not isinstance(value, Mapping):
            raise DeployConfigError(f"{where}: must be a mapping (got {describe(value)})")
        for key in value:
            if not isinstance(key, str):
                raise DeployConfigError(f"{where}: keys must be strings (got {describe(key)})")
        self.values: Mapping[str, Any] = value
        self.path = path
        self.where = where

    def check_keys(self, supported: frozenset[str], not_yet: frozenset[str] = frozenset()) -> None:
        for key, value in self.values.items():
            if key in supported or key.startswith("x-"):
                continue
            if key in not_yet:
                raise DeployConfigError(
                    f"{_at(self.path, key)}: not supported yet by fleetform (got {describe(value)})"
                )
            if key in KAMAL_1_KEYS:
                raise DeployConfigError(
                    f"{_at(self.path, key)}: Kamal 1 setting, removed in Kamal 2 "
                    f"(got {describe(value)})"
                )
            raise DeployConfigError(f"{self.where}: unknown key '{key}'")

    def has(self, key: str) -> bool:
        return key in self.values

    def get(self, key: str) -> Any:
        return self.values.get(key)

    def child(self, key: str) -> str:
        return _at(self.path, key)

    def require(self, key: str) -> Any:
        if key not in self.values:
            raise DeployConfigError(f"{self.where}: missing required key '{key}'")
        return self.values[key]

    def items(self) -> list[tuple[str, Any]]:
        """Entries that are not `x-` extensions."""
        return [(key, value) for key, value in self.values.items() if not key.startswith("x-")]


def _string(value: object, path: str) -> str:
    if not isinstance(value, str):
        raise DeployConfigError(f"{path}: must be a string (got {describe(value)})")
    if not value.strip():
        raise DeployConfigError(f"{path}: must not be empty (got {describe(value)})")
    return value


def _scalar_text(value: object, path: str) -> str:
    """Env values, labels, args: strings, numbers and booleans become text, as Kamal does."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        text = str(value)
        if "\n" in text or "\r" in text:
            raise DeployConfigError(f"{path}: must be a single line (got {describe(value)})")
        return text
    raise DeployConfigError(f"{path}: must be a string or a number (got {describe(value)})")


def _string_list(value: object, path: str, *, allow_empty: bool = False) -> list[str]:
    if not isinstance(value, list):
        raise DeployConfigError(f"{path}: must be a list (got {describe(value)})")
    if not value and not allow_empty:
        raise DeployConfigError(f"{path}: must not be empty (got an empty list)")
    return [_string(item, _at(path, index)) for index, item in enumerate(value)]


def _integer(value: object, path: str, *, minimum: int, maximum: int | None = None) -> int:
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise DeployConfigError(f"{path}: must be a whole number (got {describe(value)})")
    if value < minimum or (maximum is not None and value > maximum):
        bound = f"between {minimum} and {maximum}" if maximum is not None else f">= {minimum}"
        raise DeployConfigError(f"{path}: must be {bound} (got {value})")
    return value


def _name(value: str, path: str) -> str:
    if not NAME_PATTERN.match(value):
        raise DeployConfigError(f"{path}: {NAME_RULE} (got {describe(value)})")
    return value


def normalise_arch(value: object, path: str) -> Arch:
    """`x86_64`, `aarch64`, `linux/amd64`... to `amd64` or `arm64`."""
    arch = ARCH_ALIASES.get(value) if isinstance(value, str) else None
    if arch is None:
        raise DeployConfigError(f"{path}: must be one of amd64, arm64 (got {describe(value)})")
    return arch


def normalise_port(value: object, path: str) -> str:
    """A `docker -p` spec: `6379` becomes `6379:6379`; an address is kept in front."""
    text = str(value) if isinstance(value, int) and not isinstance(value, bool) else value
    match = _PORT.match(text) if isinstance(text, str) else None
    if match is None:
        raise DeployConfigError(f"{path}: must be a port like {PORT_FORMS} (got {describe(value)})")
    container = match["container"]
    host = match["host"] or container
    for number in (host, container):
        if not 1 <= int(number) <= 65535:
            raise DeployConfigError(f"{path}: ports must be 1-65535 (got {describe(value)})")
    address = match["ip"]
    ipv4 = address and not address.startswith("[")
    if ipv4 and any(int(octet) > 255 for octet in address.split(".")):
        raise DeployConfigError(f"{path}: invalid IPv4 address (got {describe(value)})")
    spec = f"{int(host)}:{int(container)}{match['protocol'] or ''}"
    return f"{address}:{spec}" if address else spec


def normalise_volume(value: object, path: str) -> str:
    """A `docker -v` spec: `host path or volume name:absolute container path[:options]`."""
    spec = _string(value, path)
    parts = spec.split(":")
    source_ok = len(parts) in (2, 3) and (
        parts[0].startswith("/") or bool(_DOCKER_VOLUME_NAME.match(parts[0]))
    )
    if not source_ok or not parts[1].startswith("/"):
        raise DeployConfigError(
            f"{path}: must be host-path-or-volume:/container/path[:options] (got {describe(spec)})"
        )
    if len(parts) == 3:
        unknown = [option for option in parts[2].split(",") if option not in MOUNT_OPTIONS]
        if unknown:
            raise DeployConfigError(
                f"{path}: unknown mount option '{unknown[0]}' (got {describe(spec)})"
            )
    return spec


def _shell_words(value: object, path: str) -> str:
    """A `cmd`: kept as written, but it must split into words the way a shell would."""
    command = _string(value, path)
    try:
        shlex.split(command)
    except ValueError as error:
        raise DeployConfigError(f"{path}: {error} (got {describe(command)})") from None
    return command


def _hosts(value: object, path: str) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise DeployConfigError(f"{path}: must be a list of hosts (got {describe(value)})")
    if not value:
        raise DeployConfigError(f"{path}: must list at least one host (got an empty list)")
    hosts: list[str] = []
    seen: set[str] = set()
    for index, item in enumerate(value):
        item_path = _at(path, index)
        if isinstance(item, Mapping):
            raise DeployConfigError(
                f"{item_path}: host tags are not supported yet by fleetform (got {describe(item)})"
            )
        host = _host(item, item_path)
        if host in seen:
            raise DeployConfigError(f"{item_path}: duplicate host (got {describe(host)})")
        seen.add(host)
        hosts.append(host)
    return tuple(hosts)


def _host(value: object, path: str) -> str:
    host = _string(value, path)
    if not _HOST.match(host):
        raise DeployConfigError(f"{path}: must be a hostname or IP address (got {describe(host)})")
    return host


def _pairs(value: object, path: str, *, key_pattern: re.Pattern[str], rule: str) -> Pairs:
    section = _Section(value, path, path)
    pairs: list[tuple[str, str]] = []
    for key, item in section.values.items():
        if not key_pattern.match(key):
            raise DeployConfigError(f"{path}: {rule} (got {describe(key)})")
        pairs.append((key, _scalar_text(item, _at(path, key))))
    return tuple(pairs)


def _labels(value: object, path: str) -> Pairs:
    labels = _pairs(value, path, key_pattern=_LABEL_KEY, rule="invalid label name")
    for key, label in labels:
        if key in RESERVED_LABELS:
            raise DeployConfigError(
                f"{_at(path, key)}: reserved, fleetform sets it itself (got {describe(label)})"
            )
    return labels


def _env(value: object, path: str) -> EnvConfig:
    section = _Section(value, path, path)
    if not (set(section.values) & (ENV_KEYS | ENV_NOT_YET)):
        return EnvConfig(clear=_pairs(value, path, key_pattern=_ENV_NAME, rule=_ENV_RULE))
    section.check_keys(ENV_KEYS, ENV_NOT_YET)
    clear: Pairs = ()
    if section.has("clear"):
        clear_path = section.child("clear")
        clear = _pairs(section.get("clear"), clear_path, key_pattern=_ENV_NAME, rule=_ENV_RULE)
    secret: list[str] = []
    if section.has("secret"):
        secret_path = section.child("secret")
        for index, name in enumerate(
            _string_list(section.get("secret"), secret_path, allow_empty=True)
        ):
            item_path = _at(secret_path, index)
            if ":" in name:
                raise DeployConfigError(
                    f"{item_path}: secret aliases (NAME:SECRET) are not supported yet by "
                    f"fleetform (got {describe(name)})"
                )
            if not _ENV_NAME.match(name):
                raise DeployConfigError(f"{item_path}: {_ENV_RULE} (got {describe(name)})")
            if name in secret:
                raise DeployConfigError(f"{item_path}: duplicate secret (got {describe(name)})")
            secret.append(name)
    return _checked_env(EnvConfig(clear=clear, secret=tuple(secret)), path)


def _checked_env(env: EnvConfig, path: str) -> EnvConfig:
    both = [name for name, _ in env.clear if name in env.secret]
    if both:
        raise DeployConfigError(f"{path}: {both[0]} is both a clear and a secret variable")
    return env


def _options(value: object, path: str) -> tuple[Options, tuple[str, ...]]:
    """Docker options in file order, with `publish` split out as normalised ports."""
    section = _Section(value, path, path)
    options: list[tuple[str, str | None]] = []
    ports: list[str] = []
    for key, item in section.values.items():
        key_path = _at(path, key)
        if not _OPTION_NAME.match(key):
            raise DeployConfigError(
                f"{path}: option names are docker long options without '--' (got {describe(key)})"
            )
        if key in RESERVED_OPTIONS:
            raise DeployConfigError(f"{key_path}: {RESERVED_OPTIONS[key]} (got {describe(item)})")
        items = item if isinstance(item, list) else [item]
        for index, entry in enumerate(items):
            entry_path = _at(key_path, index) if isinstance(item, list) else key_path
            if key == "publish":
                ports.append(normalise_port(entry, entry_path))
            elif entry is True or entry is None:
                options.append((key, None))
            elif isinstance(entry, bool | Mapping | list):
                raise DeployConfigError(
                    f"{entry_path}: must be a value, or true for a flag (got {describe(entry)})"
                )
            else:
                options.append((key, _scalar_text(entry, entry_path)))
    return tuple(options), tuple(ports)


# --- sections ------------------------------------------------------------------------------------


def _builder(value: object) -> BuilderConfig:
    if value is None:
        return BuilderConfig()
    section = _Section(value, "builder", "builder")
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
        dockerfile = _string(section.get("dockerfile"), "builder/dockerfile")
    context = "."
    if section.has("context"):
        context = _string(section.get("context"), "builder/context")
    args: Pairs = ()
    if section.has("args"):
        args = _pairs(
            section.get("args"),
            "builder/args",
            key_pattern=_ENV_NAME,
            rule="invalid build arg name",
        )
    return BuilderConfig(arches=arches, dockerfile=dockerfile, context=context, args=args)


def _registry(value: object) -> RegistryConfig | None:
    if value is None:
        return None
    section = _Section(value, "registry", "registry")
    section.check_keys(REGISTRY_KEYS)
    server = "docker.io"
    if section.has("server"):
        server = _string(section.get("server"), "registry/server")
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
    if not isinstance(password, str) or not _ENV_NAME.match(password):
        raise DeployConfigError(
            "registry/password: must be the name of a secret, like [KAMAL_REGISTRY_PASSWORD] "
            "(got a value that is not a secret name)"
        )
    return RegistryConfig(
        server=server, username=_string(username, "registry/username"), password_secret=password
    )


def _ssh(value: object) -> SshConfig:
    if value is None:
        return SshConfig()
    section = _Section(value, "ssh", "ssh")
    section.check_keys(SSH_KEYS, SSH_NOT_YET)
    user = "root"
    if section.has("user"):
        user = _string(section.get("user"), "ssh/user")
        if not _SSH_USER.match(user):
            raise DeployConfigError(f"ssh/user: invalid user name (got {describe(user)})")
    port = 22
    if section.has("port"):
        port = _integer(section.get("port"), "ssh/port", minimum=1, maximum=65535)
    keys: tuple[str, ...] = ()
    if section.has("keys"):
        keys = tuple(_string_list(section.get("keys"), "ssh/keys"))
    return SshConfig(user=user, port=port, keys=keys)


def _boot(value: object) -> BootConfig:
    if value is None:
        return BootConfig()
    section = _Section(value, "boot", "boot")
    section.check_keys(BOOT_KEYS)
    limit: int | None = None
    limit_percent: int | None = None
    if section.has("limit"):
        raw_limit = section.get("limit")
        if isinstance(raw_limit, str) and raw_limit.endswith("%"):
            if not raw_limit[:-1].isdigit():
                raise DeployConfigError(
                    f"boot/limit: must be a number of hosts or a percentage like 25% "
                    f"(got {describe(raw_limit)})"
                )
            limit_percent = _integer(int(raw_limit[:-1]), "boot/limit", minimum=1, maximum=100)
        else:
            limit = _integer(raw_limit, "boot/limit", minimum=1)
    wait: int | None = None
    if section.has("wait"):
        wait = _integer(section.get("wait"), "boot/wait", minimum=0)
    return BootConfig(limit=limit, limit_percent=limit_percent, wait=wait)


def _app_image(value: object) -> str:
    image = _string(value, "image")
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


def _servers(
    value: object, *, builder: BuilderConfig, env: EnvConfig, labels: Pairs
) -> tuple[RoleConfig, ...]:
    if isinstance(value, list):
        # Kamal's short form: a plain list of hosts is the `web` role.
        hosts = _hosts(value, "servers")
        return (
            RoleConfig(name="web", hosts=hosts, arch=builder.single_arch, env=env, labels=labels),
        )
    if not isinstance(value, Mapping):
        raise DeployConfigError(
            f"servers: must be a list of hosts or a mapping of roles (got {describe(value)})"
        )
    section = _Section(value, "servers", "servers")
    roles = [
        _role(_name(name, f"servers/{name}"), role, builder=builder, env=env, labels=labels)
        for name, role in section.items()
    ]
    if not roles:
        raise DeployConfigError("servers: must define at least one role (got an empty mapping)")
    return tuple(roles)


def _role(
    name: str, value: object, *, builder: BuilderConfig, env: EnvConfig, labels: Pairs
) -> RoleConfig:
    path = f"servers/{name}"
    if isinstance(value, list):
        return RoleConfig(
            name=name, hosts=_hosts(value, path), arch=builder.single_arch, env=env, labels=labels
        )
    if not isinstance(value, Mapping):
        raise DeployConfigError(
            f"{path}: must be a list of hosts or a mapping (got {describe(value)})"
        )
    section = _Section(value, path, path)
    section.check_keys(ROLE_KEYS, ROLE_NOT_YET)
    hosts = _hosts(section.require("hosts"), section.child("hosts"))
    arch = builder.single_arch
    if section.has("arch"):
        arch = normalise_arch(section.get("arch"), section.child("arch"))
        if arch not in builder.arches:
            built = ", ".join(builder.arches)
            raise DeployConfigError(f"{path}: arch {arch} is not built (builder/arch is {built})")
    role_env = env
    if section.has("env"):
        role_env = _checked_env(
            _env(section.get("env"), section.child("env")).merged_over(env), path
        )
    role_labels = labels
    if section.has("labels"):
        own = _labels(section.get("labels"), section.child("labels"))
        role_labels = tuple({**dict(labels), **dict(own)}.items())
    options: Options = ()
    ports: tuple[str, ...] = ()
    if section.has("options"):
        options, ports = _options(section.get("options"), section.child("options"))
    cmd = _shell_words(section.get("cmd"), section.child("cmd")) if section.has("cmd") else None
    return RoleConfig(
        name=name,
        hosts=hosts,
        arch=arch,
        cmd=cmd,
        env=role_env,
        options=options,
        labels=role_labels,
        ports=ports,
    )


def _accessories(value: object, roles: Sequence[RoleConfig]) -> tuple[AccessoryConfig, ...]:
    if value is None:
        return ()
    section = _Section(value, "accessories", "accessories")
    return tuple(
        _accessory(_name(name, f"accessories/{name}"), accessory, roles)
        for name, accessory in section.items()
    )


def _accessory(name: str, value: object, roles: Sequence[RoleConfig]) -> AccessoryConfig:
    path = f"accessories/{name}"
    section = _Section(value, path, path)
    section.check_keys(ACCESSORY_KEYS, ACCESSORY_NOT_YET)
    image = _string(section.require("image"), section.child("image"))
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
        hosts = (_host(section.get("host"), section.child("host")),)
    elif section.has("hosts"):
        hosts = _hosts(section.get("hosts"), section.child("hosts"))
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
        options, published = _options(section.get("options"), section.child("options"))
    volumes: tuple[str, ...] = ()
    if section.has("volumes"):
        volumes_path = section.child("volumes")
        volumes = tuple(
            normalise_volume(item, _at(volumes_path, index))
            for index, item in enumerate(_list(section.get("volumes"), volumes_path))
        )
    directories: Pairs = ()
    if section.has("directories"):
        directories_path = section.child("directories")
        directories = tuple(
            _directory(item, _at(directories_path, index))
            for index, item in enumerate(_list(section.get("directories"), directories_path))
        )
    return AccessoryConfig(
        name=name,
        image=image,
        hosts=hosts,
        arch=arch,
        port=port,
        cmd=_shell_words(section.get("cmd"), section.child("cmd")) if section.has("cmd") else None,
        env=_env(section.get("env"), section.child("env")) if section.has("env") else EnvConfig(),
        volumes=volumes,
        directories=directories,
        options=options,
        labels=_labels(section.get("labels"), section.child("labels"))
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
    for index, name in enumerate(_string_list(value, path)):
        role = by_name.get(name)
        if role is None:
            known = ", ".join(by_name)
            raise DeployConfigError(
                f"{_at(path, index)}: not a role in servers "
                f"(got {describe(name)}; roles are {known})"
            )
        if name in names:
            raise DeployConfigError(f"{_at(path, index)}: duplicate role (got {describe(name)})")
        names.append(name)
        hosts.update(dict.fromkeys(role.hosts))
    return tuple(names), tuple(hosts)


def _list(value: object, path: str) -> list[Any]:
    if not isinstance(value, list):
        raise DeployConfigError(f"{path}: must be a list (got {describe(value)})")
    return value


def _directory(value: object, path: str) -> tuple[str, str]:
    if isinstance(value, Mapping):
        raise DeployConfigError(
            f"{path}: the mapping form of directories is not supported yet by fleetform "
            f"(got {describe(value)})"
        )
    spec = _string(value, path)
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


def parse_config(
    raw: Mapping[str, Any], *, source: str = "deploy.yml", destination: str | None = None
) -> DeployConfig:
    """Validates an already-read (and destination-merged) deploy file."""
    section = _Section(raw, "", source)
    section.check_keys(TOP_LEVEL_KEYS, TOP_LEVEL_NOT_YET)
    service = _name(_string(section.require("service"), "service"), "service")
    image = _app_image(section.require("image"))
    builder = _builder(section.get("builder"))
    env = _env(section.get("env"), "env") if section.has("env") else EnvConfig()
    labels = _labels(section.get("labels"), "labels") if section.has("labels") else ()
    roles = _servers(section.require("servers"), builder=builder, env=env, labels=labels)
    role_names = [role.name for role in roles]
    primary_role = "web"
    if section.has("primary_role"):
        primary_role = _string(section.get("primary_role"), "primary_role")
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
            for index, item in enumerate(_list(section.get("volumes"), "volumes"))
        )
    retain_containers = None
    if section.has("retain_containers"):
        retain_containers = _integer(
            section.get("retain_containers"), "retain_containers", minimum=1
        )
    return DeployConfig(
        service=service,
        image=image,
        roles=roles,
        primary_role=primary_role,
        builder=builder,
        registry=_registry(section.get("registry")),
        env=env,
        accessories=_accessories(section.get("accessories"), roles),
        ssh=_ssh(section.get("ssh")),
        boot=_boot(section.get("boot")),
        volumes=volumes,
        labels=labels,
        retain_containers=retain_containers,
        destination=destination,
    )
