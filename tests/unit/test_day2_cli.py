"""`python -m components app|accessory|secrets`: bad input is status 2 and one clean line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "components", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("app", "logs"), "error: the following arguments are required: --stack"),
        (("app", "logs", "--stack", "dev", "--lines", "0"),
         "argument -n/--lines: expected a whole number, at least 1 (got '0')"),
        (("app", "logs", "--stack", "dev", "-r", "web,"),
         "argument -r/--roles: expected a comma-separated list of names (got 'web,')"),
        (("app", "exec", "--stack", "dev"), "error: the following arguments are required: CMD"),
        (("app", "logs", "--stack", "dev", "-h"), "argument -h/--hosts: expected one argument"),
        (("accessory", "reboot", "--stack", "dev"),
         "error: the following arguments are required: NAME"),
        (("app", "restart", "--stack", "dev"), "argument action: invalid choice: 'restart'"),
        (("secrets", "import", ".kamal/secrets"),
         "error: the following arguments are required: --stack"),
    ],
)  # fmt: skip
def test_usage_errors_exit_2(args: tuple[str, ...], message: str) -> None:
    done = run(*args)
    assert done.returncode == 2
    assert message in done.stderr.splitlines()[-1]
    assert "Traceback" not in done.stderr and done.stdout == ""


def test_a_word_that_is_no_command_and_no_alias_is_refused_by_argparse() -> None:
    done = run("deploy")
    assert done.returncode == 2
    assert "argument command: invalid choice: 'deploy' (choose from " in done.stderr


def test_a_missing_secrets_file_is_named_before_pulumi_runs() -> None:
    done = run("secrets", "import", "/nonexistent/secrets", "--stack", "dev")
    assert done.returncode == 2
    assert done.stderr == "error: /nonexistent/secrets: no such file\n"


def test_help_keeps_kamals_short_options() -> None:
    done = run("app", "exec", "--help")
    assert done.returncode == 0
    for option in ("-r ROLES", "-h HOSTS", "-i, --interactive", "--reuse", "CMD"):
        assert option in done.stdout
