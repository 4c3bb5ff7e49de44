"""Container versions: every script input changes the name, and secrets leak only through a key."""

from __future__ import annotations

import dataclasses

import pytest

from components.container import version
from components.docker_scripts import ContainerSpec

pytestmark = pytest.mark.components

SPEC = ContainerSpec(
    name="ignored", family="hello-web-dev", stack="dev", image="r@sha256:1", platform="linux/arm64"
)
ENV = "APP_SECRET=123456\n"
WHERE = "root@10.203.0.11:22"


def test_the_version_is_keyed_so_a_guessed_secret_cannot_be_confirmed_without_the_key() -> None:
    # Without the stack's key, hashing candidate secrets reproduces nothing (defect 4).
    assert version("key-a", SPEC, ENV, WHERE) != version("key-b", SPEC, ENV, WHERE)
    assert version("key-a", SPEC, ENV, WHERE) == version("key-a", SPEC, ENV, WHERE)


@pytest.mark.parametrize(
    "change",
    [
        {"readiness_timeout": 60},
        {"wait_before_start": 5},
        {"stop_timeout": 30},
        {"retain": 2},
        {"exclusive": True},
        {"ports": ("80:8080",)},
    ],
)
def test_every_script_input_changes_the_version(change: dict[str, object]) -> None:
    """Defect 1: a replacement under the same name was removed by its predecessor's delete."""
    changed = dataclasses.replace(SPEC, **change)  # type: ignore[arg-type]
    assert version("k", changed, ENV, WHERE) != version("k", SPEC, ENV, WHERE)


def test_the_ssh_identity_and_the_env_file_change_the_version() -> None:
    assert version("k", SPEC, ENV, "deploy@10.203.0.11:22") != version("k", SPEC, ENV, WHERE)
    assert version("k", SPEC, ENV, "root@10.203.0.11:2222") != version("k", SPEC, ENV, WHERE)
    assert version("k", SPEC, "APP_SECRET=654321\n", WHERE) != version("k", SPEC, ENV, WHERE)


def test_a_secret_alias_gives_the_variable_the_aliased_secret() -> None:
    from components.config import parse_config
    from components.container import secret_env_of
    from components.plan import build_plan
    from tests.unit.support import config_with

    raw = config_with(env={"secret": ["DB_PASSWORD:MAIN_DB_PASSWORD", "APP_SECRET"]})
    placement = build_plan(parse_config(raw)).role_placements("web")[0]
    secrets = {"MAIN_DB_PASSWORD": "main", "APP_SECRET": "app"}
    assert secret_env_of(placement, secrets) == {  # type: ignore[arg-type]
        "DB_PASSWORD": "main",
        "APP_SECRET": "app",
    }
