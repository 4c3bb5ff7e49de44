"""The day-2 host scripts, run here under dash and busybox sh against a fake `docker`."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from components.day2.remote_scripts import (
    NO_RUNNING_CONTAINER,
    LogOptions,
    exec_script,
    logs_script,
    ps_script,
    restart_script,
)

FAKE_DOCKER = """#!/bin/sh
echo "$*" >> "$FAKE_LOG"
case "$1" in
  ps) [ -z "$FAKE_RUNNING" ] || echo "$FAKE_RUNNING" ;;
  logs)
    case "$*" in
      *--follow*) echo $$ > "$FAKE_LOG.follower"; while :; do echo tick; sleep 0.1; done ;;
      *) echo "a log line" ;;
    esac ;;
  exec) shift; echo "exec $*" ;;
  restart) ;;
  inspect) echo 2024-05-01T00:00:00Z ;;
esac
"""
SHELLS = [shell for shell in (["dash"], ["busybox", "sh"]) if shutil.which(shell[0])]


@pytest.fixture(params=SHELLS, ids=lambda shell: " ".join(shell))
def host(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, object]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    docker = bin_dir / "docker"
    docker.write_text(FAKE_DOCKER)
    docker.chmod(0o755)
    log = tmp_path / "docker.log"
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "FAKE_LOG": str(log)}
    return {"shell": request.param, "env": env, "log": log}


def run(
    host: dict[str, object], script: str, running: str = ""
) -> subprocess.CompletedProcess[str]:
    env = {**host["env"], "FAKE_RUNNING": running}  # type: ignore[dict-item]
    return subprocess.run(
        [*host["shell"], "-c", script],  # type: ignore[misc]
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def calls(host: dict[str, object]) -> list[str]:
    return Path(str(host["log"])).read_text().splitlines()


def test_no_running_container_is_a_named_status(host: dict[str, object]) -> None:
    done = run(host, logs_script("app-web-dev", "dev", LogOptions()))
    assert done.returncode == NO_RUNNING_CONTAINER
    assert done.stderr == "no running app-web-dev container (stack dev)\n"
    assert calls(host) == [
        "ps --filter label=fleetform.container=app-web-dev --filter label=fleetform.stack=dev "
        "--format {{.Names}}"
    ]


def test_logs_of_the_newest_running_container(host: dict[str, object]) -> None:
    options = LogOptions(lines=20, since="10m", timestamps=False)
    done = run(host, logs_script("app-web-dev", "dev", options), "app-web-dev-new\napp-web-dev-old")
    assert done.returncode == 0, done.stderr
    assert done.stdout == "a log line\n"
    assert calls(host)[-1] == "logs --since 10m --tail 20 app-web-dev-new"


def test_follow_ends_when_the_client_closes_stdin(host: dict[str, object]) -> None:
    script = logs_script("app-web-dev", "dev", LogOptions(follow=True))
    env = {**host["env"], "FAKE_RUNNING": "app-web-dev-1"}  # type: ignore[dict-item]
    process = subprocess.Popen(
        [*host["shell"], "-c", script],  # type: ignore[misc]
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None and process.stdin is not None
    assert process.stdout.readline() == "tick\n"
    follower = int(Path(f"{host['log']}.follower").read_text())
    process.stdin.close()
    process.wait(timeout=10)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and os.path.exists(f"/proc/{follower}"):
        time.sleep(0.1)
    assert not os.path.exists(f"/proc/{follower}"), "docker logs --follow outlived the client"
    assert calls(host)[-1] == "logs --timestamps --tail 100 --follow app-web-dev-1"


def test_exec_passes_the_command_line_to_the_hosts_shell(host: dict[str, object]) -> None:
    done = run(host, exec_script("app-web-dev", "dev", "uname -m", interactive=False), "c1")
    assert done.stdout == "exec c1 uname -m\n"
    done = run(host, exec_script("app-web-dev", "dev", "sh", interactive=True), "c1")
    assert done.stdout == "exec --interactive --tty c1 sh\n"


def test_restart_prints_the_container_and_its_new_start(host: dict[str, object]) -> None:
    done = run(host, restart_script("app-redis-dev", "dev"), "app-redis-dev-1")
    assert done.returncode == 0, done.stderr
    assert done.stdout == "app-redis-dev-1 2024-05-01T00:00:00Z\n"
    assert "restart app-redis-dev-1" in calls(host)


def test_ps_lists_only_this_stacks_containers_of_the_kind(host: dict[str, object]) -> None:
    run(host, ps_script("dev", "accessory", include_stopped=True))
    [call] = calls(host)
    assert call.startswith(
        "ps -a --filter label=fleetform.managed=true --filter label=fleetform.stack=dev "
        "--filter label=accessory --format "
    )
    run(host, ps_script("dev", "role", include_stopped=False))
    assert calls(host)[-1].startswith("ps --filter label=fleetform.managed=true")
    assert "--filter label=role " in calls(host)[-1]
