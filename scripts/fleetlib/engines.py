"""The root Docker engine that builds the images, and the hosts' engines as seen from outside."""

from __future__ import annotations

import ipaddress
import json
import os
import subprocess

from .common import (
    DOCKER,
    HOST_PATH,
    ROOT_DOCKER_SOCK,
    FleetError,
    Settings,
    run,
    wait_for,
)


def _parsed_info(result: subprocess.CompletedProcess) -> dict | None:
    """`docker info --format '{{json .}}'` output, or None when no engine answered."""
    if result.returncode != 0:
        return None
    try:
        info = json.loads(result.stdout)
    except json.JSONDecodeError:
        return None
    return info if info.get("ServerVersion") else None


def root_engine_info() -> dict | None:
    result = run(
        [DOCKER, "-H", f"unix://{ROOT_DOCKER_SOCK}", "info", "--format", "{{json .}}"], check=False
    )
    return _parsed_info(result)


def ensure_root_engine(settings: Settings) -> str:
    info = root_engine_info()
    started = False
    if info is None:
        log = settings.cache_dir.parent / "root-dockerd.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        with open(log, "ab") as out:
            subprocess.Popen(
                [
                    "/usr/sbin/dockerd",
                    "--insecure-registry",
                    settings.registry,
                    "--insecure-registry",
                    "10.203.0.0/16",
                    "--pidfile",
                    "/var/run/docker.pid",
                ],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=out,
                start_new_session=True,
                env=dict(os.environ, PATH=HOST_PATH),
            )
        info = wait_for("the root dockerd (log: root-dockerd.log)", root_engine_info, 60, 0.2)
        started = True
    registry_config = info.get("RegistryConfig") or {}
    trusted = settings.registry in (registry_config.get("IndexConfigs") or {}) and not (
        registry_config["IndexConfigs"][settings.registry].get("Secure", True)
    )
    address = ipaddress.IPv4Address(settings.gateway)
    for cidr in registry_config.get("InsecureRegistryCIDRs") or []:
        if address in ipaddress.IPv4Network(cidr, strict=False) and not address.is_loopback:
            trusted = True
    if not trusted:
        raise FleetError(
            f"the running root dockerd does not treat {settings.registry} as an insecure "
            f"registry; restart it with --insecure-registry {settings.registry}"
        )
    return ("started, " if started else "running, ") + f"docker {info.get('ServerVersion')}"


def root_docker_env(settings: Settings) -> dict[str, str]:
    """The root engine's client, logged in to this fleet's registry (classic builder)."""
    return {
        "DOCKER_BUILDKIT": "0",
        "DOCKER_HOST": f"unix://{ROOT_DOCKER_SOCK}",
        "DOCKER_CONFIG": str(settings.docker_config),
        "DOCKER_CLI_EXPERIMENTAL": "enabled",
    }


def engine_info(settings: Settings, host: str, timeout: float = 10) -> dict | None:
    try:
        result = subprocess.run(
            [
                DOCKER,
                "-H",
                f"unix://{settings.engine_socket(host)}",
                "info",
                "--format",
                "{{json .}}",
            ],
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired:
        return None
    return _parsed_info(result)
