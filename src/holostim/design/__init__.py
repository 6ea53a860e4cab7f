"""Gradient-based hologram design: optimise the SLM phase through a realistic model of the rig.

* :mod:`.model` -- the realistic forward model (quantisation and LUT, pixels and fill factor, pixel
  crosstalk, Zernike aberrations, illumination, focal planes, a scalar or vectorial objective), as a
  YAML spec and a pure function of the phase built from :mod:`holostim.optics`;
* :mod:`.spots` -- where each spot's power is counted (a disc around it, in its plane);
* :mod:`.optimize` -- Adam (optax) on the phase under ``jax.jit``, from a WGS mask or a random phase;
* :mod:`.evaluate` -- any mask judged on the same model in numpy (the referee, not the optimiser's loss).

Masks come out as ordinary masks (float radians in ``[0, 2π)``, :func:`holostim.holography.io.save_phase`).
JAX and optax (the ``design`` extra) are imported only when a design is optimised.
"""

from __future__ import annotations

from holostim.design.errors import DesignError, DesignModelFileError
from holostim.design.evaluate import DesignMetrics, Evaluator, evaluate_mask
from holostim.design.model import OBJECTIVES, DesignModel, ForwardModel, load_design_model, parse_design_model
from holostim.design.optimize import DesignResult, LossWeights, design_mask, wgs_mask
from holostim.design.spots import DesignTarget

__all__ = ["OBJECTIVES", "DesignError", "DesignMetrics", "DesignModel", "DesignModelFileError",
           "DesignResult", "DesignTarget", "Evaluator", "ForwardModel", "LossWeights", "design_mask",
           "evaluate_mask",           "load_design_model", "parse_design_model", "wgs_mask"]
