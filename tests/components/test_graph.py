"""The resource graph of the sample deploy, built by the real __main__.py under Pulumi mocks."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from components.docker_scripts import FAMILY_LABEL, STACK_LABEL
from tests.components.program import (
    DIGEST,
    REMOTE_COMMAND,
    ROOT,
    SEED_ARCH,
    Recorded,
    RecordingMocks,
    connection,
    fake_ssh_files,
    run_program,
)

pytestmark = pytest.mark.components


@pytest.fixture(scope="module")
def graph(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RecordingMocks, Recorded]]:
    recorded = Recorded()
    # A preview: the program contacts no host (no host-key scan); mocks still answer every output.
    settings = {
        "deployFile": str(ROOT / "config" / "deploy.yml"),
        **fake_ssh_files(tmp_path_factory.mktemp("keys"), SEED_ARCH),
        "REGISTRY_PASSWORD": "registry-pass",
        "APP_SECRET": "app-secret",
        "versionKey": "unit-version-key",
    }
    yield run_program(settings, recorded), recorded


def commands(mocks: RecordingMocks, suffix: str = "") -> dict[str, dict[str, Any]]:
    return {
        r.name: r.inputs
        for r in mocks.created
        if r.typ == REMOTE_COMMAND and r.name.endswith(suffix)
    }


def test_components_have_fleetform_type_tokens(graph: tuple[RecordingMocks, Recorded]) -> None:
    _, recorded = graph
    types = {type(res).__name__: res for res, _, _ in recorded.resources.values()}
    for name in ("DockerHost", "AppImage", "AppRole", "Accessory"):
        assert name in types
    assert recorded.resources["web"][0]._type == "fleetform:index:AppRole"  # noqa: SLF001


def test_app_image_is_built_only_for_arm64(graph: tuple[RecordingMocks, Recorded]) -> None:
    mocks, _ = graph
    images = [r for r in mocks.created if r.typ == "docker-build:index:Image"]
    assert [(r.name, r.inputs["platforms"]) for r in images] == [("app-arm64", ["linux/arm64"])]


def test_no_app_image_pull_on_the_amd64_host(graph: tuple[RecordingMocks, Recorded]) -> None:
    mocks, _ = graph
    on_redis_host = [
        inputs["create"]
        for inputs in commands(mocks).values()
        if connection(inputs)["host"] == "10.203.0.14"
    ]
    assert on_redis_host, "the amd64 host must still be probed and run redis"
    assert not [script for script in on_redis_host if "fleetform/hello" in script]


def test_each_container_pulls_for_the_platform_of_its_host(
    graph: tuple[RecordingMocks, Recorded],
) -> None:
    mocks, _ = graph
    containers = {
        name: inputs
        for name, inputs in commands(mocks).items()
        if not name.endswith(("-probe", "-network", "-registry-login"))
    }
    assert set(containers) == {
        "web-10.203.0.11", "web-10.203.0.12", "jobs-10.203.0.13", "redis-10.203.0.14",
        "proxy-10.203.0.11-container", "proxy-10.203.0.12-container",
    }  # fmt: skip
    for name, inputs in containers.items():
        arch = SEED_ARCH[connection(inputs)["host"]]
        assert f"pull --quiet --platform linux/{arch}" in inputs["create"], name
    assert f"fleetform/hello@{DIGEST}" in containers["web-10.203.0.11"]["create"]


def test_containers_carry_stack_scoped_family_and_versioned_name(
    graph: tuple[RecordingMocks, Recorded],
) -> None:
    mocks, _ = graph
    web = commands(mocks)["web-10.203.0.11"]
    assert f"{FAMILY_LABEL}=hello-web-unit" in web["create"]
    assert f"{STACK_LABEL}=unit" in web["create"]
    # Where it runs and which version it is: a change of either replaces the command.
    host, port, user, name = web["triggers"]
    assert (host, port, user) == ("10.203.0.11", 22, "root")
    assert re.fullmatch(r"hello-web-unit-[0-9a-f]{12}", name)
    assert f"--name {name}" in web["create"]


def test_secrets_reach_containers_only_on_stdin(graph: tuple[RecordingMocks, Recorded]) -> None:
    mocks, _ = graph
    for name, inputs in commands(mocks).items():
        for key in ("create", "update", "delete"):
            assert "app-secret" not in str(inputs.get(key)), (name, key)
            assert "registry-pass" not in str(inputs.get(key)), (name, key)
    web = commands(mocks)["web-10.203.0.11"]
    assert "APP_SECRET=app-secret" in str(web["stdin"])


def test_every_command_is_time_limited_and_dials_briefly(
    graph: tuple[RecordingMocks, Recorded],
) -> None:
    mocks, _ = graph
    for name, inputs in commands(mocks).items():
        assert "limit=300" in inputs["create"], name
        reach = connection(inputs)
        assert reach["dialErrorLimit"] == 2 and reach["perDialTimeout"] == 5, name
        assert reach["hostKey"].startswith("ssh-ed25519 "), name


def test_redis_waits_for_its_probe_and_never_for_the_app_image(
    graph: tuple[RecordingMocks, Recorded],
) -> None:
    _, recorded = graph
    waits_for = recorded.transitive("redis-10.203.0.14")
    assert "10.203.0.14-probe" in waits_for
    assert "app-arm64" not in waits_for
    assert not [name for name in waits_for if name.startswith(("web-", "jobs-"))]


def test_web_waits_for_app_image_and_probe_of_its_host(
    graph: tuple[RecordingMocks, Recorded],
) -> None:
    _, recorded = graph
    waits_for = recorded.transitive("web-10.203.0.11")
    assert {"app-arm64", "10.203.0.11-probe", "10.203.0.11-registry-login"} <= waits_for


def test_boot_limit_one_chains_web_hosts(graph: tuple[RecordingMocks, Recorded]) -> None:
    _, recorded = graph
    assert "web-10.203.0.11" in recorded.direct["web-10.203.0.12"]


def test_a_proxy_runs_on_each_web_host_only_for_its_platform(
    graph: tuple[RecordingMocks, Recorded],
) -> None:
    mocks, recorded = graph
    proxies = commands(mocks, "-container")
    assert {connection(inputs)["host"] for inputs in proxies.values()} == {
        "10.203.0.11",
        "10.203.0.12",
    }
    for inputs in proxies.values():
        script = inputs["create"]
        assert (
            "pull --quiet --platform linux/arm64 10.203.0.1:5000/basecamp/kamal-proxy:v0.9.2"
            in (script)
        )
        assert "--publish 80:80 --publish 443:443" in script
        assert "--network fleetform" in script
    assert recorded.resources["proxy-10.203.0.11"][0]._type == "fleetform:index:Proxy"  # noqa: SLF001
    # One host's proxy at a time: an upgrade never takes both web hosts' port 80 down at once.
    assert "proxy-10.203.0.11-container" in recorded.direct["proxy-10.203.0.12-container"]


def test_proxied_web_publishes_nothing_and_switches_through_the_proxy(
    graph: tuple[RecordingMocks, Recorded],
) -> None:
    mocks, recorded = graph
    for host in ("10.203.0.11", "10.203.0.12"):
        inputs = commands(mocks)[f"web-{host}"]
        create = inputs["create"]
        assert "--publish" not in create
        assert (
            "docker exec kamal-proxy kamal-proxy deploy hello-web-unit --target=hello-web-unit-"
            in (create)
        )
        assert "--health-check-path=/ " in create and "--deploy-timeout=30s" in create
        assert "kamal-proxy remove hello-web-unit" in inputs["delete"]
        assert f"proxy-{host}-container" in recorded.direct[f"web-{host}"]
    jobs = commands(mocks)["jobs-10.203.0.13"]
    assert "kamal-proxy" not in jobs["create"] and "kamal-proxy" not in jobs["delete"]


def test_other_roles_wait_for_the_primary_roles_first_batch(
    graph: tuple[RecordingMocks, Recorded],
) -> None:
    """Kamal's primary-role barrier: jobs boots after web's first batch is ready."""
    _, recorded = graph
    assert "web-10.203.0.11" in recorded.direct["jobs-10.203.0.13"]
    # Only the first batch: the second web host is not waited for.
    assert "web-10.203.0.12" not in recorded.transitive("jobs-10.203.0.13")
