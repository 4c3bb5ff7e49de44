"""`asset_path` (top level and per role): Kamal's asset bridging, as `path[:mount options]`."""

from __future__ import annotations

from components.config.model import AssetPath
from components.config.values import MOUNT_OPTIONS, describe, string_value
from components.errors import DeployConfigError


def read_asset_path(value: object, path: str) -> AssetPath:
    """Kamal splits at the first colon: the container path, then the volume's mount options."""
    text = string_value(value, path)
    container_path, colon, options = text.partition(":")
    parts = container_path.split("/")
    if (
        not container_path.startswith("/")
        or container_path.rstrip("/") == ""
        or any(part in (".", "..") for part in parts)
    ):
        raise DeployConfigError(
            f"{path}: must be an absolute path in the container other than /, "
            f"optionally with :mount-options (got {describe(text)})"
        )
    if not colon:
        return AssetPath(container_path.rstrip("/"))
    unknown = [option for option in options.split(",") if option not in MOUNT_OPTIONS]
    if unknown:
        raise DeployConfigError(
            f"{path}: unknown mount option {describe(unknown[0])} "
            f"(expected some of {', '.join(sorted(MOUNT_OPTIONS))}; got {describe(text)})"
        )
    return AssetPath(container_path.rstrip("/"), options)
