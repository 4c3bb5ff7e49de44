"""DockerHost: one SSH-reachable Docker engine, probed for its real architecture."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
from components import docker_scripts
from components.ssh_command import SshCommand, SshConnection


@dataclass(frozen=True)
class RegistryLogin:
    """A registry every host logs in to; the password stays a Pulumi secret end to end."""

    server: str
    username: str
    password: pulumi.Output[str]


@dataclass
class DockerHostArgs:
    address: str
    """Host name or address, as written in the deploy file."""
    user: str
    port: int
    private_key: pulumi.Output[str]
    """SSH private key (a secret)."""
    host_key: str
    """The host's public key; a host that answers with another key is refused."""
    declared_arch: str | None
    """What the deploy file says runs here, or None to learn it from the probe."""
    declared_by: str
    """Who declared the arch (`role web`), quoted in the mismatch error."""
    registry: RegistryLogin | None = None


class DockerHost(pulumi.ComponentResource):
    """A Docker host reached over SSH: connection, architecture probe, network, registry login."""

    arch: pulumi.Output[str]
    """The architecture the host really has (`amd64`/`arm64`), read by the probe."""
    connection: SshConnection
    ready: list[pulumi.Resource]
    """Resources every container on this host must wait for."""

    def __init__(
        self, name: str, args: DockerHostArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("fleetform:index:DockerHost", name, None, opts)
        self.address = args.address
        self.connection = SshConnection(
            host=args.address,
            port=args.port,
            user=args.user,
            private_key=args.private_key,
            host_key=args.host_key,
        )
        child = pulumi.ResourceOptions(parent=self)
        # The probe only re-runs when the host or its declared arch changes, so a no-op
        # preview stays a no-op; the arch check itself happens on the host (see probe_script).
        probe = SshCommand(
            f"{name}-probe",
            connection=self.connection,
            create=docker_scripts.probe_script(args.address, args.declared_arch, args.declared_by),
            triggers=[args.address, args.declared_arch or "probe"],
            opts=child,
        )
        self.arch = probe.stdout.apply(lambda out: docker_scripts.normalise_machine(out))
        after_probe = pulumi.ResourceOptions(parent=self, depends_on=[probe])
        network = SshCommand(
            f"{name}-network",
            connection=self.connection,
            create=docker_scripts.network_create_script(),
            delete=docker_scripts.network_delete_script(),
            opts=after_probe,
        )
        self.ready = [probe, network]
        if args.registry is not None:
            login = SshCommand(
                f"{name}-registry-login",
                connection=self.connection,
                create=docker_scripts.login_script(args.registry.server, args.registry.username),
                delete=docker_scripts.logout_script(args.registry.server),
                stdin=args.registry.password,
                triggers=[args.registry.server, args.registry.username, args.registry.password],
                opts=after_probe,
            )
            self.ready.append(login)
        self.register_outputs({"arch": self.arch})
