"""Proxy: the host's kamal-proxy, on that host's own platform, in front of its proxied roles."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
from pulumi_command import remote

from components import proxy_scripts
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
