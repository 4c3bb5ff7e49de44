"""Kamal's later proxy keys: path_prefix, strip_path_prefix, ssl with certificates, ssl_redirect,
run/http3 and error_pages_path, from the file to the `kamal-proxy` words they become."""

from __future__ import annotations

import base64
import io
import subprocess
import tarfile
from pathlib import Path
from typing import Any

import pytest

from components import proxy_files, proxy_scripts
from components.config import ProxyConfig, ProxyRunConfig
from components.errors import DeployConfigError
from components.plan import route_json
from tests.unit.support import PlanError, assert_config_error, parse, plan

CERT = {"certificate_pem": "CERT_PEM", "private_key_pem": "KEY_PEM"}


def web(**proxy: Any) -> dict[str, Any]:
    return {"servers": {"web": {"hosts": ["10.0.0.1"], "proxy": proxy}}}


def route(**proxy: Any) -> ProxyConfig:
    found = parse(**web(**proxy)).role("web").proxy
    assert found is not None
    return found


def options(found: ProxyConfig, **kwargs: Any) -> tuple[str, ...]:
    built = proxy_scripts.route_for("svc", found, deploy_timeout=30, drain_timeout=30, **kwargs)
    return built.deploy_options


def test_path_prefix_routes_only_that_path_and_kamal_proxy_strips_it_by_default() -> None:
    found = route(path_prefix="/api")
    assert (found.path_prefixes, found.strip_path_prefix) == (("/api",), None)
    assert options(found)[0] == "--path-prefix=/api"
    assert not any(o.startswith("--strip-path-prefix") for o in options(found))
    kept = route(path_prefix="api/, /v2", strip_path_prefix=False)
    assert kept.path_prefixes == ("/api", "/v2")
    assert options(kept)[:3] == (
        "--path-prefix=/api", "--path-prefix=/v2", "--strip-path-prefix=false",
    )  # fmt: skip


def test_two_roles_share_a_host_name_on_different_paths() -> None:
    servers = {
        "web": {"hosts": ["10.0.0.1"], "proxy": {"host": "a.test"}},
        "api": {"hosts": ["10.0.0.1"], "proxy": {"host": "a.test", "path_prefix": "/api"}},
    }
    assert [p.services for p in plan(servers=servers).proxies] == [("app-web", "app-api")]
    servers["api"]["proxy"]["path_prefix"] = "/"
    assert_config_error(
        "10.0.0.1: roles web and api would both serve host a.test through kamal-proxy; give "
        "each its own proxy/host or proxy/path_prefix",
        error=PlanError,
        servers=servers,
    )
    servers["web"]["proxy"]["path_prefix"] = "/api"
    servers["api"]["proxy"]["path_prefix"] = "/api"
    assert_config_error(
        "10.0.0.1: roles web and api would both serve host a.test below /api through "
        "kamal-proxy; give each its own proxy/host or proxy/path_prefix",
        error=PlanError,
        servers=servers,
    )


def test_ssl_true_is_lets_encrypt_and_redirects_unless_ssl_redirect_is_false() -> None:
    found = route(host="a.test", ssl=True)
    assert (found.ssl, found.ssl_redirect, found.certificate_secret) == (True, None, None)
    assert options(found)[:2] == ("--host=a.test", "--tls")
    assert "--tls-redirect=false" in options(route(host="a.test", ssl=True, ssl_redirect=False))


@pytest.mark.parametrize(
    "proxy",
    [
        {"ssl": CERT},  # Kamal's current spelling
        {"ssl": True, **CERT},  # the earlier one, beside ssl: true
    ],
)
def test_a_custom_certificate_is_read_from_secrets_and_given_to_kamal_proxy_as_files(
    proxy: dict[str, Any],
) -> None:
    found = route(host="a.test", **proxy)
    assert (found.ssl, found.certificate_secret, found.private_key_secret) == (
        True, "CERT_PEM", "KEY_PEM",
    )  # fmt: skip
    words = options(found, files="/d")
    assert words[1:4] == (
        "--tls", "--tls-certificate-path=/d/tls/cert.pem", "--tls-private-key-path=/d/tls/key.pem",
    )  # fmt: skip
    assert route_json(found)["certificate_pem"] == "CERT_PEM"
    with pytest.raises(ValueError):
        options(found)


def test_a_route_without_the_new_keys_keeps_its_words_and_its_plan_hash() -> None:
    assert set(route_json(ProxyConfig())) == {
        "hosts", "app_port", "healthcheck", "response_timeout", "buffering", "forward_headers",
        "logging",
    }  # fmt: skip
    assert not any(
        o.startswith(("--tls", "--path", "--strip", "--error")) for o in options(route())
    )


def test_error_pages_are_given_to_every_proxied_route() -> None:
    assert parse(error_pages_path="public").error_pages_path == "public"
    assert options(route(), files="/d", error_pages=True)[-1] == "--error-pages=/d/error_pages"


def test_http3_publishes_udp_on_the_https_port_and_turns_on_kamal_proxys_flag() -> None:
    run = parse(proxy={"run": {"http3": True, "https_port": 8443}}).proxy_run
    spec = proxy_scripts.ProxySpec(
        host="h", image="i", platform="linux/arm64", run=run, stack="s", services=()
    )
    assert spec.published == ("80:80", "8443:443", "8443:443/udp")
    argv = proxy_scripts.proxy_run_argv(spec, "x")
    assert argv[-3:] == ["kamal-proxy", "run", "--http3"]
    plain = proxy_scripts.ProxySpec(
        host="h", image="i", platform="linux/arm64", run=ProxyRunConfig(), stack="s", services=()
    )
    assert "--http3" not in proxy_scripts.proxy_run_argv(plain, "x")
    assert plain.settings_hash != spec.settings_hash


@pytest.mark.parametrize(
    ("fragment", "message"),
    [
        (web(strip_path_prefix=False),
         "servers/web/proxy/strip_path_prefix: only applies with path_prefix (got false)"),
        (web(path_prefix="/api", strip_path_prefix="no"),
         "servers/web/proxy/strip_path_prefix: must be true or false (got 'no')"),
        (web(path_prefix=["/api"]), "servers/web/proxy/path_prefix: must be a string (got a list)"),
        (web(path_prefix="/a b"),
         "servers/web/proxy/path_prefix: must be URL paths like /api, comma-separated "
         "(got '/a b')"),
        (web(path_prefix="/api,"),
         "servers/web/proxy/path_prefix: must be URL paths like /api, comma-separated "
         "(got '/api,')"),
        (web(path_prefix="/api,api/"),
         "servers/web/proxy/path_prefix: duplicate path /api (got '/api,api/')"),
        (web(host="a.test", ssl=True, path_prefix="/api"),
         "servers/web/proxy/path_prefix: kamal-proxy sets up HTTPS only on a host's root-path "
         "route; a path_prefix route takes HTTPS from the root route of its host, so drop ssl "
         "here (got '/api' with ssl)"),
        (web(ssl_redirect=False),
         "servers/web/proxy/ssl_redirect: only applies with ssl: true, kamal-proxy redirects "
         "nothing without HTTPS (got false)"),
        (web(host="a.test", ssl=True, ssl_redirect="yes"),
         "servers/web/proxy/ssl_redirect: must be true or false (got 'yes')"),
        (web(ssl=CERT),
         "servers/web/proxy/ssl: must set proxy/host to enable SSL (got a mapping)"),
        (web(host="a.test", ssl={"certificate_pem": "CERT_PEM"}),
         "servers/web/proxy/ssl: missing private_key_pem, required when certificate_pem is "
         "given (got certificate_pem only)"),
        (web(host="a.test", ssl={"private_key_pem": "KEY_PEM"}),
         "servers/web/proxy/ssl: missing certificate_pem, required when private_key_pem is "
         "given (got private_key_pem only)"),
        (web(host="a.test", ssl={}),
         "servers/web/proxy/ssl: must name certificate_pem and private_key_pem, or be true "
         "(got {})"),
        (web(host="a.test", ssl={**CERT, "chain_pem": "X"}),
         "servers/web/proxy/ssl: unknown key 'chain_pem'"),
        (web(host="a.test", ssl={**CERT, "private_key_pem": "-----BEGIN PRIVATE KEY-----"}),
         "servers/web/proxy/ssl/private_key_pem: must be the name of a secret holding the PEM, "
         "like CERTIFICATE_PEM (got a value that is not a secret name)"),
        (web(host="a.test", **CERT),
         "servers/web/proxy/certificate_pem: a custom certificate needs ssl: true (got "
         "'CERT_PEM' with ssl off)"),
        (web(host="a.test", ssl=True, certificate_pem="CERT_PEM"),
         "servers/web/proxy: missing private_key_pem, required when certificate_pem is given "
         "(got certificate_pem only)"),
        (web(host="a.test", ssl=CERT, certificate_pem="CERT_PEM"),
         "servers/web/proxy/certificate_pem: the certificate is already given under ssl; keep "
         "one of the two spellings (got 'CERT_PEM')"),
        ({"proxy": {"run": {"http3": "yes"}}},
         "proxy/run/http3: must be true or false (got 'yes')"),
        ({"error_pages_path": ["public"]}, "error_pages_path: must be a string (got a list)"),
        ({"error_pages_path": " "}, "error_pages_path: must not be empty (got ' ')"),
    ],
)  # fmt: skip
def test_bad_proxy_keys(fragment: dict[str, Any], message: str) -> None:
    assert_config_error(message, **fragment)


def test_error_pages_are_the_4xx_and_5xx_html_files_of_the_directory(tmp_path: Path) -> None:
    pages = tmp_path / "public"
    pages.mkdir()
    (pages / "503.html").write_text("<h1>down</h1>")
    (pages / "404.html").write_text("<h1>gone</h1>")
    (pages / "index.html").write_text("not an error page")
    (pages / "5xx.html").write_text("not a status")
    assert proxy_files.read_error_pages("public", tmp_path) == (
        ("404.html", "<h1>gone</h1>"), ("503.html", "<h1>down</h1>"),
    )  # fmt: skip
    (pages / "404.html").unlink()
    (pages / "503.html").unlink()
    with pytest.raises(DeployConfigError, match=r"^error_pages_path: no pages named like"):
        proxy_files.read_error_pages("public", tmp_path)
    with pytest.raises(DeployConfigError, match=r"^error_pages_path: must be a directory"):
        proxy_files.read_error_pages("missing", tmp_path)


FILES = proxy_files.RouteFiles(
    service="app-web-s",
    certificate="CERT-BODY",
    private_key="KEY-BODY",
    error_pages=(("503.html", "down"),),
)


def members(text: str) -> dict[str, tarfile.TarInfo]:
    with tarfile.open(fileobj=io.BytesIO(base64.b64decode(text))) as tar:
        return {info.name: info for info in tar.getmembers()}


def test_route_files_are_one_tar_with_private_modes_under_the_service_and_version() -> None:
    version = FILES.version("key", "root@h:22", "1001:1001")
    found = members(proxy_files.archive(FILES, version, "1001:1002"))
    base = f"fleetform/app-web-s/{version}"
    assert set(found) == {
        "fleetform", "fleetform/app-web-s", base, f"{base}/tls", f"{base}/error_pages",
        f"{base}/tls/cert.pem", f"{base}/tls/key.pem", f"{base}/error_pages/503.html",
    }  # fmt: skip
    assert {info.mode for info in found.values() if info.isdir()} == {0o700}
    assert {info.mode for info in found.values() if info.isfile()} == {0o600}
    assert FILES.directory(version) == f"{proxy_scripts.STATE_PATH}/{base}"
    emptied = members(proxy_files.archive(FILES, version, "1001:1002", empty=True))
    assert {(info.uid, info.gid) for info in found.values()} == {(1001, 1002)}
    # Emptying leaves the directories (and their owner) alone.
    assert set(emptied) == {name for name, info in found.items() if info.isfile()}
    assert {info.size for info in emptied.values()} == {0}


def test_the_version_changes_with_the_content_the_host_and_the_key() -> None:
    version = FILES.version("key", "root@h:22", "1001:1001")
    other_key = proxy_files.RouteFiles(**{**FILES.__dict__, "private_key": "OTHER"})
    assert len({
        version,
        other_key.version("key", "root@h:22", "1001:1001"),
        FILES.version("key", "root@h2:22", "1001:1001"),
        FILES.version("other", "root@h:22", "1001:1001"),
        FILES.version("key", "root@h:22", "0:0"),
    }) == 5  # fmt: skip
    assert "KEY-BODY" not in version


def test_the_scripts_carry_no_secret_and_are_valid_shell() -> None:
    version = FILES.version("key", "root@h:22", "1001:1001")
    create = proxy_files.files_create_script("h", FILES.directory(version))
    delete = proxy_files.files_delete_script(FILES, version, "1001:1001")
    for script in (create, delete):
        subprocess.run(["sh", "-n"], input=script, text=True, check=True)
        assert "KEY-BODY" not in script and "CERT-BODY" not in script
    assert "base64 -d | docker cp - kamal-proxy:" in create
    subprocess.run(["sh", "-n"], input=proxy_files.owner_script("h"), text=True, check=True)
    encoded = delete.split("printf '%s' '", 1)[1].split("'", 1)[0]
    assert "KEY-BODY" not in base64.b64decode(encoded).decode(errors="replace")
