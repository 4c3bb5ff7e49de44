"""Committed stack settings versus the machine-local stack files Pulumi writes secrets into.

`pulumi stack init` and `pulumi config set --secret` write an `encryptionsalt` and `secure:` values
into `stacks/Pulumi.<stack>.yaml`; they belong to one machine and one passphrase, so those files
are not committed (.gitignore). What is committed is `stacks/settings/<stack>.yaml`: the plain
settings of the local-fleet stacks. `python -m components.stack_files STACK` (run by scripts/stack)
copies them into the stack file, keeping its salt, secrets and anything else set on this machine.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from components.errors import DeployConfigError

ROOT = Path(__file__).resolve().parent.parent
HEADER = (
    "# Machine-local (not committed): Pulumi keeps this stack's encryptionsalt and secrets here.\n"
    "# scripts/stack copies the committed settings from stacks/settings/{stack}.yaml into it.\n"
)
_NEVER_COMMITTED = ("encryptionsalt", "secretsprovider", "encryptedkey")
_STACK_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def _mapping(text: str, source: str) -> dict[str, Any]:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise DeployConfigError(f"{source}: invalid YAML ({error})") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise DeployConfigError(f"{source}: must be a mapping (got a {type(data).__name__})")
    return data


def committed_settings(text: str, source: str) -> dict[str, Any]:
    """The `config:` of a committed settings file, which must hold no secret of any machine."""
    data = _mapping(text, source)
    for key in _NEVER_COMMITTED:
        if key in data:
            raise DeployConfigError(f"{source}/{key}: machine-specific, never committed")
    config = data.get("config") or {}
    if not isinstance(config, dict):
        raise DeployConfigError(f"{source}/config: must be a mapping of settings")
    for key, value in config.items():
        if isinstance(value, dict) and "secure" in value:
            raise DeployConfigError(
                f"{source}/config/{key}: a secure value is encrypted for one machine's passphrase; "
                f"scripts/stack or `pulumi config set --secret` sets it on each machine"
            )
    return config


def merge_stack_file(committed: Mapping[str, Any], stack_file_text: str, source: str) -> str:
    """The stack file with the committed settings laid over its `config:`; the rest is kept."""
    data = _mapping(stack_file_text, source)
    config = data.get("config") or {}
    if not isinstance(config, dict):
        raise DeployConfigError(f"{source}/config: must be a mapping of settings")
    merged = {**data, "config": {**config, **committed}}
    return yaml.safe_dump(merged, sort_keys=False, default_flow_style=False)


def sync_stack_file(stack: str, root: Path = ROOT) -> bool:
    """Writes stacks/Pulumi.<stack>.yaml from stacks/settings/<stack>.yaml; True if it changed.

    A stack without committed settings is left alone.
    """
    if not _STACK_NAME.match(stack):
        raise DeployConfigError(f"stack: not a stack name (got {stack!r})")
    settings = root / "stacks" / "settings" / f"{stack}.yaml"
    if not settings.is_file():
        return False
    committed = committed_settings(settings.read_text(), f"stacks/settings/{stack}.yaml")
    stack_file = root / "stacks" / f"Pulumi.{stack}.yaml"
    before = stack_file.read_text() if stack_file.is_file() else ""
    after = HEADER.format(stack=stack) + merge_stack_file(
        committed, before, f"stacks/Pulumi.{stack}.yaml"
    )
    if after == before:
        return False
    stack_file.write_text(after)
    return True


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 1:
        print("usage: python -m components.stack_files STACK", file=sys.stderr)
        return 2
    try:
        sync_stack_file(args[0])
    except DeployConfigError as error:
        print(f"scripts/stack: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
