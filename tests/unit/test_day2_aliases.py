"""Kamal's `aliases:`: validation of the map and expansion of a command line."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from components.day2 import commands
from components.day2.aliases import AliasError, expand_alias, validate_aliases
from components.errors import DeployConfigError

ROOT = Path(__file__).resolve().parents[2]

COMMANDS = ("plan", "app", "accessory", "secrets")
ALIASES = {
    "console": 'app exec --interactive --reuse "bin/rails console"',
    "tail": "app logs -f -r web",
    "jobs-log": "tail -r jobs",
}


def test_an_alias_becomes_its_words_followed_by_the_rest() -> None:
    assert expand_alias(["console", "--stack", "dev"], ALIASES, COMMANDS) == [
        "app", "exec", "--interactive", "--reuse", "bin/rails console", "--stack", "dev",
    ]  # fmt: skip


def test_aliases_of_aliases_expand_in_turn() -> None:
    assert expand_alias(["jobs-log", "--stack", "dev"], ALIASES, COMMANDS) == [
        "app", "logs", "-f", "-r", "web", "-r", "jobs", "--stack", "dev",
    ]  # fmt: skip


def test_built_in_commands_and_options_are_never_expanded() -> None:
    assert expand_alias(["app", "logs"], {"app": "plan"}, COMMANDS) == ["app", "logs"]
    assert expand_alias(["--help"], ALIASES, COMMANDS) == ["--help"]
    assert expand_alias([], ALIASES, COMMANDS) == []


def test_an_unknown_word_names_the_commands_and_aliases() -> None:
    with pytest.raises(AliasError) as error:
        expand_alias(["deploy"], ALIASES, COMMANDS)
    assert str(error.value) == (
        "'deploy': not a command or an alias (commands: accessory, app, plan, secrets; "
        "aliases: console, jobs-log, tail)"
    )


def test_an_alias_loop_is_an_error() -> None:
    with pytest.raises(AliasError) as error:
        expand_alias(["a"], {"a": "b --x", "b": "a"}, COMMANDS)
    assert str(error.value) == "aliases/a: expands to itself (a -> b -> a)"


def test_validate_accepts_kamals_aliases() -> None:
    assert validate_aliases(ALIASES, COMMANDS) == ALIASES
    assert validate_aliases(None, COMMANDS) == {}


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (["console"], "aliases: must be a map of alias names to command lines"),
        ({"Console": "app logs"}, "aliases/Console: alias names may only contain lowercase letters, digits, - and _"),
        ({"app": "plan"}, "aliases/app: conflicts with the built-in command 'app'"),
        ({"x": ""}, "aliases/x: must be a command line like 'app logs -r web'"),
        ({"x": 3}, "aliases/x: must be a command line like 'app logs -r web'"),
        ({"x": "app exec 'open"}, "aliases/x: not a valid command line (No closing quotation)"),
        ({"x": "deploy"}, "aliases/x: 'deploy' is not a command (commands: accessory, app, plan, secrets)"),
    ],
)  # fmt: skip
def test_validate_names_the_bad_alias(raw: object, message: str) -> None:
    with pytest.raises(DeployConfigError) as error:
        validate_aliases(raw, COMMANDS)
    assert str(error.value) == message


def test_the_cli_expands_an_alias_from_the_deploy_file(monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[list[str]] = []

    def aliases(argv: list[str]) -> dict[str, str]:
        asked.append(list(argv))
        return ALIASES

    monkeypatch.setattr(commands, "deploy_aliases", aliases)
    assert commands.expand(["console", "--stack", "dev"], COMMANDS)[:2] == ["app", "exec"]
    assert asked == [["--stack", "dev"]]
    # A built-in command reads no deploy file.
    assert commands.expand(["plan", "--stack", "dev"], COMMANDS) == ["plan", "--stack", "dev"]
    assert len(asked) == 1


def test_a_deploy_file_without_aliases_has_none() -> None:
    seed = commands.ROOT / "tests" / "fixtures" / "deploy_seed_fleet.yml"
    assert commands.deploy_aliases(["--config", str(seed)]) == {}


def test_aliases_come_from_the_deploy_file(tmp_path: Path) -> None:
    deploy = yaml.safe_load((ROOT / "config" / "deploy.yml").read_text())
    deploy["aliases"] = {"web-logs": "app logs -r web --lines 5"}
    path = tmp_path / "deploy.yml"
    path.write_text(yaml.safe_dump(deploy))
    builtins = ("plan", *commands.COMMANDS)
    assert commands.expand(["web-logs", "--config", str(path)], builtins) == [
        "app", "logs", "-r", "web", "--lines", "5", "--config", str(path),
    ]  # fmt: skip


def test_a_bad_alias_in_the_deploy_file_is_a_config_error(tmp_path: Path) -> None:
    deploy = yaml.safe_load((ROOT / "config" / "deploy.yml").read_text())
    deploy["aliases"] = {"app": "plan"}
    path = tmp_path / "deploy.yml"
    path.write_text(yaml.safe_dump(deploy))
    with pytest.raises(DeployConfigError, match="aliases/app: conflicts with the built-in"):
        commands.expand(["x", "--config", str(path)], ("plan", *commands.COMMANDS))
