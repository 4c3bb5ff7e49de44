"""What a valid deploy file turns into, and how files and destinations are read."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from components.config import (
    BootConfig,
    EnvConfig,
    RegistryConfig,
    deep_merge,
    destination_path,
    load_config,
    load_yaml_text,
)
from components.errors import DeployConfigError
from tests.unit.support import DELETE, parse

ERB_SUBSET = (
    """<%= ENV["NAME"] %>, <%= ENV['NAME'] %>, <%= ENV.fetch("NAME") %> and """
    """<%= ENV.fetch("NAME", "default") %>"""
)


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_minimal_config_defaults() -> None:
    config = parse()
    assert config.service == "app"
    assert config.primary_role == "web"
    assert config.registry is None
    assert config.app_repository == "org/app"
    assert [role.name for role in config.roles] == ["web"]
    assert config.roles[0].hosts == ("10.0.0.1", "10.0.0.2")
    assert config.ssh.user == "root" and config.ssh.port == 22
    assert config.boot == BootConfig()
    assert config.builder.dockerfile == "Dockerfile" and config.builder.context == "."


def test_config_is_frozen() -> None:
    config = parse()
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.service = "other"  # type: ignore[misc]


def test_builder_defaults_to_both_arches_like_kamal() -> None:
    config = parse(builder=DELETE)
    assert config.builder.arches == ("amd64", "arm64")
    assert config.roles[0].arch is None


@pytest.mark.parametrize(
    ("alias", "arch"),
    [
        ("x86_64", "amd64"),
        ("linux/amd64", "amd64"),
        ("amd64", "amd64"),
        ("aarch64", "arm64"),
        ("linux/arm64", "arm64"),
        ("arm64", "arm64"),
    ],
)
def test_arch_aliases_are_normalised(alias: str, arch: str) -> None:
    config = parse(
        builder={"arch": [alias]},
        servers={"web": {"hosts": ["10.0.0.1"], "arch": alias}},
        accessories={"redis": {"image": "redis:7", "host": "10.0.0.4", "arch": alias}},
    )
    assert config.builder.arches == (arch,)
    assert config.roles[0].arch == arch
    assert config.accessories[0].arch == arch


def test_builder_arches_are_kept_in_canonical_order() -> None:
    assert parse(builder={"arch": ["aarch64", "x86_64"]}).builder.arches == ("amd64", "arm64")


def test_role_without_arch_takes_the_single_builder_arch() -> None:
    config = parse(servers={"jobs": ["10.0.0.3"]}, builder={"arch": "aarch64"})
    assert {role.name: role.arch for role in config.roles} == {"web": "arm64", "jobs": "arm64"}


def test_role_without_arch_is_unknown_with_a_multi_arch_builder() -> None:
    config = parse(builder={"arch": ["amd64", "arm64"]})
    assert config.roles[0].arch is None


def test_servers_as_a_list_is_the_web_role() -> None:
    config = parse(servers=["10.0.0.1", "10.0.0.2"])
    assert [(role.name, role.hosts) for role in config.roles] == [("web", ("10.0.0.1", "10.0.0.2"))]


def test_role_as_a_plain_list_of_hosts() -> None:
    config = parse(servers={"jobs": ["10.0.0.3"]})
    assert config.role("jobs").hosts == ("10.0.0.3",)


def test_same_host_in_two_roles_is_allowed() -> None:
    config = parse(servers={"jobs": ["10.0.0.1"]})
    assert config.role("jobs").hosts == ("10.0.0.1",)


def test_hostnames_and_ipv6_are_hosts() -> None:
    config = parse(servers={"web": {"hosts": ["app-1.example.com", "fd00::11"]}})
    assert config.roles[0].hosts == ("app-1.example.com", "fd00::11")


def test_role_env_is_merged_over_global_env_like_kamal() -> None:
    config = parse(
        env={"clear": {"A": "global", "B": 2}, "secret": ["S1"]},
        servers={
            "web": {"env": {"clear": {"A": "web", "C": True}, "secret": ["S2", "S1"]}},
            "jobs": ["10.0.0.3"],
        },
    )
    assert config.role("web").env == EnvConfig(
        clear=(("A", "web"), ("B", "2"), ("C", "true")), secret=("S1", "S2")
    )
    assert config.role("jobs").env == config.env


def test_flat_env_is_all_clear() -> None:
    config = parse(env={"GREETING": "hello", "PORT": 8080})
    assert config.env == EnvConfig(clear=(("GREETING", "hello"), ("PORT", "8080")))


def test_accessories_do_not_inherit_global_env() -> None:
    config = parse(env={"A": "1"}, accessories={"redis": {"image": "redis:7", "host": "10.0.0.4"}})
    assert config.accessory("redis").env == EnvConfig()


def test_options_keep_file_order_flags_and_repeats_and_split_out_publish() -> None:
    config = parse(
        servers={
            "web": {
                "options": {
                    "memory": "256m",
                    "init": True,
                    "read-only": None,
                    "add-host": ["a:10.0.0.1", "b:10.0.0.2"],
                    "cpus": 1.5,
                    "publish": ["80:8080", 9000],
                }
            }
        }
    )
    role = config.role("web")
    assert role.options == (
        ("memory", "256m"),
        ("init", None),
        ("read-only", None),
        ("add-host", "a:10.0.0.1"),
        ("add-host", "b:10.0.0.2"),
        ("cpus", "1.5"),
    )
    assert role.ports == ("80:8080", "9000:9000")


def test_labels_merge_global_then_role() -> None:
    config = parse(labels={"team": "core", "tier": "1"}, servers={"web": {"labels": {"tier": "2"}}})
    assert dict(config.role("web").labels) == {"team": "core", "tier": "2"}


@pytest.mark.parametrize(
    ("port", "normalised"),
    [
        ("6379", "6379:6379"),
        (6379, "6379:6379"),
        ("16379:6379", "16379:6379"),
        ("127.0.0.1:6379:6379", "127.0.0.1:6379:6379"),
        ("127.0.0.1:6379", "127.0.0.1:6379:6379"),
        ("[::1]:6379:6379", "[::1]:6379:6379"),
        ("5353:53/udp", "5353:53/udp"),
        ("06379:6379", "6379:6379"),
    ],
)
def test_accessory_port_forms(port: object, normalised: str) -> None:
    config = parse(accessories={"redis": {"image": "redis:7", "host": "10.0.0.4", "port": port}})
    assert config.accessory("redis").port == normalised
    assert config.accessory("redis").ports == (normalised,)


def test_accessory_hosts_from_host_hosts_and_roles() -> None:
    config = parse(
        servers={"web": {"hosts": ["10.0.0.1", "10.0.0.2"]}, "jobs": ["10.0.0.2", "10.0.0.3"]},
        accessories={
            "one": {"image": "a:1", "host": "10.0.0.9"},
            "many": {"image": "a:1", "hosts": ["10.0.0.8", "10.0.0.9"]},
            "by-role": {"image": "a:1", "roles": ["jobs", "web"]},
        },
    )
    assert config.accessory("one").hosts == ("10.0.0.9",)
    assert config.accessory("many").hosts == ("10.0.0.8", "10.0.0.9")
    assert config.accessory("by-role").hosts == ("10.0.0.2", "10.0.0.3", "10.0.0.1")
    assert config.accessory("by-role").roles == ("jobs", "web")


def test_accessory_volumes_and_directories_are_kept() -> None:
    config = parse(
        accessories={
            "db": {
                "image": "postgres:16",
                "host": "10.0.0.4",
                "volumes": ["/srv/conf:/etc/postgresql:ro", "pgsock:/run/postgresql:rw,z"],
                "directories": ["data:/var/lib/postgresql/data", "/srv/logs:/logs"],
            }
        }
    )
    db = config.accessory("db")
    assert db.volumes == ("/srv/conf:/etc/postgresql:ro", "pgsock:/run/postgresql:rw,z")
    assert [(d.local, d.remote) for d in db.directories] == [
        ("data", "/var/lib/postgresql/data"),
        ("/srv/logs", "/logs"),
    ]


def test_registry_password_forms() -> None:
    for password in (["REGISTRY_PASSWORD"], "REGISTRY_PASSWORD"):
        config = parse(
            registry={"server": "10.0.0.100:5000", "username": "u", "password": password}
        )
        assert config.registry == RegistryConfig("10.0.0.100:5000", "u", "REGISTRY_PASSWORD")
        assert config.app_repository == "10.0.0.100:5000/org/app"


def test_registry_server_defaults_to_docker_hub() -> None:
    config = parse(registry={"username": "u", "password": ["P"]})
    assert config.registry is not None and config.registry.server == "docker.io"


def test_ssh_and_boot() -> None:
    config = parse(
        ssh={"user": "deploy", "port": "2222", "keys": ["~/.ssh/id_ed25519"]},
        boot={"limit": "25%", "wait": 2},
    )
    assert (config.ssh.user, config.ssh.port, config.ssh.keys) == (
        "deploy",
        2222,
        ("~/.ssh/id_ed25519",),
    )
    assert config.boot == BootConfig(limit=None, limit_percent=25, wait=2)
    assert config.boot.limit_for(8) == 2
    assert config.boot.limit_for(3) == 1
    assert BootConfig(limit=3).limit_for(100) == 3
    assert BootConfig().limit_for(10) is None


def test_x_keys_are_ignored_everywhere_sections_are() -> None:
    config = parse(
        **{"x-common": {"anything": [1, 2]}},
        servers={"web": {"x-note": "hi"}, "x-template": {"hosts": ["10.9.9.9"]}},
        accessories={
            "x-defaults": {"image": "bad image"},
            "redis": {"image": "redis:7", "host": "10.0.0.4", "x-owner": "ops"},
        },
        builder={"x-cache": True},
        env={"clear": {"A": "1"}, "x-doc": "ignored"},
    )
    assert [role.name for role in config.roles] == ["web"]
    assert [accessory.name for accessory in config.accessories] == ["redis"]


# --- YAML files ---------------------------------------------------------------------------------


def test_yaml_anchors_and_merge_keys_work() -> None:
    raw = load_yaml_text(
        "x-env: &env {A: '1'}\nservice: app\nenv:\n  <<: *env\n  B: '2'\n", source="deploy.yml"
    )
    assert raw["env"] == {"A": "1", "B": "2"}


def test_unquoted_port_pairs_stay_strings() -> None:
    # YAML 1.1 reads 22:22 as the base-60 integer 1342; fleetform reads the string.
    raw = load_yaml_text("port: 22:22\npublish: 1:30\nn: 1_000\nf: 1.5\n", source="deploy.yml")
    assert raw == {"port": "22:22", "publish": "1:30", "n": 1000, "f": 1.5}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "service: app\nimage: org/app\nservers:\n  web: [10.0.0.1\n",
            "deploy.yml: invalid YAML at line 5: expected ',' or ']', but got '<stream end>'",
        ),
        (
            "service: app\nimage: org/app: 1\n",
            "deploy.yml: invalid YAML at line 2: mapping values are not allowed here",
        ),
        (
            "service: app\nimage: org/app\nservice: other\n",
            "deploy.yml: invalid YAML at line 3: duplicate key 'service'",
        ),
        ("", "deploy.yml: must be a mapping of settings (got an empty file)"),
        ("# just a comment\n", "deploy.yml: must be a mapping of settings (got an empty file)"),
        ("- web\n", "deploy.yml: must be a mapping of settings (got a list)"),
        ("hello\n", "deploy.yml: must be a mapping of settings (got 'hello')"),
        (
            "service: app\nimage: <% if true %>org/app<% end %>\n",
            "deploy.yml:2: unsupported ERB tag; fleetform supports only "
            + ERB_SUBSET
            + " (got '<% if true %>')",
        ),
        ("a: !!python/object:os.system x\n", None),
    ],
)
def test_yaml_errors(text: str, message: str | None) -> None:
    with pytest.raises(DeployConfigError) as raised:
        load_yaml_text(text, source="deploy.yml")
    if message is None:
        assert str(raised.value).startswith("deploy.yml: invalid YAML at line 1: ")
    else:
        assert str(raised.value) == message


SAMPLE = """\
service: hello
image: org/hello
builder:
  arch: arm64
servers:
  web:
    hosts: [10.0.0.1, 10.0.0.2]
    env:
      clear: {ROLE: web}
env:
  clear: {GREETING: hello, LEVEL: info}
accessories:
  redis: {image: redis:7.0, host: 10.0.0.4, arch: amd64}
"""


def test_load_config_reads_the_file(tmp_path: Path) -> None:
    config = load_config(write(tmp_path / "deploy.yml", SAMPLE))
    assert config.service == "hello"
    assert config.destination is None


def test_destination_file_is_deep_merged(tmp_path: Path) -> None:
    path = write(tmp_path / "config" / "deploy.yml", SAMPLE)
    write(
        tmp_path / "config" / "deploy.staging.yml",
        "servers:\n  web:\n    hosts: [10.1.0.1]\nenv:\n  clear: {LEVEL: debug}\n",
    )
    config = load_config(path, "staging")
    assert config.destination == "staging"
    # lists replace...
    assert config.role("web").hosts == ("10.1.0.1",)
    # ...maps merge, at every depth.
    assert dict(config.env.clear) == {"GREETING": "hello", "LEVEL": "debug"}
    assert dict(config.role("web").env.clear) == {
        "GREETING": "hello",
        "LEVEL": "debug",
        "ROLE": "web",
    }
    assert config.accessory("redis").arch == "amd64"


def test_empty_destination_file_means_no_overrides(tmp_path: Path) -> None:
    path = write(tmp_path / "deploy.yml", SAMPLE)
    write(tmp_path / "deploy.prod.yml", "# nothing to override\n")
    assert load_config(path, "prod").roles == load_config(path).roles


def test_missing_files_are_named(tmp_path: Path) -> None:
    with pytest.raises(DeployConfigError, match=r"^.*/nope\.yml: file not found$"):
        load_config(tmp_path / "nope.yml")
    path = write(tmp_path / "deploy.yml", SAMPLE)
    with pytest.raises(DeployConfigError) as raised:
        load_config(path, "staging")
    assert (
        str(raised.value)
        == f"{tmp_path}/deploy.staging.yml: file not found for destination 'staging'"
    )


def test_directory_and_bad_encoding(tmp_path: Path) -> None:
    with pytest.raises(DeployConfigError, match="is a directory, not a deploy file"):
        load_config(tmp_path)
    bad = tmp_path / "deploy.yml"
    bad.write_bytes(b"service: \xff\n")
    with pytest.raises(DeployConfigError, match="deploy.yml: is not UTF-8 text$"):
        load_config(bad)


def test_errors_in_a_destination_file_name_that_file(tmp_path: Path) -> None:
    path = write(tmp_path / "deploy.yml", SAMPLE)
    write(tmp_path / "deploy.staging.yml", "servers:\n  web: [\n")
    with pytest.raises(DeployConfigError, match=r"deploy\.staging\.yml: invalid YAML at line 3"):
        load_config(path, "staging")
    write(tmp_path / "deploy.staging.yml", "- a\n")
    with pytest.raises(DeployConfigError, match=r"deploy\.staging\.yml: must be a mapping"):
        load_config(path, "staging")


def test_destination_names_are_checked(tmp_path: Path) -> None:
    path = write(tmp_path / "deploy.yml", SAMPLE)
    with pytest.raises(DeployConfigError) as raised:
        load_config(path, "../etc")
    assert str(raised.value) == (
        "destination: must contain only lowercase letters, digits, '-' and '_' (got '../etc')"
    )


def test_unknown_keys_at_the_top_name_the_file(tmp_path: Path) -> None:
    path = write(tmp_path / "deploy.yml", SAMPLE + "proxi: {}\n")
    with pytest.raises(DeployConfigError) as raised:
        load_config(path)
    assert str(raised.value) == f"{path}: unknown key 'proxi'"


def test_destination_path() -> None:
    assert destination_path("config/deploy.yml", "staging") == Path("config/deploy.staging.yml")


def test_deep_merge() -> None:
    base = {"a": {"b": 1, "c": [1, 2]}, "d": "x"}
    assert deep_merge(base, {"a": {"c": [3]}, "d": {"e": 1}}) == {
        "a": {"b": 1, "c": [3]},
        "d": {"e": 1},
    }
    assert base == {"a": {"b": 1, "c": [1, 2]}, "d": "x"}


def test_the_config_package_keeps_every_name_other_modules_import() -> None:
    import components.config as package

    imported = {
        "ACCESSORY_NOT_YET", "ARCH_ALIASES", "Arch", "BUILDER_NOT_YET", "BootConfig",
        "DeployConfig", "EnvConfig", "NAME_PATTERN", "NAME_RULE", "ROLE_NOT_YET",
        "RegistryConfig", "SSH_NOT_YET", "TOP_LEVEL_NOT_YET", "AccessoryConfig", "BuilderConfig",
        "Options", "Pairs", "RoleConfig", "SshConfig", "deep_merge", "describe",
        "destination_path", "load_config", "load_yaml_text", "parse_config",
    }  # fmt: skip
    assert imported <= set(package.__all__)
    assert all(hasattr(package, name) for name in package.__all__)


# --- ERB environment tags -----------------------------------------------------------------------

ERB_ENVIRON = {"IMAGE": "org/from-env", "WEB_HOST": "10.0.0.7", "EMPTY": ""}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ('<%= ENV["IMAGE"] %>', "org/from-env"),
        ("<%= ENV['IMAGE'] %>", "org/from-env"),
        ('<%=ENV[ "IMAGE" ]%>', "org/from-env"),
        ('<%= ENV.fetch("IMAGE") %>', "org/from-env"),
        ("<%= ENV.fetch( 'IMAGE' ) %>", "org/from-env"),
        ('<%= ENV.fetch("MISSING", "org/default") %>', "org/default"),
        ("<%= ENV.fetch('MISSING', 'org/default') %>", "org/default"),
        ('<%= ENV.fetch("IMAGE", "org/default") %>', "org/from-env"),
        ('"<%= ENV["MISSING"] %>org/app"', "org/app"),
        ('"<%= ENV.fetch("EMPTY") %>org/app"', "org/app"),
        ("org/<%= ENV['MISSING'] %>app", "org/app"),
    ],
)
def test_erb_environment_tags(value: str, expected: str) -> None:
    text = f"service: app\nimage: {value}\n"
    assert load_yaml_text(text, source="deploy.yml", environ=ERB_ENVIRON)["image"] == expected


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (
            'image: <%= ENV.fetch("MISSING") %>',
            'config/deploy.yml:3: ENV.fetch("MISSING"): not set',
        ),
        (
            "image: <%= ENV.fetch('MISSING') %>",
            'config/deploy.yml:3: ENV.fetch("MISSING"): not set',
        ),
        ("image: <%= 1+1 %>", "<%= 1+1 %>"),
        ("image: <%- ENV['IMAGE'] %>", "<%- ENV['IMAGE'] %>"),
        ("image: <%= ENV['IMAGE'] -%>", "<%= ENV['IMAGE'] -%>"),
        ("# <% require 'x' %>", "<% require 'x' %>"),
        ("image: <%# comment %>", "<%# comment %>"),
        ("image: <%= ENV['IMAGE'].downcase %>", "<%= ENV['IMAGE'].downcase %>"),
        ("image: <%= ENV[name] %>", "<%= ENV[name] %>"),
        ('image: <%= ENV["IMAGE"] || "x" %>', '<%= ENV["IMAGE"] || "x" %>'),
        ('image: <%= ENV.fetch("X", "#{`id`}") %>', '<%= ENV.fetch("X", "#{`id`}") %>'),
        ('image: <%= ENV.fetch("X", "a\\n") %>', '<%= ENV.fetch("X", "a\\n") %>'),
        ("image: <%= `cat /etc/passwd` %>", "<%= `cat /etc/passwd` %>"),
        (
            "image: <%= ENV['IMAGE']",
            "config/deploy.yml:3: ERB tag without its closing '%>' (got \"<%= ENV['IMAGE']\")",
        ),
        (
            'image: <%= ENV["MULTI"] %>',
            'config/deploy.yml:3: ENV["MULTI"]: the value spans several lines, which would change '
            "the YAML around it",
        ),
    ],
)
def test_erb_errors_name_file_line_and_tag(line: str, message: str) -> None:
    text = f"service: app\n# line 2\n{line}\n"
    if not message.startswith("config/"):
        message = (
            f"config/deploy.yml:3: unsupported ERB tag; fleetform supports only {ERB_SUBSET} "
            f"(got {message!r})"
        )
    with pytest.raises(DeployConfigError) as raised:
        load_yaml_text(text, source="config/deploy.yml", environ={"MULTI": "a\nb: c"})
    assert str(raised.value) == message


def test_erb_in_deploy_and_destination_files(tmp_path: Path) -> None:
    base = write(
        tmp_path / "config" / "deploy.yml",
        "service: app\nimage: <%= ENV['IMAGE'] %>\nbuilder: {arch: arm64}\n"
        "servers:\n  web: [10.0.0.1]\n",
    )
    write(
        tmp_path / "config" / "deploy.staging.yml",
        "servers:\n  web: [<%= ENV.fetch('WEB_HOST') %>]\n",
    )
    config = load_config(base, "staging", environ=ERB_ENVIRON)
    assert config.image == "org/from-env"
    assert config.role("web").hosts == ("10.0.0.7",)
    with pytest.raises(DeployConfigError) as raised:
        load_config(base, "staging", environ={"IMAGE": "org/app"})
    assert (
        str(raised.value)
        == f'{tmp_path}/config/deploy.staging.yml:2: ENV.fetch("WEB_HOST"): not set'
    )


def test_erb_reads_the_process_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLEETFORM_TEST_IMAGE", "org/from-process")
    text = "service: app\nimage: <%= ENV['FLEETFORM_TEST_IMAGE'] %>\n"
    assert load_yaml_text(text, source="deploy.yml")["image"] == "org/from-process"
