"""Boot batching: how many hosts boot at once, and whether roles wait for the primary."""

from __future__ import annotations


from components.config.model import (
    BootConfig,
)
from components.config.values import (
    Section,
    describe,
    is_ascii_number,
    whole_number,
)
from components.errors import DeployConfigError

BOOT_KEYS = frozenset({"limit", "wait", "parallel_roles"})


def read_boot(value: object) -> BootConfig:
    if value is None:
        return BootConfig()
    section = Section(value, "boot", "boot")
    section.check_keys(BOOT_KEYS)
    limit: int | None = None
    limit_percent: int | None = None
    if section.has("limit"):
        raw_limit = section.get("limit")
        if isinstance(raw_limit, str) and raw_limit.endswith("%"):
            if not is_ascii_number(raw_limit[:-1]):
                raise DeployConfigError(
                    f"boot/limit: must be a number of hosts or a percentage like 25% "
                    f"(got {describe(raw_limit)})"
                )
            limit_percent = whole_number(int(raw_limit[:-1]), "boot/limit", minimum=1, maximum=100)
        else:
            limit = whole_number(raw_limit, "boot/limit", minimum=1)
    wait: int | None = None
    if section.has("wait"):
        wait = whole_number(section.get("wait"), "boot/wait", minimum=0)
    parallel_roles = False
    if section.has("parallel_roles"):
        parallel_roles = section.get("parallel_roles")
        if not isinstance(parallel_roles, bool):
            raise DeployConfigError(
                f"boot/parallel_roles: must be true or false (got {describe(parallel_roles)})"
            )
    return BootConfig(
        limit=limit, limit_percent=limit_percent, wait=wait, parallel_roles=parallel_roles
    )
