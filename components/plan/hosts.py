"""Which arch each host has, worked out from everything the config places on it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from components.config import (
    Arch,
    DeployConfig,
)
from components.errors import PlanError


@dataclass(frozen=True)
class Declaration:
    arch: Arch
    subject: str
    """`role web` or `accessory redis`."""
    verb: str
    """`needs` for a role (its arch may be inherited from the builder), `declares` otherwise."""


def host_declarations(config: DeployConfig) -> dict[str, list[Declaration]]:
    """Every host of the config, in first-mention order, with what declares an arch on it.

    Raises PlanError when two declarations on one host disagree.
    """
    declared: dict[str, list[Declaration]] = {}
    for role in config.roles:
        for host in role.hosts:
            _declare(declared.setdefault(host, []), host, role.arch, f"role {role.name}", "needs")
    for accessory in config.accessories:
        subject = f"accessory {accessory.name}"
        for host in accessory.hosts:
            _declare(declared.setdefault(host, []), host, accessory.arch, subject, "declares")
    return declared


def host_arches(config: DeployConfig) -> dict[str, Arch | None]:
    """Every host of the config, in first-mention order, with the arch declared on it."""
    return arches_of(host_declarations(config))


def arches_of(declarations: Mapping[str, Sequence[Declaration]]) -> dict[str, Arch | None]:
    return {host: found[0].arch if found else None for host, found in declarations.items()}


def _declare(
    found: list[Declaration], host: str, arch: Arch | None, subject: str, verb: str
) -> None:
    if arch is None:
        return
    if found and found[0].arch != arch:
        first = found[0]
        raise PlanError(
            f"{host}: {first.subject} {first.verb} {first.arch} but {subject} {verb} {arch}"
        )
    found.append(Declaration(arch, subject, verb))
