"""The content of an accessory's `files`: read from the project, `.erb` ones rendered (pure)."""

from __future__ import annotations

import base64
from collections.abc import Iterable, Mapping
from pathlib import Path

from components.config.erb import render_erb
from components.config.model import AccessoryFile
from components.errors import DeployConfigError


def read_source(file: AccessoryFile) -> bytes:
    try:
        return Path(file.source).read_bytes()
    except OSError as error:
        raise DeployConfigError(
            f"{file.local}: cannot read the accessory file ({error.strerror})"
        ) from None


def rendered(file: AccessoryFile, raw: bytes, environ: Mapping[str, str]) -> bytes:
    """The bytes to upload. A template sees the process environment with the accessory's own
    env over it (secrets included), as Kamal renders it; other files go as they are."""
    if not file.template:
        return raw
    try:
        text = raw.decode()
    except UnicodeDecodeError:
        raise DeployConfigError(f"{file.local}: an ERB template must be UTF-8 text") from None
    return render_erb(text, source=file.local, environ=environ, multiline_values=True).encode()


def upload_lines(contents: Iterable[bytes]) -> str:
    """The stdin part the create script reads: one base64 line per file, in placement order."""
    return "".join(base64.b64encode(content).decode() + "\n" for content in contents)
