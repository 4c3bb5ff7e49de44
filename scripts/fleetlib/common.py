"""Settings, shared constants and the process and cgroup helpers every fleet module uses."""

from __future__ import annotations

import ipaddress
import json
import os
import re
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

SCRIPTS_DIR = Path(__file__).resolve().parent.parent
DEFAULT_HOSTS = ["h1:arm64", "h2:arm64", "h3:arm64", "h4:amd64"]
MAX_HOSTS = 16
ARCHES = ("arm64", "amd64")
REGISTRY_PORT = 5000
REGISTRY_USER = "fleetform"
DOCKER = "/usr/bin/docker"  # Debian's 20.10 client, matching the engines (manifest commands)
ROOT_DOCKER_SOCK = "/var/run/docker.sock"
HOST_PATH = "/usr/sbin:/usr/bin:/sbin:/bin"
TRIPLET = {"arm64": "aarch64-linux-gnu", "amd64": "x86_64-linux-gnu"}
LOADER = {"arm64": "lib/ld-linux-aarch64.so.1", "amd64": "lib64/ld-linux-x86-64.so.2"}
UNAME = {"arm64": "aarch64", "amd64": "x86_64"}
# Fixed paths inside every host's mount namespace (the checkout and the fleet dir may be under
# /root, which each host replaces with its own).
IN_HOST_STATE = "/run/fleetform/state"
IN_HOST_ROOTFS = "/run/fleetform/rootfs"
IN_HOST_USERLAND = "/run/fleetform/userland"
ARM64_DOCKERD = "usr/libexec/fleetform/dockerd"
DEPLOY_USER = "deploy"
USERLAND_PASSWD = (
    "root:x:0:0:root:/root:/bin/sh\n"
    "sshd:x:100:65534::/run/sshd:/usr/sbin/nologin\n"
    "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"
    # A non-root deploy user (Kamal's `ssh.user: deploy`), in the docker group like on a server.
    f"{DEPLOY_USER}:x:1000:1000:{DEPLOY_USER}:/home/{DEPLOY_USER}:/bin/sh\n"
)
USERLAND_GROUP = f"root:x:0:\ndocker:x:999:{DEPLOY_USER}\n{DEPLOY_USER}:x:1000:\nnogroup:x:65534:\n"


class FleetError(RuntimeError):
    """A fleet operation that cannot go on; the message says what to do."""


@dataclass(frozen=True)
class Host:
    """One fleet host: its name, arch and index (address .10+index)."""

    name: str
    arch: str
    index: int


@dataclass(frozen=True)
class Settings:
    """Where a fleet lives and how it is addressed; all from the environment or flags."""

    name: str
    fleet_dir: Path
    cache_dir: Path
    subnet: ipaddress.IPv4Network
    cache: Path  # $FLEETFORM_CACHE: what outlives every fleet (the kamal-proxy binaries)

    @property
    def gateway(self) -> str:
        return str(self.subnet.network_address + 1)

    @property
    def registry(self) -> str:
        return f"{self.gateway}:{REGISTRY_PORT}"

    def address(self, host: Host) -> str:
        return str(self.subnet.network_address + 10 + host.index)

    @property
    def gateway_link(self) -> str:
        return f"{self.name}-gw"

    def host_dir(self, host: Host | str) -> Path:
        return self.fleet_dir / "hosts" / (host if isinstance(host, str) else host.name)

    def engine_socket(self, host: Host | str) -> Path:
        return self.host_dir(host) / "sock" / "docker.sock"

    @property
    def state_file(self) -> Path:
        return self.fleet_dir / "state.json"

    @property
    def inventory_file(self) -> Path:
        return self.fleet_dir / "inventory.json"

    @property
    def password_file(self) -> Path:
        return self.fleet_dir / "registry-password"

    @property
    def client_key(self) -> Path:
        return self.fleet_dir / "client_key"

    @property
    def known_hosts(self) -> Path:
        return self.fleet_dir / "known_hosts"

    @property
    def docker_config(self) -> Path:
        return self.fleet_dir / "docker-config"

    def image(self, repository: str, tag: str, namespace: str = "fleetform") -> str:
        return f"{self.registry}/{namespace}/{repository}:{tag}"


def load_settings(subnet_flag: str | None = None) -> Settings:
    name = os.environ.get("FLEETFORM_FLEET_NAME", "fleetform")
    if not re.fullmatch(r"[a-z][a-z0-9]{0,8}", name):
        raise FleetError(
            f"FLEETFORM_FLEET_NAME: must be 1-9 lowercase letters or digits, starting with a "
            f"letter (got {name!r})"
        )
    cache = Path(os.environ.get("FLEETFORM_CACHE", str(Path.home() / ".cache" / "fleetform")))
    fleet_dir = Path(os.environ.get("FLEETFORM_FLEET_DIR", str(cache / "fleet")))
    cache_dir = Path(os.environ.get("FLEETFORM_FLEET_CACHE", str(cache / "fleet-cache")))
    raw = subnet_flag or os.environ.get("FLEETFORM_FLEET_SUBNET", "10.203.0.0/24")
    try:
        subnet = ipaddress.IPv4Network(raw)
    except ValueError as error:
        raise FleetError(
            f"FLEETFORM_FLEET_SUBNET: not an IPv4 network ({error}) (got {raw!r})"
        ) from None
    if subnet.prefixlen > 27 or not subnet.is_private:
        raise FleetError(
            f"FLEETFORM_FLEET_SUBNET: must be a private network of /27 or larger, for the "
            f"gateway .1 and hosts .11-.26 (got {raw})"
        )
    return Settings(name, fleet_dir.absolute(), cache_dir.absolute(), subnet, cache.absolute())


def parse_hosts(specs: list[str]) -> list[Host]:
    hosts: list[Host] = []
    for index, spec in enumerate(specs or DEFAULT_HOSTS, start=1):
        name, _, arch = spec.partition(":")
        if not re.fullmatch(r"[a-z][a-z0-9-]{0,14}", name):
            raise FleetError(
                f"hosts/{index}: name must match [a-z][a-z0-9-]{{0,14}} (got {name!r})"
            )
        if arch not in ARCHES:
            raise FleetError(
                f"hosts/{name}: arch must be one of {', '.join(ARCHES)} (got {arch!r})"
            )
        if any(h.name == name for h in hosts):
            raise FleetError(f"hosts/{name}: duplicate host name")
        hosts.append(Host(name, arch, index))
    if len(hosts) > MAX_HOSTS:
        raise FleetError(f"hosts: at most {MAX_HOSTS} hosts (got {len(hosts)})")
    return hosts


def read_state(settings: Settings) -> dict | None:
    try:
        return json.loads(settings.state_file.read_text())
    except FileNotFoundError:
        return None


def write_file(path: Path, text: str, mode: int = 0o644) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.chmod(tmp, mode)
    os.replace(tmp, path)


def run(
    argv: list[str],
    *,
    input: str | None = None,
    env: dict | None = None,
    check: bool = True,
    quiet: bool = True,
    cwd: Path | None = None,
) -> subprocess.CompletedProcess:
    full_env = dict(os.environ, **(env or {}))
    result = subprocess.run(
        argv,
        input=input,
        env=full_env,
        text=True,
        cwd=cwd,
        stdin=None if input is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE if quiet else None,
        stderr=subprocess.PIPE if quiet else None,
    )
    if check and result.returncode != 0:
        output = ((result.stdout or "") + (result.stderr or "")).strip()
        raise FleetError(f"{' '.join(argv[:6])}: exit {result.returncode}\n{output[-3000:]}")
    return result


def _stat(pid: int) -> list[str]:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return []


def start_time(pid: int) -> int | None:
    fields = _stat(pid)
    return int(fields[19]) if len(fields) > 19 else None


def alive(pid: int | None, start: int | None) -> bool:
    """Whether `pid` is still the process recorded (its start time guards against pid reuse,
    e.g. state left over from before a reboot)."""
    if not pid or start is None:
        return False
    fields = _stat(pid)
    return len(fields) > 19 and fields[0] != "Z" and int(fields[19]) == start


def namespace(pid: int, kind: str) -> str | None:
    try:
        return os.readlink(f"/proc/{pid}/ns/{kind}")
    except OSError:
        return None


def wait_for(what: str, predicate, timeout: float, interval: float = 0.05):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise FleetError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


class Steps:
    """Prints one line per step with its duration."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.started = time.monotonic()

    def step(self, label: str, action, *args):
        begun = time.monotonic()
        result = action(*args)
        note = f" ({result})" if isinstance(result, str) and result else ""
        print(f"{self.prefix}: {label}{note} [{time.monotonic() - begun:.1f}s]", flush=True)
        return result

    def total(self) -> float:
        return time.monotonic() - self.started


# Every fleet process lives under /<fleet name>/ in the pids and memory hierarchies, so `down`
# finds (and the benchmark measures) all of it, whatever forked it.


def cgroup_roots() -> list[Path]:
    base = Path("/sys/fs/cgroup")
    if (base / "cgroup.controllers").exists():
        return [base]
    return [base / c for c in ("pids", "memory") if (base / c / "cgroup.procs").exists()]


def all_cgroup_hierarchies() -> list[Path]:
    base = Path("/sys/fs/cgroup")
    if (base / "cgroup.controllers").exists():
        return [base]
    return sorted(p for p in base.iterdir() if p.is_dir() and (p / "cgroup.procs").exists())


def cgroup_create(settings: Settings, part: str) -> list[Path]:
    paths = []
    for root in cgroup_roots():
        path = root / settings.name / part
        path.mkdir(parents=True, exist_ok=True)
        paths.append(path / "cgroup.procs")
    return paths


def cgroup_pids(settings: Settings) -> set[int]:
    pids: set[int] = set()
    for root in all_cgroup_hierarchies():
        top = root / settings.name
        if top.is_dir():
            for procs in top.rglob("cgroup.procs"):
                try:
                    pids.update(int(p) for p in procs.read_text().split())
                except OSError:
                    pass
    return pids


def spawn(settings: Settings, cgroup: str, argv: list[str], log: Path) -> subprocess.Popen:
    """Start a detached process, already placed in the fleet's cgroup, with output to `log`."""
    procs = cgroup_create(settings, cgroup)
    script = 'for f in "$@"; do echo $$ > "$f"; done; exec ' + " ".join(
        shell_quote(a) for a in argv
    )
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        return subprocess.Popen(
            ["/bin/sh", "-c", script, "sh", *[str(p) for p in procs]],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=out,
            start_new_session=True,
            env=dict(os.environ, PATH=HOST_PATH),
        )


def shell_quote(value: str) -> str:
    return "'" + str(value).replace("'", "'\\''") + "'"
