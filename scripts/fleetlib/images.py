"""The fleet registry and the base images (busybox, redis) built from the userlands."""

from __future__ import annotations

import http.client
import os
import secrets
import shutil
from pathlib import Path

from .common import (
    ARCHES,
    DOCKER,
    LOADER,
    REGISTRY_PORT,
    REGISTRY_USER,
    TRIPLET,
    FleetError,
    Settings,
    run,
    spawn,
    start_time,
    wait_for,
    write_file,
)
from .engines import root_docker_env
from .userland import library_closure, native_runner, resolve_in_root, userland_key, userland_root


def start_registry(settings: Settings, state: dict) -> str:
    directory = settings.fleet_dir / "registry"
    (directory / "data").mkdir(parents=True, exist_ok=True)
    if not settings.password_file.exists():
        write_file(settings.password_file, secrets.token_urlsafe(24) + "\n", 0o600)
    password = settings.password_file.read_text().strip()
    htpasswd = run(["htpasswd", "-niB", REGISTRY_USER], input=password + "\n").stdout
    write_file(directory / "htpasswd", htpasswd, 0o600)
    write_file(
        directory / "config.yml",
        "\n".join(
            [
                "version: 0.1",
                "log: {level: warn, formatter: text, accesslog: {disabled: true}}",
                f"storage: {{filesystem: {{rootdirectory: {directory / 'data'}}}, "
                "delete: {enabled: true}, cache: {blobdescriptor: inmemory}}",
                f"http: {{addr: '{settings.registry}', secret: {secrets.token_hex(16)}}}",
                f"auth: {{htpasswd: {{realm: fleetform, path: {directory / 'htpasswd'}}}}}",
                "",
            ]
        ),
        0o600,
    )
    process = spawn(
        settings,
        "registry",
        ["/usr/bin/docker-registry", "serve", str(directory / "config.yml")],
        settings.fleet_dir / "logs" / "registry.log",
    )
    state["registry_pid"], state["registry_start"] = process.pid, start_time(process.pid)
    wait_for(f"the registry on {settings.registry}", lambda: _http_status(settings) == 401, 15)
    return settings.registry


def _http_status(settings: Settings) -> int | None:
    try:
        connection = http.client.HTTPConnection(settings.gateway, REGISTRY_PORT, timeout=1)
        connection.request("GET", "/v2/")
        return connection.getresponse().status
    except OSError:
        return None


def image_contexts(settings: Settings, fresh: bool) -> dict[str, Path]:
    """Build contexts for the base images, cached under the fleet cache by input version."""
    contexts: dict[str, Path] = {}
    for arch in ARCHES:
        root = userland_root(settings, arch)
        base = settings.cache_dir / "images" / userland_key(settings, arch)
        if fresh:
            shutil.rmtree(base, ignore_errors=True)
        contexts[f"busybox-{arch}"] = _busybox_context(root, base / "busybox", arch)
        contexts[f"redis-{arch}"] = _redis_context(root, base / "redis", arch)
    return contexts


def _busybox_context(root: Path, context: Path, arch: str) -> Path:
    if (context / "Dockerfile").exists():
        return context
    staging = context.with_name(context.name + ".staging")
    shutil.rmtree(staging, ignore_errors=True)
    files = staging / "rootfs"
    (files / "bin").mkdir(parents=True)
    shutil.copy2(root / "bin" / "busybox", files / "bin" / "busybox")
    for applet in run(
        [*native_runner(arch), str(root / "bin" / "busybox"), "--list"]
    ).stdout.split():
        if applet != "busybox":
            (files / "bin" / applet).symlink_to("busybox")
    _write_base_etc(files)
    (staging / "Dockerfile").write_text(
        "FROM scratch\nCOPY rootfs/ /\n"
        "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n"
        'CMD ["sh"]\n'
    )
    staging.rename(context)
    return context


def _write_base_etc(files: Path) -> None:
    (files / "etc").mkdir(parents=True, exist_ok=True)
    (files / "etc" / "passwd").write_text(
        "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"
    )
    (files / "etc" / "group").write_text("root:x:0:\nnogroup:x:65534:\n")
    for directory, mode in (("tmp", 0o1777), ("root", 0o700), ("var/www", 0o755)):
        (files / directory).mkdir(parents=True, exist_ok=True)
        os.chmod(files / directory, mode)


REDIS_ENTRYPOINT = """#!/bin/sh
# Like the official image: options alone mean redis-server, and protected mode is off unless
# the command sets it (the official image patches the default; this binary is Debian's).
set -e
if [ "${1#-}" != "$1" ] || [ "${1%.conf}" != "$1" ]; then
  set -- redis-server "$@"
fi
if [ "$1" = redis-server ]; then
  case " $* " in
    *" --protected-mode "*) ;;
    *)
      shift
      if [ $# -gt 0 ] && [ "${1#-}" = "$1" ]; then
        config="$1"; shift; set -- redis-server "$config" --protected-mode no "$@"
      else
        set -- redis-server --protected-mode no "$@"
      fi ;;
  esac
fi
exec "$@"
"""


def _redis_context(root: Path, context: Path, arch: str) -> Path:
    context = context.with_name(f"{context.name}-{arch}")
    if (context / "Dockerfile").exists():
        return context
    staging = context.with_name(context.name + ".staging")
    shutil.rmtree(staging, ignore_errors=True)
    files = staging / "rootfs"
    binaries = {
        "usr/bin/redis-server": resolve_in_root(root, "/usr/bin/redis-check-rdb"),
        "usr/bin/redis-cli": resolve_in_root(root, "/usr/bin/redis-cli"),
        "bin/busybox": root / "bin" / "busybox",
    }
    for target, source in binaries.items():
        if source is None:
            raise FleetError(f"userland-{arch}: {target} missing")
        (files / target).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, files / target)
    for name in ("redis-check-rdb", "redis-check-aof"):
        (files / "usr/bin" / name).symlink_to("redis-server")
    (files / "bin" / "sh").symlink_to("busybox")
    closure = library_closure(
        root, arch, [files / "usr/bin/redis-server", files / "usr/bin/redis-cli"]
    )
    for soname, source in closure.items():
        target = files / "lib" / TRIPLET[arch] / soname
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)
    loader = resolve_in_root(root, "/" + LOADER[arch])
    if loader is None:
        raise FleetError(f"userland-{arch}: no loader")
    (files / LOADER[arch]).parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(loader, files / LOADER[arch])
    entrypoint = files / "usr/local/bin/docker-entrypoint.sh"
    entrypoint.parent.mkdir(parents=True)
    entrypoint.write_text(REDIS_ENTRYPOINT)
    os.chmod(entrypoint, 0o755)
    _write_base_etc(files)
    (files / "data").mkdir()
    (staging / "Dockerfile").write_text(
        "FROM scratch\nCOPY rootfs/ /\n"
        "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n"
        "WORKDIR /data\nVOLUME /data\nEXPOSE 6379\n"
        'ENTRYPOINT ["docker-entrypoint.sh"]\nCMD ["redis-server"]\n'
    )
    staging.rename(context)
    return context


def image_plan(settings: Settings) -> list[tuple[str, str, list[str]]]:
    """(context key, platform, tags): the exact names the rest of the project depends on."""
    return [
        ("busybox-arm64", "arm64", [settings.image("busybox", "arm64")]),
        ("busybox-amd64", "amd64", [settings.image("busybox", "amd64")]),
        ("redis-amd64", "amd64", [settings.image("redis", t) for t in ("7.0", "7", "7.0-amd64")]),
        ("redis-arm64", "arm64", [settings.image("redis", t) for t in ("7.0-arm64", "7-arm64")]),
    ]


def build_and_push(
    settings: Settings, context: Path, arch: str, tags: list[str], fresh: bool
) -> int:
    """Build one image for `arch` on the root engine and push every tag; returns tags pushed."""
    env = root_docker_env(settings)
    argv = [DOCKER, "build", "-q", "--platform", f"linux/{arch}"]
    argv += ["--no-cache"] if fresh else []
    for tag in tags:
        argv += ["-t", tag]
    run([*argv, str(context)], env=env)
    for tag in tags:
        run([DOCKER, "push", tag], env=env)
    return len(tags)


def push_manifest_list(settings: Settings, name: str, members: list[str]) -> None:
    env = root_docker_env(settings)
    # A manifest list left in DOCKER_CONFIG by an earlier `up` would make `create` refuse.
    run([DOCKER, "manifest", "rm", name], env=env, check=False)
    run([DOCKER, "manifest", "create", "--insecure", name, *members], env=env)
    run([DOCKER, "manifest", "push", "--insecure", "--purge", name], env=env)


def registry_login(settings: Settings) -> None:
    settings.docker_config.mkdir(parents=True, exist_ok=True)
    os.chmod(settings.docker_config, 0o700)
    run(
        [DOCKER, "login", "-u", REGISTRY_USER, "--password-stdin", settings.registry],
        input=settings.password_file.read_text(),
        env=root_docker_env(settings),
    )


def build_and_push_images(settings: Settings, fresh: bool) -> str:
    contexts = image_contexts(settings, fresh)
    registry_login(settings)
    pushed = 0
    for key, arch, tags in image_plan(settings):
        pushed += build_and_push(settings, contexts[key], arch, tags, fresh)
    push_manifest_list(
        settings,
        settings.image("busybox", "latest"),
        [settings.image("busybox", "arm64"), settings.image("busybox", "amd64")],
    )
    return f"{pushed} tags + busybox:latest manifest list{', no cache' if fresh else ''}"


def image_size(settings: Settings, tag: str) -> int | None:
    """The image's size on the root engine (as `docker images` shows it), if it is there."""
    result = run(
        [DOCKER, "image", "inspect", "--format", "{{.Size}}", tag],
        env=root_docker_env(settings),
        check=False,
    )
    return int(result.stdout) if result.returncode == 0 and result.stdout.strip() else None
