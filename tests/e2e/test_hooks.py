"""Kamal hooks on the real fleet: order, environment, when they run again, a failing pre-deploy.

One stack (`e2e-hooks`): web on two arm64 hosts booted one at a time, jobs on a third. Every hook
file appends one line to a log on the operator's machine: its name and its KAMAL_* environment.
Tests run in file order; each leaves the stack deployed for the next.
"""

from __future__ import annotations

import re
import stat
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from components.config.hooks import HOOK_NAMES
from components.config.project import project_root
from tests.e2e.fleet_stack import OpsStack
from tests.support import host_address, inventory, ssh

pytestmark = pytest.mark.e2e

STACK = "e2e-hooks"
WEB_PORT = 8091
WEB_CMD = (
    'sh -c \'mkdir -p /tmp/www && echo "$GREETING" > /tmp/www/index.html'
    " && exec httpd -f -p 8080 -h /tmp/www'"
)
JOBS_CMD = "sh -c 'while true; do sleep 5; done'"
# One write per run, so hooks running side by side (docker-setup on each host) never interleave.
HOOK = """#!/bin/sh
[ "$(basename "$0")" = pre-deploy ] && [ -e {dir}/fail ] && {{ echo "CI is red" >&2; exit 1; }}
line="$(basename "$0") at=$(date +%s) cwd=$(pwd) passphrase=${{PULUMI_CONFIG_PASSPHRASE:-none}}"
line="$line secret=$(env | grep -c first-secret) $(env | grep '^KAMAL_' | sort | tr '\\n' ' ')"
printf '%s\\n' "$line" >> {dir}/log
echo "said-by-$(basename "$0")"
"""


def hooks_config(
    hooks_dir: Path, greeting: str = "one", proxy: dict[str, Any] | None = None
) -> dict[str, Any]:
    inv = inventory()
    return {
        "service": "hk",
        "image": "fleetform/busybox",
        "registry": {
            "server": inv["registry"],
            "username": inv["registry_user"],
            "password": ["REGISTRY_PASSWORD"],
        },
        "builder": {"arch": "arm64"},
        "servers": {
            "web": {
                "hosts": [host_address("h1"), host_address("h2")],
                "arch": "arm64",
                "cmd": WEB_CMD,
                **({} if proxy else {"options": {"publish": f"{WEB_PORT}:8080"}}),
            },
            "jobs": {
                "hosts": [host_address("h3")],
                "arch": "arm64",
                "cmd": JOBS_CMD,
                "proxy": False,
            },
        },
        "env": {"clear": {"GREETING": greeting}, "secret": ["APP_SECRET"]},
        "boot": {"limit": 1},
        "retain_containers": 1,
        "hooks_path": str(hooks_dir),
        "hooks_output": {"pre-deploy": ":quiet", "post-deploy": ":verbose"},
        **({"proxy": proxy} if proxy else {}),
    }


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OpsStack]:
    directory = tmp_path_factory.mktemp("hooks")
    hooks_dir = directory / "hooks"
    hooks_dir.mkdir()
    for name in HOOK_NAMES:
        path = hooks_dir / name
        path.write_text(HOOK.format(dir=hooks_dir))
        path.chmod(path.stat().st_mode | stat.S_IXUSR)
    ops = OpsStack(STACK, directory, hooks_config(hooks_dir))
    ops.hooks_dir = hooks_dir  # type: ignore[attr-defined]
    yield ops
    ops.drop()


def runs(ops: OpsStack) -> list[dict[str, str]]:
    """The hook runs logged since the last call, in order, each as {"hook": name, VAR: value}."""
    log: Path = ops.hooks_dir / "log"  # type: ignore[attr-defined]
    if not log.exists():
        return []
    lines = log.read_text().splitlines()
    log.unlink()
    records = []
    for line in lines:
        name, *pairs = line.split()
        records.append({"hook": name, **dict(pair.split("=", 1) for pair in pairs)})
    return records


def container_ids() -> dict[str, list[str]]:
    result = {}
    for name in ("h1", "h2", "h3"):
        out = ssh(
            host_address(name),
            f"docker ps -q --no-trunc --filter label=fleetform.stack={STACK}",
        ).stdout
        result[name] = sorted(out.split())
    return result


def web_text(address: str) -> str:
    import urllib.request

    with urllib.request.urlopen(f"http://{address}:{WEB_PORT}/", timeout=15) as response:
        return response.read().decode()


def order(records: list[dict[str, str]]) -> list[str]:
    return [f"{r['hook']}:{r['KAMAL_HOSTS']}" for r in records]


def test_first_up_runs_each_hook_at_its_point_with_kamals_environment(stack: OpsStack) -> None:
    started = time.time()
    assert stack.up().summary.result == "succeeded"
    elapsed = time.time() - started
    records = runs(stack)
    h1, h2, h3 = (host_address(n) for n in ("h1", "h2", "h3"))
    names = [r["hook"] for r in records]
    # No build (pinned digests) and no kamal-proxy here: no pre-build, no proxy hooks.
    assert sorted(names) == sorted(
        ["pre-connect", *["docker-setup"] * 3, "pre-deploy", *["pre-app-boot"] * 3,
         *["post-app-boot"] * 3, "post-deploy"]
    )  # fmt: skip
    steps = order(records)
    everyone = f"{h1},{h2},{h3}"
    assert steps[0] == f"pre-connect:{everyone}"
    assert steps[-1] == f"post-deploy:{everyone}"
    # docker-setup prepares each host before anything is deployed there.
    for host in (h1, h2, h3):
        assert steps.index(f"docker-setup:{host}") < steps.index(f"pre-app-boot:{host}")
    pre_deploy = steps.index(f"pre-deploy:{everyone}")
    # Web boots one host at a time, each batch between its hooks; jobs waits for web's first.
    assert (
        pre_deploy
        < steps.index(f"pre-app-boot:{h1}")
        < steps.index(f"post-app-boot:{h1}")
        < steps.index(f"pre-app-boot:{h2}")
        < steps.index(f"post-app-boot:{h2}")
    )
    assert steps.index(f"post-app-boot:{h1}") < steps.index(f"pre-app-boot:{h3}")
    assert steps.index(f"post-app-boot:{h3}") < steps.index(f"post-deploy:{everyone}")

    digest = stack.stack.get_all_config()["fleetform:appDigests"].value
    for record in records:
        assert record["KAMAL_COMMAND"] == "deploy"
        assert record["KAMAL_SERVICE"] == "hk"
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", record["KAMAL_RECORDED_AT"])
        assert record["KAMAL_PERFORMER"]
        assert "KAMAL_DESTINATION" not in record
        # Neither the stack's secrets nor the Pulumi passphrase reach a hook.
        assert record["secret"] == "0", record["hook"]
        assert record["passphrase"] == "none", record["hook"]
        assert record["cwd"] == str(project_root(stack.deploy_file))
        if record["hook"] != "docker-setup":
            assert record["KAMAL_VERSION"] == "linux/arm64=" + digest.split('"')[3]
            assert record["KAMAL_SERVICE_VERSION"].startswith("hk@")
    by_hook = {f"{r['hook']}:{r['KAMAL_HOSTS']}": r for r in records}
    assert by_hook[f"pre-app-boot:{h1}"]["KAMAL_ROLES"] == "web"
    assert by_hook[f"pre-app-boot:{h3}"]["KAMAL_ROLES"] == "jobs"
    assert by_hook[f"pre-deploy:{everyone}"]["KAMAL_ROLES"] == "web,jobs"
    post = by_hook[f"post-deploy:{everyone}"]
    runtime = int(post["KAMAL_RUNTIME"])
    # The deploy's own duration: at least from pre-deploy to post-deploy, at most the whole up.
    assert int(post["at"]) - int(by_hook[f"pre-deploy:{everyone}"]["at"]) - 1 <= runtime
    assert runtime <= elapsed + 1
    assert all("KAMAL_RUNTIME" not in r for r in records if r["hook"] != "post-deploy")
    assert web_text(h1) == "one\n"


def test_a_preview_runs_no_hook_even_with_changes_pending(stack: OpsStack) -> None:
    hooks_dir: Path = stack.hooks_dir  # type: ignore[attr-defined]
    stack.write(hooks_config(hooks_dir, greeting="pending"))
    try:
        preview = stack.stack.preview(color="never", diff=True)
    finally:
        stack.write(hooks_config(hooks_dir))
    assert preview.change_summary.get("replace", 0) > 0
    assert runs(stack) == []


def test_a_no_op_up_runs_only_pre_connect(stack: OpsStack) -> None:
    assert stack.up().summary.result == "succeeded"
    assert [r["hook"] for r in runs(stack)] == ["pre-connect"]


def test_an_env_change_runs_the_deploy_hooks_again_but_not_docker_setup(stack: OpsStack) -> None:
    before = container_ids()
    stack.write(hooks_config(stack.hooks_dir, greeting="two"))  # type: ignore[attr-defined]
    shown: list[str] = []
    assert stack.stack.up(color="never", on_output=shown.append).summary.result == "succeeded"
    # hooks_output: post-deploy is :verbose, pre-deploy :quiet, the others Kamal's default.
    output = "".join(shown)
    assert "said-by-post-deploy" in output
    assert "said-by-pre-deploy" not in output and "said-by-post-app-boot" not in output
    steps = order(runs(stack))
    h1, h2, h3 = (host_address(n) for n in ("h1", "h2", "h3"))
    everyone = f"{h1},{h2},{h3}"
    assert steps[0] == f"pre-connect:{everyone}"
    assert steps[1] == f"pre-deploy:{everyone}"
    assert steps[-1] == f"post-deploy:{everyone}"
    assert not [s for s in steps if s.startswith("docker-setup")]
    assert steps.index(f"post-app-boot:{h1}") < steps.index(f"pre-app-boot:{h2}")
    assert web_text(h1) == "two\n"
    assert container_ids() != before


def test_a_failing_pre_deploy_changes_nothing_and_a_rerun_after_the_fix_converges(
    stack: OpsStack,
) -> None:
    before = container_ids()
    fail = stack.hooks_dir / "fail"  # type: ignore[attr-defined]
    fail.touch()
    stack.write(hooks_config(stack.hooks_dir, greeting="three"))  # type: ignore[attr-defined]
    error = stack.failing_up()
    # A failing hook's output is in the error even when its output is :quiet.
    assert "pre-deploy" in error and "CI is red" in error
    steps = [r["hook"] for r in runs(stack)]
    assert steps == ["pre-connect"]
    assert container_ids() == before
    assert web_text(host_address("h1")) == "two\n"

    fail.unlink()
    assert stack.up().summary.result == "succeeded"
    steps = [r["hook"] for r in runs(stack)]
    assert steps[:2] == ["pre-connect", "pre-deploy"] and steps[-1] == "post-deploy"
    assert web_text(host_address("h1")) == "three\n"
    assert container_ids() != before


def test_a_non_executable_hook_is_refused_by_name(stack: OpsStack) -> None:
    hook = stack.hooks_dir / "post-deploy"  # type: ignore[attr-defined]
    hook.chmod(0o644)
    try:
        error = stack.failing_up()
    finally:
        hook.chmod(0o755)
    assert f"hook {hook} is not an executable file" in error
    assert runs(stack) == []


def proxy_settings(log_max_size: str | None = None) -> dict[str, Any]:
    run: dict[str, Any] = {"registry": inventory()["registry"]}
    if log_max_size is not None:
        run["log_max_size"] = log_max_size
    return {"app_port": 8080, "healthcheck": {"path": "/", "interval": 1, "timeout": 2},
            "run": run}  # fmt: skip


def test_proxy_hooks_run_around_a_proxy_replacement_not_its_first_boot(stack: OpsStack) -> None:
    hooks_dir: Path = stack.hooks_dir  # type: ignore[attr-defined]
    stack.write(hooks_config(hooks_dir, greeting="four", proxy=proxy_settings()))
    assert stack.up().summary.result == "succeeded"
    first = [r["hook"] for r in runs(stack)]
    assert "pre-proxy-reboot" not in first and "post-proxy-reboot" not in first
    assert "pre-deploy" in first

    stack.write(hooks_config(hooks_dir, greeting="four", proxy=proxy_settings("20m")))
    assert stack.up().summary.result == "succeeded"
    records = runs(stack)
    steps = order(records)
    h1, h2 = host_address("h1"), host_address("h2")
    assert (
        steps.index(f"pre-proxy-reboot:{h1}")
        < steps.index(f"post-proxy-reboot:{h1}")
        < steps.index(f"pre-proxy-reboot:{h2}")
        < steps.index(f"post-proxy-reboot:{h2}")
    )
    assert steps[1].startswith("pre-deploy:") and steps[-1].startswith("post-deploy:")
    # The app containers stay: no app-boot hooks.
    assert not [s for s in steps if "app-boot" in s]
    reboot = next(r for r in records if r["hook"] == "pre-proxy-reboot")
    assert reboot["KAMAL_ROLES"] == "web"
