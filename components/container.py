"""One planned container on one DockerHost: its pull and its run, as two remote commands."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
from components import docker_scripts
from components.docker_host import DockerHost
from components.plan import Placement
from components.ssh_command import SshCommand


@dataclass
class HostContainerArgs:
    host: DockerHost
    placement: Placement
    reference: pulumi.Input[str]
    """What to pull and run: `repo@sha256:…` for app roles, the accessory's own image otherwise."""
    platform: pulumi.Input[str]
    secret_env: Mapping[str, pulumi.Output[str]] = field(default_factory=dict)
    volumes: Sequence[str] = ()
    wait_before_start: int = 0
    readiness_timeout: int = 90
    depends_on: Sequence[pulumi.Resource] = ()


def _version(reference: str, platform: str, config_hash: str, secrets: Mapping[str, str]) -> str:
    secret_digest = hashlib.sha256(json.dumps(sorted(secrets.items())).encode()).hexdigest()
    material = json.dumps([reference, platform, config_hash, secret_digest])
    return hashlib.sha256(material.encode()).hexdigest()[:12]


def host_container(
    name: str, args: HostContainerArgs, parent: pulumi.Resource
) -> tuple[SshCommand, SshCommand]:
    """Creates `<name>-pull` and `<name>` for one placement and returns (pull, container)."""
    placement = args.placement
    host = args.host
    pull = SshCommand(
        f"{name}-pull",
        connection=host.connection,
        create=pulumi.Output.all(args.reference, args.platform).apply(
            lambda values: docker_scripts.pull_script(values[0], values[1])
        ),
        delete=pulumi.Output.from_input(args.reference).apply(docker_scripts.remove_image_script),
        triggers=[args.reference, args.platform],
        opts=pulumi.ResourceOptions(parent=parent, depends_on=[*host.ready, *args.depends_on]),
    )

    secret_names = sorted(args.secret_env)
    secret_values = pulumi.Output.all(*(args.secret_env[key] for key in secret_names)).apply(
        lambda values: dict(zip(secret_names, values, strict=True))
    )
    env_file = secret_values.apply(
        lambda secrets: docker_scripts.env_file_content(
            placement.env_clear, sorted(secrets.items())
        )
    )
    # The version goes into the container name, which must change whenever the container is
    # replaced (old and new run side by side). It mixes secrets only through a hash, so it is
    # safe to show; unsecret keeps names and diffs readable.
    version = pulumi.Output.unsecret(
        pulumi.Output.all(args.reference, args.platform, secret_values).apply(
            lambda values: _version(values[0], values[1], placement.config_hash, values[2])
        )
    )
    spec = pulumi.Output.all(args.reference, args.platform, version).apply(
        lambda values: docker_scripts.ContainerSpec(
            name=f"{placement.container}-{values[2]}",
            family=placement.container,
            image=values[0],
            platform=values[1],
            cmd=placement.cmd,
            ports=tuple(placement.ports),
            volumes=(*placement.volumes, *args.volumes),
            labels=tuple(placement.labels),
            options=tuple(placement.options),
            readiness_timeout=args.readiness_timeout,
            wait_before_start=args.wait_before_start,
        )
    )
    container = SshCommand(
        name,
        connection=host.connection,
        create=spec.apply(docker_scripts.container_create_script),
        delete=spec.apply(lambda s: docker_scripts.container_delete_script(s.name)),
        stdin=env_file,
        triggers=[args.reference, args.platform, placement.config_hash, version],
        # The create script prints only the container id; stdout never holds env values.
        opts=pulumi.ResourceOptions(parent=parent, depends_on=[pull, *host.ready]),
    )
    return pull, container
