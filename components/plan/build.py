"""build_plan: the config, a destination and filters in; a Plan out."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any

from components.config import (
    NAME_PATTERN,
    NAME_RULE,
    AccessoryConfig,
    Arch,
    AssetPath,
    BuilderConfig,
    DeployConfig,
    Options,
    Pairs,
    ProxyConfig,
    RegistryConfig,
    RoleConfig,
    describe,
)
from components.config.model import AccessoryFile, DirectoryMount
from components.errors import PlanError

from components.plan.hosts import arches_of, host_declarations
from components.plan.model import (
    HostPlan,
    Kind,
    Placement,
    ProxyPlacement,
    Plan,
    file_json,
    platform_of,
    registry_json,
    route_json,
)


def build_plan(
    config: DeployConfig,
    *,
    destination: str | None = None,
    roles: Sequence[str] | None = None,
    hosts: Sequence[str] | None = None,
    scope: str | None = None,
) -> Plan:
    """Plans `config` for `destination` (default: the one it was loaded with), maybe filtered.

    `scope` (the Pulumi stack) suffixes every container name, so that two stacks deploying the
    same service to one host never share a container family or a data directory.
    """
    destination = destination if destination is not None else config.destination
    if destination is not None and not NAME_PATTERN.match(destination):
        raise PlanError(f"destination: {NAME_RULE} (got {describe(destination)})")
    declarations = host_declarations(config)
    arches = arches_of(declarations)
    role_filter = _role_filter(config, roles)
    host_filter = _host_filter(arches, hosts)

    roles_on: dict[str, list[RoleConfig]] = {}
    for role in config.roles:
        if role.name in role_filter:
            for host in role.hosts:
                roles_on.setdefault(host, []).append(role)
    accessories_on: dict[str, list[AccessoryConfig]] = {}
    for accessory in config.accessories:
        for host in accessory.hosts:
            accessories_on.setdefault(host, []).append(accessory)

    host_plans: list[HostPlan] = []
    placements: list[Placement] = []
    proxies: list[ProxyPlacement] = []
    for host, host_arch in arches.items():
        if host_filter is not None and host not in host_filter:
            continue
        on_host = [
            *(
                _role_placement(config, role, host, host_arch, destination, scope)
                for role in roles_on.get(host, ())
            ),
            *(
                _accessory_placement(config, accessory, host, host_arch, destination, scope)
                for accessory in accessories_on.get(host, ())
            ),
        ]
        if not on_host:
            continue
        _check_container_names(host, on_host)
        proxied = [p for p in on_host if p.proxy is not None]
        if proxied:
            _check_routes(host, proxied)
            proxies.append(
                ProxyPlacement(
                    host=host,
                    arch=host_arch,
                    platform=platform_of(host_arch),
                    image=config.proxy_run.image,
                    run=config.proxy_run,
                    services=tuple(p.container for p in proxied),
                )
            )
        placements.extend(on_host)
        host_plans.append(
            HostPlan(
                host=host,
                arch=host_arch,
                roles=tuple(p.name for p in on_host if p.kind == "role"),
                accessories=tuple(p.name for p in on_host if p.kind == "accessory"),
                declared_by=tuple(declaration.subject for declaration in declarations[host]),
            )
        )

    return Plan(
        service=config.service,
        destination=destination,
        image=config.image,
        app_repository=config.app_repository,
        primary_role=config.primary_role,
        builds=_builds(config.builder, placements),
        hosts=tuple(host_plans),
        placements=tuple(placements),
        registry=config.registry,
        boot=config.boot,
        builder=config.builder,
        ssh=config.ssh,
        proxies=tuple(proxies),
        deploy_timeout=config.deploy_timeout,
        drain_timeout=config.drain_timeout,
        readiness_delay=config.readiness_delay,
    )


def _check_routes(host: str, proxied: Sequence[Placement]) -> None:
    """Two roles on one kamal-proxy may not claim the same host name and path (or both claim
    every host name on one path): kamal-proxy routes by host, then by the longest path prefix."""
    claimed: dict[tuple[str, str], str] = {}
    for placement in proxied:
        assert placement.proxy is not None
        this = f"{placement.kind} {placement.name}"
        for name in placement.proxy.hosts or ("*",):
            for prefix in placement.proxy.path_prefixes or ("/",):
                other = claimed.setdefault((name, prefix), this)
                if other != this:
                    what = "every host name" if name == "*" else f"host {name}"
                    if prefix != "/":
                        what += f" below {prefix}"
                    both = f"{other} and {this}"
                    if other.startswith("role ") and this.startswith("role "):
                        both = f"roles {other.removeprefix('role ')} and {placement.name}"
                    raise PlanError(
                        f"{host}: {both} would both serve {what} through kamal-proxy; "
                        f"give each its own proxy/host or proxy/path_prefix"
                    )


def _role_filter(config: DeployConfig, roles: Sequence[str] | None) -> set[str]:
    known = [role.name for role in config.roles]
    if roles is None:
        return set(known)
    for name in roles:
        if name not in known:
            raise PlanError(
                f"roles filter: unknown role {describe(name)} (roles are {', '.join(known)})"
            )
    return set(roles)


def _host_filter(arches: Mapping[str, Arch | None], hosts: Sequence[str] | None) -> set[str] | None:
    if hosts is None:
        return None
    for host in hosts:
        if host not in arches:
            raise PlanError(
                f"hosts filter: unknown host {describe(host)} (not in servers or accessories)"
            )
    return set(hosts)


def _builds(builder: BuilderConfig, placements: Sequence[Placement]) -> tuple[str, ...]:
    needed: set[Arch] = set()
    for placement in placements:
        if placement.kind != "role":
            continue
        if placement.arch is None:
            needed.update(builder.arches)
        else:
            needed.add(placement.arch)
    return tuple(sorted(f"linux/{arch}" for arch in needed))


def _check_container_names(host: str, placements: Sequence[Placement]) -> None:
    seen: dict[str, Placement] = {}
    for placement in placements:
        other = seen.setdefault(placement.container, placement)
        if other is not placement:
            raise PlanError(
                f"{host}: {other.kind} {other.name} and {placement.kind} {placement.name} "
                f"would both be container {placement.container}"
            )


def _role_placement(
    config: DeployConfig,
    role: RoleConfig,
    host: str,
    host_arch: Arch | None,
    destination: str | None,
    scope: str | None,
) -> Placement:
    arch = role.arch or host_arch
    labels: list[tuple[str, str]] = [("service", config.service), ("role", role.name)]
    if destination is not None:
        labels.append(("destination", destination))
    container = _scoped(
        f"{config.service}-{role.name}" + (f"-{destination}" if destination else ""), scope
    )
    # Per host: the host's tags add env (Kamal's env.tags), so only tagged hosts' hashes change.
    env = config.env_for(role, host)
    return _placement(
        host=host,
        kind="role",
        name=role.name,
        image=config.app_repository,
        arch=arch,
        container=container,
        cmd=role.cmd,
        env_clear=env.clear,
        env_secret=env.secret,
        ports=role.ports,
        volumes=config.volumes,
        directories=(),
        labels=(*labels, *sorted(role.labels)),
        options=role.options,
        proxy=role.proxy,
        asset_path=role.asset_path,
    )


def _scoped(container: str, scope: str | None) -> str:
    if scope is None or container.endswith(f"-{scope}"):
        return container
    return f"{container}-{scope}"


def _accessory_placement(
    config: DeployConfig,
    accessory: AccessoryConfig,
    host: str,
    host_arch: Arch | None,
    destination: str | None,
    scope: str | None,
) -> Placement:
    container = _scoped(accessory.service or f"{config.service}-{accessory.name}", scope)
    labels: list[tuple[str, str]] = [("service", config.service), ("accessory", accessory.name)]
    if destination is not None:
        labels.append(("destination", destination))
    # `~` is the SSH user's real home on the host, whoever that user is (scripts expand it).
    directories = tuple(
        dataclasses.replace(
            directory,
            local=directory.local
            if directory.local.startswith("/")
            else f"~/{container}/{directory.local}",
        )
        for directory in accessory.directories
    )
    registry = accessory.registry
    return _placement(
        host=host,
        kind="accessory",
        name=accessory.name,
        image=f"{registry.server}/{accessory.image}" if registry else accessory.image,
        arch=accessory.arch or host_arch,
        container=container,
        cmd=accessory.cmd,
        env_clear=accessory.env.clear,
        env_secret=accessory.env.secret,
        ports=accessory.ports,
        volumes=accessory.volumes,
        directories=directories,
        labels=(*labels, *sorted(accessory.labels)),
        options=accessory.options,
        files=accessory.files,
        network=accessory.network,
        registry=registry,
        proxy=accessory.proxy,
    )


def _placement(
    *,
    host: str,
    kind: Kind,
    name: str,
    image: str,
    arch: Arch | None,
    container: str,
    cmd: str | None,
    env_clear: Pairs,
    env_secret: tuple[str, ...],
    ports: tuple[str, ...],
    volumes: tuple[str, ...],
    directories: tuple[DirectoryMount, ...],
    labels: Pairs,
    options: Options,
    proxy: ProxyConfig | None = None,
    files: tuple[AccessoryFile, ...] = (),
    network: str | None = None,
    registry: RegistryConfig | None = None,
    asset_path: AssetPath | None = None,
) -> Placement:
    platform = platform_of(arch)
    # Hashed in file order: reordering env in the file replaces the container, which is harmless,
    # while a canonical sort could hide a real change in the order of repeated docker options.
    shape: list[Any] = [kind, name, image, platform, container, cmd, env_clear, env_secret, ports, volumes,
             [_directory_shape(d) for d in directories], labels, options]  # fmt: skip
    if proxy is not None:
        # Only proxied placements hash their route: unproxied ones keep the hashes they had.
        shape.append(route_json(proxy))
    # Likewise for the accessory keys; a file's content is covered by the container's version.
    if files:
        shape.append([file_json(file) for file in files])
    if network is not None:
        shape.append(["network", network])
    if registry is not None:
        shape.append(registry_json(registry))
    if asset_path is not None:
        shape.append(["asset_path", asset_path.path, asset_path.options])
    config_hash = hashlib.sha256(
        json.dumps(shape, separators=(",", ":"), ensure_ascii=False).encode()
    ).hexdigest()
    return Placement(
        host=host,
        kind=kind,
        name=name,
        image=image,
        platform=platform,
        arch=arch,
        container=container,
        cmd=cmd,
        env_clear=env_clear,
        env_secret=env_secret,
        ports=ports,
        volumes=volumes,
        directories=directories,
        labels=labels,
        options=options,
        config_hash=config_hash,
        proxy=proxy,
        files=files,
        network=network,
        registry=registry,
        asset_path=asset_path,
    )


def _directory_shape(directory: DirectoryMount) -> list[str | None]:
    """[host dir, container path] as before; options, mode and owner only when one is set."""
    extra = [directory.options, directory.mode, directory.owner]
    return [directory.local, directory.remote, *(extra if any(extra) else [])]
