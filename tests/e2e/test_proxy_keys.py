"""Kamal's later proxy keys on the real fleet: path_prefix and strip_path_prefix, ssl with a
custom certificate from secrets, ssl_redirect, run/http3 and error_pages_path.

One stack (`e2e-proxy-keys`) runs two proxied roles on h1 behind one host name: `web` at the
root with HTTPS from a self-signed certificate made here, and `api` below /api. Every request
goes to h1's fleet address, with a timeout, a bounded number of times. Tests run in file order.
"""

from __future__ import annotations

import datetime
import http.client
import json
import socket
import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pulumi import automation as auto

from tests.e2e.fleet_stack import fleet_app, OpsStack
from tests.support import inventory, host_address, ssh

pytestmark = pytest.mark.e2e

STACK = "e2e-proxy-keys"
NAME = "keys.test"
FILES = "/home/kamal-proxy/.config/kamal-proxy/fleetform"
API_SERVICE = f"pk-api-{STACK}"
WEB_CMD = (
    "sh -c 'mkdir -p /tmp/www && echo web > /tmp/www/index.html"
    " && exec httpd -f -p 8080 -h /tmp/www'"
)
# /api/ reaches the app as / when kamal-proxy strips the prefix, as /api/ when it keeps it.
API_CMD = (
    "sh -c 'mkdir -p /tmp/www/api && echo api stripped > /tmp/www/index.html"
    " && echo api kept > /tmp/www/api/index.html && exec httpd -f -p 8080 -h /tmp/www'"
)
ERROR_PAGE = "fleetform-custom-503: {{ .Message }}"


def certificate(name: str) -> tuple[str, str]:
    """A self-signed certificate for `name` and its key, both PEM."""
    try:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID
    except ImportError:
        return _openssl_certificate(name)
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return cert.public_bytes(serialization.Encoding.PEM).decode(), key_pem.decode()


def _openssl_certificate(name: str) -> tuple[str, str]:
    done = subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
         "-nodes", "-days", "1", "-subj", f"/CN={name}", "-addext", f"subjectAltName=DNS:{name}",
         "-keyout", "/dev/stdout", "-out", "/dev/stdout"],
        capture_output=True, text=True, check=True, timeout=30,
    )  # fmt: skip
    text = done.stdout
    cert_start = text.index("-----BEGIN CERTIFICATE-----")
    cert_end = text.index("-----END CERTIFICATE-----") + len("-----END CERTIFICATE-----")
    cert = text[cert_start:cert_end] + "\n"
    return cert, text.replace(cert, "").strip() + "\n"


def der(pem: str) -> bytes:
    return ssl.PEM_cert_to_DER_cert(pem)


def keys_config(pages: Path) -> dict[str, Any]:
    registry = inventory()["registry"]
    h1 = host_address("h1")
    return {
        **fleet_app("pk"),
        "servers": {
            "web": {
                "hosts": [h1],
                "cmd": WEB_CMD,
                "proxy": {
                    "host": NAME,
                    "ssl": {"certificate_pem": "PK_CERT", "private_key_pem": "PK_KEY"},
                },
            },
            "api": {
                "hosts": [h1],
                "cmd": API_CMD,
                "proxy": {"host": NAME, "path_prefix": "/api"},
            },
        },
        "proxy": {
            "app_port": 8080,
            "healthcheck": {"path": "/", "interval": 1, "timeout": 2},
            "run": {"registry": registry, "http3": True},
        },
        "error_pages_path": str(pages),
        "deploy_timeout": 20,
        "drain_timeout": 2,
        "retain_containers": 1,
    }


class _SniConnection(http.client.HTTPSConnection):
    """HTTPS to a fleet address, with the host name as SNI (kamal-proxy picks the cert by it)."""

    def __init__(self, address: str, server_name: str, context: ssl.SSLContext) -> None:
        super().__init__(address, 443, timeout=5, context=context)
        self._server_name = server_name
        self._tls = context

    def connect(self) -> None:
        raw = socket.create_connection((self.host, self.port), self.timeout)
        self.sock = self._tls.wrap_socket(raw, server_hostname=self._server_name)


def https_get(path: str, trusted_pem: str) -> tuple[int, dict[str, str], str, bytes]:
    """Status, headers, body and the served certificate (DER); the certificate must verify."""
    context = ssl.create_default_context(cadata=trusted_pem)
    connection = _SniConnection(host_address("h1"), NAME, context)
    try:
        connection.request("GET", path, headers={"Host": NAME})
        response = connection.getresponse()
        body = response.read().decode().strip()
        assert connection.sock is not None
        served = connection.sock.getpeercert(binary_form=True)
        assert served is not None
        return response.status, dict(response.getheaders()), body, served
    finally:
        connection.close()


def http_get(path: str) -> tuple[int, dict[str, str], str]:
    connection = http.client.HTTPConnection(host_address("h1"), 80, timeout=5)
    try:
        connection.request("GET", path, headers={"Host": NAME})
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read().decode().strip()
    finally:
        connection.close()


def proxy_files() -> list[str]:
    """`tar -tv` lines of everything routes copied into h1's proxy state volume."""
    listed = ssh(host_address("h1"), f"docker cp kamal-proxy:{FILES} - | tar -tvf -")
    return listed.stdout.splitlines()


def key_files() -> dict[str, str]:
    """web's key.pem files by directory, each with its `tar -tv` line."""
    found = {}
    for line in proxy_files():
        if line.endswith("/tls/key.pem") and f"/pk-web-{STACK}/" in line:
            found[line.split()[-1].rsplit("/tls/", 1)[0]] = line
    return found


@pytest.fixture(scope="module")
def keys_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[OpsStack, Path]]:
    directory = tmp_path_factory.mktemp("proxy-keys")
    pages = directory / "pages"
    pages.mkdir()
    (pages / "503.html").write_text(ERROR_PAGE)
    (pages / "index.html").write_text("not an error page: never copied")
    stack = OpsStack(STACK, directory, keys_config(pages))
    try:
        yield stack, pages
    finally:
        stack.drop()


def set_certificate(stack: OpsStack, cert: str, key: str) -> None:
    stack.stack.set_all_config(
        {
            "fleetform:PK_CERT": auto.ConfigValue(cert, secret=True),
            "fleetform:PK_KEY": auto.ConfigValue(key, secret=True),
        }
    )


def key_body(key: str) -> str:
    return "".join(key.strip().splitlines()[1:-1])


def test_routes_tls_error_pages_and_http3_take_effect(keys_stack: tuple[OpsStack, Path]) -> None:
    stack, _ = keys_stack
    cert, key = certificate(NAME)
    set_certificate(stack, cert, key)
    stack.up()

    # ssl_redirect is on by default with ssl: plain HTTP is sent to HTTPS.
    status, headers, _ = http_get("/")
    assert (status, headers.get("Location")) == (301, f"https://{NAME}/")
    status, headers, body, served = https_get("/", cert)
    assert (status, body, served) == (200, "web", der(cert))
    # run/http3: kamal-proxy advertises HTTP/3 and UDP 443 is published.
    assert 'h3=":443"' in headers.get("Alt-Svc", ""), headers
    assert ssh(host_address("h1"), "docker port kamal-proxy 443/udp").stdout.strip()
    # path_prefix routes /api to the api role over the web role's HTTPS; the prefix is stripped.
    assert https_get("/api/", cert)[:3:2] == (200, "api stripped")

    # error_pages_path: kamal-proxy renders the app's own 503 page for a stopped service.
    proxy = "docker exec kamal-proxy kamal-proxy"
    ssh(host_address("h1"), f"{proxy} stop {API_SERVICE} --drain-timeout=1s --message=maint")
    try:
        status, _, body, _ = https_get("/api/", cert)
    finally:
        ssh(host_address("h1"), f"{proxy} resume {API_SERVICE}")
    assert (status, body) == (503, "fleetform-custom-503: maint")
    assert https_get("/api/", cert)[:3:2] == (200, "api stripped")

    # The key reached the proxy as a 0600 file of the proxy's own user, and nowhere in clear.
    keys = key_files()
    assert len(keys) == 1, proxy_files()
    (line,) = keys.values()
    assert line.startswith("-rw-------"), line
    assert line.split()[1].split("/")[0] not in ("0", "root"), line
    assert not any("index.html" in entry for entry in proxy_files())
    state = json.dumps(stack.stack.export_stack().deployment)
    assert key_body(key) not in state
    assert key_body(cert) not in state  # the whole archive travels as a secret


def test_strip_path_prefix_and_ssl_redirect_false_change_only_their_routes(
    keys_stack: tuple[OpsStack, Path],
) -> None:
    stack, _ = keys_stack
    proxy_before = ssh(host_address("h1"), "docker inspect -f '{{.Id}}' kamal-proxy").stdout
    keys_before = key_files()
    config = stack.edited()
    config["servers"]["api"]["proxy"]["strip_path_prefix"] = False
    config["servers"]["web"]["proxy"]["ssl_redirect"] = False
    stack.write(config)
    cert = stack.stack.get_config("fleetform:PK_CERT").value
    stack.up()

    assert https_get("/api/", cert)[:3:2] == (200, "api kept")
    # Plain HTTP now reaches the app instead of being redirected.
    assert http_get("/")[::2] == (200, "web")
    assert https_get("/", cert)[:3:2] == (200, "web")
    # Neither the proxy container nor the certificate's files were replaced.
    assert ssh(host_address("h1"), "docker inspect -f '{{.Id}}' kamal-proxy").stdout == proxy_before
    assert key_files() == keys_before


def test_a_new_certificate_is_served_and_the_old_key_is_emptied(
    keys_stack: tuple[OpsStack, Path],
) -> None:
    stack, _ = keys_stack
    (old_directory,) = key_files()
    cert, key = certificate(NAME)
    set_certificate(stack, cert, key)
    stack.up()

    status, _, body, served = https_get("/", cert)
    assert (status, body, served) == (200, "web", der(cert))
    keys = key_files()
    assert set(keys) - {old_directory}, keys
    # The replaced version's key is emptied (the proxy image has no shell to delete it with).
    assert keys[old_directory].split()[2] == "0", keys[old_directory]
    new = next(line for directory, line in keys.items() if directory != old_directory)
    assert new.split()[2] != "0", new
