"""The program ends quietly, and non-zero, when the engine interrupts it."""

from __future__ import annotations

import subprocess
import sys

from tests.support import ROOT

PROGRAM = """
import os, signal, time
from components.interrupt import end_quietly_on_interrupt
end_quietly_on_interrupt()
os.kill(os.getpid(), signal.SIGINT)
time.sleep(5)
print("still running")
"""


def test_an_interrupt_ends_the_program_with_130_and_no_traceback() -> None:
    result = subprocess.run(
        [sys.executable, "-c", PROGRAM], cwd=ROOT, capture_output=True, text=True, timeout=30
    )
    assert (result.returncode, result.stdout, result.stderr) == (130, "", "")


def test_without_it_python_prints_a_traceback() -> None:
    # The behaviour the handler exists to replace; if Python stops doing this, it can go.
    program = PROGRAM.replace("end_quietly_on_interrupt()\n", "")
    result = subprocess.run(
        [sys.executable, "-c", program], cwd=ROOT, capture_output=True, text=True, timeout=30
    )
    assert "KeyboardInterrupt" in result.stderr
