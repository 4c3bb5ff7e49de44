"""The shell scripts fleetform sends to hosts: shape, quoting, and what they never contain."""

from __future__ import annotations

import dataclasses
import shutil
import subprocess
import time

import pytest

from components import docker_scripts
from components.docker_scripts import ContainerSpec

SPEC = ContainerSpec(
    name="hello-web-0123456789ab",
    family="hello-web",
    stack="dev",
    image="10.203.0.1:5000/fleetform/hello@sha256:" + "a" * 64,
    platform="linux/arm64",
    cmd="/bin/sh -c 'echo hi; sleep 5'",
    ports=("80:8080",),
    volumes=("~/hello-redis/data:/data", "/srv/x:/x"),
    labels=(("service", "hello"), ("role", "web")),
    options=(("memory", "64m"), ("init", None)),
)


def test_docker_run_argv_pins_platform_network_and_family_label() -> None:
    argv = docker_scripts.docker_run_argv(SPEC)
    assert argv[:4] == ["docker", "run", "--detach", "--name"]
    assert argv[argv.index("--platform") + 1] == "linux/arm64"
    assert argv[argv.index("--network") + 1] == docker_scripts.NETWORK
    assert f"{docker_scripts.FAMILY_LABEL}=hello-web" in argv
    assert argv[argv.index("--env-file") + 1] == "~/.fleetform/dev/env/hello-web-0123456789ab.env"
    assert f"{docker_scripts.STACK_LABEL}=dev" in argv
    assert ["--publish", "80:8080"] == argv[argv.index("--publish") : argv.index("--publish") + 2]
    assert "--memory=64m" in argv and "--init" in argv
    image_at = argv.index(SPEC.image)
    assert argv[image_at + 1 :] == ["/bin/sh", "-c", "echo hi; sleep 5"]


@pytest.mark.parametrize(
    "script",
    [
        docker_scripts.container_create_script(SPEC),
        docker_scripts.container_delete_script(SPEC),
        docker_scripts.container_read_script(SPEC),
        docker_scripts.probe_script("10.203.0.14", "arm64", "role web"),
        docker_scripts.login_script("10.203.0.1:5000", "fleetform", "~/.fleetform/dev/docker", "t"),
        docker_scripts.logout_script("10.203.0.1:5000", "~/.fleetform/dev/docker", "t"),
        docker_scripts.bounded("echo 'quoted'", "10.203.0.11", 30),
        docker_scripts.network_create_script(),
    ],
)
def test_scripts_are_valid_posix_sh(script: str) -> None:
    shell = shutil.which("dash") or "sh"
    result = subprocess.run([shell, "-n"], input=script, text=True, capture_output=True)
    assert result.returncode == 0, result.stderr


def test_probe_names_host_declared_arch_and_who_declared_it() -> None:
    script = docker_scripts.probe_script("10.203.0.14", "arm64", "role web")
    assert "10.203.0.14: declared arm64 (role web) but the host is $arch" in script


def test_probe_without_declared_arch_only_reports() -> None:
    script = docker_scripts.probe_script("10.203.0.14", None, "accessory redis")
    assert "declared" not in script
    assert script.endswith('echo "$arch"')


def test_login_reads_password_from_stdin_into_the_stacks_own_docker_config() -> None:
    script = docker_scripts.login_script("r:5000", "u", "~/.fleetform/dev/docker", "tok")
    assert "user=u\npassword=$(cat)\n" in script
    assert 'mv -f "$tmp" "$HOME"/.fleetform/dev/docker/config.json' in script


def test_a_replaced_login_is_not_logged_out_by_its_predecessor() -> None:
    script = docker_scripts.logout_script("r:5000", "~/.fleetform/dev/docker", "old-token")
    # Logout only when the marker still holds this login's own token.
    assert script.startswith('if [ "$(cat "$HOME"/.fleetform/dev/docker/fleetform-login-r_5000')
    assert "= 'old-token auths-v2' ]" in script


def test_create_pulls_by_digest_for_its_platform_and_checks_the_architecture() -> None:
    script = docker_scripts.container_create_script(SPEC)
    assert f"pull --quiet --platform linux/arm64 {SPEC.image}" in script
    assert "but this host needs arm64" in script


def test_env_file_holds_clear_and_secret_values_and_rejects_newlines() -> None:
    text = docker_scripts.env_file_content([("A", "1")], [("S", "s3cret")])
    assert text == "A=1\nS=s3cret\n"
    with pytest.raises(ValueError, match="env/S: values cannot span lines"):
        docker_scripts.env_file_content([], [("S", "a\nb")])


def test_create_script_reads_env_from_stdin_and_never_embeds_values() -> None:
    script = docker_scripts.container_create_script(SPEC)
    assert 'cat > "$HOME"/.fleetform/dev/env/hello-web-0123456789ab.env' in script
    assert "chmod 600" in script
    assert "--env " not in script and " -e " not in script


def test_home_relative_volumes_expand_on_the_host() -> None:
    script = docker_scripts.container_create_script(SPEC)
    assert '--volume "$HOME"/hello-redis/data:/data' in script
    assert "--volume /srv/x:/x" in script


def test_port_publishers_and_exclusive_containers_stop_predecessors_first() -> None:
    jobs = ContainerSpec(
        name="hello-jobs-1", family="hello-jobs", stack="dev", image="i", platform="linux/arm64"
    )
    without = docker_scripts.container_create_script(jobs)
    assert "docker stop" not in without and "docker start $to_restart" not in without
    for spec in (SPEC, dataclasses.replace(jobs, exclusive=True, stop_timeout=25)):
        script = docker_scripts.container_create_script(spec)
        assert f"docker stop --time {spec.stop_timeout} $running" in script
        assert "docker start $to_restart" in script
    # Stopped predecessors count too: after an interrupted deploy none may be running.
    assert "docker ps -a --filter" in without


def test_a_renamed_role_finds_the_old_holder_of_its_host_port() -> None:
    assert SPEC.published_host_ports == ("80",)
    script = docker_scripts.container_create_script(SPEC)
    assert "--filter label=fleetform.stack=dev --filter publish=80" in script


def test_bounded_passes_stdin_and_output_through() -> None:
    done = subprocess.run(
        ["sh", "-c", docker_scripts.bounded("cat; echo out; echo err >&2", "h1", 20)],
        input="from stdin\n",
        text=True,
        capture_output=True,
        timeout=30,
    )
    assert done.returncode == 0
    assert done.stdout == "from stdin\nout\n" and done.stderr == "err\n"


def test_bounded_stops_a_hung_script_and_names_host_and_limit() -> None:
    started = time.monotonic()
    done = subprocess.run(
        ["sh", "-c", docker_scripts.bounded("sleep 60 & sleep 61; echo never", "h1", 2)],
        text=True,
        capture_output=True,
        timeout=30,
    )
    assert time.monotonic() - started < 10
    assert done.returncode != 0 and "never" not in done.stdout
    assert "h1: the remote script did not finish within 2s" in done.stderr


@pytest.mark.parametrize(
    ("machine", "arch"),
    [("x86_64\n", "amd64"), ("aarch64", "arm64"), ("arm64", "arm64"), ("riscv64", "riscv64")],
)
def test_normalise_machine(machine: str, arch: str) -> None:
    assert docker_scripts.normalise_machine(machine) == arch


def test_a_retained_container_of_the_same_name_is_started_not_pulled_again() -> None:
    script = docker_scripts.container_create_script(SPEC)
    # Found by the same inspect that reads the image's architecture; then started, not run.
    assert f"{SPEC.name} {SPEC.image} 2>/dev/null" in script
    assert f"docker start {SPEC.name} >/dev/null" in script
    assert 'if [ -z "$got" ]; then' in script


def test_delete_stops_and_keeps_the_newest_retained_versions() -> None:
    script = docker_scripts.container_delete_script(dataclasses.replace(SPEC, retain=3))
    assert script.startswith(f"docker stop --time 10 {SPEC.name}")
    assert "--filter label=fleetform.container=hello-web" in script
    assert "tail -n +4" in script
    assert 'rm -f "$HOME"/.fleetform/dev/env/' in script


def test_stack_cleanup_removes_only_stopped_containers_of_its_own_stack() -> None:
    script = docker_scripts.stack_cleanup_script("dev")
    assert "--filter label=fleetform.stack=dev --filter status=exited" in script
