"""Machine packages, per-arch .debs and the userlands unpacked from them."""

from __future__ import annotations

import glob
import hashlib
import os
import re
import shutil
import subprocess
from pathlib import Path

from .common import (
    ARM64_DOCKERD,
    IN_HOST_ROOTFS,
    LOADER,
    TRIPLET,
    USERLAND_GROUP,
    USERLAND_PASSWD,
    FleetError,
    Settings,
    run,
)

# Debian packages the fleet needs on the machine itself.
APT_PACKAGES = [
    "docker.io",
    "qemu-user-static",
    "openssh-server",
    "openssh-client",
    "iproute2",
    "patchelf",
    "docker-registry",
    "busybox-static",
    "apache2-utils",
    "binutils",
    "util-linux",
    "tini",
]
# Packages unpacked (per arch) into the hosts' userland and the image build contexts. The
# libraries are those that dockerd, the docker CLI, scp and redis link against.
USERLAND_PACKAGES = [
    "busybox-static",
    "libc6",
    "docker.io",
    "openssh-client",
    "redis-tools",
    "libgcc-s1",
    "libstdc++6",
    "libatomic1",
    "liblzf1",
    "libjemalloc2",
    "libssl3",
    "libsystemd0",
    "libcap2",
    "libgcrypt20",
    "liblzma5",
    "libzstd1",
    "liblz4-1",
    "libgpg-error0",
    "libdevmapper1.02.1",
    "libselinux1",
    "libudev1",
    "libpcre2-8-0",
]


def ensure_packages() -> str:
    missing = [p for p in APT_PACKAGES if not _dpkg_installed(p)]
    updated = False
    if "arm64" not in run(["dpkg", "--print-foreign-architectures"]).stdout.split():
        run(["dpkg", "--add-architecture", "arm64"])
        run(["apt-get", "update"], check=False)
        updated = True
    if missing:
        if not updated:
            run(["apt-get", "update"], check=False)
        run(
            ["apt-get", "install", "-y", "--no-install-recommends", *missing],
            env={"DEBIAN_FRONTEND": "noninteractive"},
        )
        return "installed " + " ".join(missing)
    return "all present"


def _dpkg_installed(package: str) -> bool:
    result = run(["dpkg-query", "-W", "-f=${Status}", package], check=False)
    return result.returncode == 0 and "install ok installed" in result.stdout


def ensure_debs(settings: Settings, arch: str) -> list[Path]:
    directory = settings.cache_dir / "debs" / arch
    directory.mkdir(parents=True, exist_ok=True)
    wanted = [p for p in USERLAND_PACKAGES if not glob.glob(str(directory / f"{p}_*.deb"))]
    if wanted:
        argv = ["apt-get", "download", *[f"{p}:{arch}" for p in wanted]]
        result = subprocess.run(
            argv, cwd=directory, stdin=subprocess.DEVNULL, capture_output=True, text=True
        )
        if result.returncode != 0:  # stale package lists: refresh once
            subprocess.run(["apt-get", "update"], stdin=subprocess.DEVNULL, capture_output=True)
            result = subprocess.run(
                argv, cwd=directory, stdin=subprocess.DEVNULL, capture_output=True, text=True
            )
            if result.returncode != 0:
                raise FleetError(f"apt-get download for {arch} failed:\n{result.stderr[-2000:]}")
    debs = []
    for package in USERLAND_PACKAGES:
        found = sorted(glob.glob(str(directory / f"{package}_*.deb")))
        if not found:
            raise FleetError(f"{directory}: no .deb for {package}")
        debs.append(Path(found[-1]))
    return debs


def resolve_in_root(root: Path, path: str, depth: int = 0) -> Path | None:
    """Resolve `path` as if `root` were /, following symlinks inside it."""
    if depth > 40:
        return None
    current = root
    parts = [p for p in path.split("/") if p and p != "."]
    while parts:
        part = parts.pop(0)
        if part == "..":
            current = current.parent if current != root else root
            continue
        candidate = current / part
        if candidate.is_symlink():
            target = os.readlink(candidate)
            base = root if target.startswith("/") else current
            resolved = resolve_in_root(
                root,
                str(Path(base.relative_to(root)) / target)
                if not target.startswith("/")
                else target,
                depth + 1,
            )
            if resolved is None:
                return None
            current = resolved
        else:
            current = candidate
    return current if current.exists() else None


def userland_root(settings: Settings, arch: str) -> Path:
    return settings.cache_dir / f"userland-{arch}"


def userland_key(settings: Settings, arch: str) -> str:
    return (userland_root(settings, arch) / ".fleetform-userland").read_text()


def ensure_userland(settings: Settings, arch: str) -> str:
    """Unpack the .debs for `arch` into a root filesystem, used read-only by the hosts."""
    debs = ensure_debs(settings, arch)
    key = hashlib.sha256("\n".join(d.name for d in debs).encode() + b"v3").hexdigest()[:16]
    root = userland_root(settings, arch)
    marker = root / ".fleetform-userland"
    if marker.exists() and marker.read_text() == key:
        return "cached"
    if root.exists():
        shutil.rmtree(root)
    staging = root.with_name(root.name + ".staging")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    for deb in debs:
        run(["dpkg-deb", "-x", str(deb), str(staging)])
    for junk in (
        "usr/share/doc",
        "usr/share/man",
        "usr/share/locale",
        "usr/share/lintian",
        "usr/share/zsh",
        "usr/share/bash-completion",
        "usr/share/fish",
    ):
        shutil.rmtree(staging / junk, ignore_errors=True)
    busybox = staging / "bin" / "busybox"
    for applet in run([*native_runner(arch), str(busybox), "--list-full"]).stdout.split():
        link = staging / applet
        if not link.exists() and not link.is_symlink():
            link.parent.mkdir(parents=True, exist_ok=True)
            link.symlink_to("/bin/busybox")
    for directory in ("root", "tmp", "run", "dev", "proc", "etc", "var"):
        (staging / directory).mkdir(exist_ok=True)
    os.chmod(staging / "tmp", 0o1777)
    os.chmod(staging / "root", 0o700)
    if not (staging / "var" / "run").exists():
        (staging / "var" / "run").symlink_to("/run")
    (staging / "etc" / "passwd").write_text(USERLAND_PASSWD)
    (staging / "etc" / "group").write_text(USERLAND_GROUP)
    (staging / "etc" / "nsswitch.conf").write_text("passwd: files\ngroup: files\nhosts: files\n")
    os.chmod(staging, 0o755)
    if arch == "arm64":
        _patch_arm64_dockerd(staging)
    # Fails now, not in a host, when a library the hosts' binaries need is missing.
    linked = ("usr/bin/docker", "usr/bin/scp", "usr/bin/redis-check-rdb", "usr/sbin/dockerd")
    library_closure(staging, arch, [staging / binary for binary in linked])
    (staging / ".fleetform-userland").write_text(key)
    staging.rename(root)
    return f"built from {len(debs)} .debs"


def native_runner(arch: str) -> list[str]:
    """How this (amd64) machine runs a userland binary of `arch` outside any host."""
    return [] if arch == "amd64" else ["/usr/bin/qemu-aarch64-static"]


def _patch_arm64_dockerd(root: Path) -> None:
    # The arm64 dockerd runs under qemu-user outside the chroot, so its loader and libraries
    # are taken from the userland as it is mounted inside each host (IN_HOST_ROOTFS).
    # QEMU_LD_PREFIX would break layer unpacking, which chroots.
    target = root / ARM64_DOCKERD
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(root / "usr/sbin/dockerd", target)
    loader = resolve_in_root(root, "/" + LOADER["arm64"])
    if loader is None:
        raise FleetError("arm64 userland: no loader")
    interpreter = f"{IN_HOST_ROOTFS}/{loader.relative_to(root)}"
    rpath = ":".join(f"{IN_HOST_ROOTFS}/{d}/{TRIPLET['arm64']}" for d in ("lib", "usr/lib"))
    run(
        [
            "patchelf",
            "--set-interpreter",
            interpreter,
            "--force-rpath",
            "--set-rpath",
            rpath,
            str(target),
        ]
    )


def needed_libraries(binary: Path) -> list[str]:
    output = run(["readelf", "-d", str(binary)]).stdout
    return re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", output)


def find_library(root: Path, arch: str, soname: str) -> Path | None:
    for directory in (f"lib/{TRIPLET[arch]}", f"usr/lib/{TRIPLET[arch]}", "lib", "usr/lib"):
        found = resolve_in_root(root, f"/{directory}/{soname}")
        if found is not None:
            return found
    return None


def library_closure(root: Path, arch: str, binaries: list[Path]) -> dict[str, Path]:
    """Map each needed soname to its path in `root`, following dependencies."""
    closure: dict[str, Path] = {}
    pending = list(binaries)
    while pending:
        for soname in needed_libraries(pending.pop()):
            if soname in closure:
                continue
            found = find_library(root, arch, soname)
            if found is None:
                raise FleetError(f"userland-{arch}: {soname} not found")
            closure[soname] = found
            pending.append(found)
    return closure
