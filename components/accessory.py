"""Accessory: a supporting service (Redis, Postgres) with its own image, hosts and data."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi

from components import docker_scripts, proxy_scripts
from components.accessory_uploads import read_source, rendered, upload_lines
from components.container import HostContainerArgs, host_container, secret_env_of
from components.docker_host import DockerHost, RegistryLogin, registry_login
from components.config import KAMAL_DEPLOY_TIMEOUT, KAMAL_DRAIN_TIMEOUT
from components.plan import Placement
from components.proxy import Proxy


@dataclass
class AccessoryArgs:
    accessory: str
    placements: Sequence[Placement]
    hosts: Mapping[str, DockerHost]
    secret_env: Mapping[str, pulumi.Output[str]]
    stack: str
    version_key: pulumi.Output[str]
    readiness_timeout: int = 90
    repairs: Mapping[str, int] = field(default_factory=dict)
    """Repair generation by container resource name (fleetform:repairs)."""
    environ: Mapping[str, str] = field(default_factory=dict)
    """What `.erb` files see under the accessory's own env (the deploying process's env)."""
    registry: RegistryLogin | None = None
    """The accessory's own registry (Kamal's `accessories/<name>/registry`), logged in apart."""
    proxies: Mapping[str, Proxy] = field(default_factory=dict)
    """Host to its kamal-proxy: a proxied accessory is routed there and waits for it."""
    deploy_timeout: int = KAMAL_DEPLOY_TIMEOUT
    drain_timeout: int = KAMAL_DRAIN_TIMEOUT
    after: Sequence[pulumi.Resource] = ()
    """What every container of the accessory waits for (the pre-deploy hook)."""


class Accessory(pulumi.ComponentResource):
    """An accessory on its own hosts. It never sees the app image and no app change touches it."""

    containers: pulumi.Output[dict[str, str]]
    platforms: pulumi.Output[dict[str, str]]
    """Host to the platform the accessory runs with there (declared, or probed)."""

    def __init__(
        self, name: str, args: AccessoryArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("fleetform:index:Accessory", name, None, opts)
        containers: dict[str, pulumi.Output[str]] = {}
        platforms: dict[str, pulumi.Output[str]] = {}
        self.container_names: list[pulumi.Output[str]] = []
        """Every container's name (its identity), for the deploy-wide hooks' triggers."""
        for placement in args.placements:
            host = args.hosts[placement.host]
            # An accessory without a declared arch runs as whatever its host really is.
            platform: pulumi.Output[str] = (
                pulumi.Output.from_input(placement.platform)
                if placement.platform is not None
                else host.arch.apply(lambda arch: f"linux/{arch}")
            )
            secret_env = secret_env_of(placement, args.secret_env)
            docker_config = None
            depends_on: list[pulumi.Resource] = []
            if args.registry is not None:
                docker_config = f"{docker_scripts.STATE_DIR}/{args.stack}/docker-{args.accessory}"
                depends_on.append(
                    registry_login(
                        f"{name}-{placement.host}-registry-login",
                        host.connection,
                        args.registry,
                        docker_config,
                        args.version_key,
                        pulumi.ResourceOptions(parent=self, depends_on=host.ready),
                    )
                )
            route = None
            if placement.proxy is not None:
                route = proxy_scripts.route_for(
                    placement.container,
                    placement.proxy,
                    deploy_timeout=args.deploy_timeout,
                    drain_timeout=args.drain_timeout,
                )
                depends_on.append(args.proxies[placement.host].command)
            container = host_container(
                f"{name}-{placement.host}",
                HostContainerArgs(
                    host=host,
                    placement=placement,
                    reference=placement.image,
                    platform=platform,
                    stack=args.stack,
                    version_key=args.version_key,
                    secret_env=secret_env,
                    readiness_timeout=args.readiness_timeout,
                    # Old and new versions share the data directories: never both at once.
                    exclusive=True,
                    repair=args.repairs.get(f"{name}-{placement.host}", 0),
                    uploads=_uploads(placement, args.environ, secret_env),
                    docker_config=docker_config,
                    depends_on=[*depends_on, *args.after],
                    route=route,
                    names=self.container_names,
                ),
                parent=self,
            )
            containers[placement.host] = container.stdout
            platforms[placement.host] = platform
        self.containers = pulumi.Output.all(**containers).apply(dict)
        self.platforms = pulumi.Output.all(**platforms).apply(dict)
        self.register_outputs({"containers": self.containers, "platforms": self.platforms})


def _uploads(
    placement: Placement, environ: Mapping[str, str], secret_env: Mapping[str, pulumi.Output[str]]
) -> pulumi.Output[str] | None:
    """The placement's files as a secret stdin part; None without files (stdin stays as it was).

    Templates are rendered once now with empty secrets, so that an unsupported tag or a missing
    variable fails the program with its path before any resource is touched.
    """
    if not placement.files:
        return None
    sources = [(file, read_source(file)) for file in placement.files]
    clear = {**environ, **dict(placement.env_clear)}
    for file, raw in sources:
        rendered(file, raw, {**clear, **dict.fromkeys(secret_env, "")})
    names = sorted(secret_env)

    def render(values: list[str]) -> str:
        full = {**clear, **dict(zip(names, values, strict=True))}
        return upload_lines(rendered(file, raw, full) for file, raw in sources)

    # Secret even without secret env: files often hold passwords of their own.
    return pulumi.Output.secret(pulumi.Output.all(*(secret_env[n] for n in names)).apply(render))


def accessory_registry(config: pulumi.Config, placement: Placement) -> RegistryLogin | None:
    """The login for an accessory's own registry, its password from the stack's secrets."""
    if placement.registry is None:
        return None
    return RegistryLogin.from_stack(config, placement.registry)
