"""Host tags in `servers` and `env.tags`: each tagged host's app containers get their tags' env."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from components.config import load_config, parse_config
from components.plan import Placement, build_plan
from tests.unit.support import DELETE, assert_config_error, config_with

TAGGED: dict[str, Any] = {
    "servers": {
        "web": {"hosts": ["10.0.0.1", {"10.0.0.2": "replica"}, {"10.0.0.3": ["replica", "eu"]}]},
        "jobs": {"hosts": [{"10.0.0.4": "eu"}], "cmd": "bin/jobs", "env": {"ROLE": "jobs"}},
    },
    "env": {
        "clear": {"MYSQL_USER": "app", "REGION": "us"},
        "secret": ["MYSQL_PASSWORD"],
        "tags": {
            "replica": {"clear": {"MYSQL_USER": "readonly"}, "secret": ["READONLY_PASSWORD"]},
            "eu": {"REGION": "eu"},
        },
    },
}


def placement(host: str, role: str = "web", **fragment: Any) -> Placement:
    plan = build_plan(parse_config(config_with(**{**TAGGED, **fragment})))
    (found,) = (p for p in plan.placements_for(host) if p.name == role)
    return found


def test_untagged_host_has_only_the_role_env() -> None:
    web = placement("10.0.0.1")
    assert dict(web.env_clear) == {"MYSQL_USER": "app", "REGION": "us"}
    assert web.env_secret == ("MYSQL_PASSWORD",)


def test_tagged_host_gets_its_tag_env_clear_and_secret() -> None:
    replica = placement("10.0.0.2")
    assert dict(replica.env_clear) == {"MYSQL_USER": "readonly", "REGION": "us"}
    # Tag secrets stay secret names: their values come from the stack on stdin at deploy time.
    assert replica.env_secret == ("MYSQL_PASSWORD", "READONLY_PASSWORD")


def test_tags_merge_in_the_host_order_over_the_role_env() -> None:
    both = placement("10.0.0.3")
    assert dict(both.env_clear) == {"MYSQL_USER": "readonly", "REGION": "eu"}
    jobs = placement("10.0.0.4", role="jobs")
    # Global, then the role's own env, then the tag's: Kamal's order.
    assert dict(jobs.env_clear) == {"MYSQL_USER": "app", "REGION": "eu", "ROLE": "jobs"}


def test_a_later_tag_overrides_an_earlier_one() -> None:
    servers = {"web": {"hosts": [{"10.0.0.1": ["eu", "replica"]}, {"10.0.0.2": ["replica", "eu"]}]}}
    env = {"tags": {"eu": {"REGION": "eu"}, "replica": {"REGION": "replica"}}}
    plan = build_plan(parse_config(config_with(servers=servers, env=env)))
    regions = {p.host: dict(p.env_clear)["REGION"] for p in plan.placements}
    assert regions == {"10.0.0.1": "replica", "10.0.0.2": "eu"}


def test_a_tag_secret_alias_replaces_the_global_one_on_tagged_hosts() -> None:
    # Kamal's documented example: DB_PASSWORD from another secret on the tagged host.
    env = {
        "secret": ["DB_PASSWORD:MAIN_DB_PASSWORD"],
        "tags": {"secondary_db": {"secret": ["DB_PASSWORD:SECONDARY_DB_PASSWORD"]}},
    }
    servers = {"web": ["10.0.0.1", {"10.0.0.2": "secondary_db"}]}
    plan = build_plan(parse_config(config_with(servers=servers, env=env)))
    secrets = {p.host: p.env_secret for p in plan.placements}
    assert secrets == {
        "10.0.0.1": ("DB_PASSWORD:MAIN_DB_PASSWORD",),
        "10.0.0.2": ("DB_PASSWORD:SECONDARY_DB_PASSWORD",),
    }


def test_a_tag_env_change_changes_only_the_tagged_hosts_hashes() -> None:
    before = build_plan(parse_config(config_with(**TAGGED)))
    changed = {**TAGGED, "env": {**TAGGED["env"], "tags": {**TAGGED["env"]["tags"]}}}
    changed["env"]["tags"]["eu"] = {"REGION": "eu-west"}
    after = build_plan(parse_config(config_with(**changed)))
    moved = {
        (old.host, old.name)
        for old, new in zip(before.placements, after.placements, strict=True)
        if old.config_hash != new.config_hash
    }
    assert moved == {("10.0.0.3", "web"), ("10.0.0.4", "jobs")}


def test_tags_without_env_and_env_without_hosts_change_nothing() -> None:
    # Kamal ignores a host tag no env/tags entry names, and an entry no host carries.
    plain = build_plan(parse_config(config_with(servers={"web": ["10.0.0.1"]})))
    tagged = build_plan(
        parse_config(
            config_with(
                servers={"web": [{"10.0.0.1": "canary"}]}, env={"tags": {"other": {"A": "1"}}}
            )
        )
    )
    assert [p.config_hash for p in plain.placements] == [p.config_hash for p in tagged.placements]


def test_list_form_servers_take_tags() -> None:
    plan = build_plan(
        parse_config(
            config_with(servers=["10.0.0.1", {"10.0.0.2": "eu"}], env={"tags": {"eu": {"R": "1"}}})
        )
    )
    assert {p.host: dict(p.env_clear) for p in plan.placements} == {
        "10.0.0.1": {},
        "10.0.0.2": {"R": "1"},
    }


def test_host_tags_are_kept_on_the_role_and_hosts_stay_names() -> None:
    web = parse_config(config_with(**TAGGED)).role("web")
    assert web.hosts == ("10.0.0.1", "10.0.0.2", "10.0.0.3")
    assert web.tags_of("10.0.0.3") == ("replica", "eu")
    assert web.tags_of("10.0.0.1") == ()


def test_accessories_on_roles_use_the_host_names() -> None:
    config = parse_config(
        config_with(**TAGGED, accessories={"redis": {"image": "redis:7", "roles": ["jobs"]}})
    )
    assert config.accessory("redis").hosts == ("10.0.0.4",)


def test_destination_file_adds_a_tag_env(tmp_path: Path) -> None:
    (tmp_path / "deploy.yml").write_text(
        "service: app\nimage: org/app\nbuilder: {arch: arm64}\n"
        "servers:\n  web:\n    - 10.0.0.1\n    - 10.0.0.2: canary\n"
        "env:\n  clear: {A: base}\n"
    )
    (tmp_path / "deploy.staging.yml").write_text("env:\n  tags:\n    canary: {A: canary}\n")
    plan = build_plan(load_config(tmp_path / "deploy.yml", "staging"))
    assert {p.host: dict(p.env_clear)["A"] for p in plan.placements} == {
        "10.0.0.1": "base",
        "10.0.0.2": "canary",
    }


# --- bad input --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("hosts", "message"),
    [
        (
            [{"10.0.0.1": "a", "10.0.0.2": "b"}],
            "servers/web/hosts/0: must be one HOST: TAG or HOST: [TAGS] entry (got 2 entries)",
        ),
        (
            [{"10.0.0.1": None}],
            "servers/web/hosts/0/10.0.0.1: must be a tag or a list of tags (got null)",
        ),
        (
            [{"10.0.0.1": []}],
            "servers/web/hosts/0/10.0.0.1: must be a tag or a list of tags (got an empty list)",
        ),
        (
            [{"10.0.0.1": ["a", 1]}],
            "servers/web/hosts/0/10.0.0.1/1: must be a tag or a list of tags (got 1)",
        ),
        (
            [{"10.0.0.1": {"a": 1}}],
            "servers/web/hosts/0/10.0.0.1: must be a tag or a list of tags (got a mapping)",
        ),
        ([{"10.0.0.1": " "}], "servers/web/hosts/0/10.0.0.1: must not be empty (got ' ')"),
        ([{"10.0.0.1": ["a", "a"]}], "servers/web/hosts/0/10.0.0.1/1: duplicate tag (got 'a')"),
        ([{"a b": "x"}], "servers/web/hosts/0: must be a hostname or IP address (got 'a b')"),
        (
            ["10.0.0.1", {"10.0.0.1": "x"}],
            "servers/web/hosts/1: duplicate host (got '10.0.0.1')",
        ),
    ],
)
def test_bad_host_tags(hosts: object, message: str) -> None:
    assert_config_error(message, servers={"web": {"hosts": hosts}})


def test_bad_tags_in_list_form_servers() -> None:
    assert_config_error(
        "servers/0/10.0.0.1: must be a tag or a list of tags (got 3)",
        servers=[{"10.0.0.1": 3}],
    )


@pytest.mark.parametrize(
    ("tags", "message"),
    [
        (["replica"], "env/tags: must be a mapping (got a list)"),
        ({"replica": "A=1"}, "env/tags/replica: must be a mapping (got 'A=1')"),
        (
            {"replica": {"bad-name": "1"}},
            "env/tags/replica: invalid environment variable name (got 'bad-name')",
        ),
        ({"replica": {"clear": {}, "extra": 1}}, "env/tags/replica: unknown key 'extra'"),
        ({"replica": {"secret": "A"}}, "env/tags/replica/secret: must be a list (got 'A')"),
        (
            {"replica": {"tags": {"x": {"A": "1"}}}},
            "env/tags/replica/tags: only allowed in the top-level env, as in Kamal (got a mapping)",
        ),
        (
            {"replica": {"clear": {"A": "1"}, "secret": ["A"]}},
            "env/tags/replica: A is both a clear and a secret variable",
        ),
    ],
)
def test_bad_env_tags(tags: object, message: str) -> None:
    assert_config_error(message, env={"tags": tags})


def test_tags_only_in_the_top_level_env() -> None:
    assert_config_error(
        "servers/web/env/tags: only allowed in the top-level env, as in Kamal (got a mapping)",
        servers={"web": {"hosts": ["10.0.0.1"], "env": {"tags": {"x": {"A": "1"}}}}},
    )
    assert_config_error(
        "accessories/redis/env/tags: only allowed in the top-level env, as in Kamal (got a mapping)",
        accessories={"redis": {"image": "redis:7", "host": "10.0.0.1", "env": {"tags": {"x": {}}}}},
    )


def test_accessory_hosts_take_no_tags() -> None:
    assert_config_error(
        "accessories/redis/hosts/0: host tags only apply to hosts in servers, where env/tags "
        "gives them env (got a mapping)",
        accessories={"redis": {"image": "redis:7", "hosts": [{"10.0.0.1": "x"}]}},
    )


def test_a_tag_that_makes_a_variable_clear_and_secret_names_the_host() -> None:
    assert_config_error(
        "servers/web/hosts/1: A is both a clear and a secret variable",
        servers={"web": {"hosts": ["10.0.0.1", {"10.0.0.2": "s"}]}},
        env={"clear": {"A": "1"}, "tags": {"s": {"secret": ["A"]}}},
    )
    assert_config_error(
        "servers/1: A is both a clear and a secret variable",
        servers=["10.0.0.1", {"10.0.0.2": "s"}],
        env={"secret": ["A"], "tags": {"s": {"A": "1"}}},
    )


def test_minimal_config_still_parses_without_env() -> None:
    assert parse_config(config_with(env=DELETE)).env_tags == ()
