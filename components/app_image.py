"""AppImage: the app image, built and pushed once per platform that app roles need."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_docker_build as docker_build

from components.config.model import BuildCacheConfig, SshForward
from components.docker_host import RegistryLogin


@dataclass
class AppImageArgs:
    repository: str
    """Fully qualified repository, e.g. `10.203.0.1:5000/fleetform/hello`."""
    platforms: Sequence[str]
    """Only the platforms the plan's app roles need (`linux/arm64`)."""
    context: str
    dockerfile: str
    build_args: Mapping[str, str] = field(default_factory=dict)
    registry: RegistryLogin | None = None
    target: str | None = None
    """The Dockerfile stage to build; None builds the last one."""
    secrets: Mapping[str, pulumi.Output[str]] = field(default_factory=dict)
    """Build secret id to its value, a Pulumi secret (`RUN --mount=type=secret,id=NAME`)."""
    cache: BuildCacheConfig | None = None
    cache_repository: str | None = None
    """Where `cache` is kept, e.g. `10.203.0.1:5000/fleetform/hello-build-cache`."""
    ssh: Sequence[SshForward] = ()
    after: Sequence[pulumi.Resource] = ()
    """What every build waits for (the pre-build hook)."""


def _builder() -> docker_build.BuilderConfigArgs | None:
    """The buildx builder to build with: `FLEETFORM_BUILDX_BUILDER` (set by scripts/env.sh).

    The provider refuses the engine's legacy `docker` builder and, given no builder, creates a
    `docker-container` one that pulls moby/buildkit from Docker Hub, which the fleet's machine
    cannot reach. scripts/buildkit runs a BuildKit daemon built from Go modules and registers it
    as a buildx `remote` builder of that name. Unset (a stock setup), the provider chooses.
    """
    name = os.environ.get("FLEETFORM_BUILDX_BUILDER")
    return docker_build.BuilderConfigArgs(name=name) if name else None


def _cache(
    cache: BuildCacheConfig | None, repository: str | None, arch: str
) -> tuple[list[docker_build.CacheFromArgs] | None, list[docker_build.CacheToArgs] | None]:
    """Kamal's registry cache, one tag per arch: each arch is its own build here, and builds
    sharing one cache ref would overwrite each other's cache on every deploy."""
    if cache is None or repository is None:
        return None, None
    ref = f"{repository}:{arch}"
    cache_to = docker_build.CacheToRegistryArgs(
        ref=ref,
        mode=docker_build.CacheMode(cache.mode) if cache.mode else None,
        image_manifest=cache.image_manifest,
        oci_media_types=cache.oci_media_types,
        compression=docker_build.CompressionType(cache.compression) if cache.compression else None,
        compression_level=cache.compression_level,
        force_compression=cache.force_compression,
        ignore_error=cache.ignore_error,
    )
    return (
        [docker_build.CacheFromArgs(registry=docker_build.CacheFromRegistryArgs(ref=ref))],
        [docker_build.CacheToArgs(registry=cache_to)],
    )


class AppImage(pulumi.ComponentResource):
    """The app image as a set of single-platform images, one digest per platform."""

    digests: pulumi.Output[dict[str, str]]
    """Platform (`linux/arm64`) to the digest of that platform's image manifest."""

    def __init__(
        self, name: str, args: AppImageArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("fleetform:index:AppImage", name, None, opts)
        registries = []
        if args.registry is not None:
            registries.append(
                docker_build.RegistryArgs(
                    address=args.registry.server,
                    username=args.registry.user(),
                    password=args.registry.password,
                )
            )
        images: dict[str, docker_build.Image] = {}
        for platform in args.platforms:
            arch = platform.split("/", 1)[1]
            cache_from, cache_to = _cache(args.cache, args.cache_repository, arch)
            # One build per platform, each pushed as a plain single-arch manifest: its digest
            # is exactly what a host of that arch pulls, so no host can resolve another arch.
            images[platform] = docker_build.Image(
                f"{name}-{arch}",
                tags=[f"{args.repository}:{arch}"],
                context=docker_build.BuildContextArgs(location=args.context),
                dockerfile=docker_build.DockerfileArgs(location=args.dockerfile),
                platforms=[docker_build.Platform(platform)],
                build_args=dict(args.build_args) or None,
                push=True,
                registries=registries or None,
                builder=_builder(),
                target=args.target,
                # Values reach BuildKit through the provider's session, never argv or layers;
                # the provider keeps the input secret in state.
                secrets=dict(args.secrets) or None,
                cache_from=cache_from,
                cache_to=cache_to,
                ssh=[
                    docker_build.SSHArgs(id=forward.id, paths=list(forward.paths) or None)
                    for forward in args.ssh
                ]
                or None,
                opts=pulumi.ResourceOptions(parent=self, depends_on=list(args.after)),
            )
        self.digests = (
            pulumi.Output.all(**{platform: image.digest for platform, image in images.items()})
            if images
            else pulumi.Output.from_input({})
        ).apply(dict)
        self.register_outputs({"digests": self.digests})
