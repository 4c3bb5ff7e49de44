"""Kamal's `logging`: top level and per role, merged, and passed to `docker run`."""

from __future__ import annotations

from components.config import parse_config
from components.docker_scripts import ContainerSpec, docker_run_argv
from components.plan import build_plan
from tests.unit.support import assert_config_error, config_with


def test_role_logging_merges_over_the_top_level_and_reaches_docker_run() -> None:
    raw = config_with(logging={"driver": "json-file", "options": {"max-size": "10m"}})
    raw["servers"]["web"]["logging"] = {"options": {"max-file": "3"}}
    plan = build_plan(parse_config(raw))
    web = plan.role_placements("web")[0]
    assert ("log-driver", "json-file") in web.options
    assert ("log-opt", "max-size=10m") in web.options and ("log-opt", "max-file=3") in web.options
    spec = ContainerSpec(
        name="n", family="f", stack="s", image="i", platform="linux/arm64", options=web.options
    )
    argv = docker_run_argv(spec)
    assert "--log-driver=json-file" in argv and "--log-opt=max-file=3" in argv


def test_logging_errors_name_their_path() -> None:
    assert_config_error("logging: unknown key 'level'", logging={"level": "x"})
    assert_config_error(
        "logging/driver: must be a Docker log driver name (got 'Not A Driver')",
        logging={"driver": "Not A Driver"},
    )
