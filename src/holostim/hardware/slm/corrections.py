"""The correction phase added to every frame: vendor flatness image, Zernike, blaze grating, Fresnel lens.

All four are fixed per session (or changed live from the GUI), so they are summed once into one float32
array of radians at the working wavelength; the phase→gray kernel adds that array in the same pass as
the wrap and the LUT.  Each term is a pure function of the panel's geometry, so the simulated panel
(whose own wavefront error is minus the flatness correction) and the SLM base use the same formula.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from holostim.hardware.slm.errors import SLMError, SLMFileError

__all__ = [
    "blaze_phase",
    "correction_phase",
    "flatness_phase",
    "fresnel_focal_um",
    "fresnel_phase",
    "load_flatness",
    "parse_zernike",
    "zernike_correction",
]

TWO_PI = 2.0 * math.pi


def load_flatness(path: str | Path, shape: tuple[int, int] | None = None) -> np.ndarray:
    """Read a vendor flatness/wavefront-correction image (8-bit BMP/PNG/TIFF) as a ``uint8`` (ny, nx) array.

    Gray images are taken as they are; an RGB image is accepted only when its three channels are equal
    (vendors ship gray data in RGB BMPs). With ``shape`` (the panel's ``(ny, nx)``) the size in the
    file's header is compared with it *before* any pixel is decoded: a header that claims 30000 × 30000
    pixels is refused in microseconds rather than decoded into gigabytes (PIL's own decompression-bomb
    limit is an error too, and its warning is made one, so the message stays one line).
    """
    import warnings

    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as im:
                if shape is not None and (im.size[1], im.size[0]) != tuple(shape):
                    raise SLMError(
                        f"flatness correction {path} is {im.size[1]}x{im.size[0]} (ny x nx) but the SLM is "
                        f"{shape[0]}x{shape[1]}; use the file made for this panel"
                    )
                arr = _gray_of(im, path)
    except FileNotFoundError:
        raise SLMFileError(f"flatness correction file {path} does not exist") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise SLMFileError(
            f"flatness correction file {path} claims far more pixels than any SLM; not decoded ({exc})"
        ) from None
    except (OSError, UnidentifiedImageError, SyntaxError, ValueError) as exc:
        if isinstance(exc, SLMError):
            raise
        raise SLMFileError(f"flatness correction file {path} cannot be read as an image: {exc}") from None
    return arr


def _gray_of(im: Any, path: Path) -> np.ndarray:
    mode = im.mode
    if mode in ("L", "P"):
        return np.asarray(im.convert("L"))
    if mode in ("RGB", "RGBA"):
        rgb = np.asarray(im.convert("RGB"))
        if not (np.array_equal(rgb[..., 0], rgb[..., 1]) and np.array_equal(rgb[..., 0], rgb[..., 2])):
            raise SLMError(
                f"flatness correction {path} is a colour image with different R, G and B; "
                "it must be 8-bit gray (or RGB with equal channels)"
            )
        return rgb[..., 0].copy()
    raise SLMError(f"flatness correction {path} has image mode {mode!r}; it must be 8-bit gray (mode 'L')")


def flatness_gray(flatness: str | Path | np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """The flatness correction's gray values (float64, ``shape``) from a file path or an array.

    The size must be the panel's: a correction made for another panel (or cropped) would add the wrong
    aberration to every frame.
    """
    src: Any = flatness
    if isinstance(flatness, (str, Path)):
        arr = load_flatness(flatness, shape)
    else:
        arr = np.asarray(flatness)
        if arr.dtype.kind not in "uif" or not np.all(np.isfinite(arr)):
            raise SLMError("flatness array must hold finite gray values")
        src = "<array>"
    if arr.shape != shape:
        raise SLMError(
            f"flatness correction {src} is {arr.shape[0]}x{arr.shape[1] if arr.ndim > 1 else '?'} "
            f"(ny x nx) but the SLM is {shape[0]}x{shape[1]}; use the file made for this panel"
        )
    return arr.astype(np.float64)


def flatness_phase(
    gray: np.ndarray, two_pi_gray: float, design_wavelength_um: float, wavelength_um: float
) -> np.ndarray:
    """Phase (float64 radians at ``wavelength_um``) of a flatness image's gray values.

    Gray ``g`` is ``2π g / two_pi_gray`` at the file's design wavelength; the retardance is fixed, so at
    another wavelength the phase scales by ``λ_design / λ`` (exact only away from the file's own wrap
    lines: use the vendor file for your wavelength when there is one).
    """
    return gray * (TWO_PI / two_pi_gray) * (design_wavelength_um / wavelength_um)


def parse_zernike(z: Mapping[int, float] | Sequence[float] | None) -> dict[int, float]:
    """Zernike coefficients as ``{ANSI index: radians}``, zeros dropped, from a mapping or a sequence."""
    if z is None:
        return {}
    items = z.items() if isinstance(z, Mapping) else enumerate(z)
    out: dict[int, float] = {}
    for j, c in items:
        try:
            ji, cf = int(j), float(c)
        except (TypeError, ValueError):
            raise SLMError(f"zernike coefficient {j!r}: {c!r} must be ANSI index (int) -> radians") from None
        if ji < 0 or not math.isfinite(cf):
            raise SLMError(f"zernike index {j!r} must be >= 0 and its coefficient finite, got {c!r}")
        if cf != 0.0:
            out[ji] = cf
    return out


def fresnel_focal_um(value: Any, error: type[Exception] = SLMError) -> float | None:
    """The Fresnel lens's focal length as a float, ``None`` for no lens; raise ``error`` if it is unusable.

    Zero would be an infinitely strong lens and a non-finite one is no lens at all, so both are refused
    rather than guessed at; the sign is meaningful (f > 0 converges). The session schema's validator and
    the SLM call this one check.
    """
    if value is None:
        return None
    msg = f"fresnel_focal_um={value!r} must be a non-zero finite length in µm, or null for no lens"
    if isinstance(value, bool):
        raise error(msg)
    try:
        f = float(value)
    except (TypeError, ValueError):
        raise error(msg) from None
    if f == 0 or not math.isfinite(f):
        raise error(msg)
    return f


def _centred(n: int) -> np.ndarray:
    """Pixel coordinates with the origin at index ``n // 2`` (the optical axis)."""
    return np.arange(n) - n // 2


def zernike_correction(
    coefficients: Mapping[int, float], shape: tuple[int, int], pitch_um: float, radius_px: float
) -> np.ndarray:
    """Orthonormal Zernike phase (float64 radians) on the disc of ``radius_px`` around the centre pixel."""
    from holostim.optics.zernike import zernike_phase

    phase = zernike_phase(coefficients, shape, (pitch_um, pitch_um), radius_px * pitch_um)
    return np.asarray(phase, dtype=np.float64)


def blaze_phase(blaze: tuple[float, float], shape: tuple[int, int]) -> np.ndarray:
    """Grating ``2π (gx x + gy y)`` (float64 radians), ``(gx, gy)`` in cycles per pixel."""
    ny, nx = shape
    gx, gy = blaze
    return TWO_PI * (gx * _centred(nx)[None, :] + gy * _centred(ny)[:, None])


def fresnel_phase(
    focal_um: float, shape: tuple[int, int], pitch_um: float, wavelength_um: float
) -> np.ndarray:
    """Thin lens ``-π r² / (λ f)`` (float64 radians), ``r`` in µm from the centre pixel."""
    ny, nx = shape
    x = _centred(nx) * pitch_um
    y = _centred(ny) * pitch_um
    r2 = x[None, :] ** 2 + y[:, None] ** 2
    return -math.pi * r2 / (wavelength_um * focal_um)


def correction_phase(
    shape: tuple[int, int],
    pitch_um: float,
    wavelength_um: float,
    *,
    flatness: np.ndarray | None = None,
    zernike: Mapping[int, float] | None = None,
    zernike_radius_px: float | None = None,
    blaze: tuple[float, float] = (0.0, 0.0),
    fresnel_focal_um: float | None = None,
) -> np.ndarray | None:
    """The sum of the corrections, wrapped to [0, 2π), as float32; ``None`` when there is none.

    ``flatness`` is already a phase (:func:`flatness_phase`). Wrapping keeps the sum small, so adding it
    to a phase in float32 loses no precision, and changes nothing modulo 2π.
    """
    corr = np.zeros(shape, dtype=np.float64)
    used = False
    if flatness is not None:
        corr += flatness
        used = True
    if zernike:
        radius = min(shape) / 2.0 if zernike_radius_px is None else zernike_radius_px
        corr += zernike_correction(zernike, shape, pitch_um, radius)
        used = True
    if blaze[0] or blaze[1]:
        corr += blaze_phase(blaze, shape)
        used = True
    if fresnel_focal_um is not None:
        corr += fresnel_phase(fresnel_focal_um, shape, pitch_um, wavelength_um)
        used = True
    if not used:
        return None
    return np.mod(corr, TWO_PI).astype(np.float32)
