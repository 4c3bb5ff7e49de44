"""Where the hooks sit in the graph of the sample deploy: the real __main__.py under Pulumi mocks."""

from __future__ import annotations

import os
import runpy
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pulumi
import pytest
import yaml
from pathlib import Path

from components.config.hooks import HOOK_NAMES
from tests.components.program import (
    ROOT,
    SEED_ARCH,
    Recorded,
    RecordingMocks,
    fake_ssh_files,
    run_program,
)

pytestmark = pytest.mark.components

LOCAL_COMMAND = "command:local:Command"
WEB = ("10.203.0.11", "10.203.0.12")


@pytest.fixture(scope="module")
def graph(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RecordingMocks, Recorded]]:
    root = tmp_path_factory.mktemp("project")
    hooks = root / ".kamal" / "hooks"
    hooks.mkdir(parents=True)
    for name in HOOK_NAMES:
        (hooks / name).write_text("#!/bin/sh\n")
        (hooks / name).chmod(0o755)
    deploy = yaml.safe_load((ROOT / "config" / "deploy.yml").read_text())
    deploy["hooks_output"] = {"pre-deploy": ":verbose"}
    (root / "config").mkdir()
    (root / "config" / "deploy.yml").write_text(yaml.safe_dump(deploy))
    recorded = Recorded()
    settings = {
        "deployFile": str(root / "config" / "deploy.yml"),
        **fake_ssh_files(tmp_path_factory.mktemp("keys"), SEED_ARCH),
        "REGISTRY_PASSWORD": "registry-pass",
        "APP_SECRET": "app-secret",
        "versionKey": "unit-version-key",
    }
    yield run_program(settings, recorded), recorded


def waits_for(recorded: Recorded, name: str) -> set[str]:
    """Everything `name` waits for; waiting for a component means waiting for its children."""
    children: dict[str, set[str]] = {}
    for child, (_, opts, _props) in recorded.resources.items():
        if opts.parent is not None:
            children.setdefault(opts.parent._name, set()).add(child)  # noqa: SLF001
    seen: set[str] = set()
    todo = [name]
    while todo:
        current = todo.pop()
        for dependency in recorded.direct.get(current, set()) | (
            children.get(current, set()) if current != name else set()
        ):
            if dependency not in seen and dependency in recorded.resources:
                seen.add(dependency)
                todo.append(dependency)
    return seen


def hook_inputs(mocks: RecordingMocks) -> dict[str, dict[str, Any]]:
    return {r.name: r.inputs for r in mocks.created if r.typ == LOCAL_COMMAND}


def test_each_hook_is_a_local_command_but_pre_connect_which_a_preview_never_runs(
    graph: tuple[RecordingMocks, Recorded],
) -> None:
    names = set(hook_inputs(graph[0]))
    assert "hooks-pre-connect" not in names
    assert {"hooks-pre-build", "hooks-pre-deploy", "hooks-post-deploy"} <= names
    for host in SEED_ARCH:
        assert f"hooks-docker-setup-{host}" in names
    for host in WEB:
        assert {f"hooks-pre-proxy-reboot-{host}", f"hooks-post-proxy-reboot-{host}"} <= names
    assert {"hooks-pre-app-boot-web-0", "hooks-post-app-boot-web-1",
            "hooks-pre-app-boot-jobs-0"} <= names  # fmt: skip


def test_pre_build_comes_before_the_build_and_pre_deploy_after_it(
    graph: tuple[RecordingMocks, Recorded],
) -> None:
    recorded = graph[1]
    assert "hooks-pre-build" in recorded.transitive("app-arm64")
    assert "app-arm64" in recorded.transitive("hooks-pre-deploy")


def test_no_container_changes_before_pre_deploy(graph: tuple[RecordingMocks, Recorded]) -> None:
    recorded = graph[1]
    for name in (*(f"web-{h}" for h in WEB), "jobs-10.203.0.13", "redis-10.203.0.14",
                 *(f"proxy-{h}-container" for h in WEB)):  # fmt: skip
        assert "hooks-pre-deploy" in recorded.transitive(name), name


def test_app_boot_hooks_wrap_each_batch_and_the_primary_roles_first_batch(
    graph: tuple[RecordingMocks, Recorded],
) -> None:
    recorded = graph[1]
    chain = ["hooks-pre-app-boot-web-0", "web-10.203.0.11", "hooks-post-app-boot-web-0",
             "hooks-pre-app-boot-web-1", "web-10.203.0.12", "hooks-post-app-boot-web-1"]  # fmt: skip
    for earlier, later in zip(chain, chain[1:], strict=False):
        assert earlier in recorded.transitive(later), (earlier, later)
    assert "hooks-post-app-boot-web-0" in recorded.transitive("hooks-pre-app-boot-jobs-0")
    assert "hooks-pre-deploy" in recorded.transitive("hooks-pre-app-boot-web-0")


def test_proxy_hooks_wrap_each_proxy_one_host_at_a_time(
    graph: tuple[RecordingMocks, Recorded],
) -> None:
    recorded = graph[1]
    first, second = WEB
    chain = [f"hooks-pre-proxy-reboot-{first}", f"proxy-{first}-container",
             f"hooks-post-proxy-reboot-{first}", f"hooks-pre-proxy-reboot-{second}",
             f"proxy-{second}-container", f"hooks-post-proxy-reboot-{second}"]  # fmt: skip
    for earlier, later in zip(chain, chain[1:], strict=False):
        assert earlier in recorded.transitive(later), (earlier, later)


def test_docker_setup_runs_after_the_probe_and_before_the_host_is_set_up(
    graph: tuple[RecordingMocks, Recorded],
) -> None:
    recorded = graph[1]
    for host in SEED_ARCH:
        assert f"{host}-probe" in recorded.transitive(f"hooks-docker-setup-{host}")
        assert f"hooks-docker-setup-{host}" in recorded.transitive(f"{host}-network")
        assert f"hooks-docker-setup-{host}" in recorded.transitive("hooks-pre-deploy")


def test_post_deploy_comes_after_everything(graph: tuple[RecordingMocks, Recorded]) -> None:
    recorded = graph[1]
    after = waits_for(recorded, "hooks-post-deploy")
    for name in (*(f"web-{h}" for h in WEB), "jobs-10.203.0.13", "redis-10.203.0.14",
                 *(f"proxy-{h}-container" for h in WEB), "hooks-post-app-boot-web-1"):  # fmt: skip
        assert name in after, name


def test_hooks_carry_kamal_variables_and_no_secret(graph: tuple[RecordingMocks, Recorded]) -> None:
    inputs = hook_inputs(graph[0])
    pre_deploy = inputs["hooks-pre-deploy"]
    assert sorted(pre_deploy["environment"]["KAMAL_HOSTS"].split(",")) == sorted(SEED_ARCH)
    assert pre_deploy["environment"]["KAMAL_VERSION"] == "linux/arm64=sha256:" + "ab" * 32
    assert pre_deploy["environment"]["KAMAL_SERVICE_VERSION"] == "hello@" + "ab" * 6
    assert inputs["hooks-pre-app-boot-web-1"]["environment"]["KAMAL_HOSTS"] == "10.203.0.12"
    assert inputs["hooks-pre-app-boot-web-1"]["environment"]["KAMAL_ROLES"] == "web"
    assert "KAMAL_VERSION" not in inputs["hooks-pre-build"]["environment"]
    assert "KAMAL_RUNTIME" in inputs["hooks-post-deploy"]["create"]
    assert pre_deploy["logging"] == "stdoutAndStderr"
    assert inputs["hooks-post-deploy"]["logging"] == "none"
    # Nothing that changes each run is an input: a no-op `up` leaves every hook as it was.
    for name, values in inputs.items():
        assert "app-secret" not in repr(values) and "registry-pass" not in repr(values), name
        assert "KAMAL_RECORDED_AT" not in values.get("environment", {}), name


def failing_program(tmp_path: Path) -> None:
    """A program that fails after declaring hooks; run in its own process (it could hang)."""
    (tmp_path / ".kamal" / "hooks").mkdir(parents=True)
    for name in ("pre-deploy", "pre-app-boot"):
        (tmp_path / ".kamal" / "hooks" / name).write_text("#!/bin/sh\n")
        (tmp_path / ".kamal" / "hooks" / name).chmod(0o755)
    (tmp_path / "config").mkdir()
    deploy = {
        "service": "app",
        "image": "org/app",
        "builder": {"arch": ["arm64", "amd64"]},
        "servers": {"web": {"hosts": ["10.203.0.11"]}},
    }
    (tmp_path / "config" / "deploy.yml").write_text(yaml.safe_dump(deploy))
    (tmp_path / "known_hosts").write_text("10.203.0.11 ssh-ed25519 AAAAkey\n")
    (tmp_path / "id").write_text("not-a-real-key")
    pulumi.runtime.set_mocks(RecordingMocks(), project="fleetform", stack="unit", preview=True)
    for key, value in {
        "deployFile": str(tmp_path / "config" / "deploy.yml"),
        "sshPrivateKeyPath": str(tmp_path / "id"),
        "knownHostsFile": str(tmp_path / "known_hosts"),
    }.items():
        pulumi.runtime.set_config(f"fleetform:{key}", value)

    @pulumi.runtime.test
    def run() -> None:
        runpy.run_path(str(ROOT / "__main__.py"), run_name="__main__")

    passphrase = os.environ.pop("PULUMI_CONFIG_PASSPHRASE", None)
    try:
        with pytest.raises(pulumi.RunError, match="servers/web/arch: 10.203.0.11 has no declared"):
            run()
    finally:
        if passphrase is not None:
            os.environ["PULUMI_CONFIG_PASSPHRASE"] = passphrase


def test_a_program_that_fails_after_a_hook_is_declared_reports_its_error(
    tmp_path: Path,
) -> None:
    """The hooks' deferred triggers are released, so the error is reported instead of a hang."""
    done = subprocess.run(
        [sys.executable, "-c", "import sys; from tests.components.test_hooks_graph import "
         f"failing_program; failing_program(__import__('pathlib').Path({str(tmp_path)!r}))"],
        cwd=ROOT, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
