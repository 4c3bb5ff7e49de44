"""Fixtures shared by the end-to-end suites."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from pulumi import automation as auto

from tests.support import pulumi_command

StackFactory = Callable[[str, auto.PulumiFn], auto.Stack]
PROJECT = "fleetform-e2e-inline"


@pytest.fixture
def throwaway_stack(tmp_path: Path) -> Iterator[StackFactory]:
    """Stacks of inline programs on a file backend of their own in tmp_path; destroyed after."""
    backend = tmp_path / "state"
    backend.mkdir()
    created: list[auto.Stack] = []

    def create(name: str, program: auto.PulumiFn) -> auto.Stack:
        stack = auto.create_stack(
            stack_name=name,
            project_name=PROJECT,
            program=program,
            opts=auto.LocalWorkspaceOptions(
                work_dir=str(tmp_path),
                pulumi_command=pulumi_command(),
                project_settings=auto.ProjectSettings(
                    name=PROJECT,
                    runtime="python",
                    backend=auto.ProjectBackend(url=backend.as_uri()),
                ),
                env_vars={
                    "PULUMI_BACKEND_URL": backend.as_uri(),
                    "PULUMI_CONFIG_PASSPHRASE": "fleetform-e2e-inline",
                },
            ),
        )
        created.append(stack)
        return stack

    yield create
    for stack in created:
        stack.destroy(on_output=lambda _line: None)
        stack.workspace.remove_stack(stack.name)
