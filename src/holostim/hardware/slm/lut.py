"""The gray scale of a phase panel: which 8-bit gray value gives which phase at the working wavelength.

Two ways to say it: one number (``two_pi_gray``, the gray value of a 2π retardance; linear panels) or a
vendor lookup table measured at one wavelength. Both end as the same thing, a table from phase *level*
to gray value that the phase→gray kernels index (:class:`GrayScale`), and its inverse, the retardance of
each gray value, that the simulated panel turns frames back into phase with.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from holostim.checks import positive
from holostim.hardware.slm.errors import LUTError, SLMError, SLMFileError

__all__ = ["BITS", "LEVELS_8BIT", "LUT", "GrayScale", "gray_dtype", "gray_scale", "load_lut",
           "pick_wavelength"]

TWO_PI = 2.0 * math.pi
LEVELS_8BIT = 256
#: Gray depths a frame can have: 8-bit frames are uint8, 10- and 12-bit frames uint16.
BITS = (8, 10, 12)


def gray_dtype(bits: int) -> np.dtype:
    """The frame dtype for ``bits``-deep gray levels (uint8 up to 8 bits, else uint16)."""
    return np.dtype(np.uint8 if bits <= 8 else np.uint16)
#: Two wavelengths closer than this (µm, 0.5 nm) are the same laser line.
WAVELENGTH_TOLERANCE_UM = 5e-4


@dataclass(frozen=True)
class LUT:
    """A phase lookup table for one wavelength: 256 entries (8-bit), 1024 (10-bit) or 4096 (12-bit).

    ``gray[i]`` is the gray value that gives the phase ``2π i / N`` at ``wavelength_um`` (N entries);
    this is the meaning of the common two-column vendor format (``level gray`` per line, N lines). A
    table of N = 2^b entries holds b-bit gray values and drives b-bit frames (``bits``).

    Parameters
    ----------
    gray : array of N integers in 0..N-1, non-decreasing (a decreasing table cannot be inverted, so
        the panel's phase would be ambiguous).
    wavelength_um : the wavelength the table was measured at (``None``: the working wavelength).
    source : where it came from, for messages and the event log.
    """

    gray: np.ndarray
    wavelength_um: float | None = None
    source: str = "<array>"

    def __post_init__(self):
        g = np.asarray(self.gray)
        sizes = {2**b: b for b in BITS}
        if g.ndim != 1 or g.size not in sizes:
            raise LUTError(
                f"LUT {self.source} has {g.size} entries (shape {g.shape}); a LUT needs exactly 256 (8-bit), "
                "1024 (10-bit) or 4096 (12-bit), one gray value per phase level"
            )
        bits = sizes[g.size]
        if not np.all(np.isfinite(g)) or np.any(g != np.round(g)):
            raise LUTError(f"LUT {self.source}: gray values must be whole numbers")
        if g.min() < 0 or g.max() > g.size - 1:
            raise LUTError(
                f"LUT {self.source}: gray values span {g.min():g}..{g.max():g}; a {bits}-bit table "
                f"({g.size} entries) drives {bits}-bit frames, so they must lie in 0..{g.size - 1}"
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
        object.__setattr__(self, "gray", g.astype(gray_dtype(bits)))

    @property
    def bits(self) -> int:
        """Gray depth of the frames this table drives (8, 10 or 12)."""
        return int(round(math.log2(self.gray.size)))

    def phase_of_gray(self) -> np.ndarray:
        """Retardance (radians, float64, one per gray value 0..N-1) the panel applies for each gray value.

        The inverse of the table, linearly interpolated between the measured points (gray values that
        several levels share take their mean phase); beyond the table's range the end slope is continued.
        Used by the simulated panel to turn frames back into phase.
        """
        n = self.gray.size
        levels = np.arange(n, dtype=np.float64) * (TWO_PI / n)
        g = self.gray.astype(np.float64)
        ug, inv = np.unique(g, return_inverse=True)
        up = np.bincount(inv, weights=levels) / np.bincount(inv)
        grays = np.arange(n, dtype=np.float64)
        if ug.size == 1:
            return np.full(n, up[0])
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
    """Read a phase LUT (256, 1024 or 4096 entries) from a CSV or a two-column vendor text file.

    Accepted layouts (``#`` comments and one header line are skipped):

    * two columns ``level gray`` (whitespace- or comma-separated), levels 0..N-1 in order — the common
      vendor ``.lut``/``.txt`` format;
    * one column of N gray values (level = line number).

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
        n = arr.shape[0]
        if n in (2**b for b in BITS) and not np.array_equal(arr[:, 0], np.arange(n)):
            bad = int(np.argmax(arr[:, 0] != np.arange(n)))
            raise LUTError(
                f"LUT file {path}: the first column must be the levels 0..{n - 1} in order, "
                f"but line {bad + 1} has level {arr[bad, 0]:g}"
            )
        gray = arr[:, 1]
    else:
        raise LUTError(
            f"LUT file {path} has rows of {sorted(widths)} columns; expected one column (gray) or two "
            "(level gray) on every line"
        )
    return LUT(gray, wavelength_um=wavelength_um, source=str(path))


def pick_wavelength(table: Mapping[Any, Any], wavelength_um: float, what: str) -> tuple[float, Any]:
    """The entry of a per-wavelength mapping for ``wavelength_um`` (within 0.5 nm)."""
    for key, val in table.items():
        if abs(float(key) - wavelength_um) <= WAVELENGTH_TOLERANCE_UM:
            return float(key), val
    have = ", ".join(f"{float(k):g}" for k in table)
    raise SLMError(
        f"no {what} for the working wavelength {wavelength_um:g} µm; the session gives it for "
        f"{have or 'no wavelength'} µm — add an entry for {wavelength_um:g} µm"
    )


@dataclass(frozen=True, eq=False)
class GrayScale:
    """The finished gray scale at the working wavelength, as the kernels use it.

    Attributes
    ----------
    lut : the LUT in use, or None for a linear ``two_pi_gray``.
    two_pi_gray : gray levels per 2π (N with a LUT of N entries: its phase levels).
    period : levels per 2π the kernels wrap at (= ``two_pi_gray``).
    scale : ``period / 2π``: phase in radians → levels.
    table : level → gray value (uint8 for 8 bits, uint16 deeper); the entry at or beyond 2π is the gray
        of 0 (2π ≡ 0).
    phase_of_gray : retardance (radians, float64, 2^bits) of each gray value, the table's inverse.
    bits : the frames' gray depth.
    """

    lut: LUT | None
    two_pi_gray: float
    period: float
    scale: float
    table: np.ndarray
    phase_of_gray: np.ndarray
    bits: int = 8


def gray_scale(
    wavelength_um: float,
    two_pi_gray: float | Mapping[float, float] | None = None,
    two_pi_gray_wavelength_um: float | None = None,
    lut: LUT | str | Path | Mapping[float, LUT | str | Path] | None = None,
    bits: int = 8,
) -> GrayScale:
    """The gray scale at ``wavelength_um`` from ``two_pi_gray`` or ``lut`` (see :class:`~.base.SLM`).

    One ``two_pi_gray`` number is scaled linearly from the wavelength it was measured at,
    ``G(λ) = G(λ0) · λ / λ0`` (retardance ∝ 1/λ; liquid-crystal dispersion neglected), and must stay
    within 2..2^bits; a LUT is never rescaled (it is not linear), so its wavelength must be the working
    one, and its size must match ``bits`` (256 entries for 8, 1024 for 10, 4096 for 12).
    """
    if bits not in BITS:
        raise SLMError(f"bits={bits!r}: frames are 8, 10 or 12 bits deep")
    n_levels = 2**bits
    dtype = gray_dtype(bits)
    if two_pi_gray is not None and lut is not None:
        raise SLMError("give either two_pi_gray or lut, not both (the LUT already fixes the gray for 2π)")
    entry: LUT | None = None
    if lut is not None:
        if isinstance(lut, Mapping):
            wl, raw = pick_wavelength(lut, wavelength_um, "LUT")
        else:
            wl, raw = None, lut
        entry = raw if isinstance(raw, LUT) else load_lut(raw, wavelength_um=wl)
        lut_wl = entry.wavelength_um if entry.wavelength_um is not None else wl
        if lut_wl is not None and abs(lut_wl - wavelength_um) > WAVELENGTH_TOLERANCE_UM:
            raise SLMError(
                f"LUT {entry.source} is for {lut_wl:g} µm but the working wavelength is "
                f"{wavelength_um:g} µm; a LUT is not linear and is not rescaled — give the LUT "
                "measured at the working wavelength"
            )
        if entry.bits != bits:
            raise SLMError(
                f"LUT {entry.source} has {entry.gray.size} entries ({entry.bits}-bit) but the frames are "
                f"{bits}-bit; set slm.bits to {entry.bits} or give a {bits}-bit LUT ({n_levels} entries)"
            )
        g = float(n_levels)
        table = np.empty(n_levels + 1, dtype=dtype)
        table[:n_levels] = entry.gray
        table[n_levels] = entry.gray[0]  # level N is 2π ≡ level 0
        phase_of_gray = entry.phase_of_gray()
    else:
        if two_pi_gray is None:
            two_pi_gray = 255.0
        if isinstance(two_pi_gray, Mapping):
            _, g = pick_wavelength(two_pi_gray, wavelength_um, "two_pi_gray")
            g = positive(g, "two_pi_gray", SLMError)
        else:
            g = positive(two_pi_gray, "two_pi_gray", SLMError)
            ref = (
                wavelength_um
                if two_pi_gray_wavelength_um is None
                else positive(two_pi_gray_wavelength_um, "two_pi_gray_wavelength_um", SLMError)
            )
            g = g * wavelength_um / ref
        if g > n_levels or g < 2:
            raise SLMError(
                f"two_pi_gray at {wavelength_um:g} µm is {g:.4g}; a {bits}-bit panel needs 2..{n_levels} "
                f"(a value above {n_levels} means the panel cannot reach 2π at this wavelength)"
            )
        g = float(g)
        n = int(math.floor(g + 0.5)) + 1
        levels = np.arange(n, dtype=np.int64)
        levels[levels >= g] = 0  # levels at or beyond 2π are 2π ≡ 0
        table = levels.astype(dtype)
        phase_of_gray = np.arange(n_levels, dtype=np.float64) * (TWO_PI / g)
    return GrayScale(
        lut=entry, two_pi_gray=g, period=g, scale=g / TWO_PI, table=table, phase_of_gray=phase_of_gray,
        bits=bits,
    )
