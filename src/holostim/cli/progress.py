"""A progress bar on stderr for long commands (calibration, batch compute).

The same ``progress(done, total, what)`` signature as every holostim progress callback, so a command
hands it straight to the work it runs.
"""

from __future__ import annotations

import sys
import time

__all__ = ["Progress"]


class Progress:
    """A one-line progress bar on stderr (one line per step when stderr is not a terminal).

    Call it as ``progress(done, total, what)``, the signature of every holostim progress callback.
    """

    def __init__(self, label: str, stream=None, width: int = 30):
        self.label = label
        self.stream = stream if stream is not None else sys.stderr
        self.width = width
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.t0 = time.monotonic()

    def __call__(self, done: int, total: int, what: str = "") -> None:
        """Show that ``done`` of ``total`` steps are finished; ``what`` names the last one."""
        total = max(int(total), 1)
        done = min(max(int(done), 0), total)
        filled = int(self.width * done / total)
        bar = "#" * filled + "." * (self.width - filled)
        text = f"{self.label} [{bar}] {done}/{total} {what}"
        if self.tty:
            print(f"\r{text:<100}", end="", file=self.stream, flush=True)
            if done >= total:
                print(f"  ({time.monotonic() - self.t0:.1f} s)", file=self.stream, flush=True)
        else:
            print(text, file=self.stream, flush=True)
