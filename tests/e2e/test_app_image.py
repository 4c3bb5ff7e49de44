"""pulumi-docker-build builds and pushes the app image offline, through scripts/buildkit's builder.

The provider refuses Docker's legacy `docker` builder and would otherwise create a
`docker-container` builder that pulls moby/buildkit from Docker Hub. scripts/buildkit runs a
BuildKit daemon built from Go modules and registers it as the buildx `remote` builder named by
FLEETFORM_BUILDX_BUILDER (scripts/env.sh).
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from pulumi import automation as auto

from tests.e2e.conftest import StackFactory
from tests.support import ROOT, inventory

pytestmark = pytest.mark.e2e

IMAGE_MANIFEST_TYPES = {
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
}
ACCEPT = ", ".join(
    [
        *IMAGE_MANIFEST_TYPES,
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
    ]
)


def run(*argv: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        list(argv), capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL
    )


@pytest.fixture(scope="module")
def builder() -> str:
    """The default fleet and the BuildKit daemon, both brought up if they are not (never down)."""
    name = os.environ.get("FLEETFORM_BUILDX_BUILDER")
    if not name:
        pytest.skip("no BuildKit of ours (stock setup): the provider picks its own builder")
    fleet = run(str(ROOT / "scripts" / "fleet"), "up")
    assert fleet.returncode == 0, f"scripts/fleet up:\n{fleet.stdout}\n{fleet.stderr}"
    up = run(str(ROOT / "scripts" / "buildkit"), "up", "--registry", inventory()["registry"])
    assert up.returncode == 0, f"scripts/buildkit up:\n{up.stdout}\n{up.stderr}"
    return name


def registry_password() -> str:
    return Path(inventory()["registry_password_file"]).read_text().strip()


def up(stack: auto.Stack) -> auto.UpResult:
    lines: list[str] = []
    try:
        return stack.up(color="never", on_output=lines.append)
    except auto.CommandError as error:
        pytest.fail(f"pulumi up failed:\n{error}\n{''.join(lines)[-4000:]}")


def assert_arm64_image_manifest(repository: str, digest: str) -> None:
    """The registry holds `digest` as a plain linux/arm64 image manifest of the sample app."""
    assert digest.startswith("sha256:") and len(digest) == 71, digest
    headers, body = registry_get(f"{repository}/manifests/{digest}")
    manifest: dict[str, Any] = json.loads(body)
    # A plain image manifest, not an index with attestations: its digest is exactly what an
    # arm64 host pulls.
    media_type = manifest.get("mediaType") or headers.get("Content-Type")
    assert media_type in IMAGE_MANIFEST_TYPES, f"{media_type}: {json.dumps(manifest)[:800]}"
    assert headers.get("Docker-Content-Digest") == digest
    _, config_body = registry_get(
        f"{repository}/blobs/{manifest['config']['digest']}", accept="*/*"
    )
    config = json.loads(config_body)
    assert (config["os"], config["architecture"]) == ("linux", "arm64")
    assert config["config"]["Cmd"] == ["/bin/busybox", "httpd", "-f", "-p", "8080", "-h", "/www"]


def registry_get(path: str, accept: str = ACCEPT) -> tuple[dict[str, str], bytes]:
    inv = inventory()
    password = Path(inv["registry_password_file"]).read_text().strip()
    token = base64.b64encode(f"{inv['registry_user']}:{password}".encode()).decode()
    request = urllib.request.Request(
        f"http://{inv['registry']}/v2/{path}",
        headers={"Authorization": f"Basic {token}", "Accept": accept},
    )
    # The fleet's registry is a local address: never go through a proxy from the environment.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(request, timeout=30) as response:
        return dict(response.headers), response.read()


def test_image_builds_and_pushes_a_single_arm64_manifest_offline(
    builder: str, throwaway_stack: StackFactory
) -> None:
    inv = inventory()
    registry, password = inv["registry"], registry_password()

    def program() -> None:
        import pulumi
        import pulumi_docker_build as docker_build

        image = docker_build.Image(
            "app-arm64",
            tags=[f"{registry}/fleetform/hello:arm64"],
            context=docker_build.BuildContextArgs(location=str(ROOT / "app")),
            dockerfile=docker_build.DockerfileArgs(location=str(ROOT / "app" / "Dockerfile")),
            platforms=[docker_build.Platform.LINUX_ARM64],
            push=True,
            registries=[
                docker_build.RegistryArgs(
                    address=registry,
                    username=inv["registry_user"],
                    password=pulumi.Output.secret(password),
                )
            ],
            builder=docker_build.BuilderConfigArgs(name=builder),
            # The tag is the sample app's own: destroying this throwaway stack must not delete
            # the pushed manifest (the provider's delete removes it from the registry).
            opts=pulumi.ResourceOptions(retain_on_delete=True),
        )
        pulumi.export("digest", image.digest)

    stack = throwaway_stack("app-image", program)
    started = time.monotonic()
    result = up(stack)
    took = time.monotonic() - started
    assert result.summary.result == "succeeded"
    digest = result.outputs["digest"].value
    assert_arm64_image_manifest("fleetform/hello", digest)
    print(f"\napp image {digest} built and pushed in {took:.1f}s")

    # Nothing changed, nothing rebuilt: a second up leaves the image as it is.
    again = up(stack)
    assert again.summary.resource_changes == {"same": 2}, again.summary.resource_changes
    assert again.outputs["digest"].value == digest


def test_app_image_component_uses_the_fleetform_builder(
    builder: str, throwaway_stack: StackFactory
) -> None:
    """components.AppImage as __main__.py wires it, into a repository of its own."""
    inv = inventory()
    registry, password = inv["registry"], registry_password()

    def program() -> None:
        import pulumi

        from components.app_image import AppImage, AppImageArgs
        from components.docker_host import RegistryLogin

        image = AppImage(
            "app",
            AppImageArgs(
                repository=f"{registry}/fleetform/app-image-test",
                platforms=["linux/arm64"],
                context=str(ROOT / "app"),
                dockerfile=str(ROOT / "app" / "Dockerfile"),
                registry=RegistryLogin(
                    server=registry,
                    username=inv["registry_user"],
                    password=pulumi.Output.secret(password),
                ),
            ),
        )
        pulumi.export("digests", image.digests)

    result = up(throwaway_stack("app-image-component", program))
    assert result.summary.result == "succeeded"
    digests = result.outputs["digests"].value
    assert list(digests) == ["linux/arm64"]
    assert_arm64_image_manifest("fleetform/app-image-test", digests["linux/arm64"])
