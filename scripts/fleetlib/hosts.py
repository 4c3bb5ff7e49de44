"""Namespaces and hosts: the network fabric, each host's namespaces, sshd and dockerd, teardown."""

from __future__ import annotations

import ipaddress
import json
import os
import shutil
import signal
import subprocess
import time
from dataclasses import asdict
from pathlib import Path

from .common import (
    ARM64_DOCKERD,
    HOST_PATH,
    IN_HOST_ROOTFS,
    IN_HOST_STATE,
    IN_HOST_USERLAND,
    SCRIPTS_DIR,
    UNAME,
    DEPLOY_USER,
    USERLAND_GROUP,
    USERLAND_PASSWD,
    FleetError,
    Host,
    Settings,
    alive,
    all_cgroup_hierarchies,
    cgroup_create,
    cgroup_pids,
    namespace,
    run,
    shell_quote,
    spawn,
    start_time,
    wait_for,
    write_file,
)
from .engines import engine_info
from .userland import userland_root

SSHD = "/usr/sbin/sshd"
# Programs that may name the fleet dir in their arguments without being part of the fleet.
FLEET_CLIENTS = {"ssh", "scp", "sftp", "ssh-keygen", "docker", "python3", "pytest", "bash", "sh"}
QEMU_AARCH64_BINFMT = (
    r":qemu-aarch64:M::\x7f\x45\x4c\x46\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02"
    r"\x00\xb7\x00:\xff\xff\xff\xff\xff\xff\xff\x00\xff\xff\xff\xff\xff\xff\xff\xff\xfe\xff"
    r"\xff\xff:/usr/libexec/qemu-binfmt/aarch64-binfmt-P:PF"
)


def check_subnet_free(settings: Settings) -> None:
    routes = json.loads(run(["ip", "-j", "-4", "route", "show", "table", "all"]).stdout or "[]")
    for route in routes:
        dst = route.get("dst", "")
        if dst in ("default", "") or route.get("type") in ("local", "broadcast"):
            continue
        try:
            network = ipaddress.IPv4Network(dst if "/" in dst else dst + "/32", strict=False)
        except ValueError:
            continue
        if network.overlaps(settings.subnet):
            raise FleetError(
                f"FLEETFORM_FLEET_SUBNET: {settings.subnet} overlaps route {dst} on "
                f"{route.get('dev')}; choose another subnet"
            )


def start_fabric(settings: Settings, state: dict) -> str:
    check_subnet_free(settings)
    process = spawn(
        settings,
        "fabric",
        ["unshare", "--net", "--", "sleep", "infinity"],
        settings.fleet_dir / "logs" / "fabric.log",
    )
    state["fabric_pid"], state["fabric_start"] = process.pid, start_time(process.pid)
    own = os.readlink("/proc/self/ns/net")
    wait_for("the fabric namespace", lambda: namespace(process.pid, "net") not in (None, own), 5)
    fabric = str(process.pid)
    link = settings.gateway_link
    run(["ip", "link", "add", link, "type", "veth", "peer", "name", "gw", "netns", fabric])
    run(["sysctl", "-q", "-w", f"net.ipv6.conf.{link}.disable_ipv6=1"], check=False)
    run(["ip", "addr", "add", f"{settings.gateway}/{settings.subnet.prefixlen}", "dev", link])
    run(["ip", "link", "set", link, "up"])
    run(
        [
            "nsenter",
            "-t",
            fabric,
            "-n",
            "sh",
            "-c",
            "sysctl -q -w net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1;"
            "ip link set lo up && ip link add br0 type bridge && ip link set br0 up && "
            "ip link set gw master br0 && ip link set gw up",
        ]
    )
    return f"bridge in its own netns, {settings.gateway}/{settings.subnet.prefixlen} on {link}"


def host_setup_script(settings: Settings, host: Host) -> str:
    """Runs inside a host's namespaces: mounts, network, binfmt, then starts dockerd and sshd."""
    state_dir = settings.host_dir(host)
    rootfs = userland_root(settings, host.arch)
    address = settings.address(host)
    userland = IN_HOST_USERLAND
    if host.arch == "arm64":
        dockerd = f"{IN_HOST_ROOTFS}/{ARM64_DOCKERD}"
        runtime = (
            f"--add-runtime fleetform={IN_HOST_STATE}/oci-runtime " "--default-runtime fleetform"
        )
        binfmt = f"printf '%s\\n' '{QEMU_AARCH64_BINFMT}' > /proc/sys/fs/binfmt_misc/register"
    else:
        dockerd, runtime, binfmt = "/usr/sbin/dockerd", "", ": amd64 hosts keep it empty"
    return f"""set -eu
unset FLEETFORM_HOST_SETUP
cd /
export PATH={HOST_PATH}
hostname {host.name}
ip link set lo up
ip addr add {address}/{settings.subnet.prefixlen} dev eth0
ip link set eth0 up
mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
{binfmt}
# The state and userland may live under /tmp, /run or /root, which get replaced below: bind
# them first onto a private /dev/shm, then move them into place.
mount -t tmpfs -o mode=1777,size=64m tmpfs /dev/shm
mkdir /dev/shm/state /dev/shm/rootfs
mount --bind {shell_quote(str(state_dir))} /dev/shm/state
mount --bind {shell_quote(str(rootfs))} /dev/shm/rootfs
mount -t tmpfs -o mode=755,size=256m tmpfs /run
mount -t tmpfs -o mode=1777,size=1g tmpfs /tmp
mkdir -p /run/fleetform/upper /run/fleetform/work {IN_HOST_STATE} {IN_HOST_ROOTFS} {userland} \
  /run/sshd /run/engine
chmod 755 /run/fleetform /run/sshd
mount --move /dev/shm/state {IN_HOST_STATE}
mount --move /dev/shm/rootfs {IN_HOST_ROOTFS}
rmdir /dev/shm/state /dev/shm/rootfs
mount -o remount,bind,ro {IN_HOST_ROOTFS}
mount -t overlay overlay \
  -o lowerdir={IN_HOST_ROOTFS},upperdir=/run/fleetform/upper,workdir=/run/fleetform/work {userland}
mount --bind {IN_HOST_STATE}/sock /run/engine
ln -s /run/engine/docker.sock /run/docker.sock
mount --rbind /dev {userland}/dev
mount --rbind /proc {userland}/proc
mount --bind {IN_HOST_STATE}/root {userland}/root
mount --bind /tmp {userland}/tmp
mkdir -p {userland}/run/engine {userland}/home/{DEPLOY_USER}
chown 1000:1000 {userland}/home/{DEPLOY_USER}
mount --bind {IN_HOST_STATE}/sock {userland}/run/engine
ln -s /run/engine/docker.sock {userland}/run/docker.sock
cp {IN_HOST_STATE}/etc/hosts {IN_HOST_STATE}/etc/hostname {userland}/etc/
for f in passwd group hosts hostname; do mount --bind {IN_HOST_STATE}/etc/$f /etc/$f; done
mount --bind {IN_HOST_STATE}/root /root
setsid {dockerd} --data-root {IN_HOST_STATE}/docker --exec-root /run/docker \
  --pidfile /run/docker.pid -H unix://{IN_HOST_STATE}/sock/docker.sock \
  --insecure-registry {settings.registry} --cgroup-parent /{settings.name}/{host.name}/docker \
  {runtime} >> {IN_HOST_STATE}/dockerd.log 2>&1 < /dev/null &
{SSHD} -f {IN_HOST_STATE}/sshd_config -E {IN_HOST_STATE}/sshd.log
"""


def sshd_config(settings: Settings, host: Host) -> str:
    return f"""# fleetform host {host.name} ({host.arch})
Port 22
ListenAddress {settings.address(host)}
HostKey {IN_HOST_STATE}/ssh_host_ed25519_key
PidFile /run/sshd.pid
UsePAM no
StrictModes no
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
PubkeyAuthentication yes
AuthorizedKeysFile {IN_HOST_STATE}/authorized_keys
ChrootDirectory {IN_HOST_USERLAND}
Subsystem sftp internal-sftp
AcceptEnv LANG LC_*
SetEnv DOCKER_HOST=unix:///var/run/docker.sock
X11Forwarding no
PrintMotd no
UseDNS no
MaxStartups 100:30:200
MaxSessions 50
"""


def prepare_host_files(settings: Settings, host: Host, client_public_key: str) -> None:
    directory = settings.host_dir(host)
    for sub in ("root", "sock", "docker", "etc"):
        (directory / sub).mkdir(parents=True, exist_ok=True)
    os.chmod(directory / "root", 0o700)
    key = directory / "ssh_host_ed25519_key"
    if not key.exists():
        comment = f"{host.name}@fleetform"
        run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(key)])
    # Public; sshd reads it as the user logging in, root or deploy.
    write_file(directory / "authorized_keys", client_public_key, 0o644)
    write_file(directory / "sshd_config", sshd_config(settings, host))
    write_file(directory / "etc" / "passwd", USERLAND_PASSWD)
    write_file(directory / "etc" / "group", USERLAND_GROUP)
    write_file(directory / "etc" / "hostname", host.name + "\n")
    write_file(
        directory / "etc" / "hosts",
        f"127.0.0.1\tlocalhost\n{settings.address(host)}\t{host.name}\n"
        f"{settings.gateway}\tgateway registry\n",
    )
    if host.arch == "arm64":
        shutil.copy2(SCRIPTS_DIR / "fleet-oci-runtime", directory / "oci-runtime")
        os.chmod(directory / "oci-runtime", 0o755)


def start_host(settings: Settings, host: Host, state: dict) -> None:
    directory = settings.host_dir(host)
    namespaces = ["--user", "--mount", "--net", "--uts", "--ipc", "--pid"]
    unshare = ["unshare", *namespaces, "--fork", "--kill-child", "--mount-proc"]
    unshare += ["--propagation", "private"]
    process = spawn(
        settings,
        host.name,
        [*unshare, "/usr/bin/docker-init", "--", "sleep", "infinity"],
        directory / "init.log",
    )
    own = os.readlink("/proc/self/ns/user")
    wait_for(
        f"{host.name} namespaces", lambda: namespace(process.pid, "user") not in (None, own), 5
    )
    # One uid is left out of the map on purpose, so dockerd and runc see a user namespace.
    for kind in ("uid_map", "gid_map"):
        Path(f"/proc/{process.pid}/{kind}").write_text("0 0 4294967294\n")
    init = wait_for(f"{host.name} init", lambda: _children(process.pid), 5)[0]
    state["hosts"][host.name] = {
        **asdict(host),
        "unshare_pid": process.pid,
        "unshare_start": start_time(process.pid),
        "init_pid": init,
        "init_start": start_time(init),
    }
    fabric = str(state["fabric_pid"])
    inside = ["name", "eth0", "netns", str(init)]
    run(["ip", "link", "add", *inside, "type", "veth", "peer", "name", host.name, "netns", fabric])
    attach = f"ip link set {host.name} master br0 && ip link set {host.name} up"
    run(["nsenter", "-t", fabric, "-n", "sh", "-c", attach])
    # nsenter leaves processes in the caller's cgroups: join the host's first, so its daemons
    # are accounted (and found by `down`) with the rest of the host.
    procs = cgroup_create(settings, host.name)
    enter = (
        'for f in "$@"; do echo $$ > "$f"; done; exec nsenter -t '
        + str(init)
        + (' -U -m -n -u -i -p -- /bin/bash -c "$FLEETFORM_HOST_SETUP"')
    )
    result = subprocess.run(
        ["/bin/sh", "-c", enter, "sh", *[str(p) for p in procs]],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        env=dict(
            os.environ, PATH=HOST_PATH, FLEETFORM_HOST_SETUP=host_setup_script(settings, host)
        ),
    )
    if result.returncode != 0:
        raise FleetError(f"{host.name}: setup failed:\n{result.stderr[-3000:]}")


def _children(pid: int) -> list[int]:
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def ssh_argv(settings: Settings, address: str, *, tty: bool = False) -> list[str]:
    return [
        "ssh",
        "-F",
        "/dev/null",
        "-i",
        str(settings.client_key),
        "-o",
        "IdentitiesOnly=yes",
        "-o",
        f"UserKnownHostsFile={settings.known_hosts}",
        "-o",
        "StrictHostKeyChecking=yes",
        "-o",
        "BatchMode=yes",
        "-o",
        "LogLevel=ERROR",
        "-o",
        "ConnectTimeout=10",
        *(["-t"] if tty else ["-T"]),
        f"root@{address}",
    ]


def wait_host_ready(settings: Settings, host: Host) -> None:
    log = settings.host_dir(host) / "dockerd.log"
    wait_for(
        f"{host.name} engine (log: {log})", lambda: engine_info(settings, host.name, 5), 90, 0.2
    )
    probe = ssh_argv(settings, settings.address(host)) + ["uname -m"]
    result = wait_for(f"{host.name} sshd", lambda: _ssh_ok(probe), 30, 0.2)
    if result != UNAME[host.arch]:
        raise FleetError(f"{host.name}: uname -m over SSH says {result}, not {UNAME[host.arch]}")


def _ssh_ok(argv: list[str]) -> str | None:
    result = subprocess.run(argv, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    return result.stdout.strip() if result.returncode == 0 else None


def leftovers(settings: Settings) -> list[str]:
    found = []
    if run(["ip", "link", "show", settings.gateway_link], check=False).returncode == 0:
        found.append(f"link {settings.gateway_link}")
    for root in all_cgroup_hierarchies():
        if (root / settings.name).exists():
            found.append(f"cgroup {root / settings.name}")
    pids = cgroup_pids(settings)
    if pids:
        found.append(f"processes {sorted(pids)}")
    marker = str(settings.fleet_dir) + "/"
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        fields = line.split()
        if (fields[4] + "/").startswith(marker):
            found.append(f"mount {fields[4]}")
    # A fleet process outside its cgroups (none should be): one running a program with the
    # fleet dir in its arguments. Clients (ssh, scp, ...) using the fleet's key are not fleet.
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            argv = (proc / "cmdline").read_bytes().decode(errors="replace").split("\0")
        except OSError:
            continue
        program = os.path.basename(argv[0]) if argv else ""
        if program in FLEET_CLIENTS or int(proc.name) == os.getpid():
            continue
        cmdline = " ".join(argv)
        if str(settings.fleet_dir) + "/" in cmdline:
            found.append(f"process {proc.name}: {cmdline[:100]}")
    if settings.fleet_dir.exists():
        found.append(f"directory {settings.fleet_dir}")
    return found


def kill_all(settings: Settings, state: dict | None) -> None:
    recorded = []
    if state:
        for host in state.get("hosts", {}).values():
            recorded += [
                (host.get("init_pid"), host.get("init_start")),
                (host.get("unshare_pid"), host.get("unshare_start")),
            ]
        recorded += [
            (state.get(f"{k}_pid"), state.get(f"{k}_start")) for k in ("registry", "fabric")
        ]
    # Killing a host's init ends its PID namespace: sshd, dockerd and every container in it.
    for pid in [pid for pid, start in recorded if alive(pid, start)]:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        remaining = cgroup_pids(settings) | {p for p, s in recorded if alive(p, s)}
        if not remaining:
            return
        for pid in remaining:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.05)


def remove_cgroups(settings: Settings) -> None:
    for root in all_cgroup_hierarchies():
        top = root / settings.name
        if not top.is_dir():
            continue
        directories = sorted(
            (p for p in top.rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True
        )
        for directory in [*directories, top]:
            for _ in range(50):
                try:
                    directory.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.02)
