"""Which private key the deploy logs in with: the stack's own, else deploy.yml's ssh/keys."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pulumi
import pytest

from components.errors import DeployConfigError
from components.stack_config import private_key

pytestmark = pytest.mark.components


def settings(key: Any) -> Any:
    return SimpleNamespace(ssh_private_key=key)


def test_ssh_keys_supplies_the_key_when_the_stack_sets_none(tmp_path: Path) -> None:
    key = tmp_path / "id_ed25519"
    key.write_text("PRIVATE KEY\n")
    output = private_key(settings(None), (str(key),))
    assert isinstance(output, pulumi.Output)


def test_a_missing_key_file_names_its_path() -> None:
    with pytest.raises(DeployConfigError, match=r"ssh/keys/0: no such file \(got '/nope'\)"):
        private_key(settings(None), ("/nope",))


def test_both_sources_at_once_is_an_error_not_a_silent_choice() -> None:
    with pytest.raises(DeployConfigError, match="ssh/keys: the stack sets"):
        private_key(settings(pulumi.Output.secret("k")), ("~/.ssh/id",))


def test_no_key_anywhere_is_an_error() -> None:
    with pytest.raises(DeployConfigError, match="neither fleetform:sshPrivateKey nor ssh/keys"):
        private_key(settings(None), ())
