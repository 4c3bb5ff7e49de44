"""Deploy-file text to a mapping: strict YAML, every failure a `DeployConfigError` naming the file.

Two deliberate departures from Kamal's YAML reading, both to fail loudly instead of guessing:
- unquoted `22:22` is the string "22:22", not the YAML 1.1 base-60 integer 1342;
- a key written twice in the same mapping is an error, not "the last one wins".
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, cast

import yaml
from yaml.constructor import ConstructorError
from yaml.nodes import MappingNode, ScalarNode

from components.config.erb import render_erb
from components.config.values import describe
from components.errors import DeployConfigError


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


def read_yaml_file(
    path: Path, *, allow_empty: bool = False, environ: Mapping[str, str] | None = None
) -> dict[str, Any]:
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
    return load_yaml_text(text, source=str(path), allow_empty=allow_empty, environ=environ)


def load_yaml_text(
    text: str, *, source: str, allow_empty: bool = False, environ: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """Parses deploy-file text; `source` names it in errors.

    ERB environment tags are substituted first (components.config.erb), from `environ`, by
    default the process environment.
    """
    text = render_erb(text, source=source, environ=os.environ if environ is None else environ)
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
