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

EXPECTED_PLUGINS = {
    "command": os.environ["FLEETFORM_COMMAND_VERSION"].removeprefix("v"),
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


def test_language_host_is_built_against_the_cli_sdk() -> None:
    if not built_toolchain():
        pytest.skip("a stock Pulumi CLI brings its own language host")
    host = Path(os.environ["FLEETFORM_TOOLCHAIN_DIR"]) / "bin" / "pulumi-language-python"
    modules = subprocess.run(
        ["go", "version", "-m", str(host)], capture_output=True, text=True, check=True
    ).stdout
    version = os.environ["FLEETFORM_PULUMI_VERSION"]
    assert f"github.com/pulumi/pulumi/sdk/v3\t{version}" in modules
    assert f"github.com/pulumi/pulumi/pkg/v3\t{version}" in modules
    assert (host.parent / "pulumi-language-python-exec").exists()


def test_local_command_runs_through_preview_up_and_destroy(
    throwaway_stack: StackFactory,
) -> None:
    """CLI, language host (the project's virtualenv), the command plugin and the backend."""

    def program() -> None:
        import pulumi
        from pulumi_command import local

        echo = local.Command("hello", create="echo hello-fleetform | tr a-z A-Z")
        pulumi.export("stdout", echo.stdout)

    stack = throwaway_stack("command", program)

    preview = stack.preview(on_output=lambda _line: None)
    # The stack resource itself plus the command.
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
