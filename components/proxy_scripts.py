"""Pure builders of the kamal-proxy scripts: the host's proxy container, and a role's route options.

One kamal-proxy runs per host, shared by every stack that deploys there, as in Kamal. It is a
host-level container named `kamal-proxy`, with no stack label: no stack's cleanup or drift sees
it as its own. Its labels record the settings it runs with (a hash) and the stack that set them.
A stack creates it when absent, replaces it when its own settings differ (an image upgrade), and
removes it only when no service is routed through it any more. Routes live in the proxy's state
volume, so a replaced proxy comes back with every stack's routes. Like docker_scripts, nothing
here runs anything, and nothing secret is interpolated.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass

from components.config import ProxyConfig, ProxyRunConfig
from components.docker_scripts import (
    NETWORK,
    PROXY_CONTAINER,
    STACK_LABEL,
    ProxyRoute,
    host_path,
    q,
)

CONFIG_LABEL = "fleetform.proxy.config"
"""A hash of the image, platform and run settings the proxy container was started with."""
OWNER_LABEL = "fleetform.proxy.stack"
"""The stack whose settings the proxy container runs with."""
STATE_VOLUME = "kamal-proxy-config"
"""kamal-proxy's state (its routes), kept across proxy replacements, as Kamal does."""
STATE_PATH = "/home/kamal-proxy/.config/kamal-proxy"
FILES_PATH = f"{STATE_PATH}/fleetform"
"""Routes' certificates and error pages, one directory per service and version (proxy_files)."""
TLS_CERTIFICATE = "tls/cert.pem"
TLS_PRIVATE_KEY = "tls/key.pem"
ERROR_PAGES = "error_pages"
# `kamal-proxy list` colours its table even when not on a terminal.
_PLAIN = r"tr -d '\033' | sed 's/\[[0-9;]*m//g'"
_WAIT_TRIES = 60  # x 0.5 s


def route_for(
    service: str,
    route: ProxyConfig,
    *,
    deploy_timeout: int,
    drain_timeout: int,
    files: str | None = None,
    error_pages: bool = False,
) -> ProxyRoute:
    """The `kamal-proxy deploy` options of a role, as Kamal derives them from `proxy`.

    `files` is the proxy-side directory this route's certificate and error pages were copied to
    (see proxy_files); `error_pages` says the deploy file names some.
    """
    check = route.healthcheck
    buffering = route.buffering
    options = [f"--host={host}" for host in route.hosts]
    options += [f"--path-prefix={prefix}" for prefix in route.path_prefixes]
    if route.strip_path_prefix is not None:
        options.append(f"--strip-path-prefix={_flag(route.strip_path_prefix)}")
    if route.ssl:
        options.append("--tls")
        if route.certificate_secret is not None:
            if files is None:
                raise ValueError(f"{service}: a custom certificate needs its files directory")
            options += [
                f"--tls-certificate-path={files}/{TLS_CERTIFICATE}",
                f"--tls-private-key-path={files}/{TLS_PRIVATE_KEY}",
            ]
    if route.ssl_redirect is not None:
        options.append(f"--tls-redirect={_flag(route.ssl_redirect)}")
    options += [
        f"--deploy-timeout={deploy_timeout}s",
        f"--drain-timeout={drain_timeout}s",
        f"--health-check-path={check.path}",
    ]
    if check.interval is not None:
        options.append(f"--health-check-interval={check.interval}s")
    if check.timeout is not None:
        options.append(f"--health-check-timeout={check.timeout}s")
    if route.response_timeout is not None:
        options.append(f"--target-timeout={route.response_timeout}s")
    options += [
        f"--buffer-requests={_flag(buffering.requests)}",
        f"--buffer-responses={_flag(buffering.responses)}",
    ]
    for name, size in (
        ("buffer-memory", buffering.memory),
        ("max-request-body", buffering.max_request_body),
        ("max-response-body", buffering.max_response_body),
    ):
        if size is not None:
            options.append(f"--{name}={size}")
    if route.forward_headers is not None:
        options.append(f"--forward-headers={_flag(route.forward_headers)}")
    options += [f"--log-request-header={header}" for header in route.request_headers]
    options += [f"--log-response-header={header}" for header in route.response_headers]
    if error_pages:
        if files is None:
            raise ValueError(f"{service}: error pages need their files directory")
        options.append(f"--error-pages={files}/{ERROR_PAGES}")
    return ProxyRoute(service=service, app_port=route.app_port, deploy_options=tuple(options))


def _flag(value: bool) -> str:
    return "true" if value else "false"


@dataclass(frozen=True)
class ProxySpec:
    """The kamal-proxy container one stack wants on one host."""

    host: str
    image: str
    platform: str
    run: ProxyRunConfig
    stack: str
    services: tuple[str, ...]
    """This stack's services on the proxy: other stacks' routes are what a change must spare."""
    docker_config: str | None = None
    """The stack's Docker client config dir, where its registry login lives."""

    @property
    def published(self) -> tuple[str, ...]:
        """`--publish` specs: http_port and https_port to the proxy's 80 and 443, per bind IP."""
        if not self.run.publish:
            return ()
        specs = []
        for address in self.run.bind_ips or (None,):
            prefix = ""
            if address is not None:
                prefix = f"[{address}]:" if ":" in address else f"{address}:"
            specs += [f"{prefix}{self.run.http_port}:80", f"{prefix}{self.run.https_port}:443"]
            if self.run.http3:
                # HTTP/3 is QUIC: UDP on the HTTPS port.
                specs.append(f"{prefix}{self.run.https_port}:443/udp")
        return tuple(specs)

    @property
    def host_ports(self) -> tuple[str, ...]:
        return (str(self.run.http_port), str(self.run.https_port)) if self.run.publish else ()

    @property
    def settings_hash(self) -> str:
        """12 hex over what the container runs with (not who asked): equal settings share it."""
        anyone = dataclasses.replace(self, stack="-", services=())
        material = json.dumps([self.image, self.platform, proxy_run_argv(anyone, "-")])
        return hashlib.sha256(material.encode()).hexdigest()[:12]


def proxy_run_argv(spec: ProxySpec, settings_hash: str) -> list[str]:
    """The `docker run` words of the proxy container (Kamal's, on fleetform's network)."""
    run = spec.run
    argv = [
        "docker", "run", "--detach", "--name", PROXY_CONTAINER,
        "--platform", spec.platform,
        "--network", NETWORK,
        "--restart", "unless-stopped",
        "--label", f"{CONFIG_LABEL}={settings_hash}",
        "--label", f"{OWNER_LABEL}={spec.stack}",
        "--volume", f"{STATE_VOLUME}:{STATE_PATH}",
        "--log-opt", f"max-size={run.log_max_size}",
    ]  # fmt: skip
    for port in spec.published:
        argv += ["--publish", port]
    if run.metrics_port is not None:
        argv.append(f"--expose={run.metrics_port}")
    for key, value in run.options:
        argv.append(f"--{key}" if value is None else f"--{key}={value}")
    argv += [spec.image, "kamal-proxy", "run"]
    if run.debug:
        argv.append("--debug")
    if run.metrics_port is not None:
        argv.append(f"--metrics-port={run.metrics_port}")
    if run.http3:
        argv.append("--http3")
    return argv


def _services_in(listed: str, exclude: Sequence[str]) -> str:
    """Shell pipeline printing the services in `kamal-proxy list` output `listed`, but `exclude`."""
    pipeline = f"echo \"{listed}\" | {_PLAIN} | sed 1d | awk 'NF {{print $1}}'"
    if exclude:
        pipeline += " | grep -vxF " + " ".join(f"-e {q(name)}" for name in exclude)
    return pipeline + " || true"


def proxy_create_script(spec: ProxySpec) -> str:
    """Ensures the host's kamal-proxy runs with this stack's settings; prints its container id.

    Same settings: the running proxy is kept (started if stopped). Other settings: refused while
    the proxy was set by another stack that still routes services through it (two stacks must
    agree on `proxy/run`); otherwise the proxy is replaced. Replacing it stops port 80/443 for
    the seconds a new kamal-proxy takes to start; app containers are not touched, and the routes
    come back from the state volume. Containers of this stack that still publish the proxy's
    ports (the web role before it was proxied) are stopped first and started again on failure.
    """
    want = spec.settings_hash
    arch = spec.platform.split("/", 1)[1]
    image = q(spec.image)
    docker = f"docker --config {host_path(spec.docker_config)}" if spec.docker_config else "docker"
    run = " ".join(q(word) for word in proxy_run_argv(spec, want))
    stack_filter = q(f"label={STACK_LABEL}={spec.stack}")
    holders = " ; ".join(
        f"docker ps --filter {stack_filter} --filter publish={port} --format '{{{{.Names}}}}'"
        for port in spec.host_ports
    )
    return f"""set -e
wait_for_proxy() {{
  tries=0
  until docker exec {PROXY_CONTAINER} kamal-proxy list >/dev/null 2>&1; do
    tries=$((tries + 1))
    if [ "$tries" -ge {_WAIT_TRIES} ]; then
      echo "{spec.host}: kamal-proxy did not answer within {_WAIT_TRIES // 2}s" >&2
      docker logs --tail 20 {PROXY_CONTAINER} >&2 2>&1 || true
      return 1
    fi
    sleep 0.5
  done
}}
found=$(docker inspect --format \\
  '{{{{index .Config.Labels "{CONFIG_LABEL}"}}}} {{{{index .Config.Labels "{OWNER_LABEL}"}}}}' \\
  {PROXY_CONTAINER} 2>/dev/null || true)
current=$(echo "$found" | awk '{{print $1}}')
owner=$(echo "$found" | awk '{{print $2}}')
if [ -n "$found" ] && [ "$current" = {q(want)} ]; then
  docker start {PROXY_CONTAINER} >/dev/null
  wait_for_proxy
  docker inspect --format '{{{{.Id}}}}' {PROXY_CONTAINER}
  exit 0
fi
{docker} pull --quiet --platform {q(spec.platform)} {image} >/dev/null
got=$(docker image inspect --format '{{{{.Architecture}}}}' {image})
if [ "$got" != {q(arch)} ]; then
  echo "{spec.image}: image is $got but this host needs {arch}" >&2; exit 1
fi
if [ -n "$found" ]; then
  if [ "$owner" != {q(spec.stack)} ]; then
    # A proxy that does not answer routes nothing now; its routes stay in the state volume.
    listed=$(docker exec {PROXY_CONTAINER} kamal-proxy list 2>/dev/null || true)
    others=$( ( {_services_in("$listed", spec.services)} ) | tr '\\n' ' ')
    if [ -n "$others" ]; then
      echo "{spec.host}: kamal-proxy here runs other settings (image or proxy/run), set by stack \\
$owner, which still routes: $others; every stack on this host must use the same proxy/run" >&2
      exit 1
    fi
  fi
  docker rm --force {PROXY_CONTAINER} >/dev/null
fi
holders=$( ( {holders or ":"} ) | awk '!seen[$0]++')
if [ -n "$holders" ]; then docker stop --time 10 $holders >/dev/null; fi
if ! {run} >/dev/null || ! wait_for_proxy; then
  docker rm --force {PROXY_CONTAINER} >/dev/null 2>&1 || true
  if [ -n "$holders" ]; then docker start $holders >/dev/null || true; fi
  echo "{spec.host}: kamal-proxy did not start" >&2
  exit 1
fi
docker inspect --format '{{{{.Id}}}}' {PROXY_CONTAINER}"""


def proxy_read_script() -> str:
    """What an update runs (new SSH credentials only): reads the proxy's id, changes nothing."""
    return f"docker inspect --format '{{{{.Id}}}}' {PROXY_CONTAINER}"


def proxy_delete_script(spec: ProxySpec) -> str:
    """Removes the proxy only if it still runs these settings and routes no service at all.

    Another stack's routes keep it; so does a successor with new settings (a replacement's
    create ran first). If the proxy does not answer, its routes are unknown: it stays.
    """
    return f"""found=$(docker inspect --format '{{{{index .Config.Labels "{CONFIG_LABEL}"}}}}' \\
  {PROXY_CONTAINER} 2>/dev/null || true)
[ "$found" = {q(spec.settings_hash)} ] || exit 0
if listed=$(docker exec {PROXY_CONTAINER} kamal-proxy list 2>/dev/null) \\
  && [ -z "$( {_services_in("$listed", ())} )" ]; then
  docker rm --force {PROXY_CONTAINER} >/dev/null
  docker volume rm {STATE_VOLUME} >/dev/null 2>&1 || true
fi
true"""
