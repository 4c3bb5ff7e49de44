"""Asset bridging (`asset_path`) on the real fleet: each version also serves the other's files.

Nothing is built. Two images already in the fleet registry differ under `/bin`: the redis image
has only `busybox` and `sh` there, the busybox image every applet (`httpd`, `ls`, ...). Both run
`busybox httpd`, so the same proxied role deploys from either; `asset_path: /bin:ro` bridges
that directory. Deploys go redis (v1), busybox (v2), redis again with another env (v3):
v1's volume gains v2's applets (the old version gets the new files), and v3 runs with v2's
applets although its own image lacks them (the new version gets the old files).
Tests run in file order; each leaves the stack deployed for the next.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from pulumi import automation as auto

from tests.e2e.fleet_stack import OpsStack, registry_digest
from tests.support import host_address, inventory, ssh

pytestmark = pytest.mark.e2e

STACK = "e2e-assets"
ASSETS = f"~/.fleetform/{STACK}/assets"
# Only `busybox` and `sh` are sure to be in /bin: the redis image has no other applet.
WEB_CMD = (
    'sh -c \'busybox mkdir -p /tmp/www && echo "$GREETING" > /tmp/www/index.html'
    " && exec busybox httpd -f -p 8080 -h /tmp/www'"
)
IMAGES = {"redis": ("fleetform/redis", "7.0-arm64"), "busybox": ("fleetform/busybox", "arm64")}
SEEN: dict[str, str] = {}
"""Container name of each version, as the tests find them (v1, v2, v3)."""


def assets_config(image: str, greeting: str, asset_path: str = "/bin:ro") -> dict[str, Any]:
    registry = inventory()["registry"]
    return {
        "service": "as",
        "image": IMAGES[image][0],
        "registry": {
            "server": registry,
            "username": inventory()["registry_user"],
            "password": ["REGISTRY_PASSWORD"],
        },
        "builder": {"arch": "arm64"},
        "servers": {"web": {"hosts": [host_address("h1")], "cmd": WEB_CMD}},
        "asset_path": asset_path,
        "proxy": {
            "app_port": 8080,
            "healthcheck": {"path": "/", "interval": 1, "timeout": 2},
            "run": {"registry": registry},
        },
        "deploy_timeout": 20,
        "drain_timeout": 2,
        "env": {"clear": {"GREETING": greeting}, "secret": ["APP_SECRET"]},
        "retain_containers": 1,
    }


def deploy(stack: OpsStack, image: str, greeting: str, asset_path: str = "/bin:ro") -> None:
    repository, tag = IMAGES[image]
    stack.stack.set_config(
        "fleetform:appDigests",
        auto.ConfigValue(json.dumps({"linux/arm64": registry_digest(repository, tag)})),
    )
    stack.write(assets_config(image, greeting, asset_path))


@pytest.fixture(scope="module")
def assets(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OpsStack]:
    stack = OpsStack(STACK, tmp_path_factory.mktemp("assets"), assets_config("redis", "one"))
    try:
        deploy(stack, "redis", "one")
        yield stack
    finally:
        stack.drop()


def h1() -> str:
    return host_address("h1")


def containers() -> list[tuple[str, str]]:
    """(name, state) of the web containers, newest first."""
    out = ssh(
        h1(),
        "docker ps -a --filter label=fleetform.container=as-web-e2e-assets "
        "--format '{{.Names}} {{.State}}'",
    ).stdout
    return [(line.split()[0], line.split()[1]) for line in out.splitlines() if line.strip()]


def listing(path: str) -> set[str]:
    return set(ssh(h1(), f"ls -A {path}").stdout.split())


def in_container(name: str, path: str) -> set[str]:
    # `busybox ls`: the redis image's own /bin has no `ls` applet link.
    return set(ssh(h1(), f"docker exec {name} busybox ls -A {path}").stdout.split())


def served() -> str:
    with urllib.request.urlopen(f"http://{h1()}/", timeout=15) as response:
        return response.read().decode().strip()


def test_v1_runs_with_its_own_image_files_mounted_read_only(assets: OpsStack) -> None:
    assets.up()
    (v1, state), *_ = containers()
    SEEN["v1"] = v1
    assert state == "running"
    assert served() == "one"
    mount = ssh(
        h1(),
        f"docker inspect --format "
        f'\'{{{{range .Mounts}}}}{{{{if eq .Destination "/bin"}}}}{{{{.Source}}}} {{{{.RW}}}}'
        f"{{{{end}}}}{{{{end}}}}' {v1}",
    ).stdout.split()
    home = ssh(h1(), "echo $HOME").stdout.strip()
    assert mount == [f"{home}/.fleetform/{STACK}/assets/{v1}/volume", "false"]
    assert in_container(v1, "/bin") == {"busybox", "sh"}
    assert listing(f"{ASSETS}/{v1}/extracted") == {"busybox", "sh"}


def test_v2_adds_its_files_to_the_old_versions_volume(assets: OpsStack) -> None:
    deploy(assets, "busybox", "two")
    assets.up()
    (v2, state), (v1, old_state) = containers()
    SEEN["v2"] = v2
    assert (v1, old_state, state) == (SEEN["v1"], "exited", "running")
    assert served() == "two"
    new_files = in_container(v2, "/bin")
    assert {"httpd", "ls", "sh", "busybox"} <= new_files
    # The old version's volume now holds the new applets too; its own image is unchanged.
    assert listing(f"{ASSETS}/{v1}/volume") == new_files
    assert listing(f"{ASSETS}/{v1}/extracted") == {"busybox", "sh"}


def test_v3_serves_the_previous_versions_files_its_image_lacks(assets: OpsStack) -> None:
    deploy(assets, "redis", "three")
    assets.up()
    (v3, state), (v2, old_state) = containers()
    SEEN["v3"] = v3
    assert (v2, old_state, state) == (SEEN["v2"], "exited", "running")
    assert served() == "three"
    assert listing(f"{ASSETS}/{v3}/extracted") == {"busybox", "sh"}
    # `httpd` is only in v2's image, yet v3 has it under its asset path.
    assert "httpd" in in_container(v3, "/bin")
    assert in_container(v3, "/bin") == listing(f"{ASSETS}/{v2}/extracted") | {"busybox", "sh"}
    # retain_containers: 1 pruned v1, and its asset directory with it.
    assert SEEN["v1"] not in listing(ASSETS)
    assert listing(ASSETS) == {v2, v3}


def test_a_failed_extraction_leaves_the_running_version_and_its_assets(
    assets: OpsStack,
) -> None:
    before = listing(f"{ASSETS}/{SEEN['v3']}/volume")
    deploy(assets, "redis", "three", asset_path="/no/such/assets")
    error = assets.failing_up()
    assert "could not copy /no/such/assets out of the image" in error, error
    (current, state), *_ = containers()
    assert (current, state) == (SEEN["v3"], "running")
    assert served() == "three"
    assert listing(f"{ASSETS}/{SEEN['v3']}/volume") == before
    assert listing(ASSETS) == {SEEN["v2"], SEEN["v3"]}
    leftovers = ssh(h1(), "docker ps -a --filter label=fleetform.stack=e2e-assets -q").stdout
    assert len(leftovers.split()) == 2  # v3 and the retained v2: no extraction container


def test_destroy_removes_every_asset_directory(assets: OpsStack) -> None:
    deploy(assets, "redis", "three")
    assets.stack.destroy(color="never", on_output=lambda _line: None)
    assert containers() == []
    assert ssh(h1(), f"ls -A {ASSETS}").stdout.split() == []
