"""Before `pulumi up` touches any host: does each host still offer the key pinned for it?

pulumi-command refuses a host with another key, but only says `ssh: host key mismatch`. An
operator needs the host and the fingerprint it offered to decide between a rebuilt host and an
attack, so `up` asks every host for its key first (ssh-keyscan, in parallel, seconds at most)
and names both fingerprints. The pin itself is still enforced by every remote command.
"""

from __future__ import annotations

import base64
import hashlib
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from components.errors import DeployConfigError

SCAN_TIMEOUT_SECONDS = 5


@dataclass(frozen=True)
class PinnedHost:
    address: str
    port: int
    host_key: str
    """`ssh-ed25519 AAAA…`, as pinned in the stack."""


def fingerprint(public_key: str) -> str:
    """OpenSSH's SHA256 fingerprint of `type base64 [comment]`: `SHA256:…` without padding."""
    blob = base64.b64decode(public_key.split()[1])
    return "SHA256:" + base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")


def _offered(host: PinnedHost, scanner: str) -> str | None:
    key_type = host.host_key.split()[0]
    argv = [scanner, "-T", str(SCAN_TIMEOUT_SECONDS), "-p", str(host.port), "-t", key_type]
    try:
        done = subprocess.run(
            [*argv, host.address],
            capture_output=True,
            text=True,
            timeout=SCAN_TIMEOUT_SECONDS + 5,
        )
    except subprocess.TimeoutExpired:
        return None
    for line in done.stdout.splitlines():
        fields = line.split()
        if len(fields) >= 3 and not line.startswith("#") and fields[1] == key_type:
            return f"{fields[1]} {fields[2]}"
    # Unreachable or silent: the remote commands report that with the host's name.
    return None


def check_host_keys(hosts: Sequence[PinnedHost]) -> None:
    """Raises a DeployConfigError naming every host whose offered key is not its pinned one."""
    scanner = shutil.which("ssh-keyscan")
    if scanner is None or not hosts:
        return
    with ThreadPoolExecutor(min(16, len(hosts))) as pool:
        offered = list(pool.map(lambda host: _offered(host, scanner), hosts))
    problems = [
        f"{host.address}: host key mismatch: the host offered {key.split()[0]} "
        f"{fingerprint(key)}, but {fingerprint(host.host_key)} is pinned "
        f"(fleetform:knownHostsFile / fleetform:hostKeys)"
        for host, key in zip(hosts, offered, strict=True)
        if key is not None and key.split()[1] != host.host_key.split()[1]
    ]
    if problems:
        raise DeployConfigError("\n".join(problems))


def hosts_to_scan(
    host_keys: Mapping[str, str], port: int, jump: PinnedHost | None
) -> list[PinnedHost]:
    """The hosts `up` checks first: every host, or with a jump host (ssh/proxy) the jump alone.

    Hosts behind a jump are usually unreachable from here, and ssh-keyscan cannot go through a
    jump host; dialing them directly would only add the scan's timeout. Their pins are still
    enforced by every remote command, which then fails with pulumi-command's `ssh: host key
    mismatch` (without the fingerprints) before running anything on that host.
    """
    if jump is not None:
        return [jump]
    return [PinnedHost(host, port, key) for host, key in host_keys.items()]
