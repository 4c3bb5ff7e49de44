"""The promotion's registry lookup: HTTPS unless insecure, no credentials on redirects, and
network failures as one-line errors. Tiny HTTP servers on 127.0.0.1 stand in for registries."""

from __future__ import annotations

import http.server
import socket
import threading
from collections.abc import Callable, Iterator
from typing import Any
from dataclasses import dataclass, field

import pytest

from components.errors import DeployConfigError, PlanError
from components.promotion import manifest_exists, parse_insecure_registries

DIGEST = "sha256:" + "a" * 64
BASIC = "Basic ZmxlZXRmb3JtOnMzY3JldA=="  # fleetform:s3cret


@dataclass
class Registry:
    """A stand-in registry: answers every request with `respond(path)` and records headers."""

    respond: Callable[[str], tuple[int, dict[str, str]]]
    requests: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)
    port: int = 0

    @property
    def server(self) -> str:
        return f"127.0.0.1:{self.port}"


@pytest.fixture
def registries() -> Iterator[Callable[..., Registry]]:
    servers: list[http.server.ThreadingHTTPServer] = []

    def start(respond: Callable[[str], tuple[int, dict[str, str]]]) -> Registry:
        registry = Registry(respond)

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_HEAD(self) -> None:  # noqa: N802 (http.server's naming)
                registry.requests.append((self.command, self.path, dict(self.headers)))
                status, headers = registry.respond(self.path)
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_args: object) -> None:
                pass

        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        registry.port = server.server_address[1]
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return registry

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_insecure_registry_is_asked_over_http_with_credentials(registries: Any) -> None:
    registry = registries(lambda path: (200, {}) if DIGEST in path else (404, {}))
    repository = f"{registry.server}/fleetform/hello"
    assert manifest_exists(repository, DIGEST, "fleetform", "s3cret", insecure=True)
    assert not manifest_exists(
        repository, "sha256:" + "0" * 64, "fleetform", "s3cret", insecure=True
    )
    method, path, headers = registry.requests[0]
    assert (method, path) == ("HEAD", f"/v2/fleetform/hello/manifests/{DIGEST}")
    assert headers["Authorization"] == BASIC


def test_https_unless_the_registry_is_insecure(registries: Any) -> None:
    # A plain-HTTP registry asked over HTTPS sees a TLS handshake, never the credentials.
    registry = registries(lambda _path: (200, {}))
    with pytest.raises(PlanError) as error:
        manifest_exists(f"{registry.server}/fleetform/hello", DIGEST, "fleetform", "s3cret")
    message = str(error.value)
    assert message.startswith(f"{registry.server}: cannot reach the registry over https (TLS ")
    assert message.endswith(
        "; if it only speaks plain HTTP, list it in fleetform:insecureRegistries"
    )
    assert "\n" not in message
    assert all("Authorization" not in headers for _, _, headers in registry.requests)


@pytest.mark.parametrize("target_host", ["localhost", "127.0.0.1"])
def test_credentials_never_follow_a_redirect(registries: Any, target_host: str) -> None:
    target = registries(lambda _path: (200, {}))
    origin = registries(
        lambda path: (307, {"Location": f"http://{target_host}:{target.port}{path}"})
    )
    assert manifest_exists(
        f"{origin.server}/fleetform/hello", DIGEST, "fleetform", "s3cret", insecure=True
    )
    assert origin.requests[0][2]["Authorization"] == BASIC
    assert [method for method, _, _ in target.requests] == ["HEAD"]
    assert "Authorization" not in target.requests[0][2]


def test_connection_refused_is_one_line() -> None:
    server = f"127.0.0.1:{closed_port()}"
    with pytest.raises(PlanError) as error:
        manifest_exists(f"{server}/fleetform/hello", DIGEST, None, None, insecure=True)
    assert str(error.value) == f"{server}: cannot reach the registry over http (Connection refused)"


def test_timeout_is_one_line() -> None:
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        server = f"127.0.0.1:{silent.getsockname()[1]}"
        with pytest.raises(PlanError) as error:
            manifest_exists(f"{server}/x", DIGEST, None, None, timeout=0.3, insecure=True)
    assert str(error.value) == f"{server}: cannot reach the registry over http (timed out)"


def test_unknown_host_is_one_line() -> None:
    with pytest.raises(PlanError) as error:
        manifest_exists("registry.invalid/x", DIGEST, None, None, timeout=2)
    assert str(error.value).startswith("registry.invalid: cannot reach the registry over https (")
    assert "\n" not in str(error.value)


def test_insecure_registries_setting() -> None:
    assert parse_insecure_registries(None) == frozenset()
    assert parse_insecure_registries('["10.203.0.1:5000", "localhost"]') == {
        "10.203.0.1:5000",
        "localhost",
    }
    with pytest.raises(DeployConfigError) as error:
        parse_insecure_registries("10.203.0.1:5000")
    assert str(error.value) == (
        "fleetform:insecureRegistries: must be a list of registry host[:port], like "
        "[\"10.203.0.1:5000\"] (got '10.203.0.1:5000')"
    )
    with pytest.raises(DeployConfigError) as error:
        parse_insecure_registries('["http://10.203.0.1:5000"]')
    assert str(error.value) == (
        "fleetform:insecureRegistries/0: must be a registry host[:port] "
        "(got 'http://10.203.0.1:5000')"
    )
