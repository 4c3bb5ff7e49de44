"""Day-2 commands end to end: `app`, `accessory` and `secrets import` on real stacks and hosts.

`e2e-day2` is the sample deploy.yml without published web ports and with Redis on host port 6390,
so it runs beside the other suites' stacks on the same fleet. `e2e-secrets-import` is an empty
stack that only receives secrets. Both are removed at the end, whatever happened.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from pulumi import automation as auto

from components.stack_config import DEV_PASSPHRASE
from tests.support import ROOT, host_address, inventory, pulumi_command, ssh

pytestmark = pytest.mark.e2e

STACK = "e2e-day2"
SECRETS_STACK = "e2e-secrets-import"
EMPTY_STACK = "e2e-day2-empty"
REDIS_PORT = 6390
QUIET: dict[str, Any] = {"color": "never", "on_output": lambda _line: None}
TIMINGS: dict[str, float] = {}
COMMAND_TIMEOUT = 120


def day2_config() -> dict[str, Any]:
    """The sample deploy.yml, its web role neither publishing ports nor behind the proxy (other
    suites' stacks route h1 and h2 through it), and Redis on 6390."""
    config = yaml.safe_load((ROOT / "config" / "deploy.yml").read_text())
    config["servers"]["web"].pop("options", None)
    config["servers"]["web"]["proxy"] = False
    config["accessories"]["redis"]["port"] = f"{REDIS_PORT}:6379"
    return config


def create_day2_stack() -> auto.Stack:
    return auto.create_or_select_stack(
        stack_name=STACK,
        work_dir=str(ROOT),
        opts=auto.LocalWorkspaceOptions(pulumi_command=pulumi_command()),
    )


def configure_day2_stack(stack: auto.Stack, deploy_file: Path) -> None:
    inv = inventory()
    deploy_file.write_text(yaml.safe_dump(day2_config(), sort_keys=False))
    password = Path(inv["registry_password_file"]).read_text().strip()
    stack.set_all_config(
        {
            "fleetform:deployFile": auto.ConfigValue(str(deploy_file)),
            "fleetform:sshPrivateKeyPath": auto.ConfigValue(inv["client_key"]),
            "fleetform:knownHostsFile": auto.ConfigValue(inv["known_hosts"]),
            "fleetform:REGISTRY_PASSWORD": auto.ConfigValue(password, secret=True),
            "fleetform:APP_SECRET": auto.ConfigValue(secrets.token_hex(16), secret=True),
            "fleetform:versionKey": auto.ConfigValue(secrets.token_hex(32), secret=True),
        }
    )


def remove_stack(stack: auto.Stack) -> None:
    try:
        stack.destroy(**QUIET)
    finally:
        stack.workspace.remove_stack(stack.name)
        (ROOT / "stacks" / f"Pulumi.{stack.name}.yaml").unlink(missing_ok=True)


@pytest.fixture(scope="module", autouse=True)
def dev_passphrase() -> Iterator[None]:
    # The Automation API runs with this process's environment; the CLI picks its own (env.sh).
    with pytest.MonkeyPatch.context() as environment:
        environment.setenv("PULUMI_CONFIG_PASSPHRASE", DEV_PASSPHRASE)
        environment.delenv("PULUMI_CONFIG_PASSPHRASE_FILE", raising=False)
        yield


@pytest.fixture(scope="module")
def deployed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[auto.Stack]:
    stack = create_day2_stack()
    try:
        configure_day2_stack(stack, tmp_path_factory.mktemp("day2") / "deploy.yml")
        started = time.monotonic()
        stack.up(**QUIET)
        TIMINGS["up"] = time.monotonic() - started
        yield stack
    finally:
        started = time.monotonic()
        remove_stack(stack)
        TIMINGS["destroy"] = time.monotonic() - started
        print("\nday-2 timings (s): " + json.dumps({k: round(v, 1) for k, v in TIMINGS.items()}))


def cli(
    *args: str, timeout: int = COMMAND_TIMEOUT, **extra: str
) -> subprocess.CompletedProcess[str]:
    """`python -m components ARGS` as a user runs it, output captured."""
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "components", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **extra},
        check=False,
    )
    TIMINGS[" ".join(args[:2])] = time.monotonic() - started
    return done


def lines_of(text: str, prefix: str) -> list[str]:
    return [
        line.removeprefix(prefix + " ") for line in text.splitlines() if line.startswith(prefix)
    ]


def running(address: str, family: str) -> list[str]:
    out = ssh(
        address,
        f"docker ps --filter label=fleetform.container={family} "
        f"--filter label=fleetform.stack={STACK} --format '{{{{.Names}}}}'",
    ).stdout
    return out.split()


def family(kind_name: str) -> str:
    return f"hello-{kind_name}-{STACK}"


# -- app


def test_app_logs_show_the_jobs_role_output(deployed: auto.Stack) -> None:
    jobs = host_address("h3")
    done = cli("app", "logs", "--stack", STACK, "-r", "jobs", "--lines", "5", "-T")
    assert done.returncode == 0, done.stderr
    assert "jobs on aarch64" in lines_of(done.stdout, f"[{jobs} jobs]")
    # Every line names its host and role; web hosts were not asked.
    assert all(line.startswith(f"[{jobs} jobs] ") for line in done.stdout.splitlines())


def test_app_logs_follow_streams_and_stops_cleanly(deployed: auto.Stack) -> None:
    jobs = host_address("h3")
    process = subprocess.Popen(
        [sys.executable, "-m", "components", "app", "logs", "--stack", STACK, "-r", "jobs",
         "--follow", "-n", "1", "-T"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    seen: list[str] = []

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            seen.append(line)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not any("jobs on aarch64" in s for s in seen):
            time.sleep(0.2)
        assert any(s.startswith(f"[{jobs} jobs] jobs on aarch64") for s in seen), seen
        assert process.poll() is None, "--follow must keep streaming"
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=15) == 130
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.stderr is not None and process.stderr.read() == ""
    # The host's `docker logs --follow` went with the client.
    [container] = running(jobs, family("jobs"))
    deadline = time.monotonic() + 20
    while True:
        left = [
            line
            for line in ssh(jobs, "ps -o args 2>/dev/null || ps").stdout.splitlines()
            if "--follow" in line and container in line
        ]
        if not left or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert not left


def test_app_exec_runs_in_every_web_container(deployed: auto.Stack) -> None:
    done = cli("app", "exec", "--stack", STACK, "-r", "web", "uname -m")
    assert done.returncode == 0, done.stderr
    assert sorted(done.stdout.splitlines()) == [
        f"[{host_address('h1')} web] aarch64",
        f"[{host_address('h2')} web] aarch64",
    ]
    one = cli("app", "exec", "--stack", STACK, "-h", host_address("h2"), "--", "hostname")
    assert one.returncode == 0, one.stderr
    assert len(one.stdout.splitlines()) == 1
    assert one.stdout.startswith(f"[{host_address('h2')} web] ")


def test_app_exec_reports_a_failing_command_per_host(deployed: auto.Stack) -> None:
    done = cli("app", "exec", "--stack", STACK, "-r", "jobs", "sh -c 'exit 7'")
    assert done.returncode == 1
    assert f"[{host_address('h3')} jobs] exit status 7" in done.stderr


def _table(text: str) -> list[dict[str, str]]:
    header, *rows = text.splitlines()
    columns = header.split()
    return [dict(zip(columns, row.split(None, len(columns) - 1), strict=True)) for row in rows]


def test_app_details_and_containers_list_this_stacks_containers(deployed: auto.Stack) -> None:
    expected = {
        (host_address("h1"), "web", running(host_address("h1"), family("web"))[0]),
        (host_address("h2"), "web", running(host_address("h2"), family("web"))[0]),
        (host_address("h3"), "jobs", running(host_address("h3"), family("jobs"))[0]),
    }
    details = cli("app", "details", "--stack", STACK)
    assert details.returncode == 0, details.stderr
    rows = _table(details.stdout)
    assert {(r["HOST"], r["NAME"], r["CONTAINER"]) for r in rows} == expected
    assert all(r["STATUS"].startswith("Up") for r in rows)
    containers = cli("app", "containers", "--stack", STACK, "-r", "web")
    assert containers.returncode == 0, containers.stderr
    listed = {(r["HOST"], r["NAME"], r["CONTAINER"]) for r in _table(containers.stdout)}
    assert {row for row in expected if row[1] == "web"} <= listed
    assert all(re.fullmatch(rf"{family('web')}-[0-9a-f]{{12}}", row[2]) for row in listed)


# -- accessory


def test_accessory_exec_reaches_redis(deployed: auto.Stack) -> None:
    done = cli("accessory", "exec", "redis", "--stack", STACK, "redis-cli ping")
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"[{host_address('h4')} redis] PONG\n"


def test_accessory_logs_show_redis_starting(deployed: auto.Stack) -> None:
    done = cli("accessory", "logs", "redis", "--stack", STACK, "-n", "50")
    assert done.returncode == 0, done.stderr
    logged = lines_of(done.stdout, f"[{host_address('h4')} redis]")
    assert logged and any("Ready to accept connections" in line for line in logged), done.stdout


def started_at(address: str, container: str) -> str:
    command = f"docker inspect --format '{{{{.State.StartedAt}}}}' {container}"
    return ssh(address, command).stdout.strip()


def test_accessory_reboot_restarts_the_same_container(deployed: auto.Stack) -> None:
    redis_host = host_address("h4")
    [before] = running(redis_host, family("redis"))
    first_start = started_at(redis_host, before)
    done = cli("accessory", "reboot", "redis", "--stack", STACK)
    assert done.returncode == 0, done.stderr
    assert running(redis_host, family("redis")) == [before]
    assert started_at(redis_host, before) != first_start
    assert done.stdout.startswith(f"[{redis_host} redis] restarted {before} (started at ")
    ping = cli("accessory", "exec", "redis", "--stack", STACK, "redis-cli ping")
    assert ping.stdout.endswith("PONG\n"), ping.stdout + ping.stderr


# -- what is refused


@pytest.fixture(scope="module")
def empty_stack() -> Iterator[str]:
    command = [pulumi_command().command, "stack", "init", EMPTY_STACK, "--non-interactive"]
    subprocess.run(command, cwd=ROOT, check=True, capture_output=True)
    try:
        yield EMPTY_STACK
    finally:
        subprocess.run(
            [pulumi_command().command, "stack", "rm", EMPTY_STACK, "--yes", "--force"],
            cwd=ROOT,
            capture_output=True,
            check=False,
        )
        (ROOT / "stacks" / f"Pulumi.{EMPTY_STACK}.yaml").unlink(missing_ok=True)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("app", "logs", "-r", "worker"), f"error: --roles: no role 'worker' in stack '{STACK}' "
         "(roles: web, jobs)"),
        (("app", "exec", "-h", "10.203.0.99", "true"), "error: --hosts: host '10.203.0.99' is "
         f"not in stack '{STACK}' (hosts: 10.203.0.11, 10.203.0.12, 10.203.0.13, 10.203.0.14)"),
        (("app", "logs", "-r", "web", "-h", "10.203.0.13"), f"error: --hosts: in stack '{STACK}', "
         "role web runs on 10.203.0.11, 10.203.0.12, not on 10.203.0.13"),
        (("accessory", "logs", "db"), f"error: accessory 'db': not in stack '{STACK}' "
         "(accessories: redis)"),
        (("app", "logs", "--lines", "0"), "expected a whole number, at least 1 (got '0')"),
    ],
)  # fmt: skip
def test_bad_input_is_one_line_and_status_2(
    deployed: auto.Stack, args: tuple[str, ...], message: str
) -> None:
    done = cli(*args, "--stack", STACK)
    assert done.returncode == 2
    assert message in done.stderr
    assert "Traceback" not in done.stderr and done.stdout == ""


def test_unknown_and_undeployed_stacks_are_named(empty_stack: str) -> None:
    unknown = cli("app", "details", "--stack", "e2e-day2-never-created")
    assert unknown.returncode == 2
    assert unknown.stderr == (
        "error: stack 'e2e-day2-never-created': no such stack on this backend "
        "(pulumi stack ls lists them)\n"
    )
    empty = cli("accessory", "logs", "redis", "--stack", empty_stack)
    assert empty.returncode == 2
    assert empty.stderr == (
        f"error: stack '{empty_stack}': not deployed (it has no placements output); "
        "run pulumi up first\n"
    )


def test_a_host_offering_another_key_is_refused(deployed: auto.Stack) -> None:
    keys = {h["address"]: h["host_public_key"] for h in inventory()["hosts"]}
    jobs = host_address("h3")
    wrong = keys[host_address("h1")]
    deployed.set_config("fleetform:hostKeys", auto.ConfigValue(json.dumps({jobs: wrong})))
    try:
        done = cli("app", "exec", "--stack", STACK, "-r", "jobs", "uname -m")
    finally:
        deployed.remove_config("fleetform:hostKeys")
    assert done.returncode == 1
    assert "aarch64" not in done.stdout
    assert done.stderr.startswith(f"[{jobs} jobs] host key mismatch: the host offered ED25519 ")
    assert len(done.stderr.splitlines()) == 1, done.stderr


# -- secrets import


@pytest.fixture(scope="module")
def secrets_stack() -> Iterator[auto.Stack]:
    stack = auto.create_or_select_stack(
        stack_name=SECRETS_STACK,
        work_dir=str(ROOT),
        opts=auto.LocalWorkspaceOptions(pulumi_command=pulumi_command()),
    )
    try:
        yield stack
    finally:
        stack.workspace.remove_stack(SECRETS_STACK)
        (ROOT / "stacks" / f"Pulumi.{SECRETS_STACK}.yaml").unlink(missing_ok=True)


def test_secrets_import_sets_secrets_and_never_shows_a_value(
    secrets_stack: auto.Stack, tmp_path: Path
) -> None:
    token = {name: secrets.token_hex(8) for name in ("plain", "quoted", "single", "env", "json")}
    fetched = json.dumps({"vault/item/EXTRACTED": f"extracted-{token['json']}"})
    secrets_file = tmp_path / "secrets"
    secrets_file.write_text(
        "# Kamal's .kamal/secrets\n"
        f"export PLAIN=plain-{token['plain']}\n"
        f'QUOTED="quoted {token["quoted"]} with \\"escapes\\""  # a comment\n'
        f"SINGLE='single $NOT_EXPANDED {token['single']}'\n"
        "FROM_ENV=$DAY2_ENV_SECRET\n"
        "DERIVED=${PLAIN}-derived\n"
        'SLOW=$(sleep 1; echo "slow-${PLAIN}")\n'
        'MULTI="first line\n'
        f'second {token["plain"]}"\n'
        'SECRETS=$(echo "$DAY2_FETCHED")\n'
        "EXTRACTED=$(kamal secrets extract EXTRACTED ${SECRETS})\n"
    )
    expected = {
        "PLAIN": f"plain-{token['plain']}",
        "QUOTED": f'quoted {token["quoted"]} with "escapes"',
        "SINGLE": f"single $NOT_EXPANDED {token['single']}",
        "FROM_ENV": f"env-{token['env']}",
        "DERIVED": f"plain-{token['plain']}-derived",
        "SLOW": f"slow-plain-{token['plain']}",
        "MULTI": f"first line\nsecond {token['plain']}",
        "EXTRACTED": f"extracted-{token['json']}",
    }
    snapshots: list[str] = []
    importing = threading.Event()
    importing.set()

    def watch() -> None:
        while importing.is_set():
            listing = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True)
            snapshots.append(listing.stdout)
            time.sleep(0.02)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        done = cli(
            "secrets", "import", str(secrets_file), "--stack", SECRETS_STACK,
            DAY2_ENV_SECRET=f"env-{token['env']}", DAY2_FETCHED=fetched,
        )  # fmt: skip
    finally:
        importing.clear()
        watcher.join()
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "skipped SECRETS: only the source of kamal secrets extract",
        *[f"set fleetform:{key} (secret)" for key in expected],
        f"{len(expected)} secrets set on stack {SECRETS_STACK}",
    ]
    processes = "\n".join(snapshots)
    assert "sleep 1" in processes and "config set --secret" in processes, "window not observed"
    for value in token.values():
        assert value not in done.stdout and value not in done.stderr
        assert value not in processes
    config = secrets_stack.get_all_config()
    for key, value in expected.items():
        assert config[f"fleetform:{key}"].secret
        assert config[f"fleetform:{key}"].value == value
    assert "fleetform:SECRETS" not in config
    got = subprocess.run(
        [pulumi_command().command, "config", "get", "--stack", SECRETS_STACK, "fleetform:MULTI"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    assert got.stdout == expected["MULTI"] + "\n"
    stack_file = (ROOT / "stacks" / f"Pulumi.{SECRETS_STACK}.yaml").read_text()
    settings = yaml.safe_load(stack_file)["config"]
    assert {key: set(value) for key, value in settings.items()} == {
        f"fleetform:{key}": {"secure"} for key in expected
    }
    for value in token.values():
        assert value not in stack_file


def test_secrets_import_refuses_a_bad_file_and_sets_nothing(
    secrets_stack: auto.Stack, tmp_path: Path
) -> None:
    def settings() -> dict[str, tuple[str, bool]]:
        return {k: (v.value, v.secret) for k, v in secrets_stack.get_all_config().items()}

    before = settings()
    good = tmp_path / "good"
    good.write_text("NEW_KEY=never-set\n")
    dry_run = cli("secrets", "import", str(good), "--stack", SECRETS_STACK, "--dry-run")
    assert dry_run.returncode == 0, dry_run.stderr
    assert dry_run.stdout == f"would set fleetform:NEW_KEY (secret) on stack {SECRETS_STACK}\n"
    assert settings() == before
    secrets_file = tmp_path / "secrets"
    fetch = "$(kamal secrets fetch --adapter 1password --from Vault/Item FIRST)"
    secrets_file.write_text(f"FIRST=one\nSECRETS={fetch}\n")
    done = cli("secrets", "import", str(secrets_file), "--stack", SECRETS_STACK)
    assert done.returncode == 2
    assert done.stderr.startswith(
        f"error: {secrets_file}:2: SECRETS: `kamal secrets fetch` needs Kamal's secret adapters "
        "and kamal is not installed"
    )
    assert settings() == before


def test_secrets_import_without_a_file_reads_kamals_files_under_secrets_path(
    secrets_stack: auto.Stack, tmp_path: Path
) -> None:
    base = tmp_path / "kamal" / "secrets"
    base.parent.mkdir()
    own = secrets.token_hex(8)
    (base.parent / "secrets-common").write_text("SHARED=common\nOVERRIDDEN=common\n")
    base.write_text(f"OVERRIDDEN={own}\n")
    deploy = yaml.safe_load((ROOT / "config" / "deploy.yml").read_text())
    deploy["secrets_path"] = str(base)
    deploy_file = tmp_path / "deploy.yml"
    deploy_file.write_text(yaml.safe_dump(deploy))
    secrets_stack.set_config("fleetform:deployFile", auto.ConfigValue(str(deploy_file)))
    try:
        done = cli("secrets", "import", "--stack", SECRETS_STACK)
        assert done.returncode == 0, done.stderr
        config = secrets_stack.get_all_config()
        assert config["fleetform:SHARED"].value == "common"
        assert config["fleetform:OVERRIDDEN"].value == own
        assert config["fleetform:OVERRIDDEN"].secret
        assert own not in done.stdout + done.stderr
    finally:
        secrets_stack.remove_config("fleetform:deployFile")
        for key in ("SHARED", "OVERRIDDEN"):
            secrets_stack.remove_config(f"fleetform:{key}")
