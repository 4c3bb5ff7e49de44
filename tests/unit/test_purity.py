"""The pure layers never import Pulumi: planning must work (and be testable) without it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_config_plan_and_cli_do_not_import_pulumi() -> None:
    probe = (
        "import sys\n"
        "import components.config, components.plan, components.errors, components.cli\n"
        "import components.known_hosts, components.stack_files\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0].startswith('pulumi'))\n"
        "print(loaded)\n"
        "sys.exit(1 if loaded else 0)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == "[]"
