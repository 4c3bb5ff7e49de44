"""Promotion guards over a plan: digest forms, covered platforms, floating accessory tags."""

from __future__ import annotations

from pathlib import Path

import pytest

from components.config import load_config
from components.errors import PlanError
from components.plan import Plan, build_plan
from components.promotion import check_digests_cover_plan, check_no_floating_images

ROOT = Path(__file__).resolve().parents[2]
DIGEST = "sha256:" + "a" * 64


@pytest.fixture(scope="module")
def production() -> Plan:
    return build_plan(load_config(ROOT / "config" / "deploy.yml", "production"))


def test_a_digest_for_every_needed_platform_passes(production: Plan) -> None:
    check_digests_cover_plan(production, {"linux/arm64": DIGEST}, "staging")


@pytest.mark.parametrize(
    ("digests", "message"),
    [
        (
            {"linux/arm": DIGEST},
            "staging: platform must be linux/amd64 or linux/arm64 (got 'linux/arm')",
        ),
        (
            {"linux/arm64": "hello:latest"},
            "staging/linux/arm64: must be a sha256:<64 hex> digest, never a tag (got 'hello:latest')",
        ),
        (
            {"linux/amd64": DIGEST},
            "staging: no digest for linux/arm64, which the roles of this stack need (got linux/amd64)",
        ),
        ({}, "staging: no digest for linux/arm64, which the roles of this stack need (got none)"),
    ],
)
def test_digest_guards(production: Plan, digests: dict[str, str], message: str) -> None:
    with pytest.raises(PlanError) as error:
        check_digests_cover_plan(production, digests, "staging")
    assert str(error.value) == message


def test_pinned_accessory_tags_pass(production: Plan) -> None:
    check_no_floating_images(production)


@pytest.mark.parametrize("image", ["10.203.0.1:5000/fleetform/redis:latest", "redis"])
def test_floating_accessory_tags_are_refused(tmp_path: Path, image: str) -> None:
    config = (ROOT / "config" / "deploy.yml").read_text()
    (tmp_path / "deploy.yml").write_text(
        config.replace("10.203.0.1:5000/fleetform/redis:7.0", image)
    )
    plan = build_plan(load_config(tmp_path / "deploy.yml"))
    with pytest.raises(PlanError, match=r"accessories/redis/image: a floating tag is not allowed"):
        check_no_floating_images(plan)
