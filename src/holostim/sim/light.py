"""Light on the sample: the SLM's displayed phase, through the Fourier lens, onto the camera's pixels.

The light pattern is the SLM's *displayed* phase (with its liquid-crystal settling) on the illumination
beam, through :func:`holostim.optics.fourier_lens` (SLM pitch, configured focal length), as a fraction
of the laser power per Fourier-plane pixel, weighted by the true pixel envelope of the panel
(:meth:`~holostim.sim.ground_truth.GroundTruth.efficiency`: light a pixel aperture sends to higher
orders never reaches the sample). It reaches camera pixels through the hidden ground-truth
affine map (:class:`~holostim.sim.ground_truth.GroundTruth`), blurred by the camera's imaging PSF.

**Depth.** The light is computed at a true depth ``z`` (µm from the camera's focal plane): the SLM
field is multiplied by the conjugate of the exact high-NA defocus of the nominal depth that really
focuses at ``z`` (:meth:`Light._defocus`, the ground truth's ``defocus_scale`` and
``defocus_offset_um``) before the Fourier lens, which is the field a spot pattern makes in that plane: a
spot placed at another depth arrives there defocused. The camera sees the imaged plane
(:attr:`Light.focus_um`); each neuron's opsin gets the light at its own plane (:meth:`Light.at`). The
cost stays bounded because the sample has a few discrete planes (:mod:`holostim.sim.depth`): one FFT
per shown frame and distinct depth, each cached like the single plane.

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

from holostim.checks import finite, non_negative, positive
from holostim.sim.depth import MAX_PLANES, ImagingDefocus
from holostim.sim.errors import SimulationConfigError
from holostim.sim.ground_truth import GroundTruth

MAX_CACHED_DEPTHS = MAX_PLANES + 4
"""Depths whose light is kept per frame: the sample's planes and a few imaged planes (a focus sweep)."""


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
    magnification : float or None
        Fourier plane → sample demagnification (the session's ``optics.magnification``): with the
        focal length it sets how far a defocus phase moves the focus, and the camera pixel in µm.
        ``None``: a light path without axial optics, where every depth sees the Fourier plane and no
        plane is blurred (a 2-D rig; the session always gives its optics).
    objective_na, medium_index : float
        The objective's NA and the sample medium's index (the defocus and the imaging blur).
    focus_um : float
        The plane the camera images at start (:attr:`Light.focus_um`), µm from the focal plane.
    """

    focal_length_um: float = 4000.0
    camera_pixel_um: float | None = None
    beam_waist_um: float | None = None
    psf_sigma_px: float = 1.2
    ground_truth: GroundTruth = field(default_factory=GroundTruth)
    magnification: float | None = None
    objective_na: float = 0.8
    medium_index: float = 1.33
    focus_um: float = 0.0

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
        if self.magnification is not None:
            set_(self, "magnification", positive(self.magnification, "magnification", err))
        set_(self, "focus_um", finite(self.focus_um, "focus_um", err))
        set_(self, "objective_na", positive(self.objective_na, "objective_na", err))
        set_(self, "medium_index", positive(self.medium_index, "medium_index", err))
        if self.medium_index < 1.0:
            raise err(f"medium_index={self.medium_index!r} must be at least 1 (water 1.33)")


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
        self.focus_um = path.focus_um  # the imaged plane, true µm from the camera's nominal focal plane
        self._state: dict[float, tuple[Any, np.ndarray]] = {}  # depth → (frame key, gated light)
        self._efficiency: np.ndarray | None = None
        self._patterns: dict[Any, dict[float, np.ndarray]] = {}  # ungated light per frame and depth
        self._lenses: dict[float, np.ndarray] = {}  # nominal depth → exp(−i φ) on the SLM

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
        """Bring :attr:`image` to time ``t`` in the imaged plane :attr:`focus_um` (cached); return it."""
        self.image = self.at(t, self.focus_um)
        return self.image

    def at(self, t: float, z_um: float) -> np.ndarray:
        """The light at true depth ``z_um`` at time ``t``, as the gate lets it through (cached per depth).

        Recomputed only when the displayed phase may have changed (a new frame, a settling panel, the
        laser switched); each depth keeps its own cache entry, so a few planes cost one FFT each per
        frame. Do not modify the returned array.
        """
        z = float(z_um)
        if self.slm is None:
            return self.image
        if self.laser_on is not None:
            permitted = bool(self.laser_on(t))
        else:
            permitted = bool(getattr(self.slm, "laser_permitted", True))
        key, settling = self._slm_state(t)
        prev_key, img = self._state.get(z, (None, None))
        if not permitted:
            full_key: Any = ("laser off",)
        elif key is None:
            phase = np.asarray(self.slm.displayed_phase(t), dtype=np.float32)
            if isinstance(prev_key, tuple) and len(prev_key) == 2 and isinstance(
                prev_key[1], np.ndarray
            ) and np.array_equal(prev_key[1], phase):
                return img
            img = self._draw(phase, z)
            self._remember(z, ("phase", phase), img)
            return img
        else:
            full_key = key
        if img is not None and full_key == prev_key and not settling:
            return img
        if not permitted:
            img = np.zeros(self.shape, np.float32)
        else:
            img = self._draw(np.asarray(self.slm.displayed_phase(t), dtype=np.float32), z)
        # A pattern rendered mid-settle is provisional: the next frame must recompute it.
        self._remember(z, ("settling", full_key) if settling else full_key, img)
        return img

    def _remember(self, z: float, key: Any, img: np.ndarray) -> None:
        self._state.pop(z, None)
        while len(self._state) >= MAX_CACHED_DEPTHS:  # a focus swept through many planes: oldest first
            self._state.pop(next(iter(self._state)))
        self._state[z] = (key, img)

    def pattern(self, t: float, z_um: float | None = None) -> np.ndarray:
        """The light the frame shown at ``t`` makes at depth ``z_um`` with the laser on, whatever the gate.

        For the responding network (:mod:`holostim.sim.network`), which applies the gate itself at every
        sub-step. Each frame's light is computed once per depth, when first asked for, from its displayed
        phase then; the gate opens only after a frame settled, so that phase is the one the light sees.
        The two most recent frames are kept. ``z_um`` ``None``: the imaged plane.
        """
        if self.slm is None:
            return self.image
        z = self.focus_um if z_um is None else float(z_um)
        key, _ = self._slm_state(t)
        if key is None:  # an SLM without frame records: the phase itself decides
            phase = np.asarray(self.slm.displayed_phase(t), dtype=np.float32)
            key = ("phase", phase.tobytes())
        depths = self._patterns.get(key)
        hit = None if depths is None else depths.get(z)
        if hit is not None:
            return hit
        if key == ("blank",):
            img = np.zeros(self.shape, np.float32)
        else:
            img = self._render(np.asarray(self.slm.displayed_phase(t), dtype=np.float32), z)
        if depths is None:
            while len(self._patterns) >= 2:
                self._patterns.pop(next(iter(self._patterns)))
            depths = self._patterns[key] = {}
        while len(depths) >= MAX_CACHED_DEPTHS:
            depths.pop(next(iter(depths)))
        depths[z] = img
        return img

    # ------------------------------------------------------------------ the light at a depth
    def _defocus(self, z_um: float) -> np.ndarray | None:
        """``exp(−i φ)`` on the SLM that brings the light at true depth ``z_um`` to the Fourier plane.

        ``φ`` is the exact high-NA defocus (:mod:`holostim.optics.defocus`) of the nominal depth whose
        spots really focus at ``z_um`` (the ground truth's ``defocus_scale`` and ``defocus_offset_um``):
        a spot the engine gave the phase ``φ(z_s)`` is in focus where ``φ(z_s) − φ`` vanishes. ``None``
        when that nominal depth is 0 (the Fourier plane itself). Cached per depth.
        """
        if self.path.magnification is None:
            return None  # no axial optics: every depth is the Fourier plane
        z_nom = self.path.ground_truth.nominal_depth_um(z_um)
        if z_nom == 0.0:
            return None
        hit = self._lenses.get(z_nom)
        if hit is not None:
            return hit
        from holostim.optics.defocus import DefocusModel

        p = self.path
        n = p.medium_index
        model = DefocusModel("high_na", float(self.slm.wavelength_um), p.focal_length_um, p.magnification,
                             float(self.slm.pitch_um), min(p.objective_na, 0.95 * n), n)
        phi = model.phase(z_nom, self.slm_shape)
        lens = np.empty(phi.shape, np.complex64)
        np.cos(phi, out=lens.real)
        np.sin(-phi, out=lens.imag)
        while len(self._lenses) >= MAX_CACHED_DEPTHS:
            self._lenses.pop(next(iter(self._lenses)))
        self._lenses[z_nom] = lens
        return lens

    @property
    def imaging(self) -> ImagingDefocus | None:
        """The camera's defocus blur of out-of-focus planes (:mod:`holostim.sim.depth`); ``None``: no SLM."""
        p = self.path
        if self.slm is None or p.magnification is None:
            return None
        pixel_um = self.fourier_pitch_um / p.magnification / self._scale()
        return ImagingDefocus(pixel_um, p.objective_na, p.medium_index)

    def _draw(self, phase: np.ndarray, z: float) -> np.ndarray:
        """The light of ``phase`` at ``z``; in the imaged plane through :meth:`_set` (sets :attr:`image`)."""
        if z == self.focus_um:
            self._set(phase)
            return self.image
        return self._render(phase, z)

    def _set(self, phase: np.ndarray) -> None:
        """Render ``phase`` in the imaged plane into :attr:`image` (where the camera's light is made)."""
        self.image = self._render(phase, self.focus_um)

    def _render(self, phase: np.ndarray, z_um: float) -> np.ndarray:
        """The light (camera px, fraction of the laser power per pixel) of ``phase`` at true depth z."""
        from holostim.optics import Field, fourier_lens, intensity

        ny, nx = phase.shape
        pitch = float(self.slm.pitch_um)
        amp = self._illumination(ny, nx, pitch)
        u = np.empty(phase.shape, np.complex64)  # amp · e^{iφ} in single precision, no complex128 detour
        np.cos(phase, out=u.real)
        np.sin(phase, out=u.imag)
        if amp is not None:
            u *= amp
        lens = self._defocus(z_um)
        if lens is not None:
            u *= lens
        far = fourier_lens(Field(u, spacing=(pitch, pitch), wavelength=float(self.slm.wavelength_um)),
                           self.path.focal_length_um)
        inten = np.asarray(intensity(far), dtype=np.float32)
        total = float(inten.sum())
        frac = inten / total if total > 0 else inten  # fraction of the laser power per Fourier pixel
        if self._efficiency is None or self._efficiency.shape != frac.shape:
            self._efficiency = self.path.ground_truth.efficiency(frac.shape)
        frac = frac * self._efficiency  # the pixels' envelope: what the first order really gets
        return self.map_slm_image(frac, blur=True)

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
