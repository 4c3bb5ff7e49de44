"""Pure builders of the POSIX shell scripts that fleetform runs on hosts over SSH.

Like Kamal's `commands/*.rb`, these only return text; the Pulumi components decide when they run.
Scripts must work under busybox `sh` (the arm64 hosts' userland), so they use no bashisms.
Nothing secret is ever interpolated here: secrets reach hosts on stdin only.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterable
from dataclasses import dataclass

# Labels fleetform puts on every container it runs; `docker ps --filter` finds a
# container's predecessors through FAMILY_LABEL and STACK_LABEL without parsing names.
FAMILY_LABEL = "fleetform.container"
STACK_LABEL = "fleetform.stack"
MANAGED_LABEL = "fleetform.managed"
NETWORK = "fleetform"
# Under the SSH user's own home on the host (never /root for another user): `~/...` in a spec is
# written as "$HOME/..." in scripts.
STATE_DIR = "~/.fleetform"

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


LOGIN_FORMAT = "auths-v2"
"""Written beside each login's token: a login of the earlier `docker login` form has a marker
without it, so its delete never removes a login of this form for the same credentials."""


def login_marker(config_dir: str, server: str) -> str:
    return f"{config_dir}/fleetform-login-{server.replace('/', '_').replace(':', '_')}"


def auths_key(server: str) -> str:
    """The `auths` key Docker looks Docker Hub up by; any other registry by its own name."""
    if server in ("docker.io", "index.docker.io", "registry-1.docker.io"):
        return "https://index.docker.io/v1/"
    return server


def _login_entry(config_dir: str, server: str) -> str:
    return f"{config_dir}/fleetform-auth-{server.replace('/', '_').replace(':', '_')}"


def _write_auths(config_dir: str) -> list[str]:
    """config.json rebuilt from every login's entry, replaced in one rename."""
    directory = host_path(config_dir)
    return [
        f"tmp={directory}/config.json.$$",
        "{ printf '{\"auths\":{'; separator=",
        f"  for entry in {directory}/fleetform-auth-*; do",
        '    [ -f "$entry" ] || continue; printf %s "$separator"; cat "$entry"; separator=,',
        "  done; printf '}}\\n'; } > \"$tmp\"",
        f'mv -f "$tmp" {directory}/config.json',
    ]


def login_script(server: str, username: str | None, config_dir: str, token: str) -> str:
    """Logs in to `server` in the stack's own Docker config dir, credentials from stdin only.

    stdin holds the password, or with `username` None (a secret user name) the user name on its
    first line and the password after it. `docker login` takes a user name only on its command
    line, where `ps` shows it, so the script writes Docker's `auths` entry itself (printf is a
    shell builtin) and has Docker check it (`docker login` with stored credentials) in a private
    config dir first. Each login keeps its entry in a file of its own; config.json is rebuilt
    from them. `token` (a keyed hash of the credentials) marks the login as this resource's, so
    that the delete of a replaced login leaves the new one alone.
    """
    directory = host_path(config_dir)
    key = q(auths_key(server))
    read_user = "IFS= read -r user" if username is None else f"user={q(username)}"
    return "\n".join(
        [
            "set -e",
            "umask 077",
            f"mkdir -p {directory}",
            read_user,
            "password=$(cat)",
            "auth=$(printf '%s:%s' \"$user\" \"$password\" | base64 | tr -d '\\n')",
            "unset password",
            "check=$(mktemp -d)",
            "trap 'rm -rf \"$check\"' EXIT",
            f'printf \'{{"auths":{{"%s":{{"auth":"%s"}}}}}}\\n\' {key} "$auth" '
            '> "$check/config.json"',
            f'if ! docker --config "$check" login {q(server)} </dev/null >/dev/null; then',
            f"  echo {q(server + ': registry login failed')} >&2; exit 1",
            "fi",
            f'printf \'"%s":{{"auth":"%s"}}\' {key} "$auth" '
            f"> {host_path(_login_entry(config_dir, server))}",
            *_write_auths(config_dir),
            f"echo {q(f'{token} {LOGIN_FORMAT}')} > {host_path(login_marker(config_dir, server))}",
        ]
    )


def logout_script(server: str, config_dir: str, token: str) -> str:
    marker = host_path(login_marker(config_dir, server))
    rebuild = "\n".join(f"  {line}" for line in _write_auths(config_dir))
    return (
        f'if [ "$(cat {marker} 2>/dev/null)" = {q(f"{token} {LOGIN_FORMAT}")} ]; then\n'
        f"  rm -f {host_path(_login_entry(config_dir, server))}\n"
        f"{rebuild}\n"
        f"  rm -f {marker}\n"
        "fi"
    )


def bounded(script: str, host: str, limit: int) -> str:
    """Runs `script` under a time limit enforced on the host, in a process group of its own.

    pulumi-command waits on the SSH session without a deadline, so a host whose dockerd hangs
    would hold `pulumi up` and the stack lock forever. After `limit` seconds the whole group
    (the script and any docker CLI it waits on) gets TERM, then KILL, and the resource fails
    with a message naming the host and the limit. Stdin (the env file) reaches the script.
    """
    return f"""limit={limit}
started=$(date +%s)
# An async command's stdin is /dev/null unless redirected from a descriptor saved before it.
exec 3<&0
setsid sh -c {q(script)} <&3 3<&- &
job=$!
exec 3<&-
( while kill -0 "$job" 2>/dev/null; do
    if [ $(( $(date +%s) - started )) -ge "$limit" ]; then
      kill -TERM -"$job" 2>/dev/null; sleep 5; kill -KILL -"$job" 2>/dev/null; exit 0
    fi
    sleep 1
  done ) </dev/null >/dev/null 2>&1 &
wait "$job"
status=$?
if [ $(( $(date +%s) - started )) -ge "$limit" ]; then
  echo "{host}: the remote script did not finish within {limit}s (fleetform:commandTimeout); stopped it" >&2
fi
exit "$status\""""


def host_path(path: str) -> str:
    """A spec path for a script: `~/x` becomes "$HOME"/'x', anything else is quoted."""
    if path == "~" or path.startswith("~/"):
        rest = path[2:]
        return '"$HOME"' + ("/" + q(rest) if rest else "")
    return q(path)


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


def asset_dir(stack: str, container: str) -> str:
    return f"{STATE_DIR}/{stack}/assets/{container}"


def _asset_dir_of(stack: str, variable: str) -> str:
    """A shell word for the asset dir of the container named in `$variable`."""
    return f'{host_path(f"{STATE_DIR}/{stack}/assets")}/"${variable}"'


COPY_MISSING = """# Files of $1 missing from $2 (busybox `cp -n` skips whole existing directories).
copy_missing() {
  ( cd "$1" && find . ! -name . ) | while IFS= read -r file; do
    if [ ! -e "$2/$file" ] && [ ! -L "$2/$file" ]; then cp -Rp "$1/$file" "$2/$file"; fi
  done
}"""
"""A shell function: copies into directory $2 what $1 has and $2 lacks, never overwriting."""


def _assets_script(spec: ContainerSpec) -> str:
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
old_assets={_asset_dir_of(spec.stack, "bridged")}
if [ -n "$bridged" ] && [ -e "$old_assets/complete" ]; then
  copy_missing "$old_assets/extracted" {assets}/volume || rollback "could not bridge the assets of $bridged"
  copy_missing {assets}/extracted "$old_assets/volume" || echo "{spec.name}: could not add its assets to $bridged" >&2
fi
umask 077
"""


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


def _word(word: str) -> str:
    # Only the host side of a volume or the env file may point into the SSH user's home.
    if word.startswith("~/"):
        return host_path(word)
    return q(word)


def _run_command(spec: ContainerSpec) -> str:
    return " ".join(_word(word) for word in docker_run_argv(spec))


def _docker(spec: ContainerSpec) -> str:
    return f"docker --config {host_path(spec.docker_config)}" if spec.docker_config else "docker"


def container_create_script(spec: ContainerSpec) -> str:
    """Pulls the image for this platform, starts the container, waits until it is ready.

    The pull is by `repo@digest` with `--platform`, and the image's own architecture is checked
    (Docker 20.10 only warns on a single-arch image of another arch). Predecessors are this
    stack's containers of the same family, plus any of its containers holding one of the host
    ports this one publishes (a renamed role). They keep running beside the new container,
    unless it publishes ports or is exclusive: then they are stopped gracefully first and started
    again if the new one fails. Either way the predecessor's own resource removes it later.
    """
    name = q(spec.name)
    arch = spec.platform.split("/", 1)[1]
    image = q(spec.image)
    stack_filter = q(f"label={STACK_LABEL}={spec.stack}")
    finders = [f"docker ps -a --filter {q(f'label={FAMILY_LABEL}={spec.family}')} "
               f"--filter {stack_filter} --format '{{{{.Names}}}}'"]  # fmt: skip
    finders += [
        f"docker ps -a --filter {stack_filter} --filter publish={q(port)} --format '{{{{.Names}}}}'"
        for port in spec.published_host_ports
    ]
    if spec.stops_predecessor_first:
        # Restart what was running; after an interrupted deploy nothing may be, and then the
        # newest predecessor is the version the stack last deployed.
        stop = f"""to_restart=
if [ -n "$previous" ]; then
  running=$(docker inspect --format '{{{{if .State.Running}}}}{{{{.Name}}}}{{{{end}}}}' $previous | tr -d /)
  to_restart=${{running:-$(echo "$previous" | head -n 1)}}
  if [ -n "$running" ]; then docker stop --time {spec.stop_timeout} $running >/dev/null; fi
fi"""
        restart = 'if [ -n "$to_restart" ]; then docker start $to_restart >/dev/null || true; fi'
    else:
        stop = "to_restart="
        restart = ":"
    directories = "".join(f"mkdir -p {host_path(d)}\n" for d in spec.directories)
    directories += _directory_access(spec)
    return f"""set -e
umask 077
{_write_files(spec)}mkdir -p {host_path(spec.env_file.rsplit("/", 1)[0])}
cat > {host_path(spec.env_file)}
chmod 600 {host_path(spec.env_file)}
{directories}# One inspect for both: a container of this very name (a retained version being rolled back
# to, or the result of an interrupted run) and the image's architecture. Docker 20.10 renders
# templates on the raw JSON, so keys that may be absent are read with `index`, not as fields.
found=$(docker inspect --format \
  '{{{{if index . "State"}}}}container {{{{.RestartCount}}}}{{{{else}}}}image {{{{.Architecture}}}}{{{{end}}}}' \
  {name} {image} 2>/dev/null || true)
restarts=$(echo "$found" | awk '$1 == "container" {{print $2}}')
got=$(echo "$found" | awk '$1 == "image" {{print $2}}')
if [ -z "$got" ]; then
  {_docker(spec)} pull --quiet --platform {q(spec.platform)} {image} >/dev/null
  got=$(docker image inspect --format '{{{{.Architecture}}}}' {image})
fi
if [ "$got" != {q(arch)} ]; then
  echo "{spec.image}: image is $got but this host needs {arch}" >&2; exit 1
fi
{_check_network(spec)}{"sleep " + str(spec.wait_before_start) if spec.wait_before_start else ":"}
# Newest first; this very name is the container being started, never a predecessor.
previous=$( ( {" ; ".join(finders)} ) | awk '!seen[$0]++' | grep -vx {name} || true)
rollback() {{
  echo "{spec.name}: $1" >&2
  docker logs --tail 20 {name} >&2 2>&1 || true
  docker rm --force {name} >/dev/null 2>&1 || true
  rm -f {host_path(spec.env_file)}
  {_remove_files(spec)}{"rm -rf " + host_path(spec.asset_dir) if spec.asset_path is not None else ":"}
  {restart}
  exit 1
}}
{_assets_script(spec)}{stop}
if [ -n "$restarts" ]; then
  # Same name, same inputs (the name is a hash of them): start it rather than pull and run again.
  docker start {name} >/dev/null || rollback "docker start failed"
else
  restarts=0
  {_run_command(spec)} >/dev/null || rollback "docker run failed"
fi
waited=0
steady=0
while :; do
  state=$(docker inspect --format \
    '{{{{.Id}}}} {{{{.State.Status}}}}{{{{with index .State "Health"}}}}/{{{{.Status}}}}{{{{end}}}} {{{{.RestartCount}}}}' \
    {name} 2>/dev/null || echo "- missing -")
  id=${{state%% *}}
  state=${{state#* }}
  # A restart means the process died: with a restart policy it may look "running" again later.
  case "$state" in
    "running/healthy $restarts") break ;;
    "running $restarts") steady=$((steady + 1)); [ "$steady" -ge {spec.steady_checks} ] && break ;;
    "running/starting $restarts") steady=0 ;;
    *) rollback "exited or restarted (status and restart count: $state)" ;;
  esac
  waited=$((waited + 1))
  [ "$waited" -lt {spec.readiness_timeout} ] || rollback "not ready after {spec.readiness_timeout}s"
  sleep 1
done
{_switch_route(spec)}echo "$id\""""


def _switch_route(spec: ContainerSpec) -> str:
    """For a proxied container: route traffic to it, then stop what it replaces.

    kamal-proxy health-checks the new target and keeps the old one until it passes; if it never
    does, the deploy fails here, the old container keeps serving and is never stopped.
    """
    route = spec.route
    if route is None:
        return ""
    deploy = " ".join(
        [
            "docker exec", PROXY_CONTAINER, "kamal-proxy deploy", q(route.service),
            f"--target={q(route.target(spec.name))}", *(q(option) for option in route.deploy_options),
        ]
    )  # fmt: skip
    return f"""if ! refused=$({deploy} 2>&1); then
  rollback "kamal-proxy kept the previous target of {route.service}: $refused"
fi
if [ -n "$previous" ]; then
  running=$(docker inspect --format '{{{{if .State.Running}}}}{{{{.Name}}}}{{{{end}}}}' $previous | tr -d /)
  if [ -n "$running" ]; then docker stop --time {spec.stop_timeout} $running >/dev/null || true; fi
fi
"""


def container_read_script(spec: ContainerSpec) -> str:
    """What an update runs (new SSH credentials only): reads the container id, changes nothing."""
    return f"docker inspect --format '{{{{.Id}}}}' {q(spec.name)}"


def container_delete_script(spec: ContainerSpec) -> str:
    """Stops this version (if still running) and keeps the newest `retain` stopped versions.

    Older stopped versions go, with their images unless another container still uses them.
    Data directories stay. The env file (secrets) goes at once: `docker start` does not need it.
    """
    family = q(f"label={FAMILY_LABEL}={spec.family}")
    stack = q(f"label={STACK_LABEL}={spec.stack}")
    unroute = ""
    if spec.route is not None:
        # Only while the route still points here: a replaced version's route is its successor's.
        unroute = (
            f"if docker exec {PROXY_CONTAINER} kamal-proxy list 2>/dev/null "
            f"| grep -qF {q(spec.route.target(spec.name))}; then\n"
            f"  docker exec {PROXY_CONTAINER} kamal-proxy remove {q(spec.route.service)} "
            ">/dev/null\nfi\n"
        )
    return f"""{unroute}docker stop --time {spec.stop_timeout} {q(spec.name)} >/dev/null 2>&1 || true
rm -f {host_path(spec.env_file)}
{_remove_files(spec)}docker ps -a --filter {family} --filter {stack} --filter status=exited --filter status=created \
  --format '{{{{.Names}}}} {{{{.Image}}}}' | tail -n +{spec.retain + 1} | while read -r old image; do
  docker rm --force "$old" >/dev/null 2>&1 || true
  rm -rf {_asset_dir_of(spec.stack, "old")}
  docker image rm "$image" >/dev/null 2>&1 || true
done"""


def stack_cleanup_script(stack: str) -> str:
    """What a host keeps of a stack after its last container resource is gone: nothing.

    Runs when the host leaves the stack (or the stack is destroyed), after every container's own
    delete. Only stopped containers (retained versions) go: if this runs because the host's
    connection was replaced, the running containers belong to the new resources.
    """
    label = q(f"label={STACK_LABEL}={stack}")
    return f"""for old in $(docker ps -a --filter {label} --filter status=exited \
    --filter status=created --format '{{{{.Names}}}}'); do
  docker rm --force "$old" >/dev/null 2>&1 || true
  rm -rf {_asset_dir_of(stack, "old")}
done
{network_delete_script()}"""


def _write_files(spec: ContainerSpec) -> str:
    """Writes each file from its stdin line; contents pass through shell builtins only, never argv.

    The version's directory starts empty (a rerun after an interruption writes it again), and
    umask 077 keeps it private to the SSH user: Docker mounts the files as root anyway.
    """
    if not spec.files:
        return ""
    lines = [f"rm -rf {host_path(spec.files_dir)}"]
    for file in spec.files:
        target = host_path(spec.files_dir + file.remote)
        parent = host_path(spec.files_dir + file.remote.rsplit("/", 1)[0])
        lines += [
            f"mkdir -p {parent}",
            "IFS= read -r content",
            f"printf '%s' \"$content\" | base64 -d > {target}",
            f"chmod {file.mode} {target}",
        ]
        if file.owner:
            lines.append(f"chown {q(file.owner)} {target}")
    lines.append("content=")
    return "".join(line + "\n" for line in lines)


def _remove_files(spec: ContainerSpec) -> str:
    return f"rm -rf {host_path(spec.files_dir)}\n" if spec.files else ""


def _directory_access(spec: ContainerSpec) -> str:
    lines = []
    for access in spec.directory_access:
        if access.mode:
            lines.append(f"chmod {access.mode} {host_path(access.path)}")
        if access.owner:
            lines.append(f"chown {q(access.owner)} {host_path(access.path)}")
    return "".join(line + "\n" for line in lines)


def _check_network(spec: ContainerSpec) -> str:
    """Kamal attaches to a custom network but never creates it; fail before anything is stopped."""
    if spec.network == NETWORK:
        return ""
    return (
        f"if ! docker network inspect {q(spec.network)} >/dev/null 2>&1; then\n"
        f'  echo "{spec.name}: network {spec.network} does not exist on this host; create it '
        f'first (e.g. in a docker-setup hook)" >&2; exit 1\n'
        "fi\n"
    )
