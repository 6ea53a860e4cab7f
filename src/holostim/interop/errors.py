"""The error of the interop room: an ROI or registration file that cannot be used.

Every message names the file and what is wrong with it, so the CLI's one line tells the user which
file to fix (or re-export) without a traceback.
"""

from __future__ import annotations

from holostim.errors import HolostimError

__all__ = ["InteropError"]


class InteropError(HolostimError, ValueError):
    """An ROI file (suite2p, CaImAn, ImageJ) or a registration file that cannot be read or used."""
