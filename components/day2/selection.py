"""Which of a stack's containers a day-2 command acts on: Kamal's `--roles` and `--hosts` filters.

Filters are comma-separated names; `*` is a wildcard, as in Kamal. A filter that matches nothing
in the stack is an error naming what the stack does have, never a silent no-op.
"""

from __future__ import annotations

from collections.abc import Sequence
from fnmatch import fnmatchcase

from components.day2.stack_access import DeployedContainer
from components.errors import FleetformError


class SelectionError(FleetformError):
    """A role, accessory or host that the stack does not have."""


def _matching(patterns: Sequence[str], names: Sequence[str]) -> tuple[list[str], list[str]]:
    """The names some pattern matches, and the patterns that match none."""
    matched = [name for name in names if any(fnmatchcase(name, p) for p in patterns)]
    unmatched = [p for p in patterns if not any(fnmatchcase(name, p) for name in names)]
    return matched, unmatched


def _ordered(values: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(values))


def select_roles(
    stack: str,
    placements: Sequence[DeployedContainer],
    roles: Sequence[str] | None = None,
    hosts: Sequence[str] | None = None,
) -> list[DeployedContainer]:
    """The stack's app containers of `roles` on `hosts` (all when None), in placement order."""
    app = [p for p in placements if p.kind == "role"]
    if not app:
        raise SelectionError(f"stack '{stack}': runs no app role")
    names = _ordered([p.name for p in app])
    if roles is not None:
        chosen, unknown = _matching(roles, names)
        if unknown:
            raise SelectionError(
                f"--roles: no role {', '.join(repr(r) for r in unknown)} in stack '{stack}' "
                f"(roles: {', '.join(names)})"
            )
        app = [p for p in app if p.name in chosen]
    chosen_names = _ordered([p.name for p in app])
    what = (
        f"role {chosen_names[0]} runs"
        if len(chosen_names) == 1
        else (f"roles {', '.join(chosen_names)} run")
    )
    return _on_hosts(stack, placements, app, hosts, what)


def select_accessory(
    stack: str,
    placements: Sequence[DeployedContainer],
    name: str,
    hosts: Sequence[str] | None = None,
) -> list[DeployedContainer]:
    """The containers of accessory `name` on `hosts` (all when None)."""
    accessories = [p for p in placements if p.kind == "accessory"]
    names = _ordered([p.name for p in accessories])
    if name not in names:
        have = f"accessories: {', '.join(names)}" if names else "it runs no accessory"
        raise SelectionError(f"accessory '{name}': not in stack '{stack}' ({have})")
    chosen = [p for p in accessories if p.name == name]
    return _on_hosts(stack, placements, chosen, hosts, f"accessory {name} runs")


def _on_hosts(
    stack: str,
    placements: Sequence[DeployedContainer],
    chosen: list[DeployedContainer],
    hosts: Sequence[str] | None,
    what: str,
) -> list[DeployedContainer]:
    if hosts is None:
        return chosen
    stack_hosts = _ordered([p.host for p in placements])
    _, unknown = _matching(hosts, stack_hosts)
    if unknown:
        raise SelectionError(
            f"--hosts: host {', '.join(repr(h) for h in unknown)} is not in stack '{stack}' "
            f"(hosts: {', '.join(stack_hosts)})"
        )
    on_hosts = [p for p in chosen if any(fnmatchcase(p.host, h) for h in hosts)]
    if not on_hosts:
        raise SelectionError(
            f"--hosts: in stack '{stack}', {what} on "
            f"{', '.join(_ordered([p.host for p in chosen]))}, not on {', '.join(hosts)}"
        )
    return on_hosts
