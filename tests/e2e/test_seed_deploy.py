"""The seed scenario end to end: real CLI, real SSH, real engines on the embedded local fleet.

Three arm64 hosts run the app roles, the amd64 host runs only Redis. The tests run in file order
against one stack, from the first `up` to `destroy`.
"""

from __future__ import annotations

import copy
import json
import os
import secrets
import shutil
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from pulumi import automation as auto

from components.promote import preview_changes
from tests.support import ROOT, frozen, host_address, inventory, pulumi_command, ssh

pytestmark = pytest.mark.e2e

STACK = "e2e-seed"
APP_SECRET = "fleetform-e2e-" + secrets.token_hex(12)
TIMINGS: dict[str, float] = {}


def sample_config() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "config" / "deploy.yml").read_text())


class SeedStack:
    def __init__(self, stack: auto.Stack, deploy_file: Path) -> None:
        self.stack = stack
        self.deploy_file = deploy_file
        self.config = sample_config()
        self.output: list[str] = []
        """Everything `pulumi up` printed, for the secret checks."""

    def write(self, config: dict[str, Any]) -> None:
        self.config = config
        self.deploy_file.write_text(yaml.safe_dump(config, sort_keys=False))

    def edited(self) -> dict[str, Any]:
        return copy.deepcopy(self.config)

    def up(self, label: str | None = None) -> auto.UpResult:
        started = time.monotonic()
        result = self.stack.up(color="never", on_output=self.output.append)
        if label:
            TIMINGS[label] = time.monotonic() - started
        return result

    def failing_up(self, change: Any) -> str:
        """Runs `up` with `change` applied (it must fail), restores the config, returns the error."""
        good = self.edited()
        broken = self.edited()
        change(broken)
        self.write(broken)
        try:
            with pytest.raises(auto.CommandError) as failure:
                self.stack.up(color="never", on_output=self.output.append)
        finally:
            self.write(good)
        return str(failure.value)

    def changed_resources(self) -> dict[str, set[str]]:
        """Resource name to its operations, for every resource a preview would touch."""
        return preview_changes(self.stack, color="never")[1]


@pytest.fixture(scope="module")
def seed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeedStack]:
    inv = inventory()
    deploy_file = tmp_path_factory.mktemp("seed") / "deploy.yml"
    stack = auto.create_or_select_stack(
        stack_name=STACK,
        work_dir=str(ROOT),
        opts=auto.LocalWorkspaceOptions(pulumi_command=pulumi_command()),
    )
    seed = SeedStack(stack, deploy_file)
    seed.write(sample_config())
    password = Path(inv["registry_password_file"]).read_text().strip()
    stack.set_all_config(
        {
            "fleetform:deployFile": auto.ConfigValue(str(deploy_file)),
            "fleetform:sshPrivateKeyPath": auto.ConfigValue(inv["client_key"]),
            "fleetform:knownHostsFile": auto.ConfigValue(inv["known_hosts"]),
            "fleetform:REGISTRY_PASSWORD": auto.ConfigValue(password, secret=True),
            "fleetform:APP_SECRET": auto.ConfigValue(APP_SECRET, secret=True),
            "fleetform:versionKey": auto.ConfigValue(secrets.token_hex(32), secret=True),
        }
    )
    yield seed
    try:
        stack.destroy(color="never", on_output=lambda _line: None)
    finally:
        stack.workspace.remove_stack(STACK)
        (ROOT / "stacks" / f"Pulumi.{STACK}.yaml").unlink(missing_ok=True)
        print(
            "\nseed deploy timings (s): " + json.dumps({k: round(v, 1) for k, v in TIMINGS.items()})
        )


def containers(address: str) -> list[dict[str, str]]:
    out = ssh(
        address,
        "docker ps --filter label=fleetform.managed=true --format '{{.Names}} {{.Image}} {{.ID}}'",
    ).stdout
    rows = [line.split() for line in out.splitlines() if line.strip()]
    return [{"name": r[0], "image": r[1], "id": r[2]} for r in rows]


def image_arch(address: str, container: str) -> str:
    """The architecture of the image a running container was created from."""
    image = ssh(address, f"docker inspect --format '{{{{.Image}}}}' {container}").stdout.strip()
    cmd = f"docker image inspect --format '{{{{.Architecture}}}}' {image}"
    return ssh(address, cmd).stdout.strip()


def redis(command: str) -> str:
    with socket.create_connection((host_address("h4"), 6379), timeout=10) as conn:
        conn.sendall(command.encode() + b"\r\n")
        return conn.recv(4096).decode()


def test_first_up_places_app_on_arm64_and_redis_on_amd64(seed: SeedStack) -> None:
    result = seed.up("first up")
    assert result.summary.result == "succeeded"
    for name in ("h1", "h2"):
        running = containers(host_address(name))
        assert [c["name"].rsplit("-", 1)[0] for c in running] == [f"hello-web-{STACK}"]
        assert image_arch(host_address(name), running[0]["name"]) == "arm64"
    jobs = containers(host_address("h3"))
    assert [c["name"].rsplit("-", 1)[0] for c in jobs] == [f"hello-jobs-{STACK}"]
    redis_host = containers(host_address("h4"))
    assert [c["name"].rsplit("-", 1)[0] for c in redis_host] == [f"hello-redis-{STACK}"]
    assert image_arch(host_address("h4"), redis_host[0]["name"]) == "amd64"


def test_amd64_redis_host_never_received_the_app_image(seed: SeedStack) -> None:
    images = ssh(host_address("h4"), "docker images --format '{{.Repository}}'").stdout.split()
    assert images, "expected at least the redis image"
    assert not [image for image in images if image.endswith("fleetform/hello")]


def test_outputs_name_digest_and_platform_per_host(seed: SeedStack) -> None:
    outputs = seed.stack.outputs()
    digests = outputs["appDigests"].value
    assert list(digests) == ["linux/arm64"]
    hosts = outputs["hosts"].value
    web = hosts[host_address("h1")]["containers"][0]
    assert web["platform"] == "linux/arm64"
    assert web["image"].endswith("@" + digests["linux/arm64"])
    assert hosts[host_address("h4")]["arch"] == "amd64"
    assert hosts[host_address("h4")]["containers"][0]["platform"] == "linux/amd64"


def test_web_answers_from_arm64(seed: SeedStack) -> None:
    import urllib.request

    for name in ("h1", "h2"):
        with urllib.request.urlopen(f"http://{host_address(name)}/", timeout=15) as response:
            assert response.read().decode().startswith("aarch64")


def test_noop_preview_and_up_change_nothing(seed: SeedStack) -> None:
    started = time.monotonic()
    seed.stack.preview(expect_no_changes=True, color="never")
    TIMINGS["no-op preview"] = time.monotonic() - started
    result = seed.up("no-op up")
    assert set(result.summary.resource_changes or {}) <= {"same"}


def test_secrets_stay_out_of_state_and_process_lists(seed: SeedStack) -> None:
    password = Path(inventory()["registry_password_file"]).read_text().strip()
    # Every file the backend wrote for this project: state, backups and history.
    backend = Path(os.environ["PULUMI_BACKEND_URL"].removeprefix("file://")) / ".pulumi"
    files = [path for path in backend.rglob("*") if path.is_file()]
    assert any(path.name == f"{STACK}.json" for path in files)
    for path in files:
        text = path.read_text(errors="replace")
        assert APP_SECRET not in text, path
        assert password not in text, path
    for host in inventory()["hosts"]:
        listing = ssh(host["address"], "ps -ef 2>/dev/null || ps").stdout
        assert APP_SECRET not in listing and password not in listing
    printed = "".join(seed.output)
    assert "Updating" in printed or "create" in printed, "expected up output to check"
    assert APP_SECRET not in printed and password not in printed
    # The container does get its secret, through the mode-600 env file.
    web = containers(host_address("h1"))[0]["name"]
    env = ssh(host_address("h1"), f"docker exec {web} /bin/busybox env").stdout
    assert f"APP_SECRET={APP_SECRET}" in env
    env_file = f"/root/.fleetform/{STACK}/env/{web}.env"
    mode = ssh(host_address("h1"), f"stat -c %a {env_file}").stdout.strip()
    assert mode == "600"


def test_env_change_replaces_only_app_containers_and_keeps_redis_data(seed: SeedStack) -> None:
    assert redis("SET fleetform-e2e kept").startswith("+OK")
    redis_before = containers(host_address("h4"))
    config = seed.edited()
    config["env"]["clear"]["GREETING"] = "changed"
    seed.write(config)
    changes = seed.changed_resources()
    replaced = {name for name, ops in changes.items() if "replace" in ops}
    app_hosts = [host_address(h) for h in ("h1", "h2", "h3")]
    expected = {f"web-{app_hosts[0]}", f"web-{app_hosts[1]}", f"jobs-{app_hosts[2]}"}
    assert replaced == expected, changes
    assert not [name for name in changes if name.startswith("redis")], changes
    seed.up("env-change up")
    assert containers(host_address("h4")) == redis_before
    assert "kept" in redis("GET fleetform-e2e")
    import urllib.request

    with urllib.request.urlopen(f"http://{app_hosts[0]}/", timeout=15) as response:
        assert "changed" in response.read().decode()


def test_redis_tag_change_replaces_only_redis(seed: SeedStack) -> None:
    config = seed.edited()
    config["accessories"]["redis"]["image"] = config["accessories"]["redis"]["image"].replace(
        ":7.0", ":7"
    )
    seed.write(config)
    changes = seed.changed_resources()
    assert changes, "a new Redis tag must change something"
    assert all(name.startswith("redis-") for name in changes), changes
    seed.up()
    assert "kept" in redis("GET fleetform-e2e")


def test_wrong_declared_arch_fails_before_touching_the_host(seed: SeedStack) -> None:
    before = containers(host_address("h4"))
    error = seed.failing_up(lambda c: c["accessories"]["redis"].update(arch="arm64"))
    assert f"{host_address('h4')}: declared arm64 (accessory redis) but the host is amd64" in error
    assert containers(host_address("h4")) == before
    assert seed.up().summary.result == "succeeded"
    assert containers(host_address("h4")) == before


def test_a_container_that_fails_to_start_leaves_the_old_one_serving(seed: SeedStack) -> None:
    import urllib.request

    web_hosts = [host_address("h1"), host_address("h2")]
    before = {address: containers(address) for address in web_hosts}
    error = seed.failing_up(lambda c: c["servers"]["web"].update(cmd="/bin/busybox false"))
    assert "exited or restarted" in error
    for address in web_hosts:
        assert containers(address) == before[address]
        with urllib.request.urlopen(f"http://{address}/", timeout=15) as response:
            assert response.read().decode().startswith("aarch64")
    assert seed.up().summary.result == "succeeded"
    for address in web_hosts:
        assert [c["name"] for c in containers(address)] == [c["name"] for c in before[address]]


def test_remote_command_refuses_a_host_with_another_host_key(tmp_path: Path) -> None:
    inv = inventory()
    target = host_address("h1")
    keys = {h["address"]: h["host_public_key"] for h in inv["hosts"]}
    other_key = next(key for address, key in keys.items() if address != target)
    pinned = {"key": other_key}

    def program() -> None:
        import pulumi

        from components.remote_command import SshConnection, host_command

        host_command(
            "probe",
            connection=SshConnection(
                host=target,
                port=22,
                user="root",
                private_key=pulumi.Output.secret(Path(inv["client_key"]).read_text()),
                host_key=pinned["key"],
                command_timeout=60,
            ),
            create="uname -m",
        )

    stack = auto.create_or_select_stack(
        stack_name="e2e-hostkey",
        project_name="fleetform-hostkey",
        program=program,
        opts=auto.LocalWorkspaceOptions(pulumi_command=pulumi_command(), work_dir=str(tmp_path)),
    )
    try:
        with pytest.raises(auto.CommandError) as failure:
            stack.up(color="never", on_output=lambda _line: None)
        assert "ssh: host key mismatch" in str(failure.value)
        # The same program with the right key goes through: the key was the only problem.
        pinned["key"] = keys[target]
        result = stack.up(color="never", on_output=lambda _line: None)
        assert result.summary.result == "succeeded"
        assert (result.summary.resource_changes or {}).get("create") == 1
    finally:
        stack.destroy(color="never", on_output=lambda _line: None)
        stack.workspace.remove_stack("e2e-hostkey")


def test_a_wrong_pin_names_the_host_and_the_fingerprint_it_offered(seed: SeedStack) -> None:
    from components.host_key_check import fingerprint

    inv = inventory()
    target, other = host_address("h1"), host_address("h2")
    keys = {h["address"]: h["host_public_key"] for h in inv["hosts"]}
    before = containers(target)
    seed.stack.set_config("fleetform:hostKeys", auto.ConfigValue(json.dumps({target: keys[other]})))
    try:
        config = seed.edited()
        config["env"]["clear"]["GREETING"] = "never deployed"
        seed.write(config)
        with pytest.raises(auto.CommandError) as failure:
            seed.stack.up(color="never", on_output=lambda _line: None)
    finally:
        seed.stack.remove_config("fleetform:hostKeys")
        seed.write(sample_config())
    message = str(failure.value)
    assert f"{target}: host key mismatch: the host offered ssh-ed25519 " in message
    assert fingerprint(keys[target]) in message and fingerprint(keys[other]) in message
    assert "Traceback" not in message
    assert containers(target) == before


def test_a_host_frozen_mid_deploy_fails_within_the_limit_and_a_rerun_converges(
    seed: SeedStack,
) -> None:
    limit = 40
    jobs_host = host_address("h3")
    before = containers(jobs_host)
    seed.stack.set_config("fleetform:commandTimeout", auto.ConfigValue(str(limit)))
    seed.stack.set_config("fleetform:readinessTimeout", auto.ConfigValue("20"))
    config = seed.edited()
    config["env"]["clear"]["GREETING"] = "after the thaw"
    seed.write(config)
    try:
        with frozen("h3", "dockerd"):
            started = time.monotonic()
            with pytest.raises(auto.CommandError) as failure:
                seed.stack.up(color="never", on_output=seed.output.append)
            elapsed = time.monotonic() - started
        TIMINGS["frozen host up (fails)"] = elapsed
        assert f"{jobs_host}: the remote script did not finish within {limit}s" in str(
            failure.value
        )
        # Bounded by the limit plus the other hosts' work, not by the frozen host.
        assert elapsed < limit + 90
        assert containers(jobs_host) == before
        assert seed.up("re-run after thaw").summary.result == "succeeded"
    finally:
        seed.stack.remove_config("fleetform:commandTimeout")
        seed.stack.remove_config("fleetform:readinessTimeout")
    jobs = containers(jobs_host)
    assert len(jobs) == 1 and jobs[0]["name"] != before[0]["name"]
    env = ssh(jobs_host, f"docker exec {jobs[0]['name']} /bin/busybox env").stdout
    assert "GREETING=after the thaw" in env


def test_destroy_leaves_no_fleetform_containers(seed: SeedStack) -> None:
    seed.stack.destroy(color="never", on_output=lambda _line: None)
    for host in inventory()["hosts"]:
        assert containers(host["address"]) == []


def test_python_tracebacks_never_reach_users(seed: SeedStack) -> None:
    config = seed.edited()
    config["accessories"]["redis"]["arch"] = "arm"
    seed.write(config)
    with pytest.raises(auto.CommandError) as failure:
        seed.stack.preview(color="never")
    message = str(failure.value)
    assert "accessories/redis/arch: must be one of amd64, arm64 (got 'arm')" in message
    assert "Traceback" not in message
    shutil.copy(ROOT / "config" / "deploy.yml", seed.deploy_file)
