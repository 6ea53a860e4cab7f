"""Reading spot lists and writing phase masks (what ``holostim compute`` reads and writes).

Spots: a CSV with a header row ``x_fourier_px,y_fourier_px`` and then, optionally and in any order,
``weight`` and ``z_um`` (Fourier-plane pixels, zero order at ``N//2``; ``z_um`` the depth in sample µm
from the focal plane, positive deeper; extra whitespace allowed, ``#`` starts a comment). The
header names the unit because the GUI's target files hold *camera* pixels
(``x_camera_px,y_camera_px,...``): with a shared ``x,y`` header either file loaded into the other
silently and put every spot in the wrong place, so a bare ``x,y`` header is refused with a message
saying which kind of file is wanted. Masks: ``.npy`` keeps the float phase in
radians; ``.png``/``.tif``/``.tiff`` store 8-bit gray with 0..255 spanning 0..2π (``round(256 φ / 2π)
mod 256``, so 2π wraps to 0 like the phase does). A mask file is replaced all at once (encoded in
memory, written to a temporary file, fsync'd and renamed), so a crash or a full disk never leaves half
of one where a rig script would load it.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import numpy as np

from holostim.errors import HolostimError
from holostim.files import atomic_write_bytes

__all__ = ["PhaseFileError", "SpotFileError", "load_spots", "phase_to_gray", "save_phase"]

PHASE_SUFFIXES = (".npy", ".png", ".tif", ".tiff")
SPOT_COLUMNS = ("x_fourier_px", "y_fourier_px", "weight", "z_um")
"""The columns of a spot file; ``weight`` and ``z_um`` are optional (in either order)."""


class SpotFileError(HolostimError, ValueError):
    """A spot file that is missing, unreadable or not ``x_fourier_px,y_fourier_px[,weight]`` CSV."""


class PhaseFileError(HolostimError, ValueError):
    """A phase mask that cannot be written (unknown format, bad array, unwritable path)."""


def load_spots(path: str | Path, depth: bool = False) -> tuple:
    """Read a spot CSV: ``xy`` (N, 2) float64 and ``weights`` (N,), or ``None`` without a weight column.

    With ``depth=True`` a third item, the ``z_um`` column (N,) or ``None`` without one. A file with a
    ``z_um`` column read with ``depth=False`` is refused, so that no caller drops the depths silently.

    Raises
    ------
    SpotFileError
        Naming the file (and line) for a missing file, a wrong header, a non-numeric value, a wrong
        number of columns or no spots at all.
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8-sig")
    except FileNotFoundError as exc:
        raise SpotFileError(f"spot file {str(p)!r} does not exist") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise SpotFileError(f"cannot read spot file {str(p)!r}: {exc}") from exc
    try:
        rows = [
            (n, [c.strip() for c in row])
            for n, row in enumerate(csv.reader(text.splitlines()), start=1)
            if row and "".join(row).strip() and not row[0].lstrip().startswith("#")
        ]
    except csv.Error as exc:  # e.g. a field over the csv module's 128 kB limit
        raise SpotFileError(f"spot file {str(p)!r} is not a spot CSV: {exc}") from None
    wanted = "'x_fourier_px,y_fourier_px' or 'x_fourier_px,y_fourier_px,weight' (each may add ,z_um)"
    if not rows:
        raise SpotFileError(f"spot file {str(p)!r} is empty; expected a header {wanted} and rows")
    header = [c.lower() for c in rows[0][1]]
    extra = header[2:]
    if header[:2] != list(SPOT_COLUMNS[:2]) or len(set(extra)) != len(extra) or not set(extra) <= {"weight",
                                                                                                 "z_um"}:
        got = _short(",".join(rows[0][1]))
        if header[:2] == ["x", "y"]:
            why = ("does not say its units: a spot file for `holostim compute` holds Fourier-plane pixels; "
                   "if these are, name the columns")
        elif header[:2] == ["x_camera_px", "y_camera_px"]:
            why = ("is a GUI target file (camera pixels); `holostim compute` reads Fourier-plane pixels "
                   "(map the targets through the calibration), header")
        else:
            why = "is not a spot file header; expected"
        raise SpotFileError(f"spot file {str(p)!r} line {rows[0][0]}: header {got!r} {why} {wanted}")
    ncol = len(header)
    data = np.empty((len(rows) - 1, ncol))
    for i, (line, cells) in enumerate(rows[1:]):
        if len(cells) != ncol:
            raise SpotFileError(
                f"spot file {str(p)!r} line {line}: {len(cells)} values, "
                f"expected {ncol} ({','.join(header)})"
            )
        try:
            data[i] = [float(c) for c in cells]
        except ValueError as exc:
            raise SpotFileError(
                f"spot file {str(p)!r} line {line}: {_short(','.join(cells))!r} is not numeric"
            ) from exc
    if data.shape[0] == 0:
        raise SpotFileError(f"spot file {str(p)!r} has a header but no spots")
    weights = data[:, header.index("weight")].copy() if "weight" in header else None
    z = data[:, header.index("z_um")].copy() if "z_um" in header else None
    if depth:
        return data[:, :2].copy(), weights, z
    if z is not None:
        raise SpotFileError(f"spot file {str(p)!r} has a z_um column, which this reader would drop; "
                            "read it with depth=True")
    return data[:, :2].copy(), weights


def _short(text: str, n: int = 60) -> str:
    """A cell or line quoted in a message: a 200 kB field must not become a 200 kB error line."""
    return text if len(text) <= n else text[:n] + f"... ({len(text)} characters)"


def phase_to_gray(phase: Any) -> np.ndarray:
    """8-bit gray of a phase in radians: 0..2π -> 0..255 (wrapped, rounded to the nearest level)."""
    ph = np.mod(np.asarray(phase, dtype=np.float64), 2 * np.pi)
    return (np.rint(ph * (256 / (2 * np.pi))).astype(np.int64) % 256).astype(np.uint8)


def save_phase(path: str | Path, phase: Any) -> Path:
    """Write a phase mask: ``.npy`` float radians, ``.png``/``.tif`` 8-bit gray (0..255 for 0..2π)."""
    p = Path(path)
    ph = np.asarray(phase)
    if ph.ndim != 2 or not np.issubdtype(ph.dtype, np.floating) or not np.isfinite(ph).all():
        raise PhaseFileError(
            f"phase for {str(p)!r} must be a finite 2-D float array, got {ph.dtype} {ph.shape}"
        )
    suffix = p.suffix.lower()
    if suffix not in PHASE_SUFFIXES:
        raise PhaseFileError(
            f"unknown mask format {p.suffix!r} for {str(p)!r}; use one of {', '.join(PHASE_SUFFIXES)}"
        )
    if not p.parent.is_dir():  # the CLI's --out names a file: a missing folder is a typo, not a request
        raise PhaseFileError(f"cannot write {str(p)!r}: the folder {str(p.parent)!r} does not exist")
    buf = io.BytesIO()  # encoded in memory, then written all at once: a crash leaves no half mask
    if suffix == ".npy":
        np.save(buf, ph)
    elif suffix == ".png":
        from PIL import Image

        Image.fromarray(phase_to_gray(ph)).save(buf, format="PNG")  # uint8 2-D -> mode "L"
    else:
        import tifffile

        tifffile.imwrite(buf, phase_to_gray(ph))
    try:
        atomic_write_bytes(p, buf.getvalue())
    except OSError as exc:
        raise PhaseFileError(f"cannot write {str(p)!r}: {exc}") from exc
    return p
