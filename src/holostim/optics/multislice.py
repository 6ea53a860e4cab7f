"""A field through a thick refractive-index volume, slice by slice (multislice / beam propagation).

A thick sample (a slab of tissue, cells in a dish, a scattering phantom) is a refractive-index volume
``n(x, y, z) = n0 + Δn(x, y, z)`` over a background ``n0``, sampled as an array ``(nz, ny, nx)`` of
slices of thickness ``dz`` on the lateral grid of the :class:`~holostim.optics.field.Field`. The
first-order split-step (Lie) method alternates the two parts of the wave equation that are each
exact on their own:

* a thin screen ``exp(i k0 Δn dz)`` (``k0 = 2π/λ`` in vacuum: ``Δn dz`` is the extra optical path
  of the slice), with a complex ``Δn`` absorbing by ``exp(-k0 Im(Δn) dz)``;
* angular-spectrum propagation by ``dz`` through the background, with
  :func:`~holostim.optics.propagation.propagate` (the same kernel, cache and options as everywhere
  else in holostim; there is no second propagator).

Slice ``j`` covers ``j dz <= z < (j + 1) dz`` (``z = 0`` is the front face); its screen is applied at
its front face, and the field that leaves the volume is at ``z = nz dz``. The scheme is exact for a
homogeneous slab at normal incidence (any slice count), agrees with the first Born approximation to
first order in ``Δn`` for paraxial scattering, and its splitting error falls as ``dz`` (halving the
slices halves it). What it leaves out (the obliquity ``1/cos θ`` of the screen's phase, Snell
refraction at index steps, reflection) is of order ``Δn θ²`` and ``Δn/n0 · tan θ``: choose ``n0`` as
the sample's mean index so ``Δn`` stays small and zero-mean.

The volume builders (:func:`slab_volume`, :func:`sphere_volume`, :func:`random_volume`) return host
numpy arrays of slice averages: ``volume[j]`` is the mean of ``Δn`` over slice ``j``'s thickness (and
over each pixel for spheres), so the screen's phase ``k0 dz volume[j]`` is the slice's exact optical
path and a slab whose faces fall inside a slice is still delayed exactly.

Everything runs on any array namespace (numpy, CuPy, ``array_api_strict``) and under ``jax.jit``,
``jax.grad`` (in ``Δn``, the input field, ``dz``, the wavelength) and ``jax.vmap`` (over wavelengths): the
slices are a Python loop, unrolled by ``jit`` (its compile time grows with the slice count; for
hundreds of slices under JAX, scan :func:`split_step` over the volume with ``jax.lax.scan`` instead).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from holostim.backend import array_namespace, is_traced
from holostim.checks import positive, shape_pair
from holostim.optics.field import Field, FieldError, _as_spacing, _device_kw
from holostim.optics.propagation import _fast, propagate

__all__ = [
    "multislice",
    "random_volume",
    "scattering_length",
    "slab_volume",
    "sphere_volume",
    "split_step",
]


# ------------------------------------------------------------------------------------------------------
# Propagation through the volume
def _vacuum_k0(field: Field) -> Any:
    """``2π/λ`` (vacuum): a scalar (traced or not), or ``(..., 1, 1)`` on the field's namespace."""
    wl = field.wavelength
    if is_traced(wl) or np.ndim(wl) == 0:
        return 2 * math.pi / wl
    k = 2 * math.pi / np.asarray(wl, dtype=np.float64)
    return field.xp.asarray(k.reshape(k.shape + (1, 1)), **_device_kw(field.u))


def _screen(field: Field, dn: Any, dz: Any) -> Field:
    """``field · exp(i k0 dz Δn)`` for one slice ``dn`` (real, or complex for absorption)."""
    if _fast(field.u) and isinstance(dn, np.ndarray) and not is_traced(dz, field.wavelength):
        return field.with_u(field.u * _screen_host(field, dn, float(dz)))
    xp = field.xp
    arg = dn * (_vacuum_k0(field) * dz)
    return field.with_u(field.u * xp.exp(xp.astype(arg, field.dtype) * 1j))


def _screen_host(field: Field, dn: np.ndarray, dz: float) -> np.ndarray:
    """The numpy fast path of the screen: ``cos + i sin`` of the phase in the field's precision.

    numpy's complex ``exp`` costs about ten real ``cos``/``sin`` in single precision (it is the
    slowest step of a slice); the phase of one slice is a few radians at most, so computing it in the
    field's own precision loses nothing. Tested against the generic ``exp`` path.
    """
    real = np.float32 if field.dtype == np.complex64 else np.float64
    k0dz = np.asarray(_vacuum_k0(field) * dz, dtype=real)
    phase = dn.real.astype(real, copy=False) * k0dz
    t = np.empty(phase.shape, dtype=field.dtype)
    np.cos(phase, out=t.real)
    np.sin(phase, out=t.imag)
    if np.iscomplexobj(dn):
        t *= np.exp(-(dn.imag.astype(real, copy=False) * k0dz))
    return t


def split_step(field: Field, dn: Any, dz: float, *, pad: float = 2.0, band_limit: bool = True,
               evanescent: str = "drop", check: bool = False) -> Field:
    """One slice of :func:`multislice`: the screen ``exp(i k0 dz Δn)``, then ASM propagation by ``dz``.

    ``field`` must already be in the background medium (``field.n`` is ``n0``); ``dn`` is one slice
    ``(ny, nx)`` (or ``(1, 1)``) on the field's namespace. Unchecked: this is the body of the loop, for
    callers that scan it themselves (``jax.lax.scan`` over the slices, which compiles once however many
    slices there are). Options as in :func:`~holostim.optics.propagation.propagate`.
    """
    return propagate(_screen(field, dn, dz), dz, "asm", pad=pad, check=check, band_limit=band_limit,
                     evanescent=evanescent)


def _volume_on(volume: Any, field: Field) -> tuple[Any, Field]:
    """The volume and the field on one namespace (a JAX/CuPy volume takes a numpy field along)."""
    xp = field.xp
    if not hasattr(volume, "shape") or not hasattr(volume, "dtype"):
        volume = np.asarray(volume)
    try:
        vx = array_namespace(volume)
    except TypeError:
        raise FieldError(f"volume of type {type(volume).__name__} is not an array") from None
    if vx is xp:
        return volume, field
    if isinstance(field.u, np.ndarray):  # e.g. jax.grad in Δn of a numpy-built input beam
        return volume, field.with_u(vx.asarray(field.u))
    try:
        return xp.asarray(np.asarray(volume) if isinstance(volume, np.ndarray) else volume,
                          **_device_kw(field.u)), field
    except Exception as exc:  # pragma: no cover - depends on the backend pairing
        raise FieldError(f"the volume could not be moved to the field's array library ({xp.__name__}): "
                         f"{exc}") from exc


def _check_volume(volume: Any, field: Field) -> None:
    shape = tuple(volume.shape)
    ny, nx = field.u.shape[-2:]
    if len(shape) != 3 or shape[0] < 1 or shape[1] not in (1, ny) or shape[2] not in (1, nx):
        raise FieldError(
            f"volume has shape {shape}; it must be (nz, ny, nx) = (slices, {ny}, {nx}) to match the field "
            f"(or (nz, 1, 1) for a laterally uniform sample)")
    xp = array_namespace(volume)
    if not xp.isdtype(volume.dtype, ("real floating", "complex floating")):
        raise FieldError(f"volume has dtype {volume.dtype}; give Δn (or n) as a real or complex float array")
    if is_traced(volume):
        return
    if not bool(xp.all(xp.isfinite(volume))):
        raise FieldError("volume contains NaN or infinity; every index value must be finite")
    if xp.isdtype(volume.dtype, "complex floating") and bool(xp.any(xp.imag(volume) < 0)):
        raise FieldError(
            f"volume has a negative imaginary index (min {float(xp.min(xp.imag(volume))):.3g}): with "
            "holostim's exp(+ikz) convention Im(n) > 0 absorbs and Im(n) < 0 would amplify the light; "
            "give absorption as a positive imaginary part")


def _planes(planes: Any, nz: int) -> list[int] | None:
    """The slice counts to keep (``None``: only the output), checked against ``0..nz``."""
    if planes is None:
        return None
    msg = (f"planes={planes!r} must be 'all' or a list of whole slice counts, 0 (the input) to {nz} "
           "(the output)")
    if isinstance(planes, str):
        if planes != "all":
            raise FieldError(msg)
        return list(range(nz + 1))
    arr = np.atleast_1d(np.asarray(planes))
    if arr.ndim != 1 or arr.size == 0 or arr.dtype == bool or not np.issubdtype(arr.dtype, np.integer):
        raise FieldError(msg)
    if np.any(arr < 0) or np.any(arr > nz):
        raise FieldError(msg)
    return [int(k) for k in arr]


def multislice(field: Field, volume: Any, dz: float, *, n0: float | None = None, absolute: bool = False,
               planes: Any = None, pad: float = 2.0, band_limit: bool = True, evanescent: str = "drop",
               check: bool = True) -> Field:
    """The field leaving a refractive-index volume, by first-order split-step multislice.

    Parameters
    ----------
    field
        The field at the volume's front face (any leading axes: patterns, or wavelengths with an array
        ``wavelength``). Its samples are taken to continue into the background ``n0`` unchanged (no
        Fresnel reflection at the face).
    volume
        ``(nz, ny, nx)`` slices on the field's lateral grid, or ``(nz, 1, 1)`` for a laterally uniform
        sample: the index contrast ``Δn = n - n0`` (default), or ``n`` itself with ``absolute=True``.
        Complex values absorb: ``Im(n) > 0`` attenuates the amplitude by ``exp(-k0 Im(n) dz)`` per slice.
        ``volume[j]`` is the slice's mean over ``j dz <= z < (j + 1) dz`` (what the builders return).
        Any array namespace; a JAX tracer (``jax.grad`` in ``Δn``) takes a numpy field along.
    dz
        Slice thickness in µm. The splitting error falls in proportion to ``dz``; it is small once
        ``dz`` is well below the axial size of the sample's features and the phase a slice adds,
        ``k0 |Δn| dz``, is well below 1 rad.
    n0
        Background index: the medium the slices propagate through. Default: the field's own ``n``
        (give the sample's mean index, e.g. 1.36 for brain tissue, so ``Δn`` stays small and zero-mean:
        what the method leaves out grows with ``Δn``). The returned field is in ``n0``.
    absolute
        ``volume`` holds ``n(x, y, z)`` itself; ``Δn = volume - n0``.
    planes
        ``None``: return the field leaving the volume. ``"all"`` or a list of slice counts ``k``
        (``0`` = the input, ``nz`` = the output): return the field after ``k`` slices, at depth
        ``k dz``, stacked on a new leading axis in the order given (a designer looking inside; each
        plane kept is one more copy of the field in memory).
    pad, band_limit, evanescent
        The angular-spectrum options of :func:`~holostim.optics.propagation.propagate`, per slice.
        ``pad=2`` (default) zero-pads each step so light that leaves the lateral window is dropped
        instead of wrapping round into the other side: a finite sample under a beam. ``pad=1`` with
        ``band_limit=False`` treats the sample as laterally periodic (a grating, a random medium that
        tiles): FFTs of a quarter of the area. The band limit (default on) is
        right for the padded, non-periodic window; at a slice's short ``dz`` it cuts only near-grazing
        waves. ``evanescent="drop"`` (default) removes waves beyond ``n0/λ`` at every slice.
    check
        Warn (:class:`~holostim.optics.field.SamplingWarning`) when the band limit drops more than 0.1 %
        of the power, checked on the first slice only (the kernel is the same for every slice; the
        check costs one reduction).

    Returns
    -------
    Field
        In the medium ``n0``: the field at ``z = nz dz``, or with ``planes`` the stack of fields at the
        requested depths (shape ``(len(planes),) + field.shape``).

    Raises
    ------
    FieldError
        For a volume that does not match the field's grid, is not a float array, holds NaN/infinity or
        a negative imaginary index; a non-positive ``dz`` or ``n0``; bad ``planes`` or options.
    """
    if not isinstance(field, Field):
        raise FieldError(f"multislice needs a Field, got {type(field).__name__}")
    dz = dz if is_traced(dz) else positive(dz, "slice thickness dz", FieldError)
    n_bg = field.n if n0 is None else positive(n0, "background index n0", FieldError)
    if n_bg != field.n:
        field = field.with_medium(n_bg)
    volume, field = _volume_on(volume, field)
    _check_volume(volume, field)
    nz = int(volume.shape[0])
    keep = _planes(planes, nz)
    if absolute:
        volume = volume - n_bg
    depth = {0: field.u} if keep is not None and 0 in keep else {}
    for j in range(nz):
        field = split_step(field, volume[j, ...], dz, pad=pad, band_limit=band_limit, evanescent=evanescent,
                           check=check and j == 0)
        if keep is not None and (j + 1) in keep:
            depth[j + 1] = field.u
    if keep is None:
        return field
    return field.with_u(field.xp.stack([depth[k] for k in keep], axis=0))


# ------------------------------------------------------------------------------------------------------
# Volumes a user at a rig would build
def _volume_shape(shape: Any) -> tuple[int, int, int]:
    msg = f"volume shape={shape!r} must be three positive integers (nz, ny, nx)"
    try:
        items = list(shape)
    except TypeError:
        raise FieldError(msg) from None
    if len(items) != 3:
        raise FieldError(msg)
    nz = items[0]
    try:
        whole = not isinstance(nz, bool) and float(nz).is_integer() and int(nz) >= 1
    except (TypeError, ValueError):
        whole = False
    if not whole:
        raise FieldError(msg)
    ny, nx = shape_pair(items[1:], "volume shape (ny, nx)", FieldError)
    return int(nz), ny, nx


def _contrast(dn: Any, name: str) -> complex | float:
    """A finite index contrast (complex: absorbing, ``Im >= 0``)."""
    try:
        v = complex(dn)
    except (TypeError, ValueError):
        raise FieldError(f"{name}={dn!r} must be a number (real, or complex with Im >= 0 to absorb)") \
            from None
    if not (math.isfinite(v.real) and math.isfinite(v.imag)):
        raise FieldError(f"{name}={dn!r} must be finite")
    if v.imag < 0:
        raise FieldError(f"{name}={dn!r} has a negative imaginary part, which would amplify the light; "
                         "absorption is a positive imaginary index")
    return v.real if v.imag == 0 and not isinstance(dn, complex) else v


def _slice_overlap(nz: int, dz: float, start: float, stop: float) -> np.ndarray:
    """Fraction of each slice ``[j dz, (j+1) dz)`` inside ``[start, stop]``."""
    z0 = np.arange(nz, dtype=np.float64) * dz
    return np.clip(np.minimum(z0 + dz, stop) - np.maximum(z0, start), 0.0, dz) / dz


def slab_volume(shape: Any, dz: float, dn: complex, *, thickness: float | None = None,
                start: float = 0.0) -> np.ndarray:
    """A homogeneous slab of contrast ``dn`` from depth ``start`` for ``thickness`` µm, laterally uniform.

    ``shape`` is ``(nz, ny, nx)`` (``(nz, 1, 1)`` is enough for :func:`multislice`); ``thickness``
    defaults to the rest of the volume. A slice that a face cuts holds ``dn`` times the fraction of its
    thickness inside the slab, so the delay ``k0 dn thickness`` is exact whatever the slicing.
    Complex ``dn`` absorbs. Returns float64 (complex128 for complex ``dn``) on the host.
    """
    nz, ny, nx = _volume_shape(shape)
    dz = positive(dz, "slice thickness dz", FieldError)
    v = _contrast(dn, "slab contrast dn")
    start = float(start)
    stop = nz * dz if thickness is None else start + positive(thickness, "slab thickness", FieldError)
    if not math.isfinite(start) or start < 0 or start >= nz * dz:
        raise FieldError(f"slab start={start!r} µm must lie inside the volume, 0 <= start < {nz * dz:g} µm")
    frac = _slice_overlap(nz, dz, start, stop)
    out = np.empty((nz, ny, nx), dtype=np.complex128 if isinstance(v, complex) else np.float64)
    out[...] = (v * frac)[:, None, None]
    return out


def _span(c: float, r: float, d: float, origin: float, n: int) -> tuple[int, int]:
    """Index range ``[i0, i1)`` of the samples at ``(i - origin) d`` that a sphere can reach."""
    i0 = int(math.floor((c - r) / d + origin)) - 1
    i1 = int(math.ceil((c + r) / d + origin)) + 2
    return max(i0, 0), min(i1, n)


def sphere_volume(shape: Any, spacing: Any, dz: float, centers: Any, radii: Any, dn: Any, *,
                  supersample: int = 4) -> np.ndarray:
    """Spheres (cells, beads) of index contrast ``dn`` and radius ``radii`` (µm) at ``centers``.

    ``centers`` are ``(x, y, z)`` in µm: ``x, y`` on the field's centred grid (pixel ``N//2`` is the
    axis), ``z`` the depth below the front face. ``radii`` and ``dn`` are one value or one per sphere;
    ``dn`` may be complex (absorbing). Each voxel (pixel by slice) holds ``dn`` times the fraction of
    its volume inside the sphere, from ``supersample³`` sub-samples, so an edge is not moved by half a
    voxel and a small cell keeps its volume (optical path) on a coarse grid. Where spheres overlap their
    contrasts add. Returns float64 (complex128 for complex ``dn``) of shape ``(nz, ny, nx)``.
    """
    nz, ny, nx = _volume_shape(shape)
    dy, dx = _as_spacing(spacing)
    dz = positive(dz, "slice thickness dz", FieldError)
    c = np.asarray(centers, dtype=np.float64)
    if c.ndim == 1:
        c = c[None, :]
    if c.ndim != 2 or c.shape[1] != 3 or not np.all(np.isfinite(c)):
        raise FieldError(f"sphere centers {centers!r} must be finite (x, y, z) triples in µm")
    m = c.shape[0]
    r = np.broadcast_to(np.asarray(radii, dtype=np.float64), (m,)) if np.ndim(radii) <= 1 else None
    if r is None or r.shape != (m,) or not np.all(np.isfinite(r) & (r > 0)):
        raise FieldError(f"sphere radii {radii!r} must be positive µm, one value or one per sphere ({m})")
    dns = np.atleast_1d(np.asarray(dn))
    if dns.shape not in ((1,), (m,)):
        raise FieldError(f"sphere contrast dn={dn!r} must be one value or one per sphere ({m})")
    vals = [_contrast(v, "sphere contrast dn") for v in np.broadcast_to(dns, (m,))]
    s = int(supersample)
    if s < 1 or s != supersample:
        raise FieldError(f"supersample={supersample!r} must be a positive integer")
    cplx = any(isinstance(v, complex) for v in vals)
    out = np.zeros((nz, ny, nx), dtype=np.complex128 if cplx else np.float64)
    sub = (np.arange(s) + 0.5) / s - 0.5  # sub-sample offsets in units of a voxel, centred
    for (cx, cy, cz), rad, v in zip(c, r, vals, strict=True):
        # voxel index ranges that can touch the sphere (a voxel's centre within r + half a voxel)
        ix0, ix1 = _span(cx, rad, dx, nx // 2, nx)
        iy0, iy1 = _span(cy, rad, dy, ny // 2, ny)
        iz0, iz1 = _span(cz, rad, dz, -0.5, nz)  # slice j's centre is at (j + 1/2) dz
        if ix0 >= ix1 or iy0 >= iy1 or iz0 >= iz1:
            continue
        x = ((np.arange(ix0, ix1) - nx // 2)[:, None] + sub[None, :]) * dx - cx
        y = ((np.arange(iy0, iy1) - ny // 2)[:, None] + sub[None, :]) * dy - cy
        z = ((np.arange(iz0, iz1) + 0.5)[:, None] + sub[None, :]) * dz - cz
        inside = ((z**2)[:, :, None, None, None, None] + (y**2)[None, None, :, :, None, None]
                  + (x**2)[None, None, None, None, :, :]) <= rad**2
        frac = inside.mean(axis=(1, 3, 5))
        out[iz0:iz1, iy0:iy1, ix0:ix1] += v * frac
    return out


def random_volume(shape: Any, spacing: Any, dz: float, dn_rms: float, correlation_length: float, *,
                  seed: Any = None, dtype: Any = np.float64) -> np.ndarray:
    """A random, weakly scattering, tissue-like volume: Gaussian-correlated ``Δn`` of a set RMS.

    ``Δn`` is a stationary Gaussian random field with the correlation
    ``<Δn(r) Δn(r + s)> = dn_rms² exp(-|s|² / (2 correlation_length²))`` (isotropic in µm, whatever the
    voxel's aspect), made by filtering white noise in 3-D Fourier space; then its sample mean is removed
    (so ``n0`` is the sample's mean index) and it is scaled to exactly ``dn_rms``. It is periodic in all
    three axes (it tiles: use ``pad=1`` with it for a laterally infinite sample). ``seed`` (anything
    :func:`numpy.random.default_rng` takes) makes it reproducible. The ballistic power it leaves falls
    as ``exp(-z / ls)`` with ``ls`` from :func:`scattering_length`.

    For example ``dn_rms`` 0.01 and ``correlation_length`` 1 µm give ``ls`` ≈ 80 µm at 0.9 µm, the
    order of what is quoted for brain tissue in the near infrared (tens to a couple of hundred µm).
    The array is ``nz·ny·nx`` numbers plus one complex half-spectrum of the same size while it is made.
    """
    import scipy.fft

    nz, ny, nx = _volume_shape(shape)
    dy, dx = _as_spacing(spacing)
    dz = positive(dz, "slice thickness dz", FieldError)
    sigma = positive(dn_rms, "dn_rms", FieldError)
    ell = positive(correlation_length, "correlation_length", FieldError)
    if np.dtype(dtype) not in (np.float32, np.float64):
        raise FieldError(f"dtype={dtype!r}; use float32 or float64")
    rng = np.random.default_rng(seed)
    noise = rng.standard_normal((nz, ny, nx))
    spec = scipy.fft.rfftn(noise, workers=-1)
    qz = 2 * math.pi * np.fft.fftfreq(nz, d=dz)
    qy = 2 * math.pi * np.fft.fftfreq(ny, d=dy)
    qx = 2 * math.pi * np.fft.rfftfreq(nx, d=dx)
    # |filter|² ∝ the power spectrum exp(-q² ℓ² / 2) of the Gaussian correlation: filter exp(-q² ℓ² / 4)
    spec *= np.exp(-(ell**2 / 4) * qz**2)[:, None, None]
    spec *= np.exp(-(ell**2 / 4) * qy**2)[None, :, None]
    spec *= np.exp(-(ell**2 / 4) * qx**2)[None, None, :]
    spec.flat[0] = 0.0  # zero mean
    dnv = scipy.fft.irfftn(spec, s=(nz, ny, nx), workers=-1)
    rms = float(np.sqrt(np.mean(dnv**2)))
    if rms == 0.0:
        raise FieldError(
            f"correlation_length={ell:g} µm is so long against the volume ({nz * dz:g} x {ny * dy:g} x "
            f"{nx * dx:g} µm) that no fluctuation is left; use a shorter length or a larger volume")
    return (dnv * (sigma / rms)).astype(dtype)


def scattering_length(dn_rms: float, correlation_length: float, wavelength: float) -> float:
    """Scattering mean free path ``ls = 1 / (k0² dn_rms² √(2π) ℓ)`` (µm) of :func:`random_volume`'s medium.

    The ballistic (unscattered) power falls as ``exp(-z / ls)``: the phase a straight path through the
    medium collects has variance ``k0² dn_rms² √(2π) ℓ z`` once ``z ≫ ℓ``, and the mean field is
    ``exp(-variance / 2)``. Valid for forward scattering, ``ℓ`` of a wavelength or more (``wavelength``
    in vacuum, µm); it is the ``z`` over which a focus in the sample loses ``1/e`` of its ballistic light.
    """
    sigma = positive(dn_rms, "dn_rms", FieldError)
    ell = positive(correlation_length, "correlation_length", FieldError)
    k0 = 2 * math.pi / positive(wavelength, "wavelength", FieldError)
    return 1.0 / (k0**2 * sigma**2 * math.sqrt(2 * math.pi) * ell)
