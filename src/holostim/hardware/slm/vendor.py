"""What the SLMs driven through a vendor SDK (Meadowlark, Holoeye) share: the C library, a held frame.

A vendor SDK is a C library a lab installs with the panel; holostim loads it with :mod:`ctypes` from
the path the session names, never at import, so a machine without it runs everything else and a rig
whose path is wrong gets one line naming the SDK and the fix.

These panels are not monitors: once a frame is written, the controller keeps showing it until the next
one (there is no repaint to watch). So the interlock's "recent swap" is satisfied while the SDK is
open and healthy; a failed SDK call latches a display fault, which turns the laser permit off until a
frame is written successfully again.
"""

from __future__ import annotations

import ctypes
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from holostim.hardware.slm.base import SLM
from holostim.hardware.slm.errors import SLMDisplayError

__all__ = ["HeldFrameSLM", "SDKError", "load_sdk"]


class SDKError(SLMDisplayError):
    """A vendor SDK that is missing, cannot be loaded, or reported an error."""


def load_sdk(path: str | os.PathLike | None, names: Sequence[str], sdk: str, key: str) -> ctypes.CDLL:
    """Load the vendor library at ``path`` (the file, or a folder holding one of ``names``).

    ``sdk`` names the SDK and ``key`` the session key for messages: every failure is one line saying
    which SDK, where holostim looked and what to set.
    """
    if path is None or str(path) == "":
        raise SDKError(f"{sdk}: {key} is not set; give the path of the SDK's library ({' or '.join(names)})")
    p = Path(path)
    if p.is_dir():
        found = [p / n for n in names if (p / n).is_file()]
        if not found:
            raise SDKError(
                f"{sdk}: no {' / '.join(names)} in {p}; install the SDK or set {key} to its library file"
            )
        p = found[0]
    elif not p.is_file():
        raise SDKError(f"{sdk}: {p} does not exist; install the SDK or fix {key}")
    try:
        mode = getattr(ctypes, "RTLD_LOCAL", 0)
        return ctypes.CDLL(str(p), mode=mode)
    except OSError as exc:
        bits = "64" if sys.maxsize > 2**32 else "32"
        raise SDKError(
            f"{sdk}: {p} cannot be loaded ({exc}); it must be the SDK's {bits}-bit library for this system"
        ) from None


def bind(lib: ctypes.CDLL, name: str, restype: Any, argtypes: Sequence[Any], sdk: str) -> Any:
    """The SDK function ``name`` with its C signature set (so ctypes converts and checks arguments)."""
    try:
        fn = getattr(lib, name)
    except AttributeError:
        raise SDKError(
            f"{sdk}: the library has no function {name}; this SDK version is not supported"
        ) from None
    fn.restype = restype
    fn.argtypes = list(argtypes)
    return fn


class HeldFrameSLM(SLM):
    """An SLM whose controller holds the last written frame (no repaints): the display check is the SDK's."""

    def _last_swap_time(self) -> float | None:
        if self._t_last_swap is None:
            return None
        return self._clock()  # the controller keeps showing the frame; a failure latches a fault instead

    def _write(self, record: Any, write: Any) -> None:
        """Run ``write()`` (the SDK calls that show ``record``); on success the frame is on the panel."""
        t = self._clock()
        record.t_uploaded = t
        try:
            write()
        except SDKError as exc:
            self._set_fault(str(exc))
            raise
        if self._fault:
            self._set_fault(None)
        self._frame_swapped(record, self._clock())
