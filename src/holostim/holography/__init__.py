"""Phase retrieval for the SLM: targets, methods, metrics and the real-time HologramEngine.

Pure and backend-generic (numpy or CuPy through :mod:`holostim.backend`); never imports Qt.
"""

from __future__ import annotations

from holostim.holography import metrics
from holostim.holography.engine import EngineError, HologramEngine
from holostim.holography.methods import METHODS, MethodError
from holostim.holography.metrics import HologramMetrics, MetricsHistory
from holostim.holography.result import HologramResult, Timings
from holostim.holography.targets import ImageTarget, SpotTarget, TargetError, siemens_star

__all__ = [
    "METHODS",
    "EngineError",
    "HologramEngine",
    "HologramMetrics",
    "HologramResult",
    "ImageTarget",
    "MethodError",
    "MetricsHistory",
    "SpotTarget",
    "TargetError",
    "Timings",
    "metrics",
    "siemens_star",
]
