"""The app image's inputs when deploy.yml sets builder keys: the real __main__.py under mocks."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from tests.components.program import fake_ssh_files, run_program, unsecret
from tests.components.program import ROOT, SECRET_SIGNATURE, SEED_ARCH

pytestmark = pytest.mark.components

IMAGE = "docker-build:index:Image"
BUILDER_KEYS = {
    "arch": ["arm64", "amd64"],
    "target": "production",
    "secrets": ["GITHUB_TOKEN"],
    "cache": {"type": "registry", "options": "mode=max,image-manifest=true"},
    "ssh": ["default=$SSH_AUTH_SOCK", "github=/keys/id_github"],
    "provenance": False,
    "sbom": False,
    "local": True,
}


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, dict[str, Any]]]:
    work = tmp_path_factory.mktemp("builder-graph")
    deploy = yaml.safe_load((ROOT / "config" / "deploy.yml").read_text())
    deploy["builder"] = {**deploy["builder"], **BUILDER_KEYS}
    # The amd64 host runs the app too, so both arches are built.
    deploy["servers"]["jobs"] = {"hosts": ["10.203.0.14"], "arch": "amd64"}
    (work / "deploy.yml").write_text(yaml.safe_dump(deploy))
    settings = {
        "deployFile": str(work / "deploy.yml"),
        **fake_ssh_files(work, SEED_ARCH),
        "REGISTRY_PASSWORD": "registry-pass",
        "APP_SECRET": "app-secret",
        "GITHUB_TOKEN": "github-token-value",
        "versionKey": "unit-version-key",
    }
    mocks = run_program(settings)
    yield {r.name: r.inputs for r in mocks.created if r.typ == IMAGE}


def test_one_image_per_arch_each_with_the_builder_keys(images: dict[str, dict[str, Any]]) -> None:
    assert sorted(images) == ["app-amd64", "app-arm64"]
    for arch, inputs in (("amd64", images["app-amd64"]), ("arm64", images["app-arm64"])):
        assert inputs["platforms"] == [f"linux/{arch}"]
        assert inputs["target"] == "production"
        assert inputs["ssh"] == [{"id": "default"}, {"id": "github", "paths": ["/keys/id_github"]}]
        # Kamal's `<image>-build-cache` in the app's registry, one tag per arch.
        ref = f"10.203.0.1:5000/fleetform/hello-build-cache:{arch}"
        assert inputs["cacheFrom"] == [{"registry": {"ref": ref}}]
        (cache_to,) = inputs["cacheTo"]
        assert cache_to["registry"]["ref"] == ref
        assert cache_to["registry"]["mode"] == "max"
        assert cache_to["registry"]["imageManifest"] is True


def test_build_secrets_are_pulumi_secrets_named_by_the_deploy_file(
    images: dict[str, dict[str, Any]],
) -> None:
    secrets = images["app-arm64"]["secrets"]
    # The whole value arrives as a secret: the engine encrypts it in state.
    assert isinstance(secrets, dict) and SECRET_SIGNATURE in str(secrets)
    assert {name: unsecret(value) for name, value in unsecret(secrets).items()} == {
        "GITHUB_TOKEN": "github-token-value"
    }
    for inputs in images.values():
        assert "github-token-value" not in str(inputs.get("buildArgs"))
        assert "github-token-value" not in str(inputs.get("tags"))
