"""Which passphrase protects which stack's secrets, and what the committed stack files may hold."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import pytest
import yaml

from components.errors import DeployConfigError
from components.stack_config import DEV_PASSPHRASE, check_secrets_passphrase
from components.stack_files import committed_settings, merge_stack_file, sync_stack_file

ROOT = Path(__file__).resolve().parents[2]
NAMES = ["dev", "bench", "e2e-seed", "e2e-production", "staging", "production", "devel", "my-dev"]


def env_sh(script: str, cache: Path, **environ: str) -> subprocess.CompletedProcess[str]:
    """Runs `script` after sourcing scripts/env.sh, with no passphrase from the caller's shell."""
    clean = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("PULUMI_CONFIG_PASSPHRASE", "FLEETFORM_PASSPHRASE"))
    }
    return subprocess.run(
        ["bash", "-c", f"set -eu; source {ROOT}/scripts/env.sh; {script}"],
        env={**clean, "FLEETFORM_CACHE": str(cache), **environ},
        capture_output=True,
        text=True,
        check=False,
    )


def test_env_sh_sets_no_default_passphrase(tmp_path: Path) -> None:
    done = env_sh('echo "${PULUMI_CONFIG_PASSPHRASE-unset}"', tmp_path)
    assert done.stdout.strip() == "unset", done.stderr


def test_env_sh_and_the_program_agree_on_the_dev_passphrase(tmp_path: Path) -> None:
    assert env_sh('echo "$FLEETFORM_DEV_PASSPHRASE"', tmp_path).stdout.strip() == DEV_PASSPHRASE


@pytest.mark.parametrize("stack", NAMES)
def test_env_sh_and_the_program_agree_on_the_dev_stacks(tmp_path: Path, stack: str) -> None:
    chosen = env_sh(
        f'fleetform_stack_passphrase {stack}; echo "${{PULUMI_CONFIG_PASSPHRASE-}}"', tmp_path
    ).stdout.strip()
    try:
        check_secrets_passphrase(stack, {"PULUMI_CONFIG_PASSPHRASE": DEV_PASSPHRASE})
        allowed = True
    except DeployConfigError:
        allowed = False
    assert (chosen == DEV_PASSPHRASE) == allowed


def test_staging_and_production_get_this_machines_own_passphrase(tmp_path: Path) -> None:
    show = 'echo "${PULUMI_CONFIG_PASSPHRASE-}|${PULUMI_CONFIG_PASSPHRASE_FILE-}"'
    first = env_sh(f"fleetform_stack_passphrase staging; {show}", tmp_path)
    assert first.stdout.strip() == f"|{tmp_path}/stack-passphrase", first.stderr
    passphrase_file = tmp_path / "stack-passphrase"
    passphrase = passphrase_file.read_text()
    assert len(passphrase) >= 40 and passphrase != DEV_PASSPHRASE
    assert stat.S_IMODE(passphrase_file.stat().st_mode) == 0o600
    again = env_sh(f"fleetform_stack_passphrase production; {show}", tmp_path)
    assert again.stdout == first.stdout and passphrase_file.read_text() == passphrase


def test_your_own_passphrase_wins_but_never_the_dev_one(tmp_path: Path) -> None:
    show = 'echo "${PULUMI_CONFIG_PASSPHRASE-}|${PULUMI_CONFIG_PASSPHRASE_FILE-}"'
    mine = env_sh(
        f"fleetform_stack_passphrase production; {show}", tmp_path, PULUMI_CONFIG_PASSPHRASE="mine"
    )
    assert mine.stdout.strip() == "mine|"
    assert not (tmp_path / "stack-passphrase").exists()
    refused = env_sh(
        "fleetform_stack_passphrase production", tmp_path, PULUMI_CONFIG_PASSPHRASE=DEV_PASSPHRASE
    )
    assert refused.returncode == 1
    assert "public dev passphrase" in refused.stderr
    # The dev stack always uses the dev passphrase, whatever the shell had.
    dev = env_sh(f"fleetform_stack_passphrase dev; {show}", tmp_path, PULUMI_CONFIG_PASSPHRASE="x")
    assert dev.stdout.strip() == f"{DEV_PASSPHRASE}|"


@pytest.mark.parametrize("stack", ["dev", "bench", "e2e-staging"])
def test_the_program_allows_the_dev_passphrase_on_dev_and_test_stacks(stack: str) -> None:
    check_secrets_passphrase(stack, {"PULUMI_CONFIG_PASSPHRASE": DEV_PASSPHRASE})


def test_the_program_refuses_the_dev_passphrase_elsewhere(tmp_path: Path) -> None:
    with pytest.raises(DeployConfigError) as error:
        check_secrets_passphrase("production", {"PULUMI_CONFIG_PASSPHRASE": DEV_PASSPHRASE})
    assert str(error.value) == (
        "PULUMI_CONFIG_PASSPHRASE: stack 'production' must not use the public dev passphrase, "
        "which only the stacks dev, bench, e2e-* may use; set PULUMI_CONFIG_PASSPHRASE, or use "
        "another secrets provider (got fleetform-dev-passphrase)"
    )
    passphrase_file = tmp_path / "passphrase"
    passphrase_file.write_text(DEV_PASSPHRASE + "\n")
    with pytest.raises(DeployConfigError, match=r"^PULUMI_CONFIG_PASSPHRASE_FILE: stack 'staging'"):
        check_secrets_passphrase("staging", {"PULUMI_CONFIG_PASSPHRASE_FILE": str(passphrase_file)})
    check_secrets_passphrase("production", {"PULUMI_CONFIG_PASSPHRASE": "a secret of mine"})
    check_secrets_passphrase("production", {})


def test_committed_stack_files_carry_no_machine_secrets() -> None:
    tracked = subprocess.run(
        ["git", "ls-files", "stacks"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    assert tracked, "the committed stack settings live in stacks/settings/"
    for name in tracked:
        assert name.startswith("stacks/settings/"), f"{name}: stack files are machine-local"
        committed_settings((ROOT / name).read_text(), name)  # no salt, no secure values
    for stack in ("dev", "staging", "production", "e2e-seed"):
        ignored = subprocess.run(
            ["git", "check-ignore", "-q", f"stacks/Pulumi.{stack}.yaml"], cwd=ROOT, check=False
        )
        assert ignored.returncode == 0, f"stacks/Pulumi.{stack}.yaml must be ignored"


def test_committed_settings_refuse_secrets() -> None:
    with pytest.raises(DeployConfigError, match=r"^s.yaml/encryptionsalt: machine-specific"):
        committed_settings("encryptionsalt: v1:abc\nconfig: {}\n", "s.yaml")
    with pytest.raises(DeployConfigError, match=r"^s.yaml/config/fleetform:X: a secure value"):
        committed_settings("config:\n  fleetform:X:\n    secure: v1:abc\n", "s.yaml")


def test_stack_file_keeps_its_salt_and_secrets_under_the_committed_settings(
    tmp_path: Path,
) -> None:
    stacks = tmp_path / "stacks"
    (stacks / "settings").mkdir(parents=True)
    (stacks / "settings" / "dev.yaml").write_text(
        "# comment\nconfig:\n  fleetform:deployFile: config/deploy.yml\n  fleetform:a: new\n"
    )
    assert sync_stack_file("dev", tmp_path)
    (stacks / "Pulumi.dev.yaml").write_text(
        "config:\n  fleetform:a: old\n  fleetform:APP_SECRET:\n    secure: v1:s\n"
        "encryptionsalt: v1:salt\n"
    )
    assert sync_stack_file("dev", tmp_path)
    assert yaml.safe_load((stacks / "Pulumi.dev.yaml").read_text()) == {
        "config": {
            "fleetform:a": "new",
            "fleetform:APP_SECRET": {"secure": "v1:s"},
            "fleetform:deployFile": "config/deploy.yml",
        },
        "encryptionsalt": "v1:salt",
    }
    assert not sync_stack_file("dev", tmp_path), "a second sync changes nothing"
    assert not sync_stack_file("other", tmp_path), "no committed settings: left alone"
    assert merge_stack_file({"k": "v"}, "", "x") == "config:\n  k: v\n"
