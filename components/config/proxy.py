"""`proxy`: Kamal 2's kamal-proxy section, at the top level and per role, and its `run` settings.

The top-level section holds the route settings every proxied role starts from, plus `run` (how
the one kamal-proxy per host runs). A role's `proxy: true` takes them as they are, a mapping is
deep-merged over them, `proxy: false` turns the proxy off. The primary role is proxied unless it
says `proxy: false`, as in Kamal, or publishes host ports itself (see `role_proxy`).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from components.config.container_settings import read_options
from components.config.model import (
    BufferingConfig,
    HealthcheckConfig,
    ProxyConfig,
    ProxyRunConfig,
)
from components.config.values import (
    ENV_NAME,
    REPOSITORY_PATH,
    Section,
    child_path,
    describe,
    string_list,
    string_value,
    whole_number,
)
from components.errors import DeployConfigError

PROXY_KEYS = frozenset(
    {
        "host", "hosts", "app_port", "ssl", "healthcheck", "response_timeout", "buffering",
        "forward_headers", "logging", "run", "ssl_redirect", "path_prefix", "strip_path_prefix",
        "certificate_pem", "private_key_pem",
    }
)  # fmt: skip
PROXY_NOT_YET: Mapping[str, str] = {}
SSL_KEYS = frozenset({"certificate_pem", "private_key_pem"})
HEALTHCHECK_KEYS = frozenset({"path", "interval", "timeout"})
BUFFERING_KEYS = frozenset(
    {"requests", "responses", "max_request_body", "max_response_body", "memory"}
)
LOGGING_KEYS = frozenset({"request_headers", "response_headers"})
RUN_KEYS = frozenset(
    {
        "http_port", "https_port", "publish", "bind_ips", "options", "registry", "repository",
        "version", "debug", "log_max_size", "metrics_port", "http3",
    }
)  # fmt: skip
RUN_NOT_YET: Mapping[str, str] = {}

_HOST_NAME = re.compile(
    r"^(?:\*\.)?[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*$"
)
_HEADER = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]+$")
_PATH = re.compile(r"^/[A-Za-z0-9._~!$&'()*+,;=:@%/-]*$")
_REGISTRY = re.compile(r"^[A-Za-z0-9.-]+(?::[0-9]+)?$")
_REPOSITORY = re.compile(rf"^{REPOSITORY_PATH}$")
_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
_SIZE = re.compile(r"^[1-9][0-9]*[kmg]?$")


def read_top_proxy(value: object) -> tuple[dict[str, Any], ProxyRunConfig]:
    """The top-level section: its route settings (checked, kept raw for merging) and `run`."""
    if value is None:
        return {}, ProxyRunConfig()
    section = Section(value, "proxy", "proxy")
    section.check_keys(PROXY_KEYS, PROXY_NOT_YET)
    route = {key: item for key, item in section.items() if key != "run"}
    run = read_run(section.get("run")) if section.has("run") else ProxyRunConfig()
    read_route(route, "proxy")  # errors name the top-level path, even if no role is proxied
    return route, run


def role_proxy(
    value: object,
    path: str,
    *,
    top: Mapping[str, Any],
    primary: bool,
    publishes: bool,
) -> ProxyConfig | None:
    """A role's route, or None when it is not proxied.

    `value` is the role's `proxy` key (None when absent). A primary role that publishes host
    ports itself is not proxied by default: a proxied container publishes nothing, and such a
    role was written for fleetform before it had a proxy.
    """
    if value is None:
        proxied = primary and not publishes
        return read_route(top, "proxy") if proxied else None
    if value is False:
        return None
    if value is True:
        route: Mapping[str, Any] = top
    elif isinstance(value, Mapping):
        section = Section(value, path, path)
        if section.has("run"):
            raise DeployConfigError(
                f"{section.child('run')}: only in the top-level proxy section, one kamal-proxy "
                f"runs per host (got {describe(section.get('run'))})"
            )
        section.check_keys(PROXY_KEYS, PROXY_NOT_YET)
        own = dict(section.items())
        if "host" in own or "hosts" in own:
            # The role names its own hosts: the top level's other spelling must not also apply.
            top = {key: item for key, item in top.items() if key not in ("host", "hosts")}
        route = _deep_merge(top, own)
    else:
        raise DeployConfigError(f"{path}: must be true, false or a mapping (got {describe(value)})")
    if publishes:
        raise DeployConfigError(
            f"{path}: a proxied role publishes no host port, kamal-proxy serves it; remove "
            f"options/publish or set proxy: false (got {describe(value)})"
        )
    return read_route(route, path)


def _deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, item in override.items():
        current = merged.get(key)
        if isinstance(current, Mapping) and isinstance(item, Mapping):
            merged[key] = _deep_merge(current, item)
        else:
            merged[key] = item
    return merged


def read_route(value: Mapping[str, Any], path: str) -> ProxyConfig:
    """Route settings (everything but `run`), already merged; errors are named under `path`."""
    section = Section(value, path, path)
    section.check_keys(PROXY_KEYS - {"run"}, PROXY_NOT_YET)
    if section.has("host") and section.has("hosts"):
        raise DeployConfigError(f"{path}: specify one of 'host' or 'hosts', not both")
    hosts: tuple[str, ...] = ()
    if section.has("host"):
        text = string_value(section.get("host"), section.child("host"))
        hosts = _host_names(text.split(","), section.child("host"), split=True)
    elif section.has("hosts"):
        hosts = _host_names(
            string_list(section.get("hosts"), section.child("hosts")), section.child("hosts")
        )
    tls = _tls(section, hosts)
    path_prefixes = _path_prefixes(section, tls)
    app_port = 80
    if section.has("app_port"):
        app_port = whole_number(
            section.get("app_port"), section.child("app_port"), minimum=1, maximum=65535
        )
    forward_headers = None
    if section.has("forward_headers"):
        forward_headers = _boolean(section.get("forward_headers"), section.child("forward_headers"))
    response_timeout = None
    if section.has("response_timeout"):
        response_timeout = whole_number(
            section.get("response_timeout"), section.child("response_timeout"), minimum=1
        )
    healthcheck = HealthcheckConfig()
    if section.has("healthcheck"):
        healthcheck = _healthcheck(section.get("healthcheck"), section.child("healthcheck"))
    buffering = BufferingConfig()
    if section.has("buffering"):
        buffering = _buffering(section.get("buffering"), section.child("buffering"))
    route = ProxyConfig(
        hosts=hosts,
        app_port=app_port,
        healthcheck=healthcheck,
        response_timeout=response_timeout,
        buffering=buffering,
        forward_headers=forward_headers,
        path_prefixes=path_prefixes,
        strip_path_prefix=(
            _boolean(section.get("strip_path_prefix"), section.child("strip_path_prefix"))
            if section.has("strip_path_prefix")
            else None
        ),
        ssl=tls.enabled,
        ssl_redirect=tls.redirect,
        certificate_secret=tls.certificate,
        private_key_secret=tls.private_key,
    )
    if section.has("logging"):
        logging = Section(
            section.get("logging"), section.child("logging"), section.child("logging")
        )
        logging.check_keys(LOGGING_KEYS)
        request_headers = route.request_headers
        if logging.has("request_headers"):
            request_headers = _headers(
                logging.get("request_headers"), logging.child("request_headers")
            )
        response_headers: tuple[str, ...] = ()
        if logging.has("response_headers"):
            response_headers = _headers(
                logging.get("response_headers"), logging.child("response_headers")
            )
        route = ProxyConfig(
            **{
                **route.__dict__,
                "request_headers": request_headers,
                "response_headers": response_headers,
            }
        )
    return route


def _host_names(names: list[str], path: str, *, split: bool = False) -> tuple[str, ...]:
    found: list[str] = []
    for index, raw in enumerate(names):
        name = raw.strip() if split else raw
        where = path if split else child_path(path, index)
        if not _HOST_NAME.match(name):
            raise DeployConfigError(
                f"{where}: must be a host name like app.example.com (got {describe(name)})"
            )
        if name in found:
            raise DeployConfigError(f"{where}: duplicate host name (got {describe(name)})")
        found.append(name)
    return tuple(found)


@dataclass(frozen=True)
class _Tls:
    enabled: bool = False
    redirect: bool | None = None
    certificate: str | None = None
    private_key: str | None = None


def _tls(section: Section, hosts: tuple[str, ...]) -> _Tls:
    """`ssl` (true, false, or Kamal's `{certificate_pem, private_key_pem}` mapping), the older
    `certificate_pem`/`private_key_pem` beside `ssl: true`, and `ssl_redirect`."""
    path = section.child("ssl")
    value = section.get("ssl") if section.has("ssl") else False
    names: dict[str, str] = {}
    if isinstance(value, Mapping):
        ssl = Section(value, path, path)
        ssl.check_keys(SSL_KEYS)
        names = {key: _secret_name(item, ssl.child(key)) for key, item in ssl.items()}
        where = path
        for key in SSL_KEYS:
            if section.has(key):
                raise DeployConfigError(
                    f"{section.child(key)}: the certificate is already given under ssl; keep one "
                    f"of the two spellings (got {describe(section.get(key))})"
                )
    elif isinstance(value, bool):
        where = section.path
        for key in sorted(SSL_KEYS):
            if section.has(key):
                if not value:
                    raise DeployConfigError(
                        f"{section.child(key)}: a custom certificate needs ssl: true "
                        f"(got {describe(section.get(key))} with ssl off)"
                    )
                names[key] = _secret_name(section.get(key), section.child(key))
    else:
        raise DeployConfigError(
            f"{path}: must be true, false or a mapping of certificate_pem and private_key_pem "
            f"(got {describe(value)})"
        )
    enabled = value is not False
    for key, other in (
        ("certificate_pem", "private_key_pem"),
        ("private_key_pem", "certificate_pem"),
    ):
        if key in names and other not in names:
            raise DeployConfigError(
                f"{where}: missing {other}, required when {key} is given (got {key} only)"
            )
    if enabled and isinstance(value, Mapping) and not names:
        raise DeployConfigError(
            f"{path}: must name certificate_pem and private_key_pem, or be true (got {{}})"
        )
    if enabled and not hosts:
        kind = "automatic SSL" if value is True else "SSL"
        raise DeployConfigError(
            f"{path}: must set proxy/host to enable {kind} (got {describe(value)})"
        )
    redirect = None
    if section.has("ssl_redirect"):
        redirect = _boolean(section.get("ssl_redirect"), section.child("ssl_redirect"))
        if not enabled:
            raise DeployConfigError(
                f"{section.child('ssl_redirect')}: only applies with ssl: true, kamal-proxy "
                f"redirects nothing without HTTPS (got {describe(redirect)})"
            )
    return _Tls(
        enabled=enabled,
        redirect=redirect,
        certificate=names.get("certificate_pem"),
        private_key=names.get("private_key_pem"),
    )


def _secret_name(value: object, path: str) -> str:
    # The value might be a PEM pasted by mistake, so it is never echoed.
    if not isinstance(value, str) or not ENV_NAME.match(value):
        raise DeployConfigError(
            f"{path}: must be the name of a secret holding the PEM, like CERTIFICATE_PEM "
            f"(got a value that is not a secret name)"
        )
    return value


def _path_prefixes(section: Section, tls: _Tls) -> tuple[str, ...]:
    if not section.has("path_prefix"):
        if section.has("strip_path_prefix"):
            raise DeployConfigError(
                f"{section.child('strip_path_prefix')}: only applies with path_prefix "
                f"(got {describe(section.get('strip_path_prefix'))})"
            )
        return ()
    where = section.child("path_prefix")
    text = string_value(section.get("path_prefix"), where)
    prefixes: list[str] = []
    for raw in text.split(","):
        # kamal-proxy's own normalisation: one leading slash, no trailing one.
        prefix = "/" + raw.strip().strip("/")
        if not raw.strip() or not _PATH.match(prefix) or "//" in prefix:
            raise DeployConfigError(
                f"{where}: must be URL paths like /api, comma-separated (got {describe(text)})"
            )
        if prefix in prefixes:
            raise DeployConfigError(f"{where}: duplicate path {prefix} (got {describe(text)})")
        prefixes.append(prefix)
    if tls.enabled and "/" not in prefixes:
        raise DeployConfigError(
            f"{where}: kamal-proxy sets up HTTPS only on a host's root-path route; a path_prefix "
            f"route takes HTTPS from the root route of its host, so drop ssl here "
            f"(got {describe(text)} with ssl)"
        )
    return tuple(prefixes)


def _boolean(value: object, path: str) -> bool:
    if not isinstance(value, bool):
        raise DeployConfigError(f"{path}: must be true or false (got {describe(value)})")
    return value


def _healthcheck(value: object, path: str) -> HealthcheckConfig:
    section = Section(value, path, path)
    section.check_keys(HEALTHCHECK_KEYS)
    check = HealthcheckConfig()
    path_value = check.path
    if section.has("path"):
        path_value = string_value(section.get("path"), section.child("path"))
        if not _PATH.match(path_value):
            raise DeployConfigError(
                f"{section.child('path')}: must be a URL path starting with / "
                f"(got {describe(path_value)})"
            )
    interval = None
    if section.has("interval"):
        interval = whole_number(section.get("interval"), section.child("interval"), minimum=1)
    timeout = None
    if section.has("timeout"):
        timeout = whole_number(section.get("timeout"), section.child("timeout"), minimum=1)
    return HealthcheckConfig(path=path_value, interval=interval, timeout=timeout)


def _buffering(value: object, path: str) -> BufferingConfig:
    section = Section(value, path, path)
    section.check_keys(BUFFERING_KEYS)
    requests = (
        _boolean(section.get("requests"), section.child("requests"))
        if section.has("requests")
        else True
    )
    responses = (
        _boolean(section.get("responses"), section.child("responses"))
        if section.has("responses")
        else True
    )
    sizes: dict[str, int | None] = {}
    for key in ("max_request_body", "max_response_body", "memory"):
        sizes[key] = (
            whole_number(section.get(key), section.child(key), minimum=1 if key == "memory" else 0)
            if section.has(key)
            else None
        )
    return BufferingConfig(
        requests=requests,
        responses=responses,
        max_request_body=sizes["max_request_body"],
        max_response_body=sizes["max_response_body"],
        memory=sizes["memory"],
    )


def _headers(value: object, path: str) -> tuple[str, ...]:
    names = string_list(value, path, allow_empty=True)
    for index, name in enumerate(names):
        if not _HEADER.match(name):
            raise DeployConfigError(
                f"{child_path(path, index)}: must be an HTTP header name (got {describe(name)})"
            )
    return tuple(names)


def read_run(value: object) -> ProxyRunConfig:
    path = "proxy/run"
    section = Section(value, path, path)
    section.check_keys(RUN_KEYS, RUN_NOT_YET)
    run = ProxyRunConfig()
    values: dict[str, Any] = {}
    for key in ("http_port", "https_port", "metrics_port"):
        if section.has(key):
            values[key] = whole_number(
                section.get(key), section.child(key), minimum=1, maximum=65535
            )
    for key in ("publish", "debug", "http3"):
        if section.has(key):
            values[key] = _boolean(section.get(key), section.child(key))
    if section.has("bind_ips"):
        values["bind_ips"] = _bind_ips(section.get("bind_ips"), section.child("bind_ips"))
    if section.has("options"):
        options, ports = read_options(section.get("options"), section.child("options"))
        if ports:
            raise DeployConfigError(
                f"{section.child('options')}/publish: kamal-proxy's ports are run/http_port, "
                f"run/https_port and run/bind_ips (got {describe(ports[0])})"
            )
        values["options"] = options
    if section.has("registry"):
        registry = string_value(section.get("registry"), section.child("registry"))
        if not _REGISTRY.match(registry):
            raise DeployConfigError(
                f"{section.child('registry')}: must be a registry host[:port] "
                f"(got {describe(registry)})"
            )
        values["registry"] = registry
    if section.has("repository"):
        repository = string_value(section.get("repository"), section.child("repository"))
        if not _REPOSITORY.match(repository):
            raise DeployConfigError(
                f"{section.child('repository')}: must be a lowercase repository name like "
                f"basecamp/kamal-proxy (got {describe(repository)})"
            )
        values["repository"] = repository
    if section.has("version"):
        version = section.get("version")
        if not isinstance(version, str) or not _TAG.match(version):
            raise DeployConfigError(
                f"{section.child('version')}: must be an image tag like v0.9.2 "
                f"(got {describe(version)})"
            )
        values["version"] = version
    if section.has("log_max_size"):
        size = section.get("log_max_size")
        if not isinstance(size, str) or not _SIZE.match(size):
            raise DeployConfigError(
                f"{section.child('log_max_size')}: must be a size like 10m (got {describe(size)})"
            )
        values["log_max_size"] = size
    run = ProxyRunConfig(**{**run.__dict__, **values})
    if run.publish and run.http_port == run.https_port:
        raise DeployConfigError(
            f"{path}: http_port and https_port must differ (got {run.http_port} for both)"
        )
    return run


def _bind_ips(value: object, path: str) -> tuple[str, ...]:
    found: list[str] = []
    for index, item in enumerate(string_list(value, path)):
        try:
            address = ipaddress.ip_address(item.strip("[]"))
        except ValueError:
            raise DeployConfigError(
                f"{child_path(path, index)}: must be an IP address (got {describe(item)})"
            ) from None
        text = str(address)
        if text in found:
            raise DeployConfigError(
                f"{child_path(path, index)}: duplicate address (got {describe(item)})"
            )
        found.append(text)
    return tuple(found)
