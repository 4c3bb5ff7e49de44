"""The app image and the builder: what is built, for which arches."""

from __future__ import annotations


from collections.abc import Mapping

import re

from components.config.model import (
    ARCHES,
    Arch,
    BuilderConfig,
    Pairs,
)
from components.config.values import (
    ENV_NAME,
    REPOSITORY_PATH,
    Section,
    describe,
    name_value_pairs,
    normalise_arch,
    string_value,
)
from components.errors import DeployConfigError

BUILDER_KEYS = frozenset({"arch", "dockerfile", "context", "args"})
BUILDER_NOT_YET: Mapping[str, str] = {
    key: "not mapped onto pulumi-docker-build yet"
    for key in (
        "driver", "remote", "local", "cache", "target", "secrets", "ssh", "provenance", "sbom",
        "pack",
    )
}  # fmt: skip

_APP_IMAGE = re.compile(rf"^{REPOSITORY_PATH}$")


def read_app_image(value: object) -> str:
    image = string_value(value, "image")
    first = image.split("/", 1)[0]
    if "/" in image and ("." in first or ":" in first or first == "localhost"):
        raise DeployConfigError(
            f"image: the registry belongs in registry/server, not in image (got {describe(image)})"
        )
    if not _APP_IMAGE.match(image):
        raise DeployConfigError(
            f"image: must be a lowercase repository name without a tag, like org/app "
            f"(got {describe(image)})"
        )
    return image


def read_builder(value: object) -> BuilderConfig:
    if value is None:
        return BuilderConfig()
    section = Section(value, "builder", "builder")
    section.check_keys(BUILDER_KEYS, BUILDER_NOT_YET)
    arches: tuple[Arch, ...] = ARCHES
    if section.has("arch"):
        arch_value = section.get("arch")
        if isinstance(arch_value, list):
            if not arch_value:
                raise DeployConfigError(
                    "builder/arch: must name at least one arch (got an empty list)"
                )
            found: list[Arch] = []
            for index, item in enumerate(arch_value):
                arch = normalise_arch(item, f"builder/arch/{index}")
                if arch in found:
                    raise DeployConfigError(
                        f"builder/arch/{index}: duplicate arch {arch} (got {describe(item)})"
                    )
                found.append(arch)
            arches = tuple(arch for arch in ARCHES if arch in found)
        else:
            arches = (normalise_arch(arch_value, "builder/arch"),)
    dockerfile = "Dockerfile"
    if section.has("dockerfile"):
        dockerfile = string_value(section.get("dockerfile"), "builder/dockerfile")
    context = "."
    if section.has("context"):
        context = string_value(section.get("context"), "builder/context")
    args: Pairs = ()
    if section.has("args"):
        args = name_value_pairs(
            section.get("args"),
            "builder/args",
            key_pattern=ENV_NAME,
            rule="invalid build arg name",
        )
    return BuilderConfig(arches=arches, dockerfile=dockerfile, context=context, args=args)
