"""Pure builders of the POSIX shell scripts that fleetform runs on hosts over SSH.

Like Kamal's `commands/*.rb`, these only return text; the Pulumi components decide when they run.
Scripts must work under busybox `sh` (the arm64 hosts' userland), so they use no bashisms.
Nothing secret is ever interpolated here: secrets reach hosts on stdin only.
"""

from __future__ import annotations

from components.docker_scripts.shell import (
    FAMILY_LABEL,
    MANAGED_LABEL,
    NETWORK,
    STACK_LABEL,
    STATE_DIR,
    bounded,
    host_path,
    q,
)
from components.docker_scripts.host import (
    network_create_script,
    network_delete_script,
    normalise_machine,
    probe_script,
    stack_cleanup_script,
)
from components.docker_scripts.registry import (
    LOGIN_FORMAT,
    auths_key,
    login_marker,
    login_script,
    logout_script,
)
from components.docker_scripts.spec import (
    ContainerSpec,
    DirectoryAccess,
    PROXY_CONTAINER,
    ProxyRoute,
    UploadedFile,
    docker_run_argv,
    env_file_content,
    shell_word,
)
from components.docker_scripts.assets import COPY_MISSING, asset_dir, asset_dir_of, assets_script
from components.docker_scripts.container import (
    container_create_script,
    container_delete_script,
    container_read_script,
)

__all__ = [
    "COPY_MISSING",
    "ContainerSpec",
    "DirectoryAccess",
    "FAMILY_LABEL",
    "LOGIN_FORMAT",
    "MANAGED_LABEL",
    "NETWORK",
    "PROXY_CONTAINER",
    "ProxyRoute",
    "STACK_LABEL",
    "STATE_DIR",
    "UploadedFile",
    "asset_dir",
    "asset_dir_of",
    "assets_script",
    "auths_key",
    "bounded",
    "container_create_script",
    "container_delete_script",
    "container_read_script",
    "docker_run_argv",
    "env_file_content",
    "host_path",
    "login_marker",
    "login_script",
    "logout_script",
    "network_create_script",
    "network_delete_script",
    "normalise_machine",
    "probe_script",
    "q",
    "shell_word",
    "stack_cleanup_script",
]
