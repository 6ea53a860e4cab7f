"""The update rules of the methods, written once, and every implementation of them against each other."""

from __future__ import annotations

import ctypes
import shutil
import subprocess

import numpy as np
import pytest

from holostim.holography.methods import (
    GS_STEP,
    KIM_STEP,
    WGS_SPOT_UPDATE_CUDA,
    WGS_STEP,
    MethodError,
    check_method,
    fourier_projection,
    fourier_step_mode,
    kim_phase,
    wgs_spot_update,
)


def _floats(*values):
    return tuple(float(v) for v in values)


def test_wgs_rule_pushes_dim_spots_up_and_bright_ones_down():
    # mean amplitude 1: a spot at 0.5 gets the correction 2, one at 2 the correction 1/2, one at 1 none
    assert _floats(*wgs_spot_update(0.5, 1.0, 1.0, 1.0, 0.0)) == (2.0, 1.0, 1.0)
    assert _floats(*wgs_spot_update(2.0, 1.0, 1.0, 1.0, 0.0)) == (0.5, 1.0, -1.0)
    assert _floats(*wgs_spot_update(1.0, 1.0, 3.0, 1.0, 1.0)) == (3.0, 1.0, 0.0)
    # a dark spot's correction is bounded by 1e3 (its weight cannot blow up)
    assert _floats(*wgs_spot_update(0.0, 1.0, 1.0, 1.0, 0.0)) == (1000.0, 1.0, 1.0)


def test_wgs_step_shrinks_on_a_sign_change_and_grows_back_to_one():
    # the last correction went down (sign -1), this one goes up: step 0.5 -> 0.4, weight * 2 ** 0.4
    w, gamma, sign = wgs_spot_update(0.5, 1.0, 1.0, 0.5, -1.0)
    assert (float(gamma), float(sign)) == (0.4, 1.0)
    assert float(w) == pytest.approx(2**0.4, rel=1e-15)
    # same direction again: the step doubles, but never beyond 1
    assert float(wgs_spot_update(0.5, 1.0, 1.0, 0.4, 1.0)[1]) == 0.8
    assert float(wgs_spot_update(0.5, 1.0, 1.0, 0.8, 1.0)[1]) == 1.0


def _random_rule_inputs(n=200, seed=0):
    rng = np.random.default_rng(seed)
    a = rng.uniform(0, 3, n)
    a[:3] = (0.0, 1e-6, 1.0)  # dark (the 1e3 bound), nearly dark, exactly at the mean
    mean_a = float(a.mean())
    a[2] = mean_a
    w = rng.uniform(0.5, 2, n)
    gamma = rng.choice([1.0, 0.8, 0.64, 0.3], n)
    sign = rng.choice([-1.0, 0.0, 1.0], n)
    return a, mean_a, w, gamma, sign


def _scalar_rule(a, mean_a, w, gamma, sign):
    out = [wgs_spot_update(*_floats(a[i], mean_a, w[i], gamma[i], sign[i])) for i in range(a.size)]
    return [np.array([float(o[j]) for o in out]) for j in range(3)]


def test_wgs_rule_is_the_same_on_numbers_and_on_vectors():
    args = _random_rule_inputs()
    for got, ref in zip(wgs_spot_update(*args), _scalar_rule(*args), strict=True):
        np.testing.assert_allclose(got, ref, rtol=4e-16, atol=0)  # (numpy's vector pow: 1 ulp)


def test_numba_compiles_the_rule_as_written():
    import numba

    from holostim.holography.kernels import numba as numba_kernels

    assert isinstance(numba_kernels._wgs_spot_update, numba.core.registry.CPUDispatcher)
    assert numba_kernels._wgs_spot_update.py_func is wgs_spot_update
    a, mean_a, w, gamma, sign = _random_rule_inputs()
    ref = _scalar_rule(a, mean_a, w, gamma, sign)
    got = [numba_kernels._wgs_spot_update(a[i], mean_a, w[i], gamma[i], sign[i]) for i in range(a.size)]
    for j in range(3):
        np.testing.assert_allclose([g[j] for g in got], ref[j], rtol=1e-14, atol=0)


_C_HARNESS = """
#include <math.h>
#include <stdbool.h>
typedef double R;
static R max(R x, R y) { return x > y ? x : y; }
static R min(R x, R y) { return x < y ? x : y; }
void rule(int n, const R *a_in, R mean_a, R *w_io, R *gamma_io, R *sign_io) {
    for (int i = 0; i < n; i++) {
        R a = a_in[i], w = w_io[i], gamma = gamma_io[i], sign = sign_io[i];
        %s
        w_io[i] = w; gamma_io[i] = gamma; sign_io[i] = sign;
    }
}
"""


@pytest.mark.skipif(shutil.which("cc") is None, reason="needs a C compiler")
def test_cuda_source_of_the_rule_equals_the_python_rule(tmp_path):
    # The CuPy kernel's weight update is C++ text; compiled here as C (double precision) on the CPU, it must
    # give what the Python rule gives, so the GPU path is checked even on machines without a GPU.
    src = tmp_path / "rule.c"
    src.write_text(_C_HARNESS % WGS_SPOT_UPDATE_CUDA)
    lib = tmp_path / "rule.so"
    subprocess.run(["cc", "-O1", "-shared", "-fPIC", "-o", str(lib), str(src), "-lm"], check=True)
    rule = ctypes.CDLL(str(lib)).rule
    dbl = np.ctypeslib.ndpointer(dtype=np.float64, flags="C_CONTIGUOUS")
    rule.argtypes = [ctypes.c_int, dbl, ctypes.c_double, dbl, dbl, dbl]
    a, mean_a, w, gamma, sign = _random_rule_inputs(seed=3)
    ref = wgs_spot_update(a, mean_a, w, gamma, sign)
    w, gamma, sign = w.copy(), gamma.copy(), sign.copy()
    rule(a.size, a, mean_a, w, gamma, sign)
    for got, want in zip((w, gamma, sign), ref, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-14, atol=0)


def test_kim_phase_follows_then_freezes():
    assert kim_phase(1j, -1.0, True) == 1j
    assert kim_phase(1j, -1.0, False) == -1.0


def test_fourier_projection_imposes_the_target_amplitude():
    rng = np.random.default_rng(4)
    g = rng.standard_normal(12) + 1j * rng.standard_normal(12)
    g[5] = 0  # no phase to keep: phase 0, never amplitude 0
    t = rng.random(12) + 0.1
    step = np.array([np.ones(12), np.zeros(12)])
    w, phase = np.ones(12), np.ones(12, complex)
    out = fourier_projection(g, t, w, step, phase, GS_STEP, True)
    np.testing.assert_allclose(np.abs(out), t)
    np.testing.assert_allclose(np.angle(np.delete(out, 5)), np.angle(np.delete(g, 5)), atol=1e-12)
    assert out[5] == t[5]
    # WGS: the amplitudes become w * t with the weights at mean 1, the phase is still the far field's
    out = fourier_projection(g, t, w, step, phase, WGS_STEP, True)
    assert w.mean() == pytest.approx(1) and np.ptp(w) > 0
    np.testing.assert_allclose(np.abs(out), w * t)
    # Kim: while fresh the phase is stored, afterwards it is the stored one whatever the far field does
    fourier_projection(g, t, w, step, phase, KIM_STEP, True)
    out = fourier_projection(g * 1j, t, w, step, phase, KIM_STEP, False)
    np.testing.assert_allclose(out / np.abs(out), phase)
    np.testing.assert_allclose(np.angle(np.delete(phase, 5)), np.angle(np.delete(g, 5)), atol=1e-12)


def test_methods_and_their_words():
    assert [fourier_step_mode(m) for m in ("gs", "raar", "wgs", "wgs-kim")] == [GS_STEP, GS_STEP, WGS_STEP,
                                                                                KIM_STEP]
    assert check_method("raar", beta=1.0) == "raar"
    with pytest.raises(MethodError, match="unknown method 'gsw'.*gs, wgs, wgs-kim, raar"):
        check_method("gsw")
    with pytest.raises(MethodError, match="beta 0"):
        check_method("raar", beta=0)
    with pytest.raises(MethodError, match="fix_after -1"):
        check_method("wgs-kim", fix_after=-1)
