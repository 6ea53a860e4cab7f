"""The SLM: from a phase in radians to the exact 8-bit frame on the panel, plus the laser interlock.

A phase-only SLM is a display whose gray levels set a liquid-crystal retardance.  Whatever the engine
computes is worthless unless the right gray levels reach the panel, so the conversion lives in one place,
the :class:`SLM` base class, and every backend (the simulated panel here, the OpenGL window in
:mod:`holostim.hardware.slm_window`) only pushes the finished ``uint8`` frame (``_present``).

Pipeline of :meth:`SLM.load` (all per pixel, on the backend of the phase array; on CuPy only the finished
``uint8`` frame crosses to the host)::

    total = phase + correction            # correction precomputed once: flatness + Zernike + blaze + lens
    t     = total * G / 2π                # G = gray levels per 2π at the working wavelength
    t     = t mod G                       # wrap to [0, 2π) (in gray units)
    level = floor(t + 0.5)                # nearest level; a level >= G is 2π ≡ 0
    gray  = table[level]                  # identity for ``two_pi_gray``; the vendor LUT otherwise

With ``two_pi_gray`` ``G`` is that value (gray level that gives a 2π retardance); with a LUT, ``G = 256``
phase levels and ``table`` is the LUT (level ``i`` ↔ phase ``2π i / 256``).

This module never imports Qt (the core floors rule); the window lives in ``slm_window.py``.
"""

from __future__ import annotations

import csv
import logging
import math
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numba
import numpy as np

from holostim.backend import is_cupy_array
from holostim.errors import HolostimError

__all__ = [
    "LUT",
    "SLM",
    "FrameRecord",
    "LUTError",
    "SLMDisplayError",
    "SLMError",
    "SLMFileError",
    "SLMProtocol",
    "SimulatedSLM",
    "load_flatness",
    "load_lut",
    "phase_to_gray_reference",
    "slm_kwargs_from_config",
]

log = logging.getLogger("holostim.slm")

TWO_PI = 2.0 * math.pi
LEVELS_8BIT = 256


class SLMError(HolostimError, ValueError):
    """A bad SLM setting or input (shape, wavelength, gray scale, correction, phase array)."""


class LUTError(SLMError):
    """A lookup-table file or array that cannot be used (wrong length, non-monotonic, out of range)."""


class SLMFileError(HolostimError, FileNotFoundError):
    """A LUT or flatness-correction file that does not exist or cannot be read."""


class SLMDisplayError(HolostimError, RuntimeError):
    """The SLM display cannot be used (screen missing or wrong, OpenGL failure)."""


# ---------------------------------------------------------------------------------------------------------
# Lookup tables


@dataclass(frozen=True)
class LUT:
    """An 8-bit phase lookup table for one wavelength.

    ``gray[i]`` is the gray value that gives the phase ``2π i / 256`` at ``wavelength_um``; this is the
    meaning of the common two-column vendor format (``level gray`` per line, 256 lines).

    Parameters
    ----------
    gray : array of 256 integers in 0..255, non-decreasing (a decreasing table cannot be inverted, so
        the panel's phase would be ambiguous).
    wavelength_um : the wavelength the table was measured at (``None``: the working wavelength).
    source : where it came from, for messages and the event log.
    """

    gray: np.ndarray
    wavelength_um: float | None = None
    source: str = "<array>"

    def __post_init__(self):
        g = np.asarray(self.gray)
        if g.ndim != 1 or g.size != LEVELS_8BIT:
            raise LUTError(
                f"LUT {self.source} has {g.size} entries (shape {g.shape}); an 8-bit LUT needs exactly "
                f"{LEVELS_8BIT}, one gray value per phase level 0..255"
            )
        if not np.all(np.isfinite(g)) or np.any(g != np.round(g)):
            raise LUTError(f"LUT {self.source}: gray values must be whole numbers")
        if g.min() < 0 or g.max() > 255:
            raise LUTError(
                f"LUT {self.source}: gray values span {g.min():g}..{g.max():g}; holostim drives 8-bit "
                "frames, "
                "so they must lie in 0..255 (a 10/12-bit vendor table needs the vendor's 8-bit version)"
            )
        d = np.diff(g.astype(np.int64))
        if np.any(d < 0):
            i = int(np.argmax(d < 0))
            raise LUTError(
                f"LUT {self.source} is not monotonic: level {i} -> gray {int(g[i])} but level {i + 1} -> "
                f"gray {int(g[i + 1])}; a phase LUT must be non-decreasing so each gray has one phase"
            )
        if self.wavelength_um is not None and not (self.wavelength_um > 0):
            raise LUTError(f"LUT {self.source}: wavelength_um={self.wavelength_um!r} must be > 0")
        object.__setattr__(self, "gray", g.astype(np.uint8))

    def phase_of_gray(self) -> np.ndarray:
        """Retardance (radians, float64, length 256) the panel applies for each gray value 0..255.

        The inverse of the table, linearly interpolated between the measured points (gray values that
        several levels share take their mean phase); beyond the table's range the end slope is continued.
        Used by :class:`SimulatedSLM` to turn frames back into phase.
        """
        levels = np.arange(LEVELS_8BIT, dtype=np.float64) * (TWO_PI / LEVELS_8BIT)
        g = self.gray.astype(np.float64)
        ug, inv = np.unique(g, return_inverse=True)
        up = np.bincount(inv, weights=levels) / np.bincount(inv)
        grays = np.arange(256, dtype=np.float64)
        if ug.size == 1:
            return np.full(256, up[0])
        out = np.interp(grays, ug, up)
        lo, hi = grays < ug[0], grays > ug[-1]
        out[lo] = up[0] + (grays[lo] - ug[0]) * (up[1] - up[0]) / (ug[1] - ug[0])
        out[hi] = up[-1] + (grays[hi] - ug[-1]) * (up[-1] - up[-2]) / (ug[-1] - ug[-2])
        return out


def _parse_rows(path: Path) -> list[list[float]]:
    try:
        text = path.read_text(encoding="utf-8-sig", errors="strict")
    except FileNotFoundError:
        raise SLMFileError(f"LUT file {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SLMFileError(f"LUT file {path} cannot be read as text: {exc}") from None
    rows: list[list[float]] = []
    if path.suffix.lower() == ".csv":
        lines = list(
            csv.reader(line for line in text.splitlines() if line.strip() and not line.startswith("#"))
        )
    else:
        lines = [
            line.replace(",", " ").split()
            for line in text.splitlines()
            if line.strip() and not line.lstrip().startswith(("#", ";", "//"))
        ]
    for n, cells in enumerate(lines):
        cells = [c.strip() for c in cells if c.strip()]
        try:
            rows.append([float(c) for c in cells])
        except ValueError:
            if n == 0 and not rows:  # a header line such as "level,gray"
                continue
            raise LUTError(f"LUT file {path}: line {n + 1} {','.join(cells)!r} is not numbers") from None
    return rows


def load_lut(path: str | Path, wavelength_um: float | None = None) -> LUT:
    """Read an 8-bit phase LUT from a CSV or a two-column vendor text file.

    Accepted layouts (``#`` comments and one header line are skipped):

    * two columns ``level gray`` (whitespace- or comma-separated), levels 0..255 in order — the common
      vendor ``.lut``/``.txt`` format;
    * one column of 256 gray values (level = line number).

    Raises :class:`SLMFileError` if the file is missing/unreadable and :class:`LUTError` for a wrong
    number of entries, levels out of order, values outside 0..255 or a non-monotonic table.
    """
    path = Path(path)
    rows = _parse_rows(path)
    if not rows:
        raise LUTError(f"LUT file {path} holds no numbers; expected 256 lines 'level gray'")
    widths = {len(r) for r in rows}
    if widths == {1}:
        gray = np.array([r[0] for r in rows])
    elif widths == {2}:
        arr = np.array(rows)
        if arr.shape[0] == LEVELS_8BIT and not np.array_equal(arr[:, 0], np.arange(LEVELS_8BIT)):
            bad = int(np.argmax(arr[:, 0] != np.arange(LEVELS_8BIT)))
            raise LUTError(
                f"LUT file {path}: the first column must be the levels 0..255 in order, "
                f"but line {bad + 1} has level {arr[bad, 0]:g}"
            )
        gray = arr[:, 1]
    else:
        raise LUTError(
            f"LUT file {path} has rows of {sorted(widths)} columns; expected one column (gray) or two "
            "(level gray) on every line"
        )
    return LUT(gray, wavelength_um=wavelength_um, source=str(path))


def load_flatness(path: str | Path) -> np.ndarray:
    """Read a vendor flatness/wavefront-correction image (8-bit BMP/PNG/TIFF) as a ``uint8`` (ny, nx) array.

    Gray images are taken as they are; an RGB image is accepted only when its three channels are equal
    (vendors ship gray data in RGB BMPs).
    """
    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    try:
        with Image.open(path) as im:
            mode = im.mode
            if mode in ("L", "P"):
                arr = np.asarray(im.convert("L"))
            elif mode in ("RGB", "RGBA"):
                rgb = np.asarray(im.convert("RGB"))
                if not (
                    np.array_equal(rgb[..., 0], rgb[..., 1]) and np.array_equal(rgb[..., 0], rgb[..., 2])
                ):
                    raise SLMError(
                        f"flatness correction {path} is a colour image with different R, G and B; "
                        "it must be 8-bit gray (or RGB with equal channels)"
                    )
                arr = rgb[..., 0].copy()
            else:
                raise SLMError(
                    f"flatness correction {path} has image mode {mode!r}; it must be 8-bit gray (mode 'L')"
                )
    except FileNotFoundError:
        raise SLMFileError(f"flatness correction file {path} does not exist") from None
    except (OSError, UnidentifiedImageError) as exc:
        raise SLMFileError(f"flatness correction file {path} cannot be read as an image: {exc}") from None
    return arr


# ---------------------------------------------------------------------------------------------------------
# The fused phase -> gray kernels (CPU: numba; GPU: a CuPy ElementwiseKernel)


@numba.njit(inline="always")
def _level(t: float, period: float) -> int:
    t = t - period * math.floor(t / period)
    if t >= 0.0 and t <= period:
        return int(t + 0.5)
    return -1  # NaN or inf


@numba.njit(parallel=True, cache=True, nogil=True)
def _to_gray_corr(phase, corr, scale, period, table, out):  # pragma: no cover - numba compiled
    ny, nx = phase.shape
    bad = 0
    for i in numba.prange(ny):
        for j in range(nx):
            k = _level((phase[i, j] + corr[i, j]) * scale, period)
            if k < 0:
                bad += 1
                k = 0
            out[i, j] = table[k]
    return bad


@numba.njit(parallel=True, cache=True, nogil=True)
def _to_gray(phase, scale, period, table, out):  # pragma: no cover - numba compiled
    ny, nx = phase.shape
    bad = 0
    for i in numba.prange(ny):
        for j in range(nx):
            k = _level(phase[i, j] * scale, period)
            if k < 0:
                bad += 1
                k = 0
            out[i, j] = table[k]
    return bad


_WARM = threading.Lock()
_warmed = False
# numba's "workqueue" threading layer (used where neither OpenMP nor TBB is available) aborts the process
# when two threads launch parallel kernels at once; the SLM's conversions are serialised (they take a
# few ms, and frames are shown one at a time anyway).
_KERNEL_LOCK = threading.Lock()


def _kernel_threads() -> int:
    """Threads for the phase→gray kernel: ``HOLOSTIM_SLM_THREADS``, else up to 4 on machines with ≥ 4 cores.

    The conversion is memory-bound and short; on a 2-core machine that also runs the GUI, the camera
    and the engine, a parallel region waits for a descheduled worker (a whole scheduler slice, ~20 ms
    measured under load) while one thread takes a steady few ms, so small machines run it serially.
    """
    env = os.environ.get("HOLOSTIM_SLM_THREADS")
    if env:
        return max(1, min(int(env), numba.config.NUMBA_NUM_THREADS))
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return min(4, cores, numba.config.NUMBA_NUM_THREADS) if cores >= 4 else 1


def _warm_up() -> None:
    """Compile (or load from numba's cache) the float32 kernels once, so the first frame is not late."""
    global _warmed
    with _WARM:
        if _warmed:
            return
        ph = np.zeros((2, 2), np.float32)
        out = np.empty((2, 2), np.uint8)
        table = np.zeros(2, np.uint8)
        _to_gray(ph, 1.0, 1.0, table, out)
        _to_gray_corr(ph, ph, 1.0, 1.0, table, out)
        _warmed = True


_CUPY_KERNELS: dict[str, Any] = {}

_CUPY_BODY = """
double t = (double)({expr}) * scale;
t = t - period * floor(t / period);
int k = (t >= 0.0 && t <= period) ? (int)(t + 0.5) : 0;
if (k > last) k = last;
gray = table[k];
"""


def _cupy_kernel(with_corr: bool):
    key = "corr" if with_corr else "plain"
    if key not in _CUPY_KERNELS:
        import cupy

        params = "T phase, T corr, " if with_corr else "T phase, "
        params += "raw uint8 table, float64 scale, float64 period, int32 last"
        body = _CUPY_BODY.format(expr="phase + corr" if with_corr else "phase")
        _CUPY_KERNELS[key] = cupy.ElementwiseKernel(
            params, "uint8 gray", body, f"holostim_phase_to_gray_{key}"
        )
    return _CUPY_KERNELS[key]


def phase_to_gray_reference(phase: np.ndarray, scale: float, period: float, table: np.ndarray) -> np.ndarray:
    """Plain-numpy version of the fused kernel (float64 throughout); the fast paths are tested against it."""
    t = np.asarray(phase, dtype=np.float64) * scale
    t = t - period * np.floor(t / period)
    k = np.floor(t + 0.5).astype(np.int64)
    k[~np.isfinite(t)] = 0
    return np.asarray(table)[np.clip(k, 0, len(table) - 1)]


# ---------------------------------------------------------------------------------------------------------
# Frame records and the device protocol


@dataclass(eq=False)
class FrameRecord:
    """One frame's journey to the panel; times are ``time.monotonic()`` seconds, ``None`` until reached.

    Attributes
    ----------
    index : running frame number of this SLM (0, 1, ...).
    frame : the exact ``uint8`` (ny, nx) frame (row 0 = top of the screen).
    t_request : when :meth:`SLM.show_phase` / :meth:`SLM.load` was called.
    t_loaded : when the frame was finished (corrections, wrap, LUT done; on the host).
    t_uploaded : when the backend handed the frame to the display (texture upload in OpenGL).
    t_swapped : when the first buffer swap showing it completed (``frameSwapped`` in OpenGL).
    wall_offset : add to a monotonic time to get wall-clock seconds since the epoch (see :meth:`wall`).
    superseded : True when a newer frame replaced this one before it was ever swapped.
    """

    index: int
    frame: np.ndarray
    t_request: float
    t_loaded: float | None = None
    t_uploaded: float | None = None
    t_swapped: float | None = None
    wall_offset: float = 0.0
    superseded: bool = False
    _swapped: threading.Event = field(default_factory=threading.Event, repr=False)

    def wall(self, t: float | None) -> float | None:
        """Wall-clock (epoch seconds) of a monotonic time of this record."""
        return None if t is None else t + self.wall_offset

    @property
    def wall_request(self) -> float:
        """Wall-clock time of the request."""
        return self.t_request + self.wall_offset

    @property
    def wall_swapped(self) -> float | None:
        """Wall-clock time of the swap, once it happened."""
        return self.wall(self.t_swapped)

    def wait_swapped(self, timeout: float | None = None) -> bool:
        """Block until the frame has been swapped onto the screen (True) or ``timeout`` s passed (False).

        Do not call this on the GUI thread of an OpenGL SLM: the swap needs that thread's event loop.
        """
        return self._swapped.wait(timeout)

    def timings_ms(self) -> dict[str, float | None]:
        """Milliseconds from the request to each later stage (for logs and benchmarks)."""

        def d(t):
            return None if t is None else 1e3 * (t - self.t_request)

        return {"load_ms": d(self.t_loaded), "upload_ms": d(self.t_uploaded), "swap_ms": d(self.t_swapped)}


@runtime_checkable
class SLMProtocol(Protocol):
    """What the session, GUI and calibration need from any SLM."""

    shape: tuple[int, int]
    pitch_um: float
    wavelength_um: float

    def show_phase(self, phase: Any) -> FrameRecord: ...  # noqa: D102

    def load(self, phase: Any) -> FrameRecord: ...  # noqa: D102

    def display(self, record: FrameRecord | None = None) -> FrameRecord: ...  # noqa: D102

    @property
    def laser_permitted(self) -> bool: ...  # noqa: D102

    def add_interlock_listener(self, callback: Callable[[bool, str], None]) -> Callable[[], None]: ...  # noqa: D102

    def close(self) -> None: ...  # noqa: D102


def _as_pair(value: Any, name: str) -> tuple[float, float]:
    try:
        a, b = (float(v) for v in value)
    except (TypeError, ValueError):
        raise SLMError(f"{name}={value!r} must be a pair of numbers") from None
    if not (math.isfinite(a) and math.isfinite(b)):
        raise SLMError(f"{name}={value!r} must be finite")
    return a, b


def _positive(value: Any, name: str) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise SLMError(f"{name}={value!r} must be a positive number") from None
    if not (v > 0 and math.isfinite(v)):
        raise SLMError(f"{name}={value!r} must be a positive, finite number")
    return v


def _pick_wavelength(table: Mapping[Any, Any], wavelength_um: float, what: str) -> tuple[float, Any]:
    """The entry of a per-wavelength mapping for ``wavelength_um`` (within 0.5 nm)."""
    for key, val in table.items():
        if abs(float(key) - wavelength_um) <= 5e-4:
            return float(key), val
    have = ", ".join(f"{float(k):g}" for k in table)
    raise SLMError(
        f"no {what} for the working wavelength {wavelength_um:g} µm; the session gives it for "
        f"{have or 'no wavelength'} µm — add an entry for {wavelength_um:g} µm"
    )


# ---------------------------------------------------------------------------------------------------------
# The base class


class SLM:
    """Shared logic of every SLM: corrections, wrap, wavelength scaling, LUT, frames and the interlock.

    Backends override :meth:`_present` (push a finished frame), and for the interlock
    :meth:`_display_ok` (is the display really showing our window?) and call :meth:`_note_swap` on each
    buffer swap.

    Parameters
    ----------
    shape : (ny, nx) pixels of the panel.
    pitch_um : pixel pitch in µm.
    wavelength_um : the working (laser) wavelength in µm. The phases given to :meth:`show_phase` are
        radians at this wavelength.
    two_pi_gray : gray value that gives a 2π retardance, either one number or ``{wavelength_um: gray}``.
        One number is valid at ``two_pi_gray_wavelength_um`` (default: the working wavelength) and is
        scaled linearly, ``G(λ) = G(λ0) · λ / λ0`` (retardance ∝ 1/λ; LC dispersion neglected), which
        must stay ≤ 256. Default 255 when neither this nor ``lut`` is given.
    lut : a :class:`LUT`, a LUT file path, or ``{wavelength_um: LUT or path}``; the entry for the working
        wavelength is used (a LUT is never rescaled to another wavelength: it is not linear).
    flatness : vendor flatness-correction image (path, or uint8/float array of gray values) of the SLM
        shape; its gray value ``g`` means the phase ``2π g / flatness_two_pi_gray`` at
        ``flatness_wavelength_um``, rescaled to the working wavelength by ``λ_design / λ`` (exact only
        away from the file's own wrap lines: use the vendor file for your wavelength when there is one).
    zernike : aberration correction, ANSI index → coefficient in radians at the working wavelength,
        orthonormal (RMS-normalised) Zernike polynomials on the disc of radius ``zernike_radius_px``
        (default the inscribed circle, ``min(ny, nx) / 2``) centred on pixel (ny//2, nx//2); zero outside.
        A mapping ``{j: c}`` or a sequence indexed by j.
    blaze : (gx, gy) grating in cycles per pixel; moves the far field by (+gx·nx, +gy·ny) Fourier pixels
        (the zero order stays put, the pattern leaves it).
    fresnel_focal_um : focal length (µm) of a Fresnel lens added to the pattern,
        ``-π r² / (λ f)`` with r in µm from the centre pixel (f > 0 converges): moves the pattern off the
        focal plane of the zero order. ``None`` for none.
    refresh_hz : the panel's frame rate (for the interlock's staleness in frame periods).
    stale_frames, stale_ms : the interlock turns off when the last completed swap is older than
        ``stale_ms`` (if given) or ``stale_frames`` frame periods.
    name : label for logs.

    Notes
    -----
    *Load and display.* :meth:`load` converts a phase into a frame and keeps it; :meth:`display` hands
    it to the backend, so the next frame can be prepared while the current one is shown.
    :meth:`show_phase` does both. Each frame has a :class:`FrameRecord` with its timestamps;
    :meth:`add_frame_listener` hears about every completed swap (for the event log).

    *Laser interlock.* ``laser_permitted`` is True only when all of these hold: the SLM is open, no
    display fault is latched, one of our frames has reached the screen, the backend's display check
    passes (OpenGL: window exposed, uncovered, fullscreen on the right screen; simulated: "visible"), and
    the last completed swap is at most ``stale_s`` old (backends keep swapping while healthy, so a
    stalled display goes stale). ``interlock_reason`` says which condition failed.
    :meth:`add_interlock_listener` callbacks hear every change, from a watchdog thread that wakes at the
    exact staleness deadline and on every display event. The core never imports Qt: the GUI forwards
    the callback through a queued signal, a DAQ output can act on it directly.

    *Threads.* :meth:`show_phase`/:meth:`load`/:meth:`display` may be called from a worker thread
    (one at a time); the OpenGL backend hands frames to the GUI thread through a queued signal.
    """

    def __init__(
        self,
        shape: Sequence[int],
        pitch_um: float,
        wavelength_um: float,
        *,
        two_pi_gray: float | Mapping[float, float] | None = None,
        two_pi_gray_wavelength_um: float | None = None,
        lut: LUT | str | Path | Mapping[float, LUT | str | Path] | None = None,
        flatness: str | Path | np.ndarray | None = None,
        flatness_wavelength_um: float | None = None,
        flatness_two_pi_gray: float = 256.0,
        zernike: Mapping[int, float] | Sequence[float] | None = None,
        zernike_radius_px: float | None = None,
        blaze: Sequence[float] = (0.0, 0.0),
        fresnel_focal_um: float | None = None,
        refresh_hz: float = 60.0,
        stale_frames: float = 3.0,
        stale_ms: float | None = None,
        name: str = "slm",
    ):
        try:
            ny, nx = (int(s) for s in shape)
        except (TypeError, ValueError):
            raise SLMError(f"shape={shape!r} must be (ny, nx)") from None
        if ny < 2 or nx < 2:
            raise SLMError(f"shape={shape!r}: both sides must be at least 2 pixels")
        self.shape = (ny, nx)
        self.pitch_um = _positive(pitch_um, "pitch_um")
        self.wavelength_um = _positive(wavelength_um, "wavelength_um")
        self.name = name
        self.refresh_hz = _positive(refresh_hz, "refresh_hz")
        self.stale_frames = _positive(stale_frames, "stale_frames")
        self.stale_ms = None if stale_ms is None else _positive(stale_ms, "stale_ms")

        self._set_gray_scale(two_pi_gray, two_pi_gray_wavelength_um, lut)

        self._flatness_gray: np.ndarray | None = None
        self.flatness_wavelength_um = None
        self.flatness_two_pi_gray = _positive(flatness_two_pi_gray, "flatness_two_pi_gray")
        if flatness is not None:
            self._set_flatness(flatness, flatness_wavelength_um)
        self.zernike: dict[int, float] = self._parse_zernike(zernike)
        self.zernike_radius_px = (
            min(ny, nx) / 2.0
            if zernike_radius_px is None
            else _positive(zernike_radius_px, "zernike_radius_px")
        )
        self.blaze = _as_pair(blaze, "blaze")
        self.fresnel_focal_um = None
        if fresnel_focal_um is not None:
            f = float(fresnel_focal_um)
            if f == 0 or not math.isfinite(f):
                raise SLMError(f"fresnel_focal_um={fresnel_focal_um!r} must be a non-zero finite length (µm)")
            self.fresnel_focal_um = f
        self._correction: np.ndarray | None = None
        self._device_cache: dict[str, Any] = {}
        self._update_correction()
        _warm_up()
        #: CPU threads of the phase→gray kernel (see ``_kernel_threads``; settable).
        self.kernel_threads = _kernel_threads()

        self._lock = threading.RLock()
        self._frame_counter = 0
        self._pending: FrameRecord | None = None
        self.last_record: FrameRecord | None = None  # the last frame handed to the display
        self._closed = False
        self._t_last_swap: float | None = None
        self._frame_on_screen = False  # one of our frames (not the window's initial blank) was swapped
        self._frame_listeners: list[Callable[[FrameRecord], None]] = []
        self._interlock_listeners: list[Callable[[bool, str], None]] = []
        self._fault: str | None = None
        self._watchdog: threading.Thread | None = None
        self._wake = threading.Event()
        self._reported: bool | None = None

    # ----------------------------------------------------------------------------------- configuration
    def _set_gray_scale(self, two_pi_gray, two_pi_gray_wavelength_um, lut) -> None:
        if two_pi_gray is not None and lut is not None:
            raise SLMError("give either two_pi_gray or lut, not both (the LUT already fixes the gray for 2π)")
        self.lut: LUT | None = None
        if lut is not None:
            if isinstance(lut, Mapping):
                wl, entry = _pick_wavelength(lut, self.wavelength_um, "LUT")
            else:
                wl, entry = None, lut
            if not isinstance(entry, LUT):
                entry = load_lut(entry, wavelength_um=wl)
            lut_wl = entry.wavelength_um if entry.wavelength_um is not None else wl
            if lut_wl is not None and abs(lut_wl - self.wavelength_um) > 5e-4:
                raise SLMError(
                    f"LUT {entry.source} is for {lut_wl:g} µm but the working wavelength is "
                    f"{self.wavelength_um:g} µm; a LUT is not linear and is not rescaled — give the LUT "
                    "measured at the working wavelength"
                )
            self.lut = entry
            self.two_pi_gray = float(LEVELS_8BIT)
            self._period = float(LEVELS_8BIT)
            table = np.empty(LEVELS_8BIT + 1, dtype=np.uint8)
            table[:LEVELS_8BIT] = entry.gray
            table[LEVELS_8BIT] = entry.gray[0]  # level 256 is 2π ≡ level 0
        else:
            if two_pi_gray is None:
                two_pi_gray = 255.0
            if isinstance(two_pi_gray, Mapping):
                _, g = _pick_wavelength(two_pi_gray, self.wavelength_um, "two_pi_gray")
                g = _positive(g, "two_pi_gray")
            else:
                g = _positive(two_pi_gray, "two_pi_gray")
                ref = (
                    self.wavelength_um
                    if two_pi_gray_wavelength_um is None
                    else _positive(two_pi_gray_wavelength_um, "two_pi_gray_wavelength_um")
                )
                g = g * self.wavelength_um / ref
            if g > LEVELS_8BIT or g < 2:
                raise SLMError(
                    f"two_pi_gray at {self.wavelength_um:g} µm is {g:.4g}; an 8-bit panel needs 2..256 "
                    "(a value above 256 means the panel cannot reach 2π at this wavelength)"
                )
            self.two_pi_gray = float(g)
            self._period = float(g)
            n = int(math.floor(g + 0.5)) + 1
            table = np.arange(n, dtype=np.int64)
            table[table >= g] = 0  # levels at or beyond 2π are 2π ≡ 0
            table = table.astype(np.uint8)
        self._scale = self._period / TWO_PI
        self._table = table
        # Retardance (radians) the panel gives for each gray value: the inverse of the mapping above.
        if self.lut is not None:
            self._phase_of_gray = self.lut.phase_of_gray()
        else:
            self._phase_of_gray = np.arange(256, dtype=np.float64) * (TWO_PI / self.two_pi_gray)

    def _set_flatness(self, flatness, wavelength_um) -> None:
        src = flatness
        if isinstance(flatness, (str, Path)):
            arr = load_flatness(flatness)
        else:
            arr = np.asarray(flatness)
            if arr.dtype.kind not in "uif" or not np.all(np.isfinite(arr)):
                raise SLMError("flatness array must hold finite gray values")
            src = "<array>"
        if arr.shape != self.shape:
            raise SLMError(
                f"flatness correction {src} is {arr.shape[0]}x{arr.shape[1] if arr.ndim > 1 else '?'} "
                f"(ny x nx) but the SLM is {self.shape[0]}x{self.shape[1]}; use the file made for this panel"
            )
        self._flatness_gray = arr.astype(np.float64)
        self.flatness_wavelength_um = (
            self.wavelength_um
            if wavelength_um is None
            else _positive(wavelength_um, "flatness_wavelength_um")
        )

    @staticmethod
    def _parse_zernike(z) -> dict[int, float]:
        if z is None:
            return {}
        items = z.items() if isinstance(z, Mapping) else enumerate(z)
        out: dict[int, float] = {}
        for j, c in items:
            try:
                ji, cf = int(j), float(c)
            except (TypeError, ValueError):
                raise SLMError(
                    f"zernike coefficient {j!r}: {c!r} must be ANSI index (int) -> radians"
                ) from None
            if ji < 0 or not math.isfinite(cf):
                raise SLMError(f"zernike index {j!r} must be >= 0 and its coefficient finite, got {c!r}")
            if cf != 0.0:
                out[ji] = cf
        return out

    def set_corrections(
        self,
        *,
        zernike: Mapping[int, float] | Sequence[float] | None | bool = False,
        blaze: Sequence[float] | None = None,
        fresnel_focal_um: float | None | bool = False,
    ) -> None:
        """Change the Zernike, blaze and lens corrections live (arguments left out keep their value).

        ``zernike=None`` and ``fresnel_focal_um=None`` remove them. Takes effect with the next frame.
        """
        if zernike is not False:
            self.zernike = self._parse_zernike(zernike)
        if blaze is not None:
            self.blaze = _as_pair(blaze, "blaze")
        if fresnel_focal_um is not False:
            if fresnel_focal_um is not None and (
                fresnel_focal_um == 0 or not math.isfinite(fresnel_focal_um)
            ):
                raise SLMError(f"fresnel_focal_um={fresnel_focal_um!r} must be non-zero and finite")
            self.fresnel_focal_um = None if fresnel_focal_um is None else float(fresnel_focal_um)
        self._update_correction()

    def _zernike_phase(self) -> np.ndarray:
        from holostim.optics.zernike import zernike_phase

        p = self.pitch_um
        phase = zernike_phase(self.zernike, self.shape, (p, p), self.zernike_radius_px * p)
        return np.asarray(phase, dtype=np.float64)

    def _update_correction(self) -> None:
        """Precompute the total correction phase (float32, radians at the working wavelength).

        The new array and an empty device cache are swapped in together (one tuple assignment each is
        atomic in CPython), so a frame being converted on another thread uses either the old or the new
        correction, never a mix.
        """
        ny, nx = self.shape
        corr = np.zeros(self.shape, dtype=np.float64)
        used = False
        if self._flatness_gray is not None:
            corr += (
                self._flatness_gray
                * (TWO_PI / self.flatness_two_pi_gray)
                * (self.flatness_wavelength_um / self.wavelength_um)
            )
            used = True
        if self.zernike:
            corr += self._zernike_phase()
            used = True
        gx, gy = self.blaze
        if gx or gy:
            x = np.arange(nx) - nx // 2
            y = np.arange(ny) - ny // 2
            corr += TWO_PI * (gx * x[None, :] + gy * y[:, None])
            used = True
        if self.fresnel_focal_um is not None:
            x = (np.arange(nx) - nx // 2) * self.pitch_um
            y = (np.arange(ny) - ny // 2) * self.pitch_um
            r2 = x[None, :] ** 2 + y[:, None] ** 2
            corr += -math.pi * r2 / (self.wavelength_um * self.fresnel_focal_um)
            used = True
        if used:
            # Keep it small in magnitude (float32 precision of the sum): wrapping changes nothing mod 2π.
            corr = np.mod(corr, TWO_PI)
        self._device_cache, self._correction = {}, (corr.astype(np.float32) if used else None)

    @property
    def correction_phase(self) -> np.ndarray:
        """The total correction added to every phase (float32 radians in [0, 2π); zeros if none)."""
        return self._correction if self._correction is not None else np.zeros(self.shape, np.float32)

    # ---------------------------------------------------------------------------------- phase -> gray
    def phase_to_gray(self, phase: Any, out: np.ndarray | None = None) -> Any:
        """The uint8 frame for ``phase`` (radians at the working wavelength), on the phase's backend.

        numpy in → numpy out (``out`` may be a preallocated uint8 array); CuPy in → CuPy out.
        Raises :class:`SLMError` on a wrong shape or non-finite values (no frame is produced then).
        """
        if tuple(getattr(phase, "shape", ())) != self.shape:
            raise SLMError(
                f"phase has shape {getattr(phase, 'shape', None)} but the SLM is {self.shape} (ny, nx)"
            )
        if is_cupy_array(phase):
            return self._phase_to_gray_cupy(phase)
        ph = np.asarray(phase)
        if ph.dtype.kind != "f":
            ph = ph.astype(np.float32)
        ph = np.ascontiguousarray(ph)
        if out is None:
            out = np.empty(self.shape, dtype=np.uint8)
        corr = self._correction  # read once: set_corrections() may swap it from another thread
        with _KERNEL_LOCK:
            before = numba.get_num_threads()  # a per-thread setting: restore it for other numba code
            numba.set_num_threads(max(1, min(int(self.kernel_threads), numba.config.NUMBA_NUM_THREADS)))
            try:
                if corr is None:
                    bad = _to_gray(ph, self._scale, self._period, self._table, out)
                else:
                    bad = _to_gray_corr(ph, corr, self._scale, self._period, self._table, out)
            finally:
                numba.set_num_threads(before)
        if bad:
            raise SLMError(f"phase holds {bad} non-finite values (NaN or inf); refusing to show it")
        return out

    def _phase_to_gray_cupy(self, phase):
        import cupy

        if phase.dtype.kind != "f":
            phase = phase.astype(cupy.float32)
        cache, corr = self._device_cache, self._correction  # read once (see phase_to_gray)
        if "table" not in cache:
            cache["table"] = cupy.asarray(self._table)
        if corr is not None and phase.dtype not in cache:
            cache[phase.dtype] = cupy.asarray(corr, dtype=phase.dtype)
        last = len(self._table) - 1
        if corr is None:
            gray = _cupy_kernel(False)(phase, cache["table"], self._scale, self._period, last)
        else:
            gray = _cupy_kernel(True)(
                phase, cache[phase.dtype], cache["table"], self._scale, self._period, last
            )
        bad = int(cupy.count_nonzero(~cupy.isfinite(phase)))
        if bad:
            raise SLMError(f"phase holds {bad} non-finite values (NaN or inf); refusing to show it")
        return gray

    def gray_to_phase(self, frame: np.ndarray) -> np.ndarray:
        """The retardance (float32 radians, not wrapped) the panel applies for a uint8 frame."""
        return self._phase_of_gray.astype(np.float32)[np.asarray(frame, dtype=np.uint8)]

    # ------------------------------------------------------------------------------- load and display
    def _new_record(self, frame: np.ndarray, t_request: float) -> FrameRecord:
        with self._lock:
            idx = self._frame_counter
            self._frame_counter += 1
        return FrameRecord(
            index=idx, frame=frame, t_request=t_request, wall_offset=time.time() - time.monotonic()
        )

    def load(self, phase: Any) -> FrameRecord:
        """Compute the next frame (corrections, wrap, wavelength scaling, LUT → uint8) without showing it.

        Runs on the phase's backend; for CuPy only the uint8 frame is copied to the host. The frame waits
        in the SLM until :meth:`display`; loading again replaces it.
        """
        t0 = time.monotonic()
        gray = self.phase_to_gray(phase)
        if is_cupy_array(gray):
            gray = gray.get()
        rec = self._new_record(gray, t0)
        rec.t_loaded = time.monotonic()
        with self._lock:
            self._pending = rec
        return rec

    def load_gray(self, frame: np.ndarray) -> FrameRecord:
        """Queue a ready uint8 frame (test patterns, replay) as given, bypassing the phase pipeline."""
        t0 = time.monotonic()
        arr = np.asarray(frame)
        if arr.shape != self.shape or arr.dtype != np.uint8:
            raise SLMError(f"frame must be uint8 of shape {self.shape}, got {arr.dtype} {arr.shape}")
        rec = self._new_record(np.ascontiguousarray(arr).copy(), t0)
        rec.t_loaded = time.monotonic()
        with self._lock:
            self._pending = rec
        return rec

    def display(self, record: FrameRecord | None = None) -> FrameRecord:
        """Show the loaded frame (or ``record``) on the panel: hands it to the backend's ``_present``."""
        with self._lock:
            if self._closed:
                raise SLMDisplayError(f"SLM {self.name!r} is closed")
            rec = record if record is not None else self._pending
            if rec is None:
                raise SLMError("nothing loaded: call load(phase) before display()")
            if rec is self._pending:
                self._pending = None
            self.last_record = rec
        self._present(rec)
        return rec

    def show_phase(self, phase: Any) -> FrameRecord:
        """Load ``phase`` (radians, numpy or CuPy) and display it; returns the frame's record."""
        return self.display(self.load(phase))

    def show_gray(self, frame: np.ndarray) -> FrameRecord:
        """Display a ready uint8 frame as given (test patterns)."""
        return self.display(self.load_gray(frame))

    @property
    def last_frame(self) -> np.ndarray | None:
        """The last uint8 frame handed to the display (None before the first)."""
        rec = self.last_record
        return None if rec is None else rec.frame

    def add_frame_listener(self, callback: Callable[[FrameRecord], None]) -> Callable[[], None]:
        """Call ``callback(record)`` when a frame's swap completes (event log, GUI). Returns a remover.

        Called on the thread that saw the swap (the GUI thread for OpenGL); keep it short.
        """
        self._frame_listeners.append(callback)
        return lambda: self._frame_listeners.remove(callback) if callback in self._frame_listeners else None

    def _present(self, record: FrameRecord) -> None:  # pragma: no cover - abstract
        """Backend hook: push ``record.frame`` to the display, set ``t_uploaded``, later report the swap."""
        raise NotImplementedError

    def _frame_swapped(self, record: FrameRecord | None, t: float) -> None:
        """Backends call this when a swap completed at monotonic ``t`` (``record``: the frame it showed)."""
        if record is not None:
            self._frame_on_screen = True
        self._note_swap(t)
        if record is not None and record.t_swapped is None:
            record.t_swapped = t
            record._swapped.set()
            for cb in list(self._frame_listeners):
                try:
                    cb(record)
                except Exception:  # a listener must never break the display path
                    log.exception("frame listener %r failed", cb)

    # ------------------------------------------------------------------------------------- interlock
    @property
    def stale_s(self) -> float:
        """Seconds after the last completed swap at which the interlock turns off."""
        if self.stale_ms is not None:
            return self.stale_ms / 1e3
        return self.stale_frames / self.refresh_hz

    def _display_ok(self) -> tuple[bool, str]:
        """Backend hook: ``(ok, reason)``: is the display showing our frames (exposed, fullscreen)."""
        return True, ""

    def _last_swap_time(self) -> float | None:
        """Backend hook: monotonic time of the last completed swap (any frame, repeats included)."""
        return self._t_last_swap

    def _note_swap(self, t: float) -> None:
        """Record a completed swap (keep-alive repaints count: they prove the display path is alive)."""
        was = self._t_last_swap
        self._t_last_swap = t
        if was is None or self._reported is False:
            self._wake.set()

    def _set_fault(self, reason: str | None) -> None:
        """Latch (or clear) a display fault; the interlock stays off while one is set."""
        self._fault = reason
        self._wake.set()

    def interlock_state(self, now: float | None = None) -> tuple[bool, str]:
        """``(laser_permitted, reason)`` now; the reason says why light is not allowed ("" if it is)."""
        if self._closed:
            return False, f"SLM {self.name!r} is closed"
        if self._fault:
            return False, f"display fault: {self._fault}"
        if self.last_record is None:
            return False, "no frame shown yet"
        if not self._frame_on_screen:
            return False, "the first frame has not reached the screen yet"
        ok, why = self._display_ok()
        if not ok:
            return False, why
        t = self._last_swap_time()
        if t is None:
            return False, "no frame has reached the screen yet"
        now = time.monotonic() if now is None else now
        age = now - t
        if age > self.stale_s:
            return False, (
                f"last frame swap {1e3 * age:.0f} ms ago (limit {1e3 * self.stale_s:.0f} ms): display stalled"
            )
        return True, ""

    @property
    def laser_permitted(self) -> bool:
        """Whether it is safe to let laser light through the SLM right now."""
        return self.interlock_state()[0]

    @property
    def interlock_reason(self) -> str:
        """Why the laser is not permitted ("" when it is)."""
        return self.interlock_state()[1]

    def add_interlock_listener(self, callback: Callable[[bool, str], None]) -> Callable[[], None]:
        """Call ``callback(permitted, reason)`` now and on every change; returns a function that removes it.

        Changes are detected by a watchdog thread that wakes exactly when the last swap goes stale and
        on every display event, so a listener hears "off" within ``stale_s`` of the last swap (plus
        scheduling delay). Callbacks run on the watchdog thread: GUIs must forward them with a queued
        signal; a DAQ output can act directly.
        """
        self._interlock_listeners.append(callback)
        ok, reason = self.interlock_state()
        try:
            callback(ok, reason)
        except Exception:
            log.exception("interlock listener %r failed", callback)
        if self._watchdog is None:
            self._watchdog = threading.Thread(target=self._watch, name=f"{self.name}-interlock", daemon=True)
            self._watchdog.start()
        self._wake.set()

        def remove() -> None:
            if callback in self._interlock_listeners:
                self._interlock_listeners.remove(callback)

        return remove

    def _watch(self) -> None:
        while True:
            self._wake.clear()
            ok, reason = self.interlock_state()
            if ok != self._reported:
                self._reported = ok
                for cb in list(self._interlock_listeners):
                    try:
                        cb(ok, reason)
                    except Exception:
                        log.exception("interlock listener %r failed", cb)
            if self._closed:
                return
            timeout = 0.25
            t = self._last_swap_time()
            if ok and t is not None:
                timeout = min(timeout, max(0.0, t + self.stale_s - time.monotonic()) + 5e-4)
            self._wake.wait(timeout)

    # -------------------------------------------------------------------------------------- lifetime
    def close(self) -> None:
        """Stop showing frames; the interlock turns off for good."""
        self._closed = True
        self._wake.set()
        w = self._watchdog
        if w is not None and w is not threading.current_thread():
            w.join(timeout=1.0)

    @property
    def closed(self) -> bool:
        """True after :meth:`close`."""
        return self._closed

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def describe(self) -> dict[str, Any]:
        """The settings that decide the frames (for the event log header)."""
        return {
            "name": self.name,
            "shape": list(self.shape),
            "pitch_um": self.pitch_um,
            "wavelength_um": self.wavelength_um,
            "two_pi_gray": None if self.lut is not None else self.two_pi_gray,
            "lut": None if self.lut is None else self.lut.source,
            "flatness": self._flatness_gray is not None,
            "flatness_wavelength_um": self.flatness_wavelength_um,
            "zernike": dict(self.zernike),
            "blaze": list(self.blaze),
            "fresnel_focal_um": self.fresnel_focal_um,
            "stale_ms": 1e3 * self.stale_s,
        }


# ---------------------------------------------------------------------------------------------------------
# The simulated panel


class SimulatedSLM(SLM):
    """A software panel: keeps the recent frames and models the liquid crystal's settling.

    The phase the panel applies after a new frame at ``t_k`` relaxes exponentially from where it was
    towards the new frame's retardance, ``s(t) = T_k + (s(t_k) - T_k) · exp(-(t - t_k) / tau)``, in
    retardance (not wrapped phase): a jump from gray 250 to 5 swings the crystal through the whole range,
    as a real panel does (the "phase-wrap flicker").

    Its own wavefront error (``panel_error``, radians at the working wavelength) defaults to the
    *negative* of the configured flatness correction, so a session with the right correction file gets
    clean spots and a wrong or missing one shows the aberration. Give an array to model another panel,
    or ``None`` for a perfect one.

    Interlock: the notional window refreshes continuously while the panel is open and "visible", so the
    laser is permitted from the first displayed frame on. :meth:`set_visible` (False = hidden/covered)
    and :meth:`set_stalled` (True = the display stops swapping) model the faults; :meth:`close` turns
    the laser off for good.

    Attributes read by the simulated camera: ``frames`` (deque of the recent :class:`FrameRecord`, oldest
    first; ``t_swapped`` is the monotonic time each frame reached the panel), ``tau_ms``,
    :meth:`displayed_phase` and ``laser_permitted``.

    Parameters
    ----------
    tau_ms : settle time constant in ms (0: instantaneous).
    history : how many recent frames are kept (frames older than ~14 τ before the newest one that
        matters are irrelevant anyway).
    panel_error : "auto" (minus the flatness correction), an array (ny, nx) in radians, or None.
    **kwargs : everything :class:`SLM` takes.
    """

    def __init__(
        self,
        *args: Any,
        tau_ms: float = 10.0,
        history: int = 16,
        panel_error: str | np.ndarray | None = "auto",
        **kwargs: Any,
    ):
        super().__init__(*args, **kwargs)
        tau = float(tau_ms)
        if not (tau >= 0 and math.isfinite(tau)):
            raise SLMError(f"tau_ms={tau_ms!r} must be >= 0")
        self.tau_ms = tau
        if int(history) < 1:
            raise SLMError(f"history={history!r} must be >= 1")
        self.frames: deque[FrameRecord] = deque(maxlen=int(history))
        self._visible = True
        self._stalled_at: float | None = None
        if isinstance(panel_error, str):
            if panel_error != "auto":
                raise SLMError(f"panel_error={panel_error!r}: use 'auto', an array or None")
            if self._flatness_gray is not None:
                flat = (
                    self._flatness_gray
                    * (TWO_PI / self.flatness_two_pi_gray)
                    * (self.flatness_wavelength_um / self.wavelength_um)
                )
                self.panel_error: np.ndarray | None = (-flat).astype(np.float32)
            else:
                self.panel_error = None
        elif panel_error is None:
            self.panel_error = None
        else:
            pe = np.asarray(panel_error, dtype=np.float32)
            if pe.shape != self.shape:
                raise SLMError(f"panel_error has shape {pe.shape}, the SLM is {self.shape}")
            self.panel_error = pe

    def _present(self, record: FrameRecord) -> None:
        t = time.monotonic()
        record.t_uploaded = t
        with self._lock:
            self.frames.append(record)
        self._frame_swapped(record, t)

    def _display_ok(self) -> tuple[bool, str]:
        if not self._visible:
            return False, "simulated SLM window hidden"
        return True, ""

    def _last_swap_time(self) -> float | None:
        if self._t_last_swap is None:
            return None
        if self._stalled_at is not None:
            return max(self._stalled_at, self._t_last_swap)
        return time.monotonic()  # the notional window keeps refreshing

    def set_visible(self, visible: bool) -> None:
        """Model the window being shown (True) or hidden/minimised/covered (False)."""
        self._visible = bool(visible)
        self._wake.set()

    def set_stalled(self, stalled: bool) -> None:
        """Model the display path stalling (no more swaps from now on) or recovering."""
        self._stalled_at = time.monotonic() if stalled else None
        self._wake.set()

    def displayed_phase(self, t: float | None = None) -> np.ndarray:
        """The retardance (float32 radians, (ny, nx)) the panel applies at monotonic time ``t`` (default now).

        Gray → phase through the inverse of the LUT (or ``two_pi_gray``) at the working wavelength,
        blended by the settle model over the kept frames, plus ``panel_error``. Before the first frame the
        panel sits at gray 0.
        """
        now = time.monotonic() if t is None else float(t)
        with self._lock:
            frames = [r for r in self.frames if r.t_swapped is not None and r.t_swapped <= now]
        lut = self._phase_of_gray.astype(np.float32)
        if not frames:
            state = np.full(self.shape, lut[0], dtype=np.float32)
        elif self.tau_ms <= 0:
            state = lut[frames[-1].frame]
        else:
            tau = self.tau_ms / 1e3
            # Start from the newest frame that had settled (to 1e-6) before its successor came; with
            # none, from gray 0 before the very first frame (or the oldest kept frame, taken as settled).
            start = None
            for k in range(len(frames) - 1, 0, -1):
                if (frames[k].t_swapped - frames[k - 1].t_swapped) > 14 * tau:
                    start = k - 1
                    break
            if start is None and frames[0].index == 0:
                state = np.full(self.shape, lut[0], dtype=np.float32)
                first = 0
            else:
                start = 0 if start is None else start
                state = lut[frames[start].frame]
                first = start + 1
            for k in range(first, len(frames)):
                t_end = frames[k + 1].t_swapped if k + 1 < len(frames) else now
                target = lut[frames[k].frame]
                w = np.float32(math.exp(-(t_end - frames[k].t_swapped) / tau))
                state -= target  # s = T + (s - T) w, in place
                state *= w
                state += target
        if self.panel_error is not None:
            state = state + self.panel_error
        return np.asarray(state, dtype=np.float32)

    def close(self) -> None:
        """Switch the simulated panel off (the interlock turns off)."""
        super().close()


# ---------------------------------------------------------------------------------------------------------
# From a session config section


def slm_kwargs_from_config(section: Any, base_dir: str | Path | None = None) -> dict[str, Any]:
    """Keyword arguments for :class:`SLM` subclasses from a session's ``slm`` section.

    Attribute names read (missing ones take the defaults of :class:`SLM`): ``shape``, ``pitch_um``,
    ``wavelength_um``, ``two_pi_gray``, ``two_pi_gray_wavelength_um``, ``lut`` (path or
    ``{wavelength_um: path}``), ``flatness`` (path), ``flatness_wavelength_um``, ``flatness_two_pi_gray``,
    ``zernike`` ({ANSI index: radians}), ``zernike_radius_px``, ``blaze`` ((gx, gy) cycles/pixel),
    ``fresnel_focal_um``, ``refresh_hz``, ``stale_frames``, ``stale_ms``. Relative paths resolve against
    ``base_dir``.
    """

    def get(name: str, default: Any = None) -> Any:
        if isinstance(section, Mapping):
            return section.get(name, default)
        return getattr(section, name, default)

    def path(p):
        if p is None:
            return None
        p = Path(p)
        return p if (base_dir is None or p.is_absolute()) else Path(base_dir) / p

    kw: dict[str, Any] = {
        "shape": tuple(get("shape")),
        "pitch_um": get("pitch_um"),
        "wavelength_um": get("wavelength_um"),
    }
    lut = get("lut")
    if isinstance(lut, Mapping):
        lut = {float(k): path(v) for k, v in lut.items()}
    else:
        lut = path(lut)
    optional = {
        "two_pi_gray": get("two_pi_gray"),
        "two_pi_gray_wavelength_um": get("two_pi_gray_wavelength_um"),
        "lut": lut,
        "flatness": path(get("flatness")),
        "flatness_wavelength_um": get("flatness_wavelength_um"),
        "flatness_two_pi_gray": get("flatness_two_pi_gray"),
        "zernike": get("zernike"),
        "zernike_radius_px": get("zernike_radius_px"),
        "blaze": get("blaze"),
        "fresnel_focal_um": get("fresnel_focal_um"),
        "refresh_hz": get("refresh_hz"),
        "stale_frames": get("stale_frames"),
        "stale_ms": get("stale_ms"),
    }
    kw.update({k: v for k, v in optional.items() if v is not None})
    if "two_pi_gray" in kw and "lut" in kw:
        del kw["two_pi_gray"]  # a LUT, when given, decides (configs often keep a default two_pi_gray)
    return kw
