"""kamal-proxy scripts: the shared proxy container, and the route switch of proxied containers."""

from __future__ import annotations

import dataclasses
import subprocess

from components import docker_scripts, proxy_scripts
from components.config import ProxyConfig, ProxyRunConfig
from components.config.model import BufferingConfig, HealthcheckConfig

SPEC = proxy_scripts.ProxySpec(
    host="10.0.0.1",
    image="10.0.0.9:5000/basecamp/kamal-proxy:v0.9.2",
    platform="linux/arm64",
    run=ProxyRunConfig(registry="10.0.0.9:5000"),
    stack="dev",
    services=("hello-web-dev",),
    docker_config="~/.fleetform/dev/docker",
)
ROUTE = proxy_scripts.route_for(
    "hello-web-dev", ProxyConfig(app_port=8080), deploy_timeout=30, drain_timeout=30
)
CONTAINER = docker_scripts.ContainerSpec(
    name="hello-web-dev-0123456789ab",
    family="hello-web-dev",
    stack="dev",
    image="r/hello@sha256:" + "a" * 64,
    platform="linux/arm64",
    route=ROUTE,
)


def valid_sh(script: str) -> None:
    subprocess.run(["sh", "-n"], input=script, text=True, check=True)


def test_route_options_follow_kamal() -> None:
    route = proxy_scripts.route_for(
        "svc",
        ProxyConfig(
            hosts=("a.test", "b.test"),
            app_port=3000,
            healthcheck=HealthcheckConfig(path="/health", interval=3, timeout=4),
            response_timeout=10,
            buffering=BufferingConfig(requests=False, memory=2_000_000),
            forward_headers=True,
            response_headers=("X-Runtime",),
        ),
        deploy_timeout=45,
        drain_timeout=5,
    )
    assert route.target("c-1") == "c-1:3000"
    assert route.deploy_options == (
        "--host=a.test", "--host=b.test", "--deploy-timeout=45s", "--drain-timeout=5s",
        "--health-check-path=/health", "--health-check-interval=3s", "--health-check-timeout=4s",
        "--target-timeout=10s", "--buffer-requests=false", "--buffer-responses=true",
        "--buffer-memory=2000000", "--forward-headers=true",
        "--log-request-header=Cache-Control", "--log-request-header=Last-Modified",
        "--log-request-header=User-Agent", "--log-response-header=X-Runtime",
    )  # fmt: skip


def test_settings_hash_ignores_which_stack_asks_but_not_the_image() -> None:
    other_stack = dataclasses.replace(SPEC, stack="production", services=("hello-web-prod",))
    assert other_stack.settings_hash == SPEC.settings_hash
    upgraded = dataclasses.replace(SPEC, image=SPEC.image.replace("v0.9.2", "v0.9.3"))
    assert upgraded.settings_hash != SPEC.settings_hash
    amd64 = dataclasses.replace(SPEC, platform="linux/amd64")
    assert amd64.settings_hash != SPEC.settings_hash


def test_proxy_publishes_http_and_https_per_bind_ip() -> None:
    assert SPEC.published == ("80:80", "443:443")
    bound = dataclasses.replace(
        SPEC, run=ProxyRunConfig(http_port=8080, https_port=8443, bind_ips=("10.0.0.1", "::1"))
    )
    assert bound.published == (
        "10.0.0.1:8080:80", "10.0.0.1:8443:443", "[::1]:8080:80", "[::1]:8443:443",
    )  # fmt: skip
    assert dataclasses.replace(SPEC, run=ProxyRunConfig(publish=False)).published == ()


def test_proxy_run_argv_is_kamals_on_the_fleetform_network() -> None:
    run = ProxyRunConfig(debug=True, metrics_port=9090, options=(("memory", "256m"),))
    argv = proxy_scripts.proxy_run_argv(dataclasses.replace(SPEC, run=run), "abc")
    assert argv[:5] == ["docker", "run", "--detach", "--name", "kamal-proxy"]
    assert "--network" in argv and argv[argv.index("--network") + 1] == "fleetform"
    assert "kamal-proxy-config:/home/kamal-proxy/.config/kamal-proxy" in argv
    assert "fleetform.proxy.stack=dev" in argv and "fleetform.proxy.config=abc" in argv
    assert "--expose=9090" in argv and "--memory=256m" in argv
    assert argv[-5:] == [SPEC.image, "kamal-proxy", "run", "--debug", "--metrics-port=9090"]
    # No stack label: no stack's cleanup or drift takes the shared proxy for its own.
    labels = (docker_scripts.STACK_LABEL, docker_scripts.MANAGED_LABEL)
    assert not any(word.startswith(labels) for word in argv)


def test_proxy_scripts_are_valid_sh_and_pull_for_the_platform() -> None:
    create = proxy_scripts.proxy_create_script(SPEC)
    valid_sh(create)
    valid_sh(proxy_scripts.proxy_delete_script(SPEC))
    assert "pull --quiet --platform linux/arm64 10.0.0.9:5000/basecamp/kamal-proxy:v0.9.2" in create
    assert "image is $got but this host needs arm64" in create
    assert "grep -vxF -e hello-web-dev" in create


def test_proxy_delete_spares_a_successor_and_any_routes() -> None:
    delete = proxy_scripts.proxy_delete_script(SPEC)
    assert f'[ "$found" = {SPEC.settings_hash} ] || exit 0' in delete
    assert "kamal-proxy list" in delete


def test_a_proxied_container_switches_the_route_then_stops_its_predecessor() -> None:
    create = docker_scripts.container_create_script(CONTAINER)
    valid_sh(create)
    assert not CONTAINER.stops_predecessor_first
    deploy = create.index(
        "docker exec kamal-proxy kamal-proxy deploy hello-web-dev "
        "--target=hello-web-dev-0123456789ab:8080 --deploy-timeout=30s --drain-timeout=30s "
        "--health-check-path=/up"
    )
    stop = create.index("docker stop --time 10 $running")
    assert deploy < stop
    assert 'rollback "kamal-proxy kept the previous target of hello-web-dev: $refused"' in create
    assert "--publish" not in create


def test_a_proxied_containers_delete_removes_only_its_own_route() -> None:
    delete = docker_scripts.container_delete_script(CONTAINER)
    valid_sh(delete)
    assert delete.startswith(
        "if docker exec kamal-proxy kamal-proxy list 2>/dev/null | grep -qF "
        "hello-web-dev-0123456789ab:8080; then\n"
        "  docker exec kamal-proxy kamal-proxy remove hello-web-dev >/dev/null\nfi\n"
    )


def test_unproxied_scripts_are_unchanged_by_the_proxy() -> None:
    plain = dataclasses.replace(CONTAINER, route=None)
    create = docker_scripts.container_create_script(plain)
    assert "kamal-proxy" not in create
    assert '[ "$steady" -ge 2 ] && break' in create
    assert "kamal-proxy" not in docker_scripts.container_delete_script(plain)
    slow = docker_scripts.container_create_script(dataclasses.replace(plain, steady_checks=7))
    assert '[ "$steady" -ge 7 ] && break' in slow
