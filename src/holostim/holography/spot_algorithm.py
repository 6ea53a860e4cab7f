"""Which algorithm computes a spot target: the FFT engine or the direct sum (:mod:`.direct_sum`).

An FFT iteration costs about ``p² Ny Nx log2(p² Ny Nx)`` (two FFTs of the padded grid, whatever the
number of spots); a direct-sum iteration about ``N Ny Nx`` (two rank-N GEMMs, no padding) plus a fixed
pass over the SLM. So the direct sum wins below a spot count that grows with the padding and slowly
with the grid:

    direct  if  N <= DIRECT_SPOTS_PER_FFT_LOG · p² · log2(p² Ny Nx)

``DIRECT_SPOTS_PER_FFT_LOG = 0.75`` was measured with ``benchmarks/engine_3d.py`` (numpy, single
precision, the 2-core development VM with nothing else running, 2026-12-02; the direct sum's BLAS on one
thread, the FFT on FFTW's threads): the direct sum was faster up to about 16 spots at 512² (1.6 vs
1.7 ms per WGS iteration; 2.5 vs 2.1 ms at 32) and 8 to 16 at 1024² (6.1 vs 6.6 ms at 8, 7.2 vs 7.1 at
16). The rule says 13 and 15. On a busy machine FFTW's threads slow down far more than one BLAS thread,
and the crossover moves up to 30 spots (512²) and 60–90 (1024²); the rule is for the quiet rig. The
session's ``engine.spot_algorithm`` (``auto|fft|direct``) overrides it for 2-D targets. 3-D targets
(any ``z != 0``) always use the direct sum: a far-field grid has no depth. RAAR exists only on the FFT
engine, so ``auto`` keeps a 2-D RAAR target there; and so does a tolerance stop: the tolerance error's
dark-pixel part (stray light, ghost orders) needs the whole far field, which only the FFT engine has (the
direct sum counts the spots alone, where a few spots are often within tolerance before any iteration).
"""

from __future__ import annotations

import math

from holostim.errors import HolostimError
from holostim.holography.targets import SpotTarget

__all__ = ["DIRECT_METHODS", "DIRECT_SPOTS_PER_FFT_LOG", "SPOT_ALGORITHMS", "SpotAlgorithmError",
           "check_spot_algorithm", "choose_spot_algorithm", "direct_sum_crossover"]

SPOT_ALGORITHMS = ("auto", "fft", "direct")
DIRECT_METHODS = ("gs", "wgs", "wgs-kim")
"""The methods the direct sum runs (RAAR's reflections need the whole far field)."""
DIRECT_SPOTS_PER_FFT_LOG = 0.75


class SpotAlgorithmError(HolostimError, ValueError):
    """An unknown ``spot_algorithm`` word."""


def check_spot_algorithm(name: object) -> str:
    """``name`` if it is one of :data:`SPOT_ALGORITHMS`, else a :class:`SpotAlgorithmError`."""
    if name not in SPOT_ALGORITHMS:
        raise SpotAlgorithmError(f"spot_algorithm {name!r} is unknown; use one of "
                                 f"{', '.join(SPOT_ALGORITHMS)}")
    return str(name)


def direct_sum_crossover(shape: tuple[int, int], padding: int = 1) -> int:
    """The largest spot count for which ``auto`` chooses the direct sum on this grid (module docstring)."""
    ny, nx = shape
    cells = padding * padding * ny * nx
    return int(DIRECT_SPOTS_PER_FFT_LOG * padding * padding * math.log2(cells))


def choose_spot_algorithm(setting: str, target: SpotTarget, method: str, shape: tuple[int, int],
                          padding: int = 1, tolerance: float | None = None) -> str:
    """``"fft"`` or ``"direct"`` for ``target`` under ``setting`` (module docstring)."""
    check_spot_algorithm(setting)
    if target.is_3d:
        return "direct"
    if setting != "auto":
        return setting
    if method not in DIRECT_METHODS or tolerance is not None:
        return "fft"
    return "direct" if len(target) <= direct_sum_crossover(shape, padding) else "fft"
