"""Runs the real __main__.py under recording Pulumi mocks, for the graph tests of one feature."""

from __future__ import annotations

import asyncio
import os
import runpy
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pulumi


ROOT = Path(__file__).resolve().parents[2]
SEED_ARCH = {"10.203.0.11": "arm64", "10.203.0.12": "arm64", "10.203.0.13": "arm64",
             "10.203.0.14": "amd64"}  # fmt: skip
DIGEST = "sha256:" + "ab" * 32


REMOTE_COMMAND = "command:remote:Command"
SECRET_SIGNATURE = "4dabf18193072939515e22adb298388d"


def connection(inputs: dict[str, Any]) -> dict[str, Any]:
    """The SSH connection of a command; it arrives as a secret because it holds the key."""
    value: dict[str, Any] = inputs["connection"]
    return value["value"] if SECRET_SIGNATURE in value else value


class RecordingMocks(pulumi.runtime.Mocks):
    """Records every custom resource; the probe answers with the seed fleet's real arches."""

    def __init__(self) -> None:
        self.created: list[pulumi.runtime.MockResourceArgs] = []

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        self.created.append(args)
        outputs = dict(args.inputs)
        if args.typ == REMOTE_COMMAND:
            outputs["stdout"] = SEED_ARCH[connection(args.inputs)["host"]] + "\n"
        if args.typ == "docker-build:index:Image":
            outputs["digest"] = DIGEST
        return f"{args.name}-id", outputs

    def call(self, args: pulumi.runtime.MockCallArgs) -> dict[str, Any]:
        return {}


class Recorded:
    def __init__(self) -> None:
        self.resources: dict[
            str, tuple[pulumi.Resource, pulumi.ResourceOptions, dict[str, Any]]
        ] = {}
        self.direct: dict[str, set[str]] = {}

    def transformation(
        self, args: pulumi.ResourceTransformationArgs
    ) -> pulumi.ResourceTransformationResult | None:
        self.resources[args.name] = (args.resource, args.opts, dict(args.props))
        return None

    async def resolve(self) -> None:
        """Names of everything each resource waits for: explicit depends_on and data dependencies.

        Runs on the program's own event loop, where the outputs' futures live.
        """
        for name, (_, opts, props) in self.resources.items():
            found: set[pulumi.Resource] = set(opts.depends_on or [])  # type: ignore[arg-type]
            for value in _outputs_in(props):
                found |= await value.resources()
            self.direct[name] = {resource._name for resource in found}  # noqa: SLF001

    def transitive(self, name: str) -> set[str]:
        seen: set[str] = set()
        todo = [name]
        while todo:
            for dependency in self.direct[todo.pop()]:
                if dependency not in seen and dependency in self.resources:
                    seen.add(dependency)
                    todo.append(dependency)
        return seen


def _outputs_in(value: Any) -> Iterator[pulumi.Output[Any]]:
    if isinstance(value, pulumi.Output):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _outputs_in(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _outputs_in(item)


def run_program(settings: Mapping[str, str], recorded: Recorded | None = None) -> RecordingMocks:
    """A preview of __main__.py with exactly these `fleetform:` stack settings.

    With `recorded`, every resource's options and dependencies are recorded as well.
    """
    mocks = RecordingMocks()
    pulumi.runtime.set_mocks(mocks, project="fleetform", stack="unit", preview=True)
    # All of them, replacing whatever another module's graph set.
    pulumi.runtime.set_all_config({f"fleetform:{key}": value for key, value in settings.items()})

    @pulumi.runtime.test
    def run() -> pulumi.Output[Any] | None:
        if recorded is not None:
            pulumi.runtime.register_stack_transformation(recorded.transformation)
        runpy.run_path(str(ROOT / "__main__.py"), run_name="__main__")
        if recorded is None:
            return None
        return pulumi.Output.from_input(asyncio.ensure_future(recorded.resolve()))

    # The mock stack is no dev stack: it must not see the dev passphrase the suite exports.
    passphrase = os.environ.pop("PULUMI_CONFIG_PASSPHRASE", None)
    try:
        run()
    finally:
        if passphrase is not None:
            os.environ["PULUMI_CONFIG_PASSPHRASE"] = passphrase
    return mocks


def fake_ssh_files(directory: Path, hosts: Iterable[str]) -> dict[str, str]:
    """A key file and a known_hosts pinning each host; the settings that name them."""
    (directory / "id").write_text("not-a-real-key")
    (directory / "known_hosts").write_text(
        "".join(f"{host} ssh-ed25519 AAAAkey{host}\n" for host in hosts)
    )
    return {
        "sshPrivateKeyPath": str(directory / "id"),
        "knownHostsFile": str(directory / "known_hosts"),
    }


def secret_value(value: Any) -> Any:
    """The plain value of an input that must arrive as a Pulumi secret."""
    assert isinstance(value, dict) and SECRET_SIGNATURE in value, "must arrive as a secret"
    return value["value"]


def unsecret(value: Any) -> Any:
    """The plain value of an input, secret or not."""
    return value["value"] if isinstance(value, dict) and SECRET_SIGNATURE in value else value
