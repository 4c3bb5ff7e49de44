"""`python -m components secrets import [PATH] --stack NAME`: Kamal's secrets into stack secrets.

Without PATH, Kamal's own files are read: `<secrets_path>-common`, then `<secrets_path>` (or
`<secrets_path>.<destination>` for a stack with a destination), later keys winning; secrets_path
comes from the stack's deploy file, default `.kamal/secrets` in the project root.

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

from components.config import load_config
from components.config.project import project_root
from components.day2 import arguments as options
from components.day2.secrets_file import SecretsFileError, parse_secrets_file
from components.day2.stack_access import (
    NAMESPACE,
    ROOT,
    StackAccessError,
    StackReader,
    set_secret,
)

EXIT_PARTLY_SET = 1
# Kamal's default secrets_path, relative to the project root.
KAMAL_SECRETS_PATH = ".kamal/secrets"


def register(commands: Any) -> None:
    """Adds `secrets import` to the CLI's subparsers."""
    secrets = commands.add_parser("secrets", add_help=False, help="import Kamal's secrets file")
    options.add_help(secrets)
    actions = secrets.add_subparsers(dest="action", required=True, parser_class=type(secrets))
    load = actions.add_parser(
        "import", add_help=False, help="set every key of a Kamal secrets file as a stack secret"
    )
    options.add_help(load)
    load.add_argument(
        "path",
        metavar="PATH",
        nargs="?",
        help="a dotenv secrets file; default: Kamal's files under the deploy file's secrets_path",
    )
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


def kamal_secrets_files(base: Path, destination: str | None) -> list[Path]:
    """Kamal's lookup: `<base>-common`, then `<base>` or `<base>.<destination>`; later wins."""
    own = base.with_name(f"{base.name}.{destination}") if destination else base
    return [base.with_name(f"{base.name}-common"), own]


def _default_files(reader: StackReader) -> list[Path]:
    deploy_file = ROOT / (reader.setting("deployFile") or "config/deploy.yml")
    destination = reader.setting("destination")
    base = Path(load_config(deploy_file, destination).secrets_path or KAMAL_SECRETS_PATH)
    if not base.is_absolute():
        base = project_root(deploy_file) / base
    candidates = kamal_secrets_files(base, destination)
    found = [path for path in candidates if path.exists()]
    if not found:
        raise SecretsFileError(
            f"secrets_path: neither {candidates[0]} nor {candidates[1]} exists "
            "(name a file: secrets import PATH)"
        )
    return found


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SecretsFileError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as error:
        raise SecretsFileError(f"{path}: cannot be read ({error})") from None


def _import(arguments: argparse.Namespace) -> int:
    reader = StackReader(arguments.stack)
    if arguments.path:
        # A named file that is missing is named before pulumi is asked anything.
        texts = {Path(arguments.path): _read(Path(arguments.path))}
        reader.settings()  # An unknown stack fails here, before any command of the file runs.
    else:
        reader.settings()
        texts = {path: _read(path) for path in _default_files(reader)}
    paths = list(texts)
    secrets: dict[str, str] = {}
    skipped: set[str] = set()
    for path, text in texts.items():
        parsed = parse_secrets_file(
            text, source=str(path), environ=os.environ, run_command=run_shell
        )
        secrets.update(parsed.secrets)
        skipped |= parsed.extract_sources & set(parsed.values)
    if not secrets:
        raise SecretsFileError(f"{', '.join(map(str, paths))}: defines no secrets")
    for source in sorted(skipped):
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
