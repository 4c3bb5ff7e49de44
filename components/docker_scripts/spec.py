"""What one container is (ContainerSpec) and the `docker run` words and env file it becomes."""

from __future__ import annotations

import shlex
from collections.abc import Iterable
from dataclasses import dataclass

from components.docker_scripts.assets import asset_dir
from components.docker_scripts.shell import (
    FAMILY_LABEL,
    MANAGED_LABEL,
    NETWORK,
    STACK_LABEL,
    STATE_DIR,
    host_path,
    q,
)


PROXY_CONTAINER = "kamal-proxy"
"""The one kamal-proxy container per host, shared by every stack (as in Kamal)."""


@dataclass(frozen=True)
class ProxyRoute:
    """How a proxied container is put behind the host's kamal-proxy (built in proxy_scripts)."""

    service: str
    """The kamal-proxy service: the container family, which carries the stack scope."""
    app_port: int
    deploy_options: tuple[str, ...] = ()
    """`kamal-proxy deploy` options after `--target`, e.g. `--health-check-path=/up`."""

    def target(self, container: str) -> str:
        return f"{container}:{self.app_port}"


@dataclass(frozen=True)
class UploadedFile:
    """An accessory file: written on the host for each version, then bind-mounted."""

    remote: str
    """The absolute path in the container; the host copy mirrors it under the version's dir."""
    mode: str
    owner: str | None = None
    options: str | None = None


@dataclass(frozen=True)
class DirectoryAccess:
    """Mode and owner set on a host data directory after it is created."""

    path: str
    mode: str | None = None
    owner: str | None = None


@dataclass(frozen=True)
class ContainerSpec:
    """Everything one container's scripts need on one host. The name carries the version."""

    name: str
    family: str
    """The plan's container name (`hello-web-staging`): what a new version replaces."""
    stack: str
    """The Pulumi stack that owns the container: predecessors are only ever its own."""
    image: str
    platform: str
    cmd: str | None = None
    ports: tuple[str, ...] = ()
    volumes: tuple[str, ...] = ()
    """`host:container[:mode]`; a host side starting with `~/` lives in the SSH user's home."""
    directories: tuple[str, ...] = ()
    """Host directories created before the run (accessory data); never removed by fleetform."""
    labels: tuple[tuple[str, str], ...] = ()
    options: tuple[tuple[str, str | None], ...] = ()
    readiness_timeout: int = 90
    wait_before_start: int = 0
    stop_timeout: int = 10
    exclusive: bool = False
    """Never run beside a predecessor (stateful accessories): stop it first, restart on failure."""
    docker_config: str | None = None
    """The stack's own Docker client config dir (`~/...`), where its registry login lives."""
    retain: int = 5
    """Stopped versions of this family kept for rollback (Kamal's `retain_containers`)."""
    route: ProxyRoute | None = None
    """Served through the host's kamal-proxy: switched there, and predecessors stopped after."""
    steady_checks: int = 2
    """Consecutive once-a-second checks a container without healthcheck must be running for."""
    files: tuple[UploadedFile, ...] = ()
    """Written from stdin (one base64 line each, before the env file) into `files_dir`."""
    network: str = NETWORK
    """The network to attach to; one other than fleetform's must already exist."""
    directory_access: tuple[DirectoryAccess, ...] = ()
    asset_path: str | None = None
    """Kamal's `asset_path`: the image's files there, bridged with the predecessor's, by volume."""
    asset_options: str | None = None
    """Mount options of the asset volume (`ro`, `z`, ...)."""

    @property
    def env_file(self) -> str:
        return f"{STATE_DIR}/{self.stack}/env/{self.name}.env"

    @property
    def files_dir(self) -> str:
        """This version's own copy of the uploaded files: a successor never writes over it."""
        return f"~/{self.family}/.files/{self.name}"

    def file_volumes(self) -> tuple[str, ...]:
        return tuple(
            f"{self.files_dir}{file.remote}:{file.remote}"
            + (f":{file.options}" if file.options else "")
            for file in self.files
        )

    @property
    def asset_dir(self) -> str:
        """This version's assets on the host: `extracted` from its image, and the mounted `volume`.

        Named by the versioned container name, so a replacement never shares it with the
        predecessor whose delete (or pruning) removes it.
        """
        return asset_dir(self.stack, self.name)

    @property
    def published_host_ports(self) -> tuple[str, ...]:
        """Host ports this container binds (`80` of `80:8080`, `127.0.0.1:80:8080`)."""
        specs = [*self.ports, *(v for k, v in self.options if k in ("publish", "p") and v)]
        found = []
        for spec in specs:
            parts = spec.split("/", 1)[0].split(":")
            if len(parts) >= 2 and parts[-2]:
                found.append(parts[-2])
        return tuple(found)

    @property
    def stops_predecessor_first(self) -> bool:
        return self.exclusive or bool(self.published_host_ports)


def env_file_content(clear: Iterable[tuple[str, str]], secret: Iterable[tuple[str, str]]) -> str:
    """Docker `--env-file` text. It travels on stdin, so it is the only place secret values go."""
    lines = []
    for key, value in [*clear, *secret]:
        if "\n" in value or "\r" in value:
            raise ValueError(f"env/{key}: values cannot span lines in a Docker env file")
        lines.append(f"{key}={value}")
    return "".join(line + "\n" for line in lines)


def docker_run_argv(spec: ContainerSpec) -> list[str]:
    """The `docker run` words; host paths starting with `~/` are rendered by `_run_command`."""
    argv = [
        "docker", "run", "--detach", "--name", spec.name,
        "--platform", spec.platform,
        "--network", spec.network,
        "--restart", "unless-stopped",
        "--env-file", spec.env_file,
        "--label", f"{MANAGED_LABEL}=true",
        "--label", f"{FAMILY_LABEL}={spec.family}",
        "--label", f"{STACK_LABEL}={spec.stack}",
    ]  # fmt: skip
    for key, value in spec.labels:
        argv += ["--label", f"{key}={value}"]
    for port in spec.ports:
        argv += ["--publish", port]
    for volume in (*spec.volumes, *spec.file_volumes()):
        argv += ["--volume", volume]
    if spec.asset_path is not None:
        options = f":{spec.asset_options}" if spec.asset_options else ""
        argv += ["--volume", f"{spec.asset_dir}/volume:{spec.asset_path}{options}"]
    for key, option_value in spec.options:
        argv.append(f"--{key}" if option_value is None else f"--{key}={option_value}")
    argv.append(spec.image)
    if spec.cmd:
        argv += shlex.split(spec.cmd)
    return argv


def shell_word(word: str) -> str:
    # Only the host side of a volume or the env file may point into the SSH user's home.
    if word.startswith("~/"):
        return host_path(word)
    return q(word)
