"""What roles and accessories share: env (clear values and secret names), labels, docker options."""

from __future__ import annotations

import re
from collections.abc import Mapping

from components.config.model import EnvConfig, EnvTags, Logging, Options, Pairs, secret_source
from components.config.values import (
    ENV_NAME,
    ENV_RULE,
    Section,
    child_path,
    describe,
    name_value_pairs,
    normalise_port,
    scalar_text,
    string_list,
)
from components.errors import DeployConfigError


ENV_KEYS = frozenset({"clear", "secret"})
ENV_NOT_YET: Mapping[str, str] = {}
ENV_TAGS = "tags"
"""Kamal allows `tags` only in the top-level env: a tag's env applies to its hosts in every role."""
# Labels fleetform sets itself on every container (see components.plan).
RESERVED_LABELS = frozenset({"service", "role", "accessory", "destination"})
# Options fleetform derives from the plan; letting the file set them would contradict the plan.
RESERVED_OPTIONS: Mapping[str, str] = {
    "name": "set by fleetform from the service and role",
    "platform": "set by fleetform from arch",
}

_OPTION_NAME = re.compile(r"^[a-z0-9][a-z0-9-]*[a-z0-9]$")
_LABEL_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]*$")


def read_labels(value: object, path: str) -> Pairs:
    labels = name_value_pairs(value, path, key_pattern=_LABEL_KEY, rule="invalid label name")
    for key, label in labels:
        if key in RESERVED_LABELS:
            raise DeployConfigError(
                f"{child_path(path, key)}: reserved, fleetform sets it itself "
                f"(got {describe(label)})"
            )
    return labels


def read_env(value: object, path: str, *, tags_allowed: bool = False) -> EnvConfig:
    """Kamal's env, simple (`NAME: value`) or `clear`/`secret`; `tags` is read by read_env_tags."""
    section = Section(value, path, path)
    if not (set(section.values) & (ENV_KEYS | {ENV_TAGS})):
        return EnvConfig(clear=name_value_pairs(value, path, key_pattern=ENV_NAME, rule=ENV_RULE))
    if section.has(ENV_TAGS) and not tags_allowed:
        raise DeployConfigError(
            f"{section.child(ENV_TAGS)}: only allowed in the top-level env, as in Kamal "
            f"(got {describe(section.get(ENV_TAGS))})"
        )
    section.check_keys(ENV_KEYS | {ENV_TAGS} if tags_allowed else ENV_KEYS, ENV_NOT_YET)
    clear: Pairs = ()
    if section.has("clear"):
        clear_path = section.child("clear")
        clear = name_value_pairs(
            section.get("clear"), clear_path, key_pattern=ENV_NAME, rule=ENV_RULE
        )
    secret: list[str] = []
    if section.has("secret"):
        secret_path = section.child("secret")
        for index, name in enumerate(
            string_list(section.get("secret"), secret_path, allow_empty=True)
        ):
            item_path = child_path(secret_path, index)
            if not all(ENV_NAME.match(part) for part in name.split(":")) or name.count(":") > 1:
                raise DeployConfigError(
                    f"{item_path}: {ENV_RULE}, or NAME:SECRET for a secret alias "
                    f"(got {describe(name)})"
                )
            if secret_source(name)[0] in {secret_source(entry)[0] for entry in secret}:
                raise DeployConfigError(f"{item_path}: duplicate secret (got {describe(name)})")
            secret.append(name)
    return checked_env(EnvConfig(clear=clear, secret=tuple(secret)), path)


def read_env_tags(value: object, path: str) -> EnvTags:
    """`env.tags`: each tag's env, in file order (the env itself is read by read_env)."""
    if not isinstance(value, Mapping) or ENV_TAGS not in value:
        return ()
    tags_path = child_path(path, ENV_TAGS)
    section = Section(value[ENV_TAGS], tags_path, tags_path)
    return tuple((tag, read_env(item, section.child(tag))) for tag, item in section.items())


def checked_env(env: EnvConfig, path: str) -> EnvConfig:
    secret_names = {secret_source(entry)[0] for entry in env.secret}
    both = [name for name, _ in env.clear if name in secret_names]
    if both:
        raise DeployConfigError(f"{path}: {both[0]} is both a clear and a secret variable")
    return env


def read_options(value: object, path: str) -> tuple[Options, tuple[str, ...]]:
    """Docker options in file order, with `publish` split out as normalised ports."""
    section = Section(value, path, path)
    options: list[tuple[str, str | None]] = []
    ports: list[str] = []
    for key, item in section.values.items():
        key_path = child_path(path, key)
        if not _OPTION_NAME.match(key):
            raise DeployConfigError(
                f"{path}: option names are docker long options without '--' (got {describe(key)})"
            )
        if key in RESERVED_OPTIONS:
            raise DeployConfigError(f"{key_path}: {RESERVED_OPTIONS[key]} (got {describe(item)})")
        items = item if isinstance(item, list) else [item]
        for index, entry in enumerate(items):
            entry_path = child_path(key_path, index) if isinstance(item, list) else key_path
            if key == "publish":
                ports.append(normalise_port(entry, entry_path))
            elif entry is True or entry is None:
                options.append((key, None))
            elif isinstance(entry, bool | Mapping | list):
                raise DeployConfigError(
                    f"{entry_path}: must be a value, or true for a flag (got {describe(entry)})"
                )
            else:
                options.append((key, scalar_text(entry, entry_path)))
    return tuple(options), tuple(ports)


LOGGING_KEYS = frozenset({"driver", "options"})


def read_logging(value: object, path: str, *, over: Logging | None = None) -> Logging:
    """Kamal's `logging` (`driver`, `options`): a role's merges over the top level's, key by key.

    It becomes `--log-driver` and one `--log-opt key=value` per option on `docker run`.
    """
    section = Section(value, path, path)
    section.check_keys(LOGGING_KEYS)
    base = over or Logging()
    driver = base.driver
    if section.has("driver"):
        driver = scalar_text(section.get("driver"), section.child("driver"))
        if not _OPTION_NAME.match(driver) and driver not in ("none", "local"):
            raise DeployConfigError(
                f"{section.child('driver')}: must be a Docker log driver name (got {describe(driver)})"
            )
    options = dict(base.options)
    if section.has("options"):
        own = Section(section.get("options"), section.child("options"), section.child("options"))
        for key, item in own.items():
            options[str(key)] = scalar_text(item, own.child(str(key)))
    return Logging(driver=driver, options=tuple(options.items()))


def logging_options(logging: Logging) -> Options:
    """The `docker run` options of a logging setting, in a stable order."""
    found: list[tuple[str, str | None]] = []
    if logging.driver:
        found.append(("log-driver", logging.driver))
    found += [("log-opt", f"{key}={value}") for key, value in logging.options]
    return tuple(found)
