"""The simulated world a simulated camera looks at: a sample, its activity, and the SLM's light on it.

Lets the whole application — clicking neurons, computing masks, calibration, the stimulation log — run
with no hardware, and gives tests a ground truth to check against. Time is explicit: every query names
its time ``t`` (seconds on the SLM's monotonic clock), so a test that drives the world with a
:class:`~holostim.sim.clock.SimulatedClock` is deterministic and fast.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from holostim.checks import shape_pair
from holostim.sim.activity import Activity, Calcium
from holostim.sim.errors import SimulationConfigError
from holostim.sim.light import Light, LightPath
from holostim.sim.network import Network, NetworkParams
from holostim.sim.sample import Sample, Scene

DEFAULT_LASER_MW = 10.0
"""The simulated laser's power at the sample when the rig states none (mW)."""


def camera_shape(shape: Any) -> tuple[int, int]:
    """``(height, width)`` of a simulated camera: two integers, each at least 16 pixels."""
    h, w = shape_pair(shape, "camera shape", SimulationConfigError)
    if h < 16 or w < 16:
        raise SimulationConfigError(f"camera shape={shape!r}: both sides must be at least 16 pixels")
    return h, w


class SimulatedWorld:
    """A sample under the objective, lit through an SLM, seen on a camera's pixel grid.

    Not thread-safe: the simulated camera serialises calls (its acquisition thread and the GUI share it).

    Parameters
    ----------
    slm : SLM-like or None
        The panel whose ``displayed_phase(t)`` lights the sample (``shape``, ``pitch_um``,
        ``wavelength_um`` are read from it; ``laser_permitted`` gates the light). ``None``: no light.
    shape : (int, int)
        Camera frame ``(height, width)``.
    scene, activity, light_path :
        The sample, its dynamics and the optics (defaults: :class:`Scene`, :class:`Activity`,
        :class:`LightPath` with their defaults).
    seed : int
        Seeds the sample layout and the spikes.
    laser_on : callable or None
        ``laser_on(t) -> bool``, the laser gate at time ``t`` (see :class:`~holostim.sim.light.Light`);
        ``None``: the light is on while the SLM's interlock permits.
    network : NetworkParams or None
        A responding network (:mod:`holostim.sim.network`) instead of the rate model of ``activity``.
    laser_mw : callable, float or None
        The laser's power at the sample while the gate is open (``laser_mw(t)``, e.g. the DAQ's power
        line); ``None``: :data:`DEFAULT_LASER_MW`. Only the network's opsin uses it.
    """

    def __init__(
        self,
        slm: Any = None,
        shape: tuple[int, int] = (512, 512),
        *,
        scene: Scene | None = None,
        activity: Activity | None = None,
        light_path: LightPath | None = None,
        seed: int = 0,
        laser_on: Callable[[float], bool] | None = None,
        network: NetworkParams | None = None,
        laser_mw: Callable[[float], float | None] | float | None = None,
    ) -> None:
        self.shape = camera_shape(shape)
        self.slm = slm
        self.scene = scene if scene is not None else Scene()
        self.activity = activity if activity is not None else Activity()
        self.light_path = light_path if light_path is not None else LightPath()
        self.seed = int(seed)
        self.light = Light(slm, self.shape, self.light_path, laser_on)
        self.sample = Sample(self.scene, self.shape, self.seed)
        self.network = None if network is None else Network(network, self.sample.n_neurons, self.seed)
        self.calcium: Calcium | Network = (Calcium(self.activity, self.sample.n_neurons, self.seed)
                                           if self.network is None else self.network)
        self._laser_mw = laser_mw
        self._drive_of: tuple[tuple[int, ...], np.ndarray] | None = None
        self._t_last: float | None = None
        self._imaging = self.light.imaging

    # ------------------------------------------------------------------ the imaged plane
    @property
    def focus_um(self) -> float:
        """The plane the camera images, true µm from its nominal focal plane (positive: deeper)."""
        return self.light.focus_um

    @focus_um.setter
    def focus_um(self, value: float) -> None:
        from holostim.checks import finite

        z = finite(value, "focus_um", SimulationConfigError)
        if abs(z) > 5000.0:
            raise SimulationConfigError(f"focus_um={value!r} is beyond ±5000 µm of the focal plane")
        self.light.focus_um = z

    @property
    def depths_um(self) -> np.ndarray:
        """``(N,)`` each neuron's depth, true µm from the nominal focal plane."""
        return self.sample.depths_um

    def light_image(self, t: float) -> np.ndarray:
        """The light on the sample in camera pixels (fraction of laser power per pixel) at time ``t``."""
        return self.light.update(t).copy()

    def expected_rate(self, t: float) -> np.ndarray:
        """Noiseless photoelectrons per ms per pixel at time ``t`` (advances the dynamics to ``t``)."""
        light = self.light.update(t)
        self._advance(t, light)
        return self.sample.emission(self.calcium.dff, light, self.light.focus_um, self._imaging)

    def laser_mw(self, t: float) -> float:
        """The laser's power at the sample while its gate is open (mW), for the network's opsin."""
        mw = self._laser_mw(t) if callable(self._laser_mw) else self._laser_mw
        return DEFAULT_LASER_MW if mw is None else float(mw)

    def _gate(self, t: float) -> bool:
        if self.slm is None:
            return False
        if self.light.laser_on is not None:
            return bool(self.light.laser_on(t))
        return bool(getattr(self.slm, "laser_permitted", True))

    def _drive(self, t: float) -> np.ndarray:
        """Fraction of the laser power on each soma for the frame shown at ``t``, each at its own depth.

        One matvec per frame and plane (the light of each plane is cached per frame by the light).
        """
        patterns = {z: self.light.pattern(t, z) for z in self.sample.planes}
        ids = tuple(id(p) for p in patterns.values())
        if self._drive_of is None or self._drive_of[0] != ids:
            self._drive_of = (ids, self.sample.drive_in_planes(patterns))
        return self._drive_of[1]

    def _lit_drive(self, t: float, light: np.ndarray) -> np.ndarray:
        """Fraction of the laser power on each soma at ``t``, each from the light at its own depth."""
        planes = self.sample.planes
        if len(planes) == 1 and planes[0] == self.light.focus_um:
            return self.sample.drive(light)  # a flat sample in focus: the imaged plane's light itself
        return self.sample.drive_in_planes({z: self.light.at(t, z) for z in planes})

    def _advance(self, t: float, light: np.ndarray) -> None:
        if self.network is not None:
            if self.scene.sample == "neurons" and self.sample.n_neurons:
                self.network.advance(t, self._gate, self._drive, self.laser_mw)
            return
        if self._t_last is None:
            self._t_last = t
            return
        dt = t - self._t_last
        if dt <= 0:
            return
        self._t_last = t
        n = self.sample.n_neurons
        if n == 0:
            return
        lit = self.scene.sample == "neurons" and self.slm is not None
        self.calcium.step(dt, self._lit_drive(t, light) if lit else np.zeros(n))
