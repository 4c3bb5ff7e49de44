"""Accessory keys: files, directories (mapping form, options), service, network, role, registry."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest

from components import docker_scripts
from components.accessory_uploads import read_source, rendered, upload_lines
from components.config import parse_config
from components.config.project import project_root
from components.config.model import AccessoryFile, DirectoryMount
from components.errors import DeployConfigError, PlanError
from components.plan import build_plan
from tests.unit.support import DELETE, assert_config_error, config_with, parse

REGISTRY = {"server": "ghcr.io", "username": "bot", "password": ["GHCR_TOKEN"]}


def redis(**overrides: Any) -> dict[str, Any]:
    accessory: dict[str, Any] = {"image": "redis:7.0", "host": "10.0.0.4", **overrides}
    return {"redis": {key: value for key, value in accessory.items() if value is not DELETE}}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A project root with config/deploy.yml's directory and two accessory files."""
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "redis.conf.erb").write_text(
        'requirepass <%= ENV["REDIS_PASSWORD"] %>\nport <%= ENV.fetch("PORT", "6379") %>\n'
    )
    (tmp_path / "config" / "motd.txt").write_bytes(b"hello\x00\xff\n")
    return tmp_path


def parse_in(project: Path, **accessory: Any) -> Any:
    raw = config_with(accessories=redis(**accessory))
    return parse_config(raw, source=str(project / "config" / "deploy.yml"))


# --- files ------------------------------------------------------------------------------------


def test_files_read_from_the_project_root_in_both_forms(project: Path) -> None:
    config = parse_in(
        project,
        files=[
            "config/redis.conf.erb:/usr/local/etc/redis/redis.conf:ro,Z",
            {
                "local": "config/motd.txt",
                "remote": "/etc/motd",
                "mode": "0640",
                "owner": "redis:redis",
                "options": "z",
            },
        ],
    )
    template, plain = config.accessory("redis").files
    assert template == AccessoryFile(
        local="config/redis.conf.erb",
        source=str(project.resolve() / "config/redis.conf.erb"),
        remote="/usr/local/etc/redis/redis.conf",
        mode="755",
        options="ro,Z",
    )
    assert template.template and not plain.template
    assert (plain.mode, plain.owner, plain.options) == ("0640", "redis:redis", "z")


def test_the_project_root_holds_config(tmp_path: Path) -> None:
    assert project_root(str(tmp_path / "config" / "deploy.yml")) == tmp_path.resolve()
    assert project_root(str(tmp_path / "elsewhere" / "deploy.yml")) == (
        tmp_path.resolve() / "elsewhere"
    )


def test_a_missing_file_is_a_config_error_naming_it(project: Path) -> None:
    with pytest.raises(DeployConfigError) as raised:
        parse_in(project, files=["config/nope.conf:/etc/nope.conf"])
    assert str(raised.value) == (
        f"accessories/redis/files/0: local file {project.resolve()}/config/nope.conf not found "
        f"(got 'config/nope.conf:/etc/nope.conf')"
    )


def test_a_directory_is_refused(project: Path) -> None:
    with pytest.raises(DeployConfigError) as raised:
        parse_in(project, files=["config:/etc/app"])
    assert str(raised.value) == (
        "accessories/redis/files/0: config is a directory; fleetform uploads single files, "
        "so list each file (got 'config:/etc/app')"
    )


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("config/motd.txt", "must be local-file:/container/path[:options] (got 'config/motd.txt')"),
        (
            "config/motd.txt:etc/motd",
            "the container path must be absolute, like /etc/app.conf "
            "(got 'config/motd.txt:etc/motd')",
        ),
        (
            "config/motd.txt:/etc/../motd",
            "the container path must be absolute, like /etc/app.conf "
            "(got 'config/motd.txt:/etc/../motd')",
        ),
        (
            "config/motd.txt:/etc/motd:rw,bogus",
            "unknown mount option 'bogus' (got 'config/motd.txt:/etc/motd:rw,bogus')",
        ),
        (
            "config/motd.txt:/etc/mo td",
            "the container path may hold only letters, digits and ._/@+=- (got '/etc/mo td')",
        ),
        ({"local": "config/motd.txt"}, "missing required key 'remote'"),
        (
            # YAML reads an unquoted 0640 as 416.
            {"local": "config/motd.txt", "remote": "/etc/motd", "mode": 416},
            '/mode: must be a quoted octal mode like "0640" (got 416)',
        ),
        (
            {"local": "config/motd.txt", "remote": "/etc/motd", "group": "x"},
            "unknown key 'group'",
        ),
        (12, "must be a string (got 12)"),
    ],
)
def test_bad_files(project: Path, entry: object, message: str) -> None:
    with pytest.raises(DeployConfigError) as raised:
        parse_in(project, files=[entry])
    separator = "" if message.startswith("/") else ": "
    assert str(raised.value) == f"accessories/redis/files/0{separator}{message}"


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("mode", "rwx", "mode: must be an octal mode like \"0640\" (got 'rwx')"),
        ("mode", "0800", "mode: must be an octal mode like \"0640\" (got '0800')"),
        (
            "owner",
            "root; rm -rf /",
            "owner: must be USER, USER:GROUP or numeric ids like 1000:1000 "
            "(got 'root; rm -rf /')",
        ),
    ],
)
def test_bad_file_mode_and_owner(project: Path, key: str, value: str, message: str) -> None:
    with pytest.raises(DeployConfigError) as raised:
        parse_in(project, files=[{"local": "config/motd.txt", "remote": "/etc/m", key: value}])
    assert str(raised.value) == f"accessories/redis/files/0/{message}"


def test_two_files_on_one_path_are_refused(project: Path) -> None:
    with pytest.raises(DeployConfigError) as raised:
        parse_in(project, files=["config/motd.txt:/etc/m", "config/redis.conf.erb:/etc/m"])
    assert str(raised.value) == (
        "accessories/redis/files/1: /etc/m is already mounted by an earlier entry"
    )


def test_a_file_may_not_share_a_mount_point_with_a_directory_or_volume(project: Path) -> None:
    with pytest.raises(DeployConfigError) as raised:
        parse_in(project, files=["config/motd.txt:/data"], directories=["data:/data"])
    assert str(raised.value) == (
        "accessories/redis/files/0: /data is already mounted by accessories/redis/directories/0"
    )
    with pytest.raises(DeployConfigError) as raised:
        parse_in(project, files=["config/motd.txt:/etc/motd"], volumes=["/srv/m:/etc/motd:ro"])
    assert str(raised.value) == (
        "accessories/redis/files/0: /etc/motd is already mounted by accessories/redis/volumes/0"
    )


def test_files_must_be_a_list() -> None:
    assert_config_error(
        "accessories/redis/files: must be a list (got 'a:/b')", accessories=redis(files="a:/b")
    )


def test_templates_render_with_the_accessory_env_secrets_included(project: Path) -> None:
    config = parse_in(project, files=["config/redis.conf.erb:/etc/redis.conf"])
    file = config.accessory("redis").files[0]
    text = rendered(file, read_source(file), {"REDIS_PASSWORD": "line1\nline2"})
    # A secret may span lines in a file, unlike in YAML.
    assert text == b"requirepass line1\nline2\nport 6379\n"


def test_a_bad_template_tag_names_the_file_and_line(project: Path) -> None:
    (project / "config" / "bad.erb").write_text("a\n<%= `id` %>\n")
    file = parse_in(project, files=["config/bad.erb:/etc/bad"]).accessory("redis").files[0]
    with pytest.raises(DeployConfigError) as raised:
        rendered(file, read_source(file), {})
    assert str(raised.value).startswith("config/bad.erb:2: unsupported ERB tag")


def test_plain_files_go_byte_for_byte(project: Path) -> None:
    file = parse_in(project, files=["config/motd.txt:/etc/motd"]).accessory("redis").files[0]
    content = rendered(file, read_source(file), {"X": "y"})
    assert content == b"hello\x00\xff\n"
    line = upload_lines([content])
    assert base64.b64decode(line) == content and line.count("\n") == 1


def test_files_are_planned_without_content(project: Path) -> None:
    config = parse_in(project, files=["config/redis.conf.erb:/etc/redis.conf"])
    placement = build_plan(config, scope="prod").accessory_placements("redis")[0]
    assert placement.to_json()["files"] == [
        {
            "local": "config/redis.conf.erb",
            "container": "/etc/redis.conf",
            "mode": "755",
            "owner": None,
            "options": None,
        }
    ]
    assert "requirepass" not in str(placement.to_json())


# --- the scripts for files ---------------------------------------------------------------------


def spec(**fields: Any) -> docker_scripts.ContainerSpec:
    return docker_scripts.ContainerSpec(
        name="app-redis-prod-0123456789ab",
        family="app-redis-prod",
        stack="prod",
        image="redis:7.0",
        platform="linux/amd64",
        exclusive=True,
        **fields,
    )


FILES = (
    docker_scripts.UploadedFile(remote="/etc/redis.conf", mode="0600", owner="999:999"),
    docker_scripts.UploadedFile(remote="/etc/motd", mode="755", options="ro,Z"),
)


def test_files_are_written_from_stdin_into_the_versions_own_directory() -> None:
    script = docker_scripts.container_create_script(spec(files=FILES))
    version_dir = '"$HOME"/app-redis-prod/.files/app-redis-prod-0123456789ab'
    first = script.index("IFS= read -r content")
    assert script.index("IFS= read -r content", first + 1) < script.index("cat > ")
    assert f"rm -rf {version_dir}\n" in script
    assert f"base64 -d > {version_dir}/etc/redis.conf\n" in script
    assert f"chmod 0600 {version_dir}/etc/redis.conf\nchown 999:999 {version_dir}/etc/" in script
    assert f"chmod 755 {version_dir}/etc/motd\n" in script
    assert f"--volume {version_dir}/etc/motd:/etc/motd:ro,Z" in script
    assert f"--volume {version_dir}/etc/redis.conf:/etc/redis.conf " in script
    # A failed start removes the failed version's copy, and the delete removes its own.
    rollback = script[script.index("rollback() {") :]
    assert f"rm -rf {version_dir}\n" in rollback[: rollback.index("}")]
    delete = docker_scripts.container_delete_script(spec(files=FILES))
    assert f"rm -rf {version_dir}\n" in delete


def test_without_files_the_scripts_stay_as_they_were() -> None:
    plain = spec()
    for script in (
        docker_scripts.container_create_script(plain),
        docker_scripts.container_delete_script(plain),
    ):
        assert ".files" not in script and "read -r content" not in script
    assert "--network fleetform " in docker_scripts.container_create_script(plain)
    assert "docker network inspect" not in docker_scripts.container_create_script(plain)


# --- directories ---------------------------------------------------------------------------


def test_directories_mapping_form_and_options() -> None:
    config = parse(
        accessories=redis(
            directories=[
                "data:/data:z",
                {"local": "logs", "remote": "/logs", "mode": "0750", "owner": "999:999"},
                {"local": "/srv/x", "remote": "/x", "options": "ro"},
            ]
        )
    )
    assert config.accessory("redis").directories == (
        DirectoryMount("data", "/data", options="z"),
        DirectoryMount("logs", "/logs", mode="0750", owner="999:999"),
        DirectoryMount("/srv/x", "/x", options="ro"),
    )
    placement = build_plan(config, scope="s").accessory_placements("redis")[0]
    assert [d.local for d in placement.directories] == [
        "~/app-redis-s/data",
        "~/app-redis-s/logs",
        "/srv/x",
    ]
    assert placement.to_json()["directories"][1] == {
        "host": "~/app-redis-s/logs",
        "container": "/logs",
        "mode": "0750",
        "owner": "999:999",
    }


def test_directory_access_is_set_after_mkdir() -> None:
    access = docker_scripts.DirectoryAccess("~/app-redis-prod/logs", mode="0750", owner="redis")
    script = docker_scripts.container_create_script(
        spec(directories=("~/app-redis-prod/logs",), directory_access=(access,))
    )
    assert (
        'mkdir -p "$HOME"/app-redis-prod/logs\nchmod 0750 "$HOME"/app-redis-prod/logs\n'
        'chown redis "$HOME"/app-redis-prod/logs\n'
    ) in script


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("data:/data:bogus", ": unknown mount option 'bogus' (got 'data:/data:bogus')"),
        (
            {"local": "data", "remote": "/data", "mode": "777x"},
            "/mode: must be an octal mode like \"0640\" (got '777x')",
        ),
        ({"local": "data"}, ": missing required key 'remote'"),
        (
            ".files/x:/x",
            ": .files is where fleetform keeps uploaded files; name the directory otherwise "
            "(got '.files/x')",
        ),
        (
            {"local": "a:b", "remote": "/data"},
            ": must be host-dir:/container/path[:options] (got 'a:b:/data')",
        ),
    ],
)
def test_bad_directories(entry: object, message: str) -> None:
    assert_config_error(
        f"accessories/redis/directories/0{message}", accessories=redis(directories=[entry])
    )


def test_two_directories_on_one_path_are_refused() -> None:
    assert_config_error(
        "accessories/redis/directories/1: /data is already mounted by an earlier entry",
        accessories=redis(directories=["a:/data", "b:/data"]),
    )


# --- service, network, role, registry ----------------------------------------------------------


def test_service_names_the_container_still_scoped_per_stack() -> None:
    config = parse(accessories=redis(service="cache", directories=["data:/data"]))
    placement = build_plan(config, scope="prod").accessory_placements("redis")[0]
    assert placement.container == "cache-prod"
    assert placement.directories[0].local == "~/cache-prod/data"
    assert ("accessory", "redis") in placement.labels


def test_a_service_name_must_suit_docker_and_not_clash() -> None:
    assert_config_error(
        "accessories/redis/service: must be a Docker name: letters, digits and _.- "
        "(got 'my cache')",
        accessories=redis(service="my cache"),
    )
    assert_config_error(
        "10.0.0.1: role web and accessory redis would both be container app-web",
        error=PlanError,
        accessories=redis(service="app-web", host="10.0.0.1"),
    )


def test_network_replaces_fleetforms_own_and_must_exist() -> None:
    config = parse(accessories=redis(network="backend"))
    placement = build_plan(config).accessory_placements("redis")[0]
    assert placement.network == "backend" and placement.to_json()["network"] == "backend"
    script = docker_scripts.container_create_script(spec(network="backend"))
    assert "--network backend " in script and "--network fleetform" not in script
    check = script.index("docker network inspect backend")
    assert check < script.index("to_restart=")
    assert "network backend does not exist on this host" in script
    assert_config_error(
        "accessories/redis/network: must be a Docker name: letters, digits and _.- (got '-x')",
        accessories=redis(network="-x"),
    )


def test_role_places_the_accessory_on_the_roles_hosts() -> None:
    config = parse(accessories=redis(host=DELETE, role="web"))
    assert config.accessory("redis").hosts == ("10.0.0.1", "10.0.0.2")
    assert config.accessory("redis").roles == ("web",)
    assert_config_error(
        "accessories/redis/role: not a role in servers (got 'jobs'; roles are web)",
        accessories=redis(host=DELETE, role="jobs"),
    )
    assert_config_error(
        "accessories/redis/role: must be one role name; use roles for a list (got a list)",
        accessories=redis(host=DELETE, role=["web"]),
    )
    assert_config_error(
        "accessories/redis: must set exactly one of host, hosts, role, roles, tag or tags "
        "(got host, role)",
        accessories=redis(role="web"),
    )


def test_registry_prefixes_the_image_and_logs_in_on_its_own() -> None:
    config = parse(accessories=redis(image="acme/redis:7", registry=REGISTRY))
    placement = build_plan(config).accessory_placements("redis")[0]
    assert placement.image == "ghcr.io/acme/redis:7"
    assert placement.to_json()["registry"] == {
        "server": "ghcr.io",
        "username": "bot",
        "password_secret": "GHCR_TOKEN",
    }


def test_bad_accessory_registries() -> None:
    assert_config_error(
        "accessories/redis/image: the accessory's registry adds ghcr.io/ itself; write the image "
        "without it (got 'ghcr.io/acme/redis:7')",
        accessories=redis(image="ghcr.io/acme/redis:7", registry=REGISTRY),
    )
    assert_config_error(
        "accessories/redis/registry/password: must be the name of a secret, like "
        "[KAMAL_REGISTRY_PASSWORD] (got a value that is not a secret name)",
        accessories=redis(registry={**REGISTRY, "password": "hunter2!"}),
    )
    assert_config_error(
        "accessories/redis/registry: unknown key 'token'",
        accessories=redis(registry={**REGISTRY, "token": "x"}),
    )


TAGGED_SERVERS = {
    "web": ["10.0.0.1", {"10.0.0.2": "db"}],
    "jobs": {"hosts": [{"10.0.0.3": ["db", "reader"]}, "10.0.0.4"]},
}


def test_tag_places_the_accessory_on_every_host_carrying_it() -> None:
    config = parse(servers=TAGGED_SERVERS, accessories=redis(host=DELETE, tag="db"))
    assert config.accessory("redis").hosts == ("10.0.0.2", "10.0.0.3")
    config = parse(servers=TAGGED_SERVERS, accessories=redis(host=DELETE, tags=["reader"]))
    assert config.accessory("redis").hosts == ("10.0.0.3",)
    planned = build_plan(parse(servers=TAGGED_SERVERS, accessories=redis(host=DELETE, tag="db")))
    assert [p.host for p in planned.accessory_placements("redis")] == ["10.0.0.2", "10.0.0.3"]


def test_tag_errors() -> None:
    assert_config_error(
        "accessories/redis/tag: no host in servers carries this tag, so the accessory would run "
        "nowhere (got writer)",
        servers=TAGGED_SERVERS,
        accessories=redis(host=DELETE, tag="writer"),
    )
    assert_config_error(
        "accessories/redis/tag: must be one tag; use tags for a list (got a list)",
        servers=TAGGED_SERVERS,
        accessories=redis(host=DELETE, tag=["db"]),
    )
    assert_config_error(
        "accessories/redis/tags: duplicate tag (got db, db)",
        servers=TAGGED_SERVERS,
        accessories=redis(host=DELETE, tags=["db", "db"]),
    )
    assert_config_error(
        "accessories/redis: must set exactly one of host, hosts, role, roles, tag or tags "
        "(got host, tag)",
        servers=TAGGED_SERVERS,
        accessories=redis(tag="db"),
    )


# --- proxy ---------------------------------------------------------------------------------------


def test_a_proxied_accessory_gets_a_route_and_its_hosts_kamal_proxy() -> None:
    config = parse(
        accessories=redis(
            image="acme/admin:1",
            proxy={"host": "admin.example.com", "app_port": 3000, "healthcheck": {"path": "/ok"}},
        )
    )
    plan = build_plan(config, scope="prod")
    placement = plan.accessory_placements("redis")[0]
    assert placement.proxy is not None
    assert (placement.proxy.hosts, placement.proxy.app_port) == (("admin.example.com",), 3000)
    assert placement.proxy.healthcheck.path == "/ok"
    proxy = plan.proxy_for("10.0.0.4")
    assert proxy is not None and proxy.services == ("app-redis-prod",)
    # Not merged with the top-level route: the accessory's own settings only.
    top = parse(
        proxy={"host": "app.example.com", "app_port": 8080},
        accessories=redis(proxy={"host": "admin.example.com"}),
    )
    route = top.accessory("redis").proxy
    assert route is not None and (route.hosts, route.app_port) == (("admin.example.com",), 80)


def test_bad_accessory_proxies() -> None:
    assert_config_error(
        "accessories/redis/proxy: must be a mapping (got true)", accessories=redis(proxy=True)
    )
    assert_config_error(
        "accessories/redis/proxy: a proxied accessory publishes no host port, kamal-proxy serves "
        "it; remove port and options/publish (got 6379:6379)",
        accessories=redis(port=6379, proxy={"host": "a.example.com"}),
    )
    assert_config_error(
        "accessories/redis/proxy: kamal-proxy reaches containers on fleetform's network only; "
        "remove network (got 'backend')",
        accessories=redis(network="backend", proxy={"host": "a.example.com"}),
    )
    assert_config_error(
        "accessories/redis/proxy/app_port: must be between 1 and 65535 (got 0)",
        accessories=redis(proxy={"app_port": 0}),
    )
    assert_config_error(
        "10.0.0.1: role web and accessory redis would both serve host a.example.com through "
        "kamal-proxy; give each its own proxy/host or proxy/path_prefix",
        error=PlanError,
        proxy={"host": "a.example.com"},
        accessories=redis(host="10.0.0.1", proxy={"host": "a.example.com"}),
    )
