"""The app image and the builder: what is built, for which arches."""

from __future__ import annotations


from collections.abc import Mapping

import re

from components.config.model import (
    ARCHES,
    Arch,
    BuildCacheConfig,
    BuilderConfig,
    Pairs,
    SshForward,
)
from components.config.values import (
    ENV_NAME,
    REPOSITORY_PATH,
    Section,
    describe,
    name_value_pairs,
    normalise_arch,
    string_list,
    string_value,
    whole_number,
)
from components.errors import DeployConfigError

BUILDER_KEYS = frozenset(
    {
        "arch", "dockerfile", "context", "args", "target", "secrets", "cache", "ssh",
        "provenance", "sbom", "local",
    }
)  # fmt: skip
BUILDER_NOT_YET: Mapping[str, str] = {
    "driver": (
        "fleetform builds with an existing buildx builder (FLEETFORM_BUILDX_BUILDER, else the one "
        "pulumi-docker-build finds or creates) and creates none of a chosen driver; "
        "pulumi-docker-build refuses the `docker` driver, and `cloud` builders need the "
        "docker-buildx CLI plugin"
    ),
    "remote": (
        "pulumi-docker-build takes the name of an existing buildx builder, not a connection "
        "string, and cannot create one for ssh:// or tcp://; create it with `docker buildx "
        "create --name NAME ...` and set FLEETFORM_BUILDX_BUILDER=NAME"
    ),
    "pack": (
        "buildpacks are built by the `pack` CLI, not BuildKit; pulumi-docker-build only builds "
        "Dockerfiles"
    ),
}
BUILDER_VALUES_NOT_YET: Mapping[str, str] = {
    "provenance": (
        "pulumi-docker-build 0.0.22 has no attestation input (pulumi/pulumi-docker-build#73) "
        "and always builds without provenance; only false is supported"
    ),
    "sbom": (
        "pulumi-docker-build 0.0.22 has no attestation input (pulumi/pulumi-docker-build#73) "
        "and builds no SBOM; only false is supported"
    ),
    "local": "false sends every build to builder/remote, which fleetform does not support",
    "cache/type": (
        "gha needs a GitHub Actions runner's cache service (ACTIONS_CACHE_URL, "
        "ACTIONS_RUNTIME_TOKEN), without which pulumi-docker-build silently drops the cache; "
        "use type registry"
    ),
}
"""Keys fleetform reads, with the values it cannot honour and why (`builder/<key>`)."""

CACHE_KEYS = frozenset({"type", "image", "options"})
_CACHE_BOOLEAN_OPTIONS = {
    "image-manifest": "image_manifest",
    "oci-mediatypes": "oci_media_types",
    "force-compression": "force_compression",
    "ignore-error": "ignore_error",
}
_CACHE_OPTIONS = ("mode", "compression", "compression-level", *_CACHE_BOOLEAN_OPTIONS)
_SSH_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_AGENT_SOCKET = frozenset({"$SSH_AUTH_SOCK", "${SSH_AUTH_SOCK}"})

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
    if section.has("provenance"):
        _only_false(section.get("provenance"), "provenance")
    if section.has("sbom"):
        _only_false(section.get("sbom"), "sbom")
    if section.has("local"):
        local = section.get("local")
        if not isinstance(local, bool):
            raise DeployConfigError(f"builder/local: must be true or false (got {describe(local)})")
        if not local:
            _not_supported("local", local)
    return BuilderConfig(
        arches=arches,
        dockerfile=dockerfile,
        context=context,
        args=args,
        target=string_value(section.get("target"), "builder/target")
        if section.has("target")
        else None,
        secrets=_read_secrets(section.get("secrets")) if section.has("secrets") else (),
        cache=_read_cache(section.get("cache")) if section.has("cache") else None,
        ssh=_read_ssh(section.get("ssh")) if section.has("ssh") else (),
    )


def _not_supported(key: str, value: object) -> None:
    raise DeployConfigError(
        f"builder/{key}: not supported by fleetform: {BUILDER_VALUES_NOT_YET[key]} "
        f"(got {describe(value)})"
    )


def _only_false(value: object, key: str) -> None:
    """Kamal's provenance/sbom: false, true or BuildKit attestation options."""
    if value is False:
        return
    if value is True or (isinstance(value, str) and value.strip()):
        _not_supported(key, value)
    raise DeployConfigError(
        f"builder/{key}: must be true, false or attestation options like mode=max "
        f"(got {describe(value)})"
    )


def _read_secrets(value: object) -> tuple[str, ...]:
    names = string_list(value, "builder/secrets")
    for index, name in enumerate(names):
        path = f"builder/secrets/{index}"
        if not ENV_NAME.match(name):
            raise DeployConfigError(f"{path}: must be the name of a secret (got {describe(name)})")
        if name in names[:index]:
            raise DeployConfigError(f"{path}: duplicate secret {name} (got {describe(name)})")
    return tuple(names)


def _read_cache(value: object) -> BuildCacheConfig:
    section = Section(value, "builder/cache", "builder/cache")
    section.check_keys(CACHE_KEYS)
    kind = section.require("type")
    if kind == "gha":
        _not_supported("cache/type", kind)
    if kind != "registry":
        raise DeployConfigError(
            f"builder/cache/type: must be registry or gha (got {describe(kind)})"
        )
    image = None
    if section.has("image"):
        image = string_value(section.get("image"), "builder/cache/image")
        if not _APP_IMAGE.match(image):
            raise DeployConfigError(
                f"builder/cache/image: must be a lowercase repository name without a registry "
                f"or tag, like app-build-cache (got {describe(image)})"
            )
    options: dict[str, object] = {}
    if section.has("options"):
        options = _cache_options(string_value(section.get("options"), "builder/cache/options"))
    return BuildCacheConfig(image=image, **options)  # type: ignore[arg-type]


def _cache_options(text: str) -> dict[str, object]:
    """Kamal passes `options` on to `--cache-to`; these are the registry cache's own."""
    path = "builder/cache/options"
    found: dict[str, object] = {}
    for item in text.split(","):
        name, equals, raw = (part.strip() for part in item.partition("="))
        if not equals or not name or not raw:
            raise DeployConfigError(
                f"{path}: must be NAME=VALUE pairs, like mode=max (got {describe(item)})"
            )
        if name not in _CACHE_OPTIONS:
            raise DeployConfigError(
                f"{path}: unknown registry cache option {name!r}, expected one of "
                f"{', '.join(_CACHE_OPTIONS)} (got {describe(item)})"
            )
        field = _CACHE_BOOLEAN_OPTIONS.get(name, name.replace("-", "_"))
        if field in found:
            raise DeployConfigError(f"{path}: {name} given twice (got {describe(text)})")
        if name == "mode" and raw not in ("min", "max"):
            raise DeployConfigError(f"{path}: mode must be min or max (got {describe(raw)})")
        if name == "compression" and raw not in ("gzip", "estargz", "zstd"):
            raise DeployConfigError(
                f"{path}: compression must be gzip, estargz or zstd (got {describe(raw)})"
            )
        value: object = raw
        if name == "compression-level":
            value = whole_number(raw, f"{path}/compression-level", minimum=0, maximum=22)
        if name in _CACHE_BOOLEAN_OPTIONS:
            if raw not in ("true", "false"):
                raise DeployConfigError(
                    f"{path}: {name} must be true or false (got {describe(raw)})"
                )
            value = raw == "true"
        found[field] = value
    return found


def _read_ssh(value: object) -> tuple[SshForward, ...]:
    """Kamal's `ssh`, one `--ssh` value or a list: `ID[=SOCKET_OR_KEY[,...]]`."""
    entries = [value] if isinstance(value, str) else string_list(value, "builder/ssh")
    forwards: list[SshForward] = []
    for index, entry in enumerate(entries):
        path = "builder/ssh" if isinstance(value, str) else f"builder/ssh/{index}"
        text = string_value(entry, path)
        ident, _, rest = text.partition("=")
        if not _SSH_ID.match(ident):
            raise DeployConfigError(
                f"{path}: must be ID[=SOCKET_OR_KEY,...], like default=$SSH_AUTH_SOCK "
                f"(got {describe(text)})"
            )
        if any(forward.id == ident for forward in forwards):
            raise DeployConfigError(f"{path}: duplicate ssh id {ident} (got {describe(text)})")
        paths: list[str] = []
        for item in rest.split(",") if rest else []:
            item = item.strip()
            if item in _AGENT_SOCKET:
                # Left to the provider, which reads SSH_AUTH_SOCK when it builds: the socket of
                # each login differs, and a path in the inputs would rebuild on every deploy.
                continue
            if "$" in item:
                raise DeployConfigError(
                    f'{path}: only $SSH_AUTH_SOCK is expanded; use <%= ENV["NAME"] %> for '
                    f"other variables (got {describe(text)})"
                )
            if not item.startswith("/"):
                raise DeployConfigError(
                    f"{path}: sockets and keys must be absolute paths (got {describe(text)})"
                )
            paths.append(item)
        forwards.append(SshForward(id=ident, paths=tuple(paths)))
    return tuple(forwards)
