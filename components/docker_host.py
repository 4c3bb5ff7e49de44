"""DockerHost: one SSH-reachable Docker engine, probed for its real architecture."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi

from components import docker_scripts
from components.config.model import RegistryConfig
from components.hooks import Hooks
from components.remote_command import JumpHost, SshConnection, host_command


@dataclass(frozen=True)
class RegistryLogin:
    """A registry every host logs in to; the password stays a Pulumi secret end to end."""

    server: str
    username: str
    password: pulumi.Output[str]
    secret_username: pulumi.Output[str] | None = None
    """The user name when deploy.yml names it as a secret; then `username` is empty."""

    @classmethod
    def from_stack(cls, config: pulumi.Config, registry: RegistryConfig) -> RegistryLogin:
        """The login `registry` names, its secrets read from the stack."""
        return cls(
            server=registry.server,
            username=registry.username,
            password=config.require_secret(registry.password_secret),
            secret_username=(
                config.require_secret(registry.username_secret)
                if registry.username_secret is not None
                else None
            ),
        )

    def user(self) -> pulumi.Input[str]:
        return self.secret_username if self.secret_username is not None else self.username

    def stdin(self) -> pulumi.Output[str]:
        """What the login script reads: the password, after the user name if that is secret."""
        if self.secret_username is None:
            return self.password
        return pulumi.Output.all(self.secret_username, self.password).apply(
            lambda values: f"{values[0]}\n{values[1]}"
        )

    def token(self, key: pulumi.Output[str]) -> pulumi.Output[str]:
        """A keyed hash of the credentials: marks a login on a host as this stack's current one.

        Keyed with the stack's secret, it reveals nothing about the credentials, so it may be shown.
        """
        return pulumi.Output.unsecret(
            pulumi.Output.all(key, self.user(), self.password).apply(
                lambda values: hmac.new(
                    values[0].encode(),
                    f"{self.server}\n{values[1]}\n{values[2]}".encode(),
                    hashlib.sha256,
                ).hexdigest()[:16]
            )
        )


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
    stack: str
    """The owning stack: its registry login lives in a Docker config dir of its own."""
    version_key: pulumi.Output[str]
    """The stack's secret HMAC key (fleetform:versionKey)."""
    command_timeout: int = 300
    registry: RegistryLogin | None = None
    jump: JumpHost | None = None
    """The jump host (deploy.yml's ssh/proxy) every connection to this host goes through."""
    hooks: Hooks | None = None
    """docker-setup runs once the host is probed, before fleetform sets anything up there."""
    roles: Sequence[str] = ()
    """The roles and accessories on this host (KAMAL_ROLES of docker-setup)."""


class DockerHost(pulumi.ComponentResource):
    """A Docker host reached over SSH: connection, architecture probe, network, registry login."""

    arch: pulumi.Output[str]
    """The architecture the host really has (`amd64`/`arm64`), read by the probe."""
    connection: SshConnection
    docker_config: str
    """The stack's Docker client config dir on this host (`~/.fleetform/<stack>/docker`)."""
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
            command_timeout=args.command_timeout,
            jump=args.jump,
        )
        self.docker_config = f"{docker_scripts.STATE_DIR}/{args.stack}/docker"
        child = pulumi.ResourceOptions(parent=self)
        # The probe only re-runs when the host or its declared arch changes, so a no-op
        # preview stays a no-op; the arch check itself happens on the host (see probe_script).
        probe = host_command(
            f"{name}-probe",
            connection=self.connection,
            create=docker_scripts.probe_script(args.address, args.declared_arch, args.declared_by),
            triggers=[args.declared_arch or "probe"],
            opts=child,
        )
        self.arch = probe.stdout.apply(docker_scripts.normalise_machine)
        setup = None
        if args.hooks is not None:
            # Run again exactly when the probe is: a new host, port, user or declared arch.
            setup = args.hooks.command(
                "docker-setup",
                f"-{name}",
                hosts=[args.address],
                roles=list(args.roles),
                triggers=[args.address, args.port, args.user, args.declared_arch or "probe"],
                depends_on=[probe],
                versioned=False,
            )
        after_probe = pulumi.ResourceOptions(
            parent=self, depends_on=[probe, *([setup] if setup is not None else [])]
        )
        network = host_command(
            f"{name}-network",
            connection=self.connection,
            create=docker_scripts.network_create_script(),
            delete=docker_scripts.stack_cleanup_script(args.stack),
            opts=after_probe,
        )
        self.ready = [probe, network]
        if args.registry is not None:
            registry = args.registry
            login = registry_login(
                f"{name}-registry-login",
                self.connection,
                registry,
                self.docker_config,
                args.version_key,
                after_probe,
            )
            self.ready.append(login)
        self.register_outputs({"arch": self.arch})


def registry_login(
    name: str,
    connection: SshConnection,
    registry: RegistryLogin,
    docker_config: str,
    version_key: pulumi.Output[str],
    opts: pulumi.ResourceOptions,
) -> pulumi.Resource:
    """Logs in to `registry` in `docker_config`, a Docker config dir of the stack's own.

    The delete logs out only while this login's keyed token is still there, so a replaced
    login's delete never undoes its replacement's.
    """
    token = registry.token(version_key)
    return host_command(
        name,
        connection=connection,
        create=token.apply(
            lambda token: docker_scripts.login_script(
                registry.server,
                None if registry.secret_username is not None else registry.username,
                docker_config,
                token,
            )
        ),
        delete=token.apply(
            lambda token: docker_scripts.logout_script(registry.server, docker_config, token)
        ),
        stdin=registry.stdin(),
        opts=opts,
    )
