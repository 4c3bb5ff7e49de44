"""Kamal's `hooks_path` and `hooks_output`, and which hook files a deploy runs (no Pulumi here).

A hook is an executable file named after the hook, without extension, in the hooks directory
(`.kamal/hooks` by default, relative to the project root). Kamal runs a hook only if its file
exists; fleetform does the same and refuses a hook file it could not execute.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from components.config.values import describe, string_value
from components.config.project import project_root
from components.errors import DeployConfigError

HookName = Literal[
    "pre-connect",
    "pre-build",
    "pre-deploy",
    "post-deploy",
    "pre-app-boot",
    "post-app-boot",
    "pre-proxy-reboot",
    "post-proxy-reboot",
    "docker-setup",
]
HOOK_NAMES: tuple[HookName, ...] = (
    "pre-connect",
    "docker-setup",
    "pre-build",
    "pre-deploy",
    "pre-proxy-reboot",
    "post-proxy-reboot",
    "pre-app-boot",
    "post-app-boot",
    "post-deploy",
)
"""The hooks fleetform runs, in the order a first deploy reaches them."""

HOOKS_NOT_RUN: Mapping[str, str] = {
    "pre-app-remove": "fleetform has no `app remove`; `pulumi destroy` removes a stack",
    "post-app-remove": "fleetform has no `app remove`; `pulumi destroy` removes a stack",
    "pre-configure": "fleetform reads the deploy file inside the Pulumi program; no hook runs "
    "before that",
    "post-configure": "fleetform reads the deploy file inside the Pulumi program; no hook runs "
    "before that",
    "pre-traefik-reboot": "a Kamal 1 hook: Kamal 2 and fleetform run kamal-proxy, not Traefik",
    "post-traefik-reboot": "a Kamal 1 hook: Kamal 2 and fleetform run kamal-proxy, not Traefik",
}
"""Kamal hook names fleetform never runs, with the reason (for `hooks_output` keys)."""

KAMAL_HOOKS_PATH = ".kamal/hooks"

HookOutput = Literal["default", "quiet", "verbose"]
_OUTPUT_VALUES: Mapping[str, HookOutput] = {
    ":quiet": "quiet",
    "quiet": "quiet",
    ":verbose": "verbose",
    "verbose": "verbose",
}


@dataclass(frozen=True)
class HooksConfig:
    """`hooks_path` (None: Kamal's `.kamal/hooks`) and `hooks_output`, global and per hook."""

    path: str | None = None
    output: HookOutput = "default"
    per_hook: tuple[tuple[HookName, HookOutput], ...] = ()

    def output_of(self, hook: HookName) -> HookOutput:
        """A hook's own setting, else the global one."""
        return dict(self.per_hook).get(hook, self.output)


def _output_value(value: object, path: str) -> HookOutput:
    if isinstance(value, str) and value in _OUTPUT_VALUES:
        return _OUTPUT_VALUES[value]
    raise DeployConfigError(f"{path}: must be :quiet or :verbose (got {describe(value)})")


def read_hooks(
    path_value: object, output_value: object, *, has_path: bool, has_output: bool
) -> HooksConfig:
    """Reads `hooks_path` and `hooks_output`, each when the file has it."""
    path = None
    if has_path:
        path = string_value(path_value, "hooks_path")
        if not path.strip() or "\0" in path:
            raise DeployConfigError(
                f"hooks_path: must be a directory path (got {describe(path_value)})"
            )
    if not has_output:
        return HooksConfig(path=path)
    if not isinstance(output_value, Mapping):
        return HooksConfig(path=path, output=_output_value(output_value, "hooks_output"))
    per_hook: list[tuple[HookName, HookOutput]] = []
    for key, value in output_value.items():
        where = f"hooks_output/{key}"
        if key in HOOKS_NOT_RUN:
            raise DeployConfigError(
                f"{where}: not supported by fleetform: {HOOKS_NOT_RUN[key]} (got {describe(key)})"
            )
        hook = next((name for name in HOOK_NAMES if name == key), None)
        if hook is None:
            raise DeployConfigError(
                f"{where}: unknown hook; hooks are {', '.join(HOOK_NAMES)} (got {describe(key)})"
            )
        per_hook.append((hook, _output_value(value, where)))
    if not per_hook:
        raise DeployConfigError("hooks_output: must be :quiet, :verbose or a mapping of hooks "
                                "to them (got an empty mapping)")  # fmt: skip
    return HooksConfig(path=path, per_hook=tuple(per_hook))


@dataclass(frozen=True)
class HookPlan:
    """The hook files a deploy runs: hook name to its absolute path, and how to show output."""

    directory: str
    files: tuple[tuple[HookName, str], ...] = ()
    outputs: tuple[tuple[HookName, HookOutput], ...] = field(default=())

    def file(self, hook: HookName) -> str | None:
        return dict(self.files).get(hook)

    def output(self, hook: HookName) -> HookOutput:
        return dict(self.outputs).get(hook, "default")


def find_hooks(config: HooksConfig, deploy_file: str | Path) -> HookPlan:
    """Looks for each hook's file; a file that exists but cannot be executed is an error."""
    directory = Path(config.path or KAMAL_HOOKS_PATH)
    if not directory.is_absolute():
        directory = project_root(deploy_file) / directory
    where = "hooks_path" if config.path is not None else f"hooks_path (default {KAMAL_HOOKS_PATH})"
    if directory.exists() and not directory.is_dir():
        raise DeployConfigError(f"{where}: {directory} is not a directory")
    files: list[tuple[HookName, str]] = []
    for hook in HOOK_NAMES:
        candidate = directory / hook
        if not candidate.exists():
            continue
        if not candidate.is_file() or not os.access(candidate, os.X_OK):
            raise DeployConfigError(
                f"{where}: hook {candidate} is not an executable file (chmod +x it, or remove "
                f"it to skip the {hook} hook)"
            )
        files.append((hook, str(candidate)))
    return HookPlan(
        directory=str(directory),
        files=tuple(files),
        outputs=tuple((hook, config.output_of(hook)) for hook in HOOK_NAMES),
    )


def build_fingerprint(context: str | Path, *inputs: str) -> str:
    """sha256 over every file under the build context (names, modes, bytes) and `inputs`.

    What the pre-build hook guards: a build happens when any of this changes. It reads more than
    the build does (`.dockerignore`d files too), so pre-build may run when the build is a no-op,
    never the other way round.
    """
    digest = hashlib.sha256()
    for item in inputs:
        digest.update(item.encode() + b"\0")
    root = Path(context)
    for path in sorted(root.rglob("*")):
        if path.is_symlink() or not path.is_file():
            continue
        digest.update(str(path.relative_to(root)).encode() + b"\0")
        digest.update(f"{path.stat().st_mode & 0o777:o}".encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()
