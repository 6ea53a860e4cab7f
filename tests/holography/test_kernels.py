"""Each fused kernel (numba on the CPU, CuPy on the GPU) against the plain array code it replaces."""

from __future__ import annotations

import numpy as np
import pytest

from holostim.backend import get_backend, to_numpy
from holostim.holography.kernels import PlainKernels, fast_kernels, plain_kernels
from holostim.holography.methods import GS_STEP, KIM_STEP, WGS_STEP

MODES = {"gs": GS_STEP, "wgs": WGS_STEP, "wgs-kim": KIM_STEP}


def _kernel_cases(be, shape=(48, 40)):
    rng = np.random.default_rng(7)

    def rnd():
        z = rng.standard_normal(shape) + 1j * rng.standard_normal(shape)
        z[3, 4] = 0  # the zero-amplitude branch
        return be.asarray(z, dtype=be.complex_dtype)

    amps = [be.asarray(np.full((1, 1), 0.3), dtype=be.real_dtype),
            be.asarray(rng.random(shape), dtype=be.real_dtype)]
    return rnd, amps


def _check_kernels_match(be, fast=None):
    fast, plain = fast if fast is not None else fast_kernels(be), plain_kernels(be)
    rnd, amps = _kernel_cases(be)
    tol = 1e-5 if be.precision == "single" else 1e-12
    close = lambda a, b: np.testing.assert_allclose(to_numpy(a), to_numpy(b), atol=tol, rtol=tol)  # noqa: E731
    for amp in amps:
        z = rnd()
        a, b = z.copy(), z.copy()
        fast.project_slm(a, amp)
        plain.project_slm(b, amp)
        close(a, b)
        d1, d2 = be.xp.empty_like(z), be.xp.empty_like(z)
        fast.project_slm_into(z, d1, amp)
        plain.project_slm_into(z, d2, amp)
        close(d1, d2)
        x1, x2 = z.copy(), z.copy()
        fast.raar_start(x1, d1, amp)
        plain.raar_start(x2, d2, amp)
        close(d1, d2)
        b0 = rnd()
        b1, b2 = b0.copy(), b0.copy()
        fast.raar_update(x1, b1, amp, 0.7)
        plain.raar_update(x2, b2, amp, 0.7)
        close(x1, x2)
        close(b1, b2)
    z = rnd()
    for out_shape, center in (((48, 40), (24, 20)), ((30, 20), (15, 10)), ((31, 21), (15, 10))):
        o1 = be.xp.empty(out_shape, dtype=be.real_dtype)
        o2 = be.xp.empty(out_shape, dtype=be.real_dtype)
        fast.extract_phase(z, o1, center)
        plain.extract_phase(z, o2, center)
        d = np.angle(np.exp(1j * (to_numpy(o1).astype(float) - to_numpy(o2))))
        assert np.abs(d).max() < 1e-5
        assert to_numpy(o1).min() >= 0 and to_numpy(o1).max() < 2 * np.pi
        assert o1.dtype == be.real_dtype
    # extract_phase un-shifts: the centre pixel of the output is buffer pixel (0, 0)
    centre = np.mod(np.angle(to_numpy(z)[0, 0]), 2 * np.pi)
    assert float(to_numpy(o1)[15, 10]) == pytest.approx(centre, abs=1e-5)
    got, ref = float(fast.dark_excess(z, 0.5, 0.3)), float(plain.dark_excess(z, 0.5, 0.3))
    assert got == pytest.approx(ref, rel=1e-6)


@pytest.mark.parametrize("precision", ["single", "double"])
def test_numba_kernels_match_plain(precision):
    be = get_backend("numpy", precision)
    assert fast_kernels(be).name == "numba"
    _check_kernels_match(be)


def test_plain_kernel_projection_is_the_definition():
    be = get_backend("numpy", "double")
    rnd, amps = _kernel_cases(be)
    z = rnd()
    a = z.copy()
    plain_kernels(be).project_slm(a, amps[1])
    m = np.abs(z)
    ref = np.where(m > 0, amps[1] * z / np.where(m > 0, m, 1), amps[1])
    np.testing.assert_allclose(a, ref, atol=1e-14)


@pytest.mark.gpu
@pytest.mark.parametrize("precision", ["single", "double"])
def test_cupy_kernels_match_plain(precision):
    be = get_backend("cupy", precision)
    assert fast_kernels(be).name == "cupy"
    _check_kernels_match(be)


# --- the Fourier step: fused against the plain projection -------------------------------------------------


def _fourier_step_cases(be):
    rng = np.random.default_rng(11)
    buf = (rng.standard_normal((32, 32)) + 1j * rng.standard_normal((32, 32))).astype(be.complex_dtype)
    idx = rng.choice(32 * 32, 40, replace=False).astype(np.int64)
    buf.reshape(-1)[idx[3]] = 0  # a lit pixel with exactly zero field: phase 0, never amplitude 0
    t = (rng.random(40) + 0.2).astype(be.real_dtype)
    return buf, idx, t


def _spot_state(xp, be, n):
    """Weights 1, step exponents 1 and signs 0, Kim's phasors, scratch: what the engine starts with."""
    step = xp.zeros((2, n), be.real_dtype)
    step[0] = 1
    return [xp.ones(n, be.real_dtype), step, xp.ones(n, be.complex_dtype), xp.empty(n, be.complex_dtype),
            xp.empty(n, be.real_dtype)]


def _run_steps(kernels, xp, be, bufs, idx, t, mode):
    """Four Fourier steps (fix_after = 2: Kim's phase frozen from the third) on the same inputs."""
    state = _spot_state(xp, be, idx.shape[0])
    out = []
    for k, buf in enumerate(bufs):
        b = xp.asarray(buf).copy()  # (numpy would share the input)
        kernels.fourier_step(b.reshape(-1), xp.asarray(idx), xp.asarray(t), *state, mode, k < 2)
        w, step = to_numpy(state[0]), to_numpy(state[1])
        out.append((to_numpy(b), w / w.mean(), step.copy()))  # (the GPU leaves the weights unnormalised)
    return out


def _inputs(be):
    buf0, idx, t = _fourier_step_cases(be)
    rng = np.random.default_rng(2)
    turns = [np.exp(1j * rng.uniform(0, 2 * np.pi, buf0.shape)) for _ in range(4)]
    bufs = [(buf0 * z).astype(be.complex_dtype) for z in turns]
    return bufs, idx, t


@pytest.mark.parametrize("precision", ["single", "double"])
@pytest.mark.parametrize("method", ["gs", "wgs", "wgs-kim"])
def test_numba_fourier_step_matches_plain(method, precision):
    be = get_backend("numpy", precision)
    bufs, idx, t = _inputs(be)
    tol = 2e-5 if precision == "single" else 1e-12
    ref = _run_steps(PlainKernels(np), np, be, bufs, idx, t, MODES[method])
    got = _run_steps(fast_kernels(be), np, be, bufs, idx, t, MODES[method])
    for (f1, w1, s1), (f2, w2, s2) in zip(got, ref, strict=True):
        np.testing.assert_allclose(f1, f2, atol=tol, rtol=tol)
        np.testing.assert_allclose(w1, w2, rtol=tol)
        np.testing.assert_allclose(s1, s2, rtol=tol)
    assert np.abs(ref[0][0].reshape(-1)[idx[3]]) > 0
    if method != "gs":  # the weights really moved (a test of a rule that never fires would prove nothing)
        assert np.ptp(ref[-1][1]) > 0.1


@pytest.mark.gpu
@pytest.mark.parametrize("method", ["gs", "wgs", "wgs-kim"])
def test_cupy_fourier_step_matches_plain(method):
    import cupy

    be = get_backend("cupy", "single")
    bufs, idx, t = _inputs(be)
    ref = _run_steps(PlainKernels(np), np, get_backend("numpy", "single"), bufs, idx, t, MODES[method])
    got = _run_steps(fast_kernels(be), cupy, be, bufs, idx, t, MODES[method])
    for (f1, w1, s1), (f2, w2, s2) in zip(got, ref, strict=True):
        np.testing.assert_allclose(f1, f2, atol=2e-5, rtol=2e-5)
        np.testing.assert_allclose(w1, w2, rtol=2e-5)
        np.testing.assert_allclose(s1, s2, rtol=2e-5)
