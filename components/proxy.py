"""Proxy: the host's kamal-proxy on the host's own platform, and the files a route gives it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
from pulumi_command import remote

from components import proxy_files, proxy_scripts
from components.docker_host import DockerHost
from components.hooks import Hooks
from components.plan import ProxyPlacement
from components.remote_command import host_command


@dataclass
class ProxyArgs:
    placement: ProxyPlacement
    host: DockerHost
    stack: str
    depends_on: Sequence[pulumi.Resource] = ()
    """The previous host's proxy: an image upgrade replaces one host's proxy at a time."""
    hooks: Hooks | None = None
    """pre-proxy-reboot and post-proxy-reboot run around a replacement of this proxy."""
    roles: Sequence[str] = ()
    """The roles this proxy serves (KAMAL_ROLES of its hooks)."""


class Proxy(pulumi.ComponentResource):
    """The one kamal-proxy on a host, shared with other stacks; this stack's settings for it.

    Declared arch, or the probed one: the image is pulled for that platform and its architecture
    checked on the host, as for accessories. See components/proxy_scripts.py for who owns the
    container when several stacks deploy to one host.
    """

    platform: pulumi.Output[str]
    """`linux/<arch>` the proxy runs with on this host (declared, or probed)."""
    container: pulumi.Output[str]
    """The proxy container's id."""
    command: remote.Command
    """What proxied app containers on this host wait for."""
    settings_hash: pulumi.Output[str]
    """The proxy's identity: a change replaces its container."""
    done: list[pulumi.Resource]
    """What the next host's proxy waits for: this one, and its post-proxy-reboot hook."""

    def __init__(
        self, name: str, args: ProxyArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("fleetform:index:Proxy", name, None, opts)
        placement = args.placement
        host = args.host
        self.platform = (
            pulumi.Output.from_input(placement.platform)
            if placement.platform is not None
            else host.arch.apply(lambda arch: f"linux/{arch}")
        )
        spec = self.platform.apply(
            lambda platform: proxy_scripts.ProxySpec(
                host=placement.host,
                image=placement.image,
                platform=platform,
                run=placement.run,
                stack=args.stack,
                services=placement.services,
                docker_config=host.docker_config,
            )
        )
        self.settings_hash = spec.apply(lambda s: s.settings_hash)
        hook_args = {"hosts": [placement.host], "roles": list(args.roles)}
        before: list[pulumi.Resource] = []
        if args.hooks is not None:
            pre = args.hooks.reboot_command(
                "pre-proxy-reboot",
                f"-{placement.host}",
                identity=self.settings_hash,
                depends_on=[*host.ready, *args.depends_on],
                **hook_args,
            )
            before = [pre] if pre is not None else []
        self.command = host_command(
            f"{name}-container",
            connection=host.connection,
            create=spec.apply(proxy_scripts.proxy_create_script),
            update=proxy_scripts.proxy_read_script(),
            delete=spec.apply(proxy_scripts.proxy_delete_script),
            triggers=[self.settings_hash],
            opts=pulumi.ResourceOptions(
                parent=self, depends_on=[*host.ready, *args.depends_on, *before]
            ),
        )
        post = None
        if args.hooks is not None:
            post = args.hooks.reboot_command(
                "post-proxy-reboot",
                f"-{placement.host}",
                identity=self.settings_hash,
                depends_on=[self.command],
                **hook_args,
            )
        self.done = [self.command, *([post] if post is not None else [])]
        self.container = self.command.stdout
        self.register_outputs({"platform": self.platform, "container": self.container})


@dataclass
class RouteFilesArgs:
    host: DockerHost
    service: str
    """The route's kamal-proxy service (container family): its files live under its name."""
    version_key: pulumi.Output[str]
    proxy: Proxy
    """The host's proxy: the files are copied into its state volume, owned by its user."""
    certificate: pulumi.Output[str] | None = None
    """The custom certificate's PEM (a secret), with `private_key`."""
    private_key: pulumi.Output[str] | None = None
    error_pages: tuple[tuple[str, str], ...] = ()


def route_files(
    name: str, args: RouteFilesArgs, parent: pulumi.Resource
) -> tuple[remote.Command, pulumi.Output[str]]:
    """Copies a route's certificate and error pages to the proxy; returns the command and the
    directory the route is deployed with. The PEMs travel only on stdin, a Pulumi secret."""
    connection = args.host.connection
    where = f"{connection.user}@{connection.host}:{connection.port}"
    after_proxy = pulumi.ResourceOptions(
        parent=parent, depends_on=[*args.host.ready, args.proxy.command]
    )
    # Read again whenever the proxy container is replaced: another image may run as another uid.
    owner_command = host_command(
        f"{name}-owner",
        connection=connection,
        create=proxy_files.owner_script(connection.host),
        triggers=[args.proxy.container],
        opts=after_proxy,
    )
    owner = owner_command.stdout.apply(lambda text: text.strip())
    secret = args.certificate is not None and args.private_key is not None
    pems = pulumi.Output.all(args.certificate or "", args.private_key or "")
    files = pems.apply(
        lambda values: proxy_files.RouteFiles(
            service=args.service,
            certificate=values[0] if secret else None,
            private_key=values[1] if secret else None,
            error_pages=args.error_pages,
        )
    )
    # Keyed with the stack's secret, the version reveals nothing about the PEMs it covers.
    version = pulumi.Output.unsecret(
        pulumi.Output.all(files, args.version_key, owner).apply(
            lambda values: values[0].version(values[1], where, values[2])
        )
    )
    # The same names without content: what the delete script empties.
    names = proxy_files.RouteFiles(
        service=args.service,
        certificate="" if secret else None,
        private_key="" if secret else None,
        error_pages=tuple((page, "") for page, _ in args.error_pages),
    )
    directory = version.apply(names.directory)
    stdin = pulumi.Output.all(files, version, owner).apply(
        lambda values: proxy_files.archive(values[0], values[1], values[2])
    )
    command = host_command(
        name,
        connection=connection,
        create=directory.apply(lambda path: proxy_files.files_create_script(connection.host, path)),
        update=directory.apply(lambda path: f"echo {proxy_scripts.q(path)}"),
        delete=pulumi.Output.all(version, owner).apply(
            lambda values: proxy_files.files_delete_script(names, values[0], values[1])
        ),
        stdin=pulumi.Output.secret(stdin) if secret else stdin,
        triggers=[version],
        opts=pulumi.ResourceOptions(
            parent=parent, depends_on=[*args.host.ready, args.proxy.command, owner_command]
        ),
    )
    return command, directory
