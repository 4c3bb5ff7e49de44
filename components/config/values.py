"""Validation primitives shared by every section: paths, mappings, strings, numbers, hosts, ports.

Every check raises a `DeployConfigError` whose text is `path: problem (got X)`, with `path` written
the way Kamal writes it (`servers/web/hosts/0`, `accessories/redis/port`).
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from typing import Any

from components.config.model import Arch, HostTags, Pairs
from components.errors import DeployConfigError


ARCH_ALIASES: Mapping[str, Arch] = {
    "amd64": "amd64",
    "x86_64": "amd64",
    "linux/amd64": "amd64",
    "arm64": "arm64",
    "aarch64": "arm64",
    "linux/arm64": "arm64",
}
KAMAL_1_KEYS = frozenset({"traefik", "healthcheck", "stop_wait_time", "multiarch"})
MOUNT_OPTIONS = frozenset(
    {
        "ro", "rw", "z", "Z", "cached", "delegated", "consistent", "nocopy", "shared", "slave",
        "private", "rshared", "rslave", "rprivate",
    }
)  # fmt: skip

NAME_PATTERN = re.compile(r"^[a-z0-9_-]+$")
NAME_RULE = "must contain only lowercase letters, digits, '-' and '_'"
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
ENV_RULE = "invalid environment variable name"
REPOSITORY_PATH = (
    r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*"
)
PORT_FORMS = "6379, 6379:6379 or 127.0.0.1:6379:6379"
_HOST = re.compile(r"^(?:[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?|[0-9A-Fa-f:]*:[0-9A-Fa-f:.]+)$")
_PORT = re.compile(
    r"^(?:(?P<ip>[0-9]{1,3}(?:\.[0-9]{1,3}){3}|\[[0-9A-Fa-f:.]+\]):)?"
    r"(?:(?P<host>[0-9]+):)?(?P<container>[0-9]+)(?P<protocol>/(?:tcp|udp|sctp))?$"
)
_DOCKER_VOLUME_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


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


def child_path(path: str, key: str | int) -> str:
    """`servers/web` and `hosts` give `servers/web/hosts`; the top level has no prefix."""
    return f"{path}/{key}" if path else str(key)


class Section:
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

    def check_keys(
        self, supported: frozenset[str], rejected: Mapping[str, str] | None = None
    ) -> None:
        """Refuses every key that is not `supported`; a `rejected` key's error says why."""
        for key, value in self.values.items():
            if key in supported or key.startswith("x-"):
                continue
            if rejected and key in rejected:
                raise DeployConfigError(
                    f"{child_path(self.path, key)}: not supported by fleetform: {rejected[key]} "
                    f"(got {describe(value)})"
                )
            if key in KAMAL_1_KEYS:
                raise DeployConfigError(
                    f"{child_path(self.path, key)}: Kamal 1 setting, removed in Kamal 2 "
                    f"(got {describe(value)})"
                )
            raise DeployConfigError(f"{self.where}: unknown key '{key}'")

    def has(self, key: str) -> bool:
        return key in self.values

    def get(self, key: str) -> Any:
        return self.values.get(key)

    def child(self, key: str) -> str:
        return child_path(self.path, key)

    def require(self, key: str) -> Any:
        if key not in self.values:
            raise DeployConfigError(f"{self.where}: missing required key '{key}'")
        return self.values[key]

    def items(self) -> list[tuple[str, Any]]:
        """Entries that are not `x-` extensions."""
        return [(key, value) for key, value in self.values.items() if not key.startswith("x-")]


def string_value(value: object, path: str) -> str:
    if not isinstance(value, str):
        raise DeployConfigError(f"{path}: must be a string (got {describe(value)})")
    if not value.strip():
        raise DeployConfigError(f"{path}: must not be empty (got {describe(value)})")
    return value


def scalar_text(value: object, path: str) -> str:
    """Env values, labels, args: strings, numbers and booleans become text, as Kamal does."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        text = str(value)
        if "\n" in text or "\r" in text:
            raise DeployConfigError(f"{path}: must be a single line (got {describe(value)})")
        return text
    raise DeployConfigError(f"{path}: must be a string or a number (got {describe(value)})")


def string_list(value: object, path: str, *, allow_empty: bool = False) -> list[str]:
    if not isinstance(value, list):
        raise DeployConfigError(f"{path}: must be a list (got {describe(value)})")
    if not value and not allow_empty:
        raise DeployConfigError(f"{path}: must not be empty (got an empty list)")
    return [string_value(item, child_path(path, index)) for index, item in enumerate(value)]


def list_value(value: object, path: str) -> list[Any]:
    if not isinstance(value, list):
        raise DeployConfigError(f"{path}: must be a list (got {describe(value)})")
    return value


def is_ascii_number(text: str) -> bool:
    """Only 0-9 make a number: `str.isdigit` also accepts `²` (int() fails) and `٣` (int() is 3)."""
    return text.isascii() and text.isdigit()


def whole_number(value: object, path: str, *, minimum: int, maximum: int | None = None) -> int:
    if isinstance(value, str) and is_ascii_number(value):
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise DeployConfigError(f"{path}: must be a whole number (got {describe(value)})")
    if value < minimum or (maximum is not None and value > maximum):
        bound = f"between {minimum} and {maximum}" if maximum is not None else f">= {minimum}"
        raise DeployConfigError(f"{path}: must be {bound} (got {value})")
    return value


def checked_name(value: str, path: str) -> str:
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
    spec = string_value(value, path)
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


def shell_words(value: object, path: str) -> str:
    """A `cmd`: kept as written, but it must split into words the way a shell would."""
    command = string_value(value, path)
    try:
        shlex.split(command)
    except ValueError as error:
        raise DeployConfigError(f"{path}: {error} (got {describe(command)})") from None
    return command


def host_list(value: object, path: str) -> tuple[str, ...]:
    """Plain hosts (accessories): tags only mean something on app roles' hosts."""
    for index, item in enumerate(value if isinstance(value, list) else ()):
        if isinstance(item, Mapping):
            raise DeployConfigError(
                f"{child_path(path, index)}: host tags only apply to hosts in servers, where "
                f"env/tags gives them env (got {describe(item)})"
            )
    return tagged_host_list(value, path)[0]


def tagged_host_list(
    value: object, path: str, *, allow_empty: bool = False
) -> tuple[tuple[str, ...], HostTags]:
    """Kamal's host entries: `HOST`, `HOST: TAG` or `HOST: [TAG, ...]`; hosts and their tags."""
    if not isinstance(value, list):
        raise DeployConfigError(f"{path}: must be a list of hosts (got {describe(value)})")
    if not value and not allow_empty:
        raise DeployConfigError(f"{path}: must list at least one host (got an empty list)")
    hosts: list[str] = []
    host_tags: list[tuple[str, tuple[str, ...]]] = []
    seen: set[str] = set()
    for index, item in enumerate(value):
        item_path = child_path(path, index)
        entry: object = item
        tags: tuple[str, ...] = ()
        if isinstance(item, Mapping):
            if len(item) != 1:
                raise DeployConfigError(
                    f"{item_path}: must be one HOST: TAG or HOST: [TAGS] entry "
                    f"(got {len(item)} entries)"
                )
            ((entry, raw_tags),) = item.items()
            tags = _host_tags(raw_tags, child_path(item_path, str(entry)))
        host = host_name(entry, item_path)
        if host in seen:
            raise DeployConfigError(f"{item_path}: duplicate host (got {describe(host)})")
        seen.add(host)
        hosts.append(host)
        if tags:
            host_tags.append((host, tags))
    return tuple(hosts), tuple(host_tags)


def _host_tags(value: object, path: str) -> tuple[str, ...]:
    items = value if isinstance(value, list) else [value]
    if not items:
        raise DeployConfigError(f"{path}: must be a tag or a list of tags (got an empty list)")
    tags: list[str] = []
    for index, item in enumerate(items):
        item_path = child_path(path, index) if isinstance(value, list) else path
        if not isinstance(item, str):
            raise DeployConfigError(
                f"{item_path}: must be a tag or a list of tags (got {describe(item)})"
            )
        tag = string_value(item, item_path)
        if tag in tags:
            raise DeployConfigError(f"{item_path}: duplicate tag (got {describe(tag)})")
        tags.append(tag)
    return tuple(tags)


def host_name(value: object, path: str) -> str:
    host = string_value(value, path)
    if not _HOST.match(host):
        raise DeployConfigError(f"{path}: must be a hostname or IP address (got {describe(host)})")
    return host


def name_value_pairs(value: object, path: str, *, key_pattern: re.Pattern[str], rule: str) -> Pairs:
    section = Section(value, path, path)
    pairs: list[tuple[str, str]] = []
    for key, item in section.values.items():
        if not key_pattern.match(key):
            raise DeployConfigError(f"{path}: {rule} (got {describe(key)})")
        pairs.append((key, scalar_text(item, child_path(path, key))))
    return tuple(pairs)
