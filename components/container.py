"""One planned container on one DockerHost: pull, run and readiness as one remote command."""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

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
    route: pulumi.Input[docker_scripts.ProxyRoute] | None = None
    """Served through the host's kamal-proxy: no host port, traffic switched by the proxy."""
    steady_checks: int = 2
    """Seconds a container without healthcheck must keep running (Kamal's `readiness_delay`)."""
    uploads: pulumi.Output[str] | None = None
    """Secret: the placement's files, one base64 line each (accessory_uploads.upload_lines)."""
    docker_config: str | None = None
    """The Docker config dir to pull with, when not the host's (an accessory's own registry)."""
    names: list[pulumi.Output[str]] | None = None
    """Collects the container's name, its identity, for the hooks that guard its replacement."""


def secret_env_of(
    placement: Placement, secrets: Mapping[str, pulumi.Output[str]]
) -> dict[str, pulumi.Output[str]]:
    """The placement's secret variables, each from its secret (Kamal's `NAME:SECRET` aliases)."""
    return {
        variable: secrets[secret]
        for variable, secret in (secret_source(entry) for entry in placement.env_secret)
    }


def version(key: str, spec: docker_scripts.ContainerSpec, stdin: str, where: str) -> str:
    """12 hex of HMAC-SHA256 over everything the container's scripts do, their stdin included.

    Stdin is the env file, after the uploaded files' contents when there are any.

    Every input of the create and delete scripts is in it, so a replacement always runs under a
    new name: the old resource's delete can never remove its successor.
    """
    unnamed = dataclasses.replace(spec, name=_NAME_PLACEHOLDER)
    material = json.dumps(
        [
            where,
            docker_scripts.container_create_script(unnamed),
            docker_scripts.container_delete_script(unnamed),
            stdin,
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
    stdin = env_file
    if args.uploads is not None:
        # The files come first on stdin: the create script reads them before the env file.
        stdin = pulumi.Output.all(args.uploads, env_file).apply(lambda parts: "".join(parts))
    where = f"{connection.user}@{connection.host}:{connection.port}"
    if args.repair:
        where += f"#repair{args.repair}"

    def named_spec(values: list[Any]) -> docker_scripts.ContainerSpec:
        reference, platform, env, key, route = values
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
                *(
                    f"{d.local}:{d.remote}" + (f":{d.options}" if d.options else "")
                    for d in placement.directories
                ),
            ),
            directories=tuple(d.local for d in placement.directories),
            labels=tuple(placement.labels),
            options=tuple(placement.options),
            readiness_timeout=args.readiness_timeout,
            wait_before_start=args.wait_before_start,
            stop_timeout=args.stop_timeout,
            retain=args.retain,
            exclusive=args.exclusive,
            docker_config=args.docker_config or host.docker_config,
            route=route,
            steady_checks=args.steady_checks,
            files=tuple(
                docker_scripts.UploadedFile(
                    remote=file.remote, mode=file.mode, owner=file.owner, options=file.options
                )
                for file in placement.files
            ),
            network=placement.network or docker_scripts.NETWORK,
            directory_access=tuple(
                docker_scripts.DirectoryAccess(path=d.local, mode=d.mode, owner=d.owner)
                for d in placement.directories
                if d.mode or d.owner
            ),
            asset_path=placement.asset_path.path if placement.asset_path else None,
            asset_options=placement.asset_path.options if placement.asset_path else None,
        )
        return dataclasses.replace(
            spec, name=f"{placement.container}-{version(key, spec, env, where)}"
        )

    # The HMAC key makes the version safe to show: unsecret keeps names and diffs readable.
    spec = pulumi.Output.unsecret(
        pulumi.Output.all(args.reference, args.platform, stdin, args.version_key, args.route).apply(
            named_spec
        )
    )
    if args.names is not None:
        args.names.append(spec.apply(lambda s: s.name))
    return host_command(
        name,
        connection=connection,
        create=spec.apply(docker_scripts.container_create_script),
        update=spec.apply(docker_scripts.container_read_script),
        delete=spec.apply(docker_scripts.container_delete_script),
        stdin=stdin,
        triggers=[spec.apply(lambda s: s.name)],
        # The create script prints only the container id; stdout never holds env values.
        opts=pulumi.ResourceOptions(parent=parent, depends_on=[*host.ready, *args.depends_on]),
    )
