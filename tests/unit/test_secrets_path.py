"""`secrets_path`: where `secrets import` looks when no file is named, Kamal's way."""

from __future__ import annotations

from pathlib import Path

from components.day2.secrets_import import kamal_secrets_files
from tests.unit.support import assert_config_error, parse


def test_secrets_path_is_read_as_written() -> None:
    assert parse(secrets_path="deploy/secrets").secrets_path == "deploy/secrets"
    assert parse().secrets_path is None


def test_secrets_path_must_be_a_string() -> None:
    assert_config_error("secrets_path: must be a string (got a list)", secrets_path=["x"])


def test_common_first_then_the_destination_file() -> None:
    base = Path("/p/.kamal/secrets")
    assert kamal_secrets_files(base, None) == [
        Path("/p/.kamal/secrets-common"),
        Path("/p/.kamal/secrets"),
    ]
    assert kamal_secrets_files(base, "staging") == [
        Path("/p/.kamal/secrets-common"),
        Path("/p/.kamal/secrets.staging"),
    ]
