"""Quoting, host paths, labels and the time limit every remote script runs under."""

from __future__ import annotations

import shlex


# Labels fleetform puts on every container it runs; `docker ps --filter` finds a
# container's predecessors through FAMILY_LABEL and STACK_LABEL without parsing names.
FAMILY_LABEL = "fleetform.container"
STACK_LABEL = "fleetform.stack"
MANAGED_LABEL = "fleetform.managed"
NETWORK = "fleetform"


# Under the SSH user's own home on the host (never /root for another user): `~/...` in a spec is
# written as "$HOME/..." in scripts.
STATE_DIR = "~/.fleetform"


def q(value: str) -> str:
    return shlex.quote(value)


def bounded(script: str, host: str, limit: int) -> str:
    """Runs `script` under a time limit enforced on the host, in a process group of its own.

    pulumi-command waits on the SSH session without a deadline, so a host whose dockerd hangs
    would hold `pulumi up` and the stack lock forever. After `limit` seconds the whole group
    (the script and any docker CLI it waits on) gets TERM, then KILL, and the resource fails
    with a message naming the host and the limit. Stdin (the env file) reaches the script.
    """
    return f"""limit={limit}
started=$(date +%s)
# An async command's stdin is /dev/null unless redirected from a descriptor saved before it.
exec 3<&0
setsid sh -c {q(script)} <&3 3<&- &
job=$!
exec 3<&-
( while kill -0 "$job" 2>/dev/null; do
    if [ $(( $(date +%s) - started )) -ge "$limit" ]; then
      kill -TERM -"$job" 2>/dev/null; sleep 5; kill -KILL -"$job" 2>/dev/null; exit 0
    fi
    sleep 1
  done ) </dev/null >/dev/null 2>&1 &
wait "$job"
status=$?
if [ $(( $(date +%s) - started )) -ge "$limit" ]; then
  echo "{host}: the remote script did not finish within {limit}s (fleetform:commandTimeout); stopped it" >&2
fi
exit "$status\""""


def host_path(path: str) -> str:
    """A spec path for a script: `~/x` becomes "$HOME"/'x', anything else is quoted."""
    if path == "~" or path.startswith("~/"):
        rest = path[2:]
        return '"$HOME"' + ("/" + q(rest) if rest else "")
    return q(path)
