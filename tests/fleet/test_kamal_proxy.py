"""kamal-proxy on the fleet: one image per arch under one manifest list, serving and deploying."""

from __future__ import annotations

import base64
import http.client
import json
import re
import time
from pathlib import Path

import pytest

from tests.fleet.conftest import Fleet

pytestmark = pytest.mark.fleet

VERSION = "v0.9.2"
ARCH_HOSTS = [("h1", "arm64"), ("h4", "amd64")]
PROXY = "fleet-test-kamal-proxy"
WEB = "fleet-test-kamal-web"
NETWORK = "fleet-test-kamal"
PROXY_PORT = 8090
# Every wait below is a bounded loop in the remote shell: at most 60 tries, 0.5 s apart.
WAIT_FOR_LIST = (
    f"i=0; until docker exec {PROXY} kamal-proxy list >/dev/null 2>&1; do "
    f"i=$((i + 1)); [ $i -lt 60 ] || break; sleep 0.5; done"
)


def plain(text: str) -> str:
    """`kamal-proxy list` colours its table whether or not it writes to a terminal."""
    return re.sub(r"\x1b\[[0-9;]*m", "", text)


def proxy_image(fleet: Fleet) -> str:
    return fleet.inventory["images"]["kamal-proxy"][VERSION]


def registry_get(fleet: Fleet, path: str, accept: str) -> tuple[int, dict]:
    password = Path(fleet.inventory["registry_password_file"]).read_text().strip()
    token = base64.b64encode(f"fleetform:{password}".encode()).decode()
    gateway, port = fleet.inventory["registry"].split(":")
    connection = http.client.HTTPConnection(gateway, int(port), timeout=10)
    connection.request("GET", path, headers={"Authorization": f"Basic {token}", "Accept": accept})
    response = connection.getresponse()
    return response.status, json.loads(response.read() or b"{}")


def test_inventory_names_the_proxy_images(fleet: Fleet) -> None:
    base = f"{fleet.inventory['registry']}/basecamp/kamal-proxy"
    assert fleet.inventory["images"]["kamal-proxy"] == {
        "arm64": f"{base}:{VERSION}-arm64",
        "amd64": f"{base}:{VERSION}-amd64",
        VERSION: f"{base}:{VERSION}",
    }


def test_proxy_version_tag_is_a_manifest_list_of_both_arches(fleet: Fleet) -> None:
    status, body = registry_get(
        fleet,
        f"/v2/basecamp/kamal-proxy/manifests/{VERSION}",
        "application/vnd.docker.distribution.manifest.list.v2+json",
    )
    assert status == 200
    platforms = sorted(
        (m["platform"]["os"], m["platform"]["architecture"]) for m in body["manifests"]
    )
    assert platforms == [("linux", "amd64"), ("linux", "arm64")]
    for arch in ("arm64", "amd64"):
        status, body = registry_get(
            fleet,
            f"/v2/basecamp/kamal-proxy/manifests/{VERSION}-{arch}",
            "application/vnd.docker.distribution.manifest.v2+json",
        )
        assert status == 200 and body["schemaVersion"] == 2, arch


@pytest.mark.parametrize("name,arch", ARCH_HOSTS)
def test_pull_with_platform_gives_that_arch_and_upstreams_layout(
    logged_in: Fleet, name: str, arch: str
) -> None:
    image = proxy_image(logged_in)
    logged_in.ssh(
        name,
        f"docker rmi -f {image} >/dev/null 2>&1; docker pull -q --platform linux/{arch} {image}",
    )
    inspected = logged_in.ssh(
        name,
        "docker image inspect --format '{{.Os}} {{.Architecture}} {{.Config.User}} "
        f"{{{{json .Config.Cmd}}}} {{{{json .Config.ExposedPorts}}}}' {image}",
    ).stdout.split()
    assert inspected == [
        "linux",
        arch,
        "kamal-proxy:kamal-proxy",
        '["kamal-proxy","run"]',
        '{"443/tcp":{},"80/tcp":{}}',
    ]


@pytest.mark.parametrize("name,arch", ARCH_HOSTS)
def test_proxy_container_starts_and_kamal_proxy_list_answers(
    logged_in: Fleet, name: str, arch: str
) -> None:
    image = proxy_image(logged_in)
    try:
        result = logged_in.ssh(
            name,
            f"docker rm -f {PROXY} >/dev/null 2>&1; docker run -d --name {PROXY} {image} "
            f">/dev/null && {WAIT_FOR_LIST}; docker exec {PROXY} kamal-proxy list; "
            f"docker inspect --format '{{{{.State.Running}}}} {{{{.Config.User}}}}' {PROXY}",
            check=False,
        )
        words = plain(result.stdout).split()
        header = ["Service", "Host", "Path", "Target", "State", "TLS"]
        assert words[:6] == header, result.stdout + result.stderr + _logs(logged_in, name)
        # Started from the default command, as upstream's unprivileged user, and still running.
        assert words[6:] == ["true", "kamal-proxy:kamal-proxy"], result.stdout
    finally:
        logged_in.ssh(name, f"docker rm -f {PROXY} >/dev/null 2>&1", check=False)


@pytest.mark.parametrize("name,arch", ARCH_HOSTS)
def test_kamal_proxy_deploy_routes_traffic_and_keeps_its_state(
    logged_in: Fleet, name: str, arch: str
) -> None:
    host = logged_in.host(name)
    busybox = logged_in.image("busybox", arch)
    setup = (
        f"docker rm -f {PROXY} {WEB} >/dev/null 2>&1; docker network rm {NETWORK} >/dev/null 2>&1; "
        "rm -rf /root/kamal-www && mkdir -p /root/kamal-www && "
        "echo served-by-kamal-proxy > /root/kamal-www/index.html && "
        "echo ok > /root/kamal-www/up && "
        f"docker network create {NETWORK} >/dev/null && "
        f"docker run -d --name {WEB} --network {NETWORK} -v /root/kamal-www:/www {busybox} "
        "httpd -f -p 80 -h /www >/dev/null && "
        f"docker run -d --name {PROXY} --network {NETWORK} -p {PROXY_PORT}:80 "
        f"{proxy_image(logged_in)} >/dev/null && {WAIT_FOR_LIST}; "
        f"docker exec {PROXY} kamal-proxy deploy web --target {WEB}:80 --deploy-timeout 60s"
    )
    try:
        deployed = logged_in.ssh(name, setup, check=False, timeout=300)
        assert deployed.returncode == 0, deployed.stdout + deployed.stderr + _logs(logged_in, name)
        assert _get(host["address"], PROXY_PORT) == "served-by-kamal-proxy"
        # The deploy was saved in the state dir: a restarted proxy still routes to the target.
        listed = plain(
            logged_in.ssh(
                name,
                f"docker restart {PROXY} >/dev/null && {WAIT_FOR_LIST}; "
                f"docker exec {PROXY} kamal-proxy list",
                timeout=300,
            ).stdout
        )
        assert "web" in listed.split() and f"{WEB}:80" in listed, listed
        assert _get(host["address"], PROXY_PORT) == "served-by-kamal-proxy"
    finally:
        logged_in.ssh(
            name,
            f"docker rm -f {PROXY} {WEB} >/dev/null 2>&1; docker network rm {NETWORK} "
            ">/dev/null 2>&1; rm -rf /root/kamal-www",
            check=False,
        )


def _get(address: str, port: int) -> str:
    """GET / from the gateway (a fleet address): at most 60 tries, for at most 30 s."""
    error: Exception | None = None
    deadline = time.monotonic() + 30
    for _ in range(60):
        if time.monotonic() > deadline:
            break
        try:
            connection = http.client.HTTPConnection(address, port, timeout=5)
            connection.request("GET", "/")
            response = connection.getresponse()
            body = response.read().decode().strip()
            if response.status == 200:
                return body
            error = AssertionError(f"HTTP {response.status}: {body[:200]}")
        except OSError as failure:
            error = failure
        time.sleep(0.5)
    raise AssertionError(f"no answer from {address}:{port}: {error}")


def _logs(fleet: Fleet, name: str) -> str:
    return fleet.ssh(name, f"docker logs --tail 20 {PROXY} 2>&1", check=False).stdout
