"""kamal-proxy images: cross-built from upstream's source archive, one per arch, one list."""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
from pathlib import Path

from .common import ARCHES, SCRIPTS_DIR, FleetError, Settings, run
from .images import build_and_push, image_size, push_manifest_list

VERSION = "v0.9.2"
ARCHIVE = f"kamal-proxy-{VERSION}.tar.gz"
# Upstream's Dockerfile runs `useradd kamal-proxy` on ubuntu:noble, where 1000 is `ubuntu`.
PROXY_UID = 1001
# Part of the build context's cache key: bump it when the image layout below changes.
LAYOUT = "1"
CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")


def third_party_dir() -> Path:
    """Where the upstream archives are: as scripts/bootstrap's third_party_dir finds them."""
    configured = os.environ.get("FLEETFORM_THIRD_PARTY_DIR")
    if configured:
        return Path(configured)
    checkout = SCRIPTS_DIR.parent
    candidate = checkout.parent / "shared" / "third_party"
    if candidate.is_dir():
        return candidate
    # CI runs in a fresh clone elsewhere; the archives sit beside the checkout it came from.
    origin = subprocess.run(
        ["git", "-C", str(checkout), "remote", "get-url", "origin"],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
    )
    url = origin.stdout.strip() if origin.returncode == 0 else ""
    beside_origin = checkout / url / ".." / "shared" / "third_party"
    if url and (checkout / url).is_dir() and beside_origin.is_dir():
        return beside_origin.resolve()
    return candidate


def binary(settings: Settings, arch: str) -> Path:
    return settings.cache / "kamal-proxy" / VERSION / f"linux-{arch}" / "kamal-proxy"


def _go_env() -> dict[str, str]:
    # scripts/env.sh fixes GOPROXY (the module proxy only, never GitHub directly) and GOFLAGS;
    # `make fleet` has sourced it, a direct `scripts/fleet up` has not.
    script = f'source "{SCRIPTS_DIR}/env.sh" && printf "%s\\n%s\\n" "$GOPROXY" "$GOFLAGS"'
    proxy, flags = run(["bash", "-c", script]).stdout.split("\n")[:2]
    return {"GOPROXY": proxy, "GOFLAGS": flags}


def _go() -> str:
    found = shutil.which("go") or "/usr/local/go/bin/go"
    if not os.access(found, os.X_OK):
        raise FleetError("kamal-proxy: go is not installed (Debian: apt-get install golang-go)")
    return found


def ensure_binaries(settings: Settings) -> str:
    """Cross-build kamal-proxy once per version, into the cache outside the checkout."""
    out = binary(settings, ARCHES[0]).parent.parent
    stamp = out / "source"
    if stamp.exists():
        return f"{VERSION} cached in {out}"
    out.parent.mkdir(parents=True, exist_ok=True)
    # Another fleet's `up` (the tests', the benchmark's) may be building the same version.
    with open(out.parent / f"{VERSION}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if stamp.exists():
            return f"{VERSION} cached in {out}"
        archive = third_party_dir() / ARCHIVE
        if not archive.is_file():
            raise FleetError(
                f"kamal-proxy: no archive at {archive}; set FLEETFORM_THIRD_PARTY_DIR to the "
                f"directory holding {ARCHIVE} (default: ../shared/third_party beside the checkout)"
            )
        go = _go()
        build = settings.cache / "build"
        source = build / f"kamal-proxy-{VERSION}"
        shutil.rmtree(source, ignore_errors=True)
        build.mkdir(parents=True, exist_ok=True)
        # The archive is never modified: go edits only this extracted copy (go.sum).
        run(["tar", "-xzf", str(archive), "-C", str(build)])
        if not (source / "cmd" / "kamal-proxy").is_dir():
            raise FleetError(f"kamal-proxy: {archive} has no kamal-proxy-{VERSION}/cmd/kamal-proxy")
        staging = out.with_name(out.name + ".staging")
        shutil.rmtree(staging, ignore_errors=True)
        env = {**_go_env(), "CGO_ENABLED": "0", "GOOS": "linux"}
        for arch in ARCHES:
            target = staging / f"linux-{arch}" / "kamal-proxy"
            # As upstream's Makefile builds it; static, so FROM scratch needs nothing else.
            argv = ["nice", go, "build", "-trimpath", "-buildvcs=false", "-o", str(target)]
            run([*argv, "./cmd/kamal-proxy"], env={**env, "GOARCH": arch}, cwd=source)
        digest = hashlib.sha256(archive.read_bytes()).hexdigest()
        go_version = run([go, "version"]).stdout.strip()
        (staging / "source").write_text(f"{ARCHIVE} sha256:{digest}\n{go_version}\n")
        shutil.rmtree(out, ignore_errors=True)
        staging.rename(out)
        shutil.rmtree(source, ignore_errors=True)
    return f"{VERSION} built for {' and '.join(ARCHES)} from {archive}"


def image(settings: Settings, tag: str) -> str:
    return settings.image("kamal-proxy", tag, namespace="basecamp")


def tags(settings: Settings) -> dict[str, str]:
    """Per-arch tags and, under the version, the manifest list of both."""
    return {
        **{arch: image(settings, f"{VERSION}-{arch}") for arch in ARCHES},
        VERSION: image(settings, VERSION),
    }


def _context(settings: Settings, arch: str, fresh: bool) -> Path:
    source = binary(settings, arch).parent.parent / "source"
    key = hashlib.sha256(source.read_bytes() + LAYOUT.encode()).hexdigest()[:16]
    context = settings.cache_dir / "images" / f"kamal-proxy-{VERSION}-{key}" / arch
    if fresh:
        shutil.rmtree(context, ignore_errors=True)
    if (context / "Dockerfile").exists():
        return context
    staging = context.with_name(context.name + ".staging")
    shutil.rmtree(staging, ignore_errors=True)
    files = staging / "rootfs"
    (files / "usr/local/bin").mkdir(parents=True)
    shutil.copy2(binary(settings, arch), files / "usr/local/bin/kamal-proxy")
    (files / "etc").mkdir()
    (files / "etc/passwd").write_text(
        "root:x:0:0:root:/root:/bin/sh\n"
        f"kamal-proxy:x:{PROXY_UID}:{PROXY_UID}::/home/kamal-proxy:/bin/sh\n"
    )
    (files / "etc/group").write_text(f"root:x:0:\nkamal-proxy:x:{PROXY_UID}:\n")
    if CA_BUNDLE.is_file():
        # Upstream ships its build stage's CA bundle, for ACME; this is the machine's Debian one.
        (files / "etc/ssl/certs").mkdir(parents=True)
        shutil.copy2(CA_BUNDLE, files / "etc/ssl/certs/ca-certificates.crt")
    # Its control socket goes to $TMPDIR or /tmp: `kamal-proxy deploy` in `docker exec` finds it.
    (files / "tmp").mkdir()
    os.chmod(files / "tmp", 0o1777)
    (files / "home").mkdir()
    (staging / "kamal-proxy-home/.config/kamal-proxy").mkdir(parents=True)
    (staging / "Dockerfile").write_text(
        "FROM scratch\n"
        "COPY rootfs/ /\n"
        f"COPY --chown={PROXY_UID}:{PROXY_UID} kamal-proxy-home/ /home/kamal-proxy/\n"
        "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n"
        "EXPOSE 80 443\n"
        "USER kamal-proxy:kamal-proxy\n"
        'CMD ["kamal-proxy", "run"]\n'
    )
    context.parent.mkdir(parents=True, exist_ok=True)
    staging.rename(context)
    return context


def build_and_push_images(settings: Settings, fresh: bool) -> str:
    """Needs the root engine's client logged in to the registry (the base images step)."""
    names = tags(settings)
    for arch in ARCHES:
        build_and_push(settings, _context(settings, arch, fresh), arch, [names[arch]], fresh)
    push_manifest_list(settings, names[VERSION], [names[arch] for arch in ARCHES])
    return f"{names[VERSION]}: {sizes(settings)}"


def sizes(settings: Settings) -> str | None:
    """Per-arch image sizes, as `docker images` shows them on the root engine."""
    found = {arch: image_size(settings, image(settings, f"{VERSION}-{arch}")) for arch in ARCHES}
    if None in found.values():
        return None
    return ", ".join(f"{arch} {size / 1e6:.1f} MB" for arch, size in found.items())
