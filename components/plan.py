"""Turns a DeployConfig into a plan: which container runs on which host, on which platform.

The plan is a pure function of the config, the destination and the filters. The app image reaches
a host only through a role placement, so a host that only carries accessories never pulls it
(the kamal#1148 regression).

Rules the plan follows:
- A host's arch is the arch declared by whatever is on it: a role's `arch` (or the builder's single
  arch it inherits) or an accessory's `arch`. Two different arches on one host are a PlanError.
  Host arches are worked out from the whole config, before any filter applies.
- A placement's arch is its own declared arch, else its host's arch, else None: the platform is
  then `null`, and the deploy probes the host.
- Builds are the platforms of the planned role placements; a role placement of unknown arch needs
  every arch the builder builds.
- Filters: `roles` restricts role placements only; `hosts` restricts every placement. So accessories
  are planned whatever the role filter, on the hosts the host filter keeps.
- An accessory's relative host directory `data` is `<home>/<service>-<accessory>/data` on the host,
  where `<home>` is `~`, the SSH user's real home on the host (Kamal's layout). Absolute host
  directories are kept.
- Container names follow Kamal without its version suffix: `<service>-<role>[-<destination>]` and
  `<service>-<accessory>`. Two containers of the same name on one host are a PlanError.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from components.config import (
    NAME_PATTERN,
    NAME_RULE,
    AccessoryConfig,
    Arch,
    BootConfig,
    BuilderConfig,
    DeployConfig,
    Options,
    Pairs,
    ProxyConfig,
    ProxyRunConfig,
    RegistryConfig,
    RoleConfig,
    SshConfig,
    describe,
)
from components.errors import PlanError

Kind = Literal["role", "accessory"]


def platform_of(arch: Arch | None) -> str | None:
    """`arm64` is `linux/arm64`; an unknown arch has no platform."""
    return f"linux/{arch}" if arch is not None else None


@dataclass(frozen=True)
class HostPlan:
    """One host of the plan: its arch and what runs there."""

    host: str
    arch: Arch | None
    """The arch declared on the host, or None when nothing on it declares one (probed instead)."""
    roles: tuple[str, ...]
    accessories: tuple[str, ...]
    declared_by: tuple[str, ...] = ()
    """What declares `arch` here, e.g. (`role web`, `accessory db`), whatever the filters."""


@dataclass(frozen=True)
class Placement:
    """One container on one host: everything `docker run` needs except the app image digest."""

    host: str
    kind: Kind
    name: str
    """The role or accessory name."""
    image: str
    """Role: the app repository (`<registry>/<image>`, no tag). Accessory: its own image ref."""
    platform: str | None
    """`linux/<arch>`, or None when the arch is probed on the host at deploy time."""
    arch: Arch | None
    container: str
    cmd: str | None
    env_clear: Pairs
    env_secret: tuple[str, ...]
    """Secret names only; values come from the stack's secrets at deploy time."""
    ports: tuple[str, ...]
    """Normalised `docker -p` specs, e.g. `6379:6379` or `127.0.0.1:6379:6379`."""
    volumes: tuple[str, ...]
    """`docker -v` specs; accessory `directories` are not repeated here."""
    directories: Pairs
    """Accessories only: (absolute host dir, container path), created on the host before run."""
    labels: Pairs
    options: Options
    """Docker long options without `--`; a None value is a flag."""
    config_hash: str
    """sha256 over every field above except `host`: a trigger that replaces only this container."""
    proxy: ProxyConfig | None = None
    """Roles only: the route kamal-proxy serves this container on, or None (not proxied)."""

    def to_json(self) -> dict[str, Any]:
        return {
            "host": self.host,
            "kind": self.kind,
            "name": self.name,
            "image": self.image,
            "platform": self.platform,
            "container": self.container,
            "arch": self.arch,
            "cmd": self.cmd,
            "env": {"clear": dict(self.env_clear), "secret": list(self.env_secret)},
            "ports": list(self.ports),
            "volumes": list(self.volumes),
            "directories": [
                {"host": host_path, "container": container_path}
                for host_path, container_path in self.directories
            ],
            "labels": dict(self.labels),
            "options": [[key, value] for key, value in self.options],
            "config_hash": self.config_hash,
            "proxy": route_json(self.proxy) if self.proxy is not None else None,
        }


def route_json(route: ProxyConfig) -> dict[str, Any]:
    """A role's route as the plan's JSON shows it."""
    return {
        "hosts": list(route.hosts),
        "app_port": route.app_port,
        "healthcheck": {
            "path": route.healthcheck.path,
            "interval": route.healthcheck.interval,
            "timeout": route.healthcheck.timeout,
        },
        "response_timeout": route.response_timeout,
        "buffering": {
            "requests": route.buffering.requests,
            "responses": route.buffering.responses,
            "max_request_body": route.buffering.max_request_body,
            "max_response_body": route.buffering.max_response_body,
            "memory": route.buffering.memory,
        },
        "forward_headers": route.forward_headers,
        "logging": {
            "request_headers": list(route.request_headers),
            "response_headers": list(route.response_headers),
        },
    }


@dataclass(frozen=True)
class ProxyPlacement:
    """The one kamal-proxy container on a host that carries at least one proxied role."""

    host: str
    arch: Arch | None
    """The host's declared arch, or None: the deploy then runs the proxy as the probe says."""
    platform: str | None
    image: str
    """`proxy.run` registry/repository:version, e.g. `basecamp/kamal-proxy:v0.9.2`."""
    run: ProxyRunConfig
    services: tuple[str, ...]
    """The kamal-proxy services (container families) this plan routes here."""

    def to_json(self) -> dict[str, Any]:
        return {
            "host": self.host,
            "arch": self.arch,
            "platform": self.platform,
            "image": self.image,
            "services": list(self.services),
            "http_port": self.run.http_port if self.run.publish else None,
            "https_port": self.run.https_port if self.run.publish else None,
            "bind_ips": list(self.run.bind_ips),
        }


@dataclass(frozen=True)
class Plan:
    """Everything a deploy does, host by host, before any resource exists."""

    service: str
    destination: str | None
    image: str
    """The app image as written in the deploy file, e.g. `fleetform/hello`."""
    app_repository: str
    """Where the app image is pushed and pulled from: `<registry server>/<image>`."""
    primary_role: str
    builds: tuple[str, ...]
    """Platforms to build, sorted: only those the planned role placements need."""
    hosts: tuple[HostPlan, ...]
    """Hosts with at least one placement, in the order the deploy file first names them."""
    placements: tuple[Placement, ...]
    """Grouped by host in `hosts` order; per host, roles then accessories, in file order."""
    registry: RegistryConfig | None
    boot: BootConfig
    builder: BuilderConfig
    ssh: SshConfig
    proxies: tuple[ProxyPlacement, ...] = ()
    """One kamal-proxy per host with a proxied role placement, in `hosts` order."""
    deploy_timeout: int | None = None
    drain_timeout: int | None = None
    readiness_delay: int | None = None

    def proxy_for(self, host: str) -> ProxyPlacement | None:
        for proxy in self.proxies:
            if proxy.host == host:
                return proxy
        return None

    def placements_for(self, host: str) -> tuple[Placement, ...]:
        return tuple(placement for placement in self.placements if placement.host == host)

    def role_placements(self, role: str) -> tuple[Placement, ...]:
        return tuple(
            placement
            for placement in self.placements
            if placement.kind == "role" and placement.name == role
        )

    def accessory_placements(self, name: str) -> tuple[Placement, ...]:
        return tuple(
            placement
            for placement in self.placements
            if placement.kind == "accessory" and placement.name == name
        )

    @property
    def role_names(self) -> tuple[str, ...]:
        """Planned roles, in file order."""
        return tuple(dict.fromkeys(p.name for p in self.placements if p.kind == "role"))

    @property
    def accessory_names(self) -> tuple[str, ...]:
        """Planned accessories, in file order."""
        return tuple(dict.fromkeys(p.name for p in self.placements if p.kind == "accessory"))

    def declared_by(self, host: str) -> str:
        """What declares the host's arch, e.g. `accessory db, role web`; empty when nothing does.

        Sorted, so reordering the deploy file does not change the probe that quotes it.
        """
        for host_plan in self.hosts:
            if host_plan.host == host:
                return ", ".join(sorted(host_plan.declared_by))
        raise KeyError(host)

    def boot_limit(self, role: str) -> int | None:
        """Hosts per boot batch for `role`; a percentage resolves against its planned hosts."""
        return self.boot.limit_for(len(self.role_placements(role)))

    def to_json(self) -> dict[str, Any]:
        """The `python -m components plan --format json` document (issue #3, plus extra keys)."""
        boot_limit: int | str | None = self.boot.limit
        if self.boot.limit_percent is not None:
            boot_limit = f"{self.boot.limit_percent}%"
        registry = None
        if self.registry is not None:
            registry = {
                "server": self.registry.server,
                "username": self.registry.username,
                "password_secret": self.registry.password_secret,
            }
        return {
            "service": self.service,
            "destination": self.destination,
            "image": self.image,
            "app_repository": self.app_repository,
            "primary_role": self.primary_role,
            "builds": [{"platform": platform} for platform in self.builds],
            "hosts": [
                {
                    "host": host.host,
                    "arch": host.arch,
                    "roles": list(host.roles),
                    "accessories": list(host.accessories),
                    "declared_by": list(host.declared_by),
                }
                for host in self.hosts
            ],
            "placements": [placement.to_json() for placement in self.placements],
            "registry": registry,
            "builder": {
                "arches": list(self.builder.arches),
                "dockerfile": self.builder.dockerfile,
                "context": self.builder.context,
                "args": dict(self.builder.args),
            },
            "boot": {"limit": boot_limit, "wait": self.boot.wait},
            "ssh": {"user": self.ssh.user, "port": self.ssh.port, "keys": list(self.ssh.keys)},
            "proxies": [proxy.to_json() for proxy in self.proxies],
            "deploy_timeout": self.deploy_timeout,
            "drain_timeout": self.drain_timeout,
            "readiness_delay": self.readiness_delay,
        }


@dataclass(frozen=True)
class _Declaration:
    arch: Arch
    subject: str
    """`role web` or `accessory redis`."""
    verb: str
    """`needs` for a role (its arch may be inherited from the builder), `declares` otherwise."""


def host_declarations(config: DeployConfig) -> dict[str, list[_Declaration]]:
    """Every host of the config, in first-mention order, with what declares an arch on it.

    Raises PlanError when two declarations on one host disagree.
    """
    declared: dict[str, list[_Declaration]] = {}
    for role in config.roles:
        for host in role.hosts:
            _declare(declared.setdefault(host, []), host, role.arch, f"role {role.name}", "needs")
    for accessory in config.accessories:
        subject = f"accessory {accessory.name}"
        for host in accessory.hosts:
            _declare(declared.setdefault(host, []), host, accessory.arch, subject, "declares")
    return declared


def host_arches(config: DeployConfig) -> dict[str, Arch | None]:
    """Every host of the config, in first-mention order, with the arch declared on it."""
    return _arches(host_declarations(config))


def _arches(declarations: Mapping[str, Sequence[_Declaration]]) -> dict[str, Arch | None]:
    return {host: found[0].arch if found else None for host, found in declarations.items()}


def _declare(
    found: list[_Declaration], host: str, arch: Arch | None, subject: str, verb: str
) -> None:
    if arch is None:
        return
    if found and found[0].arch != arch:
        first = found[0]
        raise PlanError(
            f"{host}: {first.subject} {first.verb} {first.arch} but {subject} {verb} {arch}"
        )
    found.append(_Declaration(arch, subject, verb))


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
    arches = _arches(declarations)
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
    """Two roles on one kamal-proxy may not claim the same host name (or both claim every one)."""
    claimed: dict[str, str] = {}
    for placement in proxied:
        assert placement.proxy is not None
        for name in placement.proxy.hosts or ("*",):
            other = claimed.setdefault(name, placement.name)
            if other != placement.name:
                what = "every host name" if name == "*" else f"host {name}"
                raise PlanError(
                    f"{host}: roles {other} and {placement.name} would both serve {what} through "
                    f"kamal-proxy; give each its own proxy/host"
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
    return _placement(
        host=host,
        kind="role",
        name=role.name,
        image=config.app_repository,
        arch=arch,
        container=container,
        cmd=role.cmd,
        env_clear=role.env.clear,
        env_secret=role.env.secret,
        ports=role.ports,
        volumes=config.volumes,
        directories=(),
        labels=(*labels, *sorted(role.labels)),
        options=role.options,
        proxy=role.proxy,
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
    container = _scoped(f"{config.service}-{accessory.name}", scope)
    labels: list[tuple[str, str]] = [("service", config.service), ("accessory", accessory.name)]
    if destination is not None:
        labels.append(("destination", destination))
    # `~` is the SSH user's real home on the host, whoever that user is (scripts expand it).
    directories = tuple(
        (local if local.startswith("/") else f"~/{container}/{local}", remote)
        for local, remote in accessory.directories
    )
    return _placement(
        host=host,
        kind="accessory",
        name=accessory.name,
        image=accessory.image,
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
    directories: Pairs,
    labels: Pairs,
    options: Options,
    proxy: ProxyConfig | None = None,
) -> Placement:
    platform = platform_of(arch)
    # Hashed in file order: reordering env in the file replaces the container, which is harmless,
    # while a canonical sort could hide a real change in the order of repeated docker options.
    shape: list[Any] = [kind, name, image, platform, container, cmd, env_clear, env_secret, ports, volumes,
             directories, labels, options]  # fmt: skip
    if proxy is not None:
        # Only proxied placements hash their route: unproxied ones keep the hashes they had.
        shape.append(route_json(proxy))
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
    )
