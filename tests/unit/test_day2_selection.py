"""Kamal's `--roles` and `--hosts` over a stack's placements; misses are errors naming the stack."""

from __future__ import annotations

import pytest

from components.day2.selection import SelectionError, select_accessory, select_roles
from components.day2.stack_access import DeployedContainer, StackAccessError, parse_placements

PLACEMENTS = parse_placements(
    "dev",
    {
        "placements": [
            {"host": "10.0.0.1", "kind": "role", "name": "web", "container": "app-web-dev"},
            {"host": "10.0.0.2", "kind": "role", "name": "web", "container": "app-web-dev"},
            {"host": "10.0.0.2", "kind": "role", "name": "jobs", "container": "app-jobs-dev"},
            {"host": "10.0.0.3", "kind": "accessory", "name": "db", "container": "app-db-dev"},
        ]
    },
)


def where(containers: list[DeployedContainer]) -> list[tuple[str, str]]:
    return [(c.host, c.name) for c in containers]


def test_everything_by_default_in_placement_order() -> None:
    assert where(select_roles("dev", PLACEMENTS)) == [
        ("10.0.0.1", "web"), ("10.0.0.2", "web"), ("10.0.0.2", "jobs"),
    ]  # fmt: skip


def test_roles_and_hosts_narrow_with_wildcards() -> None:
    assert where(select_roles("dev", PLACEMENTS, ["jobs"])) == [("10.0.0.2", "jobs")]
    assert where(select_roles("dev", PLACEMENTS, ["w*"], ["10.0.0.2"])) == [("10.0.0.2", "web")]
    assert where(select_roles("dev", PLACEMENTS, None, ["*.2"])) == [
        ("10.0.0.2", "web"), ("10.0.0.2", "jobs"),
    ]  # fmt: skip
    assert select_roles("dev", PLACEMENTS, ["web"])[0].family == "app-web-dev"


def test_an_accessory_by_name() -> None:
    assert where(select_accessory("dev", PLACEMENTS, "db")) == [("10.0.0.3", "db")]


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: select_roles("dev", PLACEMENTS, ["worker", "web"]),
         "--roles: no role 'worker' in stack 'dev' (roles: web, jobs)"),
        (lambda: select_roles("dev", PLACEMENTS, None, ["10.0.0.9"]),
         "--hosts: host '10.0.0.9' is not in stack 'dev' (hosts: 10.0.0.1, 10.0.0.2, 10.0.0.3)"),
        (lambda: select_roles("dev", PLACEMENTS, ["jobs"], ["10.0.0.1"]),
         "--hosts: in stack 'dev', role jobs runs on 10.0.0.2, not on 10.0.0.1"),
        (lambda: select_roles("dev", PLACEMENTS, None, ["10.0.0.3"]),
         "--hosts: in stack 'dev', roles web, jobs run on 10.0.0.1, 10.0.0.2, not on 10.0.0.3"),
        (lambda: select_accessory("dev", PLACEMENTS, "redis"),
         "accessory 'redis': not in stack 'dev' (accessories: db)"),
        (lambda: select_accessory("dev", PLACEMENTS[:1], "db"),
         "accessory 'db': not in stack 'dev' (it runs no accessory)"),
        (lambda: select_roles("dev", PLACEMENTS[3:]), "stack 'dev': runs no app role"),
    ],
)  # fmt: skip
def test_misses_name_what_the_stack_has(call: object, message: str) -> None:
    with pytest.raises(SelectionError) as error:
        call()  # type: ignore[operator]
    assert str(error.value) == message


def test_a_stack_without_placements_was_never_deployed() -> None:
    with pytest.raises(StackAccessError) as error:
        parse_placements("dev", {})
    assert str(error.value) == (
        "stack 'dev': not deployed (it has no placements output); run pulumi up first"
    )
    with pytest.raises(StackAccessError, match="the placements output is not fleetform's"):
        parse_placements("dev", {"placements": [{"host": "h"}]})
