"""Build and drive the C stand-ins of the vendor SLM SDKs (``slm/standins/*.c``) for the binding tests.

A stand-in implements the documented C signatures of an SDK that cannot be installed here and records
every call with its arguments; the tests read the record back and make calls fail on demand.
"""

from __future__ import annotations

import ctypes
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

STANDINS = Path(__file__).parent / "slm" / "standins"


def build(tmp_dir: Path, source: str, libname: str) -> Path:
    """Compile ``standins/<source>`` into ``tmp_dir/<libname>`` (skip the test when no C compiler)."""
    cc = shutil.which("gcc") or shutil.which("cc")
    if cc is None:
        pytest.skip("no C compiler to build the SDK stand-in")
    out = tmp_dir / libname
    subprocess.run([cc, "-shared", "-fPIC", "-O1", "-o", str(out), str(STANDINS / source)],
                   check=True, capture_output=True)
    return out


class Recorder:
    """The stand-in's control side, through its own ctypes handle on the same loaded library."""

    def __init__(self, path: Path):
        self.lib = ctypes.CDLL(str(path))  # the same file: dlopen returns the library the SLM loaded
        self.lib.standin_log.restype = ctypes.c_char_p
        self.lib.standin_fail.argtypes = [ctypes.c_char_p, ctypes.c_int]
        self.lib.standin_image_len.restype = ctypes.c_size_t
        self.lib.standin_image.restype = ctypes.c_size_t
        self.lib.standin_image.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
        if hasattr(self.lib, "standin_geometry"):
            self.lib.standin_geometry.argtypes = [ctypes.c_int] * 5

    def calls(self) -> list[str]:
        return self.lib.standin_log().decode().splitlines()

    def names(self) -> list[str]:
        return [c.split()[0] for c in self.calls()]

    def clear(self) -> None:
        self.lib.standin_clear()

    def fail(self, name: str, code: int = 1) -> None:
        self.lib.standin_fail(name.encode(), code)

    def image(self) -> np.ndarray:
        n = self.lib.standin_image_len()
        buf = np.empty(n, np.uint8)
        self.lib.standin_image(buf.ctypes.data, n)
        return buf
