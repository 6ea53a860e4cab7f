"""The simulated rig's camera: a thin :class:`Camera` over the simulated world (:mod:`holostim.sim`).

The world renders the scene at ``clock()`` — ``time.monotonic`` by default, the same base as the SLM's
frame stamps — and the sensor turns it into counts; this module only adds what makes it a camera:
exposure, streaming, locking and a name. Tests pass a :class:`~holostim.sim.SimulatedClock` and advance
it, which makes the dynamics deterministic and fast.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np

from holostim.hardware.camera.base import Camera, CameraConfigError, CameraOptions
from holostim.sim import (
    Activity,
    GroundTruth,
    LightPath,
    NetworkParams,
    Readout,
    Scene,
    Sensor,
    SimulatedWorld,
    SimulationConfigError,
)


class SimulatedOptions(CameraOptions):
    """The simulated rig's camera; its scene is set in the ``simulation`` section."""


class SimulatedCamera(Camera):
    """A camera on the simulated rig.

    Parameters
    ----------
    slm : SimulatedSLM or None
        The panel whose displayed phase lights the sample; ``None``: no light.
    shape : (int, int)
        Camera frame ``(height, width)``, at least 16 × 16.
    scene, activity, light_path, sensor :
        The rig's parts (:class:`~holostim.sim.Scene`, :class:`~holostim.sim.Activity`,
        :class:`~holostim.sim.LightPath`, :class:`~holostim.sim.Sensor`); ``None``: their defaults.
    exposure_ms, fps : float
        Exposure and streaming rate.
    seed : int
        Seeds the sample layout, the spikes and the noise.
    clock : callable
        Time base in seconds, shared with the SLM's frame stamps (``time.monotonic`` by default).
    name : str
        Identifier recorded with calibrations.
    laser_on : callable or None
        ``laser_on(t) -> bool`` on the camera's clock: the laser gate at ``t`` (a session with a DAQ
        passes the gate's history); ``None``: the light is on while the SLM's interlock permits.
    network, laser_mw :
        A responding network and the laser's power for its opsin (see :class:`~holostim.sim.SimulatedWorld`).

    Raises
    ------
    CameraConfigError
        A shape, or a scene that cannot be laid out (too many neurons for the field).
    """

    Options = SimulatedOptions

    acquisition_nice = 10
    """Rendering the rig is CPU work a real camera does in its own hardware: on a small machine it must
    not take the cores from the hologram computation (the GUI's compute worker runs at nice 4)."""

    def __init__(
        self,
        slm: Any = None,
        shape: tuple[int, int] = (512, 512),
        *,
        scene: Scene | None = None,
        activity: Activity | None = None,
        light_path: LightPath | None = None,
        sensor: Sensor | None = None,
        exposure_ms: float = 20.0,
        fps: float = 30.0,
        seed: int = 0,
        clock: Callable[[], float] | None = None,
        name: str = "simulated",
        laser_on: Callable[[float], bool] | None = None,
        network: NetworkParams | None = None,
        laser_mw: Callable[[float], float | None] | float | None = None,
    ) -> None:
        super().__init__(exposure_ms=exposure_ms, fps=fps, name=name)
        self.slm = slm
        self.clock: Callable[[], float] = clock or time.monotonic
        try:
            self.world = SimulatedWorld(slm, shape, scene=scene, activity=activity, light_path=light_path,
                                        seed=seed, laser_on=laser_on, network=network, laser_mw=laser_mw)
        except SimulationConfigError as exc:  # a bad camera option, as the session reports it
            raise CameraConfigError(str(exc)) from exc
        self._sensor = sensor if sensor is not None else Sensor()
        self._readout = Readout(self._sensor, self.world.shape, self.world.seed)

    @property
    def sensor(self) -> Sensor:
        """The sensor; setting another one restarts its noise generators from the camera's seed."""
        return self._sensor

    @sensor.setter
    def sensor(self, sensor: Sensor) -> None:
        with self._io_lock:
            self._readout.close()
            self._sensor = sensor
            self._readout = Readout(sensor, self.world.shape, self.world.seed)

    # ------------------------------------------------------------------ the hidden truth
    @property
    def ground_truth(self) -> GroundTruth:
        """The hidden SLM → camera map."""
        return self.world.light_path.ground_truth

    @property
    def true_slm_to_camera(self) -> np.ndarray:
        """2×3 SLM Fourier px ``(x, y, 1)`` → camera px: what calibration must find."""
        return self.world.light.slm_to_camera

    @property
    def true_camera_to_slm(self) -> np.ndarray:
        """2×3 camera px ``(x, y, 1)`` → SLM Fourier px, the inverse of :attr:`true_slm_to_camera`."""
        return self.world.light.camera_to_slm

    @property
    def true_defocus(self) -> tuple[float, float]:
        """``(defocus_scale, defocus_offset_um)``: nominal ``z`` really focuses at ``scale·z + offset``."""
        gt = self.ground_truth
        return float(gt.defocus_scale), float(gt.defocus_offset_um)

    @property
    def neuron_depths_um(self) -> np.ndarray:
        """``(N,)`` each neuron's depth, true µm from the nominal focal plane (positive: deeper)."""
        return self.world.depths_um

    # ------------------------------------------------------------------ the imaged plane
    @property
    def focus_um(self) -> float:
        """The plane the camera images, µm from the nominal focal plane (positive: deeper).

        The simulated focus drive of the imaging path: moving it changes which neuron plane looks sharp
        and where the light pattern is seen (the slide sample is a thin layer carried in the imaged
        plane, as on a substage calibration camera). Settable from any thread; the next frame shows it.
        """
        with self._io_lock:
            return self.world.focus_um

    @focus_um.setter
    def focus_um(self, value: float) -> None:
        with self._io_lock:  # a frame is rendered at one focus, never half at the old one
            try:
                self.world.focus_um = value
            except SimulationConfigError as exc:
                raise CameraConfigError(str(exc)) from exc

    @property
    def n_neurons(self) -> int:
        """Number of neurons in the sample."""
        return self.world.sample.n_neurons

    @property
    def network(self) -> Any:
        """The responding network (its ``spikes`` are the ground truth), or ``None`` with the rate model."""
        return self.world.network

    @property
    def neuron_positions(self) -> np.ndarray:
        """``(N, 2)`` soma centres ``(x, y)`` in camera pixels."""
        return self.world.sample.positions

    # ------------------------------------------------------------------ images at a time
    def light_image(self, t: float | None = None) -> np.ndarray:
        """The light on the sample in camera pixels (fraction of laser power per pixel) at time ``t``."""
        with self._io_lock:  # the acquisition thread updates the same cache
            return self.world.light_image(self.clock() if t is None else float(t))

    def expected_rate(self, t: float | None = None) -> np.ndarray:
        """Noiseless photoelectrons per ms per pixel at time ``t`` (advances the dynamics to ``t``)."""
        with self._io_lock:  # one state update at a time (GUI thread and acquisition thread)
            return self.world.expected_rate(self.clock() if t is None else float(t))

    def render(self, t: float | None = None) -> np.ndarray:
        """One camera frame at time ``t`` (default ``clock()``): exposure, noise, gain, bit depth."""
        with self._io_lock:  # the noise generator and the dynamics are shared with the acquisition thread
            electrons = self.expected_rate(t) * np.float32(self.exposure_ms)
            return self._readout.read(electrons)

    # ------------------------------------------------------------------ Camera interface
    @property
    def shape(self) -> tuple[int, int]:  # noqa: D102
        return self.world.shape

    @property
    def dtype(self) -> np.dtype:  # noqa: D102
        return self.sensor.dtype

    def _grab(self) -> np.ndarray:
        return self.render()

    def _release(self) -> None:
        self._readout.close()
