"""`asset_path` (top level and per role): parsing, errors, the plan, and the scripts' asset steps."""

from __future__ import annotations

import dataclasses
import shutil
import subprocess
from pathlib import Path

import pytest

from components import docker_scripts
from components.config import AssetPath, TOP_LEVEL_NOT_YET
from components.config.servers import ROLE_NOT_YET
from components.docker_scripts import ContainerSpec
from tests.unit.support import assert_config_error, parse, plan

PROXIED_WEB_AND_WORKER = {
    "web": {"hosts": ["10.0.0.1"]},
    "jobs": {"hosts": ["10.0.0.2"], "proxy": False},
}


def test_asset_path_is_no_longer_refused_by_name() -> None:
    assert "asset_path" not in TOP_LEVEL_NOT_YET
    assert "asset_path" not in ROLE_NOT_YET


def test_top_level_asset_path_reaches_proxied_roles_only() -> None:
    config = parse(asset_path="/rails/public/assets", servers=PROXIED_WEB_AND_WORKER)
    assert config.role("web").asset_path == AssetPath("/rails/public/assets")
    assert config.role("jobs").asset_path is None


def test_mount_options_follow_the_first_colon_and_a_trailing_slash_goes() -> None:
    config = parse(asset_path="/app/assets/:ro,z")
    assert config.role("web").asset_path == AssetPath("/app/assets", "ro,z")
    assert config.role("web").asset_path.spec == "/app/assets:ro,z"  # type: ignore[union-attr]


def test_a_roles_asset_path_replaces_the_top_level_one() -> None:
    config = parse(
        asset_path="/top",
        servers={"web": {"hosts": ["10.0.0.1"], "asset_path": "/own:ro"}},
    )
    assert config.role("web").asset_path == AssetPath("/own", "ro")


def test_the_short_servers_form_gets_the_top_level_asset_path() -> None:
    config = parse(asset_path="/assets", servers=["10.0.0.1"])
    assert config.role("web").asset_path == AssetPath("/assets")


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("public/assets", "must be an absolute path in the container other than /, "
         "optionally with :mount-options (got 'public/assets')"),
        ("/", "must be an absolute path in the container other than /, "
         "optionally with :mount-options (got '/')"),
        ("/app/../etc", "must be an absolute path in the container other than /, "
         "optionally with :mount-options (got '/app/../etc')"),
        ("/assets:rw,bogus", "unknown mount option 'bogus' (expected some of Z, cached, "
         "consistent, delegated, nocopy, private, ro, rprivate, rshared, rslave, rw, shared, "
         "slave, z; got '/assets:rw,bogus')"),
        ("/assets:", "unknown mount option '' (expected some of Z, cached, consistent, "
         "delegated, nocopy, private, ro, rprivate, rshared, rslave, rw, shared, slave, z; "
         "got '/assets:')"),
        (["/assets"], "must be a string (got a list)"),
        ("", "must not be empty (got '')"),
    ],
)  # fmt: skip
def test_bad_asset_paths_name_the_key(value: object, message: str) -> None:
    assert_config_error(f"asset_path: {message}", asset_path=value)
    assert_config_error(
        f"servers/web/asset_path: {message}",
        servers={"web": {"hosts": ["10.0.0.1"], "asset_path": value}},
    )


def test_an_unproxied_roles_own_asset_path_is_refused_not_ignored() -> None:
    assert_config_error(
        "servers/jobs/asset_path: only a proxied role bridges assets, and servers/jobs is not "
        "behind kamal-proxy (got '/assets')",
        servers={
            **PROXIED_WEB_AND_WORKER,
            "jobs": {"hosts": ["10.0.0.2"], "asset_path": "/assets"},
        },
    )


def test_a_top_level_asset_path_without_any_proxied_role_is_refused() -> None:
    assert_config_error(
        "asset_path: only proxied roles bridge assets, and no role is behind kamal-proxy "
        "(got '/assets:ro')",
        asset_path="/assets:ro",
        servers={"web": {"hosts": ["10.0.0.1"], "proxy": False}},
    )


def test_the_plan_carries_the_asset_path_and_hashes_it() -> None:
    bridged = plan(asset_path="/assets:ro", servers=PROXIED_WEB_AND_WORKER)
    web, jobs = bridged.placements
    assert web.to_json()["asset_path"] == {"path": "/assets", "options": "ro"}
    assert "asset_path" not in jobs.to_json()
    plain = plan(servers=PROXIED_WEB_AND_WORKER)
    assert plain.placements[0].config_hash != web.config_hash
    assert plain.placements[1].config_hash == jobs.config_hash
    other = plan(asset_path="/assets", servers=PROXIED_WEB_AND_WORKER)
    assert other.placements[0].config_hash != web.config_hash


SPEC = ContainerSpec(
    name="app-web-st-0123456789ab",
    family="app-web-st",
    stack="st",
    image="10.0.0.9:5000/org/app@sha256:abc",
    platform="linux/arm64",
    asset_path="/app/public/assets",
    asset_options="ro",
    retain=2,
)


def test_the_asset_volume_is_this_versions_own_directory_under_the_stack() -> None:
    argv = docker_scripts.docker_run_argv(SPEC)
    volume = argv[argv.index("--volume") + 1]
    assert volume == "~/.fleetform/st/assets/app-web-st-0123456789ab/volume:/app/public/assets:ro"
    script = docker_scripts.container_create_script(SPEC)
    assert (
        '--volume "$HOME"/.fleetform/st/assets/app-web-st-0123456789ab/volume:'
        "/app/public/assets:ro " in script
    )


def test_create_extracts_without_running_then_bridges_before_the_new_container_runs() -> None:
    script = docker_scripts.container_create_script(SPEC)
    helper = "app-web-st-0123456789ab-assets"
    extract = script.index(f"docker create --name {helper} --label fleetform.stack=st")
    copy = script.index(f"docker cp -L {helper}:/app/public/assets/. ")
    bridge = script.index('copy_missing "$old_assets/extracted"')
    run = script.index("docker run --detach")
    assert extract < copy < bridge < run
    assert f"docker start {helper}" not in script and f"docker run --name {helper}" not in script
    assert (
        'copy_missing "$HOME"/.fleetform/st/assets/app-web-st-0123456789ab/extracted '
        '"$old_assets/volume"' in script
    )
    # A failure removes what this version made, and nothing of its predecessor's.
    rollback = script[
        script.index("rollback() {") : script.index("\n}\n", script.index("rollback() {"))
    ]
    assert 'rm -rf "$HOME"/.fleetform/st/assets/app-web-st-0123456789ab' in rollback


def test_without_asset_path_the_scripts_have_no_asset_steps() -> None:
    plain = dataclasses.replace(SPEC, asset_path=None, asset_options=None)
    script = docker_scripts.container_create_script(plain)
    assert "copy_missing" not in script and "docker create" not in script
    assert "assets" not in " ".join(docker_scripts.docker_run_argv(plain))


def test_pruned_versions_and_a_left_host_take_their_asset_directories_along() -> None:
    delete = docker_scripts.container_delete_script(SPEC)
    assert "tail -n +3" in delete
    assert 'rm -rf "$HOME"/.fleetform/st/assets/"$old"' in delete
    cleanup = docker_scripts.stack_cleanup_script("st")
    assert 'rm -rf "$HOME"/.fleetform/st/assets/"$old"' in cleanup


@pytest.mark.skipif(shutil.which("sh") is None, reason="needs a POSIX sh")
def test_copy_missing_adds_files_and_directories_but_never_overwrites(tmp_path: Path) -> None:
    source, target = tmp_path / "new", tmp_path / "old"
    (source / "css").mkdir(parents=True)
    (target / "css").mkdir(parents=True)
    (source / "app-2.js").write_text("two")
    (source / "shared.txt").write_text("new")
    (source / "css" / "app-2.css").write_text("two")
    (source / "fonts").mkdir()
    (source / "fonts" / "a b.woff").write_text("font")
    (target / "shared.txt").write_text("old")
    (target / "css" / "app-1.css").write_text("one")
    subprocess.run(
        ["sh", "-c", docker_scripts.COPY_MISSING + '\ncopy_missing "$1" "$2"', "sh",
         str(source), str(target)],
        check=True, timeout=30,
    )  # fmt: skip
    found = sorted(str(p.relative_to(target)) for p in target.rglob("*"))
    assert found == [
        "app-2.js", "css", "css/app-1.css", "css/app-2.css", "fonts", "fonts/a b.woff",
        "shared.txt",
    ]  # fmt: skip
    assert (target / "shared.txt").read_text() == "old"
