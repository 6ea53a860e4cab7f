"""What a camera records of an intensity: pixel integration, shot and read noise, gain, bit depth.

Two steps, usable separately:

1. :func:`resample_to_camera` integrates an intensity sampled on a field grid over each camera
   pixel's footprint (area-weighted box integration, exact for piecewise-constant samples), so a
   camera pixel holds *power*, power is conserved where the camera covers the field, and camera
   pixels larger, smaller or misaligned with the field samples are all handled the same way.
   It runs on the field's array namespace (two small matrix products), so it is differentiable under
   JAX with respect to the image.
2. :func:`add_camera_noise` turns expected photons into counts: Poisson shot noise on the
   photo-electrons, full-well saturation, Gaussian read noise, gain, offset, rounding and clipping
   to the ADC's bit depth.  It is seeded and returns a host (numpy) integer image, since camera
   frames are host data everywhere downstream (the GUI, the event log, calibration).

:class:`CameraModel` bundles a camera's geometry and noise parameters for the simulated rig.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from holostim.backend import array_namespace, is_traced, to_numpy
from holostim.checks import positive
from holostim.optics.field import (
    Field,
    FieldError,
    _as_spacing,
    _device_kw,
    intensity,
    power,
)

__all__ = ["CameraModel", "add_camera_noise", "intensity", "power", "resample_to_camera"]


def _overlap_matrix(n_out: int, pitch_out: float, centre_out: float, n_in: int,
                    pitch_in: float) -> np.ndarray:
    """``W[i, j]`` = fraction of input sample ``j`` lying inside output pixel ``i`` (1-D, centred grids)."""
    c_out = (np.arange(n_out) - n_out // 2) * pitch_out + centre_out
    c_in = (np.arange(n_in) - n_in // 2) * pitch_in
    lo = np.maximum(c_out[:, None] - pitch_out / 2, c_in[None, :] - pitch_in / 2)
    hi = np.minimum(c_out[:, None] + pitch_out / 2, c_in[None, :] + pitch_in / 2)
    return np.clip(hi - lo, 0.0, None) / pitch_in


def resample_to_camera(image: Field | Any, shape: tuple[int, int], pixel_size: float | tuple[float, float], *,
                       spacing: Any = None, magnification: float = 1.0,
                       center: tuple[float, float] = (0.0, 0.0)) -> Any:
    """Power falling on each camera pixel.

    Parameters
    ----------
    image
        A :class:`Field` (its intensity is used) or an intensity array ``(..., y, x)``.
    shape
        Camera shape ``(rows, cols)``.
    pixel_size
        Camera pixel size in µm *on the sensor*.
    spacing
        Sample spacing ``(dy, dx)`` of an intensity array (taken from the Field otherwise), µm.
    magnification
        From the field's plane to the sensor: a pixel covers ``pixel_size / magnification`` µm of the field.
    center
        Field-plane point ``(x, y)`` in µm imaged onto the camera's centre pixel ``(rows//2, cols//2)``.

    Returns
    -------
    array
        ``(..., rows, cols)`` in the intensity's namespace: ``Σ I dy dx`` over each pixel's footprint.
    """
    if isinstance(image, Field):
        inten = intensity(image)
        spacing = image.spacing
    else:
        inten = image
        if spacing is None:
            raise FieldError("resample_to_camera of an intensity array needs spacing=(dy, dx) in µm")
    dy, dx = _as_spacing(spacing)
    try:
        rows, cols = (int(s) for s in shape)
    except (TypeError, ValueError):
        raise FieldError(f"camera shape={shape!r} must be (rows, cols)") from None
    if rows < 1 or cols < 1:
        raise FieldError(f"camera shape={shape!r} must be positive")
    ph, pw = _as_spacing(pixel_size)
    m = positive(magnification, "magnification", FieldError)
    xp = array_namespace(inten)
    wy = _overlap_matrix(rows, ph / m, float(center[1]), inten.shape[-2], dy)
    wx = _overlap_matrix(cols, pw / m, float(center[0]), inten.shape[-1], dx)
    real = inten.dtype
    kw = _device_kw(inten)
    wy = xp.asarray((wy * dy).astype(np.float32 if real == xp.float32 else np.float64), **kw)
    wx = xp.asarray((wx.T * dx).astype(np.float32 if real == xp.float32 else np.float64), **kw)
    return xp.matmul(xp.matmul(wy, inten), wx)


def _bits_dtype(bit_depth: int) -> Any:
    if bit_depth <= 8:
        return np.uint8
    if bit_depth <= 16:
        return np.uint16
    return np.uint32


def add_camera_noise(photons: Any, *, quantum_efficiency: float = 1.0, read_noise: float = 0.0,
                     gain: float = 1.0, offset: float = 0.0, bit_depth: int = 12,
                     full_well: float | None = None, seed: int | None = None,
                     rng: np.random.Generator | None = None,
                     gaussian_above: float | None = None) -> np.ndarray:
    """Digitised camera counts for an image of expected photon numbers per pixel.

    Photo-electrons ``e ~ Poisson(QE · photons)`` are clipped at ``full_well``, read noise
    ``N(0, read_noise²)`` (electrons rms) is added, and counts ``round(e / gain + offset)`` (``gain`` in
    electrons per count) are clipped to ``[0, 2**bit_depth - 1]`` — saturation at both ends.

    Parameters
    ----------
    seed, rng
        Reproducibility: pass a seed, or a numpy Generator to continue a stream. Same seed, same image.
    gaussian_above
        Where the mean electron count ``λ`` is at least this, draw from the normal limit of the Poisson
        law (same mean and variance; the neglected skew is ``1/√λ``) instead of an exact Poisson sample,
        in float32: several times cheaper, which is what lets a simulated camera keep its frame rate.
        ``None`` (the default) keeps every pixel exact.

    Returns
    -------
    numpy.ndarray
        uint8 / uint16 / uint32 (smallest holding ``bit_depth``) on the host.
    """
    if not isinstance(bit_depth, (int, np.integer)) or not 1 <= bit_depth <= 32:
        raise FieldError(f"bit_depth={bit_depth!r} must be an integer from 1 to 32")
    qe = float(quantum_efficiency)
    if not 0 < qe <= 1:
        raise FieldError(f"quantum_efficiency={quantum_efficiency!r} must be in (0, 1]")
    if not (math.isfinite(float(read_noise)) and float(read_noise) >= 0):
        raise FieldError(f"read_noise={read_noise!r} must be >= 0 (electrons rms)")
    gain = positive(gain, "gain (electrons per count)", FieldError)
    if full_well is not None:
        full_well = positive(full_well, "full_well (electrons)", FieldError)
    if is_traced(photons):
        raise FieldError(
            "add_camera_noise draws its noise on the host and cannot run under jax.jit/grad/vmap; "
            "differentiate CameraModel.expected_photons (the noise-free image) instead"
        )
    p = np.asarray(to_numpy(photons), dtype=np.float64)
    if not np.all(np.isfinite(p)) or np.any(p < 0):
        raise FieldError(
            "photon image contains negative, NaN or infinite values; expected photons must be >= 0"
        )
    gen = rng if rng is not None else np.random.default_rng(seed)
    lam = qe * p
    if gaussian_above is None:
        electrons = gen.poisson(lam).astype(np.float64)
        if full_well is not None:
            np.minimum(electrons, full_well, out=electrons)
        if read_noise > 0:
            electrons += gen.normal(0.0, float(read_noise), size=electrons.shape)
    else:
        electrons = _fast_electrons(gen, lam, float(gaussian_above), float(read_noise), full_well)
    counts = np.rint(electrons / gain + float(offset))
    np.clip(counts, 0, 2 ** int(bit_depth) - 1, out=counts)
    return counts.astype(_bits_dtype(int(bit_depth)))


def _fast_electrons(gen: np.random.Generator, lam: np.ndarray, above: float, read_noise: float,
                    full_well: float | None) -> np.ndarray:
    """Shot plus read noise with bright pixels drawn from the normal limit, in float32.

    A bright pixel takes one draw, ``λ + √(λ + σ_r²) · N(0, 1)``: the sum of the shot noise's normal limit
    and the (normal) read noise. Its full-well clip therefore acts on shot and read noise together, which
    differs from the exact order only within a few read-noise electrons of saturation.
    """
    lam = lam.astype(np.float32, copy=False)
    big = lam >= above
    small = ~big
    electrons = np.empty(lam.shape, np.float32)
    e_small = gen.poisson(lam[small]).astype(np.float32)
    if full_well is not None:
        np.minimum(e_small, full_well, out=e_small)
    if read_noise > 0:
        e_small += np.float32(read_noise) * gen.standard_normal(e_small.shape, dtype=np.float32)
    electrons[small] = e_small
    lam_big = lam[big]
    e_big = lam_big + np.sqrt(lam_big + np.float32(read_noise**2)) * gen.standard_normal(
        lam_big.shape, dtype=np.float32
    )
    if full_well is not None:
        np.minimum(e_big, full_well, out=e_big)
    electrons[big] = e_big
    return electrons


@dataclass(frozen=True)
class CameraModel:
    """A camera: geometry (shape, pixel size, magnification from the imaged plane) and noise.

    ``photons_per_unit`` converts the field's power unit (``Σ|u|² dy dx``) into photons per exposure,
    i.e. it carries laser power, exposure time and collection efficiency.
    """

    shape: tuple[int, int]
    pixel_size: float
    magnification: float = 1.0
    bit_depth: int = 12
    quantum_efficiency: float = 0.8
    read_noise: float = 2.0
    gain: float = 1.0
    offset: float = 100.0
    full_well: float | None = 30000.0
    photons_per_unit: float = 1.0

    def __post_init__(self) -> None:
        positive(self.pixel_size, "camera pixel_size", FieldError)
        positive(self.magnification, "magnification", FieldError)
        positive(self.photons_per_unit, "photons_per_unit", FieldError)
        if len(tuple(self.shape)) != 2 or min(int(s) for s in self.shape) < 1:
            raise FieldError(f"camera shape={self.shape!r} must be (rows, cols) of positive integers")

    def expected_photons(self, image: Field | Any, *, spacing: Any = None,
                         center: tuple[float, float] = (0.0, 0.0)) -> Any:
        """Noise-free expected photons per pixel (in the image's namespace)."""
        power = resample_to_camera(image, self.shape, self.pixel_size, spacing=spacing,
                                   magnification=self.magnification, center=center)
        return power * self.photons_per_unit

    def capture(self, image: Field | Any, *, spacing: Any = None, center: tuple[float, float] = (0.0, 0.0),
                seed: int | None = None, rng: np.random.Generator | None = None) -> np.ndarray:
        """One noisy, digitised frame (numpy integers) of ``image``."""
        return add_camera_noise(self.expected_photons(image, spacing=spacing, center=center),
                                quantum_efficiency=self.quantum_efficiency, read_noise=self.read_noise,
                                gain=self.gain, offset=self.offset, bit_depth=self.bit_depth,
                                full_well=self.full_well, seed=seed, rng=rng)
