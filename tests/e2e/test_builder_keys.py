"""builder keys through AppImage on the real BuildKit and the fleet registry: target, secrets,
ssh and a registry cache that is written and then read back.

Builds are for linux/amd64, this machine's own arch, so `RUN` steps need no emulation.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import json
import os
import secrets
import subprocess
import tarfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pulumi import automation as auto

from components.config.model import BuildCacheConfig, SshForward
from tests.e2e.conftest import StackFactory
from tests.e2e.test_app_image import (  # noqa: F401 (the `builder` fixture)
    IMAGE_MANIFEST_TYPES,
    builder,
    registry_get,
    registry_password,
    run,
)
from tests.support import inventory

pytestmark = pytest.mark.e2e

REPOSITORY = "fleetform/builder-keys-test"
CACHE_REPOSITORY = "fleetform/builder-keys-test-build-cache"
DOCKERFILE = """\
ARG BASE_REGISTRY
FROM ${BASE_REGISTRY}/fleetform/busybox:amd64 AS base

FROM base AS build
# What the build saw of its secret: its length and hash, never the value.
RUN --mount=type=secret,id=BUILD_TOKEN,required=true \\
    mkdir -p /out && wc -c < /run/secrets/BUILD_TOKEN > /out/token-length \\
    && sha256sum /run/secrets/BUILD_TOKEN | cut -d' ' -f1 > /out/token-sha256
# Fails unless an agent socket is forwarded (required=true).
RUN --mount=type=ssh,required=true test -S "$SSH_AUTH_SOCK" && echo forwarded > /out/ssh
# Differs on every run of this step: equal across builds only when the step came from cache.
RUN cat /proc/sys/kernel/random/uuid > /out/nonce

FROM base AS production
COPY --from=build /out /out
ARG REVISION=1
LABEL stage=production revision=${REVISION}

# The last stage, which a build without `target` would produce.
FROM base AS debug
LABEL stage=debug
"""


@pytest.fixture
def ssh_agent(tmp_path: Path) -> Iterator[str]:
    """An ssh-agent of this test's own, holding one throwaway key; stopped afterwards."""
    socket = tmp_path / "agent.sock"
    agent = subprocess.Popen(
        ["ssh-agent", "-D", "-a", str(socket)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while not socket.exists():
            assert time.monotonic() < deadline, "ssh-agent did not create its socket"
            time.sleep(0.05)
        key = tmp_path / "id_build"
        made = run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key), timeout=30)
        assert made.returncode == 0, made.stderr
        added = subprocess.run(
            ["ssh-add", str(key)],
            env={**os.environ, "SSH_AUTH_SOCK": str(socket)},
            capture_output=True,
            text=True,
            timeout=30,
            stdin=subprocess.DEVNULL,
        )
        assert added.returncode == 0, added.stderr
        yield str(socket)
    finally:
        agent.terminate()
        agent.wait(timeout=10)


class ArgvWatch:
    """Samples every process's argv while a deploy runs, looking for one string."""

    def __init__(self, needle: str) -> None:
        self.needle = needle.encode()
        self.seen: list[str] = []
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def __enter__(self) -> ArgvWatch:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _watch(self) -> None:
        deadline = time.monotonic() + 900
        while not self._stop.is_set() and time.monotonic() < deadline:
            for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
                try:
                    argv = cmdline.read_bytes()
                except OSError:
                    continue
                if self.needle in argv:
                    self.seen.append(argv.replace(b"\0", b" ").decode(errors="replace")[:200])
            self.samples += 1
            self._stop.wait(0.1)


def manifest_and_blobs(repository: str, reference: str) -> tuple[dict[str, Any], list[bytes]]:
    """The manifest at `reference`, and its config and every layer (or, for a cache index,
    every blob it lists), decompressed."""
    headers, body = registry_get(f"{repository}/manifests/{reference}")
    manifest: dict[str, Any] = json.loads(body)
    media_type = manifest.get("mediaType") or headers.get("Content-Type")
    blobs = []
    if "config" in manifest:
        descriptors = [manifest["config"], *manifest["layers"]]
    else:
        # A cache index lists its layers and its cache config as blobs.
        descriptors = manifest["manifests"]
    for descriptor in descriptors:
        _, blob = registry_get(f"{repository}/blobs/{descriptor['digest']}", accept="*/*")
        blobs.append(gzip.decompress(blob) if blob[:2] == b"\x1f\x8b" else blob)
    manifest["mediaType"] = media_type
    return manifest, blobs


def files_in_layers(layers: list[bytes]) -> dict[str, bytes]:
    found: dict[str, bytes] = {}
    for layer in layers:
        with tarfile.open(fileobj=io.BytesIO(layer)) as archive:
            for member in archive.getmembers():
                extracted = archive.extractfile(member) if member.isfile() else None
                if extracted is not None:
                    found[member.name] = extracted.read()
    return found


def delete_tag(repository: str, tag: str) -> None:
    """Removes `repository:tag` from the fleet registry, if it is there."""
    try:
        headers, _ = registry_get(f"{repository}/manifests/{tag}")
    except urllib.error.HTTPError as error:
        assert error.code == 404, error
        return
    inv = inventory()
    login = base64.b64encode(f"{inv['registry_user']}:{registry_password()}".encode()).decode()
    request = urllib.request.Request(
        f"http://{inv['registry']}/v2/{repository}/manifests/{headers['Docker-Content-Digest']}",
        method="DELETE",
        headers={"Authorization": f"Basic {login}"},
    )
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(request, timeout=30) as response:
        assert response.status == 202, response.status


def prune_buildkit_cache() -> None:
    """Empties BuildKit's local cache, so the next build can only reuse the registry cache."""
    state = os.environ.get(
        "FLEETFORM_BUILDKIT_STATE", str(Path.home() / ".cache/fleetform/buildkit")
    )
    buildctl = Path(os.environ["FLEETFORM_BUILDKIT_DIR"]) / "bin" / "buildctl"
    pruned = run(
        str(buildctl), "--addr", f"unix://{state}/buildkitd.sock", "prune", "--all", timeout=120
    )
    assert pruned.returncode == 0, pruned.stderr
    usage = run(str(buildctl), "--addr", f"unix://{state}/buildkitd.sock", "du", timeout=60)
    assert usage.returncode == 0, usage.stderr
    assert "Total:\t\t0B" in usage.stdout, usage.stdout


def test_target_secret_ssh_and_registry_cache(
    builder: str,  # noqa: F811
    throwaway_stack: StackFactory,
    ssh_agent: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    inv = inventory()
    registry, password = inv["registry"], registry_password()
    context = tmp_path / "context"
    context.mkdir()
    (context / "Dockerfile").write_text(DOCKERFILE)
    token = "build-token-" + secrets.token_hex(16)
    revision = {"value": "1"}
    # The provider, started by the pulumi CLI, finds the agent the way Kamal's does.
    monkeypatch.setenv("SSH_AUTH_SOCK", ssh_agent)

    def program() -> None:
        import pulumi

        from components.app_image import AppImage, AppImageArgs
        from components.docker_host import RegistryLogin

        image = AppImage(
            "app",
            AppImageArgs(
                repository=f"{registry}/{REPOSITORY}",
                platforms=["linux/amd64"],
                context=str(context),
                dockerfile=str(context / "Dockerfile"),
                build_args={"BASE_REGISTRY": registry, "REVISION": revision["value"]},
                registry=RegistryLogin(
                    server=registry,
                    username=inv["registry_user"],
                    password=pulumi.Output.secret(password),
                ),
                target="production",
                secrets={"BUILD_TOKEN": pulumi.Output.secret(token)},
                cache=BuildCacheConfig(mode="max"),
                cache_repository=f"{registry}/{CACHE_REPOSITORY}",
                ssh=[SshForward(id="default")],
            ),
        )
        pulumi.export("digests", image.digests)

    stack = throwaway_stack("builder-keys", program)
    # A cache left by an earlier run would make "written" prove nothing, and BuildKit keys no
    # step by a secret's value: a cached secret step would show an earlier run's token.
    delete_tag(CACHE_REPOSITORY, "amd64")
    prune_buildkit_cache()
    lines: list[str] = []

    def up() -> auto.UpResult:
        with ArgvWatch(token) as watch:
            try:
                result = stack.up(color="never", on_output=lines.append)
            except auto.CommandError as error:
                pytest.fail(f"pulumi up failed:\n{error}\n{''.join(lines)[-4000:]}")
        assert watch.samples > 3 and not watch.seen, watch.seen
        return result

    started = time.monotonic()
    first = up()
    print(f"\nfirst build (target, secret, ssh, cache export): {time.monotonic() - started:.1f}s")
    digest = first.outputs["digests"].value["linux/amd64"]
    manifest, blobs = manifest_and_blobs(REPOSITORY, digest)
    # provenance/sbom false: a plain image manifest, no attestation index.
    assert manifest["mediaType"] in IMAGE_MANIFEST_TYPES, manifest["mediaType"]
    config = json.loads(blobs[0])
    assert config["architecture"] == "amd64"
    # target: the production stage, not the last (debug) stage.
    assert config["config"]["Labels"]["stage"] == "production"
    files = files_in_layers(blobs[1:])
    # secrets: the build read the value...
    assert files["out/token-length"].decode().strip() == str(len(token))
    assert files["out/token-sha256"].decode().strip() == hashlib.sha256(token.encode()).hexdigest()
    # ssh: the agent socket was forwarded into the RUN step.
    assert files["out/ssh"] == b"forwarded\n"
    # ...and the value is nowhere in the image (config, history, layers) or the deploy's output.
    for blob in blobs:
        assert token.encode() not in blob
    assert token not in "".join(lines)
    state = b"".join(
        path.read_bytes() for path in (tmp_path / "state").rglob("*") if path.is_file()
    )
    assert b"docker-build:index:Image" in state and token.encode() not in state
    # cache: written to the fleet registry, under the arch's own tag.
    cache_headers, _ = registry_get(f"{CACHE_REPOSITORY}/manifests/amd64")
    assert cache_headers.get("Docker-Content-Digest", "").startswith("sha256:")
    _, cache_blobs = manifest_and_blobs(CACHE_REPOSITORY, "amd64")
    # mode=max: the build stage's steps are cached too, beyond the final image's layers.
    assert len(cache_blobs) > len(blobs), (len(cache_blobs), len(blobs))
    for blob in cache_blobs:
        assert token.encode() not in blob

    # cache read: with BuildKit's local cache emptied, a changed build reuses the build stage's
    # steps from the registry; the nonce step would otherwise run again and differ.
    prune_buildkit_cache()
    revision["value"] = "2"
    started = time.monotonic()
    second = up()
    print(f"second build (registry cache import): {time.monotonic() - started:.1f}s")
    rebuilt = second.outputs["digests"].value["linux/amd64"]
    assert rebuilt != digest
    _, blobs2 = manifest_and_blobs(REPOSITORY, rebuilt)
    assert json.loads(blobs2[0])["config"]["Labels"]["revision"] == "2"
    assert files_in_layers(blobs2[1:])["out/nonce"] == files["out/nonce"]
    assert token not in "".join(lines)
    delete_tag(CACHE_REPOSITORY, "amd64")
