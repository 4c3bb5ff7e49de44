"""Staging → production by exact per-platform digests, on disjoint hosts of the local fleet.

Runs the committed stack settings (stacks/settings/staging.yaml, production.yaml) under throwaway
e2e-* stack names, with the deploy files copied to a temporary directory so tests can vary them.
Like every e2e-* stack, they keep their secrets under the public dev passphrase.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from pulumi import automation as auto

from components.errors import PlanError
from components.promote import promote
from components.stack_config import DEV_PASSPHRASE
from tests.support import ROOT, host_address, inventory, pulumi_command, ssh

pytestmark = pytest.mark.e2e

STAGING = "e2e-staging"
PRODUCTION = "e2e-production"
TIMINGS: dict[str, float] = {}
PROMOTED: dict[str, dict[str, str]] = {}
QUIET: dict[str, Any] = {"color": "never", "on_output": lambda _line: None}


def stack_file_config(name: str) -> dict[str, str]:
    raw = yaml.safe_load((ROOT / "stacks" / "settings" / f"{name}.yaml").read_text())["config"]
    return {
        key: value if isinstance(value, str) else json.dumps(value) for key, value in raw.items()
    }


class Environments:
    def __init__(self, config_dir: Path) -> None:
        self.config_dir = config_dir
        self.staging = self._stack(STAGING, "staging", {})
        self.production = self._stack(
            PRODUCTION, "production", {"fleetform:promoteFrom": f"organization/fleetform/{STAGING}"}
        )

    def _stack(self, name: str, committed: str, overrides: dict[str, str]) -> auto.Stack:
        inv = inventory()
        stack = auto.create_or_select_stack(
            stack_name=name,
            work_dir=str(ROOT),
            opts=auto.LocalWorkspaceOptions(pulumi_command=pulumi_command()),
        )
        settings = {
            **stack_file_config(committed),
            "fleetform:deployFile": str(self.config_dir / "deploy.yml"),
            "fleetform:sshPrivateKeyPath": inv["client_key"],
            "fleetform:knownHostsFile": inv["known_hosts"],
            **overrides,
        }
        password = Path(inv["registry_password_file"]).read_text().strip()
        stack.set_all_config(
            {
                **{key: auto.ConfigValue(value) for key, value in settings.items()},
                "fleetform:REGISTRY_PASSWORD": auto.ConfigValue(password, secret=True),
                "fleetform:APP_SECRET": auto.ConfigValue(f"{committed}-secret", secret=True),
                "fleetform:versionKey": auto.ConfigValue(f"{committed}-version-key", secret=True),
            }
        )
        return stack

    def edit(self, name: str, change: Any) -> None:
        path = self.config_dir / name
        config = yaml.safe_load(path.read_text())
        change(config)
        path.write_text(yaml.safe_dump(config, sort_keys=False))

    @contextlib.contextmanager
    def edited(self, *edits: tuple[str, Any]) -> Iterator[None]:
        """Applies (file, change) edits for the block, then restores the files byte for byte."""
        saved = {name: (self.config_dir / name).read_text() for name, _ in edits}
        try:
            for name, change in edits:
                self.edit(name, change)
            yield
        finally:
            for name, text in saved.items():
                (self.config_dir / name).write_text(text)

    def promote(self, **kwargs: Any) -> Any:
        started = time.monotonic()
        result = promote(PRODUCTION, pulumi_command=pulumi_command(), **kwargs)
        label = "promote (preview + up)" if kwargs.get("apply", True) else "promote preview"
        TIMINGS[f"{label} #{sum(key.startswith(label) for key in TIMINGS) + 1}"] = (
            time.monotonic() - started
        )
        return result

    def production_digests(self) -> Any:
        config = self.production.get_all_config()
        value = config.get("fleetform:appDigests")
        return json.loads(value.value) if value else None


@pytest.fixture(scope="module")
def envs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Environments]:
    config_dir = tmp_path_factory.mktemp("config")
    for name in ("deploy.yml", "deploy.staging.yml", "deploy.production.yml"):
        shutil.copy(ROOT / "config" / name, config_dir / name)
    with pytest.MonkeyPatch.context() as environment:
        # promote() selects its stacks itself, with this process's environment.
        environment.setenv("PULUMI_CONFIG_PASSPHRASE", DEV_PASSPHRASE)
        environment.delenv("PULUMI_CONFIG_PASSPHRASE_FILE", raising=False)
        environments = Environments(config_dir)
        yield environments
        for stack in (environments.production, environments.staging):
            try:
                stack.destroy(**QUIET)
            finally:
                stack.workspace.remove_stack(stack.name)
                (ROOT / "stacks" / f"Pulumi.{stack.name}.yaml").unlink(missing_ok=True)
    print("\npromotion timings (s): " + json.dumps({k: round(v, 1) for k, v in TIMINGS.items()}))


def running_digest(address: str, family: str) -> str:
    """The repo digest of the image that the running container of `family` was created from.

    `family` is the container name without its version: service, role, destination and stack.
    """
    name = ssh(
        address,
        f"docker ps --filter label=fleetform.container={family} --format '{{{{.Names}}}}'",
    ).stdout.split()[0]
    image = ssh(address, f"docker inspect --format '{{{{.Image}}}}' {name}").stdout.strip()
    repo_digests = ssh(
        address, f"docker image inspect --format '{{{{json .RepoDigests}}}}' {image}"
    ).stdout
    return str(json.loads(repo_digests)[0].split("@", 1)[1])


def test_production_refuses_before_staging_is_deployed(envs: Environments) -> None:
    with pytest.raises(PlanError, match=f"{STAGING}: has not been deployed|{STAGING}: no such"):
        envs.promote()
    assert envs.production_digests() is None


def test_staging_builds_and_deploys(envs: Environments) -> None:
    started = time.monotonic()
    assert envs.staging.up(**QUIET).summary.result == "succeeded"
    TIMINGS["staging up"] = time.monotonic() - started
    digests = envs.staging.outputs()["appDigests"].value
    assert list(digests) == ["linux/arm64"]
    assert (
        running_digest(host_address("h1"), f"hello-web-staging-{STAGING}") == digests["linux/arm64"]
    )


def test_preview_of_production_shows_only_its_own_containers(envs: Environments) -> None:
    result = envs.promote(apply=False)
    staging = envs.staging.outputs()["appDigests"].value
    assert result.digests == staging
    production_hosts = (host_address("h3"), host_address("h4"))
    created = {name for name, ops in result.changes.items() if "create" in ops}
    assert {f"web-{production_hosts[0]}", f"jobs-{production_hosts[0]}"} <= created
    for name in result.changes:
        assert not name.startswith(("web-10.203.0.11", "jobs-10.203.0.12")), result.changes
    # A preview-only promotion records nothing.
    assert envs.production_digests() is None


def test_promotion_deploys_the_staging_digest_per_platform(envs: Environments) -> None:
    result = envs.promote()
    assert result.up is not None and result.up.summary.result == "succeeded"
    staging = envs.staging.outputs()["appDigests"].value
    assert envs.production_digests() == staging
    PROMOTED["first"] = staging
    assert envs.production.outputs()["appDigests"].value == staging
    address = host_address("h3")
    for family in (f"hello-web-production-{PRODUCTION}", f"hello-jobs-production-{PRODUCTION}"):
        assert running_digest(address, family) == staging["linux/arm64"]
    assert ssh(host_address("h4"), "docker image inspect --format '{{.Architecture}}' "
               "10.203.0.1:5000/fleetform/redis:7.0").stdout.strip() == "amd64"  # fmt: skip


def test_staging_changes_do_not_reach_production_until_promoted(envs: Environments) -> None:
    before = envs.staging.outputs()["appDigests"].value
    envs.edit("deploy.yml", lambda c: c["builder"].setdefault("args", {}).update(APP_VERSION="2"))
    assert envs.staging.up(**QUIET).summary.result == "succeeded"
    after = envs.staging.outputs()["appDigests"].value
    assert after["linux/arm64"] != before["linux/arm64"], "a new build must give a new digest"

    envs.production.preview(expect_no_changes=True, **QUIET)

    redis_before = ssh(host_address("h4"), "docker ps --format '{{.Names}} {{.ID}}'").stdout
    result = envs.promote()
    replaced = {name for name, ops in result.changes.items() if "replace" in ops}
    address = host_address("h3")
    assert {f"web-{address}", f"jobs-{address}"} <= replaced
    assert not [name for name in result.changes if name.startswith("redis")], result.changes
    assert running_digest(address, f"hello-web-production-{PRODUCTION}") == after["linux/arm64"]
    assert ssh(host_address("h4"), "docker ps --format '{{.Names}} {{.ID}}'").stdout == redis_before


def test_refuses_a_platform_staging_did_not_build(envs: Environments) -> None:
    recorded = envs.production_digests()
    amd64_web = {"web": {"hosts": ["10.203.0.14"], "arch": "amd64"}}
    with (
        envs.edited(
            ("deploy.production.yml", lambda c: c["servers"].update(amd64_web)),
            ("deploy.yml", lambda c: c["builder"].update(arch=["arm64", "amd64"])),
        ),
        pytest.raises(PlanError, match="no digest for linux/amd64"),
    ):
        envs.promote()
    assert envs.production_digests() == recorded


def test_refuses_a_digest_gone_from_the_registry(envs: Environments) -> None:
    recorded = envs.production_digests()
    with pytest.raises(PlanError, match="is no longer in the registry"):
        envs.promote(digests={"linux/arm64": "sha256:" + "0" * 64})
    assert envs.production_digests() == recorded


def test_refuses_floating_tags(envs: Environments) -> None:
    recorded = envs.production_digests()
    latest = {"redis": {"image": "10.203.0.1:5000/fleetform/redis:latest"}}
    with (
        envs.edited(
            ("deploy.production.yml", lambda c: c.setdefault("accessories", {}).update(latest))
        ),
        pytest.raises(PlanError, match="floating tag is not allowed"),
    ):
        envs.promote()
    assert envs.production_digests() == recorded


def test_rollback_pins_the_previous_digest(envs: Environments) -> None:
    previous = PROMOTED["first"]
    assert envs.production_digests() != previous, "production runs the second promotion now"
    result = envs.promote(digests=previous)
    assert result.up is not None and result.up.summary.result == "succeeded"
    assert envs.production_digests() == previous
    assert (
        running_digest(host_address("h3"), f"hello-web-production-{PRODUCTION}")
        == previous["linux/arm64"]
    )
