"""The `scripts/fleet` commands: up, down, status and ssh, and the inventory that `up` writes."""

from __future__ import annotations

import argparse
import concurrent.futures
import fcntl
import json
import os
import shutil
import subprocess
import sys

from . import kamal_proxy
from .common import (
    ARCHES,
    DEFAULT_HOSTS,
    MAX_HOSTS,
    REGISTRY_USER,
    SCRIPTS_DIR,
    UNAME,
    FleetError,
    Host,
    Settings,
    Steps,
    alive,
    load_settings,
    parse_hosts,
    read_state,
    run,
    write_file,
)
from .engines import engine_info, ensure_root_engine
from .hosts import (
    kill_all,
    leftovers,
    prepare_host_files,
    remove_cgroups,
    ssh_argv,
    start_fabric,
    start_host,
    wait_host_ready,
)
from .images import build_and_push_images, start_registry
from .userland import ensure_packages, ensure_userland

DESCRIPTION = (
    "fleetform's embedded local fleet: SSH + Docker hosts of mixed CPU arch on this one machine."
)


def write_inventory(settings: Settings, hosts: list[Host]) -> str:
    entries, known = [], []
    for host in hosts:
        public = (settings.host_dir(host) / "ssh_host_ed25519_key.pub").read_text().split()
        key = f"{public[0]} {public[1]}"
        known.append(f"{settings.address(host)} {key}\n")
        entries.append(
            {
                "name": host.name,
                "address": settings.address(host),
                "arch": host.arch,
                "ssh_port": 22,
                "user": "root",
                "host_public_key": key,
            }
        )
    write_file(settings.known_hosts, "".join(known))
    inventory = {
        "name": settings.name,
        "subnet": str(settings.subnet),
        "gateway": settings.gateway,
        "registry": settings.registry,
        "registry_user": REGISTRY_USER,
        "registry_password_file": str(settings.password_file),
        "client_key": str(settings.client_key),
        "known_hosts": str(settings.known_hosts),
        "docker_config": str(settings.docker_config),
        "images": {
            "busybox": {a: settings.image("busybox", a) for a in (*ARCHES, "latest")},
            "redis": {
                "amd64": settings.image("redis", "7.0"),
                "arm64": settings.image("redis", "7.0-arm64"),
            },
            "kamal-proxy": kamal_proxy.tags(settings),
        },
        "hosts": entries,
    }
    write_file(settings.inventory_file, json.dumps(inventory, indent=2) + "\n")
    return str(settings.inventory_file)


def fleet_problems(settings: Settings, state: dict | None) -> list[str]:
    if state is None:
        return ["no fleet state"]
    problems = []
    for key in ("fabric", "registry"):
        if not alive(state.get(f"{key}_pid"), state.get(f"{key}_start")):
            problems.append(f"{key} process {state.get(f'{key}_pid')} is gone")
    for name, host in state.get("hosts", {}).items():
        if not alive(host.get("init_pid"), host.get("init_start")):
            problems.append(f"{name}: init {host.get('init_pid')} is gone")
    if not state.get("complete"):
        problems.append("last up did not finish")
    return problems


def host_status(settings: Settings, host: dict) -> dict:
    address = settings.address(Host(host["name"], host["arch"], host["index"]))
    ssh = subprocess.run(
        ssh_argv(settings, address) + ["uname -m"],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=60,
    )
    info = engine_info(settings, host["name"]) or {}
    return {
        "name": host["name"],
        "address": address,
        "arch": host["arch"],
        "ssh_uname": ssh.stdout.strip() if ssh.returncode == 0 else "ssh failed",
        "engine_arch": info.get("Architecture", "down"),
        "containers": info.get("Containers", "-"),
        "running": info.get("ContainersRunning", "-"),
    }


def print_status(settings: Settings, state: dict) -> bool:
    hosts = list(state["hosts"].values())
    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        rows = list(pool.map(lambda h: host_status(settings, h), hosts))
    print(
        f"fleet {settings.name}: {len(rows)} hosts on {settings.subnet}, registry "
        f"{settings.registry}, state {settings.fleet_dir}"
    )
    print(f"{'HOST':6} {'ADDRESS':15} {'ARCH':6} {'SSH uname -m':13} {'ENGINE':8} CONTAINERS")
    healthy = True
    for row in rows:
        expected = UNAME[row["arch"]]
        ok = row["ssh_uname"] == expected and row["engine_arch"] == expected
        healthy &= ok
        print(
            f"{row['name']:6} {row['address']:15} {row['arch']:6} {row['ssh_uname']:13} "
            f"{row['engine_arch']:8} {row['containers']} ({row['running']} running)"
            f"{'' if ok else '  <-- unhealthy'}"
        )
    # A fleet brought up before the proxy images existed has none: then there is no line.
    sizes = kamal_proxy.sizes(settings)
    if sizes:
        print(f"image {kamal_proxy.image(settings, kamal_proxy.VERSION)}: {sizes}")
    return healthy


def cmd_up(settings: Settings, specs: list[str], fresh_images: bool) -> int:
    hosts = parse_hosts(specs)
    # Every fleet registry must be plain HTTP to the BuildKit daemon (docs/toolchain.md).
    buildkit = [str(SCRIPTS_DIR / "buildkit"), "up", "--registry", settings.registry]
    run(buildkit, check=False, quiet=False)
    state = read_state(settings)
    if state is not None:
        problems = fleet_problems(settings, state)
        running = [h["name"] + ":" + h["arch"] for h in state["hosts"].values()]
        if not problems:
            wanted = [f"{h.name}:{h.arch}" for h in hosts]
            if specs and running != wanted:
                raise FleetError(
                    f"fleet {settings.name} is up with {' '.join(running)}; run "
                    f"`scripts/fleet down` first to change hosts"
                )
            print(f"fleet {settings.name} is already up; nothing changed")
            return 0 if print_status(settings, state) else 1
        print(f"fleet {settings.name}: stale state ({'; '.join(problems)}); cleaning up first")
        if cmd_down(settings) != 0:
            raise FleetError("could not clean up the stale fleet; see above")
    elif leftovers(settings):
        print(f"fleet {settings.name}: leftovers without state; cleaning up first")
        if cmd_down(settings) != 0:
            raise FleetError("could not clean up the leftovers; see above")
    steps = Steps(f"up {settings.name}")
    steps.step("packages", ensure_packages)
    for arch in ARCHES:
        steps.step(f"userland {arch}", ensure_userland, settings, arch)
    # Before anything runs: a failed Go build leaves no half-started fleet behind.
    steps.step("kamal-proxy binaries", kamal_proxy.ensure_binaries, settings)
    steps.step("root dockerd", ensure_root_engine, settings)
    settings.fleet_dir.mkdir(parents=True, exist_ok=True)
    state = {"name": settings.name, "subnet": str(settings.subnet), "hosts": {}, "complete": False}
    write_file(settings.state_file, json.dumps(state))
    try:
        steps.step("network", start_fabric, settings, state)
        write_file(settings.state_file, json.dumps(state))
        steps.step("registry", start_registry, settings, state)
        write_file(settings.state_file, json.dumps(state))
        if not settings.client_key.exists():
            key = str(settings.client_key)
            run(
                ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "fleetform-client", "-f", key]
            )
        public = settings.client_key.with_suffix(".pub").read_text()

        def start_all() -> str:
            for host in hosts:
                prepare_host_files(settings, host, public)
                start_host(settings, host, state)
                write_file(settings.state_file, json.dumps(state))
            return " ".join(f"{h.name}:{h.arch}" for h in hosts)

        steps.step("hosts started", start_all)
        steps.step("images built and pushed", build_and_push_images, settings, fresh_images)
        steps.step("kamal-proxy images", kamal_proxy.build_and_push_images, settings, fresh_images)
        write_inventory(settings, hosts)  # known_hosts is needed by the readiness probe

        def wait_all() -> str:
            with concurrent.futures.ThreadPoolExecutor(max_workers=MAX_HOSTS) as pool:
                list(pool.map(lambda h: wait_host_ready(settings, h), hosts))
            return "engines answer, uname -m over SSH matches"

        steps.step("hosts ready", wait_all)
        steps.step("inventory", write_inventory, settings, hosts)
    except BaseException:
        write_file(settings.state_file, json.dumps(state))
        print(
            f"up {settings.name}: failed; state left for inspection in {settings.fleet_dir} "
            f"(`scripts/fleet down` removes it)",
            file=sys.stderr,
        )
        raise
    state["complete"] = True
    write_file(settings.state_file, json.dumps(state))
    print(f"up {settings.name}: done in {steps.total():.1f}s; inventory {settings.inventory_file}")
    return 0


def cmd_down(settings: Settings) -> int:
    steps = Steps(f"down {settings.name}")
    state = read_state(settings)
    steps.step("processes killed", kill_all, settings, state)
    steps.step(
        "network removed",
        lambda: run(["ip", "link", "del", settings.gateway_link], check=False) and None,
    )
    steps.step("cgroups removed", remove_cgroups, settings)

    def remove_state() -> None:
        if settings.fleet_dir.exists():
            # Mounts of the hosts died with their mount namespaces; nothing here is mounted.
            shutil.rmtree(settings.fleet_dir)

    steps.step("state removed", remove_state)
    left = leftovers(settings)
    if left:
        print(
            f"down {settings.name}: FAILED, left behind:\n  " + "\n  ".join(left), file=sys.stderr
        )
        return 1
    print(
        f"down {settings.name}: nothing left (links, routes, mounts, cgroups, processes, "
        f"state) in {steps.total():.1f}s"
    )
    return 0


def cmd_status(settings: Settings) -> int:
    state = read_state(settings)
    problems = fleet_problems(settings, state)
    if state is None:
        print(f"fleet {settings.name} is down")
        return 3
    if problems:
        print(f"fleet {settings.name} is broken: {'; '.join(problems)}")
        return 1
    return 0 if print_status(settings, state) else 1


def cmd_ssh(settings: Settings, host: str, command: list[str]) -> int:
    state = read_state(settings)
    if state is None or host not in state.get("hosts", {}):
        raise FleetError(f"ssh: no host {host!r} in fleet {settings.name}")
    record = state["hosts"][host]
    address = settings.address(Host(record["name"], record["arch"], record["index"]))
    argv = ssh_argv(settings, address, tty=not command and sys.stdin.isatty())
    if command:
        argv.append(" ".join(command) if len(command) > 1 else command[0])
    os.execvp(argv[0], argv)
    return 127


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="fleet", description=DESCRIPTION)
    parser.add_argument(
        "--subnet", help="fabric subnet (default $FLEETFORM_FLEET_SUBNET or 10.203.0.0/24)"
    )
    commands = parser.add_subparsers(dest="command", required=True)
    up = commands.add_parser("up", help="bring the fleet up (idempotent)")
    up.add_argument(
        "hosts", nargs="*", metavar="HOST:ARCH", help=f"default {' '.join(DEFAULT_HOSTS)}"
    )
    up.add_argument(
        "--no-image-cache",
        action="store_true",
        help="rebuild the base images from scratch (docker build --no-cache)",
    )
    commands.add_parser("down", help="remove the fleet and verify nothing is left")
    commands.add_parser("status", help="show each host's arch over SSH and its engine")
    ssh = commands.add_parser("ssh", help="run a command on a host over SSH")
    ssh.add_argument("host")
    ssh.add_argument("remote", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        raise FleetError("scripts/fleet must run as root")
    settings = load_settings(args.subnet)
    if args.command == "ssh":
        return cmd_ssh(settings, args.host, args.remote)
    if args.command == "status":
        return cmd_status(settings)
    lock_path = settings.cache_dir / f"{settings.name}.lock"
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if args.command == "up":
            return cmd_up(settings, args.hosts, args.no_image_cache)
        return cmd_down(settings)


def entry() -> None:
    try:
        sys.exit(main(sys.argv[1:]))
    except FleetError as error:
        print(f"fleet: {error}", file=sys.stderr)
        sys.exit(1)
