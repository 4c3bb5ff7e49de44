"""Scripts that prepare a host for a stack and clean up after it: probe, network, clean-up."""

from __future__ import annotations


from components.docker_scripts.assets import asset_dir_of
from components.docker_scripts.shell import NETWORK, STACK_LABEL, q


_MACHINE_TO_ARCH = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}


def normalise_machine(machine: str) -> str:
    """Maps `uname -m` / `docker version` spellings to Docker arch names (unknown ones unchanged)."""
    cleaned = machine.strip()
    return _MACHINE_TO_ARCH.get(cleaned, cleaned)


def probe_script(host: str, declared_arch: str | None, declared_by: str) -> str:
    """Prints the host's arch; fails when it differs from what the deploy file declares.

    The check runs on the host, inside the probe command itself, so a mismatch fails the probe
    resource and Pulumi never reaches the containers that depend on it.
    """
    lines = [
        "set -e",
        "machine=$(uname -m)",
        'case "$machine" in x86_64|amd64) arch=amd64 ;; aarch64|arm64) arch=arm64 ;; '
        '*) arch="$machine" ;; esac',
        "engine=$(docker version --format '{{.Server.Arch}}')",
        'if [ "$engine" != "$arch" ]; then',
        f'  echo "{host}: the kernel says $arch but the Docker engine is $engine" >&2; exit 1',
        "fi",
    ]
    if declared_arch is not None:
        lines += [
            f'if [ "$arch" != {q(declared_arch)} ]; then',
            f'  echo "{host}: declared {declared_arch} ({declared_by}) but the host is $arch" >&2',
            "  exit 1",
            "fi",
        ]
    lines.append('echo "$arch"')
    return "\n".join(lines)


def network_create_script() -> str:
    return f"docker network inspect {NETWORK} >/dev/null 2>&1 || docker network create {NETWORK}"


def network_delete_script() -> str:
    # Other stacks may still have containers on the network; leaving it is harmless.
    return f"docker network rm {NETWORK} >/dev/null 2>&1 || true"


def stack_cleanup_script(stack: str) -> str:
    """What a host keeps of a stack after its last container resource is gone: nothing.

    Runs when the host leaves the stack (or the stack is destroyed), after every container's own
    delete. Only stopped containers (retained versions) go: if this runs because the host's
    connection was replaced, the running containers belong to the new resources.
    """
    label = q(f"label={STACK_LABEL}={stack}")
    return f"""for old in $(docker ps -a --filter {label} --filter status=exited \
    --filter status=created --format '{{{{.Names}}}}'); do
  docker rm --force "$old" >/dev/null 2>&1 || true
  rm -rf {asset_dir_of(stack, "old")}
done
{network_delete_script()}"""
