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


def read_registry(value: object, path: str = "registry") -> RegistryConfig | None:
    """The top-level `registry`, or an accessory's own one at `path`."""
    if value is None:
        return None
    section = Section(value, path, path)
    section.check_keys(REGISTRY_KEYS)
    server = "docker.io"
    if section.has("server"):
        server = string_value(section.get("server"), f"{path}/server")
        if not _REGISTRY_SERVER.match(server):
            raise DeployConfigError(
                f"{path}/server: must be a registry host[:port] (got {describe(server)})"
            )
    username = section.require("username")
    if isinstance(username, list):
        raise DeployConfigError(
            f"{path}/username: secret usernames are not supported yet by fleetform "
            f"(got {describe(username)})"
        )
    password = section.require("password")
    if isinstance(password, list):
        if len(password) != 1:
            raise DeployConfigError(
                f"{path}/password: must name exactly one secret (got a list of {len(password)})"
            )
        password = password[0]
    # The value might be a literal password pasted by mistake, so it is never echoed.
    if not isinstance(password, str) or not ENV_NAME.match(password):
        raise DeployConfigError(
            f"{path}/password: must be the name of a secret, like [KAMAL_REGISTRY_PASSWORD] "
            "(got a value that is not a secret name)"
        )
    return RegistryConfig(
        server=server,
        username=string_value(username, f"{path}/username"),
        password_secret=password,
    )
