"""Kamal's `aliases:`: a name for a command line of subcommands, `python -m components NAME ...`.

`console: app exec --interactive --reuse "bin/rails console"` makes `python -m components console
--stack dev` run `app exec --interactive --reuse "bin/rails console" --stack dev`: the alias's
words (split like a shell would), then whatever followed the alias, as Kamal does. Pure: the
aliases come in as a mapping (deploy.yml's `aliases:` once the config exposes it).
"""

from __future__ import annotations

import shlex
from collections.abc import Collection, Mapping, Sequence

from components.config.aliases import read_aliases
from components.errors import FleetformError


class AliasError(FleetformError):
    """A command line that names neither a command nor an alias, or aliases that loop."""


def validate_aliases(
    raw: object, commands: Collection[str], path: str = "aliases"
) -> dict[str, str]:
    """deploy.yml's `aliases:` checked Kamal's way (the config's own reader)."""
    return read_aliases(raw, commands, path)


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
