"""The focal field of an aplanatic objective: vectorial (Richards–Wolf) and scalar Debye focusing.

At a high numerical aperture the scalar Fourier-lens model (:func:`~holostim.optics.fourier_lens`,
:func:`~holostim.optics.objective`) misses three things a rig sees: the aplanatic apodisation (a ray
leaving the back aperture at height ``ρ`` reaches the focus at ``n sin θ = ρ n_p / f``, and the sine
condition changes its irradiance), the bending of the polarisation with the ray (a longitudinal
``Ez`` appears, the spot of linearly polarised light is elongated along the polarisation, radially
polarised light focuses to a strong ``Ez`` on the axis) and the exact ``cos θ`` of defocus.
:func:`vectorial_focus` adds all three; :func:`debye_focus` is the same code path without the
polarisation rotation (the scalar Debye model), so the scalar/vectorial comparison stays inside one
implementation family; :func:`vectorial_focus_xz` gives an x–z section without whole planes.

Method (Leutenegger, Rao, Leitgeb & Lasser 2006, *Opt. Express* 14, 11277): the Debye–Wolf integral
is a plane-wave (angular-spectrum) sum whose direction cosines are the pupil coordinates scaled by
``1/(n f)``, so it is one FFT of the apodised, polarisation-rotated pupil field, zero-padded to set the
focal pitch; a plane at ``z`` multiplies the spectrum by ``exp(i k z cos θ)``.

Conventions (chosen so that the rest of holostim needs no translation)
--------------------------------------------------------------------
* Time dependence ``exp(-i ω t)``, waves ``exp(+i k·r)``: the convention of
  :func:`~holostim.optics.propagate` (a positive ``z`` lies beyond the focus, away from the lens), so
  ``debye_focus(pupil, ..., z=z)`` equals ``propagate(debye_focus(pupil, ...), z, pad=1,
  band_limit=False)`` (the focal field is periodic over the FFT window) to rounding.
* The lens transform is the *forward* centred FFT with the factor ``-i dy dx / (λ_p f)``, exactly as
  :func:`~holostim.optics.fourier_lens`: a pupil phase ramp moves the spot to the same place as in
  the scalar model (the SLM → sample geometry of :mod:`holostim.geometry` holds unchanged). The ray
  from pupil point ``(ξ, η)`` therefore travels along ``ŝ = (-ξ, -η, ·)/(n f / n_p)`` (towards the
  axis), and its field is rotated in its meridional plane: the radial component ``E_ρ`` becomes
  ``E_ρ (cos θ cos φ, cos θ sin φ, sin θ)``, the azimuthal one is unchanged (Richards & Wolf 1959;
  Novotny & Hecht, *Principles of Nano-Optics*, §3.6), so that ``ŝ · E = 0`` for every plane wave.
* Normalisation: the fields are in the units of holostim's scalar fields (``|u|²`` is power per
  µm², the impedance and index absorbed: a plane wave of amplitude ``A`` carries the irradiance
  ``|A|²`` along its direction), and the energy of the pupil is conserved: a plane wave of the focal
  spectrum carries the flux ``|A|² cos θ`` through a z-plane, so the
  angular spectrum is ``A = -i λ_p f · M(θ, φ) E_pupil / sqrt(cos θ)`` (``M`` the rotation above).
  ``1/sqrt(cos θ)`` in the angular spectrum is the same as the textbook ``sqrt(cos θ)`` apodisation
  of the field on the reference sphere (the Debye integral's ``1/cos θ`` Jacobian takes the rest).
  Hence the power through any focal plane (Poynting flux) equals ``Σ |E_pupil|² dA`` inside the
  aperture, while ``Σ |E|² dA`` exceeds it by the mean of ``1/cos θ``; at low NA the result *is*
  ``fourier_lens`` of the aperture-clipped pupil.
* Geometry: the back aperture has radius ``NA f / n_p`` (Abbe sine condition, ``n_p`` the index the
  pupil field is in, normally 1). The focal pitch is ``λ_p f / (M d)`` for a pupil of spacing ``d``
  zero-padded to ``M`` samples, and the focal field is periodic over ``λ_p f / d`` (the FFT's window).

Accuracy: the FFT is a Riemann sum of the Debye integral over the pupil samples. With the
anti-aliased aperture edge it agrees with a quadrature of the Richards–Wolf integrals to ~1e-4 of
the peak intensity in focus for an aperture of 32 pixels radius (NA 0.9-1.2), the error falling as
the pupil spacing squared; out of focus the phase ``k z cos θ`` steepens towards the rim and more
pupil samples are needed (a :class:`~holostim.optics.field.SamplingWarning` marks where it aliases).
The Debye approximation itself needs a Fresnel number ``NA² f / λ`` far above 1, true of any
microscope objective.

Shapes: the pupil's leading axes are kept; an array of ``z`` adds a new first axis (as
:func:`~holostim.optics.focal_stack`). Under ``jax.jit``/``grad``/``vmap`` the pupil field, a per-pixel
Jones array and ``z`` may be traced; NA, the indices, ``f``, the wavelength and the sampling set the
grid and must be concrete.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import numpy as np

from holostim.backend import array_namespace, is_traced, place
from holostim.checks import positive
from holostim.optics import propagation
from holostim.optics.elements import _key, circular_aperture
from holostim.optics.field import (
    Field,
    FieldError,
    _device_kw,
    grid,
    real_dtype_of,
    resize,
    warn_sampling,
)
from holostim.optics.propagation import _centred_fft2, _crop, _pad

__all__ = [
    "POLARIZATIONS",
    "VectorialField",
    "clear_geometry_cache",
    "debye_focus",
    "focal_sampling",
    "jones_vector",
    "vectorial_focus",
    "vectorial_focus_xz",
]

#: The named input polarisations (a Jones pair or a per-pixel Jones array is accepted too).
POLARIZATIONS = ("x", "y", "circular", "circular+", "circular-", "radial", "azimuthal")

_COMPONENTS = ("x", "y", "z", "radial", "azimuthal", "transverse")

# pupil-side factors per (grid, optics, polarisation, dtype, backend, device): a few pupil-sized arrays
_GEOMETRY: OrderedDict[tuple, dict] = OrderedDict()
_GEOMETRY_LOCK = threading.Lock()
_GEOMETRY_CACHE_SIZE = 8


# ------------------------------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class VectorialField:
    """The three Cartesian components of a focal field, sampled on a centred lateral grid.

    Attributes
    ----------
    ex, ey, ez
        Complex arrays of one shape ``(..., Ny, Nx)`` (an x–z section from :meth:`xz` is
        ``(..., Nz, Nx)``); units of holostim's fields (``|E|²`` of a plane wave is its irradiance,
        power per µm²).
    spacing
        Lateral pitch ``(dy, dx)`` in µm (for an x–z section: ``(nan, dx)``, the rows being ``z``).
    wavelength
        Vacuum wavelength, µm.
    n
        Index of the medium the focus is in.
    z
        The plane's distance from the focus (µm): a number, or the 1-D array of the first axis.
    plane
        ``"xy"`` (lateral planes) or ``"xz"`` (a section through ``y``).
    """

    ex: Any
    ey: Any
    ez: Any
    spacing: tuple[float, float]
    wavelength: float
    n: float
    z: Any = 0.0
    plane: str = "xy"

    @property
    def xp(self) -> Any:
        """Array namespace of the components."""
        return array_namespace(self.ex)

    @property
    def shape(self) -> tuple[int, ...]:
        """Shape of each component."""
        return tuple(self.ex.shape)

    def intensity(self) -> Any:
        """Total electric energy density ``|Ex|² + |Ey|² + |Ez|²`` (real)."""
        return sum(_abs2(c, self.xp) for c in (self.ex, self.ey, self.ez))

    def component_intensity(self, component: str) -> Any:
        """``|E_c|²`` of one component.

        ``component`` is ``"x"``, ``"y"``, ``"z"``, ``"transverse"`` (``|Ex|² + |Ey|²``), or the
        cylindrical ``"radial"`` / ``"azimuthal"`` components about the optical axis (lateral planes
        only: ``E_r = Ex cos φ + Ey sin φ``, ``E_φ = -Ex sin φ + Ey cos φ``; 0 on the axis itself).
        """
        xp = self.xp
        if component in ("x", "y", "z"):
            return _abs2({"x": self.ex, "y": self.ey, "z": self.ez}[component], xp)
        if component == "transverse":
            return _abs2(self.ex, xp) + _abs2(self.ey, xp)
        if component in ("radial", "azimuthal"):
            if self.plane != "xy":
                raise FieldError(f"the {component} component needs a lateral (x–y) plane, not an x–z section")
            y, x = grid(self.ex.shape[-2:], self.spacing, xp=xp, like=self.ex)
            r = xp.sqrt(x**2 + y**2)
            on_axis = r == 0
            safe = xp.where(on_axis, xp.ones_like(r), r)
            c = xp.where(on_axis, xp.zeros_like(r), x / safe)
            s = xp.where(on_axis, xp.zeros_like(r), y / safe)
            e = self.ex * c + self.ey * s if component == "radial" else self.ey * c - self.ex * s
            return _abs2(e, xp)
        raise FieldError(f"component={component!r}; use one of {', '.join(_COMPONENTS)}")

    def component_field(self, component: str) -> Field:
        """One Cartesian component (``"x"``, ``"y"``, ``"z"``) as a scalar :class:`Field` in the medium."""
        if component not in ("x", "y", "z") or self.plane != "xy":
            raise FieldError(f"component_field({component!r}) needs 'x', 'y' or 'z' of a lateral plane")
        u = {"x": self.ex, "y": self.ey, "z": self.ez}[component]
        return Field(u, self.spacing, self.wavelength, n=self.n)

    def xz(self, y: float = 0.0) -> VectorialField:
        """The x–z section through the row nearest ``y`` µm of a stack computed with an array of ``z``.

        Rows of the result are the ``z`` planes; its ``spacing`` is ``(nan, dx)``. To get only the
        section, :func:`vectorial_focus_xz` skips the whole planes (one row sum and a 1-D FFT each).
        """
        if self.plane != "xy" or np.ndim(self.z) != 1:
            raise FieldError("xz() needs a lateral stack: call vectorial_focus with an array of z")
        ny = self.ex.shape[-2]
        row = ny // 2 + int(round(float(y) / self.spacing[0]))
        if not 0 <= row < ny:
            half = ny // 2 * self.spacing[0]
            raise FieldError(f"y={y!r} µm lies outside the focal grid (|y| <= {half:.4g} µm)")
        xp = self.xp
        cut = [xp.moveaxis(c[..., row, :], 0, -2) for c in (self.ex, self.ey, self.ez)]
        return VectorialField(*cut, spacing=(math.nan, self.spacing[1]), wavelength=self.wavelength, n=self.n,
                              z=self.z, plane="xz")

    def __repr__(self) -> str:
        return (f"VectorialField(shape={self.shape}, spacing={self.spacing} µm, "
                f"wavelength={self.wavelength} µm, n={self.n}, plane={self.plane!r})")


def _abs2(u: Any, xp: Any) -> Any:
    return xp.real(u) ** 2 + xp.imag(u) ** 2


# ------------------------------------------------------------------------------------------------------
def jones_vector(polarization: Any, shape: tuple[int, int], spacing: tuple[float, float], *, xp: Any = np,
                 like: Any = None) -> tuple[Any, Any]:
    """The pupil's Jones vector ``(Jx, Jy)`` for a named polarisation, a uniform pair or a per-pixel array.

    ``"x"``, ``"y"``; ``"circular"`` = ``"circular+"`` = ``(1, +i)/√2`` and ``"circular-"`` =
    ``(1, -i)/√2`` (``Ey`` leads or lags ``Ex`` by 90°); ``"radial"`` = ``(cos φ, sin φ)`` and
    ``"azimuthal"`` = ``(-sin φ, cos φ)`` about the pupil centre, 0 on the centre pixel (the
    polarisation singularity carries no light). A pair of numbers is a uniform Jones vector (not
    normalised: its norm scales the power); an array of shape ``(2, Ny, Nx)`` gives one per pixel.
    """
    if isinstance(polarization, str):
        p = polarization.lower()
        if p == "x":
            return 1.0, 0.0
        if p == "y":
            return 0.0, 1.0
        if p in ("circular", "circular+"):
            return 1 / math.sqrt(2), 1j / math.sqrt(2)
        if p == "circular-":
            return 1 / math.sqrt(2), -1j / math.sqrt(2)
        if p in ("radial", "azimuthal"):
            y, x = grid(shape, spacing, xp=xp, like=like)
            r = xp.sqrt(x**2 + y**2)
            centre = r == 0
            safe = xp.where(centre, xp.ones_like(r), r)
            c = xp.where(centre, xp.zeros_like(r), x / safe)
            s = xp.where(centre, xp.zeros_like(r), y / safe)
            return (c, s) if p == "radial" else (-s, c)
        raise FieldError(_bad_polarization(polarization))
    if hasattr(polarization, "shape") and len(polarization.shape) == 3:
        if tuple(polarization.shape) != (2,) + tuple(shape):
            raise FieldError(f"a per-pixel Jones array has shape {tuple(polarization.shape)}; it must be "
                             f"(2, {shape[0]}, {shape[1]}) like the pupil")
        return polarization[0], polarization[1]
    try:
        jx, jy = (complex(v) for v in polarization)
    except (TypeError, ValueError):
        raise FieldError(_bad_polarization(polarization)) from None
    if not (math.isfinite(abs(jx)) and math.isfinite(abs(jy))) or abs(jx) + abs(jy) == 0:
        raise FieldError(f"Jones vector {polarization!r} must be finite and not zero")
    return jx, jy


def _bad_polarization(polarization: Any) -> str:
    return (f"polarization={polarization!r}; use one of {', '.join(POLARIZATIONS)}, a Jones pair (jx, jy) or "
            "an array of shape (2, Ny, Nx)")


def focal_sampling(pupil: Field, f: float | None = None, *, na: float | None = None,
                   focal_shape: tuple[int, int] | None = None,
                   focal_pitch: float | tuple[float, float] | None = None) -> dict:
    """How a pupil will be sampled at the focus: the FFT size, the focal pitch and window, ``f``.

    Returns ``{"f", "fft_shape", "pitch", "window", "shape"}``: ``window = λ_p f / d`` is the focal
    field's period (µm), ``pitch = window / fft_shape`` and ``shape`` the returned grid. With
    ``f=None`` the aperture of radius ``NA f / n_p`` just fills the pupil grid (``na`` needed then).
    A ``focal_pitch`` must divide the window into a whole number of samples (to 1e-6); the error names
    the nearest pitches that do.
    """
    if not isinstance(pupil, Field):
        raise FieldError(f"the pupil must be a Field, got {type(pupil).__name__}")
    if is_traced(pupil.wavelength, *pupil.spacing):
        raise FieldError("vectorial focusing needs a concrete wavelength and pupil spacing (they set the "
                         "focal grid); map over pupil fields or z with jax.vmap instead")
    if not pupil.is_monochromatic:
        raise FieldError(f"the pupil has wavelengths {pupil.wavelength.tolist()}: the focal pitch differs "
                         "per wavelength; focus each wavelength as its own Field")
    ny, nx = (int(s) for s in pupil.u.shape[-2:])
    dy, dx = (float(s) for s in pupil.spacing)
    if f is None:
        if na is None:
            raise FieldError("focal_sampling with f=None needs na (the aperture then fills the pupil grid)")
        # the largest disc about the axis (index N//2) inside the grid: an even grid reaches (N-1)/2 pixels
        # beyond the axis on its short side, an odd one N/2
        f = min(_half_extent(ny) * dy, _half_extent(nx) * dx) * pupil.n / float(na)
    else:
        f = positive(f, "objective focal length f", FieldError)
    wl_p = float(pupil.medium_wavelength)
    window = (wl_p * f / dy, wl_p * f / dx)
    if focal_shape is not None:
        try:
            focal_shape = (int(focal_shape[0]), int(focal_shape[1]))
        except (TypeError, ValueError, IndexError):
            raise FieldError(f"focal_shape={focal_shape!r} must be a pair (Ny, Nx) of positive "
                             "integers") from None
        if min(focal_shape) < 1:
            raise FieldError(f"focal_shape={focal_shape!r} must be a pair (Ny, Nx) of positive integers")
    if focal_pitch is None:
        fft_shape = (ny, nx)
        if focal_shape is not None:
            fft_shape = (max(ny, focal_shape[0]), max(nx, focal_shape[1]))
    else:
        pitch = (focal_pitch, focal_pitch) if np.ndim(focal_pitch) == 0 else tuple(focal_pitch)
        if len(pitch) != 2:
            raise FieldError(f"focal_pitch={focal_pitch!r} must be one number or a pair (dy, dx) in µm")
        pitch = tuple(positive(p, "focal_pitch", FieldError) for p in pitch)
        fft = []
        for w, p, ax in zip(window, pitch, "yx", strict=True):
            m = max(1, int(round(w / p)))
            if abs(w / m - p) > 1e-6 * p:
                raise FieldError(
                    f"focal_pitch {p:.6g} µm does not divide the focal window λf/d{ax} = {w:.6g} µm into "
                    f"whole samples; use {w / m:.6g} or {w / (m + 1):.6g} µm, or change the pupil spacing")
            fft.append(m)
        fft_shape = (fft[0], fft[1])
    if focal_shape is None:
        shape = (min(ny, fft_shape[0]), min(nx, fft_shape[1]))
    else:
        shape = focal_shape
        if shape[0] > fft_shape[0] or shape[1] > fft_shape[1]:
            raise FieldError(
                f"focal_shape {shape} exceeds the {fft_shape} samples of one focal period ({window[0]:.4g} x "
                f"{window[1]:.4g} µm at this pitch): the field would repeat; use a finer pupil spacing or "
                "fewer focal samples")
    return {"f": f, "fft_shape": fft_shape, "pitch": (window[0] / fft_shape[0], window[1] / fft_shape[1]),
            "window": window, "shape": shape}


def _half_extent(n: int) -> float:
    """Pixels from the axis (index ``n//2``) to the nearer edge of an ``n``-pixel row."""
    return n / 2 if n % 2 else (n - 1) / 2


# ------------------------------------------------------------------------------------------------------
def vectorial_focus(pupil: Field, na: float, n_medium: float = 1.0, polarization: Any = "x", z: Any = 0.0,
                    focal_shape: tuple[int, int] | None = None,
                    focal_pitch: float | tuple[float, float] | None = None, *,
                    f: float | None = None) -> VectorialField:
    """Ex, Ey, Ez near the focus of an aplanatic objective (Richards–Wolf, evaluated as one FFT).

    Parameters
    ----------
    pupil
        The scalar field in the objective's back aperture (amplitude and phase: e.g. the SLM image
        relayed there, or a Gaussian), monochromatic; leading axes are focused together.
    na
        Numerical aperture, ``0 < NA < n_medium``; light beyond the aperture radius ``NA f / n_p`` is
        blocked (anti-aliased edge).
    n_medium
        Index of the immersion/sample medium the focus is in.
    polarization
        The pupil's polarisation: ``"x"``, ``"y"``, ``"circular"`` (``"circular+"``), ``"circular-"``,
        ``"radial"``, ``"azimuthal"``, a uniform Jones pair ``(jx, jy)``, or a Jones array of shape
        ``(2, Ny, Nx)`` (see :func:`jones_vector`).
    z
        Distance(s) from the focus in µm: a number, or a 1-D array (a new first axis; pair it with
        :meth:`VectorialField.xz` for an x–z section).
    focal_shape
        Samples of the returned lateral grid (centred). Default: the pupil's shape, at most one period.
    focal_pitch
        Lateral pitch in µm; it must be ``λ_p f / (M d)`` for a whole ``M`` (the pupil is zero-padded
        to ``M``). Default: ``λ_p f / (N d)`` (no padding, or padding up to ``focal_shape``).
    f
        Focal length of the objective (µm, the Abbe sine condition's ``f``). Default: the aperture
        just fills the pupil grid (radius ``(N - 1) d / 2`` for an even ``N``, ``N d / 2`` for an odd one,
        the largest disc about index ``N//2``), ``f = n_p · radius / NA``.

    Returns
    -------
    VectorialField
        The three components, their pitch, ``z`` and the medium. The conventions (signs, units,
        energy) are in the module docstring.

    Raises
    ------
    FieldError
        For ``NA >= n_medium``, an unknown polarisation, a pitch that is not ``λ_p f/(M d)``, a focal
        grid larger than one period, or a traced wavelength/NA.
    """
    comps, info, z_out = _debye(pupil, na, n_medium, polarization, z, focal_shape, focal_pitch, f,
                                "vectorial_focus")
    return VectorialField(*comps, spacing=info["pitch"], wavelength=float(pupil.wavelength),
                          n=float(n_medium), z=z_out)


def vectorial_focus_xz(pupil: Field, na: float, n_medium: float = 1.0, polarization: Any = "x",
                       z: Any = 0.0, y: float = 0.0, focal_width: int | None = None,
                       focal_pitch: float | None = None, *, f: float | None = None) -> VectorialField:
    """The x–z section of :func:`vectorial_focus` through ``y`` µm, without computing whole planes.

    Equals ``vectorial_focus(pupil, ..., z=zs).xz(y)`` (for ``y`` on the lateral grid; any ``y``
    here), but each plane costs one weighted sum over the pupil's rows and a 1-D FFT instead of a
    zero-padded 2-D FFT per component (``benchmarks/vectorial.py`` times both).

    Parameters are those of :func:`vectorial_focus`; ``focal_width`` is the number of x samples
    (default: the pupil's width, at most one period), ``focal_pitch`` the x pitch (``λ_p f / (M dx)``
    for a whole ``M``). Returns a :class:`VectorialField` with ``plane="xz"``, components of shape
    ``(..., Nz, Nx)`` and ``spacing = (nan, dx)``.
    """
    if not isinstance(pupil, Field):
        raise FieldError(f"the pupil must be a Field, got {type(pupil).__name__}")
    if is_traced(y):
        raise FieldError("vectorial_focus_xz: y must be a concrete number (µm)")
    y = float(y)
    ny = int(pupil.u.shape[-2])
    natural = focal_sampling(pupil, f, na=na)
    shape = None if focal_width is None else (ny, int(focal_width))
    pitch = None if focal_pitch is None else (natural["pitch"][0], focal_pitch)
    z, stack = _as_z(z)
    if not stack:
        z = _one_plane(z)
    comps, info, z_out = _debye(pupil, na, n_medium, polarization, z, shape, pitch, f, "vectorial_focus_xz",
                                row_y=y)
    return VectorialField(*comps, spacing=(math.nan, info["pitch"][1]), wavelength=float(pupil.wavelength),
                          n=float(n_medium), z=z_out, plane="xz")


def _one_plane(z: Any) -> Any:
    """A scalar distance as a 1-D array of one (traced or not)."""
    if is_traced(z):
        return array_namespace(z).reshape(z, (1,))
    return np.asarray([float(z)])


def debye_focus(pupil: Field, na: float, n_medium: float = 1.0, z: Any = 0.0,
                focal_shape: tuple[int, int] | None = None,
                focal_pitch: float | tuple[float, float] | None = None, *, f: float | None = None) -> Field:
    """The scalar Debye focus: :func:`vectorial_focus` without the polarisation rotation.

    The same aperture, ``1/sqrt(cos θ)`` apodisation, ``exp(i k z cos θ)`` defocus, FFT and
    normalisation; the result is a scalar :class:`Field` in the medium (``n = n_medium``), so it can be
    propagated further or compared with :func:`~holostim.optics.fourier_lens`. It equals the latter
    for ``NA → 0`` and differs at high NA only by the apodisation and the exact defocus.
    """
    comps, info, _ = _debye(pupil, na, n_medium, None, z, focal_shape, focal_pitch, f, "debye_focus")
    return Field(comps[0], info["pitch"], float(pupil.wavelength), n=float(n_medium))


# ------------------------------------------------------------------------------------------------------
def _namespace(pupil: Field, *traced: Any) -> tuple[Any, Any]:
    """The namespace to compute in, and the pupil array in it.

    A traced ``z`` or Jones array with a numpy pupil moves the pupil to the tracer's library.
    """
    u = pupil.u
    for t in traced:
        if is_traced(t) and isinstance(u, np.ndarray):
            xp = array_namespace(t)
            return xp, xp.asarray(u)
    return array_namespace(u), u


def _as_z(z: Any) -> tuple[Any, bool]:
    """``z`` as a number or 1-D array, and whether it is a stack."""
    if is_traced(z):
        if np.ndim(z) > 1:
            raise FieldError("a traced z must be a number or a 1-D array")
        return z, np.ndim(z) == 1
    if hasattr(z, "shape") and not isinstance(z, np.ndarray):  # a concrete array of another library
        if len(z.shape) > 1:
            raise FieldError(f"z must be a number or a 1-D array of distances (µm), got shape "
                             f"{tuple(z.shape)}")
        return z, len(z.shape) == 1
    a = np.asarray(z, dtype=np.float64) if not isinstance(z, (int, float)) else np.float64(z)
    if a.ndim > 1 or a.size == 0 or not np.all(np.isfinite(a)):
        raise FieldError(f"z={z!r} must be a finite number or a non-empty 1-D array of distances (µm)")
    return (a if a.ndim == 1 else float(a)), a.ndim == 1


def _debye(pupil: Field, na: Any, n_medium: Any, polarization: Any, z: Any, focal_shape: Any,
           focal_pitch: Any, f: Any, who: str, row_y: float | None = None) -> tuple[list[Any], dict, Any]:
    """The Debye integral: the three (vectorial) or one (``polarization=None``) focal components.

    With ``row_y`` only the focal row at ``y = row_y`` µm is formed: the sum over the pupil's y
    samples is done directly (one weighted sum per row) and only the x transform is an FFT.
    """
    if is_traced(na, n_medium, f):
        raise FieldError(f"{who}: NA, n_medium and f set the focal geometry and must be concrete numbers")
    na = positive(na, "numerical aperture", FieldError)
    n = positive(n_medium, "n_medium", FieldError)
    if na >= n:
        raise FieldError(f"{who}: NA={na:g} must be below the medium index n_medium={n:g}")
    info = focal_sampling(pupil, f, na=na, focal_shape=focal_shape, focal_pitch=focal_pitch)
    f = info["f"]
    z, stack = _as_z(z)
    xp, u = _namespace(pupil, z, polarization)
    shape = tuple(int(s) for s in u.shape[-2:])
    dy, dx = (float(s) for s in pupil.spacing)
    radius = na * f / pupil.n
    r_px = radius / max(dy, dx)
    if r_px < 4:
        warn_sampling(f"{who}: the back aperture (radius NA f/n_p = {radius:.4g} µm) spans only {r_px:.2g} "
                      "pupil pixels: the focal field is not resolved; use a finer pupil spacing",
                      stacklevel=4)
    m_shape = info["fft_shape"]
    cropped = m_shape[0] < shape[0] or m_shape[1] < shape[1]
    if cropped and 2 * radius > min(m_shape[0] * dy, m_shape[1] * dx):
        raise FieldError(f"{who}: focal_pitch {info['pitch']} µm is too coarse: its FFT of {m_shape} pupil "
                         f"samples cannot hold the aperture (diameter {2 * radius:.4g} µm)")
    if not is_traced(z):
        zmax = float(np.max(np.abs(z))) if stack else abs(z)
        tan_max = (na / n) / math.sqrt(1 - (na / n) ** 2)
        zlim = min(info["window"]) / (2 * tan_max)
        if zmax > zlim:
            warn_sampling(f"{who}: |z| = {zmax:.4g} µm exceeds {zlim:.4g} µm: the defocus phase k z cos θ "
                          "aliases on the pupil grid (the defocused cone outgrows the focal window λf/d); "
                          "use a finer pupil spacing", stacklevel=4)

    # the products are formed on the pupil grid (cropped to the FFT size for a coarser pitch) and
    # zero-padded to the FFT size only for the transform: no work on the padding; index N//2 stays the axis
    w_shape = (min(shape[0], m_shape[0]), min(shape[1], m_shape[1]))
    u = resize(pupil.with_u(u), w_shape).u if w_shape != shape else u
    if polarization is None:
        kind: Any = "scalar"
    elif isinstance(polarization, str):
        kind = polarization.lower()
        jones_vector(kind, (1, 1), (1.0, 1.0))  # validate the name before anything is built
    elif hasattr(polarization, "shape") and len(polarization.shape) == 3:
        kind = "pixel"
    else:
        kind = jones_vector(polarization, shape, (dy, dx))  # a validated uniform pair
    like = pupil.with_u(u)
    key = _key(like, "debye", na, n, f, kind if not isinstance(kind, tuple) else ("pair",) + kind)
    geo = _cached_geometry(key, lambda: _geometry(like, na, n, f, radius, shape, kind, xp))

    if stack:
        zz = z if is_traced(z) else xp.asarray(z, dtype=xp.float64, **_device_kw(u))
        ph = geo["kcos"] * xp.reshape(zz, (-1,) + (1,) * len(u.shape))
    else:
        ph = geo["kcos"] * z
    cdtype = u.dtype
    # the lens factor -i dy dx / (λ_p f) (and the fast path's checkerboard) go on the pupil samples,
    # the smaller array, instead of on every focal sample of every component
    factor = -1j * dy * dx / (float(pupil.medium_wavelength) * f)
    wrapped = row_y is None and _wrapped(u, m_shape)
    if wrapped:
        u = u * (_checkerboard(w_shape) * factor).astype(cdtype)
    else:
        u = u * factor
    # (nz, ..., M, M) for a stack
    amp = u * (xp.astype(xp.cos(ph), cdtype) + 1j * xp.astype(xp.sin(ph), cdtype))
    if kind == "pixel":
        jx, jy = jones_vector(polarization, shape, (dy, dx))
        jx, jy = (_c(j, cdtype, xp) for j in (jx, jy))
        if w_shape != shape:  # crop the per-pixel Jones vector with the pupil
            jx, jy = (resize(pupil.with_u(j), w_shape).u for j in (jx, jy))
        axx, axy, ayy, azx, azy = (_c(geo[k], cdtype, xp) for k in ("axx", "axy", "ayy", "azx", "azy"))
        comps = [amp * (jx * axx + jy * axy), amp * (jx * axy + jy * ayy), amp * (jx * azx + jy * azy)]
    else:
        comps = [amp * c for c in geo["coeffs"]]
    out = []
    if row_y is not None:
        # E(y0) = Σ_η c(η) exp(-2πi η y0 / (λ_p f)): the y part of the centred DFT, at one y0
        eta = np.arange(w_shape[0], dtype=np.float64) - w_shape[0] // 2
        ph_y = -2 * math.pi * eta * dy * float(row_y) / (float(pupil.medium_wavelength) * f)
        w_y = xp.asarray(np.reshape(np.exp(1j * ph_y), (-1, 1)), dtype=cdtype, **_device_kw(u))
        for c in comps:
            row = xp.sum(c * w_y, axis=-2)
            e = _centred_fft_last(_pad_last(row, xp, m_shape[1]), xp)
            e = _crop_last(e, info["shape"][1])
            out.append(xp.moveaxis(e, 0, -2) if stack else e)
        return out, info, z
    if wrapped:
        # numpy fast path: the centred, zero-padded FFT without its two shifts (see _fft2_wrapped)
        for c in comps:
            out.append(_crop(_fft2_wrapped(c, m_shape), info["shape"]))
        return out, info, z
    for c in comps:
        out.append(_crop(_centred_fft2(_pad(c, xp, m_shape), xp), info["shape"]))
    return out, info, z


def _wrapped(a: Any, m_shape: tuple[int, int]) -> bool:
    return (isinstance(a, np.ndarray) and propagation.FAST_PATH and m_shape[0] % 2 == 0
            and m_shape[1] % 2 == 0)


def _checkerboard(shape: tuple[int, int]) -> np.ndarray:
    """``(-1)^(oy + ox)`` with ``o`` the offset of a sample from the axis (index N//2)."""
    oy = np.arange(shape[0]) - shape[0] // 2
    ox = np.arange(shape[1]) - shape[1] // 2
    return np.where((oy[:, None] + ox[None, :]) % 2 == 0, 1.0, -1.0)


def _fft2_wrapped(c: np.ndarray, m_shape: tuple[int, int]) -> np.ndarray:
    """``fftshift(fft2(ifftshift(pad(c / sign))))`` for an even FFT size, with no shift at all.

    The pupil samples are written straight to their wrapped places (offset ``o`` from the axis to
    index ``o mod M``, the ifftshift folded into the padding), and the caller has multiplied them by
    ``(-1)^(oy + ox)``: for an even ``M`` that sign is ``exp(iπ o)``, which shifts the output by
    ``M/2`` so that it comes out centred. Saves two passes over the ``M²`` array per transform
    (about as long as the FFT itself); tested against the plain path.
    """
    import scipy.fft

    wy, wx = c.shape[-2:]
    my, mx = m_shape
    hy, hx = wy // 2, wx // 2
    buf = np.zeros(tuple(c.shape[:-2]) + (my, mx), dtype=c.dtype)
    for cy, by in ((slice(hy, wy), slice(0, wy - hy)), (slice(0, hy), slice(my - hy, my))):
        for cx, bx in ((slice(hx, wx), slice(0, wx - hx)), (slice(0, hx), slice(mx - hx, mx))):
            buf[..., by, bx] = c[..., cy, cx]
    return scipy.fft.fft2(buf, axes=(-2, -1), workers=propagation._WORKERS, overwrite_x=True)


def _pad_last(a: Any, xp: Any, m: int) -> Any:
    """Zero-pad the last axis to ``m`` about its centre (index N//2 onto M//2)."""
    n = a.shape[-1]
    if n == m:
        return a
    o = m // 2 - n // 2
    out = xp.zeros(tuple(a.shape[:-1]) + (m,), dtype=a.dtype, **_device_kw(a))
    return place(out, (..., slice(o, o + n)), a)


def _centred_fft_last(a: Any, xp: Any) -> Any:
    """Centred FFT over the last axis (origin at index N//2 in and out), as ``_centred_fft2`` in 1-D."""
    if isinstance(a, np.ndarray) and propagation.FAST_PATH:
        import scipy.fft

        shifted = scipy.fft.ifftshift(a, axes=-1)  # a copy we own: transform it in place
        out = scipy.fft.fft(shifted, axis=-1, workers=propagation._WORKERS, overwrite_x=True)
        return scipy.fft.fftshift(out, axes=-1)
    n = a.shape[-1]
    a = xp.concat([a[..., n // 2:], a[..., :n // 2]], axis=-1)  # ifftshift (concatenation: fast on JAX)
    a = xp.fft.fft(a, axis=-1)
    cut = (n + 1) // 2
    return xp.concat([a[..., cut:], a[..., :cut]], axis=-1)  # fftshift


def _crop_last(a: Any, n: int) -> Any:
    m = a.shape[-1]
    if m == n:
        return a
    o = m // 2 - n // 2
    out = a[..., o:o + n]
    if getattr(out, "base", None) is not None and hasattr(out, "copy"):
        out = out.copy()  # not a view that would keep the padded buffer alive
    return out


def _cached_geometry(key: tuple | None, build: Any) -> dict:
    """``build()``, remembered under ``key`` (least recently used dropped first; never a traced build)."""
    if key is None:
        return build()
    with _GEOMETRY_LOCK:
        hit = _GEOMETRY.get(key)
        if hit is not None:
            _GEOMETRY.move_to_end(key)
            return hit
    geo = build()
    if is_traced(geo["kcos"]):  # (built from host arrays it never is; a tracer must not outlive its trace)
        return geo
    with _GEOMETRY_LOCK:
        _GEOMETRY[key] = geo
        while len(_GEOMETRY) > _GEOMETRY_CACHE_SIZE:
            _GEOMETRY.popitem(last=False)
    return geo


def clear_geometry_cache() -> None:
    """Drop the cached pupil factors (frees their device memory)."""
    with _GEOMETRY_LOCK:
        _GEOMETRY.clear()


def _geometry(like: Field, na: float, n: float, f: float, radius: float, shape: tuple[int, int], kind: Any,
              xp: Any) -> dict:
    """The pupil-side factors of the Debye integral on the pupil grid, built in float64 on the host.

    ``kcos = k cos θ`` (the defocus phase per µm) and either ``coeffs`` (for the scalar model or a
    polarisation known here: one complex array per output component, aperture × ``1/sqrt(cos θ)`` ×
    the rotation applied to the Jones vector) or, for a per-pixel Jones array, the five real entries
    ``axx, axy (= ayx), ayy, azx, azy`` of the rotation matrix times the apodisation. Moved to the
    pupil's namespace and device once; the caller caches them (per geometry, dtype, backend).
    """
    m_shape = tuple(int(s) for s in like.u.shape[-2:])  # the working grid: the pupil's, or its crop
    dy, dx = like.spacing
    # the anti-aliased aperture (pixel coverage), on the pupil's own grid, then padded/cropped like it
    t = np.real(circular_aperture(Field(np.ones(shape), (dy, dx), like.wavelength, n=like.n), radius).u)
    t = np.real(resize(Field(t, (dy, dx), like.wavelength), m_shape).u) if m_shape != shape else t
    y, x = grid(m_shape, (dy, dx))
    rho2 = x**2 + y**2
    # every sample keeps its own direction (sin θ from its position), so each plane wave is exactly
    # transverse and propagates with its own cos θ; parts of anti-aliased rim pixels that would lie at
    # sin θ >= 1 (only for NA within a pixel of n) cannot propagate and are dropped
    s2 = rho2 * (like.n / (n * f)) ** 2
    propagating = s2 < 1.0 - 1e-9
    s2 = np.where(propagating, s2, 0.0)
    cos_t = np.sqrt(1.0 - s2)
    sin_t = np.sqrt(s2)
    apod = np.where(propagating, t / np.sqrt(cos_t), 0.0)
    k = 2 * math.pi * n / float(like.wavelength)
    dev = _device_kw(like.u)
    rdtype = real_dtype_of(xp, like.u.dtype)
    geo = {"kcos": xp.asarray(k * cos_t, dtype=xp.float64, **dev)}

    def put(a: np.ndarray) -> Any:
        if np.iscomplexobj(a):
            return xp.asarray(a, dtype=like.u.dtype, **dev)
        return xp.asarray(a, dtype=rdtype, **dev)

    if kind == "scalar":
        geo["coeffs"] = [put(apod)]
        return geo
    r = np.sqrt(rho2)
    centre = r == 0
    # φ = 0 on the axis: θ = 0 there, so any φ will do
    cphi = np.where(centre, 1.0, x / np.where(centre, 1.0, r))
    sphi = np.where(centre, 0.0, y / np.where(centre, 1.0, r))
    axx = apod * (cos_t * cphi**2 + sphi**2)
    axy = apod * ((cos_t - 1.0) * cphi * sphi)
    ayy = apod * (cos_t * sphi**2 + cphi**2)
    azx = apod * (sin_t * cphi)
    azy = apod * (sin_t * sphi)
    if kind == "pixel":
        geo.update({"axx": put(axx), "axy": put(axy), "ayy": put(ayy), "azx": put(azx), "azy": put(azy)})
        return geo
    jx, jy = jones_vector(kind, m_shape, (dy, dx)) if isinstance(kind, str) else kind
    jx, jy = np.asarray(jx, dtype=complex), np.asarray(jy, dtype=complex)
    geo["coeffs"] = [put(jx * axx + jy * axy), put(jx * axy + jy * ayy), put(jx * azx + jy * azy)]
    return geo


def _c(a: Any, cdtype: Any, xp: Any) -> Any:
    """``a`` in the complex dtype (Python numbers pass through: they broadcast without a cast)."""
    if isinstance(a, (int, float, complex)):
        return a
    return xp.astype(xp.asarray(a), cdtype)
