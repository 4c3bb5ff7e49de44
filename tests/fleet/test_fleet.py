"""The embedded local fleet behaves like real arm64 and amd64 SSH + Docker servers."""

from __future__ import annotations

import base64
import http.client
import ipaddress
import json
import os
import re
import stat
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from tests.fleet.conftest import UNAME, Fleet, fleet_command

pytestmark = pytest.mark.fleet

DEFAULT_SHAPE = [("h1", "arm64"), ("h2", "arm64"), ("h3", "arm64"), ("h4", "amd64")]
# The fleet under test: the default one, or another one (a second engineer's, say) when the
# FLEETFORM_FLEET_* variables name it.
SUBNET = ipaddress.IPv4Network(os.environ.get("FLEETFORM_FLEET_SUBNET", "10.203.0.0/24"))
NAME = os.environ.get("FLEETFORM_FLEET_NAME", "fleetform")


def test_default_shape_and_addresses(fleet: Fleet) -> None:
    base = SUBNET.network_address
    assert [(h["name"], h["arch"]) for h in fleet.hosts] == DEFAULT_SHAPE
    assert [h["address"] for h in fleet.hosts] == [str(base + 11 + i) for i in range(4)]
    assert fleet.inventory["subnet"] == str(SUBNET)
    assert fleet.inventory["gateway"] == str(base + 1)
    assert fleet.inventory["registry"] == f"{base + 1}:5000"


def test_inventory_files(fleet: Fleet) -> None:
    inventory = fleet.inventory
    for host in fleet.hosts:
        assert host["ssh_port"] == 22 and host["user"] == "root"
        assert host["host_public_key"].startswith("ssh-ed25519 AAAA")
    known = Path(inventory["known_hosts"]).read_text().splitlines()
    assert sorted(known) == sorted(f"{h['address']} {h['host_public_key']}" for h in fleet.hosts)
    assert "PRIVATE KEY" in Path(inventory["client_key"]).read_text()
    password = Path(inventory["registry_password_file"])
    assert stat.S_IMODE(password.stat().st_mode) == 0o600
    assert len(password.read_text().strip()) >= 24
    assert inventory["registry_user"] == "fleetform"


@pytest.mark.parametrize("name,arch", DEFAULT_SHAPE)
def test_uname_over_ssh(fleet: Fleet, name: str, arch: str) -> None:
    assert fleet.ssh(name, "uname -m").stdout.strip() == UNAME[arch]


@pytest.mark.parametrize("name,arch", DEFAULT_SHAPE)
def test_engine_arch_over_ssh(fleet: Fleet, name: str, arch: str) -> None:
    out = fleet.ssh(name, "docker info --format '{{.Architecture}} {{.Name}}'").stdout.split()
    assert out == [UNAME[arch], name]


def test_shell_environment_has_the_tools_remote_commands_use(fleet: Fleet) -> None:
    script = (
        "set -e; for t in sh cat mkdir chmod sha256sum printf test sleep uname docker rm mv; "
        "do command -v $t >/dev/null || { echo missing $t; exit 1; }; done; "
        "d=/root/fleet-test-$$; mkdir -p $d; cat > $d/env; chmod 600 $d/env; "
        "sha256sum $d/env | cut -d' ' -f1; test -s $d/env; sleep 0; "
        "printf '%s\\n' \"$DOCKER_HOST\"; rm -rf $d"
    )
    payload = "KEY=value\n"
    digest = subprocess.run(
        ["sha256sum"], input=payload, capture_output=True, text=True
    ).stdout.split()[0]
    for host in fleet.hosts:
        lines = fleet.ssh(host, script, input=payload).stdout.split()
        assert lines == [digest, "unix:///var/run/docker.sock"], host["name"]


def test_hosts_have_no_default_route(fleet: Fleet) -> None:
    for host in fleet.hosts:
        routes = fleet.ssh(host, "ip -4 route").stdout
        assert "default" not in routes, host["name"]
        assert f"{fleet.inventory['subnet']} dev eth0" in routes
        # A route lookup only: nothing is sent.
        lookup = fleet.ssh(host, "ip route get 1.1.1.1", check=False)
        assert lookup.returncode != 0 and "unreachable" in lookup.stderr.lower()


def test_registry_requires_auth(fleet: Fleet) -> None:
    gateway, port = fleet.inventory["registry"].split(":")
    connection = http.client.HTTPConnection(gateway, int(port), timeout=5)
    connection.request("GET", "/v2/_catalog")
    assert connection.getresponse().status == 401
    password = Path(fleet.inventory["registry_password_file"]).read_text().strip()
    token = base64.b64encode(f"fleetform:{password}".encode()).decode()
    connection = http.client.HTTPConnection(gateway, int(port), timeout=5)
    connection.request("GET", "/v2/_catalog", headers={"Authorization": f"Basic {token}"})
    response = connection.getresponse()
    assert response.status == 200
    assert {"fleetform/busybox", "fleetform/redis"} <= set(
        json.loads(response.read())["repositories"]
    )


def test_busybox_latest_is_a_manifest_list_of_both_arches(fleet: Fleet) -> None:
    password = Path(fleet.inventory["registry_password_file"]).read_text().strip()
    gateway, port = fleet.inventory["registry"].split(":")
    token = base64.b64encode(f"fleetform:{password}".encode()).decode()
    connection = http.client.HTTPConnection(gateway, int(port), timeout=5)
    connection.request(
        "GET",
        "/v2/fleetform/busybox/manifests/latest",
        headers={
            "Authorization": f"Basic {token}",
            "Accept": "application/vnd.docker.distribution.manifest.list.v2+json",
        },
    )
    body = json.loads(connection.getresponse().read())
    assert sorted(m["platform"]["architecture"] for m in body["manifests"]) == ["amd64", "arm64"]


@pytest.mark.parametrize("name,arch", DEFAULT_SHAPE)
def test_pull_with_platform_from_registry(logged_in: Fleet, name: str, arch: str) -> None:
    image = logged_in.image("busybox", "latest")
    logged_in.ssh(
        name,
        f"docker rmi -f {image} >/dev/null 2>&1; "
        f"docker pull -q --platform linux/{arch} {image}",
    )
    inspected = logged_in.ssh(
        name, f"docker image inspect --format '{{{{.Architecture}}}}' " f"{image}"
    ).stdout.strip()
    assert inspected == arch


def test_pull_without_platform_picks_the_engine_arch(logged_in: Fleet) -> None:
    image = logged_in.image("busybox", "latest")
    for arch in ("arm64", "amd64"):
        host = logged_in.first(arch)
        logged_in.ssh(host, f"docker rmi -f {image} >/dev/null 2>&1; docker pull -q {image}")
        inspected = logged_in.ssh(
            host, f"docker image inspect --format " f"'{{{{.Architecture}}}}' {image}"
        ).stdout.strip()
        assert inspected == arch


def test_arm64_image_runs_on_arm64_host(logged_in: Fleet) -> None:
    result = logged_in.ssh(
        "h1", f"docker run --rm {logged_in.image('busybox', 'arm64')} " "uname -m"
    )
    assert result.stdout.strip() == "aarch64"


def test_arm64_image_fails_on_amd64_host_with_exec_format_error(logged_in: Fleet) -> None:
    result = logged_in.ssh(
        "h4", f"docker run --rm {logged_in.image('busybox', 'arm64')} " "uname -m", check=False
    )
    assert result.returncode == 1
    assert "exec /bin/uname: exec format error" in result.stderr


def test_amd64_image_is_refused_on_arm64_host(logged_in: Fleet) -> None:
    result = logged_in.ssh(
        "h2", f"docker run --rm {logged_in.image('busybox', 'amd64')} " "uname -m", check=False
    )
    assert result.returncode == 1
    assert "exec /bin/uname: exec format error" in result.stderr
    assert result.stdout == ""


def test_binfmt_is_per_host_and_arm64_binaries_do_not_run_on_amd64(fleet: Fleet) -> None:
    for host in fleet.hosts:
        entries = fleet.ssh(host, "ls /proc/sys/fs/binfmt_misc").stdout.split()
        if host["arch"] == "arm64":
            assert "qemu-aarch64" in entries, host["name"]
            flags = fleet.ssh(host, "cat /proc/sys/fs/binfmt_misc/qemu-aarch64").stdout
            assert "flags: PF" in flags
        else:
            assert sorted(entries) == ["register", "status"], host["name"]
    # Upload the arm64 busybox of the fleet's userland cache and run it over SSH on h4. The
    # kernel refuses it (ENOEXEC); busybox sh then tries it as a script, as POSIX says, and
    # fails: bash would say "cannot execute binary file" (126).
    cache = Path(os.environ.get("FLEETFORM_CACHE", Path.home() / ".cache" / "fleetform"))
    cache = Path(os.environ.get("FLEETFORM_FLEET_CACHE", cache / "fleet-cache"))
    with open(cache / "userland-arm64" / "bin" / "busybox", "rb") as handle:
        upload = subprocess.run(
            [*fleet.ssh_argv(fleet.host("h4")), "cat > /tmp/bb && chmod +x /tmp/bb"],
            stdin=handle,
            capture_output=True,
            timeout=60,
        )
    assert upload.returncode == 0, upload.stderr
    result = fleet.ssh("h4", "/tmp/bb echo ran; echo rc=$?; rm -f /tmp/bb")
    assert "ran" not in result.stdout.split()
    assert "rc=0" not in result.stdout


def test_bind_mount_under_root_is_private_and_survives_container_replacement(
    logged_in: Fleet,
) -> None:
    image = logged_in.image("busybox", "latest")
    marker = uuid.uuid4().hex
    for name in ("h1", "h4"):
        logged_in.ssh(
            name,
            f"mkdir -p /root/fleet-test && docker run --rm "
            f"-v /root/fleet-test:/data {image} sh -c 'echo {marker} > "
            f"/data/{name}'",
        )
        assert logged_in.ssh(name, f"cat /root/fleet-test/{name}").stdout.strip() == marker
        again = logged_in.ssh(
            name, f"docker run --rm -v /root/fleet-test:/data {image} " f"cat /data/{name}"
        ).stdout.strip()
        assert again == marker
    # h1's /root is not h4's.
    assert logged_in.ssh("h4", "test -e /root/fleet-test/h1", check=False).returncode != 0
    for name in ("h1", "h4"):
        logged_in.ssh(name, "rm -rf /root/fleet-test")


def test_env_file_from_stdin_reaches_the_container(logged_in: Fleet) -> None:
    image = logged_in.image("busybox", "latest")
    result = logged_in.ssh(
        "h3",
        f"umask 077; cat > /root/test.env && docker run --rm --env-file /root/test.env "
        f"{image} sh -c 'echo $SECRET'; rm -f /root/test.env",
        input="SECRET=s3cr3t\n",
    )
    assert result.stdout.strip() == "s3cr3t"


def test_published_port_is_reachable_from_the_gateway(logged_in: Fleet) -> None:
    image = logged_in.image("busybox", "latest")
    host = logged_in.first("amd64")
    logged_in.ssh(
        host,
        "docker rm -f fleet-test-web >/dev/null 2>&1; mkdir -p /root/www && "
        "echo fleet-ok > /root/www/index.html && docker run -d --name "
        f"fleet-test-web -p 8080:80 -v /root/www:/www {image} "
        "httpd -f -p 80 -h /www",
    )
    try:
        connection = http.client.HTTPConnection(host["address"], 8080, timeout=10)
        for _ in range(50):
            try:
                connection.request("GET", "/")
                break
            except OSError:
                time.sleep(0.1)
                connection = http.client.HTTPConnection(host["address"], 8080, timeout=10)
        assert connection.getresponse().read().decode().strip() == "fleet-ok"
    finally:
        logged_in.ssh(host, "docker rm -f fleet-test-web; rm -rf /root/www")


def test_redis_amd64_image_runs_on_amd64_host(logged_in: Fleet) -> None:
    for tag in ("7.0", "7"):
        image = logged_in.image("redis", tag)
        result = logged_in.ssh(
            "h4",
            f"docker rm -f fleet-test-redis >/dev/null 2>&1; "
            f"docker run -d --name fleet-test-redis {image} >/dev/null "
            "&& for i in 1 2 3 4 5 6 7 8 9 10; do docker exec "
            "fleet-test-redis redis-cli ping 2>/dev/null && break; "
            "sleep 0.3; done; docker image inspect --format "
            f"'{{{{.Architecture}}}}' {image}; "
            "docker rm -f fleet-test-redis >/dev/null",
        )
        assert result.stdout.split() == ["PONG", "amd64"]


def test_ssh_with_generated_known_hosts_and_wrong_key_is_rejected(
    fleet: Fleet, tmp_path: Path
) -> None:
    h1, h2 = fleet.host("h1"), fleet.host("h2")
    ok = subprocess.run(
        [*fleet.ssh_argv(h1), "true"],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=60,
    )
    assert ok.returncode == 0, ok.stderr
    wrong = tmp_path / "known_hosts"
    wrong.write_text(f"{h1['address']} {h2['host_public_key']}\n")
    refused = subprocess.run(
        [*fleet.ssh_argv(h1, str(wrong)), "true"],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=60,
    )
    assert refused.returncode == 255
    assert "REMOTE HOST IDENTIFICATION HAS CHANGED" in refused.stderr
    unknown = tmp_path / "empty_known_hosts"
    unknown.write_text("")
    refused = subprocess.run(
        [*fleet.ssh_argv(h1, str(unknown)), "true"],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=60,
    )
    assert refused.returncode == 255
    assert "Host key verification failed" in refused.stderr


def test_password_login_is_refused(fleet: Fleet) -> None:
    h4 = fleet.host("h4")
    result = subprocess.run(
        [
            "ssh",
            "-F",
            "/dev/null",
            "-o",
            "BatchMode=yes",
            "-o",
            "PubkeyAuthentication=no",
            "-o",
            f"UserKnownHostsFile={fleet.inventory['known_hosts']}",
            "-o",
            "StrictHostKeyChecking=yes",
            f"root@{h4['address']}",
            "true",
        ],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=60,
    )
    assert result.returncode == 255 and "Permission denied" in result.stderr


def test_up_again_changes_nothing_and_status_reports(fleet: Fleet) -> None:
    state_before = (fleet.path / "state.json").read_text()
    inventory_before = (fleet.path / "inventory.json").read_text()
    result = fleet_command("up")
    assert result.returncode == 0, result.stderr
    assert "already up; nothing changed" in result.stdout
    assert (fleet.path / "state.json").read_text() == state_before
    assert (fleet.path / "inventory.json").read_text() == inventory_before
    status = fleet_command("status")
    assert status.returncode == 0, status.stdout + status.stderr
    for name, arch in DEFAULT_SHAPE:
        line = next(line for line in status.stdout.splitlines() if line.startswith(name + " "))
        assert line.split()[3:5] == [UNAME[arch], UNAME[arch]], line


def test_bad_host_specs_are_rejected() -> None:
    env = {"FLEETFORM_FLEET_NAME": "ffbad", "FLEETFORM_FLEET_DIR": "/nonexistent/ffbad"}
    result = fleet_command("up", "h1:riscv64", env=env)
    assert result.returncode == 1
    assert "hosts/h1: arch must be one of arm64, amd64 (got 'riscv64')" in result.stderr
    many = [f"x{i}:amd64" for i in range(17)]
    result = fleet_command("up", *many, env=env)
    assert "hosts: at most 16 hosts (got 17)" in result.stderr
    result = fleet_command("up", env={**env, "FLEETFORM_FLEET_SUBNET": "10.203.0.0/30"})
    assert "FLEETFORM_FLEET_SUBNET: must be a private network of /27 or larger" in result.stderr


# --------------------------------------------------------------------------------------------
# `down` leaves nothing behind: checked on a separate small fleet, so the default one stays up.
# Tests against another fleet get a small fleet of their own too (the /24 after theirs).

SMALL = (
    {"FLEETFORM_FLEET_NAME": "ffdown", "FLEETFORM_FLEET_SUBNET": "10.203.201.0/24"}
    if NAME == "fleetform"
    else {
        "FLEETFORM_FLEET_NAME": f"{NAME[:7]}dn",
        "FLEETFORM_FLEET_SUBNET": f"{SUBNET.network_address + SUBNET.num_addresses}/24",
    }
)


def _mentions(route: str, subnet: str) -> bool:
    """Whether a route line names an address or network inside `subnet`.

    Compared as networks, not text: 10.203.2.0/24 must not match another fleet's 10.203.203.0/24.
    """
    network = ipaddress.ip_network(subnet)
    for token in re.findall(r"\b\d+\.\d+\.\d+\.\d+(?:/\d+)?\b", route):
        if ipaddress.ip_network(token, strict=False).overlaps(network):
            return True
    return False


def _leftovers(name: str, fleet_dir: Path, subnet: str) -> list[str]:
    found = []
    netns = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    found += [f"netns {line}" for line in netns.splitlines() if name in line]
    links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout
    found += [f"link {line[:80]}" for line in links.splitlines() if f"{name}-" in line]
    routes = subprocess.run(
        ["ip", "-4", "route", "show", "table", "all"], capture_output=True, text=True
    ).stdout
    found += [f"route {line}" for line in routes.splitlines() if _mentions(line, subnet)]
    mounts = Path("/proc/self/mountinfo").read_text()
    found += [f"mount {line[:120]}" for line in mounts.splitlines() if str(fleet_dir) in line]
    for hierarchy in Path("/sys/fs/cgroup").iterdir():
        if (hierarchy / name).exists():
            found.append(f"cgroup {hierarchy / name}")
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            cgroups = (proc / "cgroup").read_text()
        except OSError:
            continue
        if str(fleet_dir) in cmdline or f"/{name}/" in cgroups or cgroups.endswith(f"/{name}\n"):
            found.append(f"process {proc.name}: {cmdline[:80]}")
    if fleet_dir.exists():
        found.append(f"directory {fleet_dir}")
    return found


def test_down_leaves_nothing_behind(tmp_path: Path) -> None:
    fleet_dir = tmp_path / "fleet"
    env = {**SMALL, "FLEETFORM_FLEET_DIR": str(fleet_dir)}
    up = fleet_command("up", "d1:arm64", "d2:amd64", env=env)
    assert up.returncode == 0, up.stdout + up.stderr
    inventory = json.loads((fleet_dir / "inventory.json").read_text())
    small = Fleet(inventory, fleet_dir)
    password = Path(inventory["registry_password_file"]).read_text()
    for host in small.hosts:
        small.ssh(
            host,
            f"docker login -u fleetform --password-stdin {inventory['registry']} "
            f">/dev/null && docker run -d --restart always -v /root:/data "
            f"{small.image('busybox', host['arch'])} sleep 1000",
            input=password,
        )
    assert _leftovers(SMALL["FLEETFORM_FLEET_NAME"], fleet_dir, SMALL["FLEETFORM_FLEET_SUBNET"])
    down = fleet_command("down", env=env)
    assert down.returncode == 0, down.stdout + down.stderr
    assert "nothing left" in down.stdout
    assert (
        _leftovers(SMALL["FLEETFORM_FLEET_NAME"], fleet_dir, SMALL["FLEETFORM_FLEET_SUBNET"]) == []
    )
    again = fleet_command("down", env=env)
    assert again.returncode == 0, again.stdout + again.stderr
