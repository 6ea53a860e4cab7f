"""GPU fast paths: ``cupy.ElementwiseKernel``/``ReductionKernel``s, one launch each, no host sync.

Each has the meaning of the method of the same name in
:class:`~holostim.holography.kernels.plain.PlainKernels` (``extract_phase``, once per compute and not in
the loop, is inherited from it). The WGS weight rule is the CUDA source
:data:`holostim.holography.methods.WGS_SPOT_UPDATE_CUDA`, written next to the Python rule it must equal.
CuPy itself is imported when the kernels are built (on a GPU backend), so this module imports anywhere.
"""

from __future__ import annotations

import numpy as np

from holostim.holography.kernels.plain import PlainKernels
from holostim.holography.methods import KIM_STEP, TINY, WGS_SPOT_UPDATE_CUDA, WGS_STEP

__all__ = ["CupyKernels"]

# The SLM-plane projection of one value z onto amplitude a (phase 0 where z is exactly 0).
_PROJ = "R m = abs(z); T q = (m > 0) ? z * (a / m) : T(a, 0);"


class CupyKernels(PlainKernels):
    """GPU fast paths (see the module docstring)."""

    name = "cupy"

    def __init__(self):
        import cupy

        super().__init__(cupy)
        # In-place kernels take the buffer as an input *and* pass the same array as the output: CuPy requires
        # outputs to have the broadcast shape of the inputs (the amplitude may be a (1, 1) scalar array), and
        # does not copy an input that *is* the output.
        self._project = cupy.ElementwiseKernel(
            "T z, R a", "T dst", _PROJ + " dst = q;", "holostim_project_slm"
        )
        self._raar_start = cupy.ElementwiseKernel(
            "T z, R a", "T buf", _PROJ + " buf = (R)2 * q - z;", "holostim_raar_start"
        )
        self._raar_update = cupy.ElementwiseKernel(
            "T xin, T bin, R a, R beta",
            "T x, T buf",
            """
            T z = xin;
            R m = abs(z);
            T q = (m > 0) ? z * (a / m) : T(a, 0);
            T xn = beta * z + beta * bin + ((R)1 - (R)2 * beta) * q;
            R mn = abs(xn);
            T qn = (mn > 0) ? xn * (a / mn) : T(a, 0);
            x = xn;
            buf = (R)2 * qn - xn;
            """,
            "holostim_raar_update",
        )
        self._dark = cupy.ReductionKernel(
            "T z, float64 scale, float64 eps",
            "float64 out",
            "fmax(((double)z.real() * z.real() + (double)z.imag() * z.imag()) * scale - eps, 0.0)",
            "a + b",
            "out = a",
            "0",
            "holostim_dark_excess",
        )
        self._gather = cupy.ElementwiseKernel(
            "raw T buf, int64 idx, R t",
            "T g, R a",
            f"g = buf[idx]; a = max(abs(g), (R){TINY!r}) / t;",
            "holostim_fourier_gather",
        )
        self._scatter = cupy.ElementwiseKernel(
            "T g, R a, R t, raw R mean_a_in, int64 idx, int32 mode, bool fresh",
            "R w, R gamma, R sign, T u, raw T buf",
            f"""
            R m = abs(g);
            T ph = (m > 0) ? g / m : T(1, 0);
            R amp = t;
            if (mode >= {WGS_STEP}) {{
                R mean_a = mean_a_in[0];
                {WGS_SPOT_UPDATE_CUDA}
                amp = w * t;
            }}
            if (mode == {KIM_STEP}) {{
                if (fresh) u = ph;
                ph = u;
            }}
            buf[idx] = amp * ph;
            """,
            "holostim_fourier_scatter",
        )

    def fourier_step(self, flat, idx, t, w, step, phase, g, a, mode: int, fresh: bool) -> None:
        """Same as :meth:`~holostim.holography.kernels.numba.NumbaKernels.fourier_step` in four launches.

        The weights are not renormalised to mean 1 on the GPU (that would be two more launches): the
        projections are scale-free, so the phases are the same; the engine normalises when it keeps them.
        """
        self._gather(flat, idx, t, g, a)
        mean_a = a.mean().reshape(1)
        flat.fill(0)
        self._scatter(g, a, t, mean_a, idx, np.int32(mode), bool(fresh), w, step[0], step[1], phase, flat)

    def project_slm(self, buf, amp) -> None:  # noqa: D102 - same meaning as PlainKernels
        self._project(buf, amp, buf)

    def project_slm_into(self, src, dst, amp) -> None:  # noqa: D102
        self._project(src, amp, dst)

    def raar_start(self, x, buf, amp) -> None:  # noqa: D102
        self._raar_start(x, amp, buf)

    def raar_update(self, x, buf, amp, beta: float) -> None:  # noqa: D102
        self._raar_update(x, buf, amp, amp.dtype.type(beta), x, buf)

    def dark_excess(self, buf, scale, eps: float):  # noqa: D102
        return self._dark(buf, self.xp.asarray(scale, dtype=self.xp.float64), float(eps)) / eps
