"""The realistic forward model of a hologram design: SLM phase -> complex field in each focal plane.

A WGS mask is computed for the engine's ideal model (a flat-phased pixel per value, one FFT). A real
panel differs, and a gradient design can only beat WGS by optimising through a model of those
differences. This module is that model, as a pydantic spec read from YAML (:class:`DesignModel`, the
``--model`` file of ``holostim design``; example ``config/design-realistic.yaml``) and a pure function
of the phase built only from optics-core elements (:class:`ForwardModel`), in this order:

1. **Quantisation and LUT** -- the phase is wrapped and rounded to ``2**bits`` levels
   (:func:`~holostim.optics.quantize_phase`; ``bits: null`` is an analogue panel, no rounding); with a
   measured LUT (read by the SLM's own reader, :func:`~holostim.hardware.slm.lut.load_lut`) each level
   ``k`` drives gray ``lut.gray[k]``, which the panel turns into the retardance
   ``lut.phase_of_gray()[gray]``: levels that share a gray value share a phase, so a LUT with plateaus
   quantises more coarsely than its bit depth says. Under JAX the rounding is a
   straight-through estimator ``x + stop_gradient(q(x) - x)``: its gradient is the unquantised one.
2. **Pixels and fill factor** -- the optics core's :func:`~holostim.optics.slm` element on a grid of
   ``supersample`` sub-samples per pixel: each pixel is a square of active width ``fill_factor`` with an
   absorbing dead border (exact coverage per sub-sample). We use the upsampled pixel rather than the
   equivalent sinc envelope because the fringing field (3.) varies *inside* a pixel: a sinc envelope
   presumes flat pixels, which the blur contradicts, while the sub-pixel grid carries both in one field
   and keeps the light that leaves the first-order window (higher orders) as the loss it is. The dead
   border is resolved from ``supersample >= 4``; below that the core element scales the amplitude by
   the fill factor (its documented behaviour), and the crosstalk is still modelled.
3. **Pixel crosstalk** -- the fringing field as a Gaussian blur (``crosstalk_sigma_px``, in pixels) of
   the displayed, wrapped phase on the sub-pixel grid (edges replicated). Blurring the wrapped phase,
   not the phasor, is the physics: the liquid crystal follows the voltage, so a 2π wrap becomes a
   flyback ramp that scatters light, and fine gratings (far spots) lose contrast.
4. **Aberrations** -- Zernike terms (Noll or ANSI indices, coefficients in waves RMS) over a pupil of
   ``pupil_radius_px`` on the SLM (:func:`~holostim.optics.zernike`).
5. **Illumination** -- a Gaussian beam of 1/e² intensity radius ``waist_px`` (the engine's
   ``("gaussian", waist_px)`` source), or flat; unit power, so powers below are fractions of the laser's.
6. **Planes** -- each focal plane ``z`` multiplies the SLM field by ``exp(-i φ_z)``, ``φ_z`` the SLM
   defocus of the engine's :class:`~holostim.holography.defocus.DefocusModel` (the phase that puts a
   spot at depth ``z``; undoing it brings plane ``z`` to the Fourier plane), then
7. **The objective** -- a function slot (:data:`OBJECTIVES`): ``scalar`` is the optics core's
   :func:`~holostim.optics.fourier_lens` (optionally behind the objective's pupil); ``vectorial`` is
   :func:`~holostim.optics.vectorial_focus` (Richards–Wolf) with the SLM conjugate to the back
   aperture: the effective focal length ``f / M`` makes the aperture radius ``NA f / M`` on the SLM
   (as the defocus model has it) and the focal pitch the Fourier pitch over ``M``, so a spot stays at
   the same focal-grid pixel as in the scalar model. It returns ``(planes, 3, y, x)`` (Ex, Ey, Ez),
   whose intensities :func:`focal_intensity` sums; the pupil's polarisation is ``optics.polarization``.

The focal field is sampled at ``1 / padding`` Fourier pixel (the engine's far-field pixel, zero order at
``N//2``); ``padding`` zero-pads the SLM plane (:func:`~holostim.optics.resize`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import Field as PydanticField
from pydantic import model_validator

from holostim.config.load import load_model, parse_model
from holostim.config.messages import ConfigError
from holostim.config.types import MAX_SIDE_PX, ExistingFile, PositiveFloat, Section
from holostim.design.errors import DesignError, DesignModelFileError
from holostim.hardware.slm.errors import LUTError, SLMFileError
from holostim.hardware.slm.lut import LUT, load_lut
from holostim.holography.defocus import DefocusModel
from holostim.optics import (
    Field,
    circular_aperture,
    fourier_lens,
    gaussian_beam,
    intensity,
    phase_mask,
    plane_wave,
    quantize_phase,
    resize,
    slm,
    zernike,
)
from holostim.optics.zernike import noll_to_ansi

__all__ = ["OBJECTIVES", "DesignModel", "ForwardModel", "blur_matrix", "focal_intensity", "gaussian_blur",
           "gaussian_taps",
           "level_phases", "load_design_model", "parse_design_model", "straight_through"]

TWO_PI = 2.0 * math.pi
Side = Annotated[int, PydanticField(ge=8, le=MAX_SIDE_PX)]


# ------------------------------------------------------------------------------------------------------
# The spec
class SLMModel(Section):
    """The panel: pixels, gray depth and LUT, fill factor, fringing field, sub-pixel sampling."""

    shape: tuple[Side, Side]
    pitch_um: PositiveFloat = 9.2
    bits: Annotated[int, PydanticField(ge=1, le=16)] | None = 8
    lut: ExistingFile | None = None
    crosstalk_sigma_px: Annotated[float, PydanticField(ge=0, le=4, allow_inf_nan=False)] = 0.0
    fill_factor: Annotated[float, PydanticField(gt=0, le=1, allow_inf_nan=False)] = 1.0
    supersample: Annotated[int, PydanticField(ge=1, le=8)] = 2

    @model_validator(mode="after")
    def _lut_matches_bits(self) -> SLMModel:
        if self.lut is not None:
            if self.bits is None:
                raise ValueError("a LUT drives gray levels: give bits (its depth), not bits: null")
            table = _read_lut(self.lut)
            if table.bits != self.bits:
                raise ValueError(f"the LUT {self.lut.name} has {table.gray.size} entries ({table.bits}-bit) "
                                 f"but bits is {self.bits}; set bits: {table.bits}")
        return self


class IlluminationModel(Section):
    """The laser on the SLM: a Gaussian of 1/e² intensity radius ``waist_px`` SLM pixels, or flat."""

    waist_px: PositiveFloat | None = None


class OpticsModel(Section):
    """What turns a depth into an SLM defocus (the session's optics), and the objective's pupil."""

    wavelength_um: PositiveFloat = 1.04
    focal_length_um: PositiveFloat = 200_000.0
    magnification: PositiveFloat = 50.0
    objective_na: PositiveFloat = 0.8
    medium_index: Annotated[float, PydanticField(ge=1, le=2, allow_inf_nan=False)] = 1.33
    defocus: Literal["high_na", "paraxial"] = "high_na"
    clip_to_pupil: bool = False
    polarization: Literal["x", "y", "circular", "circular-", "radial", "azimuthal"] = "x"

    @model_validator(mode="after")
    def _na_below_index(self) -> OpticsModel:
        if self.objective_na >= self.medium_index:
            raise ValueError(f"objective_na {self.objective_na:g} must be below medium_index "
                             f"{self.medium_index:g}")
        return self


class AberrationModel(Section):
    """Zernike aberrations on the SLM: ``{index: waves RMS}`` in Noll or ANSI numbering."""

    index: Literal["noll", "ansi"] = "noll"
    coefficients_waves: dict[Annotated[int, PydanticField(ge=0, le=230)],
                             Annotated[float, PydanticField(ge=-10, le=10, allow_inf_nan=False)]] = {}
    pupil_radius_px: PositiveFloat | None = None

    @model_validator(mode="after")
    def _noll_from_one(self) -> AberrationModel:
        if self.index == "noll" and 0 in self.coefficients_waves:
            raise ValueError("Noll indices start at 1 (piston); index 0 is ANSI numbering: set index: ansi")
        return self

    def ansi_radians(self) -> dict[int, float]:
        """The coefficients as the optics core takes them: ANSI index -> radians RMS."""
        out: dict[int, float] = {}
        for j, waves in self.coefficients_waves.items():
            a = noll_to_ansi(j) if self.index == "noll" else j
            out[a] = out.get(a, 0.0) + TWO_PI * float(waves)
        return {j: c for j, c in out.items() if c != 0.0}


class FarFieldModel(Section):
    """How the focal planes are sampled and how a spot's power is integrated."""

    padding: Annotated[int, PydanticField(ge=1, le=4)] = 1
    spot_radius_px: Annotated[float, PydanticField(gt=0, le=8, allow_inf_nan=False)] = 1.0


class DesignModel(Section):
    """The realistic forward model (module docstring): the ``--model`` file of ``holostim design``."""

    slm: SLMModel
    illumination: IlluminationModel = IlluminationModel()
    optics: OpticsModel = OpticsModel()
    aberrations: AberrationModel = AberrationModel()
    objective: Literal["scalar", "vectorial"] = "scalar"
    far_field: FarFieldModel = FarFieldModel()

    @property
    def shape(self) -> tuple[int, int]:
        """SLM pixels ``(ny, nx)``: the mask's shape."""
        return (int(self.slm.shape[0]), int(self.slm.shape[1]))

    def defocus_model(self, pitch_um: float | None = None) -> DefocusModel:
        """The engine's defocus model for these optics (on SLM pixels, or on ``pitch_um`` sub-pixels)."""
        o = self.optics
        return DefocusModel(o.defocus, o.wavelength_um, o.focal_length_um, o.magnification,
                            self.slm.pitch_um if pitch_um is None else pitch_um, o.objective_na,
                            o.medium_index)

    def engine_source(self) -> Any:
        """The illumination as :class:`~holostim.holography.HologramEngine` takes it."""
        w = self.illumination.waist_px
        return "uniform" if w is None else ("gaussian", float(w))


def _read_lut(path: Path) -> LUT:
    try:
        return load_lut(path)
    except (LUTError, SLMFileError) as exc:
        raise ValueError(" ".join(str(exc).split())) from None


def level_phases(slm_model: SLMModel) -> np.ndarray:
    """The phase (radians, float64) the panel shows for each of the ``2**bits`` levels.

    Ideal (no LUT): ``2π k / 2**bits``; ``bits: null`` (an analogue phase) has none: empty. With a LUT:
    ``phase_of_gray[gray[k]]``, the measured retardance
    of the gray value level ``k`` drives (module docstring, step 1).
    """
    if slm_model.bits is None:
        return np.zeros(0)
    n = 2 ** int(slm_model.bits)
    if slm_model.lut is None:
        return np.arange(n, dtype=np.float64) * (TWO_PI / n)
    table = _read_lut(slm_model.lut)
    return np.mod(table.phase_of_gray()[table.gray.astype(np.int64)], TWO_PI)


def parse_design_model(text: str, *, file: str = "<string>",
                       base_dir: str | Path | None = None) -> DesignModel:
    """Validate design-model YAML text; relative paths (the LUT) resolve against ``base_dir``."""
    try:
        return parse_model(text, DesignModel, file=file, base_dir=base_dir, what="design model")
    except ConfigError as exc:
        raise DesignModelFileError(exc.problems) from None


def load_design_model(path: str | Path) -> DesignModel:
    """Read a design model file; errors name the file, line and key (``file:line: key: message``)."""
    try:
        return load_model(path, DesignModel, what="design model")
    except ConfigError as exc:
        raise DesignModelFileError(exc.problems) from None


# ------------------------------------------------------------------------------------------------------
# Pieces of the function
def _is_jax(a: Any) -> bool:
    return type(a).__module__.startswith("jax")


def straight_through(x: Any, q: Any) -> Any:
    """``q`` in value, ``x``'s gradient: ``x + stop_gradient(q - x)`` under JAX, plainly ``q`` otherwise."""
    if _is_jax(x) or _is_jax(q):
        import jax

        return x + jax.lax.stop_gradient(q - x)
    return q


def gaussian_taps(sigma: float) -> np.ndarray:
    """Normalised Gaussian taps of standard deviation ``sigma`` samples, radius ``int(4 σ + 0.5)``.

    The same truncation as :func:`scipy.ndimage.gaussian_filter` (what the tests compare with).
    """
    radius = int(4.0 * float(sigma) + 0.5)
    x = np.arange(-radius, radius + 1, dtype=np.float64)
    w = np.exp(-0.5 * (x / float(sigma)) ** 2)
    return w / w.sum()


def blur_matrix(n: int, sigma: float) -> np.ndarray:
    """The ``(n, n)`` matrix of a 1-D Gaussian blur with edges replicated: ``blurred = B @ a``."""
    taps = gaussian_taps(sigma)
    r = taps.size // 2
    b = np.zeros((n, n))
    rows = np.arange(n)
    for k, w in enumerate(taps):
        np.add.at(b, (rows, np.clip(rows + k - r, 0, n - 1)), w)
    return b


def gaussian_blur(a: Any, sigma: float, xp: Any, matrices: tuple[Any, Any] | None = None) -> Any:
    """Separable Gaussian blur of the last two axes, edges replicated: ``B_y @ a @ B_xᵀ`` (any namespace).

    Two matrix products rather than a sum of shifted copies: under JAX that is two operations to trace
    and differentiate, not one per tap (compiling the taps took seconds). ``matrices`` are
    ``(B_y, B_xᵀ)`` already on ``xp`` (what :class:`ForwardModel` keeps); otherwise they are built.
    """
    if sigma <= 0:
        return a
    if matrices is None:
        by = xp.asarray(blur_matrix(a.shape[-2], sigma), dtype=a.dtype)
        bxt = xp.asarray(blur_matrix(a.shape[-1], sigma).T, dtype=a.dtype)
    else:
        by, bxt = matrices
    return xp.matmul(xp.matmul(by, a), bxt)


def focal_intensity(field: Field) -> Any:
    """``|E|²`` per plane ``(planes, y, x)``; a vectorial field's component axis is summed."""
    i = intensity(field)
    if i.ndim == 4:
        xp = field.xp
        i = xp.sum(i, axis=1)
    return i


# ------------------------------------------------------------------------------------------------------
# Objectives: (field at the SLM with the planes' defocus undone, model) -> field in the focal planes
def scalar_objective(field: Field, model: DesignModel) -> Field:
    """The optics core's Fourier lens (the engine's model), behind the objective's pupil if asked."""
    o = model.optics
    if o.clip_to_pupil:
        field = circular_aperture(field, o.objective_na * o.focal_length_um / o.magnification)
    return fourier_lens(field, o.focal_length_um)


def vectorial_objective(field: Field, model: DesignModel) -> Field:
    """Vectorial (Richards–Wolf) focusing of the planes' SLM fields: ``(planes, 3, Ny, Nx)`` (step 7).

    The SLM is conjugate to the back aperture, so the objective's focal length seen from the SLM is
    ``f / M``: the aperture (radius ``NA f / M``) clips the beam as it would, and the focal pitch is the
    Fourier pitch over ``M`` (sample µm), one focal sample per engine far-field pixel as in the scalar
    model. Energy is conserved, so spot powers (intensity × the sample's area) compare directly.
    """
    from holostim.optics.vectorial import vectorial_focus

    o = model.optics
    vf = vectorial_focus(field, o.objective_na, o.medium_index, o.polarization,
                         f=o.focal_length_um / o.magnification)
    xp = field.xp
    u = xp.stack([vf.ex, vf.ey, vf.ez], axis=-3)
    return Field(u, vf.spacing, vf.wavelength, n=vf.n)


OBJECTIVES: dict[str, Callable[[Field, DesignModel], Field]] = {
    "scalar": scalar_objective,
    "vectorial": vectorial_objective,
}
"""The objective slot: name (the model's ``objective`` key) -> function (module docstring, step 7)."""


# ------------------------------------------------------------------------------------------------------
class ForwardModel:
    """``phase (ny, nx) -> Field (planes, Ny, Nx)``: the model of the module docstring on one namespace.

    Everything that does not depend on the phase (illumination, level table, defocus phasors) is built
    once here, in float64 and cast; :meth:`__call__` is then a pure function of the phase, which JAX can
    ``jit`` and differentiate.

    Parameters
    ----------
    model : DesignModel
    depths_um : sequence of float
        The focal planes, sample µm from the focal plane (positive deeper); ``(0.0,)`` for 2-D.
    xp : array namespace
        ``numpy`` (the evaluator) or ``jax.numpy`` (the optimiser).
    dtype : {"double", "single"}
    padding : int, optional
        Far-field oversampling; default the model's ``far_field.padding``.
    """

    def __init__(self, model: DesignModel, depths_um: Sequence[float] = (0.0,), *, xp: Any = np,
                 dtype: str = "double", padding: int | None = None):
        if dtype not in ("double", "single"):
            raise DesignError(f"dtype {dtype!r}: use 'double' or 'single'")
        self.model = model
        self.objective = OBJECTIVES[model.objective]
        self.xp = xp
        self.depths = tuple(float(z) for z in depths_um)
        if not self.depths:
            raise DesignError("a forward model needs at least one focal plane")
        my, mx = model.shape
        s = int(model.slm.supersample)
        self.padding = int(model.far_field.padding if padding is None else padding)
        self.supersample = s
        self.sub_shape = (my * s, mx * s)
        self.grid_shape = (my * s * self.padding, mx * s * self.padding)
        pitch = float(model.slm.pitch_um)
        self.sub_pitch_um = pitch / s
        cdt = xp.complex128 if dtype == "double" else xp.complex64
        self.real_dtype = xp.float64 if dtype == "double" else xp.float32
        like = xp.zeros((1, 1), dtype=cdt)
        wl = float(model.optics.wavelength_um)
        waist = model.illumination.waist_px
        if waist is None:
            area = self.sub_shape[0] * self.sub_shape[1] * self.sub_pitch_um**2
            self.illumination = plane_wave(self.sub_shape, self.sub_pitch_um, wl,
                                           amplitude=1 / math.sqrt(area), like=like)
        else:
            self.illumination = gaussian_beam(self.sub_shape, self.sub_pitch_um, wl, float(waist) * pitch,
                                              power=1.0, like=like)
        self._levels = xp.asarray(level_phases(model.slm), dtype=self.real_dtype)
        self._ideal_levels = model.slm.lut is None
        self.n_levels = None if model.slm.bits is None else 2 ** int(model.slm.bits)
        self.sigma_sub = float(model.slm.crosstalk_sigma_px) * s
        self._blur = None
        if self.sigma_sub > 0:
            self._blur = (xp.asarray(blur_matrix(self.sub_shape[0], self.sigma_sub), dtype=self.real_dtype),
                          xp.asarray(blur_matrix(self.sub_shape[1], self.sigma_sub).T, dtype=self.real_dtype))
        ab = model.aberrations
        self._zernike = ab.ansi_radians() or None
        pupil_px = float(ab.pupil_radius_px) if ab.pupil_radius_px is not None else min(my, mx) / 2
        self._pupil_um = pupil_px * pitch
        self._defocus = None
        if any(z != 0.0 for z in self.depths):
            dm = model.defocus_model(self.sub_pitch_um)
            ph = np.stack([dm.phase(z, self.grid_shape) for z in self.depths])
            self._defocus = xp.asarray(np.exp(-1j * ph), dtype=cdt)

    # --- the steps --------------------------------------------------------------------------------------
    def displayed_phase(self, phase: Any) -> Any:
        """The phase each pixel shows: wrapped, rounded to a level, through the LUT (straight-through)."""
        xp = self.xp
        wrapped = quantize_phase(phase, None)
        if self.n_levels is None:
            return wrapped
        if self._ideal_levels:
            q = quantize_phase(wrapped, self.n_levels)
        else:
            k = xp.remainder(xp.round(wrapped * (self.n_levels / TWO_PI)), float(self.n_levels))
            idx = xp.astype(xp.reshape(k, (-1,)), xp.int32)
            q = xp.reshape(xp.take(self._levels, idx), phase.shape)
        return straight_through(wrapped, xp.astype(q, wrapped.dtype))

    def _upsample(self, q: Any) -> Any:
        xp, s = self.xp, self.supersample
        if s == 1:
            return q
        my, mx = q.shape
        return xp.reshape(xp.broadcast_to(xp.reshape(q, (my, 1, mx, 1)), (my, s, mx, s)), (my * s, mx * s))

    def slm_field(self, phase: Any) -> Field:
        """The field leaving the SLM (sub-pixel grid): pixels, dead border, fringing, aberrations."""
        q = self.displayed_phase(phase)
        sl = self.model.slm
        out = slm(self.illumination, q, pitch=float(sl.pitch_um), fill_factor=float(sl.fill_factor),
                  levels=None, supersample=self.supersample)
        if self.sigma_sub > 0:
            up = self._upsample(q)
            out = phase_mask(out, gaussian_blur(up, self.sigma_sub, self.xp, self._blur) - up)
        if self._zernike is not None:
            out = zernike(out, self._zernike, self._pupil_um)
        return out

    def __call__(self, phase: Any) -> Field:
        """The field in every focal plane, ``(planes, Ny, Nx)`` (``(planes, C, Ny, Nx)`` vectorially)."""
        xp = self.xp
        f = self.slm_field(phase)
        if self.padding > 1:
            f = resize(f, self.grid_shape)
        u = xp.reshape(f.u, (1,) + tuple(f.u.shape))
        planes = f.with_u(xp.broadcast_to(u, (len(self.depths),) + tuple(f.u.shape)))
        if self._defocus is not None:
            # a plain product: ``amplitude_mask`` would re-check the constant phasor for NaN, and that
            # check cannot run inside ``jax.jit`` (it was finite when built, from the defocus model)
            planes = planes.with_u(planes.u * self._defocus)
        return self.objective(planes, self.model)

    @property
    def focal_pitch_px(self) -> float:
        """The focal-plane sample spacing in Fourier pixels (the engine's far-field pixel): ``1/padding``."""
        return 1.0 / self.padding
