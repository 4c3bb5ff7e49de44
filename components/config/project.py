"""Where a Kamal project is: the directory that relative paths in its deploy file start from."""

from __future__ import annotations

from pathlib import Path


def project_root(deploy_file: str | Path) -> Path:
    """The directory that holds `config/deploy.yml`: hooks, files and error pages start there.

    Kamal resolves such paths against the directory it runs in, the app's root; fleetform runs
    elsewhere (the Pulumi project), so the root is found from the deploy file: the parent of its
    `config` directory, or else the deploy file's own directory.
    """
    directory = Path(deploy_file).resolve().parent
    return directory.parent if directory.name == "config" else directory
