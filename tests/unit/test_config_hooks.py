"""`hooks_path` and `hooks_output`: parsing, refusals, which hook files a deploy runs."""

from __future__ import annotations

import subprocess
from dataclasses import replace
from pathlib import Path

import pytest

from components.config.hooks import (
    HOOK_NAMES,
    HooksConfig,
    build_fingerprint,
    find_hooks,
)
from components.config.model import BuilderConfig
from components.config.project import project_root
from components.errors import DeployConfigError
from components.hooks import hook_script, kamal_version, service_version
from tests.unit.support import assert_config_error, parse


def test_neither_key_means_no_settings() -> None:
    assert parse().hooks is None


def test_hooks_path_and_a_global_output_are_read() -> None:
    assert parse(hooks_path="/srv/hooks", hooks_output=":verbose").hooks == HooksConfig(
        path="/srv/hooks", output="verbose"
    )


@pytest.mark.parametrize(("value", "meaning"), [(":quiet", "quiet"), ("verbose", "verbose")])
def test_output_takes_kamals_symbols_with_or_without_the_colon(value: str, meaning: str) -> None:
    hooks = parse(hooks_output=value).hooks
    assert hooks is not None and hooks.output_of("pre-deploy") == meaning


def test_a_per_hook_output_overrides_the_default_for_that_hook_only() -> None:
    hooks = parse(hooks_output={"pre-deploy": ":verbose", "pre-build": ":quiet"}).hooks
    assert hooks is not None
    assert hooks.output_of("pre-deploy") == "verbose"
    assert hooks.output_of("pre-build") == "quiet"
    assert hooks.output_of("post-deploy") == "default"


def test_bad_hooks_path_is_refused() -> None:
    assert_config_error("hooks_path: must be a string (got 3)", hooks_path=3)
    assert_config_error("hooks_path: must not be empty (got ' ')", hooks_path=" ")


def test_bad_hooks_output_is_refused() -> None:
    assert_config_error("hooks_output: must be :quiet or :verbose (got ':loud')",
                        hooks_output=":loud")  # fmt: skip
    assert_config_error("hooks_output: must be :quiet or :verbose (got null)", hooks_output=None)
    assert_config_error(
        "hooks_output/pre-deploy: must be :quiet or :verbose (got true)",
        hooks_output={"pre-deploy": True},
    )
    assert_config_error(
        "hooks_output: must be :quiet, :verbose or a mapping of hooks to them "
        "(got an empty mapping)",
        hooks_output={},
    )
    assert_config_error(
        f"hooks_output/pre-push: unknown hook; hooks are {', '.join(HOOK_NAMES)} (got 'pre-push')",
        hooks_output={"pre-push": ":quiet"},
    )


def test_kamal_hooks_fleetform_never_runs_are_refused_with_the_reason() -> None:
    assert_config_error(
        "hooks_output/pre-app-remove: not supported by fleetform: fleetform has no `app remove`; "
        "`pulumi destroy` removes a stack (got 'pre-app-remove')",
        hooks_output={"pre-app-remove": ":verbose"},
    )


def test_the_project_root_is_the_parent_of_the_deploy_files_directory(tmp_path: Path) -> None:
    assert project_root(tmp_path / "app" / "config" / "deploy.yml") == (tmp_path / "app").resolve()


def _hook(directory: Path, name: str, mode: int = 0o755) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text("#!/bin/sh\n")
    path.chmod(mode)
    return path


def test_only_existing_hook_files_run_from_kamals_default_path(tmp_path: Path) -> None:
    deploy = tmp_path / "config" / "deploy.yml"
    pre_deploy = _hook(tmp_path / ".kamal" / "hooks", "pre-deploy")
    _hook(tmp_path / ".kamal" / "hooks", "pre-deploy.sample", 0o644)
    found = find_hooks(HooksConfig(output="verbose"), deploy)
    assert found.files == (("pre-deploy", str(pre_deploy)),)
    assert found.file("post-deploy") is None
    assert found.output("post-deploy") == "verbose"


def test_a_relative_hooks_path_is_from_the_project_root(tmp_path: Path) -> None:
    hook = _hook(tmp_path / "ops" / "hooks", "post-deploy")
    found = find_hooks(HooksConfig(path="ops/hooks"), tmp_path / "config" / "deploy.yml")
    assert found.file("post-deploy") == str(hook)


def test_a_hook_file_that_cannot_run_is_refused_by_name(tmp_path: Path) -> None:
    hook = _hook(tmp_path / "hooks", "pre-build", 0o644)
    with pytest.raises(DeployConfigError) as raised:
        find_hooks(HooksConfig(path=str(tmp_path / "hooks")), tmp_path / "config" / "deploy.yml")
    assert str(raised.value) == (
        f"hooks_path: hook {hook} is not an executable file (chmod +x it, or remove it to skip "
        "the pre-build hook)"
    )


def test_a_hooks_path_that_is_a_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "hooks").write_text("")
    with pytest.raises(DeployConfigError, match="is not a directory"):
        find_hooks(HooksConfig(path=str(tmp_path / "hooks")), tmp_path / "deploy.yml")


def test_the_build_fingerprint_follows_the_context_and_the_inputs(tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text("FROM scratch\n")
    first = build_fingerprint(tmp_path, "Dockerfile")
    assert build_fingerprint(tmp_path, "Dockerfile") == first
    assert build_fingerprint(tmp_path, "Dockerfile", "A=1") != first
    (tmp_path / "app.txt").write_text("x")
    assert build_fingerprint(tmp_path, "Dockerfile") != first


def test_versions_name_every_platforms_digest() -> None:
    digests = {"linux/arm64": "sha256:" + "b" * 64, "linux/amd64": "sha256:" + "a" * 64}
    assert kamal_version(digests) == f"linux/amd64=sha256:{'a' * 64},linux/arm64=sha256:{'b' * 64}"
    assert service_version("app", digests) == f"app@{'a' * 12},{'b' * 12}"


def test_the_hook_script_sets_run_time_variables_and_drops_pulumis_secrets(tmp_path: Path) -> None:
    hook = tmp_path / "post-deploy"
    hook.write_text("#!/bin/sh\nenv\n")
    hook.chmod(0o755)
    done = subprocess.run(
        ["/bin/sh", "-c", hook_script(str(hook), runtime=True)],
        env={"PATH": "/usr/bin:/bin", "PULUMI_CONFIG": '{"s": "hunter2"}',
             "PULUMI_CONFIG_PASSPHRASE": "p"},
        capture_output=True, text=True, check=True, timeout=30,
    )  # fmt: skip
    env = dict(line.split("=", 1) for line in done.stdout.splitlines() if "=" in line)
    assert "hunter2" not in done.stdout and "PULUMI_CONFIG_PASSPHRASE" not in env
    assert env["KAMAL_RECORDED_AT"].endswith("Z") and env["KAMAL_PERFORMER"]
    assert env["KAMAL_RUNTIME"].isdigit()


def test_every_builder_setting_is_a_pre_build_input(tmp_path: Path) -> None:
    # Hooks.pre_build fingerprints repr(builder): a new target or cache rebuilds the image, and
    # pre-build must run before that build as before any other.
    base = BuilderConfig(context=str(tmp_path))
    fingerprints = {
        build_fingerprint(tmp_path, repr(builder))
        for builder in (base, replace(base, target="production"), replace(base, secrets=("T",)))
    }
    assert len(fingerprints) == 3
