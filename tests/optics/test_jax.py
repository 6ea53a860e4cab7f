"""The optics core under JAX: jit equals eager (and numpy), grad equals central finite differences,
vmap equals the Python loop. Small grids (32², padded to 64²) in float64."""

from __future__ import annotations

import numpy as np
import pytest

from holostim.backend import is_traced, place
from holostim.optics import (
    CameraModel,
    Field,
    FieldError,
    add_camera_noise,
    amplitude_mask,
    circular_aperture,
    debye_focus,
    focal_stack,
    fourier_lens,
    gaussian_beam,
    intensity,
    phase_mask,
    plane_wave,
    power,
    propagate,
    quantize_phase,
    rectangular_aperture,
    resample_to_camera,
    resize,
    slm,
    thin_lens,
    vectorial_focus,
    vectorial_focus_xz,
    zernike,
)

jax = pytest.importorskip("jax")
jnp = pytest.importorskip("jax.numpy")

N, D, WL = 32, 0.5, 0.8


@pytest.fixture(autouse=True)
def x64():
    before = jax.config.jax_enable_x64
    jax.config.update("jax_enable_x64", True)
    yield
    jax.config.update("jax_enable_x64", before)


@pytest.fixture
def beam():
    """A Gaussian with a random smooth phase: structure in every direction, so no gradient vanishes."""
    rng = np.random.default_rng(7)
    g = gaussian_beam((N, N), D, WL, 4.0)
    ph = np.real(np.fft.ifft2(np.fft.fft2(rng.normal(size=(N, N))) * np.exp(-np.add.outer(
        np.fft.fftfreq(N) ** 2, np.fft.fftfreq(N) ** 2) * 200)))
    return g.u * np.exp(1j * 3 * ph / np.max(np.abs(ph)))


@pytest.fixture
def weights():
    return np.random.default_rng(3).uniform(0.2, 1.0, (N, N))


def jfield(u, wavelength=WL, spacing=D):
    return Field(jnp.asarray(u), spacing, wavelength)


def central_difference(fn, p, h):
    return (fn(p + h) - fn(p - h)) / (2 * h)


def check_scalar_grad(loss, p0, h, rtol=1e-6):
    """``jit(grad(loss))`` at p0 equals the central difference of the eager loss (relative to its size)."""
    g = float(jax.jit(jax.grad(loss))(p0))
    fd = float(central_difference(lambda p: loss(p), p0, h))
    assert np.isfinite(g) and g != 0.0
    assert abs(g - fd) <= rtol * max(abs(fd), 1e-12) + 1e-10, (g, fd)


def check_array_grad(loss, a0, h=1e-6, rtol=1e-6):
    """Directional derivative along a random direction: <grad, v> equals the central difference."""
    a0 = jnp.asarray(a0)
    v = jnp.asarray(np.random.default_rng(11).normal(size=a0.shape))
    g = jax.jit(jax.grad(loss))(a0)
    assert g.shape == a0.shape and bool(jnp.all(jnp.isfinite(g)))
    along = float(jnp.sum(g * v))
    fd = float(central_difference(lambda t: loss(a0 + t * v), 0.0, h))
    assert abs(along - fd) <= rtol * abs(fd) + 1e-10, (along, fd)


# --- the helpers ----------------------------------------------------------------------------------------
def test_is_traced_and_place():
    assert not is_traced(1.0, np.ones(2), jnp.ones(2))
    seen = []
    jax.jit(lambda x: seen.append(is_traced(x)) or x)(jnp.ones(2))
    jax.grad(lambda x: seen.append(is_traced(x)) or x)(1.0)
    jax.vmap(lambda x: seen.append(is_traced(x)) or x)(jnp.ones(2))
    assert seen == [True, True, True]
    a = np.zeros(4)
    assert place(a, slice(1, 3), 1.0) is a and a.tolist() == [0, 1, 1, 0]
    b = jnp.zeros(4)
    c = place(b, slice(1, 3), 1.0)
    assert c.tolist() == [0, 1, 1, 0] and b.tolist() == [0, 0, 0, 0]


# --- jit equals eager numpy -----------------------------------------------------------------------------
PIPELINES = {
    "propagate asm pad=2": lambda f: propagate(f, 5.0),
    "propagate asm decay": lambda f: propagate(f, 5.0, evanescent="decay", band_limit=False, pad=1),
    "propagate fresnel": lambda f: propagate(f, 5.0, "fresnel"),
    "propagate fresnel-ir": lambda f: propagate(f, 400.0, "fresnel-ir"),
    "focal_stack": lambda f: focal_stack(f, [-3.0, 0.0, 4.0]),
    "fourier_lens": lambda f: fourier_lens(f, 1000.0),
    "fourier_lens inverse": lambda f: fourier_lens(f, 1000.0, inverse=True),
    "resize up": lambda f: resize(f, (40, 36)),
    "resize down": lambda f: resize(f, (20, 24)),
    "phase_mask": lambda f: phase_mask(f, np.linspace(0, 6, N * N).reshape(N, N)),
    "amplitude_mask": lambda f: amplitude_mask(f, np.linspace(0, 1, N * N).reshape(N, N)),
    "thin_lens": lambda f: thin_lens(f, 500.0),
    "circular_aperture": lambda f: circular_aperture(f, 5.0),
    "rectangular_aperture": lambda f: rectangular_aperture(f, 6.0, 4.0),
    "zernike": lambda f: zernike(f, {4: 0.3, 7: 0.2}, 6.0),
    "slm": lambda f: slm(f, np.linspace(0, 6, N * N).reshape(N, N), pitch=D, levels=16),
}


@pytest.mark.parametrize("name", list(PIPELINES))
def test_jit_equals_eager_numpy(name, beam):
    fn = PIPELINES[name]
    ref = fn(Field(beam, D, WL))
    eager = fn(jfield(beam))
    jitted = jax.jit(lambda u: fn(jfield(u)).u)(jnp.asarray(beam))
    assert eager.spacing == pytest.approx(ref.spacing)
    scale = np.max(np.abs(ref.u))
    assert np.max(np.abs(np.asarray(eager.u) - ref.u)) < 1e-12 * scale
    assert np.max(np.abs(np.asarray(jitted) - ref.u)) < 1e-12 * scale


def test_field_under_jit_skips_only_the_nan_check():
    out = jax.jit(lambda u: Field(u, D, WL).u * 2)(jnp.ones((4, 4)))
    assert out.dtype == jnp.complex128
    with pytest.raises(FieldError, match="NaN"):
        Field(jnp.full((4, 4), jnp.nan), D, WL)  # concrete input: still checked
    with pytest.raises(FieldError, match="finite"):
        phase_mask(jfield(np.ones((4, 4))), jnp.full((4, 4), jnp.inf))


# --- grad equals finite differences ---------------------------------------------------------------------
def test_grad_phase_mask_pixels(beam, weights):
    def loss(ph):
        f = phase_mask(jfield(beam), ph)
        return jnp.sum(weights * intensity(propagate(f, 20.0)))

    check_array_grad(loss, np.zeros((N, N)))


def test_grad_phase_through_fourier_lens_and_slm(beam, weights):
    def loss_fl(ph):
        return jnp.sum(weights * intensity(fourier_lens(phase_mask(jfield(beam), ph), 1000.0)))

    def loss_slm(ph):
        return jnp.sum(weights * intensity(propagate(slm(jfield(beam), ph, pitch=D, levels=None,
                                                         fill_factor=0.9), 10.0)))

    def loss_q(ph):
        return jnp.sum(weights * intensity(phase_mask(jfield(beam), quantize_phase(ph, None))))

    for loss in (loss_fl, loss_slm, loss_q):
        check_array_grad(loss, np.full((N, N), 0.5))


def test_grad_amplitude_mask_and_resize(beam, weights):
    def loss(t):
        f = resize(amplitude_mask(jfield(beam), t), (48, 48))
        return jnp.sum(intensity(propagate(f, 8.0))[8:40, 8:40] * weights)

    check_array_grad(loss, np.full((N, N), 0.7))


def test_grad_lens_focal_length(beam, weights):
    def loss(f_len):
        return jnp.sum(weights * intensity(propagate(thin_lens(jfield(beam), f_len), 30.0)))

    check_scalar_grad(loss, 500.0, 1e-3)


def test_grad_fourier_lens_focal_length(beam, weights):
    def loss(f_len):
        out = fourier_lens(jfield(beam), f_len)  # its pitch λf/(N d) is traced: elements after it cope
        out = circular_aperture(thin_lens(out, 2e5), 0.3 * out.extent[1])
        return jnp.sum(weights * intensity(out)) + power(out)

    check_scalar_grad(loss, 1000.0, 1e-2)


@pytest.mark.parametrize("method,z,h", [("asm", 20.0, 1e-4), ("fresnel-tf", 20.0, 1e-4),
                                        ("fresnel-ir", 400.0, 1e-3), ("fresnel", 10.0, 1e-4),
                                        ("fresnel", 400.0, 1e-3)])
def test_grad_propagation_distance(method, z, h, beam, weights):
    import warnings

    def loss(zz):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return jnp.sum(weights * intensity(propagate(jfield(beam), zz, method)))

    check_scalar_grad(loss, z, h)


@pytest.mark.parametrize("method", ["asm", "fresnel-tf"])
def test_grad_wavelength(method, beam, weights):
    def loss(wl):
        return jnp.sum(weights * intensity(propagate(jfield(beam, wavelength=wl), 20.0, method)))

    check_scalar_grad(loss, WL, 1e-6)


def test_grad_wavelength_through_lens_and_evanescent_decay(beam, weights):
    def loss(wl):
        f = thin_lens(jfield(beam, wavelength=wl), 400.0)
        return jnp.sum(weights * intensity(propagate(f, 0.5, evanescent="decay")))

    # not at 0.8 µm: there 1/λ² = (32² + 24²) / 32² µm⁻² puts grid frequencies exactly on the
    # evanescent edge, where kz = 2π sqrt(1/λ² - f²) has an infinite slope (no derivative exists)
    check_scalar_grad(loss, 0.83, 1e-6)


def test_grad_aperture_sizes(beam, weights):
    def loss_c(r):
        return jnp.sum(weights * intensity(propagate(circular_aperture(jfield(beam), r), 10.0)))

    def loss_r(w):
        return jnp.sum(weights * intensity(propagate(rectangular_aperture(jfield(beam), w, 5.1), 10.0)))

    check_scalar_grad(loss_c, 5.03, 1e-6, rtol=1e-5)
    check_scalar_grad(loss_r, 6.07, 1e-6, rtol=1e-5)


def test_grad_zernike_coefficients(beam, weights):
    def loss(c):
        return jnp.sum(weights * intensity(propagate(zernike(jfield(beam), c, 6.0), 10.0)))

    check_array_grad(loss, np.array([0.0, 0.1, -0.2, 0.05, 0.3, 0.0, 0.1]))


def test_grad_focal_stack_distances(beam, weights):
    def loss(zs):
        return jnp.sum(weights * intensity(focal_stack(jfield(beam), zs)))

    # (not 12 µm: there the band limit's edge sits exactly on a grid frequency, a jump in the loss)
    check_array_grad(loss, np.array([-5.0, 3.0, 11.0]), h=1e-5)


def test_grad_camera_input(beam):
    cam = CameraModel((8, 8), 1.7, magnification=1.0, photons_per_unit=50.0)
    w = np.random.default_rng(5).uniform(0.5, 1.0, (8, 8))

    def loss(a):
        u = jnp.asarray(beam) * a
        photons = cam.expected_photons(Field(u, D, WL))
        direct = resample_to_camera(intensity(Field(u, D, WL)), (8, 8), 1.7, spacing=D)
        return jnp.sum(w * photons) + jnp.sum(direct**2)

    check_array_grad(loss, np.linspace(0.5, 1.5, N * N).reshape(N, N), h=1e-6)
    with pytest.raises(FieldError, match="expected_photons"):
        jax.jit(lambda u: add_camera_noise(cam.expected_photons(Field(u, D, WL))))(jnp.asarray(beam))


# --- vmap equals the loop -------------------------------------------------------------------------------
def test_vmap_over_wavelengths_equals_loop(beam):
    wls = np.array([0.5, 0.64, 0.8, 1.04])
    for method in ("asm", "fresnel-tf"):
        mapped = jax.vmap(lambda wl, m=method: intensity(propagate(jfield(beam, wavelength=wl), 15.0, m)))(
            jnp.asarray(wls))
        loop = np.stack([intensity(propagate(Field(beam, D, float(w)), 15.0, method)) for w in wls])
        assert np.max(np.abs(np.asarray(mapped) - loop)) < 1e-12 * loop.max()
    lens = jax.vmap(lambda wl: intensity(fourier_lens(thin_lens(jfield(beam, wavelength=wl), 900.0), 800.0)))(
        jnp.asarray(wls))
    loop = np.stack([intensity(fourier_lens(thin_lens(Field(beam, D, float(w)), 900.0), 800.0)) for w in wls])
    assert np.max(np.abs(np.asarray(lens) - loop)) < 1e-12 * loop.max()


def test_vmap_over_distances_equals_loop(beam):
    import warnings

    f = jfield(beam)
    zc = 64 * D**2 / WL  # the padded grid's Fresnel critical distance: the auto choice flips inside zs
    zs = np.array([-12.0, 3.0, 0.5 * zc, 2 * zc, 400.0])
    for method in ("asm", "fresnel"):
        mapped = jax.vmap(lambda z, m=method: intensity(propagate(f, z, m)))(jnp.asarray(zs))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            loop = np.stack([intensity(propagate(Field(beam, D, WL), float(z), method)) for z in zs])
        assert np.max(np.abs(np.asarray(mapped) - loop)) < 1e-11 * loop.max()


def test_vmap_over_phase_masks_equals_loop(beam):
    masks = np.random.default_rng(2).uniform(0, 2 * np.pi, (3, N, N))
    mapped = jax.vmap(lambda ph: intensity(fourier_lens(phase_mask(jfield(beam), ph), 1000.0)))(
        jnp.asarray(masks))
    loop = np.stack([intensity(fourier_lens(phase_mask(Field(beam, D, WL), m), 1000.0)) for m in masks])
    assert np.max(np.abs(np.asarray(mapped) - loop)) < 1e-12 * loop.max()


def test_sources_build_on_jax_and_jit():
    like = jnp.zeros((1, 1), dtype=jnp.complex128)
    p = plane_wave((16, 16), 1.0, WL, angle=(0.01, 0.0), like=like)
    assert np.allclose(np.asarray(p.u), plane_wave((16, 16), 1.0, WL, angle=(0.01, 0.0)).u, atol=1e-14)
    src = gaussian_beam((16, 16), 1.0, WL, 3.0, like=like)
    out = jax.jit(lambda a: intensity(propagate(src.with_u(src.u * a), 5.0)))(jnp.sqrt(2.0))
    ref = 2.0 * intensity(propagate(gaussian_beam((16, 16), 1.0, WL, 3.0), 5.0))
    assert np.allclose(np.asarray(out), ref, atol=1e-13)


# --- the vectorial objective (Richards–Wolf as one FFT) ----------------------------------------------------
# (few jitted functions: each costs a compilation of seconds on a loaded machine)
VEC_KW = dict(na=1.2, n_medium=1.33, focal_shape=(40, 40))  # the 32² pupil padded to 40² (pitch λf/(40 d))
VEC_POLS = ("x", "circular-", "radial", (0.6, 0.8j))
XZ_KW = dict(na=1.2, n_medium=1.33, focal_width=40)


def test_vectorial_focus_jit_equals_eager_numpy(beam):
    zs = [-0.5, 0.0, 1.0]

    @jax.jit
    def run(u):
        out = [(vf.ex, vf.ey, vf.ez) for vf in
               (vectorial_focus(jfield(u), polarization=p, z=zs, **VEC_KW) for p in VEC_POLS)]
        sec = vectorial_focus_xz(jfield(u), polarization="radial", z=zs, y=0.3, **XZ_KW)
        return out, (sec.ex, sec.ey, sec.ez)

    jitted, jit_xz = run(jnp.asarray(beam))
    ref_xz = vectorial_focus_xz(Field(beam, D, WL), polarization="radial", z=zs, y=0.3, **XZ_KW)
    for r, j in zip((ref_xz.ex, ref_xz.ey, ref_xz.ez), jit_xz, strict=True):
        assert np.max(np.abs(np.asarray(j) - r)) < 1e-12 * float(np.max(np.abs(ref_xz.ex)))
    for pol, jit_out in zip(VEC_POLS, jitted, strict=True):
        ref = vectorial_focus(Field(beam, D, WL), polarization=pol, z=zs, **VEC_KW)
        eager = vectorial_focus(jfield(beam), polarization=pol, z=zs, **VEC_KW)
        assert eager.spacing == pytest.approx(ref.spacing)
        scale = float(np.max(np.abs(ref.ex)) + np.max(np.abs(ref.ey)))
        for r, e, j in zip((ref.ex, ref.ey, ref.ez), (eager.ex, eager.ey, eager.ez), jit_out, strict=True):
            assert np.max(np.abs(np.asarray(e) - r)) < 1e-12 * scale, pol
            assert np.max(np.abs(np.asarray(j) - r)) < 1e-12 * scale, pol


def test_grad_vectorial_and_debye_focus_pupil_phase(beam):
    w = np.random.default_rng(8).uniform(0.2, 1.0, (40, 40))

    def loss(ph):
        pupil = phase_mask(jfield(beam), ph)
        vf = vectorial_focus(pupil, polarization="radial", z=0.4, **VEC_KW)
        sc = debye_focus(pupil, 1.2, 1.33, z=-0.3, focal_shape=(40, 40))
        return (jnp.sum(w * vf.intensity()) + jnp.sum(vf.component_intensity("z"))
                + jnp.sum(w.T * intensity(sc)))

    check_array_grad(loss, np.full((N, N), 0.3))


def test_grad_vectorial_focus_distance_and_jones_angle(beam):
    w = np.random.default_rng(9).uniform(0.2, 1.0, (40, 40))

    def loss(p):
        a, z = p[:-1].reshape(N, N), p[-1]
        jones = jnp.stack([jnp.cos(a) + 0j, jnp.sin(a) * np.exp(0.3j)])  # a traced Jones vector per pixel
        return jnp.sum(w * vectorial_focus(jfield(beam), polarization=jones, z=z, **VEC_KW).intensity())

    p0 = np.concatenate([np.random.default_rng(4).uniform(0, 1, N * N), [0.7]])
    check_array_grad(loss, p0)


def test_vmap_vectorial_focus_over_z_equals_loop_and_stack(beam):
    zs = np.array([-1.5, -0.2, 0.0, 0.9, 2.0])
    # a numpy pupil and a traced z: the pupil follows z onto JAX
    mapped = jax.vmap(lambda z: vectorial_focus(Field(beam, D, WL), polarization="circular", z=z,
                                                **VEC_KW).intensity())(jnp.asarray(zs))
    loop = np.stack([vectorial_focus(Field(beam, D, WL), polarization="circular", z=float(z),
                                     **VEC_KW).intensity() for z in zs])
    stack = vectorial_focus(Field(beam, D, WL), polarization="circular", z=zs, **VEC_KW).intensity()
    assert np.max(np.abs(np.asarray(mapped) - loop)) < 1e-12 * loop.max()
    assert np.max(np.abs(stack - loop)) < 1e-12 * loop.max()


def test_vectorial_focus_refuses_a_traced_geometry(beam):
    with pytest.raises(FieldError, match="concrete"):
        jax.jit(lambda na: vectorial_focus(jfield(beam), na, 1.33).ex)(0.9)
    with pytest.raises(FieldError, match="concrete wavelength"):
        jax.jit(lambda wl: vectorial_focus(jfield(beam, wavelength=wl), 0.9, 1.33).ex)(0.8)
