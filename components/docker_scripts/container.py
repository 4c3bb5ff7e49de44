"""The create, read and delete scripts of one container resource."""

from __future__ import annotations


from components.docker_scripts.assets import asset_dir_of, assets_script
from components.docker_scripts.shell import FAMILY_LABEL, NETWORK, STACK_LABEL, host_path, q
from components.docker_scripts.spec import (
    ContainerSpec,
    PROXY_CONTAINER,
    docker_run_argv,
    shell_word,
)


def _run_command(spec: ContainerSpec) -> str:
    return " ".join(shell_word(word) for word in docker_run_argv(spec))


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
{assets_script(spec)}{stop}
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
  rm -rf {asset_dir_of(spec.stack, "old")}
  docker image rm "$image" >/dev/null 2>&1 || true
done"""


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
