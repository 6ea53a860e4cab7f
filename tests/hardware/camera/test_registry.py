"""One list of cameras: a backend registered in holostim.hardware.registry is a session's camera.

The new backend below is one file (its class and its ``Options``) plus one registry entry, added at run
time before holostim.config is imported, exactly as a line in the registry's table would be. It runs in a
fresh interpreter: the session schema reads the registry once, when it is imported.
"""

from __future__ import annotations

import inspect
import subprocess
import sys
import textwrap
import types

import pytest

from holostim.config import CAMERA_BACKENDS, CAMERA_SECTIONS, SessionConfig, parse_config
from holostim.hardware import registry
from holostim.hardware.camera import Camera, CameraConfigError, CameraOptions, open_camera

DUMMY = textwrap.dedent(
    '''
    """A camera that shows a constant image: the whole of a new backend."""
    import numpy as np

    from holostim.hardware.camera import Camera, CameraOptions


    class DummyOptions(CameraOptions):
        level: int = 7


    class DummyCamera(Camera):
        Options = DummyOptions

        def __init__(self, *, level=7, exposure_ms=None, fps=None):
            super().__init__(exposure_ms=exposure_ms or 20.0, fps=fps, name="dummy")
            self.level = level

        shape = (4, 6)
        dtype = np.dtype(np.uint8)

        def _grab(self):
            return np.full(self.shape, self.level, np.uint8)
    '''
)

SCRIPT = textwrap.dedent(
    """
    import sys
    sys.path.insert(0, sys.argv[1])
    from holostim.hardware import registry
    registry.BACKENDS["camera"]["dummy"] = "dummycam:DummyCamera"   # the one line a new backend adds

    from holostim.config import ConfigError, load_config, parse_config
    from holostim.hardware.camera import open_camera

    cfg = load_config(sys.argv[2])
    assert cfg.camera.backend == "dummy" and cfg.camera.level == 3 and cfg.camera.fps == 50.0
    with open_camera(cfg.camera.backend, **cfg.camera.options()) as cam:
        assert cam.snap().tolist() == [[3] * 6] * 4 and cam.fps == 50.0
    assert parse_config(cfg.to_yaml()) == parse_config(cfg.to_yaml())  # saves and loads back
    for text, expected in [("camera: {backend: dummy, levle: 2}", "did you mean 'level'"),
                           ("camera: {backend: dumy}", "did you mean 'dummy'")]:
        try:
            parse_config(text)
        except ConfigError as exc:
            assert expected in str(exc), str(exc)
        else:
            raise SystemExit(f"{text!r} was accepted")
    print("ok")
    """
)


def test_a_registered_backend_is_a_session_camera(tmp_path):
    (tmp_path / "dummycam.py").write_text(DUMMY)
    session = tmp_path / "rig.yaml"
    session.write_text("camera:\n  backend: dummy\n  level: 3\n  fps: 50\n")
    proc = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path), str(session)],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip() == "ok"


def test_config_and_factory_read_the_registry():
    assert CAMERA_BACKENDS == registry.names("camera")
    for name in CAMERA_BACKENDS:
        cls = registry.backend_class("camera", name)
        assert issubclass(cls, Camera) and issubclass(cls.Options, CameraOptions)
        section = CAMERA_SECTIONS[name]
        # the section is the backend's options plus the tag, nothing else
        assert set(section.model_fields) == set(cls.Options.model_fields) | {"backend"}
        # and every key of it reaches the constructor
        params = inspect.signature(cls).parameters
        assert set(cls.Options.model_fields) <= set(params), name
    assert isinstance(SessionConfig().camera, CAMERA_SECTIONS["simulated"])
    assert isinstance(parse_config("camera: {backend: opencv}").camera, CAMERA_SECTIONS["opencv"])


def test_old_section_names_stay_importable():
    from holostim.config import MicroManagerCameraConfig, OpenCVCameraConfig, ReplayCameraConfig

    assert ReplayCameraConfig is CAMERA_SECTIONS["replay"]
    assert OpenCVCameraConfig is CAMERA_SECTIONS["opencv"]
    assert MicroManagerCameraConfig is CAMERA_SECTIONS["micromanager"]


def test_factory_opens_what_the_registry_names_at_call_time(monkeypatch):
    module = types.ModuleType("holostim_dummy_camera")
    exec(DUMMY, module.__dict__)  # noqa: S102 - the backend file above, as a module
    monkeypatch.setitem(sys.modules, module.__name__, module)
    monkeypatch.setitem(registry.BACKENDS["camera"], "dummy", f"{module.__name__}:DummyCamera")
    with open_camera("Dummy", level=9) as cam:  # names are case-insensitive, as in a session file
        assert isinstance(cam, module.DummyCamera) and int(cam.snap()[0, 0]) == 9
    with pytest.raises(CameraConfigError, match="does not take that option"):
        open_camera("dummy", gain=2)
    with pytest.raises(CameraConfigError, match=r"did you mean 'dummy'"):
        open_camera("dumy")


def test_factory_refuses_a_name_the_registry_does_not_have(monkeypatch):
    monkeypatch.delitem(registry.BACKENDS["camera"], "opencv")
    listed = r"choose one of simulated, replay, micromanager, pylon$"
    with pytest.raises(CameraConfigError, match=r"unknown camera backend 'opencv'.*" + listed):
        open_camera("opencv")


def test_importing_the_cameras_imports_no_sdk():
    code = ("import sys, holostim.hardware.camera, holostim.config\n"
            "print(sorted(m for m in ('cv2', 'tifffile', 'pymmcore_plus', 'pypylon', 'PyQt6')\n"
            "             if m in sys.modules))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip() == "[]"
