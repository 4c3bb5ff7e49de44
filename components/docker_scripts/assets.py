"""Kamal's asset bridging: each version's asset volume, shared with its predecessor."""

from __future__ import annotations

from typing import TYPE_CHECKING

from components.docker_scripts.shell import STACK_LABEL, STATE_DIR, host_path, q

if TYPE_CHECKING:
    from components.docker_scripts.spec import ContainerSpec


def asset_dir(stack: str, container: str) -> str:
    return f"{STATE_DIR}/{stack}/assets/{container}"


def asset_dir_of(stack: str, variable: str) -> str:
    """A shell word for the asset dir of the container named in `$variable`."""
    return f'{host_path(f"{STATE_DIR}/{stack}/assets")}/"${variable}"'


COPY_MISSING = """# Files of $1 missing from $2 (busybox `cp -n` skips whole existing directories).
copy_missing() {
  ( cd "$1" && find . ! -name . ) | while IFS= read -r file; do
    if [ ! -e "$2/$file" ] && [ ! -L "$2/$file" ]; then cp -Rp "$1/$file" "$2/$file"; fi
  done
}"""
"""A shell function: copies into directory $2 what $1 has and $2 lacks, never overwriting."""


def assets_script(spec: ContainerSpec) -> str:
    """Kamal's asset bridging, before the new container runs (and before any predecessor stops).

    The new version's files at `asset_path` are copied out of its image (a created, never
    started container), into `extracted`; its `volume` starts as a copy of them. Then, with the
    running predecessor: its extracted files go into the new volume and the new files into its
    volume, neither ever overwriting a file already there, so each version keeps serving its own
    files and both serve the other's. A retained version started again keeps its directory.
    """
    if spec.asset_path is None:
        return ""
    assets = host_path(spec.asset_dir)
    helper = q(f"{spec.name}-assets")
    source = q(f"{spec.name}-assets:{spec.asset_path}/.")
    return f"""{COPY_MISSING}
umask 022
if [ ! -e {assets}/complete ]; then
  rm -rf {assets}
  mkdir -p {assets}/extracted
  docker rm --force {helper} >/dev/null 2>&1 || true
  # Never started: the command only spares images without CMD the "no command specified" error.
  docker create --name {helper} --label {q(f"{STACK_LABEL}={spec.stack}")} \
    --platform {q(spec.platform)} {q(spec.image)} /fleetform-never-started >/dev/null \
    || rollback "could not create a container to extract assets"
  if ! copied=$(docker cp -L {source} {assets}/extracted 2>&1); then
    docker rm --force {helper} >/dev/null 2>&1 || true
    rollback "could not copy {spec.asset_path} out of the image: $copied"
  fi
  docker rm --force {helper} >/dev/null 2>&1 || true
  cp -Rp {assets}/extracted {assets}/volume
  touch {assets}/complete
fi
bridged=$(docker inspect --format '{{{{if .State.Running}}}}{{{{.Name}}}}{{{{end}}}}' $previous 2>/dev/null \\
  | tr -d / | awk 'NF {{ print; exit }}')
old_assets={asset_dir_of(spec.stack, "bridged")}
if [ -n "$bridged" ] && [ -e "$old_assets/complete" ]; then
  copy_missing "$old_assets/extracted" {assets}/volume || rollback "could not bridge the assets of $bridged"
  copy_missing {assets}/extracted "$old_assets/volume" || echo "{spec.name}: could not add its assets to $bridged" >&2
fi
umask 077
"""
