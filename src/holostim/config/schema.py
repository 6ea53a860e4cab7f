"""The session schema: one frozen pydantic model per section, unknown keys rejected.

On a laser rig a forgotten safety limit is worse than a refusal to start, so a misspelt key is an error
rather than a silently ignored setting. Saving writes the same schema back; paths below the new file's
folder are written relative to it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from holostim.config.camera import CameraConfig, SimulatedCameraConfig
from holostim.config.daq import DaqConfig, no_daq
from holostim.config.slm_devices import HoloeyeOptions, MeadowlarkOptions, SimulatedSLMOptions
from holostim.config.types import (
    MAX_SIDE_PX,
    ExistingFile,
    GrayFor2Pi,
    NonNegativeFloat,
    PositiveFloat,
    ResolvedPath,
    Section,
    YamlDocument,
)
from holostim.errors import HolostimError
from holostim.hardware.registry import names

CONFIG_VERSION = 1

SLM_BACKENDS = names("slm")
"""The ``slm.backend`` words: the registry's SLM backends."""


def _side_bound(shape: tuple[int, int], what: str) -> tuple[int, int]:
    if max(shape) > MAX_SIDE_PX:
        raise ValueError(f"a {what} side of at most {MAX_SIDE_PX} px is supported (no panel or camera is "
                         f"larger; the engine's buffers would not fit in memory), got {list(shape)}")
    return shape


class SLMConfig(Section):
    """The spatial light modulator and the phase→gray pipeline in front of it.

    Key names are those of :class:`holostim.hardware.slm.SLM` (see :meth:`slm_kwargs`).
    """

    backend: Literal[SLM_BACKENDS] = "simulated"  # type: ignore[valid-type]  # the registry's names
    screen: str | None = Field(
        None, description="OpenGL backend: the screen's name, serial or geometry WxH+X+Y (never an index)"
    )
    shape: tuple[Annotated[int, Field(ge=2)], Annotated[int, Field(ge=2)]] = Field(
        (512, 512), description="(rows, columns) of SLM pixels"
    )
    pitch_um: PositiveFloat = Field(9.2, description="pixel pitch")
    fill_factor: Annotated[float, Field(gt=0, le=1)] = 0.95
    wavelength_um: Annotated[float, Field(gt=0.2, lt=20)] = 1.04
    two_pi_gray: GrayFor2Pi | dict[PositiveFloat, GrayFor2Pi] = Field(
        255.0, description="gray for 2π (linear panels); or {wavelength_um: gray}"
    )
    two_pi_gray_wavelength_um: PositiveFloat | None = Field(
        None, description="wavelength two_pi_gray was measured at; default: the working wavelength"
    )
    lut: ExistingFile | dict[PositiveFloat, ExistingFile] | None = Field(
        None, description="phase LUT file (2^bits entries), or {wavelength_um: file}; overrides two_pi_gray"
    )
    flatness: ExistingFile | None = Field(None, description="vendor wavefront-correction image (BMP/PNG)")
    flatness_wavelength_um: PositiveFloat | None = None
    flatness_two_pi_gray: PositiveFloat = 256.0
    zernike: dict[Annotated[int, Field(ge=0)], float] = Field(
        default_factory=dict, description="aberration correction: ANSI index -> radians (orthonormal)"
    )
    zernike_radius_px: PositiveFloat | None = None
    blaze: tuple[float, float] = Field((0.0, 0.0), description="grating (gx, gy) in cycles per pixel")
    fresnel_focal_um: float | None = Field(None, description="Fresnel lens offset focal length")
    refresh_hz: PositiveFloat | None = Field(
        None, description="panel frame rate; default: the screen's (opengl) or 60 Hz (simulated)"
    )
    fullscreen: bool = Field(True, description="opengl: False only for development (a plain window)")
    settle_tau_ms: NonNegativeFloat = Field(
        10.0, description="the panel's liquid-crystal response time τ (datasheet; simulated: modelled)"
    )
    settle_taus: NonNegativeFloat = Field(
        3.0, description="the laser gate opens this many τ after the swap (3τ: 95 % settled)"
    )
    bits: Literal[8, 10, 12] = Field(
        8, description="gray depth of the frames: 8, or 10/12 (LUT of 1024/4096 entries; OpenGL: RGB-encoded)"
    )
    simulated: SimulatedSLMOptions = SimulatedSLMOptions()
    meadowlark: MeadowlarkOptions = MeadowlarkOptions()
    holoeye: HoloeyeOptions = HoloeyeOptions()

    @field_validator("lut", mode="after")
    @classmethod
    def _check_lut(cls, lut: Any) -> Any:
        # The SLM layer's own parser decides what a valid table is (256 monotonic 8-bit entries).
        from holostim.hardware.slm import load_lut

        for path in (lut.values() if isinstance(lut, dict) else [lut] if lut is not None else []):
            try:
                load_lut(path)
            except HolostimError as exc:
                raise ValueError(str(exc)) from None
        return lut

    @field_validator("shape")
    @classmethod
    def _check_shape(cls, shape: tuple[int, int]) -> tuple[int, int]:
        return _side_bound(shape, "SLM")

    @field_validator("flatness", mode="after")
    @classmethod
    def _check_flatness(cls, path: Path | None, info: ValidationInfo) -> Path | None:
        # What the SLM would load at open, now: an image of the panel's size (header checked first).
        from holostim.hardware.slm.corrections import load_flatness

        shape = info.data.get("shape")
        if path is not None and shape is not None:
            try:
                load_flatness(path, shape)
            except HolostimError as exc:
                raise ValueError(str(exc)) from None
        return path

    @field_validator("fresnel_focal_um", mode="before")  # before the finite-number check: its own words
    @classmethod
    def _check_fresnel(cls, f: float | None) -> float | None:
        from holostim.hardware.slm.corrections import fresnel_focal_um  # the SLM's own check, once

        return fresnel_focal_um(f, ValueError)

    @model_validator(mode="after")
    def _check_gray_scale(self) -> SLMConfig:
        # The gray scale the SLM builds at open, built now: a two_pi_gray or LUT for another wavelength,
        # or one the wavelength scaling pushes past 256, is refused by the session's validation.
        from holostim.config.consistency import refuse
        from holostim.hardware.slm.lut import gray_scale

        kw = self.slm_kwargs()
        try:
            gray_scale(self.wavelength_um, kw.get("two_pi_gray"), kw.get("two_pi_gray_wavelength_um"),
                       kw.get("lut"), bits=self.bits)
        except HolostimError as exc:
            refuse(("lut",) if self.lut is not None else ("two_pi_gray",), str(exc), None)
        return self

    @property
    def frame_period_ms(self) -> float:
        """One display frame in milliseconds (60 Hz when the rate is left to the screen)."""
        return 1000.0 / (self.refresh_hz or 60.0)

    def slm_kwargs(self, safety: SafetyConfig | None = None) -> dict[str, Any]:
        """Keyword arguments for :class:`holostim.hardware.slm.SLM` (and its subclasses)."""
        kw: dict[str, Any] = {
            "shape": self.shape,
            "pitch_um": self.pitch_um,
            "wavelength_um": self.wavelength_um,
            "flatness": self.flatness,
            "flatness_wavelength_um": self.flatness_wavelength_um,
            "flatness_two_pi_gray": self.flatness_two_pi_gray,
            "zernike": dict(self.zernike),
            "zernike_radius_px": self.zernike_radius_px,
            "blaze": self.blaze,
            "fresnel_focal_um": self.fresnel_focal_um,
            "refresh_hz": self.refresh_hz,
            "settle_tau_ms": self.settle_tau_ms,
            "bits": self.bits,
        }
        if self.lut is not None:
            kw["lut"] = self.lut
        else:
            kw["two_pi_gray"] = self.two_pi_gray
            kw["two_pi_gray_wavelength_um"] = self.two_pi_gray_wavelength_um
        if safety is not None:
            kw["stale_frames"] = safety.interlock_frames
            kw["stale_ms"] = safety.interlock_ms
        return {k: v for k, v in kw.items() if v is not None}


class OpticsConfig(Section):
    """The relay from SLM to sample."""

    focal_length_um: PositiveFloat = Field(200_000.0, description="Fourier lens after the SLM")
    magnification: PositiveFloat = Field(
        50.0, description="Fourier plane → sample demagnification (relay and objective together)"
    )
    objective_na: Annotated[float, Field(gt=0, le=1.7)] = 0.8
    beam_waist_um: PositiveFloat | None = Field(
        None, description="1/e² intensity radius of the source beam on the SLM; none = flat illumination"
    )
    medium_index: Annotated[float, Field(ge=1.0, le=2.0)] | None = Field(
        None, description="refractive index of the sample medium (spot depths are in it); none = water 1.33"
    )
    defocus_model: Literal["paraxial", "high_na"] = Field(
        "high_na", description="how a spot depth z_um becomes SLM defocus: thin-lens term or exact high-NA"
    )

    @model_validator(mode="after")
    def _na_below_index(self) -> OpticsConfig:
        if self.medium_index is not None and self.objective_na >= self.medium_index:
            raise ValueError(f"objective_na {self.objective_na:g} must be below medium_index "
                             f"{self.medium_index:g}: an objective's NA cannot exceed its medium's index "
                             "(water 1.33, glycerol 1.47, oil 1.518)")
        return self

    @property
    def index(self) -> float:
        """The medium index in use: ``medium_index``, or water's 1.33 when it is not given."""
        return 1.33 if self.medium_index is None else self.medium_index


class EngineConfig(Section):
    """Phase retrieval settings (see :class:`holostim.holography.HologramEngine`)."""

    backend: Literal["auto", "numpy", "cupy"] = "auto"
    precision: Literal["single", "double"] = "single"
    method: Literal["gs", "wgs", "wgs-kim", "raar"] = "wgs"
    iterations: Annotated[int, Field(gt=0, le=10_000)] = 20
    tolerance: PositiveFloat | None = Field(None, description="stop when tolerance_error falls below")
    budget_ms: PositiveFloat | None = Field(None, description="stop when this much time is spent")
    padding: Annotated[int, Field(ge=1, le=4)] = Field(1, description="far-field oversampling factor")
    spot_algorithm: Literal["auto", "fft", "direct"] = Field(
        "auto", description="2-D spots by FFT or direct sum (auto: by spot count); 3-D always direct"
    )
    warm_start: bool = Field(True, description="start from the last phase when targets changed little")
    warm_start_max_shift_px: NonNegativeFloat = Field(
        5.0, description="largest spot move (Fourier px) that still warm-starts"
    )
    cuda_graph: bool = Field(
        False, description="GPU: replay a fixed-iteration loop as one CUDA graph (a tolerance, budget or "
        "numpy backend runs the plain loop)"
    )
    power_compensation: bool = Field(
        True, description="divide each spot's weight by its diffraction efficiency (slm.fill_factor and "
        "the calibration's power map), so far spots get the power asked for"
    )


class CalibrationConfig(Section):
    """Camera↔SLM calibration: where it lives and how it is measured."""

    file: ResolvedPath | None = Field(None, description="YAML written by `holostim calibrate`")
    grid: Annotated[int, Field(ge=3, le=7)] = 5
    zero_order_radius_px: NonNegativeFloat = Field(
        8.0, description="targets closer than this to the zero order (Fourier px) are refused"
    )
    auto_in_simulation: bool = Field(
        True, description="simulation only: calibrate on open when the file is missing"
    )
    laser_power_mw: PositiveFloat | None = Field(
        None,
        description="laser power at the sample during calibration (all light in the pattern); its spots "
        "obey the safety limits; none = the laser stays blocked during calibration",
    )

    @field_validator("file", mode="after")
    @classmethod
    def _check_file(cls, path: Path | None) -> Path | None:
        from holostim.config.consistency import check_calibration_path

        return check_calibration_path(path)


class SafetyConfig(Section):
    """Limits checked before any pattern reaches the SLM."""

    max_spots: Annotated[int, Field(gt=0)] = 100
    laser_power_mw: PositiveFloat | None = Field(
        None,
        description="power reaching the sample if all light went into the pattern; none = not stated, "
        "and then the laser is never permitted (the power at the sample would be unknown)",
    )
    max_power_per_spot_mw: PositiveFloat = 20.0
    max_total_power_mw: PositiveFloat = 500.0
    max_depth_um: PositiveFloat = Field(
        300.0, description="targets deeper or shallower than this (|z_um| from the focal plane) are "
        "refused; the SLM's own defocus range (where its lens phase would alias) applies as well"
    )
    interlock_frames: PositiveFloat = Field(
        3.0, description="laser off when the last swap is older than this many frame periods"
    )
    interlock_ms: PositiveFloat | None = Field(None, description="the same limit in ms; overrides frames")
    test_patterns_with_laser: bool = Field(
        False, description="let the laser see test patterns (within the limits); off = blocked"
    )
    max_duty_cycle: Annotated[float, Field(gt=0, le=1, allow_inf_nan=False)] | None = Field(
        None, description="the most of any duty_window_ms the laser gate may be open, for every path "
        "(0.2 = 20 %); an opening over it is refused, one without a planned length cut; none = no limit"
    )
    duty_window_ms: Annotated[float, Field(gt=0, le=3_600_000.0, allow_inf_nan=False)] = Field(
        1000.0, description="the sliding window of max_duty_cycle (ms)"
    )

    @field_validator("interlock_frames", "interlock_ms", mode="after")
    @classmethod
    def _check_interlock(cls, value: float | None, info: ValidationInfo) -> float | None:
        # A stall detector that waits longer than this is off in practice: a frozen display would hold
        # the laser on one stale pattern for over a second (60 frames at 60 Hz) or five seconds at any
        # rate, longer than a stimulation train; 1e9 frames turns the interlock off without saying so.
        limit = {"interlock_frames": MAX_INTERLOCK_FRAMES, "interlock_ms": MAX_INTERLOCK_MS}[info.field_name]
        if value is not None and value > limit:
            raise ValueError(f"must be at most {limit:g} (a longer stall would not block the laser in time), "
                             f"got {value!r}")
        return value


MAX_INTERLOCK_FRAMES = 60.0
"""The longest stall, in frame periods, the interlock may wait before it blocks the laser (1 s at 60 Hz)."""
MAX_INTERLOCK_MS = 5000.0
"""The longest stall in milliseconds (``safety.interlock_ms``)."""


class LogConfig(Section):
    """The stimulation log."""

    directory: ResolvedPath = Path("logs")
    masks: Literal["none", "npz"] = Field(
        "none", description="npz: also store every uint8 frame in <log>.masks beside the log"
    )


FiniteFloat = Annotated[float, Field(allow_inf_nan=False)]


class GroundTruthConfig(Section):
    """The simulated rig's true SLM→camera affine; only the simulated camera reads it, never the app."""

    rotation_deg: float = 3.0
    scale: PositiveFloat | None = Field(None, description="camera px per SLM Fourier px; none = from optics")
    shear: float = 0.02
    mirror: bool = False
    offset_px: tuple[float, float] = (7.5, -4.25)
    fill_factor: Annotated[float, Field(gt=0, le=1)] | None = Field(
        None, description="the panel's true pixel fill factor; none = slm.fill_factor (as stated)")
    power_falloff: Annotated[float, Field(ge=0, lt=2)] = Field(
        0.0, description="a further smooth loss 1 - a (x_n² + y_n²) across the field")
    defocus_scale: Annotated[float, Field(ge=0.2, le=5)] = Field(
        1.04, description="true µm of focus shift per nominal µm of SLM defocus (what --depth measures)")
    defocus_offset_um: Annotated[float, Field(ge=-1000, le=1000)] = Field(
        2.0, description="true depth of the SLM's zero-defocus focus below the camera's focal plane")


class SimulationConfig(Section):
    """The simulated rig (used when ``camera.backend`` is ``simulated``).

    Keys are the fields of the rig's parts in :mod:`holostim.sim` (scene, activity, light path, sensor;
    see :meth:`SessionConfig.simulated_camera_kwargs`); the focal length and beam waist come from the
    ``optics`` section, exposure and frame rate from ``camera``.
    """

    seed: int = 0
    shape: tuple[Annotated[int, Field(ge=16)], Annotated[int, Field(ge=16)]] = Field(
        (512, 512), description="camera frame (height, width)"
    )
    camera_pixel_um: PositiveFloat | None = Field(None, description="camera pixel in the sample plane")

    @field_validator("shape")
    @classmethod
    def _check_shape(cls, shape: tuple[int, int]) -> tuple[int, int]:
        return _side_bound(shape, "camera")

    @model_validator(mode="after")
    def _check_neurons_fit(self) -> SimulationConfig:
        # The sample places neurons by random trials; more than random packing can hold never fits, and
        # the trials (200 per neuron, each against every placed one) would run for hours before saying so.
        from holostim.config.consistency import neurons_that_fit, refuse

        h, w = self.shape
        if self.n_neurons is not None:
            key, n = "n_neurons", self.n_neurons
        elif self.neuron_density is not None:  # per 100 × 100 px, as holostim.sim.Scene counts them
            key, n = "neuron_density", round(self.neuron_density * h * w / 1e4)
        else:
            return self
        most = neurons_that_fit(self.shape, self.neuron_radius_px)
        if n > most:
            refuse((key,), f"{n} neurons of radius {self.neuron_radius_px:g} px do not fit without overlap "
                   f"on a {h}×{w} camera (at most about {most}); lower {key} or neuron_radius_px", n)
        return self

    @model_validator(mode="after")
    def _check_depths(self) -> SimulationConfig:
        # The sample's own rule for its planes (one of the two keys, at most 16 planes, in order).
        from holostim.config.consistency import refuse
        from holostim.sim.depth import depth_planes
        from holostim.sim.errors import SimulationConfigError

        try:
            depth_planes(self.planes_um, self.depth_range_um, self.n_planes)
        except SimulationConfigError as exc:
            key = "planes_um" if self.planes_um is not None else "depth_range_um"
            refuse((key,), str(exc), getattr(self, key))
        return self

    @model_validator(mode="after")
    def _check_network(self) -> SimulationConfig:
        # The network's own checks (an indicator no transient can have, a connection to a neuron the
        # sample does not hold), reported at the key that holds the problem.
        from holostim.config.consistency import refuse
        from holostim.sim import NetworkParams, SimulationConfigError

        if self.activity_model != "network":
            return self
        names = {f.name for f in dataclasses.fields(NetworkParams)}
        try:
            NetworkParams(**{k: v for k, v in self.model_dump().items() if k in names})
        except SimulationConfigError as exc:
            msg = str(exc)
            key = ("indicator_half_decay_ms" if msg.startswith("indicator")
                   else msg.split("=")[0].split("[")[0])
            refuse((key if key in names else "activity_model",), msg, getattr(self, key, None))
        n = self.n_neurons
        for k, (a, b, _) in enumerate(self.connections):
            if a == b:
                refuse(("connections", k), f"neuron {a} cannot connect to itself", [a, b])
            if n is not None and max(a, b) >= n:
                refuse(("connections", k), f"the sample has {n} neurons (indices 0 to {n - 1}); "
                       f"[{a}, {b}] names another", [a, b])
        return self

    ground_truth: GroundTruthConfig = GroundTruthConfig()
    sample: Literal["neurons", "slide"] = "neurons"
    visible_spots: bool = Field(True, description="the camera also sees the light pattern")
    psf_sigma_px: NonNegativeFloat = 1.2
    spot_gain: NonNegativeFloat = 2.0e4
    n_neurons: Annotated[int, Field(ge=0)] | None = 40
    neuron_density: NonNegativeFloat | None = Field(None, description="per 100×100 px if n_neurons is null")
    neuron_radius_px: PositiveFloat = 6.0
    baseline: NonNegativeFloat = 10.0
    background: NonNegativeFloat = 2.0
    planes_um: list[FiniteFloat] | None = Field(
        None, description="depths the neurons lie at (µm from the focal plane, + deeper); none = all at 0")
    depth_range_um: tuple[FiniteFloat, FiniteFloat] | None = Field(
        None, description="[shallowest, deepest]: n_planes evenly spaced neuron planes (not with planes_um)")
    n_planes: Annotated[int, Field(ge=1, le=16)] = Field(5, description="planes across depth_range_um")
    focus_um: Annotated[float, Field(ge=-5000, le=5000)] = Field(
        0.0, description="the plane the camera images at start, µm from the focal plane (+ deeper)")
    spontaneous_hz: NonNegativeFloat = 0.2
    activity_model: Literal["rate", "network"] = Field(
        "rate", description="rate: Poisson at stim_hz while lit; network: spikes, synapses, opsin, GCaMP")
    connection_density: Annotated[float, Field(ge=0, le=1)] = Field(
        0.0, description="network: seeded random links a→b with this density")
    connection_weight: Annotated[float, Field(ge=0, le=1)] = Field(
        0.3, description="network: probability a random link passes a spike on")
    connections: list[tuple[Annotated[int, Field(ge=0)], Annotated[int, Field(ge=0)],
                            Annotated[float, Field(ge=0, le=1)]]] = Field(
        default_factory=list, description="network: [pre, post, probability] by neuron index")
    synaptic_delay_ms: NonNegativeFloat = 5.0
    opsin_threshold_uj: PositiveFloat = Field(
        5.0, description="network: light energy on a soma within opsin_window_ms that fires it (µJ)")
    opsin_window_ms: PositiveFloat = 10.0
    opsin_latency_ms: NonNegativeFloat = Field(3.0, description="network: threshold reached → spike")
    refractory_ms: NonNegativeFloat = 5.0
    indicator_peak_ms: PositiveFloat = Field(45.0, description="network: spike → ΔF/F peak (GCaMP6f)")
    indicator_half_decay_ms: PositiveFloat = Field(142.0, description="network: peak → half (GCaMP6f)")
    dt_ms: Annotated[float, Field(gt=0, le=2)] = Field(0.5, description="network: integration sub-step")
    stim_hz: NonNegativeFloat = 25.0
    threshold: PositiveFloat = 0.002
    spike_dff: NonNegativeFloat = 0.3
    tau_s: PositiveFloat = 0.5
    read_noise_e: NonNegativeFloat = 2.0
    full_well_e: PositiveFloat = 30000.0
    gain_e_per_adu: PositiveFloat = 2.0
    bit_depth: Annotated[int, Field(ge=1, le=16)] = 12
    dark_offset_adu: NonNegativeFloat = 100.0
    noise: bool = True


class TargetConfig(Section):
    """A saved stimulation target in camera pixels, with its stable id (the GUI's # and the log's)."""

    x: float
    y: float
    weight: PositiveFloat = 1.0
    group: Annotated[int, Field(ge=0)] = 0
    id: Annotated[int, Field(ge=1)] | None = None
    z_um: Annotated[float, Field(allow_inf_nan=False)] = Field(
        0.0, description="depth in the sample, µm from the focal plane (positive: deeper)"
    )


class SessionConfig(YamlDocument, Section):
    """One rig session: every section with its defaults; see ``config/rig-example.yaml``."""

    yaml_header: ClassVar[str] = f"# holostim session (schema version {CONFIG_VERSION})\n"

    version: int = CONFIG_VERSION
    name: str = "session"
    slm: SLMConfig = SLMConfig()
    camera: CameraConfig = SimulatedCameraConfig()
    daq: DaqConfig | None = None
    optics: OpticsConfig = OpticsConfig()
    engine: EngineConfig = EngineConfig()
    calibration: CalibrationConfig = CalibrationConfig()
    safety: SafetyConfig = SafetyConfig()
    log: LogConfig = LogConfig()
    simulation: SimulationConfig = SimulationConfig()
    targets: list[TargetConfig] = Field(default_factory=list)

    @field_validator("version")
    @classmethod
    def _check_version(cls, v: int) -> int:
        if v != CONFIG_VERSION:
            raise ValueError(f"session version {v} is not supported; this holostim reads version "
                             f"{CONFIG_VERSION}")
        return v

    @field_validator("daq", mode="before")
    @classmethod
    def _no_daq(cls, v: Any) -> Any:
        return no_daq(v)

    @field_validator("targets")
    @classmethod
    def _check_target_weights(cls, targets: list[TargetConfig]) -> list[TargetConfig]:
        from holostim.holography.targets import weight_problem  # the engine's own bound, once

        problem = weight_problem([t.weight for t in targets])
        if problem is not None:
            raise ValueError(problem)
        return targets

    @model_validator(mode="after")
    def _check_together(self) -> SessionConfig:
        # What Session.open would refuse about sections together (devices, the calibration file), so
        # that a valid session opens and the GUI and check-config agree.
        from holostim.config.consistency import check_session

        check_session(self)
        return self

    @property
    def simulated(self) -> bool:
        """True when the session needs no hardware at all (its DAQ, if any, simulated too)."""
        return (self.slm.backend == "simulated" and self.camera.backend == "simulated"
                and (self.daq is None or self.daq.backend == "simulated"))

    @property
    def fourier_pitch_um(self) -> float:
        """Pixel pitch of the Fourier plane, ``λ f / (N dx)`` along x (the first-order scale)."""
        n = self.slm.shape[1] * self.engine.padding
        return self.slm.wavelength_um * self.optics.focal_length_um / (n * self.slm.pitch_um)

    def simulated_camera_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of :class:`~holostim.hardware.camera.SimulatedCamera` (without ``slm``).

        The flat ``simulation`` keys go to the rig part they describe (:class:`~holostim.sim.Scene`,
        :class:`~holostim.sim.Activity`, :class:`~holostim.sim.LightPath`, :class:`~holostim.sim.Sensor`);
        the focal length and beam waist come from ``optics``, exposure and frame rate from ``camera``.
        """
        from holostim.sim import Activity, GroundTruth, LightPath, NetworkParams, Scene, Sensor

        sim = self.simulation.model_dump()
        truth = {k: v for k, v in sim.pop("ground_truth").items() if v is not None}
        ground_truth = GroundTruth(**{"fill_factor": self.slm.fill_factor, **truth})

        def part(cls: type, **more: Any) -> Any:  # the keys of one rig part; None leaves its default
            names = {f.name for f in dataclasses.fields(cls)}
            return cls(**{k: v for k, v in {**sim, **more}.items() if k in names and v is not None})

        kw: dict[str, Any] = {
            "shape": sim["shape"],
            "seed": sim["seed"],
            "scene": part(Scene),
            "activity": part(Activity),
            "light_path": part(LightPath, focal_length_um=self.optics.focal_length_um,
                               beam_waist_um=self.optics.beam_waist_um, ground_truth=ground_truth,
                               magnification=self.optics.magnification,
                               objective_na=self.optics.objective_na, medium_index=self.optics.index),
            "sensor": part(Sensor),
        }
        if sim["activity_model"] == "network":
            kw["network"] = part(NetworkParams)
        kw.update(self.camera.options())
        # The name identifies this simulated rig (scene, hidden transform, SLM and optics): a calibration
        # records it, so one measured on another simulated rig is recognised as stale.
        rig = {"simulation": self.simulation.model_dump(mode="json"),
               "slm": self.slm.model_dump(mode="json"), "optics": self.optics.model_dump(mode="json")}
        digest = hashlib.sha256(json.dumps(rig, sort_keys=True).encode()).hexdigest()[:10]
        kw["name"] = f"simulated-{digest}"
        return kw

    def defocus_model(self) -> Any:
        """The :class:`~holostim.holography.defocus.DefocusModel` of this rig (spot depths → SLM phase).

        ``None`` when the objective's NA is not below the medium index in use (an oil objective with
        no ``optics.medium_index``): such a session stays valid, but its 3-D targets are refused.
        """
        from holostim.holography.defocus import DefocusModel

        o = self.optics
        if o.objective_na >= o.index:
            return None
        return DefocusModel(o.defocus_model, self.slm.wavelength_um, o.focal_length_um, o.magnification,
                            self.slm.pitch_um, o.objective_na, o.index)

    def engine_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of :class:`~holostim.holography.HologramEngine` (shape, backend, ...)."""
        waist = self.optics.beam_waist_um
        return {
            "shape": self.slm.shape,
            "backend": self.engine.backend,
            "precision": self.engine.precision,
            "padding": self.engine.padding,
            "cuda_graph": self.engine.cuda_graph,
            "source": "uniform" if waist is None else ("gaussian", waist / self.slm.pitch_um),
            "spot_algorithm": self.engine.spot_algorithm,
            "defocus": self.defocus_model(),
        }

    def to_dict(self, relative_to: str | Path | None = None) -> dict[str, Any]:
        """Plain Python (YAML/JSON-safe) values; paths relative to ``relative_to`` where below it."""
        base = Path(relative_to).resolve() if relative_to is not None else None
        data = _plain(self.model_dump(mode="python"), base)
        camera = data["camera"]  # the backend first: it decides which other keys are allowed
        data["camera"] = {"backend": camera.pop("backend"), **camera}
        if data.get("daq") is not None:
            daq = data["daq"]
            data["daq"] = {"backend": daq.pop("backend"), **daq}
        return data


def _plain(value: Any, base: Path | None) -> Any:
    """Model dump → YAML-safe values: tuples as lists, paths as strings (relative where possible)."""
    if isinstance(value, dict):
        return {k: _plain(v, base) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v, base) for v in value]
    if isinstance(value, Path):
        if base is not None:
            try:
                return value.resolve().relative_to(base).as_posix()
            except ValueError:
                pass
        return str(value)
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value
