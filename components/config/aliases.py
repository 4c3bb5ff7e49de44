"""Kamal aliases: short names for fleetform commands."""

from __future__ import annotations

from collections.abc import Collection, Mapping

import re
import shlex

from components.errors import DeployConfigError

ALIAS_NAME = re.compile(r"^[a-z0-9_-]+$")
"""Kamal's rule for alias names."""
FLEETFORM_COMMANDS = ("plan", "app", "accessory", "secrets", "drift")
"""`python -m components` commands an alias may expand to (and may not be named like)."""


def read_aliases(
    raw: object, commands: Collection[str] = FLEETFORM_COMMANDS, path: str = "aliases"
) -> dict[str, str]:
    """deploy.yml's `aliases:` checked Kamal's way: names of lowercase letters, digits, `-` and
    `_` that are not a built-in command, each mapping to a non-empty command line."""
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise DeployConfigError(f"{path}: must be a map of alias names to command lines")
    aliases: dict[str, str] = {}
    for name, command in raw.items():
        where = f"{path}/{name}"
        if not isinstance(name, str) or not ALIAS_NAME.match(name):
            raise DeployConfigError(
                f"{where}: alias names may only contain lowercase letters, digits, - and _"
            )
        if name in commands:
            raise DeployConfigError(f"{where}: conflicts with the built-in command '{name}'")
        if not isinstance(command, str) or not command.strip():
            raise DeployConfigError(f"{where}: must be a command line like 'app logs -r web'")
        try:
            words = shlex.split(command)
        except ValueError as error:
            raise DeployConfigError(f"{where}: not a valid command line ({error})") from None
        if words[0] not in commands and words[0] not in raw:
            raise DeployConfigError(
                f"{where}: '{words[0]}' is not a command (commands: {', '.join(sorted(commands))})"
            )
        aliases[name] = command
    return aliases
