"""An accessory with files and a registry of its own, built by the real __main__.py under mocks."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from tests.components.program import fake_ssh_files, run_program, secret_value
from tests.components.program import (
    REMOTE_COMMAND,
    ROOT,
)

pytestmark = pytest.mark.components

FILE_CONTENT = 'requirepass <%= ENV["REDIS_PASSWORD"] %>\n'


@pytest.fixture(scope="module")
def created(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, dict[str, Any]]]:
    project = tmp_path_factory.mktemp("project")
    (project / "config").mkdir()
    (project / "config" / "redis.conf.erb").write_text(FILE_CONTENT)
    deploy = yaml.safe_load((ROOT / "config" / "deploy.yml").read_text())
    deploy["accessories"]["redis"].update(
        image="fleetform/redis:7.0",
        registry={"server": "10.203.0.1:5000", "username": "puller", "password": ["PULL_PW"]},
        env={"secret": ["REDIS_PASSWORD"]},
        files=["config/redis.conf.erb:/etc/redis.conf:ro"],
    )
    deploy_file = project / "config" / "deploy.yml"
    deploy_file.write_text(yaml.safe_dump(deploy))
    keys = tmp_path_factory.mktemp("keys")
    settings = {
        "deployFile": str(deploy_file),
        **fake_ssh_files(keys, (f"10.203.0.{n}" for n in (11, 12, 13, 14))),
        "REGISTRY_PASSWORD": "registry-pass",
        "APP_SECRET": "app-secret",
        "PULL_PW": "pull-pass",
        "REDIS_PASSWORD": "redis-pass-value",
        "versionKey": "unit-version-key",
    }
    mocks = run_program(settings)
    yield {r.name: r.inputs for r in mocks.created if r.typ == REMOTE_COMMAND}


def test_file_contents_travel_only_on_secret_stdin(created: dict[str, dict[str, Any]]) -> None:
    redis = created["redis-10.203.0.14"]
    stdin = secret_value(redis["stdin"])
    first_line = stdin.split("\n", 1)[0]
    assert base64.b64decode(first_line) == b"requirepass redis-pass-value\n"
    for script in (redis["create"], redis["delete"], str(redis["triggers"])):
        assert "redis-pass-value" not in script and "requirepass" not in script
    assert "base64 -d > " in redis["create"]


def test_the_accessory_pulls_with_its_own_login(created: dict[str, dict[str, Any]]) -> None:
    login = created["redis-10.203.0.14-registry-login"]
    assert secret_value(login["stdin"]) == "pull-pass"
    assert "user=puller" in login["create"]
    assert '"$HOME"/.fleetform/unit/docker-redis' in login["create"]
    create = created["redis-10.203.0.14"]["create"]
    assert 'docker --config "$HOME"/.fleetform/unit/docker-redis pull' in create
    assert "10.203.0.1:5000/fleetform/redis:7.0" in create
