"""Light on the sample: the SLM's displayed phase, through the Fourier lens, onto the camera's pixels.

The light pattern is the SLM's *displayed* phase (with its liquid-crystal settling) on the illumination
beam, through :func:`holostim.optics.fourier_lens` (SLM pitch, configured focal length), as a fraction
of the laser power per Fourier-plane pixel, weighted by the true pixel envelope of the panel
(:meth:`~holostim.sim.ground_truth.GroundTruth.efficiency`: light a pixel aperture sends to higher
orders never reaches the sample). It reaches camera pixels through the hidden ground-truth
affine map (:class:`~holostim.sim.ground_truth.GroundTruth`), blurred by the camera's imaging PSF.

The far field is cached: it is recomputed only when the SLM shows a new frame or is still settling, so a
512 × 512 frame costs a few milliseconds (see ``benchmarks/camera.py``). The SLM is duck-typed (its
``shape``, ``pitch_um``, ``wavelength_um``, ``displayed_phase(t)``, ``laser_permitted`` and, when it has
them, ``frames`` and ``tau_ms``): the simulated world sits below the device layer and imports no device.

The laser itself: by default the light is on while the SLM's interlock permits it (``laser_permitted``).
A rig with a laser gate passes ``laser_on(t)`` instead (the session gives the DAQ's gate history), so the
sample is lit at ``t`` exactly when the gate was open at ``t``, as behind a real shutter or Pockels cell.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import ndimage

from holostim.checks import non_negative, positive
from holostim.sim.errors import SimulationConfigError
from holostim.sim.ground_truth import GroundTruth


@dataclass(frozen=True)
class LightPath:
    """The optics between the SLM and the camera's pixels.

    Parameters
    ----------
    focal_length_um : float
        Effective focal length of the SLM → sample Fourier lens (sets the Fourier pitch in µm).
    camera_pixel_um : float or None
        Size of a camera pixel in the sample plane; with ``ground_truth.scale`` unset it fixes the scale.
    beam_waist_um : float or None
        1/e² radius of the Gaussian beam on the SLM; ``None`` for uniform illumination.
    psf_sigma_px : float
        Gaussian blur of the camera's imaging optics, camera px.
    ground_truth : GroundTruth or mapping
        The hidden SLM → camera map (a mapping of its fields is accepted, as a session file gives it).
    """

    focal_length_um: float = 4000.0
    camera_pixel_um: float | None = None
    beam_waist_um: float | None = None
    psf_sigma_px: float = 1.2
    ground_truth: GroundTruth = field(default_factory=GroundTruth)

    def __post_init__(self) -> None:
        err = SimulationConfigError
        set_ = object.__setattr__  # frozen: store the checked, converted values once
        set_(self, "focal_length_um", positive(self.focal_length_um, "focal_length_um", err))
        if self.camera_pixel_um is not None:
            set_(self, "camera_pixel_um", positive(self.camera_pixel_um, "camera_pixel_um", err))
        if self.beam_waist_um is not None:
            set_(self, "beam_waist_um", positive(self.beam_waist_um, "beam_waist_um", err))
        set_(self, "psf_sigma_px", non_negative(self.psf_sigma_px, "psf_sigma_px", err))
        set_(self, "ground_truth", GroundTruth.from_any(self.ground_truth))


class Light:
    """The light on the sample in camera pixels, as the SLM shows it at a given time (cached).

    Not thread-safe: its owner (the simulated camera) serialises calls.

    Parameters
    ----------
    slm : SLM-like or None
        The panel that shapes the light; ``None``: no light ever.
    shape : (int, int)
        Camera frame ``(height, width)``.
    path : LightPath
        The optics in between.
    laser_on : callable or None
        ``laser_on(t) -> bool``: whether the laser reaches the SLM at time ``t`` (a gate's history);
        ``None``: while the SLM's interlock permits.
    """

    def __init__(self, slm: Any, shape: tuple[int, int], path: LightPath,
                 laser_on: Callable[[float], bool] | None = None) -> None:
        self.slm = slm
        self.laser_on = laser_on
        self.path = path
        self.shape = shape
        self.slm_shape = tuple(int(v) for v in slm.shape) if slm is not None else shape
        self.slm_to_camera = path.ground_truth.matrix(self.slm_shape, shape, self._scale())
        lin = self.slm_to_camera[:, :2]
        inv = np.linalg.inv(lin)
        self.camera_to_slm = np.hstack([inv, -(inv @ self.slm_to_camera[:, 2])[:, None]])
        self.image = np.zeros(shape, np.float32)  # fraction of the laser power per camera pixel
        self._key: Any = None
        self._efficiency: np.ndarray | None = None
        self._patterns: dict[Any, np.ndarray] = {}  # ungated light per shown frame (the network's)

    # ------------------------------------------------------------------ geometry
    @property
    def fourier_pitch_um(self) -> float | None:
        """Sample-plane size of one SLM Fourier pixel, ``λ f / (N pitch)`` (``None`` without an SLM)."""
        if self.slm is None:
            return None
        n = min(self.slm_shape)
        return float(self.slm.wavelength_um) * self.path.focal_length_um / (n * float(self.slm.pitch_um))

    def _scale(self) -> float:
        gt = self.path.ground_truth
        if gt.scale is not None:
            return positive(gt.scale, "ground_truth.scale", SimulationConfigError)
        if self.path.camera_pixel_um is not None and self.slm is not None:
            return self.fourier_pitch_um / self.path.camera_pixel_um
        return 0.9 * min(self.shape) / min(self.slm_shape)

    # ------------------------------------------------------------------ the cache
    def _slm_state(self, t: float) -> tuple[Any, bool]:
        """A key that changes whenever the displayed phase may have changed, and whether it is settling."""
        slm = self.slm
        frames = getattr(slm, "frames", None)
        tau_ms = getattr(slm, "tau_ms", None)
        if frames is None or tau_ms is None:
            return None, True  # unknown SLM: compare the phase itself
        for _ in range(5):  # the SLM may append a frame while we copy (deque mutated during iteration)
            try:
                kept = list(frames)
                break
            except RuntimeError:
                continue
        else:
            return None, True
        shown = [r for r in kept if r.t_swapped is not None and r.t_swapped <= t]
        if not shown:
            return ("blank",), False
        last = shown[-1]
        settling = tau_ms > 0 and (t - last.t_swapped) < 14.0 * tau_ms / 1e3
        return (last.index, id(last)), settling

    def update(self, t: float) -> np.ndarray:
        """Bring :attr:`image` to time ``t`` (recomputing only if the displayed phase changed); return it."""
        if self.slm is None:
            return self.image
        if self.laser_on is not None:
            permitted = bool(self.laser_on(t))
        else:
            permitted = bool(getattr(self.slm, "laser_permitted", True))
        key, settling = self._slm_state(t)
        if not permitted:
            full_key: Any = ("laser off",)
        elif key is None:
            phase = np.asarray(self.slm.displayed_phase(t), dtype=np.float32)
            if isinstance(self._key, tuple) and len(self._key) == 2 and isinstance(
                self._key[1], np.ndarray
            ) and np.array_equal(self._key[1], phase):
                return self.image
            self._set(phase)
            self._key = ("phase", phase)
            return self.image
        else:
            full_key = key
        if full_key == self._key and not settling:
            return self.image
        if not permitted:
            self.image = np.zeros(self.shape, np.float32)
        else:
            self._set(np.asarray(self.slm.displayed_phase(t), dtype=np.float32))
        # A pattern rendered mid-settle is provisional: the next frame must recompute it.
        self._key = ("settling", full_key) if settling else full_key
        return self.image

    def pattern(self, t: float) -> np.ndarray:
        """The light the frame shown at ``t`` makes while the laser is on, whatever the gate (cached).

        For the responding network (:mod:`holostim.sim.network`), which applies the gate itself at every
        sub-step. Each frame's light is computed once, when first asked for, from its displayed phase
        then; the gate opens only after a frame settled, so that phase is the one the light sees. The
        two most recent frames are kept.
        """
        if self.slm is None:
            return self.image
        key, _ = self._slm_state(t)
        if key is None:  # an SLM without frame records: the phase itself decides
            phase = np.asarray(self.slm.displayed_phase(t), dtype=np.float32)
            key = ("phase", phase.tobytes())
        hit = self._patterns.get(key)
        if hit is not None:
            return hit
        if key == ("blank",):
            img = np.zeros(self.shape, np.float32)
        else:
            keep_image, keep_key = self.image, self._key
            self._set(np.asarray(self.slm.displayed_phase(t), dtype=np.float32))
            img, self.image, self._key = self.image, keep_image, keep_key
        while len(self._patterns) >= 2:
            self._patterns.pop(next(iter(self._patterns)))
        self._patterns[key] = img
        return img

    def _set(self, phase: np.ndarray) -> None:
        from holostim.optics import Field, fourier_lens, intensity

        ny, nx = phase.shape
        pitch = float(self.slm.pitch_um)
        amp = self._illumination(ny, nx, pitch)
        u = np.empty(phase.shape, np.complex64)  # amp · e^{iφ} in single precision, no complex128 detour
        np.cos(phase, out=u.real)
        np.sin(phase, out=u.imag)
        if amp is not None:
            u *= amp
        far = fourier_lens(Field(u, spacing=(pitch, pitch), wavelength=float(self.slm.wavelength_um)),
                           self.path.focal_length_um)
        inten = np.asarray(intensity(far), dtype=np.float32)
        total = float(inten.sum())
        frac = inten / total if total > 0 else inten  # fraction of the laser power per Fourier pixel
        if self._efficiency is None or self._efficiency.shape != frac.shape:
            self._efficiency = self.path.ground_truth.efficiency(frac.shape)
        frac = frac * self._efficiency  # the pixels' envelope: what the first order really gets
        self.image = self.map_slm_image(frac, blur=True)

    def _illumination(self, ny: int, nx: int, pitch: float) -> np.ndarray | None:
        """Gaussian beam amplitude on the SLM, or ``None`` for uniform illumination."""
        waist = self.path.beam_waist_um
        if waist is None:
            return None
        y = (np.arange(ny) - ny // 2) * pitch
        x = (np.arange(nx) - nx // 2) * pitch
        return np.exp(-(y[:, None] ** 2 + x[None, :] ** 2) / waist**2).astype(np.float32)

    # ------------------------------------------------------------------ resampling
    def map_slm_image(self, image: np.ndarray, blur: bool = True, reduce: bool = True) -> np.ndarray:
        """Resample an image on the SLM Fourier grid onto the camera through the ground truth.

        Power-preserving (divides by the Jacobian), with the camera PSF applied on the Fourier grid at
        the equivalent width so fine Fourier pixels are not aliased when the camera pixels are coarser.
        When a camera pixel spans k ≥ 2 Fourier pixels, the image is first binned k-fold along each
        axis with linear (cloud-in-cell) weights (``reduce``), which keeps power and centroids exactly,
        and the blur then runs on k² fewer pixels with the binning's own width taken off.
        """
        scale = math.sqrt(abs(float(np.linalg.det(self.slm_to_camera[:, :2]))))
        img = np.asarray(image, dtype=np.float32)
        b = self.camera_to_slm.copy()  # camera (x, y, 1) → Fourier px (x, y)
        sigma = math.hypot(self.path.psf_sigma_px, 0.5) / scale  # PSF plus a pixel's worth, in Fourier px
        k = int(1.0 / scale) if (reduce and blur) else 1
        if k >= 2:
            img = _bin_linear(_bin_linear(img, k, axis=0), k, axis=1)
            # coarse pixel i is centred on Fourier px k·i + (k-1)/2
            b[:, :2] /= k
            b[:, 2] = (b[:, 2] - (k - 1) / 2.0) / k
            # linear binning blurs by a tent of half-width k (variance k²/6): take it off the PSF
            sigma = math.sqrt(max(sigma**2 - k**2 / 6.0, 0.25 * k**2)) / k
        else:
            k = 1
        cell = scale * k  # camera px per grid pixel
        if blur:
            img = ndimage.gaussian_filter(img, sigma, mode="constant", truncate=3.5)
        # scipy works in (row, col) = (y, x): input[(r, c)] = P @ (r, c) + off
        mat = np.array([[b[1, 1], b[1, 0]], [b[0, 1], b[0, 0]]])
        off = np.array([b[1, 2], b[0, 2]])
        out = ndimage.affine_transform(img, mat, offset=off, output_shape=self.shape, order=1,
                                       mode="constant", cval=0.0, prefilter=False)
        return (out / cell**2).astype(np.float32)


def _bin_linear(img: np.ndarray, k: int, axis: int) -> np.ndarray:
    """Bin ``img`` k-fold along ``axis`` with cloud-in-cell weights.

    Coarse pixel ``i`` sits at fine coordinate ``k i + (k - 1) / 2``; each fine pixel shares its value
    between the two nearest coarse pixels in proportion to its distance from them, so the sum and the
    first moment (the centroid of every spot) are exactly preserved — a plain block sum would move a
    point to its block's centre.
    """
    a = np.moveaxis(img, axis, 0)
    m = a.shape[0]
    n = -(-m // k) + 1  # one extra coarse pixel for the right-hand shares
    padded = np.zeros((n * k, *a.shape[1:]), np.float32)
    padded[:m] = a
    blocks = padded.reshape(n, k, -1)
    delta = ((np.arange(k) - (k - 1) / 2.0) / k).astype(np.float32)  # residue offsets, coarse px
    out = np.tensordot(1.0 - np.abs(delta), blocks, axes=(0, 1))
    right = np.tensordot(np.clip(delta, 0, None), blocks, axes=(0, 1))
    left = np.tensordot(np.clip(-delta, 0, None), blocks, axes=(0, 1))
    out[1:] += right[:-1]
    out[:-1] += left[1:]
    out[0] += left[0]  # a leading residue's share for coarse pixel -1 (outside) stays in pixel 0
    out = out.reshape(n, *a.shape[1:])
    return np.moveaxis(out, 0, axis)
