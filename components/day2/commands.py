"""The day-2 subcommands of `python -m components`: registration, aliases, and running one.

Exit statuses: 0 done; 1 a host or Pulumi failed (each named on stderr); 2 bad input, such as an
unknown role, accessory or host, a stack that does not exist or was never deployed, or a bad
setting, always as one `error: ...` line; 130 interrupted (Ctrl-C, or SIGTERM).
"""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import FrameType
from typing import Any

from components.config import load_config
from components.day2 import accessory, app, drift, secrets_import
from components.day2.aliases import expand_alias
from components.day2.stack_access import ROOT, StackReader
from components.errors import FleetformError

EXIT_INVALID = 2
EXIT_INTERRUPTED = 130
COMMANDS = ("app", "accessory", "secrets", "drift")


def register(commands: Any) -> None:
    """Adds `app`, `accessory`, `secrets` and `drift` to the CLI's subparsers."""
    app.register(commands)
    accessory.register(commands)
    secrets_import.register(commands)
    drift.register(commands)


def deploy_aliases(argv: Sequence[str]) -> Mapping[str, str]:
    """The aliases of the deploy file an aliased command line would use: its `--stack`'s, else
    config/deploy.yml (or `--config`, `-d`)."""
    scan = argparse.ArgumentParser(add_help=False)
    scan.add_argument("--stack")
    scan.add_argument("--config", "-c")
    scan.add_argument("--destination", "-d")
    known, _ = scan.parse_known_args(list(argv))
    if known.stack:
        reader = StackReader(known.stack)
        path = ROOT / (reader.setting("deployFile") or "config/deploy.yml")
        destination = reader.setting("destination")
    else:
        path = Path(known.config or ROOT / "config" / "deploy.yml")
        destination = known.destination
    return dict(load_config(path, destination).aliases)


def expand(argv: Sequence[str], builtins: Sequence[str]) -> list[str]:
    """`argv` with a leading alias expanded; untouched (and no file read) for a built-in command.

    A word that is no alias either is left for argparse to refuse with the list of commands.
    """
    words = list(argv)
    if not words or words[0] in builtins or words[0].startswith("-"):
        return words
    aliases = deploy_aliases(words[1:])
    if words[0] not in aliases:
        return words
    return expand_alias(words, aliases, builtins)


def _interrupted(signal_number: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def run(arguments: argparse.Namespace) -> int:
    """Runs the parsed day-2 command; its SSH sessions and temporary files end with it."""
    previous = signal.signal(signal.SIGTERM, _interrupted)
    try:
        status: int = arguments.handler(arguments)
        return status
    except FleetformError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_INVALID
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    finally:
        signal.signal(signal.SIGTERM, previous)
