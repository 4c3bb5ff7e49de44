"""AppRole: one app role's containers, each pulled by the digest of its own host's platform."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
from pulumi_command import remote

from components import proxy_scripts
from components.config import KAMAL_DEPLOY_TIMEOUT, KAMAL_DRAIN_TIMEOUT
from components.container import HostContainerArgs, host_container, secret_env_of
from components.docker_host import DockerHost
from components.errors import PlanError
from components.hooks import BootHooks, Hooks
from components.plan import Placement
from components.docker_scripts import ProxyRoute
from components.proxy import Proxy, RouteFilesArgs, route_files


@dataclass
class AppRoleArgs:
    role: str
    placements: Sequence[Placement]
    """This role's placements, in boot order."""
    hosts: Mapping[str, DockerHost]
    repository: str
    digests: pulumi.Output[dict[str, str]]
    """Platform to digest, from AppImage (or promoted from another stack)."""
    secret_env: Mapping[str, pulumi.Output[str]]
    stack: str
    version_key: pulumi.Output[str]
    boot_limit: int | None = None
    """Hosts per batch; each batch starts only after the previous one is ready."""
    boot_wait: int = 0
    readiness_timeout: int = 90
    retain: int = 5
    """Stopped versions kept per host for rollback (Kamal's `retain_containers`)."""
    repairs: Mapping[str, int] = field(default_factory=dict)
    """Repair generation by container resource name (fleetform:repairs)."""
    after: Sequence[pulumi.Resource] = ()
    """What this role's first batch waits for: the primary role's first batch, unless
    `boot.parallel_roles` (Kamal's primary-role barrier)."""
    proxies: Mapping[str, Proxy] = field(default_factory=dict)
    """Host to its kamal-proxy: proxied placements are routed there and wait for it."""
    deploy_timeout: int | None = None
    """Kamal's `deploy_timeout`: when set, the readiness limit of these containers too."""
    drain_timeout: int | None = None
    """Kamal's `drain_timeout`: when set, unproxied containers' stop timeout too."""
    readiness_delay: int | None = None
    """Kamal's `readiness_delay`: seconds an unproxied container must keep running."""
    proxy_secrets: Mapping[str, pulumi.Output[str]] = field(default_factory=dict)
    """Secrets by name for `proxy/ssl`'s custom certificates and keys."""
    error_pages: tuple[tuple[str, str], ...] = ()
    """`error_pages_path`'s pages (name, text), served by kamal-proxy for every proxied role."""
    hooks: Hooks | None = None
    """pre-app-boot and post-app-boot run around each batch."""


# fleetform's stop timeout for app containers (Kamal uses drain_timeout when there is no proxy).
STOP_TIMEOUT = 10


def _reference(repository: str, digests: dict[str, str], platform: str, role: str) -> str:
    if platform not in digests:
        raise PlanError(
            f"servers/{role}: no app image digest for {platform} (got {sorted(digests)})"
        )
    return f"{repository}@{digests[platform]}"


class AppRole(pulumi.ComponentResource):
    """An app role (web, jobs) on its hosts; the app image reaches a host only through this."""

    containers: pulumi.Output[dict[str, str]]
    """Host to the id of the container this role runs there."""

    def __init__(
        self, name: str, args: AppRoleArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("fleetform:index:AppRole", name, None, opts)
        limit = args.boot_limit or len(args.placements) or 1
        self.first_batch: list[pulumi.Resource] = []
        previous_batch: list[pulumi.Resource] = []
        containers: dict[str, pulumi.Output[str]] = {}
        self.container_names: list[pulumi.Output[str]] = []
        """Every container's name (its identity), for the deploy-wide hooks' triggers."""
        for start in range(0, len(args.placements), limit):
            batch: list[remote.Command] = []
            names: list[pulumi.Output[str]] = []
            boot_hooks = BootHooks(
                args.hooks,
                f"-{name}-{start // limit}",
                args.role,
                [p.host for p in args.placements[start : start + limit]],
                [
                    *(previous_batch if start else args.after),
                    *(
                        r
                        for p in args.placements[start : start + limit]
                        for r in args.hosts[p.host].ready
                    ),
                ],
            )
            for placement in args.placements[start : start + limit]:
                if placement.platform is None:
                    # A role pulls by the digest of its platform, so it cannot wait for a probe.
                    raise PlanError(
                        f"servers/{args.role}/arch: {placement.host} has no declared arch and "
                        f"builder/arch builds several (got none)"
                    )
                platform = placement.platform
                route = None
                # The first batch waits for `after` (the primary role's first batch), later ones
                # for the batch before them.
                depends_on = [*(previous_batch if start else args.after), *boot_hooks.before]
                stop_timeout = STOP_TIMEOUT
                steady_checks = 2
                if placement.proxy is not None:
                    route = self._route(name, args, placement, depends_on)
                else:
                    stop_timeout = args.drain_timeout or STOP_TIMEOUT
                    steady_checks = (
                        max(args.readiness_delay, 1) if args.readiness_delay is not None else 2
                    )
                reference = args.digests.apply(
                    lambda digests, p=platform: _reference(args.repository, digests, p, args.role)
                )
                container = host_container(
                    f"{name}-{placement.host}",
                    HostContainerArgs(
                        host=args.hosts[placement.host],
                        placement=placement,
                        reference=reference,
                        platform=platform,
                        stack=args.stack,
                        version_key=args.version_key,
                        secret_env=secret_env_of(placement, args.secret_env),
                        wait_before_start=args.boot_wait if start else 0,
                        readiness_timeout=args.deploy_timeout or args.readiness_timeout,
                        stop_timeout=stop_timeout,
                        retain=args.retain,
                        repair=args.repairs.get(f"{name}-{placement.host}", 0),
                        depends_on=depends_on,
                        route=route,
                        steady_checks=steady_checks,
                        names=names,
                    ),
                    parent=self,
                )
                batch.append(container)
                containers[placement.host] = container.stdout
            self.container_names.extend(names)
            previous_batch = boot_hooks.after(batch, names)
            if not start:
                self.first_batch = previous_batch
        self.done = previous_batch
        """The last batch, or its post-app-boot hook: what a step after this role waits for."""
        self.containers = (
            pulumi.Output.all(**containers).apply(dict)
            if containers
            else (pulumi.Output.from_input({}))
        )
        self.register_outputs({"containers": self.containers})

    def _route(
        self,
        name: str,
        args: AppRoleArgs,
        placement: Placement,
        depends_on: list[pulumi.Resource],
    ) -> pulumi.Input[ProxyRoute]:
        """The placement's route; its certificate and error pages are copied first, if any."""
        proxy = placement.proxy
        assert proxy is not None
        proxy_command = args.proxies[placement.host].command

        def route_for(files: str | None) -> ProxyRoute:
            # The proxy drains the old container before it is stopped.
            return proxy_scripts.route_for(
                placement.container,
                proxy,
                deploy_timeout=args.deploy_timeout or KAMAL_DEPLOY_TIMEOUT,
                drain_timeout=args.drain_timeout or KAMAL_DRAIN_TIMEOUT,
                files=files,
                error_pages=bool(args.error_pages),
            )

        if proxy.certificate_secret is None and not args.error_pages:
            depends_on.append(proxy_command)
            return route_for(None)
        certificate = private_key = None
        if proxy.certificate_secret is not None and proxy.private_key_secret is not None:
            certificate = args.proxy_secrets[proxy.certificate_secret]
            private_key = args.proxy_secrets[proxy.private_key_secret]
        files, directory = route_files(
            f"{name}-{placement.host}-proxy-files",
            RouteFilesArgs(
                host=args.hosts[placement.host],
                service=placement.container,
                version_key=args.version_key,
                certificate=certificate,
                private_key=private_key,
                error_pages=args.error_pages,
                proxy=args.proxies[placement.host],
            ),
            parent=self,
        )
        depends_on.append(files)
        return directory.apply(route_for)
