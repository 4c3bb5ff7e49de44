"""Accessory `files` and `directories`: `local:remote[:options]` strings or Kamal's mapping form."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

from components.config.model import AccessoryFile, DirectoryMount
from components.config.values import (
    MOUNT_OPTIONS,
    Section,
    child_path,
    describe,
    list_value,
    string_value,
)
from components.errors import DeployConfigError

MOUNT_KEYS = frozenset({"local", "remote", "mode", "owner", "options"})
FILES_DIRECTORY = ".files"
"""Under the accessory's host directory: where each version's uploaded files live."""

# Kamal passes both to chmod and chown on the host; anything else would be shell or a typo.
_MODE = re.compile(r"^[0-7]{3,4}$")
_OWNER = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*(?::[A-Za-z0-9_][A-Za-z0-9_.-]*)?$")
_PATH_CHARACTERS = re.compile(r"^[A-Za-z0-9_./@+=-]+$")


def read_files(value: object, path: str, root: Path) -> tuple[AccessoryFile, ...]:
    files = tuple(
        _file(item, child_path(path, index), root)
        for index, item in enumerate(list_value(value, path))
    )
    _check_unique_remotes([(f.remote, index) for index, f in enumerate(files)], path)
    return files


def read_directories(value: object, path: str) -> tuple[DirectoryMount, ...]:
    directories = tuple(
        _directory(item, child_path(path, index))
        for index, item in enumerate(list_value(value, path))
    )
    _check_unique_remotes([(d.remote, index) for index, d in enumerate(directories)], path)
    return directories


def _check_unique_remotes(remotes: list[tuple[str, int]], path: str) -> None:
    seen: set[str] = set()
    for remote, index in remotes:
        if remote in seen:
            raise DeployConfigError(
                f"{child_path(path, index)}: {remote} is already mounted by an earlier entry"
            )
        seen.add(remote)


FILE_FORM = "local-file:/container/path[:options]"
DIRECTORY_FORM = "host-dir:/container/path[:options]"


def _parts(
    value: object, path: str, form: str
) -> tuple[str, str, str | None, str | None, str | None]:
    """(local, remote, options, mode, owner) of either form, each still unchecked."""
    if isinstance(value, Mapping):
        section = Section(value, path, path)
        section.check_keys(MOUNT_KEYS)
        local = string_value(section.require("local"), section.child("local"))
        remote = string_value(section.require("remote"), section.child("remote"))
        if section.has("mode") and not isinstance(section.get("mode"), str):
            # YAML reads an unquoted 0640 as the number 416.
            raise DeployConfigError(
                f"{section.child('mode')}: must be a quoted octal mode like \"0640\" "
                f"(got {describe(section.get('mode'))})"
            )
        optional = [
            string_value(section.get(key), section.child(key)) if section.has(key) else None
            for key in ("options", "mode", "owner")
        ]
        return local, remote, optional[0], optional[1], optional[2]
    spec = string_value(value, path)
    parts = spec.split(":", 2)
    if len(parts) < 2 or not parts[0] or not parts[1]:
        raise DeployConfigError(f"{path}: must be {form} (got {describe(spec)})")
    return parts[0], parts[1], parts[2] if len(parts) == 3 else None, None, None


def _check_common(
    path: str, spec: object, remote: str, options: str | None, mode: str | None, owner: str | None
) -> None:
    if not remote.startswith("/") or ".." in remote.split("/") or remote.endswith("/"):
        raise DeployConfigError(
            f"{path}: the container path must be absolute, like /etc/app.conf "
            f"(got {describe(spec)})"
        )
    if options is not None:
        unknown = [option for option in options.split(",") if option not in MOUNT_OPTIONS]
        if unknown:
            raise DeployConfigError(
                f"{path}: unknown mount option '{unknown[0]}' (got {describe(spec)})"
            )
    if mode is not None and not _MODE.match(mode):
        raise DeployConfigError(
            f'{path}/mode: must be an octal mode like "0640" (got {describe(mode)})'
        )
    if owner is not None and not _OWNER.match(owner):
        raise DeployConfigError(
            f"{path}/owner: must be USER, USER:GROUP or numeric ids like 1000:1000 "
            f"(got {describe(owner)})"
        )


def _file(value: object, path: str, root: Path) -> AccessoryFile:
    local, remote, options, mode, owner = _parts(value, path, FILE_FORM)
    _check_common(path, value, remote, options, mode, owner)
    if not _PATH_CHARACTERS.match(remote):
        raise DeployConfigError(
            f"{path}: the container path may hold only letters, digits and ._/@+=- "
            f"(got {describe(remote)})"
        )
    source = Path(local) if Path(local).is_absolute() else root / local
    if source.is_dir():
        raise DeployConfigError(
            f"{path}: {local} is a directory; fleetform uploads single files, so list each file "
            f"(got {describe(value)})"
        )
    if not source.is_file():
        raise DeployConfigError(f"{path}: local file {source} not found (got {describe(value)})")
    return AccessoryFile(
        local=local,
        source=str(source),
        remote=remote,
        mode=mode or "755",
        owner=owner,
        options=options,
    )


def _directory(value: object, path: str) -> DirectoryMount:
    local, remote, options, mode, owner = _parts(value, path, DIRECTORY_FORM)
    if ".." in local.split("/") or not remote.startswith("/") or ":" in local + remote:
        shown = value if isinstance(value, str) else f"{local}:{remote}"
        raise DeployConfigError(f"{path}: must be {DIRECTORY_FORM} (got {describe(shown)})")
    if local.split("/")[0] == FILES_DIRECTORY:
        raise DeployConfigError(
            f"{path}: {FILES_DIRECTORY} is where fleetform keeps uploaded files; "
            f"name the directory otherwise (got {describe(local)})"
        )
    _check_common(path, value, remote, options, mode, owner)
    return DirectoryMount(local=local, remote=remote, options=options, mode=mode, owner=owner)
