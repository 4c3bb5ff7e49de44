"""Accessory: a supporting service (Redis, Postgres) with its own image, hosts and data."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi

from components.container import HostContainerArgs, host_container, secret_env_of
from components.docker_host import DockerHost
from components.plan import Placement


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
            container = host_container(
                f"{name}-{placement.host}",
                HostContainerArgs(
                    host=host,
                    placement=placement,
                    reference=placement.image,
                    platform=platform,
                    stack=args.stack,
                    version_key=args.version_key,
                    secret_env=secret_env_of(placement, args.secret_env),
                    readiness_timeout=args.readiness_timeout,
                    # Old and new versions share the data directories: never both at once.
                    exclusive=True,
                    repair=args.repairs.get(f"{name}-{placement.host}", 0),
                    depends_on=args.after,
                    names=self.container_names,
                ),
                parent=self,
            )
            containers[placement.host] = container.stdout
            platforms[placement.host] = platform
        self.containers = pulumi.Output.all(**containers).apply(dict)
        self.platforms = pulumi.Output.all(**platforms).apply(dict)
        self.register_outputs({"containers": self.containers, "platforms": self.platforms})
