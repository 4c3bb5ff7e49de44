"""Helpers for the pure unit tests: a minimal valid deploy file and Kamal-style error assertions."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from components.config import DeployConfig, deep_merge, parse_config
from components.errors import DeployConfigError, FleetformError, PlanError
from components.plan import Plan, build_plan

DELETE = object()
"""A fragment value that removes the key from the minimal config."""

MINIMAL: dict[str, Any] = {
    "service": "app",
    "image": "org/app",
    "builder": {"arch": "arm64"},
    "servers": {"web": {"hosts": ["10.0.0.1", "10.0.0.2"]}},
}


def config_with(**fragment: Any) -> dict[str, Any]:
    """MINIMAL with `fragment` deep-merged on top, Kamal-style (maps merge, the rest replaces)."""
    merged = deep_merge(copy.deepcopy(MINIMAL), fragment)
    return _drop_deleted(merged)


def _drop_deleted(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _drop_deleted(item) for key, item in value.items() if item is not DELETE}
    return value


def parse(**fragment: Any) -> DeployConfig:
    return parse_config(config_with(**fragment))


def plan(destination: str | None = None, **fragment: Any) -> Plan:
    return build_plan(parse(**fragment), destination=destination)


def assert_config_error(
    message: str, *, error: type[FleetformError] = DeployConfigError, **fragment: Any
) -> None:
    """Merges `fragment` into a minimal valid config; parsing and planning must fail with `message`.

    Config errors surface from parsing (DeployConfigError); arch conflicts and other impossible
    plans surface from planning (PlanError: pass `error=PlanError`).
    """
    with pytest.raises(FleetformError) as raised:
        build_plan(parse_config(config_with(**fragment)))
    assert str(raised.value) == message, f"\n got: {raised.value}\nwant: {message}"
    assert type(raised.value) is error, f"{type(raised.value).__name__}: {raised.value}"


__all__ = ["DELETE", "MINIMAL", "PlanError", "assert_config_error", "config_with", "parse", "plan"]
