"""One planned container on one DockerHost: pull, run and readiness as one remote command."""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
from pulumi_command import remote

from components import docker_scripts
from components.docker_host import DockerHost
from components.config.model import secret_source
from components.plan import Placement
from components.remote_command import host_command

_NAME_PLACEHOLDER = "@@name@@"


@dataclass
class HostContainerArgs:
    host: DockerHost
    placement: Placement
    reference: pulumi.Input[str]
    """What to pull and run: `repo@sha256:…` for app roles, the accessory's own image otherwise."""
    platform: pulumi.Input[str]
    stack: str
    version_key: pulumi.Output[str]
    """The stack's secret HMAC key: versions reveal nothing about the secrets they cover."""
    secret_env: Mapping[str, pulumi.Output[str]] = field(default_factory=dict)
    wait_before_start: int = 0
    readiness_timeout: int = 90
    stop_timeout: int = 10
    retain: int = 0
    """Stopped versions kept for rollback after this one is deleted."""
    exclusive: bool = False
    """Never beside a predecessor: stateful accessories share their data directories."""
    depends_on: Sequence[pulumi.Resource] = ()
    repair: int = 0
    """Repair generation (`drift --repair`): a new one replaces the container under a new name."""
    route: docker_scripts.ProxyRoute | None = None
    """Served through the host's kamal-proxy: no host port, traffic switched by the proxy."""
    steady_checks: int = 2
    """Seconds a container without healthcheck must keep running (Kamal's `readiness_delay`)."""


def secret_env_of(
    placement: Placement, secrets: Mapping[str, pulumi.Output[str]]
) -> dict[str, pulumi.Output[str]]:
    """The placement's secret variables, each from its secret (Kamal's `NAME:SECRET` aliases)."""
    return {
        variable: secrets[secret]
        for variable, secret in (secret_source(entry) for entry in placement.env_secret)
    }


def version(key: str, spec: docker_scripts.ContainerSpec, env_file: str, where: str) -> str:
    """12 hex of HMAC-SHA256 over everything the container's scripts do, the env file included.

    Every input of the create and delete scripts is in it, so a replacement always runs under a
    new name: the old resource's delete can never remove its successor.
    """
    unnamed = dataclasses.replace(spec, name=_NAME_PLACEHOLDER)
    material = json.dumps(
        [
            where,
            docker_scripts.container_create_script(unnamed),
            docker_scripts.container_delete_script(unnamed),
            env_file,
        ]
    )
    return hmac.new(key.encode(), material.encode(), hashlib.sha256).hexdigest()[:12]


def host_container(name: str, args: HostContainerArgs, parent: pulumi.Resource) -> remote.Command:
    """Creates the resource `<name>` for one placement; its stdout is the container id."""
    placement = args.placement
    host = args.host
    connection = host.connection
    secret_names = sorted(args.secret_env)
    secret_values = pulumi.Output.all(*(args.secret_env[key] for key in secret_names)).apply(
        lambda values: dict(zip(secret_names, values, strict=True))
    )
    env_file = secret_values.apply(
        lambda secrets: docker_scripts.env_file_content(
            placement.env_clear, sorted(secrets.items())
        )
    )
    where = f"{connection.user}@{connection.host}:{connection.port}"
    if args.repair:
        where += f"#repair{args.repair}"

    def named_spec(values: list[str]) -> docker_scripts.ContainerSpec:
        reference, platform, env, key = values
        spec = docker_scripts.ContainerSpec(
            name=_NAME_PLACEHOLDER,
            family=placement.container,
            stack=args.stack,
            image=reference,
            platform=platform,
            cmd=placement.cmd,
            ports=tuple(placement.ports),
            volumes=(
                *placement.volumes,
                *(f"{host_dir}:{path}" for host_dir, path in placement.directories),
            ),
            directories=tuple(host_dir for host_dir, _ in placement.directories),
            labels=tuple(placement.labels),
            options=tuple(placement.options),
            readiness_timeout=args.readiness_timeout,
            wait_before_start=args.wait_before_start,
            stop_timeout=args.stop_timeout,
            retain=args.retain,
            exclusive=args.exclusive,
            docker_config=host.docker_config,
            route=args.route,
            steady_checks=args.steady_checks,
            asset_path=placement.asset_path.path if placement.asset_path else None,
            asset_options=placement.asset_path.options if placement.asset_path else None,
        )
        return dataclasses.replace(
            spec, name=f"{placement.container}-{version(key, spec, env, where)}"
        )

    # The HMAC key makes the version safe to show: unsecret keeps names and diffs readable.
    spec = pulumi.Output.unsecret(
        pulumi.Output.all(args.reference, args.platform, env_file, args.version_key).apply(
            named_spec
        )
    )
    return host_command(
        name,
        connection=connection,
        create=spec.apply(docker_scripts.container_create_script),
        update=spec.apply(docker_scripts.container_read_script),
        delete=spec.apply(docker_scripts.container_delete_script),
        stdin=env_file,
        triggers=[spec.apply(lambda s: s.name)],
        # The create script prints only the container id; stdout never holds env values.
        opts=pulumi.ResourceOptions(parent=parent, depends_on=[*host.ready, *args.depends_on]),
    )
