"""The README's Kamal key table says exactly what the parser does, key by key.

Every key the config package reads must be listed as supported, every key it refuses by name
must be listed as rejected with the same reason the error gives, and the table may list nothing
else: so the table cannot drift from the code in either direction.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from pathlib import Path

from components import config
from components.config import accessory_mounts, builder, container_settings

README = Path(__file__).resolve().parents[2] / "README.md"
_ROW = re.compile(
    r"^\| `(?P<key>[^`]+)` \| (?P<status>supported|rejected|Kamal 1)\b(?P<rest>.*)\|$"
)

# (path prefix in the table, keys read there, keys refused there by name with a reason)
SECTIONS: tuple[tuple[str, frozenset[str], Mapping[str, str]], ...] = (
    ("", config.TOP_LEVEL_KEYS, config.TOP_LEVEL_NOT_YET),
    ("servers/ROLE/", config.ROLE_KEYS, config.ROLE_NOT_YET),
    ("accessories/NAME/", config.ACCESSORY_KEYS, config.ACCESSORY_NOT_YET),
    ("accessories/NAME/files/", accessory_mounts.MOUNT_KEYS, {}),
    ("accessories/NAME/directories/", accessory_mounts.MOUNT_KEYS, {}),
    ("builder/", config.BUILDER_KEYS, config.BUILDER_NOT_YET),
    ("builder/cache/", builder.CACHE_KEYS, {}),
    ("registry/", config.REGISTRY_KEYS, {}),
    ("ssh/", config.SSH_KEYS, config.SSH_NOT_YET),
    ("boot/", config.BOOT_KEYS, {}),
    ("env/", config.ENV_KEYS | {container_settings.ENV_TAGS}, config.ENV_NOT_YET),
    ("logging/", config.CONTAINER_LOGGING_KEYS, {}),
    ("proxy/", config.PROXY_KEYS, config.PROXY_NOT_YET),
    ("proxy/run/", config.RUN_KEYS, config.RUN_NOT_YET),
    ("proxy/healthcheck/", config.HEALTHCHECK_KEYS, {}),
    ("proxy/buffering/", config.BUFFERING_KEYS, {}),
    ("proxy/logging/", config.PROXY_LOGGING_KEYS, {}),
)


def _table() -> Iterator[tuple[str, str, str]]:
    text = README.read_text(encoding="utf-8")
    section = text.split("\n## Kamal keys\n", 1)[1].split("\n## ", 1)[0]
    for line in section.splitlines():
        match = _ROW.match(line)
        if match:
            yield match["key"], match["status"], match["rest"]


def test_every_key_is_listed_once_with_the_parsers_status() -> None:
    rows = list(_table())
    listed = [key for key, _status, _rest in rows]
    assert len(listed) == len(set(listed)), "a key is listed twice"
    by_key = {key: (status, rest) for key, status, rest in rows}
    expected: dict[str, str] = {}
    for prefix, supported, rejected in SECTIONS:
        for key in supported:
            expected[prefix + key] = "supported"
        for key in rejected:
            expected[prefix + key] = "rejected"
    for key in config.KAMAL_1_KEYS:
        expected[key] = "Kamal 1"
    assert {key: status for key, (status, _rest) in by_key.items()} == expected


def test_every_rejected_key_gives_the_errors_reason() -> None:
    by_key = {key: rest for key, status, rest in _table() if status == "rejected"}
    for prefix, _supported, rejected in SECTIONS:
        for key, reason in rejected.items():
            assert reason in by_key[prefix + key], f"{prefix}{key}: README lacks {reason!r}"
