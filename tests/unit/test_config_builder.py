"""builder keys beyond arch/dockerfile/context/args: what each reads to, and each error."""

from __future__ import annotations

from typing import Any

import pytest

from components.config import BUILDER_NOT_YET, BUILDER_VALUES_NOT_YET
from components.config.model import BuildCacheConfig, SshForward
from tests.unit.support import assert_config_error, parse, plan


def builder(**keys: Any) -> dict[str, Any]:
    return {"builder": {"arch": "arm64", **keys}}


def test_defaults_build_the_last_stage_without_secrets_cache_or_ssh() -> None:
    config = parse().builder
    assert (config.target, config.secrets, config.cache, config.ssh) == (None, (), None, ())


def test_target_secrets_cache_and_ssh_are_read() -> None:
    config = parse(
        **builder(
            target="production",
            secrets=["GITHUB_TOKEN", "NPM_TOKEN"],
            cache={"type": "registry", "image": "app-build-cache", "options": "mode=max"},
            ssh="default=$SSH_AUTH_SOCK",
        )
    ).builder
    assert config.target == "production"
    assert config.secrets == ("GITHUB_TOKEN", "NPM_TOKEN")
    assert config.cache == BuildCacheConfig(image="app-build-cache", mode="max")
    assert config.ssh == (SshForward(id="default"),)
    # The plan carries them to the AppImage unchanged.
    assert plan(**builder(target="production")).builder.target == "production"


def test_cache_image_defaults_to_kamals_and_lives_in_the_app_registry() -> None:
    cache = parse(**builder(cache={"type": "registry"})).builder.cache
    assert cache == BuildCacheConfig()
    assert cache.repository("org/app", "10.0.0.9:5000") == "10.0.0.9:5000/org/app-build-cache"
    assert cache.repository("org/app", None) == "org/app-build-cache"
    named = BuildCacheConfig(image="caches/app")
    assert named.repository("org/app", "registry.example.com") == "registry.example.com/caches/app"


def test_every_registry_cache_option() -> None:
    options = (
        "mode=min, image-manifest=true,oci-mediatypes=false,compression=zstd,"
        "compression-level=3,force-compression=true,ignore-error=true"
    )
    cache = parse(**builder(cache={"type": "registry", "options": options})).builder.cache
    assert cache == BuildCacheConfig(
        mode="min",
        image_manifest=True,
        oci_media_types=False,
        compression="zstd",
        compression_level=3,
        force_compression=True,
        ignore_error=True,
    )


def test_ssh_forms() -> None:
    def ssh(value: object) -> tuple[SshForward, ...]:
        return parse(**builder(ssh=value)).builder.ssh

    assert ssh("default") == (SshForward(id="default"),)
    assert ssh("default=${SSH_AUTH_SOCK}") == (SshForward(id="default"),)
    assert ssh(["default", "github=/root/.ssh/id_github,/root/.ssh/id_other"]) == (
        SshForward(id="default"),
        SshForward(id="github", paths=("/root/.ssh/id_github", "/root/.ssh/id_other")),
    )


def test_provenance_and_sbom_false_and_local_true_are_what_fleetform_does() -> None:
    assert parse(**builder(provenance=False, sbom=False, local=True)).builder == parse().builder


@pytest.mark.parametrize("key", sorted(BUILDER_NOT_YET))
def test_keys_fleetform_cannot_honour(key: str) -> None:
    value: dict[str, Any] = {
        "driver": "docker",
        "remote": "ssh://docker@builder",
        "pack": {"builder": "heroku/builder:24", "buildpacks": ["heroku/ruby"]},
    }
    got = {"driver": "'docker'", "remote": "'ssh://docker@builder'", "pack": "a mapping"}
    assert_config_error(
        f"builder/{key}: not supported by fleetform: {BUILDER_NOT_YET[key]} (got {got[key]})",
        **builder(**{key: value[key]}),
    )


@pytest.mark.parametrize(
    ("key", "value", "got"),
    [
        ("provenance", True, "true"),
        ("provenance", "mode=max", "'mode=max'"),
        ("sbom", True, "true"),
        (
            "sbom",
            "generator=docker/scout-sbom-indexer:latest",
            "'generator=docker/scout-sbom-indexer:latest'",
        ),
        ("local", False, "false"),
    ],
)
def test_values_fleetform_cannot_honour(key: str, value: object, got: str) -> None:
    assert_config_error(
        f"builder/{key}: not supported by fleetform: {BUILDER_VALUES_NOT_YET[key]} (got {got})",
        **builder(**{key: value}),
    )


def test_gha_cache_is_refused_with_its_reason() -> None:
    assert_config_error(
        f"builder/cache/type: not supported by fleetform: {BUILDER_VALUES_NOT_YET['cache/type']} "
        "(got 'gha')",
        **builder(cache={"type": "gha"}),
    )


@pytest.mark.parametrize(
    ("fragment", "message"),
    [
        ({"target": ""}, "builder/target: must not be empty (got '')"),
        ({"target": 3}, "builder/target: must be a string (got 3)"),
        ({"secrets": "TOKEN"}, "builder/secrets: must be a list (got 'TOKEN')"),
        ({"secrets": []}, "builder/secrets: must not be empty (got an empty list)"),
        ({"secrets": ["A", 1]}, "builder/secrets/1: must be a string (got 1)"),
        ({"secrets": ["A", "B-C"]}, "builder/secrets/1: must be the name of a secret (got 'B-C')"),
        ({"secrets": ["A", "A"]}, "builder/secrets/1: duplicate secret A (got 'A')"),
        ({"cache": "registry"}, "builder/cache: must be a mapping (got 'registry')"),
        ({"cache": {}}, "builder/cache: missing required key 'type'"),
        ({"cache": {"type": "s3"}}, "builder/cache/type: must be registry or gha (got 's3')"),
        ({"cache": {"type": "registry", "ref": "x"}}, "builder/cache: unknown key 'ref'"),
        (
            {"cache": {"type": "registry", "image": "registry.example.com/cache:v1"}},
            "builder/cache/image: must be a lowercase repository name without a registry or "
            "tag, like app-build-cache (got 'registry.example.com/cache:v1')",
        ),
        (
            {"cache": {"type": "registry", "options": "max"}},
            "builder/cache/options: must be NAME=VALUE pairs, like mode=max (got 'max')",
        ),
        (
            {"cache": {"type": "registry", "options": "mode=max,ref=elsewhere"}},
            "builder/cache/options: unknown registry cache option 'ref', expected one of mode, "
            "compression, compression-level, image-manifest, oci-mediatypes, "
            "force-compression, ignore-error (got 'ref=elsewhere')",
        ),
        (
            {"cache": {"type": "registry", "options": "mode=all"}},
            "builder/cache/options: mode must be min or max (got 'all')",
        ),
        (
            {"cache": {"type": "registry", "options": "mode=min,mode=max"}},
            "builder/cache/options: mode given twice (got 'mode=min,mode=max')",
        ),
        (
            {"cache": {"type": "registry", "options": "compression=lz4"}},
            "builder/cache/options: compression must be gzip, estargz or zstd (got 'lz4')",
        ),
        (
            {"cache": {"type": "registry", "options": "compression-level=30"}},
            "builder/cache/options/compression-level: must be between 0 and 22 (got 30)",
        ),
        (
            {"cache": {"type": "registry", "options": "ignore-error=yes"}},
            "builder/cache/options: ignore-error must be true or false (got 'yes')",
        ),
        (
            {"ssh": "=/tmp/agent"},
            "builder/ssh: must be ID[=SOCKET_OR_KEY,...], like default=$SSH_AUTH_SOCK "
            "(got '=/tmp/agent')",
        ),
        (
            {"ssh": ["default", "default=/tmp/agent"]},
            "builder/ssh/1: duplicate ssh id default (got 'default=/tmp/agent')",
        ),
        (
            {"ssh": "default=$HOME/.ssh/id_ed25519"},
            'builder/ssh: only $SSH_AUTH_SOCK is expanded; use <%= ENV["NAME"] %> for other '
            "variables (got 'default=$HOME/.ssh/id_ed25519')",
        ),
        (
            {"ssh": "default=.ssh/id_ed25519"},
            "builder/ssh: sockets and keys must be absolute paths (got 'default=.ssh/id_ed25519')",
        ),
        ({"ssh": 22}, "builder/ssh: must be a list (got 22)"),
        ({"ssh": [""]}, "builder/ssh/0: must not be empty (got '')"),
        ({"local": "no"}, "builder/local: must be true or false (got 'no')"),
        (
            {"provenance": 1},
            "builder/provenance: must be true, false or attestation options like mode=max (got 1)",
        ),
        (
            {"sbom": ""},
            "builder/sbom: must be true, false or attestation options like mode=max (got '')",
        ),
    ],
)
def test_bad_builder_values(fragment: dict[str, Any], message: str) -> None:
    assert_config_error(message, **builder(**fragment))
