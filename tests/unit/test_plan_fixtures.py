"""Planner fixtures: each tests/fixtures/deploy_<feature>.yml beside its expected plan JSON.

An `x-test` mapping in a fixture holds the planner arguments (`destination`, `roles`, `hosts`).
After a deliberate change, regenerate the expected files and review the diff:
`FLEETFORM_UPDATE_FIXTURES=1 python -m pytest tests/unit/test_plan_fixtures.py`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.config import load_config
from components.plan import Plan, build_plan
from components.config.model import DirectoryMount

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
# deploy_<feature>.yml, but not destination files such as deploy_<feature>.staging.yml.
DEPLOY_FILES = sorted(path for path in FIXTURES.glob("deploy_*.yml") if "." not in path.stem)


def plan_fixture(path: Path) -> Plan:
    arguments: dict[str, Any] = yaml.safe_load(path.read_text()).get("x-test", {})
    config = load_config(path, arguments.get("destination"))
    return build_plan(config, roles=arguments.get("roles"), hosts=arguments.get("hosts"))


def expected_path(path: Path) -> Path:
    return path.with_name(f"{path.stem}.plan.json")


def test_every_fixture_has_an_expected_plan() -> None:
    assert len(DEPLOY_FILES) >= 6
    missing = [path.name for path in DEPLOY_FILES if not expected_path(path).is_file()]
    assert not missing or os.environ.get("FLEETFORM_UPDATE_FIXTURES"), missing


@pytest.mark.parametrize("path", DEPLOY_FILES, ids=lambda path: path.stem)
def test_plan_matches_fixture(path: Path) -> None:
    actual = plan_fixture(path).to_json()
    expected_file = expected_path(path)
    if os.environ.get("FLEETFORM_UPDATE_FIXTURES"):
        expected_file.write_text(json.dumps(actual, indent=2) + "\n")
    assert actual == json.loads(expected_file.read_text())


def test_seed_fleet_never_puts_the_app_image_on_the_redis_host() -> None:
    """kamal#1148: the amd64 Redis host must not pull (or even be asked to pull) the arm64 app."""
    plan = plan_fixture(FIXTURES / "deploy_seed_fleet.yml")
    redis_host = plan.placements_for("10.0.0.4")
    assert [(p.kind, p.name, p.image, p.platform) for p in redis_host] == [
        ("accessory", "redis", "redis:7.0", "linux/amd64")
    ]
    assert plan.builds == ("linux/arm64",)
    app_hosts = {p.host for p in plan.placements if p.image == plan.app_repository}
    assert app_hosts == {"10.0.0.1", "10.0.0.2", "10.0.0.3"}
    assert {h.host: h.arch for h in plan.hosts} == {
        "10.0.0.1": "arm64",
        "10.0.0.2": "arm64",
        "10.0.0.3": "arm64",
        "10.0.0.4": "amd64",
    }
    db = plan.accessory_placements("db")[0]
    assert (db.platform, db.directories) == (
        "linux/arm64",
        (DirectoryMount("~/hello-db/data", "/var/lib/postgresql/data"),),
    )


def test_json_has_at_least_the_keys_of_issue_3() -> None:
    document = plan_fixture(FIXTURES / "deploy_seed_fleet.yml").to_json()
    assert {"service", "destination", "builds", "hosts", "placements"} <= set(document)
    assert set(document["builds"][0]) == {"platform"}
    assert {"host", "arch", "roles", "accessories"} <= set(document["hosts"][0])
    assert {"host", "kind", "name", "image", "platform", "container"} <= set(
        document["placements"][0]
    )
