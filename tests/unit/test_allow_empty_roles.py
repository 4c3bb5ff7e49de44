"""`allow_empty_roles`: a role without hosts is refused unless it is set; the primary never empty."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from components.config import load_config, parse_config
from components.plan import build_plan
from tests.unit.support import DELETE, assert_config_error, config_with

WITH_JOBS: dict[str, Any] = {
    "servers": {"web": ["10.0.0.1"], "jobs": {"hosts": [], "cmd": "bin/jobs"}},
}


def test_an_empty_role_is_refused_by_default() -> None:
    assert_config_error(
        "servers/jobs/hosts: must list at least one host, or set allow_empty_roles: true "
        "(got an empty list)",
        **WITH_JOBS,
    )
    assert_config_error(
        "servers/jobs: must list at least one host, or set allow_empty_roles: true "
        "(got an empty list)",
        servers={"web": ["10.0.0.1"], "jobs": []},
    )
    assert_config_error(
        "servers/jobs: missing required key 'hosts'",
        servers={"web": ["10.0.0.1"], "jobs": {"cmd": "bin/jobs"}},
    )
    assert_config_error(
        "servers/jobs/hosts: must list at least one host, or set allow_empty_roles: true "
        "(got an empty list)",
        allow_empty_roles=False,
        **WITH_JOBS,
    )


@pytest.mark.parametrize(
    "jobs", [{"hosts": [], "cmd": "bin/jobs"}, [], {"cmd": "bin/jobs"}], ids=str
)
def test_an_empty_role_is_planned_as_nothing_when_allowed(jobs: object) -> None:
    config = parse_config(
        config_with(allow_empty_roles=True, servers={"web": ["10.0.0.1"], "jobs": jobs})
    )
    assert config.allow_empty_roles is True
    assert config.role("jobs").hosts == ()
    plan = build_plan(config)
    assert plan.role_names == ("web",)
    assert [(p.host, p.name) for p in plan.placements] == [("10.0.0.1", "web")]


def test_an_empty_role_is_still_validated() -> None:
    assert_config_error(
        "servers/jobs: unknown key 'cmdd'",
        allow_empty_roles=True,
        servers={"web": ["10.0.0.1"], "jobs": {"hosts": [], "cmdd": "x"}},
    )


def test_the_primary_role_is_never_empty() -> None:
    assert_config_error(
        "servers/web/hosts: the primary role must list at least one host, even with "
        "allow_empty_roles (got an empty list)",
        allow_empty_roles=True,
        servers={"web": {"hosts": []}},
    )
    assert_config_error(
        "servers/jobs: the primary role must list at least one host, even with "
        "allow_empty_roles (got an empty list)",
        allow_empty_roles=True,
        primary_role="jobs",
        servers={"web": ["10.0.0.1"], "jobs": []},
    )
    assert_config_error(
        "servers: the primary role must list at least one host, even with allow_empty_roles "
        "(got an empty list)",
        allow_empty_roles=True,
        servers=[],
    )
    assert_config_error(
        "servers/web: missing required key 'hosts'",
        allow_empty_roles=True,
        servers={"web": {"hosts": DELETE, "cmd": "x"}},
    )


@pytest.mark.parametrize(
    ("value", "shown"), [("yes", "'yes'"), (1, "1"), (None, "null"), ([], "an empty list")]
)
def test_allow_empty_roles_is_a_boolean(value: object, shown: str) -> None:
    assert_config_error(
        f"allow_empty_roles: must be true or false (got {shown})", allow_empty_roles=value
    )


def test_an_accessory_on_only_empty_roles_is_refused() -> None:
    assert_config_error(
        "accessories/redis/roles: these roles have no hosts, so the accessory would run "
        "nowhere; give it host or hosts (got jobs)",
        allow_empty_roles=True,
        servers={"web": ["10.0.0.1"], "jobs": []},
        accessories={"redis": {"image": "redis:7", "roles": ["jobs"]}},
    )
    config = parse_config(
        config_with(
            allow_empty_roles=True,
            servers={"web": ["10.0.0.1"], "jobs": []},
            accessories={"redis": {"image": "redis:7", "roles": ["web", "jobs"]}},
        )
    )
    assert config.accessory("redis").hosts == ("10.0.0.1",)


BASE = """\
service: app
image: org/app
builder: {arch: arm64}
allow_empty_roles: true
servers:
  web: [10.0.0.1]
  jobs:
    hosts: [10.0.0.2]
    cmd: bin/jobs
"""


def test_a_destination_may_empty_a_role(tmp_path: Path) -> None:
    (tmp_path / "deploy.yml").write_text(BASE)
    (tmp_path / "deploy.staging.yml").write_text("servers:\n  jobs:\n    hosts: []\n")
    production = build_plan(load_config(tmp_path / "deploy.yml"))
    staging = build_plan(load_config(tmp_path / "deploy.yml", "staging"))
    assert production.role_names == ("web", "jobs")
    assert staging.role_names == ("web",)


def test_a_destination_that_empties_a_role_needs_allow_empty_roles(tmp_path: Path) -> None:
    from components.errors import DeployConfigError

    (tmp_path / "deploy.yml").write_text(BASE.replace("allow_empty_roles: true\n", ""))
    (tmp_path / "deploy.staging.yml").write_text("servers:\n  jobs:\n    hosts: []\n")
    assert build_plan(load_config(tmp_path / "deploy.yml")).role_names == ("web", "jobs")
    with pytest.raises(DeployConfigError) as raised:
        load_config(tmp_path / "deploy.yml", "staging")
    assert str(raised.value) == (
        "servers/jobs/hosts: must list at least one host, or set allow_empty_roles: true "
        "(got an empty list)"
    )
    # ...which the destination itself may set; emptying the primary stays refused.
    (tmp_path / "deploy.staging.yml").write_text("allow_empty_roles: true\nservers:\n  web: []\n")
    with pytest.raises(DeployConfigError, match="the primary role must list at least one host"):
        load_config(tmp_path / "deploy.yml", "staging")
