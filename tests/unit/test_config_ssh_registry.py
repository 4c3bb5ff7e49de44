"""The `ssh` and `registry` sections: jump host, key_data, keys_only, config, secret user names,
and the registry login script that keeps a secret user name off every command line."""

from __future__ import annotations

import base64
import json
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from components import docker_scripts
from components.config.model import JumpHostConfig
from components.day2.ssh_session import SshAccess
from components.errors import DeployConfigError
from components.config.registry import LOCAL_REGISTRY_REASON
from components.config.ssh import (
    CONFIG_REASON,
    KEYS_ONLY_FALSE_REASON,
    PROXY_COMMAND_REASON,
    SSH_NOT_YET,
)
from components.host_key_check import PinnedHost, fingerprint, hosts_to_scan
from tests.unit.support import assert_config_error, parse, plan
from tests.unit.test_day2_ssh_session import FakeReader, public_key

KEY = (
    "-----BEGIN OPENSSH PRIVATE KEY-----\n"
    "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\n"
    "-----END OPENSSH PRIVATE KEY-----\n"
)
REGISTRY = {"server": "10.0.0.100:5000", "username": "deploy", "password": ["REGISTRY_PASSWORD"]}


# --- ssh/proxy ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("bastion.example.com", JumpHostConfig("bastion.example.com", "root", 22)),
        ("app@10.0.0.9", JumpHostConfig("10.0.0.9", "app", 22)),
        ("app@10.0.0.9:2222", JumpHostConfig("10.0.0.9", "app", 2222)),
        ("10.0.0.9:2200", JumpHostConfig("10.0.0.9", "root", 2200)),
    ],
)
def test_proxy_forms_and_kamals_root_default(written: str, expected: JumpHostConfig) -> None:
    # Kamal prefixes `root@` when no user is given, whatever ssh/user says.
    assert parse(ssh={"user": "deploy", "proxy": written}).ssh.proxy == expected


@pytest.mark.parametrize(
    ("proxy", "message"),
    [
        ("", "ssh/proxy: must not be empty (got '')"),
        (["h"], "ssh/proxy: must be a string (got a list)"),
        ("a@b@c", "ssh/proxy: must be host, user@host or user@host:port (got 'a@b@c')"),
        ("Root User@h", "ssh/proxy: must be host, user@host or user@host:port (got 'Root User@h')"),
        ("ROOT@h", "ssh/proxy: invalid user name (got 'ROOT')"),
        ("h:0", "ssh/proxy: must be between 1 and 65535 (got 0)"),
        ("h:ssh", "ssh/proxy: must be a whole number (got 'ssh')"),
        (
            "a@j1,b@j2",
            "ssh/proxy: fleetform goes through one jump host; pulumi-command's connection.proxy "
            "has no chain (got 'a@j1,b@j2')",
        ),
    ],
)
def test_proxy_errors(proxy: object, message: str) -> None:
    assert_config_error(message, ssh={"proxy": proxy})


def test_plan_names_the_jump_host() -> None:
    assert plan(ssh={"proxy": "10.0.0.9"}).to_json()["ssh"]["proxy"] == "root@10.0.0.9:22"
    assert "proxy" not in plan().to_json()["ssh"]


def test_with_a_jump_host_only_the_jump_host_is_scanned_before_up() -> None:
    keys = {"10.0.0.1": "ssh-ed25519 A", "10.0.0.2": "ssh-ed25519 B"}
    jump = PinnedHost("10.0.0.9", 22, "ssh-ed25519 J")
    assert hosts_to_scan(keys, 2222, jump) == [jump]
    assert hosts_to_scan(keys, 2222, None) == [
        PinnedHost("10.0.0.1", 2222, "ssh-ed25519 A"),
        PinnedHost("10.0.0.2", 2222, "ssh-ed25519 B"),
    ]


# --- ssh/key_data, keys_only, config, the keys still refused ------------------------------------


def test_key_data_is_kept_and_never_shown() -> None:
    config = parse(ssh={"key_data": [KEY]})
    assert config.ssh.key_data == (KEY,)
    assert "PRIVATE KEY" not in repr(config)
    shown = json.dumps(plan(ssh={"key_data": [KEY]}).to_json())
    assert "PRIVATE KEY" not in shown and "(a private key, not shown)" in shown


@pytest.mark.parametrize(
    ("key_data", "message"),
    [
        (
            KEY,
            "ssh/key_data: must be a list of one private key (got a value that is not a list; "
            "it is not shown)",
        ),
        ([KEY, KEY], "ssh/key_data: fleetform logs in with one private key; list one (got 2)"),
        ([], "ssh/key_data: fleetform logs in with one private key; list one (got 0)"),
    ],
)
def test_key_data_shape(key_data: Any, message: str) -> None:
    assert_config_error(message, ssh={"key_data": key_data})


@pytest.mark.parametrize("value", ["hunter2", 42, "-----BEGIN PUBLIC KEY-----\nx\n-----END"])
def test_key_data_that_is_not_a_private_key_is_refused_without_echo(value: object) -> None:
    assert_config_error(
        "ssh/key_data/0: must be a private key in PEM or OpenSSH form, "
        "'-----BEGIN ... PRIVATE KEY-----' to '-----END ... PRIVATE KEY-----' on lines of their "
        "own (got a value that is not; it is not shown)",
        ssh={"key_data": [value]},
    )


def test_keys_and_key_data_together_are_one_key_too_many() -> None:
    assert_config_error(
        "ssh/key_data: fleetform logs in with one private key, and ssh/keys names one "
        "already; keep one of them (got 1 key in key_data)",
        ssh={"keys": ["~/.ssh/id"], "key_data": [KEY]},
    )


def test_keys_only() -> None:
    assert parse().ssh.keys_only is None
    assert parse(ssh={"keys_only": True}).ssh.keys_only is True
    assert_config_error(
        "ssh/keys_only: must be true or false (got 'yes')", ssh={"keys_only": "yes"}
    )
    assert_config_error(
        f"ssh/keys_only: not supported by fleetform: {KEYS_ONLY_FALSE_REASON} (got false)",
        ssh={"keys_only": False},
    )


def test_config_false_is_what_fleetform_does_and_anything_else_is_refused() -> None:
    parse(ssh={"config": False})
    for value, shown in ((True, "true"), ("~/.ssh/config", "'~/.ssh/config'"), (["a"], "a list")):
        assert_config_error(
            f"ssh/config: not supported by fleetform: {CONFIG_REASON} (got {shown})",
            ssh={"config": value},
        )


def test_log_level_is_still_refused_with_its_reason() -> None:
    assert set(SSH_NOT_YET) == {"log_level"}
    assert_config_error(
        f"ssh/log_level: not supported by fleetform: {SSH_NOT_YET['log_level']} (got 'debug')",
        ssh={"log_level": "debug"},
    )


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        ("ssh -W %h:%p user@proxy", JumpHostConfig("proxy", "user", 22)),
        ("ssh -q -p 2222 -l app -W %h:%p bastion", JumpHostConfig("bastion", "app", 2222)),
    ],
)
def test_an_ssh_jump_proxy_command_is_a_jump_host(command: str, expected: JumpHostConfig) -> None:
    assert parse(ssh={"proxy_command": command}).ssh.proxy == expected


@pytest.mark.parametrize(
    "command",
    [
        "nc -X connect -x 10.0.0.5:3128 %h %p",
        "aws ssm start-session --target %h",
        "ssh -o StrictHostKeyChecking=no -W %h:%p u@p",
        "ssh -W %h:22 u@p",
        "ssh u@p",
        "ssh -W %h:%p -l a b@c",
        "ssh -W %h:%p u@p extra",
        "ssh -W 'unclosed",
    ],
)
def test_other_proxy_commands_are_refused_with_why(command: str) -> None:
    assert_config_error(
        f"ssh/proxy_command: not supported by fleetform: {PROXY_COMMAND_REASON} "
        f"(got {command!r})",
        ssh={"proxy_command": command},
    )


def test_proxy_command_errors() -> None:
    assert_config_error(
        "ssh/proxy_command: name the jump host's user (-l USER or USER@HOST); ssh would take it "
        "from your ssh config or login, which fleetform does not read "
        "(got 'ssh -W %h:%p proxy')",
        ssh={"proxy_command": "ssh -W %h:%p proxy"},
    )
    assert_config_error(
        "ssh/proxy_command: must be between 1 and 65535 (got 0)",
        ssh={"proxy_command": "ssh -p 0 -W %h:%p u@p"},
    )
    assert_config_error(
        "ssh/proxy_command: Kamal ignores it when ssh/proxy is set; keep one of them "
        "(got 'ssh -W %h:%p u@p')",
        ssh={"proxy": "u@p", "proxy_command": "ssh -W %h:%p u@p"},
    )


# --- registry -----------------------------------------------------------------------------------


def test_username_as_a_secret() -> None:
    config = parse(registry={**REGISTRY, "username": ["KAMAL_REGISTRY_USERNAME"]})
    assert config.registry is not None
    assert config.registry.username_secret == "KAMAL_REGISTRY_USERNAME"
    assert config.registry.username == ""
    shown = plan(registry={**REGISTRY, "username": ["KAMAL_REGISTRY_USERNAME"]}).to_json()
    assert shown["registry"]["username_secret"] == "KAMAL_REGISTRY_USERNAME"


@pytest.mark.parametrize(
    ("username", "message"),
    [
        (["A", "B"], "registry/username: must name exactly one secret (got a list of 2)"),
        (
            ["not a name!"],
            "registry/username: must be the name of a secret, like [KAMAL_REGISTRY_USERNAME] "
            "(got a value that is not a secret name)",
        ),
        ([], "registry/username: must name exactly one secret (got a list of 0)"),
    ],
)
def test_username_secret_errors(username: object, message: str) -> None:
    assert_config_error(message, registry={**REGISTRY, "username": username})


@pytest.mark.parametrize("server", ["localhost:5555", "localhost", "LOCALHOST:5000/team"])
def test_local_registry_is_refused_with_why(server: str) -> None:
    assert_config_error(
        f"registry/server: not supported by fleetform: {LOCAL_REGISTRY_REASON} (got '{server}')",
        registry={**REGISTRY, "server": server},
    )


# --- the login script, run under sh with a stand-in docker -------------------------------------

_FAKE_DOCKER = """#!{python}
import base64, json, os, sys
# docker --config DIR login SERVER: succeed when DIR/config.json holds the expected credentials.
directory, server = sys.argv[2], sys.argv[4]
with open(os.path.join(os.environ["ARGV_LOG"]), "a") as log:
    log.write(" ".join(sys.argv[1:]) + "\\n")
auths = json.load(open(os.path.join(directory, "config.json")))["auths"]
key = "https://index.docker.io/v1/" if server == "docker.io" else server
sys.exit(0 if base64.b64decode(auths[key]["auth"]).decode() == os.environ["EXPECTED"] else 1)
"""


def _run(script: str, stdin: str, home: Path, expected: str) -> subprocess.CompletedProcess[str]:
    bin_dir = home / "bin"
    bin_dir.mkdir(exist_ok=True)
    docker = bin_dir / "docker"
    docker.write_text(_FAKE_DOCKER.format(python=sys.executable))
    docker.chmod(0o755)
    env = {
        "HOME": str(home),
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "EXPECTED": expected,
        "ARGV_LOG": str(home / "argv.log"),
    }
    shell = shutil.which("dash") or "sh"
    return subprocess.run([shell, "-c", script], input=stdin, env=env, text=True,
                          capture_output=True, check=False)  # fmt: skip


def test_a_secret_user_name_logs_in_from_stdin_and_never_reaches_argv(tmp_path: Path) -> None:
    config_dir = "~/.fleetform/dev/docker"
    secret_user, password = "tok-user-8f1c", "p@ss:word 'x'"
    login = docker_scripts.login_script("r.example:5000", None, config_dir, "t1")
    done = _run(login, f"{secret_user}\n{password}\n", tmp_path, f"{secret_user}:{password}")
    assert done.returncode == 0, done.stderr
    plain = docker_scripts.login_script("docker.io", "hub-user", config_dir, "t2")
    done = _run(plain, "hub-pass\n", tmp_path, "hub-user:hub-pass")
    assert done.returncode == 0, done.stderr
    stored = tmp_path / ".fleetform" / "dev" / "docker"
    auths = json.loads((stored / "config.json").read_text())["auths"]
    assert base64.b64decode(auths["r.example:5000"]["auth"]).decode() == f"{secret_user}:{password}"
    assert base64.b64decode(auths["https://index.docker.io/v1/"]["auth"]) == b"hub-user:hub-pass"
    argv = (tmp_path / "argv.log").read_text()
    assert secret_user not in argv and password not in argv
    assert oct((stored / "config.json").stat().st_mode & 0o777) == "0o600"
    # A replaced login (another token) leaves the entry; its own delete removes just that one.
    assert _run(docker_scripts.logout_script("r.example:5000", config_dir, "old"), "",
                tmp_path, "").returncode == 0  # fmt: skip
    assert "r.example:5000" in json.loads((stored / "config.json").read_text())["auths"]
    assert _run(docker_scripts.logout_script("r.example:5000", config_dir, "t1"), "",
                tmp_path, "").returncode == 0  # fmt: skip
    assert list(json.loads((stored / "config.json").read_text())["auths"]) == [
        "https://index.docker.io/v1/"
    ]


def test_wrong_credentials_fail_and_store_nothing(tmp_path: Path) -> None:
    login = docker_scripts.login_script("r:5000", None, "~/.fleetform/dev/docker", "t")
    done = _run(login, "user\nwrong\n", tmp_path, "user:right")
    assert done.returncode != 0
    assert "r:5000: registry login failed" in done.stderr
    assert not (tmp_path / ".fleetform" / "dev" / "docker" / "config.json").exists()


# --- day-2 sessions through the jump host, with key_data and keys_only -------------------------


def _session_argv(tmp_path: Path, ssh: str) -> tuple[list[str], dict[str, str]]:
    deploy = tmp_path / "deploy.yml"
    deploy.write_text(
        "service: app\nimage: org/app\nbuilder:\n  arch: arm64\n"
        f"servers:\n  web:\n    hosts: [10.0.0.1]\nssh:\n{ssh}"
    )
    pins = {"10.0.0.1": public_key(1), "[bastion]:2200": public_key(7)}
    reader = FakeReader({"deployFile": str(deploy), "hostKeys": json.dumps(pins)})
    with SshAccess(reader, ["10.0.0.1"]) as access:  # type: ignore[arg-type]
        argv = access.argv("10.0.0.1", "true")
        key_file = Path(argv[argv.index("-i") + 1])
        files = {
            "key": key_file.read_text(),
            "known_hosts": (key_file.parent / "known_hosts").read_text(),
        }
    return argv, files


def test_day2_goes_through_the_jump_host_with_the_same_pins_and_key(tmp_path: Path) -> None:
    block = "".join(f"      {line}\n" for line in KEY.splitlines())
    argv, files = _session_argv(
        tmp_path, f"  proxy: app@bastion:2200\n  key_data:\n    - |\n{block}"
    )
    assert files["key"] == KEY
    assert files["known_hosts"] == f"10.0.0.1 {public_key(1)}\n[bastion]:2200 {public_key(7)}\n"
    (proxy,) = [word for word in argv if word.startswith("ProxyCommand=")]
    jump = shlex.split(proxy.removeprefix("ProxyCommand="))
    assert jump[0] == "ssh" and jump[-5:] == ["-l", "app", "-W", "%h:%p", "bastion"]
    assert jump[jump.index("-p") + 1] == "2200"
    # The jump connection carries the same pins and key as the main one.
    for option in ("-F", "StrictHostKeyChecking=yes", "GlobalKnownHostsFile=/dev/null"):
        assert option in jump
    assert jump[jump.index("-i") + 1] == argv[argv.index("-i") + 1]
    assert [w for w in jump if w.startswith("UserKnownHostsFile=")] == [
        w for w in argv if w.startswith("UserKnownHostsFile=")
    ]
    assert not any("AAAA" in word or "PRIVATE" in word for word in argv)


@pytest.mark.parametrize(
    ("keys_only", "present", "absent"),
    [
        ("  keys_only: true\n", ["IdentitiesOnly=yes", "IdentityAgent=none"], []),
        ("", ["IdentitiesOnly=yes"], ["IdentityAgent=none"]),
    ],
)
def test_day2_keys_only(
    tmp_path: Path, keys_only: str, present: list[str], absent: list[str]
) -> None:
    block = "".join(f"      {line}\n" for line in KEY.splitlines())
    argv, _ = _session_argv(tmp_path, f"{keys_only}  key_data:\n    - |\n{block}")
    assert all(option in argv for option in present)
    assert not any(option in argv for option in absent)


def test_day2_names_the_jump_host_when_it_offers_another_key(tmp_path: Path) -> None:
    deploy = tmp_path / "deploy.yml"
    deploy.write_text(
        "service: app\nimage: org/app\nbuilder:\n  arch: arm64\n"
        "servers:\n  web:\n    hosts: [10.0.0.1]\nssh:\n  proxy: bastion\n  keys: [/k]\n"
    )
    pins = {"10.0.0.1": public_key(1), "bastion": public_key(7)}
    reader = FakeReader({"deployFile": str(deploy), "hostKeys": json.dumps(pins)})
    # What OpenSSH prints when the ProxyCommand's ssh meets another key on the jump host.
    stderr = (
        "The fingerprint for the ED25519 key sent by the remote host is\n"
        "SHA256:6L9hiZNjs3jyylnFF/i4F5Y3f3AvD/MpODNAoHH/5Dk.\n"
        "Host key for bastion has changed and you have requested strict checking.\n"
        "Host key verification failed.\n"
    )
    with SshAccess(reader, ["10.0.0.1"]) as access:  # type: ignore[arg-type]
        assert access.explain("10.0.0.1", 255, stderr) == (
            "host key mismatch: the jump host bastion (ssh/proxy) offered ED25519 "
            f"SHA256:6L9hiZNjs3jyylnFF/i4F5Y3f3AvD/MpODNAoHH/5Dk, but {fingerprint(public_key(7))} "
            "is pinned (fleetform:knownHostsFile / fleetform:hostKeys)\n"
        )
        target = stderr.replace("for bastion", "for 10.0.0.1")
        assert access.explain("10.0.0.1", 255, target).startswith(
            "host key mismatch: the host offered ED25519"
        )


def test_day2_refuses_a_jump_host_without_a_pinned_key(tmp_path: Path) -> None:
    deploy = tmp_path / "deploy.yml"
    deploy.write_text(
        "service: app\nimage: org/app\nbuilder:\n  arch: arm64\n"
        "servers:\n  web:\n    hosts: [10.0.0.1]\nssh:\n  proxy: bastion:2200\n  keys: [/k]\n"
    )
    reader = FakeReader(
        {"deployFile": str(deploy), "hostKeys": json.dumps({"10.0.0.1": public_key(1)})}
    )
    with pytest.raises(DeployConfigError) as raised:
        SshAccess(reader, ["10.0.0.1"]).__enter__()  # type: ignore[arg-type]
    assert str(raised.value) == (
        "ssh/proxy: [bastion]:2200: no pinned host key "
        "(set fleetform:hostKeys or fleetform:knownHostsFile)"
    )


def test_the_delete_of_an_old_form_login_leaves_the_new_login_alone(tmp_path: Path) -> None:
    """Upgrading replaces each `docker login` form login with this form (its script changed);
    the old resource's delete then runs its own, older script with the same credentials' token."""
    config_dir = "~/.fleetform/dev/docker"
    login = docker_scripts.login_script("r:5000", "u", config_dir, "same-token")
    assert _run(login, "p\n", tmp_path, "u:p").returncode == 0
    # logout_script as it was before the auths-v2 form (commit ed9ab8d), verbatim.
    marker = '"$HOME"/.fleetform/dev/docker/fleetform-login-r_5000'
    old_delete = (
        f'if [ "$(cat {marker} 2>/dev/null)" = same-token ]; then\n'
        '  docker --config "$HOME"/.fleetform/dev/docker logout r:5000 >/dev/null 2>&1 || true\n'
        f"  rm -f {marker}\n"
        "fi"
    )
    assert _run(old_delete, "", tmp_path, "").returncode == 0
    stored = tmp_path / ".fleetform" / "dev" / "docker"
    assert "r:5000" in json.loads((stored / "config.json").read_text())["auths"]
    assert (stored / "fleetform-login-r_5000").exists()
    assert "logout" not in (tmp_path / "argv.log").read_text()
