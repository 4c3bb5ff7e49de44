"""Kamal's `aliases:`: a name for a command line of subcommands, `python -m components NAME ...`.

`console: app exec --interactive --reuse "bin/rails console"` makes `python -m components console
--stack dev` run `app exec --interactive --reuse "bin/rails console" --stack dev`: the alias's
words (split like a shell would), then whatever followed the alias, as Kamal does. Pure: the
aliases come in as a mapping (deploy.yml's `aliases:` once the config exposes it).
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Collection, Mapping, Sequence

from components.errors import DeployConfigError, FleetformError

NAME_PATTERN = re.compile(r"^[a-z0-9_-]+$")
"""Kamal's rule for alias names."""


class AliasError(FleetformError):
    """A command line that names neither a command nor an alias, or aliases that loop."""


def validate_aliases(
    raw: object, commands: Collection[str], path: str = "aliases"
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
        if not isinstance(name, str) or not NAME_PATTERN.match(name):
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


def expand_alias(
    argv: Sequence[str], aliases: Mapping[str, str], commands: Collection[str]
) -> list[str]:
    """`argv` with a leading alias replaced by its command line (aliases of aliases too).

    A command line that starts with a built-in command or an option is returned as it is.
    """
    words = list(argv)
    seen: list[str] = []
    while words and words[0] not in commands and not words[0].startswith("-"):
        name = words[0]
        if name not in aliases:
            known = f"; aliases: {', '.join(sorted(aliases))}" if aliases else ""
            raise AliasError(
                f"'{name}': not a command or an alias (commands: {', '.join(sorted(commands))}"
                f"{known})"
            )
        if name in seen:
            raise AliasError(f"aliases/{seen[0]}: expands to itself ({' -> '.join([*seen, name])})")
        seen.append(name)
        words = [*shlex.split(aliases[name]), *words[1:]]
    return words
