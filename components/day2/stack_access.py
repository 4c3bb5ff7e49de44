"""A deployed stack as the day-2 commands see it: its outputs and settings, through the Pulumi CLI.

Every `pulumi` call runs in the environment scripts/env.sh fixes (backend, toolchain, offline
defaults; the caller's own values win, as everywhere) with the stack's secrets passphrase chosen
by env.sh's `fleetform_stack_passphrase`, exactly as scripts/stack runs Pulumi. So
`python -m components app logs --stack dev` works from a plain shell.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from components.errors import FleetformError

ROOT = Path(__file__).resolve().parents[2]
NAMESPACE = "fleetform"
# $1 the checkout, $2 the stack, the rest Pulumi's arguments.
_IN_PROJECT_ENVIRONMENT = (
    'source "$1/scripts/env.sh" && fleetform_stack_passphrase "$2" >&2 && shift 2 '
    '&& exec pulumi "$@"'
)


class StackAccessError(FleetformError):
    """The stack cannot be read: unknown, never deployed, or a setting the commands need is bad."""


@dataclass(frozen=True)
class DeployedContainer:
    """One placement of the stack's `placements` output: a container family on one host."""

    host: str
    kind: str
    """`role` or `accessory`."""
    name: str
    """The role or accessory name."""
    family: str
    """The plan's container name scoped to the stack (`hello-web-dev`); versions add `-<hex>`."""


def pulumi(
    stack: str, args: Sequence[str], *, stdin: str | None = None, root: Path = ROOT
) -> subprocess.CompletedProcess[str]:
    """Runs `pulumi ARGS --stack STACK` in the project's environment; output is captured.

    Values that must stay secret go in `stdin`, never in `args`.
    """
    argv = ["bash", "-c", _IN_PROJECT_ENVIRONMENT, "fleetform", str(root), stack]
    argv += ["--non-interactive", *args, "--stack", stack]
    try:
        return subprocess.run(
            argv,
            cwd=root,
            input=stdin if stdin is not None else "",
            capture_output=True,
            text=True,
            check=False,
        )
    except OSError as error:
        raise StackAccessError(f"pulumi: cannot run bash ({error.strerror})") from None


def _pulumi_problem(stack: str, done: subprocess.CompletedProcess[str], what: str) -> str:
    lines = [line.strip() for line in done.stderr.splitlines() if line.strip()]
    detail = lines[-1].removeprefix("error: ") if lines else f"exit status {done.returncode}"
    if "no stack named" in done.stderr:
        return f"stack '{stack}': no such stack on this backend (pulumi stack ls lists them)"
    return f"stack '{stack}': {what} failed: {detail}"


def _checked_json(stack: str, args: Sequence[str], what: str) -> Any:
    done = pulumi(stack, args)
    if done.returncode != 0:
        raise StackAccessError(_pulumi_problem(stack, done, what))
    try:
        return json.loads(done.stdout or "null")
    except ValueError:
        raise StackAccessError(f"stack '{stack}': {what} printed no JSON") from None


def parse_placements(stack: str, outputs: Mapping[str, Any]) -> tuple[DeployedContainer, ...]:
    """The `placements` output; a stack without one has never been deployed."""
    placements = outputs.get("placements")
    if not placements:
        raise StackAccessError(
            f"stack '{stack}': not deployed (it has no placements output); run pulumi up first"
        )
    try:
        return tuple(
            DeployedContainer(
                host=str(p["host"]),
                kind=str(p["kind"]),
                name=str(p["name"]),
                family=str(p["container"]),
            )
            for p in placements
        )
    except (KeyError, TypeError):
        raise StackAccessError(
            f"stack '{stack}': the placements output is not fleetform's (got {placements!r:.80})"
        ) from None


@dataclass
class StackReader:
    """Reads one stack's outputs and settings, each at most once."""

    stack: str
    _settings: dict[str, Any] | None = None

    def outputs(self) -> dict[str, Any]:
        """The stack's outputs (`pulumi stack output --json`)."""
        outputs = _checked_json(self.stack, ["stack", "output", "--json"], "pulumi stack output")
        return dict(outputs or {})

    def placements(self) -> tuple[DeployedContainer, ...]:
        return parse_placements(self.stack, self.outputs())

    def settings(self) -> dict[str, Any]:
        """Plain settings by key without the namespace; secret ones map to None."""
        if self._settings is None:
            listed = _checked_json(self.stack, ["config", "--json"], "pulumi config") or {}
            self._settings = {
                key.removeprefix(f"{NAMESPACE}:"): (None if entry.get("secret") else entry["value"])
                for key, entry in listed.items()
                if key.startswith(f"{NAMESPACE}:") and isinstance(entry, dict)
            }
        return self._settings

    def setting(self, key: str) -> str | None:
        value = self.settings().get(key)
        return None if value is None or value == "" else str(value)

    def has_setting(self, key: str) -> bool:
        return key in self.settings()

    def secret(self, key: str) -> str:
        """A secret setting's value (never printed; callers write it to 0600 files at most)."""
        done = pulumi(self.stack, ["config", "get", f"{NAMESPACE}:{key}"])
        if done.returncode != 0:
            raise StackAccessError(_pulumi_problem(self.stack, done, f"reading {NAMESPACE}:{key}"))
        # `pulumi config get` ends the value with a newline of its own.
        return done.stdout.removesuffix("\n")


def set_secret(stack: str, key: str, value: str) -> None:
    """`pulumi config set --secret KEY` with the value on stdin.

    Pulumi drops one trailing newline from stdin, so one is added: the value lands byte for byte.
    """
    done = pulumi(stack, ["config", "set", "--secret", f"{NAMESPACE}:{key}"], stdin=value + "\n")
    if done.returncode != 0:
        raise StackAccessError(_pulumi_problem(stack, done, f"setting {NAMESPACE}:{key}"))
