"""Planned 2-D FFTs: in place, unnormalised, on one preallocated buffer per plan.

A plan's ``buffer`` is the array to fill; ``forward()`` and ``inverse()`` transform it in place, with no
``1/N`` on either side: the phase-retrieval loop folds every normalisation into values it writes anyway,
so a scaling pass over memory would be pure cost. On the CPU the plan is FFTW (pyFFTW), on the GPU a
cuFFT plan; :class:`PlainFFT` is the same interface over unplanned ``xp.fft``, the reference the planned
transforms are tested against.

Planning with ``FFTW_MEASURE`` costs about a second per 1024² transform, so FFTW's wisdom is kept in a
cache file (``$XDG_CACHE_HOME/holostim/fftw-wisdom.json``): a one-time cost per machine. pyFFTW's wisdom
is a tuple of byte strings, stored as JSON of base64 strings: reading it can only ever yield bytes,
whereas the ``pickle`` this replaces ran whatever code a crafted cache file named during a plain
``holostim compute``. An old ``fftw-wisdom.pickle`` is never opened; it is removed when new wisdom is
saved.
``HOLOSTIM_FFTW_EFFORT`` chooses the planning effort (``FFTW_ESTIMATE`` for tests).
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from holostim import user_cache_dir
from holostim.backend.errors import BackendError
from holostim.files import atomic_write_bytes

if TYPE_CHECKING:
    from holostim.backend.backend import Backend

__all__ = ["CuFFTPlan", "FFTPlan", "FFTWPlan", "PlainFFT", "planned_fft"]

_WISDOM_LOCK = threading.Lock()


class FFTPlan(Protocol):
    """What every plan offers.

    ``buffer`` (transformed in place), its ``shape``, ``size`` (pixels of the last two axes) and
    unnormalised ``forward()``/``inverse()``, each returning the buffer.
    """

    buffer: Any
    shape: tuple[int, ...]
    size: int

    def forward(self) -> Any:
        """FFT the buffer in place (unnormalised) and return it."""

    def inverse(self) -> Any:
        """Inverse FFT the buffer in place, *without* the 1/N factor, and return it."""


_WISDOM_FORMAT = "holostim-fftw-wisdom"
_WISDOM_MAX_BYTES = 64 << 20  # FFTW's wisdom is kilobytes; a bigger file is not ours


def _wisdom_path() -> Path:
    return user_cache_dir() / "fftw-wisdom.json"


def _legacy_wisdom_path() -> Path:
    """Where versions before the JSON cache pickled their wisdom: never read, only removed."""
    return user_cache_dir() / "fftw-wisdom.pickle"


def encode_wisdom(wisdom: tuple[bytes, ...]) -> bytes:
    """The cache file's JSON text for pyFFTW's wisdom (a tuple of bytes)."""
    doc = {"format": _WISDOM_FORMAT, "version": 1,
           "wisdom": [base64.b64encode(bytes(w)).decode("ascii") for w in wisdom]}
    return (json.dumps(doc) + "\n").encode("ascii")


def decode_wisdom(data: bytes) -> tuple[bytes, ...] | None:
    """The wisdom tuple from a cache file's text; ``None`` for anything else (nothing in it is run)."""
    if len(data) > _WISDOM_MAX_BYTES:
        return None
    try:
        doc = json.loads(data.decode("ascii"))
        if not isinstance(doc, dict) or doc.get("format") != _WISDOM_FORMAT:
            return None
        items = doc.get("wisdom")
        if not isinstance(items, list) or not all(isinstance(w, str) for w in items):
            return None
        return tuple(base64.b64decode(w, validate=True) for w in items)
    except (UnicodeDecodeError, ValueError, binascii.Error, RecursionError):
        return None


def _load_wisdom() -> None:
    import pyfftw

    try:
        data = _wisdom_path().read_bytes()
    except OSError:
        return  # no cache yet: plan from scratch
    wisdom = decode_wisdom(data)
    if wisdom is not None:
        try:
            pyfftw.import_wisdom(wisdom)
        except (TypeError, ValueError):
            pass  # not wisdom FFTW can use: plan from scratch, the save replaces it


def _save_wisdom() -> None:
    import pyfftw

    try:
        atomic_write_bytes(_wisdom_path(), encode_wisdom(pyfftw.export_wisdom()))
        _legacy_wisdom_path().unlink(missing_ok=True)
    except OSError:
        pass  # a read-only home only costs the planning time again next run


def _fftw_effort() -> str:
    effort = os.environ.get("HOLOSTIM_FFTW_EFFORT", "FFTW_MEASURE").upper()
    if not effort.startswith("FFTW_"):
        effort = "FFTW_" + effort
    allowed = ("FFTW_ESTIMATE", "FFTW_MEASURE", "FFTW_PATIENT", "FFTW_EXHAUSTIVE")
    if effort not in allowed:
        raise BackendError(f"HOLOSTIM_FFTW_EFFORT={effort!r}; use one of {', '.join(allowed)}")
    return effort


class FFTWPlan:
    """FFTW forward and backward plans over one aligned buffer (CPU)."""

    def __init__(self, backend: Backend, shape: tuple[int, ...]):
        import pyfftw

        self.shape = tuple(int(s) for s in shape)
        self.backend = backend
        self.size = int(np.prod(self.shape[-2:]))
        self.buffer = pyfftw.empty_aligned(self.shape, dtype=backend.complex_dtype)
        self.buffer[...] = 0
        with _WISDOM_LOCK:
            _load_wisdom()
            flags = (_fftw_effort(), "FFTW_DESTROY_INPUT")
            kw = dict(axes=(-2, -1), flags=flags, threads=backend.threads)
            self._fwd = pyfftw.FFTW(self.buffer, self.buffer, direction="FFTW_FORWARD", **kw)
            self._inv = pyfftw.FFTW(self.buffer, self.buffer, direction="FFTW_BACKWARD", **kw)
            _save_wisdom()

    def forward(self):
        """FFT the buffer in place (unnormalised) and return it."""
        self._fwd.execute()
        return self.buffer

    def inverse(self):
        """Inverse FFT the buffer in place, *without* the 1/N factor, and return it."""
        self._inv.execute()
        return self.buffer


class CuFFTPlan:
    """One cuFFT C2C plan over a device buffer (GPU)."""

    def __init__(self, backend: Backend, shape: tuple[int, ...]):
        import cupy
        from cupyx.scipy import fft as cufft

        self.shape = tuple(int(s) for s in shape)
        self.backend = backend
        self.size = int(np.prod(self.shape[-2:]))
        self.buffer = cupy.zeros(self.shape, dtype=backend.complex_dtype)
        self._plan = cufft.get_fft_plan(self.buffer, axes=(-2, -1), value_type="C2C")

    def forward(self):
        """FFT the buffer in place (unnormalised) and return it."""
        from cupy.cuda import cufft

        self._plan.fft(self.buffer, self.buffer, cufft.CUFFT_FORWARD)
        return self.buffer

    def inverse(self):
        """Inverse FFT the buffer in place, *without* the 1/N factor, and return it."""
        from cupy.cuda import cufft

        self._plan.fft(self.buffer, self.buffer, cufft.CUFFT_INVERSE)
        return self.buffer


class PlainFFT:
    """Unplanned ``xp.fft`` on a buffer, with the same interface: the reference for the planned ones."""

    def __init__(self, backend: Backend, shape: tuple[int, ...]):
        self.shape = tuple(int(s) for s in shape)
        self.backend = backend
        self.xp = backend.xp
        self.size = int(np.prod(self.shape[-2:]))
        self.buffer = backend.xp.zeros(self.shape, dtype=backend.complex_dtype)

    def forward(self):
        """FFT the buffer in place (unnormalised) and return it."""
        self.buffer[...] = self.xp.fft.fft2(self.buffer)
        return self.buffer

    def inverse(self):
        """Inverse FFT the buffer in place, *without* the 1/N factor, and return it."""
        self.buffer[...] = self.xp.fft.ifft2(self.buffer) * self.size
        return self.buffer


def planned_fft(backend: Backend, shape: tuple[int, ...]) -> FFTPlan:
    """A new planned transform for ``backend``: FFTW on the CPU, cuFFT on the GPU."""
    return CuFFTPlan(backend, shape) if backend.is_gpu else FFTWPlan(backend, shape)
