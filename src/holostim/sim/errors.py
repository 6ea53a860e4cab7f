"""The one error of the simulated world: a parameter that cannot describe a rig."""

from __future__ import annotations

from holostim.errors import HolostimError


class SimulationConfigError(HolostimError, ValueError):
    """A simulated-rig parameter out of range (a negative rate, an unknown sample, too many neurons).

    The simulated devices re-raise it as their own configuration error (the simulated camera as
    ``CameraConfigError``), so a session reports it like any other bad camera option.
    """
