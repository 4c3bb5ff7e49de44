"""Every deploy-file error, Kamal-style: a bad fragment merged into a valid config; exact text."""

from __future__ import annotations

from typing import Any

import pytest

from components.config import (
    BUILDER_NOT_YET,
    SSH_NOT_YET,
    TOP_LEVEL_NOT_YET,
    describe,
    parse_config,
)
from components.errors import PlanError
from components.plan import build_plan
from components.version import VERSION
from tests.unit.support import DELETE, assert_config_error, config_with

PORT_FORMS = "6379, 6379:6379 or 127.0.0.1:6379:6379"
VOLUME_FORM = "must be host-path-or-volume:/container/path[:options]"
NAME_RULE = "must contain only lowercase letters, digits, '-' and '_'"


def redis(**overrides: Any) -> dict[str, Any]:
    """An `accessories` fragment with one valid redis accessory, changed by `overrides`."""
    accessory: dict[str, Any] = {"image": "redis:7.0", "host": "10.0.0.4", **overrides}
    return {"redis": {key: value for key, value in accessory.items() if value is not DELETE}}


def web(**overrides: Any) -> dict[str, Any]:
    return {"web": {"hosts": ["10.0.0.1", "10.0.0.2"], **overrides}}


# --- top level --------------------------------------------------------------------------------


def test_unknown_top_level_key() -> None:
    assert_config_error("deploy.yml: unknown key 'servrs'", servrs={"web": ["10.0.0.1"]})


@pytest.mark.parametrize("key", sorted(TOP_LEVEL_NOT_YET))
def test_kamal_top_level_keys_not_supported_yet(key: str) -> None:
    fragment: dict[str, Any] = {key: {"host": "app.example.com"}}
    assert_config_error(
        f"{key}: not supported by fleetform: {TOP_LEVEL_NOT_YET[key]} (got a mapping)", **fragment
    )


def test_not_supported_message_describes_scalars() -> None:
    assert_config_error(
        f"run_directory: not supported by fleetform: {TOP_LEVEL_NOT_YET['run_directory']} (got 4)",
        run_directory=4,
    )


def test_require_destination_refuses_a_deploy_without_one() -> None:
    assert_config_error(
        "require_destination: this deploy file is only deployed to a destination "
        "(set fleetform:destination, or -d for plan)",
        require_destination=True,
    )
    assert_config_error(
        "require_destination: must be true or false (got 'yes')", require_destination="yes"
    )
    # With a destination it plans as usual.
    build_plan(parse_config(config_with(require_destination=True), destination="staging"))


@pytest.mark.parametrize(
    ("wanted", "message"),
    [
        (
            "99.0",
            f"minimum_version: this deploy file needs fleetform 99.0 or newer (this is {VERSION})",
        ),
        ("1.x", "minimum_version: must be a version like 1.2.0 (got '1.x')"),
        ("²", "minimum_version: must be a version like 1.2.0 (got '²')"),
    ],
)
def test_minimum_version_is_checked_against_fleetforms_own(wanted: str, message: str) -> None:
    assert_config_error(message, minimum_version=wanted)


def test_an_older_minimum_version_passes() -> None:
    build_plan(parse_config(config_with(minimum_version="0.1")))


@pytest.mark.parametrize("key", ["traefik", "healthcheck", "stop_wait_time"])
def test_kamal_1_keys_are_rejected(key: str) -> None:
    fragment: dict[str, Any] = {key: {"a": 1}}
    assert_config_error(f"{key}: Kamal 1 setting, removed in Kamal 2 (got a mapping)", **fragment)


@pytest.mark.parametrize("key", ["service", "image", "servers"])
def test_required_top_level_keys(key: str) -> None:
    fragment: dict[str, Any] = {key: DELETE}
    assert_config_error(f"deploy.yml: missing required key '{key}'", **fragment)


@pytest.mark.parametrize(
    ("service", "message"),
    [
        ("My App", f"service: {NAME_RULE} (got 'My App')"),
        ("app.web", f"service: {NAME_RULE} (got 'app.web')"),
        (7, "service: must be a string (got 7)"),
        ("", "service: must not be empty (got '')"),
        (None, "service: must be a string (got null)"),
    ],
)
def test_service_name(service: object, message: str) -> None:
    assert_config_error(message, service=service)


@pytest.mark.parametrize(
    ("image", "message"),
    [
        ("org/app:1.0", "must be a lowercase repository name without a tag, like org/app"),
        ("Org/App", "must be a lowercase repository name without a tag, like org/app"),
        ("org/app@sha256:abc", "must be a lowercase repository name without a tag, like org/app"),
        ("ghcr.io/org/app", "the registry belongs in registry/server, not in image"),
        ("localhost:5000/app", "the registry belongs in registry/server, not in image"),
    ],
)
def test_app_image(image: str, message: str) -> None:
    assert_config_error(f"image: {message} (got {image!r})", image=image)


def test_keys_must_be_strings() -> None:
    assert_config_error("env: keys must be strings (got 1)", env={1: "x"})


def test_top_level_must_be_a_mapping_in_sections() -> None:
    assert_config_error("builder: must be a mapping (got 'arm64')", builder="arm64")
    assert_config_error("accessories: must be a mapping (got a list)", accessories=["redis"])
    assert_config_error("labels: must be a mapping (got a list)", labels=["a=b"])


def test_retain_containers() -> None:
    assert_config_error("retain_containers: must be >= 1 (got 0)", retain_containers=0)
    assert_config_error(
        "retain_containers: must be a whole number (got 'five')", retain_containers="five"
    )
    # Only ASCII digits are numbers: superscripts and other scripts' digits are not.
    assert_config_error(
        "retain_containers: must be a whole number (got '³')", retain_containers="³"
    )
    assert_config_error(
        "retain_containers: must be a whole number (got '٣')", retain_containers="٣"
    )


def test_global_volumes() -> None:
    assert_config_error("volumes: must be a list (got '/a:/b')", volumes="/a:/b")
    assert_config_error(
        f"volumes/1: {VOLUME_FORM} (got 'data')",
        volumes=["/a:/b", "data"],
    )


def test_global_labels() -> None:
    assert_config_error(
        "labels/service: reserved, fleetform sets it itself (got 'x')", labels={"service": "x"}
    )
    assert_config_error("labels: invalid label name (got 'a b')", labels={"a b": "x"})
    assert_config_error(
        "labels/team: must be a string or a number (got a list)", labels={"team": [1]}
    )


# --- builder ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("arch", "message"),
    [
        ("arm", "builder/arch: must be one of amd64, arm64 (got 'arm')"),
        (64, "builder/arch: must be one of amd64, arm64 (got 64)"),
        (["amd64", "sparc"], "builder/arch/1: must be one of amd64, arm64 (got 'sparc')"),
        (["arm64", "aarch64"], "builder/arch/1: duplicate arch arm64 (got 'aarch64')"),
        ([], "builder/arch: must name at least one arch (got an empty list)"),
    ],
)
def test_builder_arch(arch: object, message: str) -> None:
    assert_config_error(message, builder={"arch": arch})


@pytest.mark.parametrize("key", sorted(BUILDER_NOT_YET))
def test_builder_keys_not_supported_yet(key: str) -> None:
    assert_config_error(
        f"builder/{key}: not supported by fleetform: {BUILDER_NOT_YET[key]} (got 'x')",
        builder={key: "x"},
    )


def test_builder_other_errors() -> None:
    assert_config_error("builder: unknown key 'arches'", builder={"arches": ["arm64"]})
    assert_config_error(
        "builder/multiarch: Kamal 1 setting, removed in Kamal 2 (got false)",
        builder={"multiarch": False},
    )
    assert_config_error("builder/dockerfile: must be a string (got 3)", builder={"dockerfile": 3})
    assert_config_error("builder/context: must not be empty (got '')", builder={"context": ""})
    assert_config_error(
        "builder/args: invalid build arg name (got '1BAD')", builder={"args": {"1BAD": "x"}}
    )


# --- servers and roles ------------------------------------------------------------------------


def test_servers_shape() -> None:
    assert_config_error(
        "servers: must be a list of hosts or a mapping of roles (got '10.0.0.1')",
        servers="10.0.0.1",
    )
    assert_config_error("servers: must list at least one host (got an empty list)", servers=[])
    assert_config_error("servers/1: duplicate host (got '10.0.0.1')", servers=["10.0.0.1"] * 2)
    assert_config_error(
        "servers: must define at least one role (got an empty mapping)",
        servers={"web": DELETE, "x-anchor": ["10.0.0.9"]},
    )


def test_role_shape() -> None:
    assert_config_error(
        "servers/web: must be a list of hosts or a mapping (got '10.0.0.1')",
        servers={"web": "10.0.0.1"},
    )
    assert_config_error(f"servers/Web: {NAME_RULE} (got 'Web')", servers={"Web": ["10.0.0.3"]})
    assert_config_error("servers/web: unknown key 'prot'", servers=web(prot=80))
    assert_config_error(
        "servers/web: missing required key 'hosts'", servers=web(hosts=DELETE, cmd="x")
    )
    assert_config_error(
        "servers/web/traefik: Kamal 1 setting, removed in Kamal 2 (got true)",
        servers=web(traefik=True),
    )


@pytest.mark.parametrize(
    ("hosts", "message"),
    [
        ([], "servers/web/hosts: must list at least one host (got an empty list)"),
        ("10.0.0.1", "servers/web/hosts: must be a list of hosts (got '10.0.0.1')"),
        (["10.0.0.1", 3], "servers/web/hosts/1: must be a string (got 3)"),
        (["a b"], "servers/web/hosts/0: must be a hostname or IP address (got 'a b')"),
        (
            ["root@10.0.0.1"],
            "servers/web/hosts/0: must be a hostname or IP address (got 'root@10.0.0.1')",
        ),
        (
            ["10.0.0.1", {"10.0.0.3": 5}],
            "servers/web/hosts/1/10.0.0.3: must be a tag or a list of tags (got 5)",
        ),
        (
            ["10.0.0.1", "10.0.0.2", "10.0.0.1"],
            "servers/web/hosts/2: duplicate host (got '10.0.0.1')",
        ),
    ],
)
def test_role_hosts(hosts: object, message: str) -> None:
    assert_config_error(message, servers=web(hosts=hosts))


def test_role_given_as_plain_list_checks_hosts() -> None:
    assert_config_error(
        "servers/jobs/1: duplicate host (got '10.0.0.3')", servers={"jobs": ["10.0.0.3"] * 2}
    )


def test_role_arch() -> None:
    assert_config_error(
        "servers/web/arch: must be one of amd64, arm64 (got 'x86')", servers=web(arch="x86")
    )
    assert_config_error(
        "servers/web: arch amd64 is not built (builder/arch is arm64)", servers=web(arch="amd64")
    )
    assert_config_error(
        "servers/web: arch amd64 is not built (builder/arch is arm64)", servers=web(arch="x86_64")
    )


def test_role_cmd() -> None:
    assert_config_error(
        'servers/web/cmd: No closing quotation (got "sh -c \'sleep 1")',
        servers=web(cmd="sh -c 'sleep 1"),
    )
    assert_config_error("servers/web/cmd: must be a string (got a list)", servers=web(cmd=["a"]))


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (
            {"--memory": "1g"},
            "options: option names are docker long options without '--' (got '--memory')",
        ),
        ({"p": "80:80"}, "options: option names are docker long options without '--' (got 'p')"),
        (
            {"platform": "linux/amd64"},
            "options/platform: set by fleetform from arch (got 'linux/amd64')",
        ),
        ({"name": "x"}, "options/name: set by fleetform from the service and role (got 'x')"),
        ({"tty": False}, "options/tty: must be a value, or true for a flag (got false)"),
        (
            {"ulimit": {"a": 1}},
            "options/ulimit: must be a value, or true for a flag (got a mapping)",
        ),
        (
            {"publish": "eighty"},
            f"options/publish: must be a port like {PORT_FORMS} (got 'eighty')",
        ),
        (
            {"publish": ["80:8080", "99999:1"]},
            "options/publish/1: ports must be 1-65535 (got '99999:1')",
        ),
        ("memory=1g", "options: must be a mapping (got 'memory=1g')"),
    ],
)
def test_role_options(options: object, message: str) -> None:
    assert_config_error(f"servers/web/{message}", servers=web(options=options))


def test_role_labels() -> None:
    assert_config_error(
        "servers/web/labels/role: reserved, fleetform sets it itself (got 'api')",
        servers=web(labels={"role": "api"}),
    )


def test_primary_role() -> None:
    assert_config_error(
        "primary_role: must name a role in servers (got 'api'; roles are web)", primary_role="api"
    )
    assert_config_error(
        "primary_role: must name a role in servers (got 'web', the default; roles are jobs)",
        servers={"web": DELETE, "jobs": ["10.0.0.3"]},
    )
    assert_config_error("primary_role: must be a string (got a list)", primary_role=["web"])


# --- env --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"1X": "a"}, "env: invalid environment variable name (got '1X')"),
        ({"A-B": "a"}, "env: invalid environment variable name (got 'A-B')"),
        ({"A": None}, "env/A: must be a string or a number (got null)"),
        ({"A": "a\nb"}, "env/A: must be a single line (got 'a\\nb')"),
        ({"clear": {"A": ["x"]}}, "env/clear/A: must be a string or a number (got a list)"),
        ({"clear": "A=1"}, "env/clear: must be a mapping (got 'A=1')"),
        ({"secret": "A"}, "env/secret: must be a list (got 'A')"),
        ({"secret": ["A", 1]}, "env/secret/1: must be a string (got 1)"),
        ({"secret": ["A", "A"]}, "env/secret/1: duplicate secret (got 'A')"),
        (
            {"secret": ["my-env"]},
            "env/secret/0: invalid environment variable name, or NAME:SECRET for a secret alias "
            "(got 'my-env')",
        ),
        (
            {"secret": ["DB:MAIN:X"]},
            "env/secret/0: invalid environment variable name, or NAME:SECRET for a secret alias "
            "(got 'DB:MAIN:X')",
        ),
        ({"secret": ["DB", "DB:MAIN_DB"]}, "env/secret/1: duplicate secret (got 'DB:MAIN_DB')"),
        ({"tags": {"db": ["A=1"]}}, "env/tags/db: must be a mapping (got a list)"),
        ({"clear": {}, "extra": 1}, "env: unknown key 'extra'"),
        ({"clear": {"A": "1"}, "secret": ["A"]}, "env: A is both a clear and a secret variable"),
        (["A=1"], "env: must be a mapping (got a list)"),
    ],
)
def test_env(env: object, message: str) -> None:
    assert_config_error(message, env=env)


def test_role_env_is_checked_after_merging_over_global_env() -> None:
    assert_config_error(
        "servers/web: A is both a clear and a secret variable",
        env={"secret": ["A"]},
        servers=web(env={"clear": {"A": "1"}}),
    )
    assert_config_error(
        "servers/web/env/secret/0: invalid environment variable name, or NAME:SECRET for a "
        "secret alias (got 'a.b')",
        servers=web(env={"secret": ["a.b"]}),
    )


# --- registry ---------------------------------------------------------------------------------


REGISTRY = {"server": "10.0.0.100:5000", "username": "deploy", "password": ["REGISTRY_PASSWORD"]}


def test_registry() -> None:
    assert_config_error("registry: unknown key 'user'", registry={**REGISTRY, "user": "x"})
    assert_config_error(
        "registry: missing required key 'password'", registry={**REGISTRY, "password": DELETE}
    )
    assert_config_error(
        "registry: missing required key 'username'", registry={**REGISTRY, "username": DELETE}
    )
    assert_config_error(
        "registry/server: must be a registry host[:port] (got 'https://r.example.com')",
        registry={**REGISTRY, "server": "https://r.example.com"},
    )
    assert_config_error(
        "registry/password: must name exactly one secret (got a list of 2)",
        registry={**REGISTRY, "password": ["A", "B"]},
    )


def test_registry_password_value_is_never_echoed() -> None:
    message = (
        "registry/password: must be the name of a secret, like [KAMAL_REGISTRY_PASSWORD] "
        "(got a value that is not a secret name)"
    )
    assert_config_error(message, registry={**REGISTRY, "password": "hunter2!"})
    assert_config_error(message, registry={**REGISTRY, "password": [12345]})


# --- accessories ------------------------------------------------------------------------------


def test_accessory_unknown_key() -> None:
    assert_config_error("accessories/redis: unknown key 'prot'", accessories=redis(prot="6379"))


def test_accessory_placement_keys() -> None:
    assert_config_error(
        "accessories/redis: must set exactly one of host, hosts, role, roles, tag or tags",
        accessories=redis(host=DELETE),
    )
    assert_config_error(
        "accessories/redis: must set exactly one of host, hosts, role, roles, tag or tags (got host, roles)",
        accessories=redis(roles=["web"]),
    )
    assert_config_error(
        "accessories/redis: must set exactly one of host, hosts, role, roles, tag or tags (got host, hosts, roles)",
        accessories=redis(hosts=["10.0.0.5"], roles=["web"]),
    )


def test_accessory_hosts() -> None:
    assert_config_error(
        "accessories/redis/host: must be a string (got a list)", accessories=redis(host=["a"])
    )
    assert_config_error(
        "accessories/redis/hosts/1: duplicate host (got '10.0.0.5')",
        accessories=redis(host=DELETE, hosts=["10.0.0.5", "10.0.0.5"]),
    )
    assert_config_error(
        "accessories/redis/hosts: must list at least one host (got an empty list)",
        accessories=redis(host=DELETE, hosts=[]),
    )


def test_accessory_roles() -> None:
    assert_config_error(
        "accessories/redis/roles/0: not a role in servers (got 'worker'; roles are web)",
        accessories=redis(host=DELETE, roles=["worker"]),
    )
    assert_config_error(
        "accessories/redis/roles/1: duplicate role (got 'web')",
        accessories=redis(host=DELETE, roles=["web", "web"]),
    )
    assert_config_error(
        "accessories/redis/roles: must not be empty (got an empty list)",
        accessories=redis(host=DELETE, roles=[]),
    )


def test_accessory_image_and_name() -> None:
    assert_config_error(
        "accessories/redis: missing required key 'image'", accessories=redis(image=DELETE)
    )
    assert_config_error(
        "accessories/redis/image: must be an image reference like redis:7.0 (got 'Redis 7')",
        accessories=redis(image="Redis 7"),
    )
    assert_config_error(
        f"accessories/Redis: {NAME_RULE} (got 'Redis')",
        accessories={"Redis": {"image": "redis:7.0", "host": "10.0.0.4"}},
    )
    assert_config_error(
        "accessories/redis: must be a mapping (got 'redis:7.0')", accessories={"redis": "redis:7.0"}
    )


def test_accessory_arch() -> None:
    assert_config_error(
        "accessories/redis/arch: must be one of amd64, arm64 (got 'i386')",
        accessories=redis(arch="i386"),
    )


@pytest.mark.parametrize(
    ("port", "problem"),
    [
        ("abc", f"must be a port like {PORT_FORMS}"),
        ("6379:6379:6379:6379", f"must be a port like {PORT_FORMS}"),
        ("8000-8010:8000-8010", f"must be a port like {PORT_FORMS}"),
        ("70000", "ports must be 1-65535"),
        ("0:6379", "ports must be 1-65535"),
        ("1.2.3.999:6379:6379", "invalid IPv4 address"),
        (True, f"must be a port like {PORT_FORMS}"),
        (6379.5, f"must be a port like {PORT_FORMS}"),
    ],
)
def test_accessory_port(port: object, problem: str) -> None:
    assert_config_error(
        f"accessories/redis/port: {problem} (got {describe(port)})", accessories=redis(port=port)
    )


@pytest.mark.parametrize(
    ("volume", "message"),
    [
        ("data", f"{VOLUME_FORM} (got 'data')"),
        ("/srv/data:data", f"{VOLUME_FORM} (got '/srv/data:data')"),
        ("./data:/data", f"{VOLUME_FORM} (got './data:/data')"),
        ("/a:/b:ro:z", f"{VOLUME_FORM} (got '/a:/b:ro:z')"),
        ("/a:/b:rx", "unknown mount option 'rx' (got '/a:/b:rx')"),
        (5, "must be a string (got 5)"),
    ],
)
def test_accessory_volumes(volume: object, message: str) -> None:
    assert_config_error(
        f"accessories/redis/volumes/0: {message}", accessories=redis(volumes=[volume])
    )


@pytest.mark.parametrize(
    ("directory", "message"),
    [
        ("data", "must be host-dir:/container/path[:options] (got 'data')"),
        ("data:data", "must be host-dir:/container/path[:options] (got 'data:data')"),
        ("../data:/data", "must be host-dir:/container/path[:options] (got '../data:/data')"),
    ],
)
def test_accessory_directories(directory: object, message: str) -> None:
    assert_config_error(
        f"accessories/redis/directories/0: {message}", accessories=redis(directories=[directory])
    )
    assert_config_error(
        "accessories/redis/directories: must be a list (got 'data:/data')",
        accessories=redis(directories="data:/data"),
    )


def test_accessory_env_cmd_and_labels() -> None:
    assert_config_error(
        "accessories/redis/env/clear/A: must be a string or a number (got null)",
        accessories=redis(env={"clear": {"A": None}}),
    )
    assert_config_error(
        "accessories/redis/cmd: No escaped character (got 'redis-server \\\\')",
        accessories=redis(cmd="redis-server \\"),
    )
    assert_config_error(
        "accessories/redis/labels/accessory: reserved, fleetform sets it itself (got 'x')",
        accessories=redis(labels={"accessory": "x"}),
    )


# --- ssh and boot -----------------------------------------------------------------------------


@pytest.mark.parametrize("key", sorted(SSH_NOT_YET))
def test_ssh_keys_not_supported_yet(key: str) -> None:
    assert_config_error(
        f"ssh/{key}: not supported by fleetform: {SSH_NOT_YET[key]} (got 'x')", ssh={key: "x"}
    )


@pytest.mark.parametrize(
    ("ssh", "message"),
    [
        ({"port": 0}, "ssh/port: must be between 1 and 65535 (got 0)"),
        ({"port": "ssh"}, "ssh/port: must be a whole number (got 'ssh')"),
        ({"port": True}, "ssh/port: must be a whole number (got true)"),
        ({"port": "²"}, "ssh/port: must be a whole number (got '²')"),
        ({"port": "٢٢"}, "ssh/port: must be a whole number (got '٢٢')"),
        ({"port": "２２"}, "ssh/port: must be a whole number (got '２２')"),
        (
            {"keys": ["~/.ssh/a", "~/.ssh/b"]},
            "ssh/keys: fleetform logs in with one private key; list one (got 2)",
        ),
        ({"user": "Deploy User"}, "ssh/user: invalid user name (got 'Deploy User')"),
        ({"keys": "~/.ssh/id"}, "ssh/keys: must be a list (got '~/.ssh/id')"),
        ({"host": "x"}, "ssh: unknown key 'host'"),
    ],
)
def test_ssh(ssh: dict[str, Any], message: str) -> None:
    assert_config_error(message, ssh=ssh)


@pytest.mark.parametrize(
    ("boot", "message"),
    [
        ({"limit": 0}, "boot/limit: must be >= 1 (got 0)"),
        ({"limit": "150%"}, "boot/limit: must be between 1 and 100 (got 150)"),
        (
            {"limit": "5 %"},
            "boot/limit: must be a number of hosts or a percentage like 25% (got '5 %')",
        ),
        ({"limit": "all"}, "boot/limit: must be a whole number (got 'all')"),
        ({"wait": -1}, "boot/wait: must be >= 0 (got -1)"),
        ({"wait": 1.5}, "boot/wait: must be a whole number (got 1.5)"),
        ({"wait": "²"}, "boot/wait: must be a whole number (got '²')"),
        ({"wait": "٣"}, "boot/wait: must be a whole number (got '٣')"),
        ({"limit": "²"}, "boot/limit: must be a whole number (got '²')"),
        (
            {"limit": "²%"},
            "boot/limit: must be a number of hosts or a percentage like 25% (got '²%')",
        ),
        (
            {"limit": "٥٠%"},
            "boot/limit: must be a number of hosts or a percentage like 25% (got '٥٠%')",
        ),
        ({"parallel": 2}, "boot: unknown key 'parallel'"),
    ],
)
def test_boot(boot: dict[str, Any], message: str) -> None:
    assert_config_error(message, boot=boot)


# --- impossible plans -------------------------------------------------------------------------


def test_role_and_accessory_declare_different_arches_on_one_host() -> None:
    assert_config_error(
        "10.0.0.4: role web needs arm64 but accessory redis declares amd64",
        error=PlanError,
        servers=web(hosts=["10.0.0.1", "10.0.0.4"]),
        accessories=redis(arch="amd64"),
    )


def test_two_roles_need_different_arches_on_one_host() -> None:
    assert_config_error(
        "10.0.0.1: role web needs arm64 but role jobs needs amd64",
        error=PlanError,
        builder={"arch": ["amd64", "arm64"]},
        servers={"web": {"arch": "arm64"}, "jobs": {"hosts": ["10.0.0.1"], "arch": "amd64"}},
    )


def test_two_accessories_declare_different_arches_on_one_host() -> None:
    assert_config_error(
        "10.0.0.5: accessory db declares arm64 but accessory redis declares amd64",
        error=PlanError,
        accessories={
            "db": {"image": "postgres:16", "host": "10.0.0.5", "arch": "aarch64"},
            "redis": {"image": "redis:7.0", "host": "10.0.0.5", "arch": "x86_64"},
        },
    )


def test_role_and_accessory_with_the_same_container_name_on_one_host() -> None:
    assert_config_error(
        "10.0.0.1: role redis and accessory redis would both be container app-redis",
        error=PlanError,
        servers={"redis": ["10.0.0.1"]},
        accessories=redis(host="10.0.0.1"),
    )


def test_boot_parallel_roles_is_a_boolean() -> None:
    assert_config_error(
        "boot/parallel_roles: must be true or false (got 'yes')", boot={"parallel_roles": "yes"}
    )
    assert parse_config(config_with(boot={"parallel_roles": True})).boot.parallel_roles
