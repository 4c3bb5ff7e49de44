"""`python -m components plan`: output on success, status 2 and one clean line on bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from components.cli import main

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures"
SEED = FIXTURES / "deploy_seed_fleet.yml"


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "components", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )


def test_table_groups_rows_by_host_with_aligned_columns() -> None:
    result = run("plan", "--config", str(SEED))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "service hello: 5 containers on 4 hosts"
    assert lines[1] == "build 10.0.0.100:5000/fleetform/hello for: linux/arm64"
    header = lines[3]
    assert header.split() == ["HOST", "ARCH", "KIND", "NAME", "IMAGE", "PLATFORM", "CONTAINER"]
    rows = lines[4:]
    assert len(rows) == 5
    image_column = header.index("IMAGE")
    assert all(row[image_column - 2 : image_column] == "  " for row in rows)
    assert rows[3].startswith(" ") and "accessory  db" in rows[3]  # second row on 10.0.0.3
    assert rows[4].split() == [
        "10.0.0.4", "amd64", "accessory", "redis", "redis:7.0", "linux/amd64", "hello-redis",
    ]  # fmt: skip


def test_json_format_with_filters_and_destination() -> None:
    result = run(
        "plan",
        "--config",
        str(FIXTURES / "deploy_destination.yml"),
        "--destination",
        "staging",
        "--roles",
        "web",
        "--hosts",
        "10.9.0.1",
        "--format",
        "json",
    )
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["destination"] == "staging"
    assert [(p["host"], p["container"]) for p in document["placements"]] == [
        ("10.9.0.1", "blog-web-staging")
    ]


def test_sample_deploy_file_plans() -> None:
    result = run("plan")
    assert result.returncode == 0, result.stderr
    assert "10.203.0.14  amd64  accessory  redis" in result.stdout
    assert "hello-web" in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["plan", "--config", "missing.yml"], "error: missing.yml: file not found"),
        (
            ["plan", "--config", str(SEED), "--destination", "staging"],
            f"error: {FIXTURES}/deploy_seed_fleet.staging.yml: "
            "file not found for destination 'staging'",
        ),
        (
            ["plan", "--config", str(SEED), "--roles", "api"],
            "error: roles filter: unknown role 'api' (roles are web, jobs)",
        ),
        (
            ["plan", "--config", str(SEED), "--hosts", "10.0.0.99"],
            "error: hosts filter: unknown host '10.0.0.99' (not in servers or accessories)",
        ),
        (["plan", "--format", "yaml"], "invalid choice: 'yaml'"),
        (["plan", "--roles", "web,,jobs"], "expected a comma-separated list of names"),
        (["plan", "--bogus"], "unrecognized arguments: --bogus"),
        (["deploy"], "invalid choice: 'deploy'"),
        ([], "the following arguments are required: command"),
    ],
)
def test_invalid_input_exits_2_with_a_message_and_no_traceback(
    args: list[str], message: str
) -> None:
    result = run(*args)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


def test_config_errors_reach_stderr_verbatim(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "deploy.yml"
    bad.write_text(
        "service: app\nimage: org/app\nservers: [10.0.0.1]\n"
        "accessories:\n  redis: {image: redis:7, host: 10.0.0.4, prot: 6379}\n"
    )
    assert main(["plan", "--config", str(bad)]) == 2
    assert capsys.readouterr().err == "error: accessories/redis: unknown key 'prot'\n"
    bad.write_text("service: app\n  image: x\n")
    assert main(["plan", "--config", str(bad)]) == 2
    assert capsys.readouterr().err == (
        f"error: {bad}: invalid YAML at line 2: mapping values are not allowed here\n"
    )
