"""The simulated rig: a camera looking at neurons (or a fluorescent slide) lit through a simulated SLM.

Lets the whole application — clicking neurons, computing masks, calibration, the stimulation log — run
with no hardware, and gives tests a ground truth to check against. The physics is the optics core's:

* the light pattern is the :class:`~holostim.hardware.slm.SimulatedSLM`'s *displayed* phase (with its
  liquid-crystal settling) on the illumination beam, through :func:`holostim.optics.fourier_lens`
  (SLM pitch, configured focal length), as a fraction of the laser power per Fourier-plane pixel;
* it reaches camera pixels through a ground-truth affine map (:class:`GroundTruth`: rotation, scale,
  shear, offset, optional mirror) that the application does not know and must calibrate, blurred by the
  camera's imaging PSF;
* the camera's exposure, shot and read noise, gain and bit depth are the optics core's sensor model.

The sample is a field of soma-like blobs at seeded random positions with a dim, smooth background. Each
neuron has a baseline fluorescence, fires spontaneously, and fires fast while the light on its soma is
above a threshold; each spike adds a calcium transient decaying with ``tau_s`` (~0.5 s), so stimulated
neurons visibly brighten and relax when the light moves on.

Time is explicit: every frame is rendered at ``clock()`` (``time.monotonic`` by default, the same base as
the SLM's frame stamps). Tests pass a :class:`SimulatedClock` and advance it, which makes the dynamics
deterministic and fast.

The far field is cached: it is recomputed only when the SLM shows a new frame or is still settling, so a
512 × 512 frame costs a few milliseconds (see ``benchmarks/camera.py``).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
from scipy import ndimage, sparse

from holostim.hardware.camera import Camera, CameraConfigError
from holostim.hardware.slm import SimulatedSLM  # the rig's panel, re-exported: one import for the whole rig

__all__ = ["SAMPLES", "GroundTruth", "SimulatedCamera", "SimulatedClock", "SimulatedSLM"]

SAMPLES = ("neurons", "slide")


class SimulatedClock:
    """A clock for the simulated rig that only moves when told to — deterministic tests.

    It starts a day ahead of ``time.monotonic()`` (unless ``start`` is given), so every frame the SLM
    has shown — stamped with the real monotonic clock — lies in its past and has settled; pass
    ``start=time.monotonic()`` to watch settling instead.
    """

    def __init__(self, start: float | None = None) -> None:
        self._t = time.monotonic() + 86400.0 if start is None else float(start)

    def __call__(self) -> float:
        """The current simulated time in seconds."""
        return self._t

    def advance(self, dt: float) -> float:
        """Move time forward by ``dt`` seconds (≥ 0); returns the new time. Usable as ``sleep``."""
        if not dt >= 0:
            raise ValueError(f"a clock cannot go back: dt={dt!r}")
        self._t += float(dt)
        return self._t

    sleep = advance


@dataclass(frozen=True)
class GroundTruth:
    """The SLM Fourier pixel → camera pixel map of the simulated rig (what calibration must find).

    ``camera = R(rotation) · scale · [[1, shear], [0, 1]] · mirror · (slm − zero order) + camera centre +
    offset``, where mirror flips x. With ``scale=None`` the camera derives it from the optics (Fourier
    pitch ``λ f / (N pitch)`` over ``camera_pixel_um``) or, lacking a camera pixel size, makes the SLM
    field span 90 % of the camera.

    Parameters
    ----------
    rotation_deg : float
        Rotation of the SLM axes on the camera, degrees (counter-clockwise in x-right, y-down pixels).
    scale : float or None
        Camera pixels per SLM Fourier pixel.
    shear : float
        x-shear (dimensionless), e.g. from a slightly tilted camera.
    mirror : bool
        The optics flip the image once (an odd number of mirrors).
    offset_px : (float, float)
        Where the zero order lands relative to the camera centre (pixel ``(W//2, H//2)``), camera px.
    """

    rotation_deg: float = 3.0
    scale: float | None = None
    shear: float = 0.02
    mirror: bool = False
    offset_px: tuple[float, float] = (7.5, -4.25)

    @classmethod
    def from_any(cls, value: GroundTruth | Mapping[str, Any] | None) -> GroundTruth:
        """Accept a :class:`GroundTruth`, a mapping of its fields (from the session YAML) or ``None``."""
        if value is None:
            return cls()
        if isinstance(value, GroundTruth):
            return value
        if not isinstance(value, Mapping):
            raise CameraConfigError(f"ground_truth must be a mapping of transform fields, got {value!r}")
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(value) - names)
        if unknown:
            raise CameraConfigError(f"unknown ground_truth keys {unknown}; allowed: {sorted(names)}")
        kw = dict(value)
        if "offset_px" in kw:
            kw["offset_px"] = tuple(float(v) for v in kw["offset_px"])
        return cls(**kw)

    def linear(self, scale: float) -> np.ndarray:
        """The 2×2 linear part for a given scale."""
        th = math.radians(self.rotation_deg)
        rot = np.array([[math.cos(th), -math.sin(th)], [math.sin(th), math.cos(th)]])
        shear = np.array([[1.0, self.shear], [0.0, 1.0]])
        mirror = np.diag([-1.0, 1.0]) if self.mirror else np.eye(2)
        return rot @ (scale * shear) @ mirror

    def matrix(self, slm_shape: tuple[int, int], camera_shape: tuple[int, int], scale: float) -> np.ndarray:
        """2×3 SLM Fourier px ``(x, y, 1)`` → camera px ``(x, y)``."""
        a = self.linear(scale)
        c_slm = np.array([slm_shape[1] // 2, slm_shape[0] // 2], dtype=np.float64)
        c_cam = np.array([camera_shape[1] // 2, camera_shape[0] // 2], dtype=np.float64)
        t = c_cam + np.asarray(self.offset_px, dtype=np.float64) - a @ c_slm
        return np.hstack([a, t[:, None]])


class SimulatedCamera(Camera):
    """A camera on the simulated rig (see the module docstring for the model).

    Parameters
    ----------
    slm : SimulatedSLM or None
        The panel whose ``displayed_phase(t)`` lights the sample (``shape``, ``pitch_um``,
        ``wavelength_um`` are read from it; ``laser_permitted`` gates the light). ``None``: no light.
    shape : (int, int)
        Camera frame ``(height, width)``.
    exposure_ms, fps : float
        Exposure and streaming rate.
    focal_length_um : float
        Effective focal length of the SLM → sample Fourier lens (sets the Fourier pitch in µm).
    camera_pixel_um : float or None
        Size of a camera pixel in the sample plane; with ``ground_truth.scale`` unset it fixes the scale.
    ground_truth : GroundTruth or mapping or None
        The hidden SLM → camera map.
    beam_waist_um : float or None
        1/e² radius of the Gaussian beam on the SLM; ``None`` for uniform illumination.
    psf_sigma_px : float
        Gaussian blur of the camera's imaging optics, camera px.
    sample : {"neurons", "slide"}
        Neurons, or a uniform fluorescent slide (spots always visible) for calibration.
    visible_spots : bool
        Show the light pattern itself in neuron mode too (a fluorescent sample seen at the laser line).
    spot_gain : float
        Photoelectrons per ms per pixel for a pattern carrying the whole laser power in one camera pixel.
    n_neurons : int or None
        Number of neurons; ``None`` uses ``neuron_density``, else 40.
    neuron_density : float or None
        Neurons per 10 000 camera px² (per 100 × 100 px).
    neuron_radius_px : float
        Mean soma radius (radii vary by ±20 %).
    baseline : float
        Mean resting fluorescence at a soma centre, photoelectrons per ms per pixel.
    background : float
        Mean background (neuropil, out-of-focus light), photoelectrons per ms per pixel.
    spontaneous_hz : float
        Mean spontaneous firing rate per neuron.
    stim_hz : float
        Firing rate while the light on a soma is above ``threshold``.
    threshold : float
        Fraction of the laser power on a soma needed to drive it.
    spike_dff : float
        Calcium transient per spike, in ΔF/F.
    tau_s : float
        Decay time constant of the transients.
    read_noise_e, full_well_e, gain_e_per_adu, bit_depth, dark_offset_adu, noise :
        Sensor: read noise (e⁻ RMS), full well (e⁻), conversion gain, ADC bits, offset; ``noise=False``
        gives the noiseless expected frame (for tests that need exact values).
    noise_threads : int
        The sensor model runs on this many horizontal bands in parallel (numpy's Poisson sampler
        releases the GIL), each with its own seeded generator: a 512² frame's shot noise is most of its
        cost. Frames are reproducible for a given ``seed`` and ``noise_threads``.
    seed : int
        Seeds the sample layout, the spikes and the noise.
    clock : callable
        Time base in seconds, shared with the SLM's frame stamps (``time.monotonic`` by default).
    name : str
        Identifier recorded with calibrations.
    """

    acquisition_nice = 10
    """Rendering the rig is CPU work a real camera does in its own hardware: on a small machine it must
    not take the cores from the hologram computation (the GUI's compute worker runs at nice 4)."""

    def __init__(
        self,
        slm: Any = None,
        shape: tuple[int, int] = (512, 512),
        *,
        exposure_ms: float = 20.0,
        fps: float = 30.0,
        focal_length_um: float = 4000.0,
        camera_pixel_um: float | None = None,
        ground_truth: GroundTruth | Mapping[str, Any] | None = None,
        beam_waist_um: float | None = None,
        psf_sigma_px: float = 1.2,
        sample: str = "neurons",
        visible_spots: bool = False,
        spot_gain: float = 2.0e4,
        n_neurons: int | None = None,
        neuron_density: float | None = None,
        neuron_radius_px: float = 6.0,
        baseline: float = 10.0,
        background: float = 2.0,
        spontaneous_hz: float = 0.2,
        stim_hz: float = 25.0,
        threshold: float = 0.002,
        spike_dff: float = 0.3,
        tau_s: float = 0.5,
        read_noise_e: float = 2.0,
        full_well_e: float = 30000.0,
        gain_e_per_adu: float = 2.0,
        bit_depth: int = 12,
        dark_offset_adu: float = 100.0,
        noise: bool = True,
        noise_threads: int = 2,
        seed: int = 0,
        clock: Callable[[], float] | None = None,
        name: str = "simulated",
    ) -> None:
        super().__init__(exposure_ms=exposure_ms, fps=fps, name=name)
        try:
            h, w = (int(v) for v in shape)
        except (TypeError, ValueError):
            raise CameraConfigError(f"camera shape={shape!r} must be (height, width) in pixels") from None
        if h < 16 or w < 16:
            raise CameraConfigError(f"camera shape={shape!r}: both sides must be at least 16 pixels")
        self._shape = (h, w)
        if sample not in SAMPLES:
            raise CameraConfigError(f"sample={sample!r} is not known; use one of {', '.join(SAMPLES)}")
        self.sample = sample
        self.visible_spots = bool(visible_spots)
        self.slm = slm
        self.clock: Callable[[], float] = clock or time.monotonic
        self.focal_length_um = _positive("focal_length_um", focal_length_um)
        self.camera_pixel_um = (
            None if camera_pixel_um is None else _positive("camera_pixel_um", camera_pixel_um)
        )
        self.beam_waist_um = None if beam_waist_um is None else _positive("beam_waist_um", beam_waist_um)
        self.psf_sigma_px = _non_negative("psf_sigma_px", psf_sigma_px)
        self.spot_gain = _non_negative("spot_gain", spot_gain)
        self.baseline = _non_negative("baseline", baseline)
        self.background = _non_negative("background", background)
        self.spontaneous_hz = _non_negative("spontaneous_hz", spontaneous_hz)
        self.stim_hz = _non_negative("stim_hz", stim_hz)
        self.threshold = _positive("threshold", threshold)
        self.spike_dff = _non_negative("spike_dff", spike_dff)
        self.tau_s = _positive("tau_s", tau_s)
        self.read_noise_e = _non_negative("read_noise_e", read_noise_e)
        self.full_well_e = _positive("full_well_e", full_well_e)
        self.gain_e_per_adu = _positive("gain_e_per_adu", gain_e_per_adu)
        if isinstance(bit_depth, bool) or not isinstance(bit_depth, (int, np.integer)) or not (
            1 <= bit_depth <= 16
        ):
            raise CameraConfigError(f"bit_depth={bit_depth!r} must be an integer from 1 to 16")
        self.bit_depth = int(bit_depth)
        self.dark_offset_adu = _non_negative("dark_offset_adu", dark_offset_adu)
        self.noise = bool(noise)
        self.seed = int(seed)
        self._rng = np.random.default_rng([self.seed, 1])
        if isinstance(noise_threads, bool) or not isinstance(noise_threads, (int, np.integer)) or not (
            1 <= noise_threads <= 16
        ):
            raise CameraConfigError(f"noise_threads={noise_threads!r} must be an integer from 1 to 16")
        self.noise_threads = int(noise_threads)
        self._noise_rngs = [np.random.default_rng([self.seed, 2, k]) for k in range(self.noise_threads)]
        self._noise_pool: ThreadPoolExecutor | None = None

        # ground truth SLM → camera
        self.ground_truth = GroundTruth.from_any(ground_truth)
        self._slm_shape = tuple(int(v) for v in slm.shape) if slm is not None else (h, w)
        self.true_slm_to_camera = self.ground_truth.matrix(self._slm_shape, self._shape, self._scale())
        lin = self.true_slm_to_camera[:, :2]
        inv = np.linalg.inv(lin)
        self.true_camera_to_slm = np.hstack([inv, -(inv @ self.true_slm_to_camera[:, 2])[:, None]])

        # the sample
        self._build_sample(n_neurons, neuron_density, neuron_radius_px)
        self._t_last: float | None = None
        self._light_key: Any = None
        self._light_cam = np.zeros(self._shape, np.float32)
        self._drive = np.zeros(self.n_neurons)

    # ------------------------------------------------------------------ geometry
    @property
    def fourier_pitch_um(self) -> float | None:
        """Sample-plane size of one SLM Fourier pixel, ``λ f / (N pitch)`` (``None`` without an SLM)."""
        if self.slm is None:
            return None
        n = min(self._slm_shape)
        return float(self.slm.wavelength_um) * self.focal_length_um / (n * float(self.slm.pitch_um))

    def _scale(self) -> float:
        if self.ground_truth.scale is not None:
            return _positive("ground_truth.scale", self.ground_truth.scale)
        if self.camera_pixel_um is not None and self.slm is not None:
            return self.fourier_pitch_um / self.camera_pixel_um
        return 0.9 * min(self._shape) / min(self._slm_shape)

    # ------------------------------------------------------------------ the sample
    def _build_sample(self, n_neurons: int | None, density: float | None, radius: float) -> None:
        h, w = self._shape
        r_mean = _positive("neuron_radius_px", radius)
        if n_neurons is None:
            if density is None:
                n_neurons = 40
            else:
                n_neurons = int(round(_non_negative("neuron_density", density) * h * w / 1e4))
        if isinstance(n_neurons, bool) or int(n_neurons) != n_neurons or n_neurons < 0:
            raise CameraConfigError(f"n_neurons={n_neurons!r} must be a non-negative integer")
        rng = np.random.default_rng([self.seed, 0])
        margin = 1.5 * r_mean
        min_dist = 2.2 * r_mean
        pos: list[tuple[float, float]] = []
        tries = 0
        while len(pos) < n_neurons and tries < 200 * max(int(n_neurons), 1):
            tries += 1
            p = (rng.uniform(margin, w - 1 - margin), rng.uniform(margin, h - 1 - margin))
            if all((p[0] - q[0]) ** 2 + (p[1] - q[1]) ** 2 >= min_dist**2 for q in pos):
                pos.append(p)
        if len(pos) < n_neurons:
            raise CameraConfigError(
                f"cannot place {n_neurons} neurons of radius {r_mean:g} px without overlap on a {h}×{w} "
                f"camera (fitted {len(pos)}); lower n_neurons/neuron_density or neuron_radius_px"
            )
        self.n_neurons = len(pos)
        self.neuron_positions = np.asarray(pos, dtype=np.float64).reshape(-1, 2)
        self.neuron_radii = r_mean * rng.uniform(0.8, 1.2, self.n_neurons)
        self.neuron_baseline = self.baseline * rng.lognormal(0.0, 0.25, self.n_neurons)
        # Footprints: a soft disc with a dimmer nucleus, as GCaMP somata look; one sparse column each.
        rows, cols, vals, srows, scols = [], [], [], [], []
        for i, ((x, y), r) in enumerate(zip(self.neuron_positions, self.neuron_radii, strict=True)):
            x0, x1 = int(max(0, math.floor(x - r - 3))), int(min(w, math.ceil(x + r + 4)))
            y0, y1 = int(max(0, math.floor(y - r - 3))), int(min(h, math.ceil(y + r + 4)))
            yy, xx = np.mgrid[y0:y1, x0:x1]
            d = np.hypot(xx - x, yy - y)
            val = 1.0 / (1.0 + np.exp((d - r) / 0.7))
            val *= 1.0 - 0.35 * np.exp(-((d / (0.45 * r)) ** 2))
            keep = val > 0.01
            idx = (yy * w + xx)[keep]
            rows.append(idx)
            cols.append(np.full(idx.size, i))
            vals.append(val[keep])
            soma = d <= r
            srows.append((yy * w + xx)[soma])
            scols.append(np.full(int(soma.sum()), i))
        n = self.n_neurons
        cat = (lambda a, dt: np.concatenate(a).astype(dt)) if n else (lambda a, dt: np.empty(0, dt))
        self._footprints = sparse.csr_matrix(
            (cat(vals, np.float32), (cat(rows, np.int64), cat(cols, np.int64))), shape=(h * w, n)
        )
        self._soma = sparse.csr_matrix(
            (np.ones(sum(len(s) for s in srows), np.float32), (cat(srows, np.int64), cat(scols, np.int64))),
            shape=(h * w, n),
        ).T.tocsr()
        # Dim smooth background (neuropil, out-of-focus light), mean `background`.
        field = ndimage.gaussian_filter(rng.standard_normal((h, w)), sigma=max(h, w) / 16, mode="wrap")
        field /= field.std() or 1.0
        self._background = (self.background * np.clip(1.0 + 0.3 * field, 0.2, None)).astype(np.float32)
        self._slide = np.full((h, w), 0.3 * self.background, np.float32)
        self.calcium = np.zeros(n)  # ΔF/F of each neuron

    # ------------------------------------------------------------------ light
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

    def _update_light(self, t: float) -> None:
        """Recompute the light pattern on the camera if the SLM's displayed phase changed."""
        if self.slm is None:
            return
        permitted = bool(getattr(self.slm, "laser_permitted", True))
        key, settling = self._slm_state(t)
        if not permitted:
            full_key: Any = ("laser off",)
        elif key is None:
            phase = np.asarray(self.slm.displayed_phase(t), dtype=np.float32)
            if isinstance(self._light_key, tuple) and len(self._light_key) == 2 and isinstance(
                self._light_key[1], np.ndarray
            ) and np.array_equal(self._light_key[1], phase):
                return
            self._set_light(phase)
            self._light_key = ("phase", phase)
            return
        else:
            full_key = key
        if full_key == self._light_key and not settling:
            return
        if not permitted:
            self._light_cam = np.zeros(self._shape, np.float32)
        else:
            self._set_light(np.asarray(self.slm.displayed_phase(t), dtype=np.float32))
        # A pattern rendered mid-settle is provisional: the next frame must recompute it.
        self._light_key = ("settling", full_key) if settling else full_key

    def _set_light(self, phase: np.ndarray) -> None:
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
                           self.focal_length_um)
        inten = np.asarray(intensity(far), dtype=np.float32)
        total = float(inten.sum())
        frac = inten / total if total > 0 else inten  # fraction of the laser power per Fourier pixel
        self._light_cam = self.map_slm_image(frac, blur=True)

    def _illumination(self, ny: int, nx: int, pitch: float) -> np.ndarray | None:
        """Gaussian beam amplitude on the SLM, or ``None`` for uniform illumination."""
        if self.beam_waist_um is None:
            return None
        y = (np.arange(ny) - ny // 2) * pitch
        x = (np.arange(nx) - nx // 2) * pitch
        return np.exp(-(y[:, None] ** 2 + x[None, :] ** 2) / self.beam_waist_um**2).astype(np.float32)

    def map_slm_image(self, image: np.ndarray, blur: bool = True, reduce: bool = True) -> np.ndarray:
        """Resample an image on the SLM Fourier grid onto the camera through the ground truth.

        Power-preserving (divides by the Jacobian), with the camera PSF applied on the Fourier grid at
        the equivalent width so fine Fourier pixels are not aliased when the camera pixels are coarser.
        When a camera pixel spans k ≥ 2 Fourier pixels, the image is first binned k-fold along each
        axis with linear (cloud-in-cell) weights (``reduce``), which keeps power and centroids exactly,
        and the blur then runs on k² fewer pixels with the binning's own width taken off.
        """
        scale = math.sqrt(abs(float(np.linalg.det(self.true_slm_to_camera[:, :2]))))
        img = np.asarray(image, dtype=np.float32)
        b = self.true_camera_to_slm.copy()  # camera (x, y, 1) → Fourier px (x, y)
        sigma = math.hypot(self.psf_sigma_px, 0.5) / scale  # PSF plus a pixel's worth, in Fourier px
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
        out = ndimage.affine_transform(img, mat, offset=off, output_shape=self._shape, order=1,
                                       mode="constant", cval=0.0, prefilter=False)
        return (out / cell**2).astype(np.float32)

    def light_image(self, t: float | None = None) -> np.ndarray:
        """The light on the sample in camera pixels (fraction of laser power per pixel) at time ``t``."""
        with self._io_lock:  # the acquisition thread updates the same cache
            self._update_light(self.clock() if t is None else float(t))
            return self._light_cam.copy()

    # ------------------------------------------------------------------ dynamics
    def _advance(self, t: float) -> None:
        if self._t_last is None:
            self._t_last = t
            return
        dt = t - self._t_last
        if dt <= 0:
            return
        self._t_last = t
        n = self.n_neurons
        if n == 0:
            return
        if self.sample == "neurons" and self.slm is not None:
            flat = self._light_cam.ravel()
            self._drive = np.asarray(self._soma @ flat, dtype=np.float64)
        else:
            self._drive = np.zeros(n)
        rate = self.spontaneous_hz + self.stim_hz * (self._drive > self.threshold)
        # Sub-steps of ≤ 50 ms; beyond 5 s only the last 5 s matter (transients have decayed by e⁻¹⁰).
        if dt > 10 * self.tau_s:
            self.calcium[:] = 0.0
            dt = 10 * self.tau_s
        steps = max(1, int(math.ceil(dt / 0.05)))
        h = dt / steps
        decay = math.exp(-h / self.tau_s)
        for _ in range(steps):
            spikes = self._rng.poisson(rate * h)
            self.calcium *= decay
            self.calcium += self.spike_dff * spikes

    @property
    def stimulated(self) -> np.ndarray:
        """Which neurons the light drove above threshold at the last rendered frame (bool, (N,))."""
        return self._drive > self.threshold

    @property
    def drive(self) -> np.ndarray:
        """Fraction of the laser power on each soma at the last rendered frame."""
        return self._drive.copy()

    # ------------------------------------------------------------------ frames
    def expected_rate(self, t: float | None = None) -> np.ndarray:
        """Noiseless photoelectrons per ms per pixel at time ``t`` (advances the dynamics to ``t``)."""
        with self._io_lock:  # one state update at a time (GUI thread and acquisition thread)
            return self._expected_rate(self.clock() if t is None else float(t))

    def _expected_rate(self, t: float) -> np.ndarray:
        self._update_light(t)
        self._advance(t)
        h, w = self._shape
        if self.sample == "slide":
            rate = self._slide.copy()
            rate += self.spot_gain * self._light_cam
            return rate
        rate = self._background.copy()
        if self.n_neurons:
            f = (self.neuron_baseline * (1.0 + self.calcium)).astype(np.float32)
            rate += (self._footprints @ f).reshape(h, w)
        if self.visible_spots:
            rate += self.spot_gain * self._light_cam
        return rate

    def render(self, t: float | None = None) -> np.ndarray:
        """One camera frame at time ``t`` (default ``clock()``): exposure, noise, gain, bit depth."""
        with self._io_lock:  # the noise generator and the dynamics are shared with the acquisition thread
            electrons = self.expected_rate(t) * np.float32(self.exposure_ms)
            if not self.noise:  # the expected frame: same full well, gain, offset and ADC range, no noise
                counts = np.minimum(electrons, self.full_well_e) / self.gain_e_per_adu + self.dark_offset_adu
                np.clip(np.rint(counts), 0, 2**self.bit_depth - 1, out=counts)
                return counts.astype(self.dtype)
            return self._add_noise(electrons)

    def _add_noise(self, electrons: np.ndarray) -> np.ndarray:
        """The optics core's sensor model, on ``noise_threads`` bands of rows at once."""
        from holostim.optics.sensors import add_camera_noise

        # pixels with >= 20 expected electrons take the normal limit of shot noise: a 512² frame then costs
        # about a third as much, and a camera image cannot tell the difference (skew 1/√20)
        kw = dict(read_noise=self.read_noise_e, gain=self.gain_e_per_adu, offset=self.dark_offset_adu,
                  bit_depth=self.bit_depth, full_well=self.full_well_e, gaussian_above=20.0)
        bands = np.array_split(np.arange(self._shape[0]), self.noise_threads)
        if self.noise_threads == 1:
            return add_camera_noise(electrons, rng=self._noise_rngs[0], **kw)
        if self._noise_pool is None:
            self._noise_pool = ThreadPoolExecutor(self.noise_threads - 1, thread_name_prefix="holostim-noise")
        sl = [slice(int(b[0]), int(b[-1]) + 1) for b in bands]
        futures = [
            self._noise_pool.submit(add_camera_noise, electrons[sl[k]], rng=self._noise_rngs[k], **kw)
            for k in range(1, self.noise_threads)
        ]
        first = add_camera_noise(electrons[sl[0]], rng=self._noise_rngs[0], **kw)  # this thread works too
        out = np.empty(self._shape, first.dtype)
        out[sl[0]] = first
        for k, fut in enumerate(futures, start=1):
            out[sl[k]] = fut.result()
        return out

    def _release(self) -> None:
        if self._noise_pool is not None:
            self._noise_pool.shutdown(wait=True)
            self._noise_pool = None

    # ------------------------------------------------------------------ Camera interface
    @property
    def shape(self) -> tuple[int, int]:  # noqa: D102
        return self._shape

    @property
    def dtype(self) -> np.dtype:  # noqa: D102
        return np.dtype(np.uint8 if self.bit_depth <= 8 else np.uint16)

    def _grab(self) -> np.ndarray:
        return self.render()


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


def _positive(name: str, value: Any) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise CameraConfigError(f"{name}={value!r} must be a positive number") from None
    if not (math.isfinite(v) and v > 0):
        raise CameraConfigError(f"{name}={value!r} must be a positive number")
    return v


def _non_negative(name: str, value: Any) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise CameraConfigError(f"{name}={value!r} must be a number ≥ 0") from None
    if not (math.isfinite(v) and v >= 0):
        raise CameraConfigError(f"{name}={value!r} must be a number ≥ 0")
    return v
