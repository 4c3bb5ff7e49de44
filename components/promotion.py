"""The guards of a promotion: what must hold before a stack may deploy another stack's digests.

Pure checks over the plan plus one read-only registry lookup; no pulumi import, so the
promotion script and the tests use them directly.
"""

from __future__ import annotations

import base64
import re
import urllib.error
import urllib.request
from collections.abc import Mapping

from components.errors import PlanError
from components.plan import Plan

_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
_PLATFORM = re.compile(r"^linux/(amd64|arm64)$")
_MANIFEST_TYPES = ", ".join(
    [
        "application/vnd.docker.distribution.manifest.v2+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.oci.image.index.v1+json",
    ]
)


def check_digests_cover_plan(plan: Plan, digests: Mapping[str, str], source: str) -> None:
    """Every platform the plan's app roles need has a well-formed digest from `source`."""
    for platform, digest in digests.items():
        if not _PLATFORM.match(platform):
            raise PlanError(
                f"{source}: platform must be linux/amd64 or linux/arm64 (got '{platform}')"
            )
        if not isinstance(digest, str) or not _DIGEST.match(digest):
            raise PlanError(
                f"{source}/{platform}: must be a sha256:<64 hex> digest, never a tag "
                f"(got {digest!r})"
            )
    missing = [platform for platform in plan.builds if platform not in digests]
    if missing:
        have = ", ".join(sorted(digests)) or "none"
        raise PlanError(
            f"{source}: no digest for {', '.join(missing)}, which the roles of this stack need "
            f"(got {have})"
        )


def check_no_floating_images(plan: Plan) -> None:
    """Accessory images must name a fixed tag or a digest: `latest` or no tag moves under you."""
    for placement in plan.placements:
        if placement.kind != "accessory":
            continue
        image = placement.image
        if "@sha256:" in image:
            continue
        name = image.rsplit("/", 1)[-1]
        tag = name.split(":", 1)[1] if ":" in name else None
        if tag in (None, "latest"):
            raise PlanError(
                f"accessories/{placement.name}/image: a floating tag is not allowed here; "
                f"pin a version tag or a digest (got '{image}')"
            )


def manifest_exists(
    repository: str, digest: str, username: str | None, password: str | None, timeout: float = 10
) -> bool:
    """Asks the registry (plain HTTP, as the local fleet's) whether `repository@digest` exists."""
    server, _, name = repository.partition("/")
    request = urllib.request.Request(
        f"http://{server}/v2/{name}/manifests/{digest}",
        method="HEAD",
        headers={"Accept": _MANIFEST_TYPES},
    )
    if username is not None and password is not None:
        token = base64.b64encode(f"{username}:{password}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return bool(response.status == 200)
    except urllib.error.HTTPError as error:
        if error.code == 404:
            return False
        raise PlanError(f"{server}: registry answered {error.code} for {name}@{digest}") from None
