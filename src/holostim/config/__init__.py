"""The session file: a typed, validated, versioned YAML description of one rig.

A session says which SLM, camera, optics, engine settings, calibration and safety limits are in use.
It is parsed with ``yaml.safe_load`` semantics and validated with pydantic v2 models that forbid
unknown keys. Errors name the file, the line and the key path (the YAML nodes keep their marks), say
what was expected, and suggest the closest valid key.

- :mod:`~holostim.config.schema`: the sections and :class:`SessionConfig`;
- :mod:`~holostim.config.camera`: the ``camera`` section, one model per registered backend;
- :mod:`~holostim.config.types`: session-relative paths and bounded numbers;
- :mod:`~holostim.config.load`: reading YAML with line marks; :mod:`~holostim.config.messages`: errors.

Example
-------
>>> cfg = load_config("config/simulation.yaml")          # doctest: +SKIP
>>> cfg.engine.method, cfg.slm.shape                      # doctest: +SKIP
('wgs', (512, 512))
"""

from holostim.config.camera import CAMERA_BACKENDS, CAMERA_SECTIONS, CameraConfig, SimulatedCameraConfig
from holostim.config.load import load_config, parse_config
from holostim.config.messages import ConfigError
from holostim.config.schema import (
    CONFIG_VERSION,
    CalibrationConfig,
    EngineConfig,
    GroundTruthConfig,
    LogConfig,
    OpticsConfig,
    SafetyConfig,
    SessionConfig,
    SimulationConfig,
    SLMConfig,
    TargetConfig,
)

__all__ = [
    "CAMERA_BACKENDS",
    "CAMERA_SECTIONS",
    "CONFIG_VERSION",
    "CalibrationConfig",
    "CameraConfig",
    "SimulatedCameraConfig",
    "ConfigError",
    "EngineConfig",
    "GroundTruthConfig",
    "LogConfig",
    "OpticsConfig",
    "SafetyConfig",
    "SessionConfig",
    "SimulationConfig",
    "SLMConfig",
    "TargetConfig",
    "load_config",
    "parse_config",
]


def __getattr__(name: str) -> object:
    # Each camera backend's section model by its class name (``ReplayCameraConfig``, ...).
    from holostim.config import camera

    return getattr(camera, name)
