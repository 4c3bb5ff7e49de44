"""Planner behaviour: placement, arches, filters, container names and config hashes."""

from __future__ import annotations

from typing import Any

import pytest

from components.config import deep_merge, parse_config
from components.errors import PlanError
from components.plan import Placement, build_plan, host_arches
from components.config.model import DirectoryMount
from tests.unit.support import config_with, parse, plan

SEED: dict[str, Any] = {
    "service": "hello",
    "image": "fleetform/hello",
    "builder": {"arch": "arm64"},
    "servers": {
        "web": ["10.0.0.1", "10.0.0.2"],
        "jobs": {"hosts": ["10.0.0.3"], "cmd": "bin/jobs"},
    },
    "env": {"clear": {"GREETING": "hello"}, "secret": ["APP_SECRET"]},
    "accessories": {
        "redis": {"image": "redis:7.0", "host": "10.0.0.4", "arch": "amd64", "port": 6379},
        "db": {"image": "postgres:16", "host": "10.0.0.3", "directories": ["data:/data"]},
    },
}


def seed(**fragment: Any) -> dict[str, Any]:
    """SEED with `fragment` deep-merged on top."""
    return config_with(**deep_merge(SEED, fragment))


def only(placements: tuple[Placement, ...]) -> Placement:
    assert len(placements) == 1, placements
    return placements[0]


def test_role_placement_fields() -> None:
    web = only(build_plan(parse_config(seed())).placements_for("10.0.0.1"))
    assert (web.kind, web.name, web.image, web.platform, web.arch, web.container) == (
        "role",
        "web",
        "fleetform/hello",
        "linux/arm64",
        "arm64",
        "hello-web",
    )
    assert web.env_clear == (("GREETING", "hello"),)
    assert web.env_secret == ("APP_SECRET",)
    assert web.labels == (("service", "hello"), ("role", "web"))
    assert web.directories == ()


def test_accessory_placement_fields() -> None:
    redis = only(build_plan(parse_config(seed())).accessory_placements("redis"))
    assert (redis.host, redis.image, redis.platform, redis.container, redis.ports) == (
        "10.0.0.4",
        "redis:7.0",
        "linux/amd64",
        "hello-redis",
        ("6379:6379",),
    )
    assert redis.labels == (("service", "hello"), ("accessory", "redis"))
    assert redis.env_clear == () and redis.env_secret == ()


def test_accessory_without_arch_takes_its_hosts_arch() -> None:
    db = only(build_plan(parse_config(seed())).accessory_placements("db"))
    assert (db.host, db.arch, db.platform) == ("10.0.0.3", "arm64", "linux/arm64")


def test_accessory_without_arch_on_an_undeclared_host_is_probed() -> None:
    config = seed(accessories={"cache": {"image": "memcached:1", "host": "10.0.0.9"}})
    cache = only(build_plan(parse_config(config)).accessory_placements("cache"))
    assert (cache.arch, cache.platform) == (None, None)


def test_host_arch_comes_from_whatever_is_declared_on_it() -> None:
    config = parse(
        builder={"arch": ["amd64", "arm64"]},
        servers={"web": {"hosts": ["10.0.0.1"]}},
        accessories={"agent": {"image": "agent:1", "host": "10.0.0.1", "arch": "amd64"}},
    )
    assert host_arches(config) == {"10.0.0.1": "amd64"}
    # The role has no arch of its own, so it runs as its host's declared arch.
    web = only(build_plan(config).role_placements("web"))
    assert web.platform == "linux/amd64"
    assert build_plan(config).builds == ("linux/amd64",)


def test_relative_directories_resolve_under_the_ssh_users_home() -> None:
    # `~` is expanded on the host, to whatever home the SSH user really has.
    assert only(plan(**SEED).accessory_placements("db")).directories == (
        DirectoryMount("~/hello-db/data", "/data"),
    )
    config = seed(ssh={"user": "deploy"})
    config["accessories"]["db"]["directories"] = ["data:/data", "/srv/pg:/pg"]
    assert only(build_plan(parse_config(config)).accessory_placements("db")).directories == (
        DirectoryMount("~/hello-db/data", "/data"),
        DirectoryMount("/srv/pg", "/pg"),
    )


def test_a_scope_keeps_two_stacks_containers_and_data_apart() -> None:
    config = parse_config(seed())
    dev = build_plan(config, scope="dev")
    assert only(dev.accessory_placements("db")).container == "hello-db-dev"
    assert only(dev.accessory_placements("db")).directories == (
        DirectoryMount("~/hello-db-dev/data", "/data"),
    )
    assert {p.container for p in dev.role_placements("web")} == {"hello-web-dev"}
    # A stack named like its destination is not named twice.
    staging = build_plan(config, destination="staging", scope="staging")
    assert {p.container for p in staging.role_placements("web")} == {"hello-web-staging"}


def test_destination_names_containers_and_labels() -> None:
    result = build_plan(parse_config(seed()), destination="staging")
    assert result.destination == "staging"
    web = result.role_placements("web")[0]
    assert web.container == "hello-web-staging"
    assert web.labels == (("service", "hello"), ("role", "web"), ("destination", "staging"))
    redis = only(result.accessory_placements("redis"))
    assert redis.container == "hello-redis"
    assert ("destination", "staging") in redis.labels


def test_destination_defaults_to_the_one_the_config_was_loaded_with() -> None:
    config = parse_config(seed(), destination="prod")
    assert build_plan(config).destination == "prod"
    assert build_plan(config, destination="qa").destination == "qa"
    with pytest.raises(PlanError, match=r"^destination: must contain only"):
        build_plan(config, destination="Prod QA")


def test_user_labels_follow_fleetforms_sorted() -> None:
    result = plan(labels={"zone": "a", "app": "x"}, servers={"web": {"labels": {"tier": "1"}}})
    assert result.placements[0].labels == (
        ("service", "app"),
        ("role", "web"),
        ("app", "x"),
        ("tier", "1"),
        ("zone", "a"),
    )


def test_global_volumes_go_to_roles_only() -> None:
    result = plan(
        volumes=["/srv/storage:/app/storage"],
        accessories={"redis": {"image": "redis:7", "host": "10.0.0.4"}},
    )
    assert result.role_placements("web")[0].volumes == ("/srv/storage:/app/storage",)
    assert result.accessory_placements("redis")[0].volumes == ()


def test_order_of_hosts_and_placements_follows_the_file() -> None:
    result = build_plan(parse_config(seed()))
    assert [h.host for h in result.hosts] == ["10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4"]
    assert [(p.host, p.name) for p in result.placements] == [
        ("10.0.0.1", "web"),
        ("10.0.0.2", "web"),
        ("10.0.0.3", "jobs"),
        ("10.0.0.3", "db"),
        ("10.0.0.4", "redis"),
    ]
    assert result.role_names == ("web", "jobs")
    # Names come in placement order: db's host is named before redis's.
    assert result.accessory_names == ("db", "redis")


# --- filters --------------------------------------------------------------------------------


def test_role_filter_keeps_accessories() -> None:
    result = build_plan(parse_config(seed()), roles=["jobs"])
    assert [(p.host, p.name) for p in result.placements] == [
        ("10.0.0.3", "jobs"),
        ("10.0.0.3", "db"),
        ("10.0.0.4", "redis"),
    ]
    assert [h.host for h in result.hosts] == ["10.0.0.3", "10.0.0.4"]


def test_host_filter_restricts_everything_and_builds_only_what_is_needed() -> None:
    result = build_plan(parse_config(seed()), hosts=["10.0.0.4"])
    assert [(p.kind, p.name) for p in result.placements] == [("accessory", "redis")]
    assert result.builds == ()


def test_filters_combine() -> None:
    result = build_plan(parse_config(seed()), roles=["web"], hosts=["10.0.0.2", "10.0.0.3"])
    assert [(p.host, p.name) for p in result.placements] == [
        ("10.0.0.2", "web"),
        ("10.0.0.3", "db"),
    ]


def test_host_arch_ignores_filters() -> None:
    # 10.0.0.3's arch comes from the jobs role even when only the db accessory is planned there.
    result = build_plan(parse_config(seed()), roles=["web"], hosts=["10.0.0.3"])
    assert [(h.host, h.arch, h.roles, h.accessories) for h in result.hosts] == [
        ("10.0.0.3", "arm64", (), ("db",))
    ]


def test_unknown_filters_are_errors() -> None:
    config = parse_config(seed())
    with pytest.raises(PlanError) as raised:
        build_plan(config, roles=["web", "api"])
    assert str(raised.value) == "roles filter: unknown role 'api' (roles are web, jobs)"
    with pytest.raises(PlanError) as raised:
        build_plan(config, hosts=["10.0.0.9"])
    assert str(raised.value) == (
        "hosts filter: unknown host '10.0.0.9' (not in servers or accessories)"
    )


def test_conflicts_are_found_even_outside_the_filter() -> None:
    config = parse_config(
        seed(accessories={"redis": {"image": "redis:7", "host": "10.0.0.1", "arch": "amd64"}})
    )
    with pytest.raises(PlanError, match=r"^10\.0\.0\.1: role web needs arm64"):
        build_plan(config, hosts=["10.0.0.3"])


# --- builds and boot ----------------------------------------------------------------------------


def test_builds_only_what_app_roles_need() -> None:
    config = parse(
        builder={"arch": ["amd64", "arm64"]},
        servers={"web": {"hosts": ["10.0.0.1"], "arch": "arm64"}},
        accessories={"redis": {"image": "redis:7", "host": "10.0.0.4", "arch": "amd64"}},
    )
    assert build_plan(config).builds == ("linux/arm64",)


def test_a_role_of_unknown_arch_needs_every_builder_arch() -> None:
    config = parse(builder={"arch": ["amd64", "arm64"]})
    assert build_plan(config).builds == ("linux/amd64", "linux/arm64")


def test_boot_limit_percent_resolves_per_role() -> None:
    result = plan(
        boot={"limit": "50%", "wait": 3},
        servers={"web": {"hosts": [f"10.0.0.{n}" for n in range(1, 6)]}, "jobs": ["10.0.1.1"]},
    )
    assert result.boot_limit("web") == 2
    assert result.boot_limit("jobs") == 1
    assert plan(boot={"limit": 3}).boot_limit("web") == 3
    assert plan().boot_limit("web") is None


# --- config hash --------------------------------------------------------------------------------


def hashes(**fragment: Any) -> dict[tuple[str, str], str]:
    result = build_plan(parse_config(seed(**fragment)))
    return {(p.host, p.name): p.config_hash for p in result.placements}


def changed_names(
    before: dict[tuple[str, str], str], after: dict[tuple[str, str], str]
) -> set[str]:
    return {name for (host, name), value in after.items() if before[(host, name)] != value}


def test_config_hash_is_stable_and_host_independent() -> None:
    first = hashes()
    assert first == hashes()
    assert first[("10.0.0.1", "web")] == first[("10.0.0.2", "web")]
    assert all(len(value) == 64 for value in first.values())


@pytest.mark.parametrize(
    "web_change",
    [
        {"cmd": "bin/web --threads 4"},
        {"env": {"clear": {"GREETING": "bonjour"}}},
        {"env": {"secret": ["OTHER_SECRET"]}},
        {"options": {"memory": "512m"}},
        {"options": {"publish": "8080:8080"}},
        {"labels": {"team": "web"}},
    ],
)
def test_changing_one_role_changes_only_that_roles_hash(web_change: dict[str, Any]) -> None:
    before = hashes()
    after = hashes(servers={"web": {"hosts": ["10.0.0.1", "10.0.0.2"], **web_change}})
    changed = {key for key in before if before[key] != after[key]}
    assert changed == {("10.0.0.1", "web"), ("10.0.0.2", "web")}


def test_image_and_registry_changes_change_role_hashes_only() -> None:
    before = hashes()
    after = hashes(registry={"server": "r.example.com", "username": "u", "password": ["P"]})
    assert changed_names(before, after) == {"web", "jobs"}


def test_accessory_changes_change_only_that_accessory() -> None:
    before = hashes()
    accessories = {**SEED["accessories"]}
    accessories["redis"] = {**accessories["redis"], "image": "redis:7.2"}
    after = hashes(accessories=accessories)
    assert {key for key in before if before[key] != after[key]} == {("10.0.0.4", "redis")}
    accessories["redis"] = {**accessories["redis"], "volumes": ["/srv/conf:/conf:ro"]}
    assert hashes(accessories=accessories)[("10.0.0.4", "redis")] != after[("10.0.0.4", "redis")]


def test_global_env_and_volumes_change_every_role() -> None:
    before = hashes()
    for fragment in (
        {"env": {"clear": {"GREETING": "hi"}, "secret": ["APP_SECRET"]}},
        {"volumes": ["/srv/x:/x"]},
    ):
        assert changed_names(before, hashes(**fragment)) == {"web", "jobs"}


def test_destination_changes_the_hash() -> None:
    config = parse_config(seed())
    plain = build_plan(config).role_placements("web")[0].config_hash
    staged = build_plan(config, destination="staging").role_placements("web")[0].config_hash
    assert plain != staged


def test_host_plans_and_lookups() -> None:
    result = build_plan(parse_config(seed()))
    assert [(h.host, h.arch, h.roles, h.accessories) for h in result.hosts] == [
        ("10.0.0.1", "arm64", ("web",), ()),
        ("10.0.0.2", "arm64", ("web",), ()),
        ("10.0.0.3", "arm64", ("jobs",), ("db",)),
        ("10.0.0.4", "amd64", (), ("redis",)),
    ]
    assert [p.host for p in result.role_placements("web")] == ["10.0.0.1", "10.0.0.2"]
    assert result.role_placements("nope") == ()
    assert result.placements_for("10.0.0.99") == ()


def test_declared_by_names_everything_that_declares_the_hosts_arch() -> None:
    config = seed(
        accessories={"db": {"arch": "arm64"}, "cache": {"image": "m:1", "host": "10.0.0.9"}}
    )
    result = build_plan(parse_config(config), roles=["web"])
    assert result.declared_by("10.0.0.3") == "accessory db, role jobs"
    assert result.declared_by("10.0.0.4") == "accessory redis"
    assert result.declared_by("10.0.0.9") == ""
    with pytest.raises(KeyError):
        result.declared_by("10.0.0.99")
