"""Pinned SSH host keys by (host, port): OpenSSH known_hosts files and the `fleetform:hostKeys` map.

Pure (no Pulumi): `stack_config` reads the stack settings through these functions, and the unit
tests call them directly. known_hosts lines are matched the way OpenSSH matches them: the name is
`host` on port 22 and `[host]:port` on any other port, lowercased; a line's names may be plain,
wildcard (`*`, `?`), negated (`!`) or hashed (`|1|salt|hash`, HMAC-SHA1 of the name keyed with the
salt, as `ssh-keygen -H` writes them). `@cert-authority` lines pin no host key and are skipped;
a key on a `@revoked` line is never returned.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from components.config import describe
from components.errors import DeployConfigError

SETTING = "fleetform:hostKeys"
# Which key to pin when a host has several: ssh accepts any of them, so pin the strongest.
_KEY_TYPE_PREFERENCE = ("ssh-ed25519", "ecdsa-sha2-", "rsa-sha2-", "ssh-rsa")
_HASHED = re.compile(r"^\|1\|([A-Za-z0-9+/=]+)\|([A-Za-z0-9+/=]+)$")


def host_entry_name(host: str, port: int) -> str:
    """The name OpenSSH looks up for a host: `host` on port 22, `[host]:port` otherwise."""
    host = host.lower()
    return host if port == 22 else f"[{host}]:{port}"


def public_key_problem(value: object) -> str | None:
    """Why `value` is not an OpenSSH public key line (`type base64 [comment]`), or None if it is."""
    if not isinstance(value, str):
        return "must be a public key string like 'ssh-ed25519 AAAA...'"
    fields = value.split()
    if len(fields) < 2:
        return "must be 'type base64', like 'ssh-ed25519 AAAA...'"
    key_type, data = fields[0], fields[1]
    try:
        blob = base64.b64decode(data, validate=True)
        (length,) = struct.unpack(">I", blob[:4])
        embedded = blob[4 : 4 + length].decode("ascii")
    except (binascii.Error, struct.error, UnicodeDecodeError):
        return "the key data is not base64 of an SSH public key"
    if embedded != key_type:
        return f"the key data is of type {embedded or 'unknown'}, not {key_type}"
    return None


def _preference(key: str) -> int:
    key_type = key.split()[0]
    for rank, prefix in enumerate(_KEY_TYPE_PREFERENCE):
        if key_type.startswith(prefix):
            return rank
    return len(_KEY_TYPE_PREFERENCE)


def _pattern_matches(pattern: str, name: str) -> bool:
    hashed = _HASHED.match(pattern)
    if hashed is not None:
        try:
            salt = base64.b64decode(hashed[1], validate=True)
            expected = base64.b64decode(hashed[2], validate=True)
        except binascii.Error:
            return False
        actual = hmac.new(salt, name.encode(), hashlib.sha1).digest()
        return hmac.compare_digest(actual, expected)
    if "*" in pattern or "?" in pattern:
        regex = "".join(
            ".*" if char == "*" else "." if char == "?" else re.escape(char) for char in pattern
        )
        return re.fullmatch(regex, name) is not None
    return pattern == name


@dataclass(frozen=True)
class KnownHostsLine:
    """One usable line of a known_hosts file: its host patterns and the key they pin."""

    patterns: tuple[str, ...]
    """Comma-separated names as written (lowercased unless hashed), `!` kept on negations."""
    key: str
    """`type base64`, without the comment."""
    revoked: bool = False

    def matches(self, name: str) -> bool:
        """OpenSSH's rule: no negated pattern matches the name, and some other pattern does."""
        matched = False
        for pattern in self.patterns:
            if pattern.startswith("!"):
                if _pattern_matches(pattern[1:], name):
                    return False
            elif _pattern_matches(pattern, name):
                matched = True
        return matched


@dataclass(frozen=True)
class KnownHosts:
    """The lines of one known_hosts file, in file order."""

    lines: tuple[KnownHostsLine, ...] = ()

    def lookup(self, host: str, port: int = 22) -> str | None:
        """The key pinned for `host` on `port`, the strongest type first; None if there is none."""
        name = host_entry_name(host, port)
        revoked = {line.key for line in self.lines if line.revoked and line.matches(name)}
        candidates = [
            line.key
            for line in self.lines
            if not line.revoked and line.key not in revoked and line.matches(name)
        ]
        return min(candidates, key=_preference) if candidates else None


def parse_known_hosts(text: str) -> KnownHosts:
    """Reads known_hosts text: lines of `[marker] names type key [comment]`, keys as written."""
    lines: list[KnownHostsLine] = []
    for raw in text.splitlines():
        fields = raw.split()
        if not fields or fields[0].startswith("#"):
            continue
        marker = fields.pop(0) if fields[0].startswith("@") else None
        if marker not in (None, "@revoked") or len(fields) < 3:
            continue
        key = f"{fields[1]} {fields[2]}"
        patterns = tuple(
            pattern if _HASHED.match(pattern) else pattern.lower()
            for pattern in fields[0].split(",")
            if pattern
        )
        lines.append(KnownHostsLine(patterns=patterns, key=key, revoked=marker == "@revoked"))
    return KnownHosts(tuple(lines))


def read_known_hosts(path: Path, setting: str = "fleetform:knownHostsFile") -> KnownHosts:
    """Reads a known_hosts file; a missing or unreadable file is a DeployConfigError."""
    try:
        return parse_known_hosts(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DeployConfigError(f"{setting}: no such file (got '{path}')") from None
    except UnicodeDecodeError:
        raise DeployConfigError(f"{setting}: not a known_hosts text file (got '{path}')") from None
    except OSError as error:
        raise DeployConfigError(
            f"{setting}: cannot be read, {error.strerror} (got '{path}')"
        ) from None


def parse_host_keys_setting(text: str | None) -> dict[str, str]:
    """The `fleetform:hostKeys` setting (a JSON object as Pulumi stores it): host to public key.

    Names are `host` (the host on whatever port deploy.yml's ssh/port says) or `[host]:port`.
    """
    if text is None or text == "":
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        value = text
    if not isinstance(value, Mapping):
        raise DeployConfigError(
            f"{SETTING}: must be a map of host to public key like 'ssh-ed25519 AAAA...' "
            f"(got {describe(value)})"
        )
    keys: dict[str, str] = {}
    for host, key in value.items():
        problem = public_key_problem(key)
        if problem is not None:
            raise DeployConfigError(f"{SETTING}/{host}: {problem} (got {describe(key)})")
        fields = key.split()
        keys[str(host).lower()] = f"{fields[0]} {fields[1]}"
    return keys


class HostKeys:
    """Every pinned host key of a stack: its `hostKeys` map over its known_hosts file.

    Looked up by (host, port). `hostKeys` wins: `[host]:port` first, then plain `host`; then the
    known_hosts file with OpenSSH's own rules. `key in host_keys` and `host_keys[key]` accept a
    host (port 22) or a `(host, port)` tuple.
    """

    def __init__(
        self, pinned: Mapping[str, str] | None = None, known_hosts: KnownHosts | None = None
    ) -> None:
        self.pinned = {name.lower(): key for name, key in (pinned or {}).items()}
        self.known_hosts = known_hosts or KnownHosts()

    def lookup(self, host: str, port: int = 22) -> str | None:
        """The pinned key of `host` on `port`, or None."""
        for name in (f"[{host.lower()}]:{port}", host.lower()):
            if name in self.pinned:
                return self.pinned[name]
        return self.known_hosts.lookup(host, port)

    def key_for(self, host: str, port: int = 22) -> str:
        """The pinned key of `host` on `port`; a DeployConfigError naming the host if none is."""
        key = self.lookup(host, port)
        if key is None:
            raise DeployConfigError(
                f"{host_entry_name(host, port)}: no pinned host key "
                f"(set {SETTING} or fleetform:knownHostsFile)"
            )
        return key

    @staticmethod
    def _address(item: object) -> tuple[str, int]:
        if isinstance(item, str):
            return item, 22
        if (
            isinstance(item, tuple)
            and len(item) == 2
            and isinstance(item[0], str)
            and isinstance(item[1], int)
        ):
            return item[0], item[1]
        raise TypeError(f"host keys are looked up by host or (host, port), not {item!r}")

    def __contains__(self, item: object) -> bool:
        return self.lookup(*self._address(item)) is not None

    def __getitem__(self, item: str | tuple[str, int]) -> str:
        key = self.lookup(*self._address(item))
        if key is None:
            raise KeyError(item)
        return key
