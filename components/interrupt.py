"""How the Pulumi program ends when the engine stops it."""

from __future__ import annotations

import os
import signal
from types import FrameType

# 128 + SIGINT, the shell's code for "ended by an interrupt".
INTERRUPTED = 130


def end_quietly_on_interrupt() -> None:
    """Ends the program at once, without a traceback, when the engine interrupts it.

    The engine stops a failed or cancelled update by sending the program SIGINT. Python would
    raise KeyboardInterrupt wherever the program happened to be (usually inside a gRPC log
    call) and the CLI would print that traceback under the stack as if it were the error, below
    the resource errors that really are. The exit is non-zero on purpose: an interrupted program
    must never look like one that finished, whose unregistered resources the engine deletes.
    """
    signal.signal(signal.SIGINT, _end)


def _end(_signum: int, _frame: FrameType | None) -> None:
    os._exit(INTERRUPTED)
