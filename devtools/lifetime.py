"""Local servers that never outlive what started them (`make run`, tests, benchmarks).

Two gaps a plain subprocess leaves open, both measured with `make run`:
- a SIGKILLed runner cannot stop its children: `die_with_parent` (a `preexec_fn`) asks the kernel to send the child
  SIGTERM when the starting thread ends, however it ends (Linux's PR_SET_PDEATHSIG, man 2 prctl);
- GNU make forwards SIGTERM to the recipe it runs, but after SIGINT sent to make alone it only waits for the recipe
  to end (src/commands.c, fatal_error_signal: it kills its children for SIGTERM only; with SIGINT it relies on the
  terminal having signalled the whole process group). While it waits there, make has SIGINT blocked in its handler:
  `parent_stopping` reads that from /proc, so the runner stops instead of waiting forever.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path

_PR_SET_PDEATHSIG = 1
_LIBC = ctypes.CDLL(None, use_errno=True) if sys.platform.startswith("linux") else None
#: Signals make's fatal_error_signal handles; while it runs, the one being handled is blocked.
_FATAL = (signal.SIGHUP, signal.SIGINT, signal.SIGQUIT, signal.SIGTERM)


def die_with_parent() -> Callable[[], None]:
    """A preexec_fn: the child gets SIGTERM when this process ends (a no-op where PR_SET_PDEATHSIG does not exist)."""
    parent = os.getpid()

    def arrange() -> None:
        if _LIBC is None:
            return
        _LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != parent:  # the parent ended between fork and prctl: nobody would signal this child
            os.kill(os.getpid(), signal.SIGTERM)

    return arrange


def parent_stopping(parent: int) -> bool:
    """True once `parent` (the pid this process started under) has gone, or is GNU make handling a fatal signal."""
    if os.getppid() != parent:
        return True
    proc = Path(f"/proc/{parent}")
    try:
        if proc.joinpath("comm").read_text().strip() not in ("make", "gmake"):
            return False
        status = dict(
            line.split(":\t", 1) for line in proc.joinpath("status").read_text().splitlines() if ":\t" in line
        )
    except (OSError, ValueError):
        return False
    blocked = int(status.get("SigBlk", "0"), 16)
    return any(blocked & (1 << (signum - 1)) for signum in _FATAL)
