"""The `proxy` section, top level and per role, and Kamal's deploy/drain/readiness timeouts."""

from __future__ import annotations

from typing import Any

import pytest

from components.config import ProxyConfig
from tests.unit.support import PlanError, assert_config_error, parse, plan


def web(**role: Any) -> dict[str, Any]:
    return {"servers": {"web": {"hosts": ["10.0.0.1", "10.0.0.2"], **role}}}


def test_the_primary_role_is_proxied_by_default_with_kamals_defaults() -> None:
    route = parse().role("web").proxy
    assert route == ProxyConfig()
    assert (route.app_port, route.healthcheck.path, route.hosts) == (80, "/up", ())
    assert route.request_headers == ("Cache-Control", "Last-Modified", "User-Agent")


def test_other_roles_are_not_proxied_unless_asked() -> None:
    config = parse(
        servers={
            "web": {"hosts": ["10.0.0.1"]},
            "jobs": {"hosts": ["10.0.0.2"]},
            "api": {"hosts": ["10.0.0.3"], "proxy": True},
        },
        proxy={"app_port": 3000},
    )
    assert config.role("jobs").proxy is None
    assert config.role("api").proxy == ProxyConfig(app_port=3000)


def test_proxy_false_turns_the_primary_roles_proxy_off() -> None:
    assert parse(**web(proxy=False)).role("web").proxy is None


def test_a_primary_role_that_publishes_ports_is_not_proxied_by_default() -> None:
    config = parse(**web(options={"publish": "80:8080"}))
    assert config.role("web").proxy is None
    assert config.role("web").ports == ("80:8080",)


def test_a_role_mapping_is_merged_over_the_top_level_section() -> None:
    route = (
        parse(
            proxy={"app_port": 8080, "healthcheck": {"path": "/", "interval": 2}, "host": "a.test"},
            **web(proxy={"healthcheck": {"timeout": 3}, "hosts": ["b.test", "c.test"]}),
        )
        .role("web")
        .proxy
    )
    assert route is not None
    assert route.app_port == 8080
    assert (route.healthcheck.path, route.healthcheck.interval, route.healthcheck.timeout) == (
        "/", 2, 3,
    )  # fmt: skip
    assert route.hosts == ("b.test", "c.test")


def test_every_route_key_is_read() -> None:
    route = (
        parse(
            proxy={
                "host": "a.test,b.test",
                "app_port": 3000,
                "ssl": False,
                "response_timeout": 10,
                "forward_headers": True,
                "buffering": {
                    "requests": False,
                    "responses": True,
                    "max_request_body": 40_000_000,
                    "max_response_body": 0,
                    "memory": 2_000_000,
                },
                "logging": {"request_headers": ["X-Request-Id"], "response_headers": ["X-Runtime"]},
            }
        )
        .role("web")
        .proxy
    )
    assert route is not None
    assert route.hosts == ("a.test", "b.test")
    assert (route.response_timeout, route.forward_headers) == (10, True)
    assert route.buffering.requests is False and route.buffering.max_request_body == 40_000_000
    assert route.request_headers == ("X-Request-Id",)
    assert route.response_headers == ("X-Runtime",)


def test_run_keys_choose_the_image_and_how_it_runs() -> None:
    run = parse(
        proxy={
            "run": {
                "registry": "10.0.0.9:5000", "repository": "basecamp/kamal-proxy",
                "version": "v0.9.3", "http_port": 8080, "https_port": 8443, "publish": True,
                "bind_ips": ["127.0.0.1", "::1"], "options": {"memory": "256m"}, "debug": True,
                "log_max_size": "20m", "metrics_port": 9090,
            }
        }
    ).proxy_run  # fmt: skip
    assert run.image == "10.0.0.9:5000/basecamp/kamal-proxy:v0.9.3"
    assert run.bind_ips == ("127.0.0.1", "::1")
    assert run.options == (("memory", "256m"),)
    assert parse().proxy_run.image == "basecamp/kamal-proxy:v0.9.2"


def test_timeouts_are_read_and_default_to_unset() -> None:
    config = parse(deploy_timeout=45, drain_timeout=10, readiness_delay=0)
    assert (config.deploy_timeout, config.drain_timeout, config.readiness_delay) == (45, 10, 0)
    assert parse().deploy_timeout is None


def test_the_plan_places_one_proxy_per_host_of_a_proxied_role() -> None:
    result = plan(servers={"web": {"hosts": ["10.0.0.1"]}, "jobs": {"hosts": ["10.0.0.2"]}})
    assert [(p.host, p.platform, p.image, p.services) for p in result.proxies] == [
        ("10.0.0.1", "linux/arm64", "basecamp/kamal-proxy:v0.9.2", ("app-web",))
    ]


@pytest.mark.parametrize(
    ("fragment", "message"),
    [
        ({"proxy": ["a"]}, "proxy: must be a mapping (got a list)"),
        ({"proxy": {"hots": "a.test"}}, "proxy: unknown key 'hots'"),
        ({"proxy": {"host": "a.test", "hosts": ["b.test"]}},
         "proxy: specify one of 'host' or 'hosts', not both"),
        ({"proxy": {"host": "a_b"}}, "proxy/host: must be a host name like app.example.com (got 'a_b')"),
        ({"proxy": {"hosts": ["a.test", "a.test"]}}, "proxy/hosts/1: duplicate host name (got 'a.test')"),
        ({"proxy": {"app_port": 0}}, "proxy/app_port: must be between 1 and 65535 (got 0)"),
        ({"proxy": {"ssl": True}}, "proxy/ssl: must set proxy/host to enable automatic SSL (got true)"),
        ({"proxy": {"ssl": "yes"}},
         "proxy/ssl: must be true, false or a mapping of certificate_pem and private_key_pem "
         "(got 'yes')"),
        ({"proxy": {"healthcheck": {"path": "up"}}},
         "proxy/healthcheck/path: must be a URL path starting with / (got 'up')"),
        ({"proxy": {"healthcheck": {"interval": "1s"}}},
         "proxy/healthcheck/interval: must be a whole number (got '1s')"),
        ({"proxy": {"healthcheck": {"port": 3}}}, "proxy/healthcheck: unknown key 'port'"),
        ({"proxy": {"buffering": {"requests": "no"}}},
         "proxy/buffering/requests: must be true or false (got 'no')"),
        ({"proxy": {"logging": {"request_headers": ["Bad Header"]}}},
         "proxy/logging/request_headers/0: must be an HTTP header name (got 'Bad Header')"),
        ({"proxy": {"run": {"http_port": 70000}}},
         "proxy/run/http_port: must be between 1 and 65535 (got 70000)"),
        ({"proxy": {"run": {"http_port": 80, "https_port": 80}}},
         "proxy/run: http_port and https_port must differ (got 80 for both)"),
        ({"proxy": {"run": {"bind_ips": ["localhost"]}}},
         "proxy/run/bind_ips/0: must be an IP address (got 'localhost')"),
        ({"proxy": {"run": {"options": {"publish": "81:80"}}}},
         "proxy/run/options/publish: kamal-proxy's ports are run/http_port, run/https_port and "
         "run/bind_ips (got '81:80')"),
        ({"proxy": {"run": {"version": 1}}},
         "proxy/run/version: must be an image tag like v0.9.2 (got 1)"),
        ({"proxy": {"run": {"log_max_size": "big"}}},
         "proxy/run/log_max_size: must be a size like 10m (got 'big')"),
        ({"proxy": {"run": {"repository": "Basecamp/Proxy"}}},
         "proxy/run/repository: must be a lowercase repository name like basecamp/kamal-proxy "
         "(got 'Basecamp/Proxy')"),
        (web(proxy="yes"), "servers/web/proxy: must be true, false or a mapping (got 'yes')"),
        (web(proxy={"run": {"http_port": 81}}),
         "servers/web/proxy/run: only in the top-level proxy section, one kamal-proxy runs per "
         "host (got a mapping)"),
        (web(proxy=True, options={"publish": "80:8080"}),
         "servers/web/proxy: a proxied role publishes no host port, kamal-proxy serves it; remove "
         "options/publish or set proxy: false (got true)"),
        (web(proxy={"app_port": "http"}),
         "servers/web/proxy/app_port: must be a whole number (got 'http')"),
        ({"deploy_timeout": 0}, "deploy_timeout: must be >= 1 (got 0)"),
        ({"drain_timeout": "long"}, "drain_timeout: must be a whole number (got 'long')"),
        ({"readiness_delay": -1}, "readiness_delay: must be >= 0 (got -1)"),
    ],
)  # fmt: skip
def test_proxy_errors(fragment: dict[str, Any], message: str) -> None:
    assert_config_error(message, **fragment)


def test_two_proxied_roles_on_one_host_must_claim_different_host_names() -> None:
    servers = {
        "web": {"hosts": ["10.0.0.1"]},
        "api": {"hosts": ["10.0.0.1"], "proxy": True},
    }
    assert_config_error(
        "10.0.0.1: roles web and api would both serve every host name through kamal-proxy; "
        "give each its own proxy/host or proxy/path_prefix",
        error=PlanError,
        servers=servers,
    )
    servers["api"]["proxy"] = {"host": "api.test"}
    assert [p.services for p in plan(servers=servers).proxies] == [("app-web", "app-api")]
