"""Pure builders of the host scripts behind the day-2 commands: find, log, exec, list, restart.

Like `components/docker_scripts.py` they only return text, run by the host's login shell over
SSH, and must work under busybox `sh`. Containers are found by fleetform's labels, never by
parsing names: the running container of a family is the newest one `docker ps` lists with the
family and stack labels (two run side by side only for a moment during a deploy).
"""

from __future__ import annotations

from dataclasses import dataclass

from components.docker_scripts import FAMILY_LABEL, MANAGED_LABEL, STACK_LABEL, q

NO_RUNNING_CONTAINER = 3
"""Exit status of a script that found no running container of its family."""
PS_FIELDS = ("family", "name", "id", "container", "image", "status", "created")
"""The tab-separated columns of `ps_script`, in order."""


@dataclass(frozen=True)
class LogOptions:
    """`docker logs` options, as Kamal's `app logs` and `accessory logs` take them."""

    lines: int | None = 100
    since: str | None = None
    follow: bool = False
    timestamps: bool = True


def _find_running(family: str, stack: str) -> str:
    """Sets `$name` to the running container of `family`, or exits naming what is missing."""
    return (
        f"name=$(docker ps --filter {q(f'label={FAMILY_LABEL}={family}')} "
        f"--filter {q(f'label={STACK_LABEL}={stack}')} --format '{{{{.Names}}}}' | head -n 1)\n"
        'if [ -z "$name" ]; then\n'
        f"  echo {q(f'no running {family} container (stack {stack})')} >&2\n"
        f"  exit {NO_RUNNING_CONTAINER}\n"
        "fi\n"
    )


def logs_script(family: str, stack: str, options: LogOptions) -> str:
    """The container's log, stdout and stderr together, as Kamal shows it.

    With `follow`, the log runs in the background and a watcher ends it when the SSH client's
    stdin closes: an SSH session without a terminal never tells the remote command that the
    client went away, so a stopped local `--follow` would otherwise leave `docker logs` behind.
    """
    words = ["docker", "logs"]
    if options.timestamps:
        words.append("--timestamps")
    if options.since is not None:
        words += ["--since", q(options.since)]
    if options.lines is not None:
        words += ["--tail", str(options.lines)]
    if not options.follow:
        return _find_running(family, stack) + " ".join(words) + ' "$name" 2>&1'
    words.append("--follow")
    return (
        _find_running(family, stack)
        # An async command's stdin is /dev/null: keep the session's stdin on fd 3 for the watcher.
        + "exec 3<&0\n"
        + " ".join(words)
        + ' "$name" 2>&1 </dev/null &\n'
        "logs=$!\n"
        '( cat <&3 >/dev/null 2>&1; kill "$logs" 2>/dev/null ) >/dev/null 2>&1 &\n'
        "exec 3<&-\n"
        'wait "$logs"'
    )


def exec_script(family: str, stack: str, command: str, *, interactive: bool) -> str:
    """`docker exec` in the running container. `command` is a command line, as in Kamal.

    The host's shell splits it (Kamal runs `docker exec <container> <command>` the same way), so
    `app exec 'uname -m'` runs `uname` with the argument `-m` in the container.
    """
    flags = "--interactive --tty " if interactive else ""
    return _find_running(family, stack) + f'exec docker exec {flags}"$name" {command}'


def restart_script(family: str, stack: str) -> str:
    """Restarts the running container in place and prints its new start time."""
    return (
        _find_running(family, stack)
        + 'docker restart "$name" >/dev/null\n'
        + 'echo "$name $(docker inspect --format \'{{.State.StartedAt}}\' "$name")"'
    )


def ps_script(stack: str, kind: str, *, include_stopped: bool) -> str:
    """This stack's app (`kind` role) or accessory containers on the host, one tab-separated line
    each with the columns of PS_FIELDS; `include_stopped` is `docker ps -a`."""
    label = "role" if kind == "role" else "accessory"
    template = "\t".join(
        [
            f'{{{{.Label "{FAMILY_LABEL}"}}}}',
            f'{{{{.Label "{label}"}}}}',
            "{{.ID}}",
            "{{.Names}}",
            "{{.Image}}",
            "{{.Status}}",
            "{{.RunningFor}}",
        ]
    )
    every = "-a " if include_stopped else ""
    return (
        f"docker ps {every}--filter {q(f'label={MANAGED_LABEL}=true')} "
        f"--filter {q(f'label={STACK_LABEL}={stack}')} --filter {q(f'label={label}')} "
        f"--format {q(template)}"
    )
