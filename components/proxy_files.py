"""Files kamal-proxy reads for one route: a custom TLS certificate and key, and error pages.

They live in the proxy's state volume, under `fleetform/<service>/<version>/`, where the service
(the container family) carries the stack, so stacks never touch each other's files. The volume
outlives proxy replacements like the routes do, and the proxy container keeps its settings: no
mount is added, so no running proxy is replaced to start using them. They are copied with
`docker cp` from a tar on stdin whose entries belong to the proxy's own (unprivileged) user, read
from the container first, with 0700 directories and 0600 files; that works whatever user
fleetform logs in as. (`docker cp --archive` would look the user up, but fails on the image's
`USER kamal-proxy:kamal-proxy`.) The version is an HMAC over the content, so a change copies to a
new directory and a replacement's delete never touches its successor's files. Nothing here runs
anything.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import json
import re
import tarfile
from dataclasses import dataclass
from pathlib import Path

from components.docker_scripts import PROXY_CONTAINER, q
from components.errors import DeployConfigError
from components.plan import Plan
from components.proxy_scripts import (
    ERROR_PAGES,
    FILES_PATH,
    STATE_PATH,
    TLS_CERTIFICATE,
    TLS_PRIVATE_KEY,
)

# Kamal copies the pages named like 4xx.html and 5xx.html; kamal-proxy looks up `<status>.html`.
_PAGE = re.compile(r"^[45][0-9][0-9]\.html$")
_FILES_ROOT = FILES_PATH.removeprefix(STATE_PATH + "/")


def read_error_pages(path: str, base: Path) -> tuple[tuple[str, str], ...]:
    """(file name, text) of each 4xx.html/5xx.html in `path` (relative to `base`), sorted."""
    directory = base / path
    if not directory.is_dir():
        raise DeployConfigError(
            f"error_pages_path: must be a directory, relative to {base} "
            f"(got {path!r}, which is not one)"
        )
    pages = []
    for entry in sorted(directory.iterdir()):
        if entry.is_file() and _PAGE.match(entry.name):
            try:
                pages.append((entry.name, entry.read_text(encoding="utf-8")))
            except UnicodeDecodeError:
                raise DeployConfigError(
                    f"error_pages_path: {entry.name} is not UTF-8 text (got {entry})"
                ) from None
    if not pages:
        raise DeployConfigError(
            f"error_pages_path: no pages named like 404.html or 503.html in {directory} "
            f"(got {path!r})"
        )
    return tuple(pages)


@dataclass(frozen=True)
class RouteFiles:
    """What one route's directory holds. The certificate and key are secret values."""

    service: str
    certificate: str | None = None
    private_key: str | None = None
    error_pages: tuple[tuple[str, str], ...] = ()

    def entries(self) -> list[tuple[str, str]]:
        """(path below the directory, content)."""
        found = []
        if self.certificate is not None and self.private_key is not None:
            found += [(TLS_CERTIFICATE, self.certificate), (TLS_PRIVATE_KEY, self.private_key)]
        found += [(f"{ERROR_PAGES}/{name}", text) for name, text in self.error_pages]
        return found

    def version(self, key: str, where: str, owner: str) -> str:
        """12 hex of HMAC-SHA256 (the stack's version key) over the content, host and owner."""
        material = json.dumps([where, owner, self.service, self.entries()])
        return hmac.new(key.encode(), material.encode(), hashlib.sha256).hexdigest()[:12]

    def directory(self, version: str) -> str:
        """The directory as the proxy sees it, which `kamal-proxy deploy` is given."""
        return f"{FILES_PATH}/{self.service}/{version}"


def archive(files: RouteFiles, version: str, owner: str, *, empty: bool = False) -> str:
    """Base64 of a tar to extract at the state volume's root, its entries owned by `owner`
    (`uid:gid`). `empty` keeps the files' names, not their content, and leaves directories be."""
    uid, gid = (int(part) for part in owner.split(":"))
    buffer = io.BytesIO()
    prefix = f"{_FILES_ROOT}/{files.service}/{version}"
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        directories = [_FILES_ROOT, f"{_FILES_ROOT}/{files.service}", prefix]
        for name, _ in files.entries():
            parent = f"{prefix}/{name}".rsplit("/", 1)[0]
            if parent not in directories:
                directories.append(parent)
        for name in [] if empty else directories:
            _add(tar, name, None, uid, gid)
        for name, content in files.entries():
            _add(tar, f"{prefix}/{name}", b"" if empty else content.encode(), uid, gid)
    return base64.encodebytes(buffer.getvalue()).decode()


def _add(tar: tarfile.TarFile, name: str, content: bytes | None, uid: int, gid: int) -> None:
    info = tarfile.TarInfo(name)
    info.mtime = 0  # the same content gives the same archive
    info.uid, info.gid = uid, gid
    if content is None:
        info.type = tarfile.DIRTYPE
        info.mode = 0o700
        tar.addfile(info)
    else:
        info.mode = 0o600
        info.size = len(content)
        tar.addfile(info, io.BytesIO(content))


def owner_script(host: str) -> str:
    """Prints `uid:gid` of the user kamal-proxy runs as, from the container's own /etc/passwd."""
    return f"""set -e
user=$(docker inspect --format '{{{{.Config.User}}}}' {PROXY_CONTAINER})
user=${{user%%:*}}
if [ -z "$user" ]; then echo 0:0; exit 0; fi
found=$(docker cp {PROXY_CONTAINER}:/etc/passwd - | tar -xOf - \
  | awk -F: -v user="$user" '$1 == user || $3 == user {{print $3 ":" $4; exit}}')
case "$found" in
  *[0-9]:[0-9]*) echo "$found" ;;
  *) echo "{host}: kamal-proxy runs as $user, who is not in its /etc/passwd" >&2; exit 1 ;;
esac"""


def files_create_script(host: str, directory: str) -> str:
    """Copies the tar on stdin (base64) into the proxy's state volume; prints the directory."""
    return f"""set -e
if ! docker inspect --format '{{{{.Id}}}}' {PROXY_CONTAINER} >/dev/null 2>&1; then
  echo "{host}: no {PROXY_CONTAINER} container to copy the route's files to" >&2; exit 1
fi
base64 -d | docker cp - {PROXY_CONTAINER}:{q(STATE_PATH)}
echo {q(directory)}"""


def files_delete_script(files: RouteFiles, version: str, owner: str) -> str:
    """Empties the files (key included): the proxy image has no shell to remove them with.

    The directory is this version's alone, and the route stopped using it before this runs (the
    containers routed with it depend on it). The state volume goes with the host's last route.
    """
    return f"""if docker inspect --format '{{{{.Id}}}}' {PROXY_CONTAINER} >/dev/null 2>&1; then
  printf '%s' {q(archive(files, version, owner, empty=True))} | base64 -d \\
    | docker cp - {PROXY_CONTAINER}:{q(STATE_PATH)} || true
fi
true"""


def proxy_certificate_secrets(plan: Plan) -> list[str]:
    """Names of the secrets that hold the plan's custom certificates and keys."""
    names = set()
    for placement in plan.placements:
        route = placement.proxy
        if route is not None and route.certificate_secret and route.private_key_secret:
            names |= {route.certificate_secret, route.private_key_secret}
    return sorted(names)
