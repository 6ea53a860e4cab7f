"""The zero-order planner in the session's units: how far the neurons must move for a refused set to fit.

:func:`holostim.zero_order.plan_field_shift` works in the engine's Fourier pixels; a person moves a
stage in sample micrometres and sees camera pixels. :func:`plan_for` maps the targets through the
calibration, plans, maps the shift back through the linear part of the same affine (a shift has no
offset) and of the SLM → sample scale, and checks the answer with the session's own refusal rule: the
shifted targets must all be accepted, or there is no plan. Nothing here moves anything: holostim has no
stage or galvo device, so the plan is shown to the user, never applied.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from holostim.zero_order import plan_field_shift

__all__ = ["FieldShift", "plan_for"]


@dataclass(frozen=True)
class FieldShift:
    """How far every neuron must move relative to the optical axis, in three units.

    ``slm_px`` in the engine's Fourier pixels, ``camera_px`` in the camera image, ``sample_um`` in the
    sample plane (the axes of the log's ``sample_um``). ``(0, 0)``: the targets fit as they are.
    """

    slm_px: tuple[float, float]
    camera_px: tuple[float, float]
    sample_um: tuple[float, float]

    @property
    def needed(self) -> bool:
        """Whether anything must move."""
        return any(v != 0.0 for v in self.slm_px)


def plan_for(targets: Sequence[Any], calibration: Any, geometry: Any, radius_px: float,
             refusal: Callable[[float, float], str | None]) -> FieldShift | None:
    """The smallest shift that lets every target of ``targets`` (camera px) be stimulated, or ``None``.

    ``refusal(x, y)`` is the session's rule for a camera target; ``None`` when there is no calibration,
    no target, or no shift that clears the zero order inside the addressable field.
    """
    if calibration is None or not targets:
        return None
    xy = np.array([[float(t.x), float(t.y)] for t in targets], dtype=np.float64)
    slm = calibration.camera_to_slm(xy)
    ny, nx = geometry.shape
    d = plan_field_shift(slm, geometry.zero_order_slm, radius_px, (0.0, 0.0), (nx - 1.0, ny - 1.0))
    if d is None:
        return None
    o = calibration.camera_to_slm(np.zeros((1, 2)))[0]
    rows = calibration.camera_to_slm(np.eye(2)) - o  # row k: the SLM shift of one camera px along axis k
    d_cam = np.linalg.solve(rows.T, d)
    if any(refusal(x, y) is not None for x, y in xy + d_cam):
        return None  # the planner's field and the session's rule disagree: offer nothing rather than wrong
    d_um = d * geometry.fourier_pitch_um / geometry.magnification
    return FieldShift(tuple(map(float, d)), tuple(map(float, d_cam)), tuple(map(float, d_um)))
