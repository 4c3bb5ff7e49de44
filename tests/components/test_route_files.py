"""A route's certificate copy under Pulumi mocks: secret stdin, ordering, no PEM in scripts."""

from __future__ import annotations

import base64
import io
import tarfile
from types import SimpleNamespace
from typing import Any

import pulumi
import pytest
from pulumi_command import remote

from components.remote_command import SshConnection

pytestmark = pytest.mark.components

CERT = "-----BEGIN CERTIFICATE-----\nCERTBODY\n-----END CERTIFICATE-----\n"
SECRET_SIGNATURE = "4dabf18193072939515e22adb298388d"
KEY = "-----BEGIN PRIVATE KEY-----\nKEYBODY\n-----END PRIVATE KEY-----\n"


class Mocks(pulumi.runtime.Mocks):
    def __init__(self) -> None:
        self.created: dict[str, pulumi.runtime.MockResourceArgs] = {}

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        self.created[args.name] = args
        outputs = dict(args.inputs)
        outputs["stdout"] = "1001:1001\n" if args.name.endswith("-owner") else "proxy-id\n"
        return f"{args.name}-id", outputs

    def call(self, args: pulumi.runtime.MockCallArgs) -> dict[str, Any]:
        return {}


def test_the_pems_reach_the_host_only_as_secret_stdin() -> None:
    mocks = Mocks()
    pulumi.runtime.set_mocks(mocks, project="fleetform", stack="unit", preview=False)
    from components.proxy import RouteFilesArgs, route_files

    @pulumi.runtime.test
    def run() -> pulumi.Output[Any]:
        connection = SshConnection("10.0.0.1", 22, "root", "k", "ssh-ed25519 AAAA", 60)
        proxy_command = remote.Command("proxy", connection=connection.args(), create="true")
        host = SimpleNamespace(connection=connection, ready=[])
        proxy = SimpleNamespace(command=proxy_command, container=proxy_command.stdout)
        parent = pulumi.ComponentResource("test:index:Parent", "parent")
        command, directory = route_files(
            "web-10.0.0.1-proxy-files",
            RouteFilesArgs(
                host=host,  # type: ignore[arg-type]
                service="app-web-unit",
                version_key=pulumi.Output.secret("version-key"),
                proxy=proxy,  # type: ignore[arg-type]
                certificate=pulumi.Output.secret(CERT),
                private_key=pulumi.Output.secret(KEY),
                error_pages=(("503.html", "down"),),
            ),
            parent,
        )

        def check(path: str) -> None:
            inputs = mocks.created["web-10.0.0.1-proxy-files"].inputs
            assert path.startswith("/home/kamal-proxy/.config/kamal-proxy/fleetform/app-web-unit/")
            for script in ("create", "delete", "update"):
                assert "KEYBODY" not in inputs[script] and "CERTBODY" not in inputs[script]
            # The engine gets stdin as a secret, so the state holds it encrypted.
            assert SECRET_SIGNATURE in inputs["stdin"]
            stdin = inputs["stdin"]["value"]
            tar = tarfile.open(fileobj=io.BytesIO(base64.b64decode(stdin)))
            key = next(m for m in tar.getmembers() if m.name.endswith("tls/key.pem"))
            assert (key.mode, key.uid, key.gid) == (0o600, 1001, 1001)
            assert mocks.created["web-10.0.0.1-proxy-files-owner"].inputs["triggers"][-1] == (
                "proxy-id\n"
            )

        return pulumi.Output.all(directory, command.id).apply(lambda values: check(values[0]))

    run()
