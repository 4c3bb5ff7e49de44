"""Reads the stack's own settings: which deploy file, how to reach hosts, and its secrets."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path

import pulumi

from components.config import describe
from components.config.model import JumpHostConfig
from components.config.values import is_ascii_number
from components.errors import DeployConfigError
from components.known_hosts import HostKeys, parse_host_keys_setting, read_known_hosts
from components.remote_command import JumpHost


DEV_PASSPHRASE = "fleetform-dev-passphrase"
"""Public (README, scripts/env.sh): it protects nothing, so only throwaway stacks may use it."""
DEV_PASSPHRASE_STACKS = ("dev", "bench", "e2e-*")
"""The embedded dev stack and the throwaway stacks of scripts/bench-deploy and the test suite."""


def check_secrets_passphrase(stack: str, environ: Mapping[str, str]) -> None:
    """Refuses the public dev passphrase for any stack but those of DEV_PASSPHRASE_STACKS.

    `environ` is the program's environment, which the Pulumi CLI passes on: the passphrase is in
    PULUMI_CONFIG_PASSPHRASE, or in the file PULUMI_CONFIG_PASSPHRASE_FILE names.
    """
    if any(fnmatchcase(stack, pattern) for pattern in DEV_PASSPHRASE_STACKS):
        return
    variable = "PULUMI_CONFIG_PASSPHRASE"
    passphrase = environ.get(variable)
    if passphrase is None and environ.get(f"{variable}_FILE"):
        variable = f"{variable}_FILE"
        try:
            passphrase = Path(environ[variable]).read_text().rstrip("\r\n")
        except (OSError, UnicodeDecodeError):
            return  # Pulumi itself reports a passphrase file it cannot read.
    if passphrase == DEV_PASSPHRASE:
        raise DeployConfigError(
            f"{variable}: stack '{stack}' must not use the public dev passphrase, which only "
            f"the stacks {', '.join(DEV_PASSPHRASE_STACKS)} may use; set PULUMI_CONFIG_PASSPHRASE, "
            f"or use another secrets provider (got {DEV_PASSPHRASE})"
        )


@dataclass(frozen=True)
class StackSettings:
    deploy_file: str
    destination: str | None
    ssh_private_key: pulumi.Output[str] | None
    """fleetform:sshPrivateKey(Path), or None: then the deploy file's ssh/keys (private_key)."""
    host_keys: HostKeys
    """Pinned SSH public keys (`ssh-ed25519 AAAA…`) by host and port: `host_keys.key_for(host,
    port)`; `host_keys[host]` and `host in host_keys` mean port 22."""
    readiness_timeout: int
    command_timeout: int
    """Seconds any one remote script may run before it is stopped and its resource fails."""
    app_digests: dict[str, str] | None
    """Pinned app image digests per platform: deploy these bytes and build nothing."""
    promote_from: str | None
    """The stack whose digests scripts/promote copies here (`organization/fleetform/staging`)."""
    pinned_images_only: bool
    repairs: dict[str, int]
    """Container resource name to its repair generation (`drift --repair` bumps it)."""
    """Reject floating accessory tags (`latest`, none), as production must."""


def _read_app_digests(config: pulumi.Config) -> dict[str, str] | None:
    pinned = config.get_object("appDigests")
    if pinned is None:
        return None
    if not isinstance(pinned, dict) or not pinned:
        raise DeployConfigError(
            f"fleetform:appDigests: must map platforms to digests (got {pinned!r})"
        )
    # Platforms and digest forms are checked against the plan by check_digests_cover_plan.
    return {str(platform): digest for platform, digest in pinned.items()}


def parse_seconds(text: str | None, setting: str) -> int | None:
    """A stack setting in whole seconds (ASCII digits only, at least 1), or None when unset."""
    if text is None or text == "":
        return None
    if not is_ascii_number(text) or int(text) < 1:
        raise DeployConfigError(
            f"fleetform:{setting}: must be a whole number of seconds, at least 1 "
            f"(got {describe(text)})"
        )
    return int(text)


def read_stack_settings(config: pulumi.Config) -> StackSettings:
    key_path = config.get("sshPrivateKeyPath")
    if key_path:
        path = Path(key_path).expanduser()
        if not path.is_file():
            raise DeployConfigError(f"fleetform:sshPrivateKeyPath: no such file (got '{key_path}')")
        private_key: pulumi.Output[str] | None = pulumi.Output.secret(path.read_text())
    else:
        private_key = config.get_secret("sshPrivateKey")
    known_hosts_file = config.get("knownHostsFile")
    known_hosts = (
        read_known_hosts(Path(known_hosts_file).expanduser()) if known_hosts_file else None
    )
    host_keys = HostKeys(parse_host_keys_setting(config.get("hostKeys")), known_hosts)
    readiness_timeout = parse_seconds(config.get("readinessTimeout"), "readinessTimeout") or 90
    # A container's script waits up to readinessTimeout for it, after its pull: the limit on the
    # whole script must leave room for both.
    command_timeout = parse_seconds(config.get("commandTimeout"), "commandTimeout") or max(
        300, readiness_timeout + 120
    )
    if command_timeout <= readiness_timeout:
        raise DeployConfigError(
            f"fleetform:commandTimeout: must be longer than fleetform:readinessTimeout "
            f"({readiness_timeout}s) (got {command_timeout})"
        )
    return StackSettings(
        deploy_file=config.get("deployFile") or "config/deploy.yml",
        destination=config.get("destination") or None,
        ssh_private_key=private_key,
        host_keys=host_keys,
        readiness_timeout=readiness_timeout,
        command_timeout=command_timeout,
        app_digests=_read_app_digests(config),
        promote_from=config.get("promoteFrom") or None,
        pinned_images_only=config.get_bool("pinnedImagesOnly") or False,
        repairs=_read_repairs(config),
    )


def read_version_key(config: pulumi.Config, *, uses_secrets: bool) -> pulumi.Output[str]:
    """The stack's secret HMAC key for container versions (`fleetform:versionKey`).

    Versions are in container names, which anyone on a host can read; keyed with a per-stack
    secret they reveal nothing about the secret env values they cover.
    """
    key = config.get_secret("versionKey")
    if key is not None:
        return key
    if uses_secrets:
        raise DeployConfigError(
            "fleetform:versionKey: not set; this stack deploys secrets and keys container "
            "versions with it (openssl rand -hex 32 | pulumi config set --secret versionKey)"
        )
    return pulumi.Output.secret("")


def _read_repairs(config: pulumi.Config) -> dict[str, int]:
    repairs = config.get_object("repairs") or {}
    if not isinstance(repairs, dict) or not all(
        isinstance(k, str) and isinstance(v, int) and not isinstance(v, bool)
        for k, v in repairs.items()
    ):
        raise DeployConfigError(
            f"fleetform:repairs: must map container resources to whole numbers (got {repairs!r})"
        )
    return repairs


def private_key(
    settings: StackSettings, ssh_keys: tuple[str, ...], key_data: tuple[str, ...] = ()
) -> pulumi.Output[str]:
    """The key every command logs in with: the stack's own, else deploy.yml's `ssh/keys` (Kamal's
    key files, read from this machine) or `ssh/key_data` (the key itself). Two sources at once
    would leave one unused, so that is an error. The key is a Pulumi secret from here on."""
    if settings.ssh_private_key is not None:
        if ssh_keys:
            raise DeployConfigError(
                "ssh/keys: the stack sets fleetform:sshPrivateKey(Path) too; keep one of them "
                f"(got {', '.join(ssh_keys)})"
            )
        if key_data:
            raise DeployConfigError(
                "ssh/key_data: the stack sets fleetform:sshPrivateKey(Path) too; keep one of "
                "them (got a private key, not shown)"
            )
        return settings.ssh_private_key
    if key_data:
        return pulumi.Output.secret(key_data[0])
    if not ssh_keys:
        raise DeployConfigError(
            "fleetform:sshPrivateKeyPath: not set, and neither fleetform:sshPrivateKey nor "
            "ssh/keys or ssh/key_data in the deploy file names a key"
        )
    path = Path(ssh_keys[0]).expanduser()
    if not path.is_file():
        raise DeployConfigError(f"ssh/keys/0: no such file (got '{ssh_keys[0]}')")
    return pulumi.Output.secret(path.read_text())


def jump_host(proxy: JumpHostConfig | None, host_keys: HostKeys) -> JumpHost | None:
    """deploy.yml's `ssh/proxy` with its pinned key: the jump host is pinned like every host."""
    if proxy is None:
        return None
    try:
        key = host_keys.key_for(proxy.host, proxy.port)
    except DeployConfigError as error:
        raise DeployConfigError(f"ssh/proxy: {error}") from None
    return JumpHost(host=proxy.host, port=proxy.port, user=proxy.user, host_key=key)
