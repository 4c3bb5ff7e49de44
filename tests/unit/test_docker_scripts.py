"""The shell scripts fleetform sends to hosts: shape, quoting, and what they never contain."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from components import docker_scripts
from components.docker_scripts import ContainerSpec

SPEC = ContainerSpec(
    name="hello-web-0123456789ab",
    family="hello-web",
    image="10.203.0.1:5000/fleetform/hello@sha256:" + "a" * 64,
    platform="linux/arm64",
    cmd="/bin/sh -c 'echo hi; sleep 5'",
    ports=("80:8080",),
    volumes=("/root/hello-redis/data:/data",),
    labels=(("service", "hello"), ("role", "web")),
    options=(("memory", "64m"), ("init", None)),
)


def test_docker_run_argv_pins_platform_network_and_family_label() -> None:
    argv = docker_scripts.docker_run_argv(SPEC)
    assert argv[:4] == ["docker", "run", "--detach", "--name"]
    assert argv[argv.index("--platform") + 1] == "linux/arm64"
    assert argv[argv.index("--network") + 1] == docker_scripts.NETWORK
    assert f"{docker_scripts.FAMILY_LABEL}=hello-web" in argv
    assert argv[argv.index("--env-file") + 1] == "/root/.fleetform/env/hello-web-0123456789ab.env"
    assert ["--publish", "80:8080"] == argv[argv.index("--publish") : argv.index("--publish") + 2]
    assert "--memory=64m" in argv and "--init" in argv
    image_at = argv.index(SPEC.image)
    assert argv[image_at + 1 :] == ["/bin/sh", "-c", "echo hi; sleep 5"]


@pytest.mark.parametrize(
    "script",
    [
        docker_scripts.container_create_script(SPEC),
        docker_scripts.container_delete_script(SPEC.name),
        docker_scripts.probe_script("10.203.0.14", "arm64", "role web"),
        docker_scripts.pull_script(SPEC.image, "linux/arm64"),
        docker_scripts.login_script("10.203.0.1:5000", "fleetform"),
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


def test_login_reads_password_from_stdin_only() -> None:
    assert docker_scripts.login_script("r:5000", "u") == (
        "docker login --username u --password-stdin r:5000"
    )


def test_pull_checks_architecture_after_pulling() -> None:
    script = docker_scripts.pull_script("img@sha256:" + "b" * 64, "linux/amd64")
    assert "docker pull --quiet --platform linux/amd64" in script
    assert "but this host needs amd64" in script


def test_env_file_holds_clear_and_secret_values_and_rejects_newlines() -> None:
    text = docker_scripts.env_file_content([("A", "1")], [("S", "s3cret")])
    assert text == "A=1\nS=s3cret\n"
    with pytest.raises(ValueError, match="env/S: values cannot span lines"):
        docker_scripts.env_file_content([], [("S", "a\nb")])


def test_create_script_reads_env_from_stdin_and_never_embeds_values() -> None:
    script = docker_scripts.container_create_script(SPEC)
    assert "cat > /root/.fleetform/env/hello-web-0123456789ab.env" in script
    assert "chmod 600" in script
    assert "--env " not in script and " -e " not in script


def test_only_port_publishers_stop_predecessors_first() -> None:
    with_ports = docker_scripts.container_create_script(SPEC)
    without = docker_scripts.container_create_script(
        ContainerSpec(name="hello-jobs-1", family="hello-jobs", image="i", platform="linux/arm64")
    )
    assert "docker stop $previous" in with_ports and "docker start $previous" in with_ports
    assert "docker stop" not in without and "docker start" not in without


@pytest.mark.parametrize(
    ("machine", "arch"),
    [("x86_64\n", "amd64"), ("aarch64", "arm64"), ("arm64", "arm64"), ("riscv64", "riscv64")],
)
def test_normalise_machine(machine: str, arch: str) -> None:
    assert docker_scripts.normalise_machine(machine) == arch
