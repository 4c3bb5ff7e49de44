"""What `app` and `accessory` commands do with the containers they selected: logs, exec, ps, restart.

Every host is reached in parallel, except for restarts, which go one host at a time. Output
lines carry the host and role (or accessory) they came from, `[10.203.0.11 web] ...`; a host
that fails is named on stderr and makes the command exit 1.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Sequence

from components.day2.remote_scripts import (
    NO_RUNNING_CONTAINER,
    PS_FIELDS,
    LogOptions,
    exec_script,
    logs_script,
    ps_script,
    restart_script,
)
from components.day2.ssh_session import SSH_FAILURE, Finished, Session, SshAccess
from components.day2.stack_access import DeployedContainer, StackReader

EXIT_REMOTE_FAILURE = 1


def label(container: DeployedContainer) -> str:
    return f"[{container.host} {container.name}]"


def _write(prefix: str, text: str, *, to_stderr: bool = False) -> None:
    target = sys.stderr if to_stderr else sys.stdout
    target.write("".join(f"{prefix} {line}\n" for line in text.splitlines()))
    target.flush()


def _report(finished: Sequence[Finished], *, show_stdout: bool = True) -> int:
    """Prints each session's output in order; returns 1 if any failed."""
    status = 0
    for done in finished:
        if show_stdout:
            _write(done.session.label, done.stdout)
        _write(done.session.label, done.stderr, to_stderr=True)
        if done.returncode != 0:
            status = EXIT_REMOTE_FAILURE
            if done.returncode == SSH_FAILURE and not done.stderr.strip():
                _write(done.session.label, "ssh failed (exit status 255)", to_stderr=True)
            elif done.returncode not in (SSH_FAILURE, NO_RUNNING_CONTAINER):
                _write(done.session.label, f"exit status {done.returncode}", to_stderr=True)
    return status


def _sessions(targets: Sequence[DeployedContainer], scripts: Sequence[str]) -> list[Session]:
    return [
        Session(container.host, label(container), script)
        for container, script in zip(targets, scripts, strict=True)
    ]


def show_logs(
    reader: StackReader, targets: Sequence[DeployedContainer], options: LogOptions
) -> int:
    """`docker logs` of each target's running container; `follow` streams until interrupted."""
    scripts = [logs_script(t.family, reader.stack, options) for t in targets]
    sessions = _sessions(targets, scripts)
    with SshAccess(reader, [t.host for t in targets]) as access:
        if not options.follow:
            return _report(access.run_all(sessions))
        lock = threading.Lock()

        def line(session: Session, text: str, is_stderr: bool) -> None:
            with lock:
                _write(session.label, text, to_stderr=is_stderr)

        statuses = access.stream_all(sessions, line)
    for session, status in zip(sessions, statuses, strict=True):
        if status not in (0, SSH_FAILURE, NO_RUNNING_CONTAINER):
            _write(session.label, f"exit status {status}", to_stderr=True)
    return EXIT_REMOTE_FAILURE if any(statuses) else 0


def execute(
    reader: StackReader,
    targets: Sequence[DeployedContainer],
    command: str,
    *,
    interactive: bool,
) -> int:
    """Runs `command` in each target's running container; `interactive` on the first one only,
    on this terminal (Kamal's interactive exec runs on the primary host)."""
    if interactive:
        target = targets[0]
        if len(targets) > 1:
            _write(
                label(target),
                f"interactive: on this host only ({len(targets)} match; -h picks another)",
                to_stderr=True,
            )
        script = exec_script(target.family, reader.stack, command, interactive=True)
        with SshAccess(reader, [target.host]) as access:
            return access.run_interactive(Session(target.host, label(target), script))
    scripts = [exec_script(t.family, reader.stack, command, interactive=False) for t in targets]
    with SshAccess(reader, [t.host for t in targets]) as access:
        return _report(access.run_all(_sessions(targets, scripts)))


def restart(reader: StackReader, targets: Sequence[DeployedContainer]) -> int:
    """`docker restart` of each target's running container, one host after the other."""
    status = 0
    with SshAccess(reader, [t.host for t in targets]) as access:
        for target in targets:
            session = Session(
                target.host, label(target), restart_script(target.family, reader.stack)
            )
            [done] = access.run_all([session])
            if done.returncode == 0:
                name, _, started = done.stdout.strip().partition(" ")
                _write(session.label, f"restarted {name} (started at {started})")
            else:
                status = _report([done], show_stdout=False) or status
    return status


_COLUMNS = ("HOST", "NAME", "CONTAINER", "ID", "STATUS", "CREATED", "IMAGE")


def list_containers(
    reader: StackReader,
    targets: Sequence[DeployedContainer],
    *,
    kind: str,
    include_stopped: bool,
) -> int:
    """A table of the targets' containers on their hosts (`docker ps`, `-a` with stopped ones)."""
    hosts = list(dict.fromkeys(t.host for t in targets))
    families = {(t.host, t.family) for t in targets}
    script = ps_script(reader.stack, kind, include_stopped=include_stopped)
    sessions = [Session(host, f"[{host}]", script) for host in hosts]
    with SshAccess(reader, hosts) as access:
        finished = access.run_all(sessions)
    rows: list[tuple[str, ...]] = []
    for done in finished:
        for line in done.stdout.splitlines():
            fields = dict(zip(PS_FIELDS, line.split("\t"), strict=False))
            if (done.session.host, fields.get("family")) not in families:
                continue
            rows.append(
                (
                    done.session.host,
                    fields.get("name", ""),
                    fields.get("container", ""),
                    fields.get("id", ""),
                    fields.get("status", ""),
                    fields.get("created", ""),
                    fields.get("image", ""),
                )
            )
    widths = [max(len(row[i]) for row in [_COLUMNS, *rows]) for i in range(len(_COLUMNS))]
    for row in [_COLUMNS, *rows]:
        sys.stdout.write(
            "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() + "\n"
        )
    sys.stdout.flush()
    return _report(finished, show_stdout=False)
