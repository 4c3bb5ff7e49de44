"""The guards of a promotion: what must hold before a stack may deploy another stack's digests.

Pure checks over the plan plus one read-only registry lookup; no pulumi import, so the
promotion script and the tests use them directly.

The lookup speaks HTTPS unless the stack names the registry in `fleetform:insecureRegistries`
(the local fleet's registry speaks plain HTTP), and it never sends the registry credentials
along a redirect.
"""

from __future__ import annotations

import base64
import http.client
import json
import re
import ssl
import urllib.error
import urllib.request
from collections.abc import Mapping
from typing import IO

from components.config import describe
from components.errors import DeployConfigError, PlanError
from components.plan import Plan

_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
_PLATFORM = re.compile(r"^linux/(amd64|arm64)$")
_REGISTRY_SERVER = re.compile(r"^[A-Za-z0-9.-]+(?::[0-9]+)?$")
INSECURE_REGISTRIES = "fleetform:insecureRegistries"
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


def parse_insecure_registries(text: str | None) -> frozenset[str]:
    """`fleetform:insecureRegistries` (a JSON list, as Pulumi stores it): plain-HTTP registries."""
    if text is None or text == "":
        return frozenset()
    try:
        value = json.loads(text)
    except ValueError:
        value = text
    if not isinstance(value, list):
        raise DeployConfigError(
            f"{INSECURE_REGISTRIES}: must be a list of registry host[:port], like "
            f'["10.203.0.1:5000"] (got {describe(value)})'
        )
    for index, server in enumerate(value):
        if not isinstance(server, str) or not _REGISTRY_SERVER.match(server):
            raise DeployConfigError(
                f"{INSECURE_REGISTRIES}/{index}: must be a registry host[:port] "
                f"(got {describe(server)})"
            )
    return frozenset(value)


def _unreachable(server: str, scheme: str, error: BaseException) -> PlanError:
    """One line for a registry that could not be asked: refused, timed out, unknown, not TLS."""
    reason: object = error.reason if isinstance(error, urllib.error.URLError) else error
    if isinstance(reason, ssl.SSLError):
        detail = f"TLS failed: {reason.reason or reason}"
    elif isinstance(reason, TimeoutError):
        detail = "timed out"
    elif isinstance(reason, OSError) and reason.strerror:
        detail = reason.strerror
    else:
        detail = str(reason) or type(reason).__name__
    hint = ""
    if scheme == "https":
        hint = f"; if it only speaks plain HTTP, list it in {INSECURE_REGISTRIES}"
    return PlanError(f"{server}: cannot reach the registry over {scheme} ({detail}){hint}")


class _HeadStaysHead(urllib.request.HTTPRedirectHandler):
    """Python 3.11's urllib turns a redirected HEAD into a GET; a manifest check stays a HEAD."""

    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: IO[bytes],
        code: int,
        msg: str,
        headers: http.client.HTTPMessage,
        newurl: str,
    ) -> urllib.request.Request | None:
        redirected = super().redirect_request(req, fp, code, msg, headers, newurl)
        if redirected is not None and req.get_method() == "HEAD":
            redirected.method = "HEAD"
        return redirected


def manifest_exists(
    repository: str,
    digest: str,
    username: str | None,
    password: str | None,
    timeout: float = 10,
    *,
    insecure: bool = False,
) -> bool:
    """Asks the registry whether `repository@digest` exists: HTTPS, or plain HTTP if `insecure`.

    The credentials go only to the server asked: a redirect is followed without them.
    """
    server, _, name = repository.partition("/")
    scheme = "http" if insecure else "https"
    request = urllib.request.Request(
        f"{scheme}://{server}/v2/{name}/manifests/{digest}",
        method="HEAD",
        headers={"Accept": _MANIFEST_TYPES},
    )
    if username is not None and password is not None:
        token = base64.b64encode(f"{username}:{password}".encode()).decode()
        # urllib copies ordinary headers onto a redirected request; unredirected ones never.
        request.add_unredirected_header("Authorization", f"Basic {token}")
    try:
        with urllib.request.build_opener(_HeadStaysHead).open(request, timeout=timeout) as response:
            return bool(response.status == 200)
    except urllib.error.HTTPError as error:
        if error.code == 404:
            return False
        raise PlanError(f"{server}: registry answered {error.code} for {name}@{digest}") from None
    except (urllib.error.URLError, OSError, http.client.HTTPException) as error:
        raise _unreachable(server, scheme, error) from None
