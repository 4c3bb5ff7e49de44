"""The toolchain from scripts/bootstrap: CLI, plugins and a file backend working together offline."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from pulumi import automation as auto

from tests.e2e.conftest import StackFactory

pytestmark = pytest.mark.e2e

# pulumi-resource-command cannot be built here (its module is not served; docs/toolchain.md),
# so remote commands run through fleetform's own SshCommand dynamic resource instead.
EXPECTED_PLUGINS = {
    "docker-build": os.environ["FLEETFORM_DOCKER_BUILD_VERSION"].removeprefix("v"),
}


def built_toolchain() -> bool:
    return (Path(os.environ["FLEETFORM_TOOLCHAIN_DIR"]) / "bin" / "pulumi").exists()


def run_pulumi(*args: str) -> str:
    done = subprocess.run(
        ["pulumi", *args], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, f"pulumi {' '.join(args)} -> {done.returncode}: {done.stderr}"
    return done.stdout


def test_cli_is_the_pinned_build() -> None:
    if not built_toolchain():
        pytest.skip("a stock Pulumi CLI is in use; only the built toolchain is pinned")
    assert run_pulumi("version").strip() == os.environ["FLEETFORM_PULUMI_VERSION"]


def test_plugins_are_registered_at_the_pinned_versions() -> None:
    if not built_toolchain():
        pytest.skip("a stock Pulumi CLI acquires plugins itself")
    installed = {
        (plugin["name"], plugin["kind"], plugin["version"])
        for plugin in json.loads(run_pulumi("plugin", "ls", "--json"))
    }
    for name, version in EXPECTED_PLUGINS.items():
        assert (name, "resource", version) in installed, f"{name} {version} not in {installed}"


def test_dynamic_provider_runs_through_preview_up_and_destroy(
    throwaway_stack: StackFactory,
) -> None:
    """CLI, Python SDK, the dynamic-provider plugin script and the backend, with no network."""

    def program() -> None:
        import pulumi
        from pulumi.dynamic import CreateResult, Resource, ResourceProvider

        class Echo(ResourceProvider):
            def create(self, props: dict[str, str]) -> CreateResult:
                return CreateResult("echo", {"stdout": props["text"].upper()})

        class Hello(Resource):
            stdout: pulumi.Output[str]

            def __init__(self, name: str) -> None:
                super().__init__(Echo(), name, {"text": "hello-fleetform", "stdout": None})

        pulumi.export("stdout", Hello("hello").stdout)

    stack = throwaway_stack("dynamic", program)

    preview = stack.preview(on_output=lambda _line: None)
    # The stack resource itself plus the dynamic resource.
    assert preview.change_summary == {auto.OpType.CREATE: 2}

    up = stack.up(on_output=lambda _line: None)
    assert up.summary.result == "succeeded"
    assert up.outputs["stdout"].value == "HELLO-FLEETFORM"


def test_docker_build_provider_plans_an_image(
    throwaway_stack: StackFactory, tmp_path: Path
) -> None:
    context = tmp_path / "image"
    context.mkdir()
    (context / "Dockerfile").write_text("FROM scratch\n")

    def program() -> None:
        import pulumi_docker_build as docker_build

        docker_build.Image(
            "image",
            push=False,
            build_on_preview=False,
            context=docker_build.BuildContextArgs(location=str(context)),
            tags=["fleetform/toolchain-test:latest"],
        )

    planned: list[tuple[str, auto.OpType]] = []

    def record(event: auto.EngineEvent) -> None:
        if event.resource_pre_event is not None:
            metadata = event.resource_pre_event.metadata
            planned.append((metadata.type, metadata.op))

    stack = throwaway_stack("docker-build", program)
    stack.preview(on_output=lambda _line: None, on_event=record)

    images = [op for resource_type, op in planned if resource_type == "docker-build:index:Image"]
    assert images == [auto.OpType.CREATE]
