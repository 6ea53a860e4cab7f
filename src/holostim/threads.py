"""Thread priorities relative to the process's own, so a niced program keeps its internal order.

The GUI thread must stay responsive while hologram computation and the simulated camera's rendering
share the cores, so those worker threads lower their own priority. The step is relative: under
``nice -n 15`` (a loaded analysis machine, a CI runner), an absolute value would *raise* the workers above
the GUI thread (as root) or fail (as a user).
"""

from __future__ import annotations

import os
import threading


def lower_current_thread_priority(steps: int) -> int | None:
    """Make the calling thread ``steps`` nice levels lower than it is now (capped at 19).

    Linux sets nice values per thread; threads this one starts later inherit the new value. Returns the
    new nice value, or ``None`` where per-thread priorities are not available (Windows, macOS: there the
    caller uses its toolkit's thread priority instead).
    """
    if not (hasattr(os, "setpriority") and hasattr(threading, "get_native_id")):
        return None
    try:
        tid = threading.get_native_id()
        nice = min(os.getpriority(os.PRIO_PROCESS, tid) + int(steps), 19)
        os.setpriority(os.PRIO_PROCESS, tid, nice)
        return nice
    except OSError:
        return None
