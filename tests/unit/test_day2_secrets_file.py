"""Kamal's dotenv secrets file: syntax, expansions, commands, the kamal adapter pattern, errors."""

from __future__ import annotations

import json
import shlex
import subprocess
from collections.abc import Mapping

import pytest

from components.day2.secrets_file import SecretsFile, SecretsFileError, parse_secrets_file

SOURCE = ".kamal/secrets"


class Commands:
    """Records the commands a file runs; answers from a table, or runs them for real."""

    def __init__(self, answers: Mapping[str, tuple[int, str]] | None = None) -> None:
        self.answers = dict(answers or {})
        self.ran: list[tuple[str, dict[str, str]]] = []

    def __call__(self, command: str, extra: Mapping[str, str]) -> tuple[int, str]:
        self.ran.append((command, dict(extra)))
        if command in self.answers:
            return self.answers[command]
        done = subprocess.run(
            ["sh", "-c", command], env=dict(extra), capture_output=True, text=True, check=False
        )
        return done.returncode, done.stdout


def read(
    text: str,
    environ: Mapping[str, str] | None = None,
    commands: Commands | None = None,
    kamal_installed: bool = False,
) -> SecretsFile:
    return parse_secrets_file(
        text,
        source=SOURCE,
        environ=environ or {},
        run_command=commands or Commands(),
        kamal_installed=kamal_installed,
    )


def values(text: str, **environ: str) -> dict[str, str]:
    return read(text, environ).secrets


def assert_error(text: str, message: str, **environ: str) -> None:
    with pytest.raises(SecretsFileError) as error:
        read(text, environ)
    assert str(error.value) == message


def test_plain_lines_comments_blank_lines_and_export() -> None:
    text = "# secrets\n\nA=one\n  export B=two  \nC = three # trailing comment\nD=\n"
    assert values(text) == {"A": "one", "B": "two", "C": "three", "D": ""}


def test_a_hash_inside_a_word_is_part_of_the_value() -> None:
    assert values("A=pa#ss\nB=#comment only\n") == {"A": "pa#ss", "B": ""}


def test_single_quotes_are_literal_and_may_span_lines() -> None:
    text = "A='$HOME \\n $(echo no) # kept'\nB='line one\nline two' # comment\n"
    assert values(text) == {"A": "$HOME \\n $(echo no) # kept", "B": "line one\nline two"}


def test_double_quotes_unescape_and_expand() -> None:
    text = 'A=x\nB="say \\"hi\\"\\n\\\\ \\$A $A ${A}" # c\nC="multi\nline"\n'
    assert values(text) == {"A": "x", "B": 'say "hi"\n\\ $A x x', "C": "multi\nline"}


def test_variables_come_from_earlier_keys_then_the_environment() -> None:
    text = "A=file\nB=$A-${HOME_DIR}\nHOME_DIR=later\nC=${HOME_DIR}\n"
    assert values(text, HOME_DIR="/root", A="environment") == {
        "A": "file",
        "B": "file-/root",
        "HOME_DIR": "later",
        "C": "later",
    }


def test_a_dollar_that_names_nothing_is_literal() -> None:
    assert values("A=cost $5 and $\nB=\\$A\n", A="x") == {"A": "cost $5 and $", "B": "$A"}


def test_commands_run_through_sh_with_earlier_keys_in_their_environment() -> None:
    commands = Commands()
    parsed = read(
        'TOKEN=abc\nA=$(printf \'%s-%s\' "$TOKEN" "$(echo inner)")\nB="[$(echo x)]"\n',
        commands=commands,
    )
    assert parsed.secrets == {"TOKEN": "abc", "A": "abc-inner", "B": "[x]"}
    # The value travels in the environment, never spliced into the command text.
    assert commands.ran[0] == ('printf \'%s-%s\' "$TOKEN" "$(echo inner)"', {"TOKEN": "abc"})
    assert commands.ran[1] == ("echo x", {})


def test_command_output_loses_trailing_newlines_only() -> None:
    commands = Commands({"fetch": (0, "  value\n\n")})
    assert read("A=$(fetch)\n", commands=commands).secrets == {"A": "value"}


def test_parentheses_inside_quotes_of_a_command_do_not_end_it() -> None:
    assert values("A=$(echo ')(' \")\")\n") == {"A": ")( )"}


def test_kamal_extract_reads_the_fetched_json_without_kamal() -> None:
    fetched = json.dumps({"Vault/Item/REGISTRY_PASSWORD": "pw", "Vault/Item/API_KEY": "key"})
    commands = Commands({"op-fetch": (0, fetched)})
    parsed = read(
        "SECRETS=$(op-fetch)\n"
        "REGISTRY_PASSWORD=$(kamal secrets extract REGISTRY_PASSWORD ${SECRETS})\n"
        "API_KEY=$(kamal secrets extract API_KEY $SECRETS)\n",
        commands=commands,
    )
    assert parsed.secrets == {"REGISTRY_PASSWORD": "pw", "API_KEY": "key"}
    assert parsed.extract_sources == {"SECRETS"}
    assert [command for command, _ in commands.ran] == ["op-fetch"]


def test_kamal_extract_accepts_kamal_fetchs_shell_escaped_json_and_exact_names() -> None:
    escaped = shlex.quote(json.dumps({"API_KEY": "exact", "other/API_KEY": "suffix"}))
    parsed = read(f"SECRETS={escaped}\nAPI_KEY=$(kamal secrets extract API_KEY ${{SECRETS}})\n")
    assert parsed.secrets == {"API_KEY": "exact"}


def test_kamal_fetch_needs_kamal() -> None:
    text = "A=1\nSECRETS=$(kamal secrets fetch --adapter 1password --from V/I A)\n"
    with pytest.raises(SecretsFileError) as error:
        read(text)
    assert str(error.value).startswith(
        ".kamal/secrets:2: SECRETS: `kamal secrets fetch` needs Kamal's secret adapters and kamal "
        "is not installed; fetch with your password manager's own CLI instead"
    )
    commands = Commands({"kamal secrets fetch --from V/I A": (0, '{"V/I/A": "a"}')})
    installed = read(
        "SECRETS=$(kamal secrets fetch --from V/I A)\n", commands=commands, kamal_installed=True
    )
    assert installed.values == {"SECRETS": '{"V/I/A": "a"}'}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("A=$MISSING\n", ".kamal/secrets:1: A: $MISSING is not set (not an earlier key, not in the environment)"),
        ("\nA=ok\nB=\"${MISSING}\"\n", ".kamal/secrets:3: B: $MISSING is not set (not an earlier key, not in the environment)"),
        ("A=ok\n1A=x\n", ".kamal/secrets:2: expected KEY=value, KEY a letter or _ then letters, digits or _"),
        ("A ok\n", ".kamal/secrets:1: A: expected = after the key"),
        ("A='open\nB=x\n", ".kamal/secrets:1: A: no closing ' for the value"),
        ('A="open\n', '.kamal/secrets:1: A: no closing " for the value'),
        ("A='x' y\n", ".kamal/secrets:1: A: unexpected text after the closing quote"),
        ("A=${}\n", ".kamal/secrets:1: A: ${...} must name a variable, like ${SECRETS}"),
        ("A=$(echo\n", ".kamal/secrets:1: A: no closing ) for $("),
        ("A=$(exit 3)\n", ".kamal/secrets:1: A: $(exit 3) failed with exit status 3"),
        ("S={}\nA=$(kamal secrets extract A ${S})\n", ".kamal/secrets:2: A: kamal secrets extract: no secret A in the fetched JSON"),
        ("A=$(kamal secrets extract A)\n", ".kamal/secrets:1: A: $(kamal secrets extract A): expected kamal secrets extract NAME ${SECRETS}"),
    ],
)  # fmt: skip
def test_errors_name_file_line_and_key(text: str, message: str) -> None:
    assert_error(text, message)


def test_a_repeated_key_keeps_its_last_value_and_line() -> None:
    parsed = read("A=1\nB=2\nA=3\n")
    assert parsed.secrets == {"A": "3", "B": "2"}
    assert parsed.lines == {"A": 3, "B": 2}


def test_crlf_files_read_like_lf_files() -> None:
    assert values("A=one\r\nB='two'\r\n# c\r\n") == {"A": "one", "B": "two"}
