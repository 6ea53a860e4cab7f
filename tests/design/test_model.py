"""The realistic forward model, effect by effect, against independent plain numpy (and scipy)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import ndimage

from holostim.design import DesignError, DesignModelFileError, DesignTarget, Evaluator, ForwardModel
from holostim.design.model import gaussian_blur, parse_design_model
from holostim.holography.defocus import DefocusModel
from holostim.optics import Field, fourier_lens, intensity

N = 32
TWO_PI = 2 * math.pi


def model(slm: str = "", rest: str = "", shape: int = N):
    return parse_design_model(f"slm: {{shape: [{shape}, {shape}]{', ' + slm if slm else ''}}}\n{rest}")


def phase(seed: int = 0, shape: int = N) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0, TWO_PI, (shape, shape))


def test_plain_model_is_the_fourier_lens_of_the_phase():
    m = model("bits: null, supersample: 1")
    ph = phase()
    got = ForwardModel(m)(ph)
    area = N * N * 9.2**2
    ref = fourier_lens(Field(np.exp(1j * ph) / math.sqrt(area), 9.2, 1.04), 200_000.0)
    assert got.u.shape == (1, N, N)
    assert np.max(np.abs(got.u[0] - ref.u)) < 1e-12 * np.max(np.abs(ref.u))
    assert got.spacing == pytest.approx(ref.spacing)


@pytest.mark.parametrize("sigma", [0.6, 1.0, 2.5])
def test_blur_is_scipys_gaussian_filter(sigma):
    a = phase(1)
    assert np.allclose(gaussian_blur(a, sigma, np), ndimage.gaussian_filter(a, sigma, mode="nearest",
                                                                            truncate=4.0), atol=1e-12)


def test_crosstalk_blurs_the_upsampled_displayed_phase():
    s, sigma = 2, 0.8
    m = model(f"bits: null, supersample: {s}, crosstalk_sigma_px: {sigma}")
    ph = phase(2)
    u = ForwardModel(m).slm_field(ph).u
    up = np.kron(np.mod(ph, TWO_PI), np.ones((s, s)))
    want = ndimage.gaussian_filter(up, sigma * s, mode="nearest", truncate=4.0)
    assert np.allclose(np.angle(u * np.exp(-1j * want)), 0, atol=1e-9)
    assert np.allclose(np.abs(u), np.abs(u).flat[0])  # a flat beam, no dead border (fill factor 1)


def test_fill_factor_is_a_dead_border_of_each_pixel():
    m = model("bits: null, supersample: 4, fill_factor: 0.5")
    amp = np.abs(ForwardModel(m).slm_field(np.zeros((N, N))).u)
    assert np.allclose(amp[0], 0)  # the first sub-row of each pixel is dead (in y)
    row = amp[1, :8] / amp.max()
    assert np.allclose(row, [0, 1, 1, 0, 0, 1, 1, 0])  # sub-samples 1 and 2 of 4 are the active half


@pytest.mark.parametrize("bits", [3, 8])
def test_quantisation_rounds_to_the_levels(bits):
    m = model(f"bits: {bits}, supersample: 1")
    ph = phase(3) - 7.0  # negative phases wrap first
    shown = np.asarray(ForwardModel(m).displayed_phase(ph))
    n = 2**bits
    want = (np.floor(np.mod(ph, TWO_PI) / TWO_PI * n + 0.5) % n) * TWO_PI / n
    assert np.allclose(shown, want, atol=1e-12)
    assert len(np.unique(np.round(shown, 9))) <= n


def test_lut_plateaus_share_a_phase(tmp_path):
    gray = np.floor(np.arange(256) * 200 / 256).astype(int)  # 256 levels onto 200 gray values
    (tmp_path / "panel.lut").write_text("".join(f"{k} {g}\n" for k, g in enumerate(gray)))
    (tmp_path / "m.yaml").write_text(f"slm: {{shape: [{N}, {N}], lut: panel.lut, supersample: 1}}\n")
    from holostim.design import load_design_model

    m = load_design_model(tmp_path / "m.yaml")
    levels = np.arange(256) * TWO_PI / 256
    shown = np.asarray(ForwardModel(m).displayed_phase(np.tile(levels, (N * N // 256, 1)).reshape(N, N)))
    want = np.array([levels[gray == g].mean() for g in gray])  # what a panel shows for a shared gray
    assert np.allclose(shown.reshape(-1)[:256], want, atol=1e-12)
    assert not np.allclose(want, levels)
    (tmp_path / "m10.yaml").write_text(f"slm: {{shape: [{N}, {N}], lut: panel.lut, bits: 10}}\n")
    with pytest.raises(DesignModelFileError, match=r"m10.yaml:1: slm: .*256 entries \(8-bit\).*bits: 8"):
        load_design_model(tmp_path / "m10.yaml")


def test_zernike_in_waves_and_noll_numbering():
    m = model("bits: null, supersample: 1", "aberrations: {index: noll, coefficients_waves: {5: 0.1}}")
    u = ForwardModel(m).slm_field(np.zeros((N, N))).u
    c = (np.arange(N) - N // 2) / (N / 2)
    y, x = np.meshgrid(c, c, indexing="ij")
    rho, theta = np.hypot(x, y), np.arctan2(y, x)
    noll5 = math.sqrt(6) * rho**2 * np.sin(2 * theta)  # Noll 5: oblique astigmatism
    inside = rho <= 1
    got = np.angle(u / u[N // 2, N // 2])
    assert np.allclose(got[inside], np.angle(np.exp(1j * TWO_PI * 0.1 * noll5[inside])), atol=1e-9)
    assert np.allclose(got[~inside], 0, atol=1e-12)
    with pytest.raises(DesignModelFileError, match="aberrations: .*Noll indices start at 1"):
        model("", "aberrations: {coefficients_waves: {0: 0.1}}")


def test_a_defocused_spot_focuses_in_its_own_plane():
    m = model("bits: null, supersample: 1", shape=64)
    dm = m.defocus_model()
    z = 1500.0  # 64 px of 9.2 µm fill a small part of the pupil: a long way to defocus by ~20 rad
    yy, xx = np.mgrid[0:64, 0:64] - 32
    mask = 2 * np.pi * (10 * xx + 6 * yy) / 64 + dm.phase(z, (64, 64))
    focal = ForwardModel(m, (0.0, z))(mask)
    i = intensity(focal)
    spot = (32 + 6, 32 + 10)
    assert np.unravel_index(np.argmax(i[1]), i[1].shape) == spot
    assert i[1][spot] > 20 * i[0][spot]  # in the focal plane the same light is spread out
    # the plane's field is the Fourier lens of the SLM field with that plane's defocus undone
    fm = ForwardModel(m, (z,))
    ref = fourier_lens(fm.slm_field(mask).with_u(fm.slm_field(mask).u * np.exp(-1j * dm.phase(z, (64, 64)))),
                       m.optics.focal_length_um)
    assert np.allclose(fm(mask).u[0], ref.u, atol=1e-12 * np.abs(ref.u).max())
    assert isinstance(dm, DefocusModel)


def _spot_powers(objective: str, na: float, polarization: str = "x", magnification: float = 50.0):
    """Evaluator spot powers of a 3-spot WGS-free mask (a sum of gratings) through one objective."""
    from holostim.design.spots import DesignTarget as _T

    m = model("bits: null, supersample: 1",
              f"objective: {objective}\noptics: {{objective_na: {na}, polarization: {polarization}, "
              f"magnification: {magnification}}}")
    xy = np.array([[N // 2 + 5, N // 2 + 3], [N // 2 - 6, N // 2 + 2], [N // 2 + 1, N // 2 - 7]], float)
    y, x = np.mgrid[0:N, 0:N]
    u = sum(np.exp(2j * np.pi * ((px - N // 2) * x + (py - N // 2) * y) / N) for px, py in xy)
    target = _T.from_pixels(xy, (N, N))
    return Evaluator(m, target), np.angle(u)


def test_vectorial_objective_equals_the_scalar_one_at_low_na():
    # At NA 0.08 the aperture (radius NA f / M = 320 µm) holds the whole 32-pixel SLM (147 µm half-side),
    # so nothing is clipped and the vectorial spot powers must be the scalar ones up to O(NA²) terms.
    ev_s, ph = _spot_powers("scalar", 0.08)
    ev_v, _ = _spot_powers("vectorial", 0.08)
    ps, pv = ev_s(ph).spot_power, ev_v(ph).spot_power
    assert np.allclose(pv, ps, rtol=1e-2)
    focal = ev_v.forward(ph)
    assert focal.u.shape[:2] == (1, 3)  # (planes, Ex Ey Ez)


def test_vectorial_objective_clips_at_the_back_aperture_and_depolarises_at_high_na():
    # NA 0.02: aperture radius 80 µm, well inside the SLM: the vectorial model loses the light outside it.
    ev_s, ph = _spot_powers("scalar", 0.02)
    ev_v, _ = _spot_powers("vectorial", 0.02)
    assert ev_v(ph).efficiency < 0.5 * ev_s(ph).efficiency
    # NA 1.2 in water with the SLM filling the aperture (f / M = 118 µm: radius 141 µm, the SLM's half-side
    # 147 µm): the rays bend by up to 64°, a longitudinal Ez carries a fifth of the light, which the scalar
    # model has not, and radially polarised light makes other spots than x-polarised light.
    ev_x, _ = _spot_powers("vectorial", 1.2, "x", magnification=1700.0)
    u = ev_x.forward(ph).u
    ez = np.sum(np.abs(u[0, 2]) ** 2) / np.sum(np.abs(u[0]) ** 2)
    assert 0.05 < ez < 0.35  # measured 0.22: ⟨sin²θ cos²φ⟩ over a pupil filled to sin θ = 0.9
    ev_r, _ = _spot_powers("vectorial", 1.2, "radial", magnification=1700.0)
    assert np.max(np.abs(ev_r(ph).spot_power / ev_x(ph).spot_power - 1)) > 0.05


def test_bad_model_key_names_key_file_and_line(tmp_path):
    p = tmp_path / "bad.yaml"
    p.write_text("slm:\n  shape: [64, 64]\n  crosstalk_sigma: 1.0\n")
    from holostim.design import load_design_model

    with pytest.raises(DesignModelFileError) as err:
        load_design_model(p)
    msg = str(err.value)
    assert msg.startswith(f"{p}:3: slm.crosstalk_sigma: unknown key") and "crosstalk_sigma_px" in msg


def test_evaluator_spot_power_is_the_disc_integral():
    m = model("bits: null, supersample: 1", "far_field: {spot_radius_px: 1.5}")
    t = DesignTarget.from_pixels([[20, 16], [10, 9]], (N, N))
    ph = phase(4)
    ev = Evaluator(m, t, padding=2)
    got = ev(ph)
    focal = ForwardModel(m, padding=2)(ph)
    inten = np.abs(focal.u[0]) ** 2 * focal.spacing[0] * focal.spacing[1]
    fx = N // 2 + (np.arange(2 * N) - N) / 2  # Fourier px of each focal sample
    want = [inten[np.hypot(fx[None, :] - x, fx[:, None] - y) <= 1.5].sum() for x, y in t.xy]
    assert np.allclose(got.spot_power, want, rtol=1e-12)
    assert got.efficiency == pytest.approx(sum(want))
    r = np.array(want) / t.weights
    assert got.uniformity == pytest.approx(1 - (r.max() - r.min()) / (r.max() + r.min()))
    with pytest.raises(DesignError, match="closer than two spot radii"):
        Evaluator(m, DesignTarget.from_pixels([[20, 16], [21, 17]], (N, N)))


def test_the_example_model_file_loads():
    from pathlib import Path

    from holostim.design import load_design_model

    m = load_design_model(Path(__file__).resolve().parents[2] / "config" / "design-realistic.yaml")
    assert m.shape == (512, 512) and m.slm.crosstalk_sigma_px > 0 and m.objective == "scalar"
    assert m.aberrations.ansi_radians()  # the example carries aberrations, converted to ANSI radians


def test_clip_to_pupil_is_the_objectives_back_aperture():
    # NA f / M = 0.8 * 200 mm / 2000 = 80 µm: a pupil of about 8.7 pixels radius on a 32-pixel SLM
    m = model("bits: null, supersample: 1", "optics: {magnification: 2000, clip_to_pupil: true}")
    ph = phase(5)
    got = ForwardModel(m)(ph)
    from holostim.optics import circular_aperture

    fw = ForwardModel(model("bits: null, supersample: 1", "optics: {magnification: 2000}"))
    f = fw.slm_field(ph)
    want = fourier_lens(circular_aperture(f, 80.0), 200_000.0)
    assert np.allclose(got.u[0], want.u, atol=1e-12 * np.abs(want.u).max())
    assert np.sum(np.abs(got.u) ** 2) < 0.5 * np.sum(np.abs(fw(ph).u) ** 2)  # the pupil cut the light
