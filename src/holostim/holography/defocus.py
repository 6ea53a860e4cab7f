"""Axial spot placement for the engines: the defocus models of :mod:`holostim.optics.defocus`.

The formulas (paraxial and high-NA, their :class:`DefocusModel` and the axial resolution) live in the
optics core, so that the simulated rig (:mod:`holostim.sim`, which sits beside the holography and may not
import it) focuses its light with exactly the formula the engines place spots with. This module is the
holography's name for them; the objects are the same.
"""

from __future__ import annotations

from holostim.optics.defocus import (
    DEFOCUS_MODELS,
    DefocusError,
    DefocusModel,
    axial_resolution_um,
    high_na_phase,
    paraxial_phase,
)

__all__ = ["DEFOCUS_MODELS", "DefocusError", "DefocusModel", "axial_resolution_um", "high_na_phase",
           "paraxial_phase"]
