"""The registry the app image is pushed to and pulled from."""

from __future__ import annotations


import re

from components.config.model import (
    RegistryConfig,
)
from components.config.values import (
    ENV_NAME,
    Section,
    describe,
    string_value,
)
from components.errors import DeployConfigError

REGISTRY_KEYS = frozenset({"server", "username", "password"})
_REGISTRY_SERVER = re.compile(r"^[A-Za-z0-9.-]+(?::[0-9]+)?(?:/[a-z0-9._-]+)*$")
LOCAL_REGISTRY_REASON = (
    "for localhost:PORT Kamal runs a registry on this machine and forwards the port to every "
    "host over SSH while it deploys; pulumi-command opens one session per command and cannot "
    "hold a reverse tunnel, so the hosts would pull from their own localhost. Run a registry "
    "the hosts can reach and name it here"
)


def _secret_name(value: object, path: str, example: str) -> str:
    """Kamal's secret reference: `[NAME]` (or a bare NAME, as fleetform always accepted for the
    password). The value might be a credential pasted by mistake, so it is never echoed."""
    if isinstance(value, list):
        if len(value) != 1:
            raise DeployConfigError(
                f"{path}: must name exactly one secret (got a list of {len(value)})"
            )
        value = value[0]
    if not isinstance(value, str) or not ENV_NAME.match(value):
        raise DeployConfigError(
            f"{path}: must be the name of a secret, like [{example}] "
            "(got a value that is not a secret name)"
        )
    return value


def read_registry(value: object, path: str = "registry") -> RegistryConfig | None:
    """The top-level `registry`, or an accessory's own one at `path`."""
    if value is None:
        return None
    section = Section(value, path, path)
    section.check_keys(REGISTRY_KEYS)
    server = "docker.io"
    if section.has("server"):
        server = string_value(section.get("server"), f"{path}/server")
        if server.split("/", 1)[0].split(":", 1)[0].lower() == "localhost":
            raise DeployConfigError(
                f"{path}/server: not supported by fleetform: {LOCAL_REGISTRY_REASON} "
                f"(got {describe(server)})"
            )
        if not _REGISTRY_SERVER.match(server):
            raise DeployConfigError(
                f"{path}/server: must be a registry host[:port] (got {describe(server)})"
            )
    username = section.require("username")
    username_secret = None
    if isinstance(username, list):
        # Kamal: a one-item list is a secret's name; the user name itself never reaches argv.
        username_secret = _secret_name(username, f"{path}/username", "KAMAL_REGISTRY_USERNAME")
        username = ""
    else:
        username = string_value(username, f"{path}/username")
    password = _secret_name(
        section.require("password"), f"{path}/password", "KAMAL_REGISTRY_PASSWORD"
    )
    return RegistryConfig(
        server=server,
        username=username,
        password_secret=password,
        username_secret=username_secret,
    )
