"""Pure builders of the POSIX shell scripts that fleetform runs on hosts over SSH.

Like Kamal's `commands/*.rb`, these only return text; the Pulumi components decide when they run.
Scripts must work under busybox `sh` (the arm64 hosts' userland), so they use no bashisms.
Nothing secret is ever interpolated here: secrets reach hosts on stdin only.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

# Labels fleetform puts on every container it runs; `docker ps --filter` finds a
# container's predecessors through FAMILY_LABEL without parsing names.
FAMILY_LABEL = "fleetform.container"
MANAGED_LABEL = "fleetform.managed"
NETWORK = "fleetform"
ENV_DIR = "/root/.fleetform/env"

_MACHINE_TO_ARCH = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}


def q(value: str) -> str:
    return shlex.quote(value)


def normalise_machine(machine: str) -> str:
    """Maps `uname -m` / `docker version` spellings to Docker arch names (unknown ones unchanged)."""
    cleaned = machine.strip()
    return _MACHINE_TO_ARCH.get(cleaned, cleaned)


def probe_script(host: str, declared_arch: str | None, declared_by: str) -> str:
    """Prints the host's arch; fails when it differs from what the deploy file declares.

    The check runs on the host, inside the probe command itself, so a mismatch fails the probe
    resource and Pulumi never reaches the containers that depend on it.
    """
    lines = [
        "set -e",
        "machine=$(uname -m)",
        'case "$machine" in x86_64|amd64) arch=amd64 ;; aarch64|arm64) arch=arm64 ;; '
        '*) arch="$machine" ;; esac',
        "engine=$(docker version --format '{{.Server.Arch}}')",
        'if [ "$engine" != "$arch" ]; then',
        f'  echo "{host}: the kernel says $arch but the Docker engine is $engine" >&2; exit 1',
        "fi",
    ]
    if declared_arch is not None:
        lines += [
            f'if [ "$arch" != {q(declared_arch)} ]; then',
            f'  echo "{host}: declared {declared_arch} ({declared_by}) but the host is $arch" >&2',
            "  exit 1",
            "fi",
        ]
    lines.append('echo "$arch"')
    return "\n".join(lines)


def network_create_script() -> str:
    return f"docker network inspect {NETWORK} >/dev/null 2>&1 || docker network create {NETWORK}"


def network_delete_script() -> str:
    # Other stacks may still have containers on the network; leaving it is harmless.
    return f"docker network rm {NETWORK} >/dev/null 2>&1 || true"


def login_script(server: str, username: str) -> str:
    return f"docker login --username {q(username)} --password-stdin {q(server)}"


def logout_script(server: str) -> str:
    return f"docker logout {q(server)} >/dev/null 2>&1 || true"


def pull_script(reference: str, platform: str) -> str:
    """Pulls one reference for one platform and proves the local image really is that arch.

    Docker 20.10 only warns when `--platform` disagrees with a single-arch image, so the
    architecture check after the pull is what actually enforces the platform.
    """
    arch = platform.split("/", 1)[1]
    return "\n".join(
        [
            "set -e",
            f"docker pull --quiet --platform {q(platform)} {q(reference)} >/dev/null",
            f"got=$(docker image inspect --format '{{{{.Architecture}}}}' {q(reference)})",
            f'if [ "$got" != {q(arch)} ]; then',
            f'  echo "{reference}: image is $got but this host needs {arch}" >&2; exit 1',
            "fi",
            f"docker image inspect --format '{{{{.Id}}}}' {q(reference)}",
        ]
    )


def remove_image_script(reference: str) -> str:
    # A running container keeps its image alive, so a failed rm here is expected and harmless.
    return f"docker image rm {q(reference)} >/dev/null 2>&1 || true"


@dataclass(frozen=True)
class ContainerSpec:
    """Everything `docker run` needs for one container on one host."""

    name: str
    family: str
    image: str
    platform: str
    cmd: str | None = None
    ports: tuple[str, ...] = ()
    volumes: tuple[str, ...] = ()
    labels: tuple[tuple[str, str], ...] = ()
    options: tuple[tuple[str, str | None], ...] = ()
    readiness_timeout: int = 90
    wait_before_start: int = 0

    @property
    def env_file(self) -> str:
        return f"{ENV_DIR}/{self.name}.env"

    @property
    def publishes_ports(self) -> bool:
        return bool(self.ports) or any(key in ("publish", "p") for key, _ in self.options)


def env_file_content(clear: Iterable[tuple[str, str]], secret: Iterable[tuple[str, str]]) -> str:
    """Docker `--env-file` text. It travels on stdin, so it is the only place secret values go."""
    lines = []
    for key, value in [*clear, *secret]:
        if "\n" in value or "\r" in value:
            raise ValueError(f"env/{key}: values cannot span lines in a Docker env file")
        lines.append(f"{key}={value}")
    return "".join(line + "\n" for line in lines)


def docker_run_argv(spec: ContainerSpec) -> list[str]:
    argv = [
        "docker", "run", "--detach", "--name", spec.name,
        "--platform", spec.platform,
        "--network", NETWORK,
        "--restart", "unless-stopped",
        "--env-file", spec.env_file,
        "--label", f"{MANAGED_LABEL}=true",
        "--label", f"{FAMILY_LABEL}={spec.family}",
    ]  # fmt: skip
    for key, value in spec.labels:
        argv += ["--label", f"{key}={value}"]
    for port in spec.ports:
        argv += ["--publish", port]
    for volume in spec.volumes:
        argv += ["--volume", volume]
    for key, option_value in spec.options:
        argv.append(f"--{key}" if option_value is None else f"--{key}={option_value}")
    argv.append(spec.image)
    if spec.cmd:
        argv += shlex.split(spec.cmd)
    return argv


def _join(argv: Sequence[str]) -> str:
    return " ".join(q(part) for part in argv)


def container_create_script(spec: ContainerSpec) -> str:
    """Starts the new container, waits until it is ready, and only then lets the old one go.

    Predecessors (same family label, other name) keep running beside the new container unless it
    publishes host ports; then they are stopped first and started again if the new one fails.
    The predecessor's own Pulumi resource removes it after this succeeds (create before delete).
    """
    name = q(spec.name)
    if spec.publishes_ports:
        stop_previous = 'if [ -n "$previous" ]; then docker stop $previous >/dev/null; fi'
        restart_previous = 'if [ -n "$previous" ]; then docker start $previous >/dev/null; fi'
    else:
        stop_previous = restart_previous = ":"
    return f"""set -e
umask 077
mkdir -p {q(ENV_DIR)}
cat > {q(spec.env_file)}
chmod 600 {q(spec.env_file)}
{"sleep " + str(spec.wait_before_start) if spec.wait_before_start else ":"}
docker rm --force {name} >/dev/null 2>&1 || true
previous=$(docker ps --quiet --filter label={q(FAMILY_LABEL + "=" + spec.family)} \
  | while read -r id; do \
      [ "$(docker inspect --format '{{{{.Name}}}}' "$id")" = "/{spec.name}" ] || echo "$id"; \
    done)
rollback() {{
  echo "{spec.name}: $1" >&2
  docker logs --tail 20 {name} >&2 2>&1 || true
  docker rm --force {name} >/dev/null 2>&1 || true
  rm -f {q(spec.env_file)}
  {restart_previous}
  exit 1
}}
{stop_previous}
{_join(docker_run_argv(spec))} >/dev/null || rollback "docker run failed"
waited=0
steady=0
while :; do
  state=$(docker inspect --format \
    '{{{{.State.Status}}}}{{{{if .State.Health}}}}/{{{{.State.Health.Status}}}}{{{{end}}}} {{{{.RestartCount}}}}' \
    {name} 2>/dev/null || echo missing)
  # A restart means the process died: with a restart policy it may look "running" again later.
  case "$state" in
    "running/healthy 0") break ;;
    "running 0") steady=$((steady + 1)); [ "$steady" -ge 3 ] && break ;;
    "running/starting 0") steady=0 ;;
    *) rollback "exited or restarted (status and restart count: $state)" ;;
  esac
  waited=$((waited + 1))
  [ "$waited" -lt {spec.readiness_timeout} ] || rollback "not ready after {spec.readiness_timeout}s"
  sleep 1
done
docker inspect --format '{{{{.Id}}}}' {name}"""


def container_delete_script(name: str) -> str:
    return (
        f"docker rm --force {q(name)} >/dev/null 2>&1 || true\n"
        f"rm -f {q(ENV_DIR + '/' + name + '.env')}"
    )
