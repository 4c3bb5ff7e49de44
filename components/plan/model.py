"""What a plan is made of: hosts, placements, proxies, and the plan itself."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from components.config import (
    Arch,
    AssetPath,
    BootConfig,
    BuilderConfig,
    Options,
    Pairs,
    ProxyConfig,
    ProxyRunConfig,
    RegistryConfig,
    SshConfig,
)

from components.config.model import AccessoryFile, DirectoryMount

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
    directories: tuple[DirectoryMount, ...]
    """Accessories only: `local` is the host dir (`~/...` or absolute), created before the run."""
    labels: Pairs
    options: Options
    """Docker long options without `--`; a None value is a flag."""
    config_hash: str
    """sha256 over every field above except `host`: a trigger that replaces only this container."""
    proxy: ProxyConfig | None = None
    """Roles only: the route kamal-proxy serves this container on, or None (not proxied)."""
    files: tuple[AccessoryFile, ...] = ()
    """Accessories only: files uploaded for each version and mounted (content read at deploy)."""
    network: str | None = None
    """Accessories only: the existing Docker network to attach to instead of fleetform's."""
    registry: RegistryConfig | None = None
    """Accessories only: the registry `image` is pulled from, logged in to on its own."""
    asset_path: AssetPath | None = None
    """Proxied roles only: the path bridged across versions by a volume of both versions' files."""

    def to_json(self) -> dict[str, Any]:
        shown = {
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
                {"host": d.local, "container": d.remote}
                | {
                    k: v
                    for k, v in (("options", d.options), ("mode", d.mode), ("owner", d.owner))
                    if v
                }
                for d in self.directories
            ],
            "labels": dict(self.labels),
            "options": [[key, value] for key, value in self.options],
            "config_hash": self.config_hash,
            "proxy": route_json(self.proxy) if self.proxy is not None else None,
            **self._accessory_json(),
        }
        if self.asset_path is not None:
            # Only when set, so that plans without asset bridging keep their documented shape.
            shown["asset_path"] = {
                "path": self.asset_path.path,
                "options": self.asset_path.options,
            }
        return shown

    def _accessory_json(self) -> dict[str, Any]:
        """Keys only accessories using them have, so other placements' JSON stays as it was."""
        extra: dict[str, Any] = {}
        if self.files:
            extra["files"] = [file_json(file) for file in self.files]
        if self.network is not None:
            extra["network"] = self.network
        if self.registry is not None:
            extra["registry"] = registry_json(self.registry)
        return extra


def file_json(file: AccessoryFile) -> dict[str, Any]:
    """An uploaded file as plans show it: where from and to, never its content."""
    return {
        "local": file.local,
        "container": file.remote,
        "mode": file.mode,
        "owner": file.owner,
        "options": file.options,
    }


def registry_json(registry: RegistryConfig) -> dict[str, Any]:
    return {
        "server": registry.server,
        "username": registry.username,
        "password_secret": registry.password_secret,
    }


def route_json(route: ProxyConfig) -> dict[str, Any]:
    """A role's route as the plan's JSON shows it."""
    shown: dict[str, Any] = {
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
    # Later keys only when set: a route that uses none keeps the placement hash it had.
    later: dict[str, Any] = {
        "path_prefixes": list(route.path_prefixes) or None,
        "strip_path_prefix": route.strip_path_prefix,
        "ssl": route.ssl or None,
        "ssl_redirect": route.ssl_redirect,
        "certificate_pem": route.certificate_secret,
        "private_key_pem": route.private_key_secret,
    }
    shown.update({key: value for key, value in later.items() if value is not None})
    return shown


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

    def _ssh_json(self) -> dict[str, Any]:
        # key_data is a private key: the plan (printed by `plan`) says only that there is one.
        ssh: dict[str, Any] = {
            "user": self.ssh.user,
            "port": self.ssh.port,
            "keys": list(self.ssh.keys),
        }
        if self.ssh.proxy is not None:
            jump = self.ssh.proxy
            ssh["proxy"] = f"{jump.user}@{jump.host}:{jump.port}"
        if self.ssh.key_data:
            ssh["key_data"] = "(a private key, not shown)"
        if self.ssh.keys_only is not None:
            ssh["keys_only"] = self.ssh.keys_only
        return ssh

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
            if self.registry.username_secret is not None:
                registry["username_secret"] = self.registry.username_secret
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
            "ssh": self._ssh_json(),
            "proxies": [proxy.to_json() for proxy in self.proxies],
            "deploy_timeout": self.deploy_timeout,
            "drain_timeout": self.drain_timeout,
            "readiness_delay": self.readiness_delay,
        }
