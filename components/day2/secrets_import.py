"""`python -m components secrets import PATH --stack NAME`: Kamal's secrets file into stack secrets.

Each key becomes the stack's secret `fleetform:KEY` through `pulumi config set --secret`, its
value on stdin. Values never reach an argv, stdout or stderr: only key names are printed.
Everything is read (and every command run) before anything is set, so a bad line sets nothing.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from components.day2 import arguments as options
from components.day2.secrets_file import SecretsFileError, parse_secrets_file
from components.day2.stack_access import NAMESPACE, StackAccessError, StackReader, set_secret

EXIT_PARTLY_SET = 1


def register(commands: Any) -> None:
    """Adds `secrets import` to the CLI's subparsers."""
    secrets = commands.add_parser("secrets", add_help=False, help="import Kamal's secrets file")
    options.add_help(secrets)
    actions = secrets.add_subparsers(dest="action", required=True, parser_class=type(secrets))
    load = actions.add_parser(
        "import", add_help=False, help="set every key of a Kamal secrets file as a stack secret"
    )
    options.add_help(load)
    load.add_argument("path", metavar="PATH", help="the dotenv secrets file, e.g. .kamal/secrets")
    options.add_stack(load)
    load.add_argument(
        "--dry-run", action="store_true", help="read the file and name the keys, set nothing"
    )
    load.set_defaults(handler=_import)


def run_shell(command: str, extra: Mapping[str, str]) -> tuple[int, str]:
    """`sh -c COMMAND` here, with `extra` in its environment; its stderr is the user's."""
    try:
        done = subprocess.run(
            ["sh", "-c", command],
            env={**os.environ, **extra},
            stdout=subprocess.PIPE,
            text=True,
            check=False,
        )
    except OSError as error:
        raise SecretsFileError(f"sh: cannot run ({error.strerror})") from None
    return done.returncode, done.stdout


def _import(arguments: argparse.Namespace) -> int:
    path = Path(arguments.path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SecretsFileError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as error:
        raise SecretsFileError(f"{path}: cannot be read ({error})") from None
    reader = StackReader(arguments.stack)
    reader.settings()  # An unknown stack fails here, before any command of the file runs.
    parsed = parse_secrets_file(text, source=str(path), environ=os.environ, run_command=run_shell)
    secrets = parsed.secrets
    if not secrets:
        raise SecretsFileError(f"{path}: defines no secrets")
    for source in sorted(parsed.extract_sources & set(parsed.values)):
        print(f"skipped {source}: only the source of kamal secrets extract")
    if arguments.dry_run:
        for key in secrets:
            print(f"would set {NAMESPACE}:{key} (secret) on stack {reader.stack}")
        return 0
    done: list[str] = []
    for key, value in secrets.items():
        try:
            set_secret(reader.stack, key, value)
        except StackAccessError as error:
            print(f"error: {error}", file=sys.stderr)
            if done:
                print(f"already set: {', '.join(done)}", file=sys.stderr)
            return EXIT_PARTLY_SET
        done.append(key)
        print(f"set {NAMESPACE}:{key} (secret)", flush=True)
    print(f"{len(done)} secret{'s' if len(done) != 1 else ''} set on stack {reader.stack}")
    return 0
