"""Stack settings into StackSettings: host keys and timeouts, read from a stand-in config."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from components.errors import DeployConfigError
from components.stack_config import read_stack_settings
from tests.unit.test_known_hosts import fake_key


class StandInConfig:
    """The few `pulumi.Config` reads read_stack_settings makes, over plain strings."""

    def __init__(self, values: dict[str, str]) -> None:
        self.values = values

    def get(self, key: str) -> str | None:
        return self.values.get(key)

    def get_object(self, key: str) -> Any:
        value = self.values.get(key)
        return None if value is None else json.loads(value)

    def get_int(self, key: str) -> int | None:
        value = self.values.get(key)
        return None if value is None else int(value)

    def get_bool(self, key: str) -> bool | None:
        value = self.values.get(key)
        return None if value is None else value == "true"

    def get_secret(self, key: str) -> str | None:
        return self.values.get(key)

    def require_secret(self, key: str) -> str:
        return self.values[key]


def settings(**values: str) -> Any:
    config: Any = StandInConfig({"sshPrivateKey": "key", **values})
    return read_stack_settings(config)


def test_known_hosts_file_with_ports_and_host_keys(tmp_path: Path) -> None:
    on_22, on_2222, pinned = fake_key(), fake_key(), fake_key()
    known_hosts = tmp_path / "known_hosts"
    known_hosts.write_text(f"10.0.0.1 {on_22}\n[10.0.0.1]:2222 {on_2222}\n")
    read = settings(knownHostsFile=str(known_hosts), hostKeys=json.dumps({"10.0.0.2": pinned}))
    assert read.host_keys.key_for("10.0.0.1", 22) == on_22
    assert read.host_keys.key_for("10.0.0.1", 2222) == on_2222
    assert read.host_keys["10.0.0.2"] == pinned


@pytest.mark.parametrize(
    ("host_keys", "message"),
    [
        (
            "word",
            "fleetform:hostKeys: must be a map of host to public key like 'ssh-ed25519 AAAA...' "
            "(got 'word')",
        ),
        (
            json.dumps({"10.0.0.1": "word"}),
            "fleetform:hostKeys/10.0.0.1: must be 'type base64', like 'ssh-ed25519 AAAA...' "
            "(got 'word')",
        ),
    ],
)
def test_malformed_host_keys_are_a_clear_error(host_keys: str, message: str) -> None:
    with pytest.raises(DeployConfigError) as error:
        settings(hostKeys=host_keys)
    assert str(error.value) == message


@pytest.mark.parametrize("value", ["²", "٣", "0", "ninety"])
def test_timeouts_are_ascii_whole_seconds(value: str) -> None:
    with pytest.raises(DeployConfigError) as error:
        settings(readinessTimeout=value)
    assert str(error.value) == (
        f"fleetform:readinessTimeout: must be a whole number of seconds, at least 1 "
        f"(got {value!r})"
    )


def test_timeouts() -> None:
    read = settings(readinessTimeout="30")
    assert (read.readiness_timeout, read.command_timeout) == (30, 300)
    assert settings(commandTimeout="600").command_timeout == 600
