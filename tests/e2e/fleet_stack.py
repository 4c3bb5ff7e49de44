"""A stack of the real program on the fleet in the inventory, for the e2e suites that share it."""

from __future__ import annotations

import base64
import copy
import json
import secrets
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import yaml
from pulumi import automation as auto

from tests.support import ROOT, inventory, pulumi_command


def registry_digest(repository: str, tag: str) -> str:
    inv = inventory()
    password = Path(inv["registry_password_file"]).read_text().strip()
    request = urllib.request.Request(
        f"http://{inv['registry']}/v2/{repository}/manifests/{tag}",
        method="HEAD",
        headers={
            "Accept": "application/vnd.docker.distribution.manifest.v2+json",
            "Authorization": "Basic "
            + base64.b64encode(f"{inv['registry_user']}:{password}".encode()).decode(),
        },
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return str(response.headers["Docker-Content-Digest"])


def fleet_app(service: str) -> dict[str, Any]:
    """The head of an e2e deploy file: the busybox app image in the fleet registry, arm64."""
    inv = inventory()
    return {
        "service": service,
        "image": "fleetform/busybox",
        "registry": {
            "server": inv["registry"],
            "username": inv["registry_user"],
            "password": ["REGISTRY_PASSWORD"],
        },
        "builder": {"arch": "arm64"},
    }


class OpsStack:
    """A stack of the real program, its deploy file in a temporary directory."""

    def __init__(self, name: str, directory: Path, config: dict[str, Any]) -> None:
        inv = inventory()
        self.name = name
        self.deploy_file = directory / f"{name}.yml"
        self.stack = auto.create_or_select_stack(
            stack_name=name,
            work_dir=str(ROOT),
            opts=auto.LocalWorkspaceOptions(pulumi_command=pulumi_command()),
        )
        self.write(config)
        password = Path(inv["registry_password_file"]).read_text().strip()
        self.stack.set_all_config(
            {
                "fleetform:deployFile": auto.ConfigValue(str(self.deploy_file)),
                "fleetform:sshPrivateKeyPath": auto.ConfigValue(inv["client_key"]),
                "fleetform:knownHostsFile": auto.ConfigValue(inv["known_hosts"]),
                "fleetform:appDigests": auto.ConfigValue(
                    json.dumps({"linux/arm64": registry_digest("fleetform/busybox", "arm64")})
                ),
                "fleetform:REGISTRY_PASSWORD": auto.ConfigValue(password, secret=True),
                "fleetform:APP_SECRET": auto.ConfigValue("first-secret", secret=True),
                "fleetform:versionKey": auto.ConfigValue(secrets.token_hex(32), secret=True),
            }
        )

    def write(self, config: dict[str, Any]) -> None:
        self.config = config
        self.deploy_file.write_text(yaml.safe_dump(config, sort_keys=False))

    def edited(self) -> dict[str, Any]:
        return copy.deepcopy(self.config)

    def up(self) -> auto.UpResult:
        return self.stack.up(color="never", on_output=lambda _line: None)

    def failing_up(self) -> str:
        """The failed update's output; a failure is the resources' errors, never a traceback."""
        with pytest.raises(auto.CommandError) as failure:
            self.up()
        message = str(failure.value)
        assert "Traceback" not in message, message
        return message

    def drop(self) -> None:
        try:
            self.stack.destroy(color="never", on_output=lambda _line: None)
        finally:
            self.stack.workspace.remove_stack(self.name)
            (ROOT / "stacks" / f"Pulumi.{self.name}.yaml").unlink(missing_ok=True)
