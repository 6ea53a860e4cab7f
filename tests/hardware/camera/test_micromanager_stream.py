"""Micro-Manager streams with its sequence acquisition, and a device-interface mismatch is one line.

Both run without Micro-Manager's binaries, each in its own process (a core left behind aborts the
process at exit, see ``test_micromanager_exit.py``; these processes must exit 0 as well):

- streaming: pymmcore-plus's ``UniMMCore`` with a pure-Python camera device (the ``#py`` lines of a
  ``.cfg``), whose ``snap`` also feeds the core's sequence acquisition;
- the version check: a stand-in device adapter built here by the C compiler, exporting the three
  functions MMCore calls before anything else (``InitializeModuleData``, ``GetModuleVersion``,
  ``GetDeviceInterfaceVersion``) and claiming an interface older than pymmcore's.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytest.importorskip("pymmcore_plus")
pytest.importorskip("pymmcore_plus.experimental.unicore")

from test_micromanager_exit import CFG, FAKE_CAMERA  # noqa: E402 - after the skips

ROOT = Path(__file__).resolve().parents[3]

STREAM = textwrap.dedent(
    """
    import sys
    import pymmcore_plus
    from pymmcore_plus.experimental.unicore import UniMMCore
    pymmcore_plus.CMMCorePlus = UniMMCore
    from holostim.hardware.camera.micromanager import MicroManagerCamera

    cam = MicroManagerCamera(sys.argv[1], exposure_ms=2.0)
    core = cam._core
    assert cam.fps is None and not core.isSequenceRunning()
    cam.start()
    assert core.isSequenceRunning()  # streaming is the core's sequence acquisition, not a snap loop
    frames = [cam.wait_frame(0, timeout=30)]
    for _ in range(4):
        frames.append(cam.wait_frame(frames[-1].counter, timeout=30))
    counters = [f.counter for f in frames]
    assert counters == sorted(set(counters)), counters
    assert [f.timestamp for f in frames] == sorted(f.timestamp for f in frames)
    assert all(f.image.shape == (48, 64) and f.t_camera is None for f in frames)
    before = cam.latest().counter
    assert cam.snap().shape == (48, 64) and cam.latest().counter > before  # the next streamed frame
    assert core.isSequenceRunning()
    cam.stop()
    assert not core.isSequenceRunning()
    assert cam.snap().shape == (48, 64)  # a snap of its own again
    cam.close()
    print("streamed", counters, flush=True)
    """
)

OLD_ADAPTER_C = """
void InitializeModuleData(void) {}
long GetModuleVersion(void) { return MODULE_VERSION; }
long GetDeviceInterfaceVersion(void) { return 71; }
"""

OPEN_OLD = textwrap.dedent(
    """
    import sys
    import pymmcore_plus
    from pymmcore_plus.experimental.unicore import UniMMCore
    if sys.argv[2] == "UniMMCore":
        pymmcore_plus.CMMCorePlus = UniMMCore
    from holostim.errors import HolostimError
    from holostim.hardware.camera.micromanager import MicroManagerCamera

    try:
        MicroManagerCamera(sys.argv[1], mm_path="adapters")
    except HolostimError as exc:
        print("ERROR", exc, flush=True)
    """
)


def _run(tmp_path: Path, script: str, *args: str) -> subprocess.CompletedProcess:
    (tmp_path / "fakecam.py").write_text(FAKE_CAMERA)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(tmp_path)])}
    return subprocess.run([sys.executable, "-c", script, *args], capture_output=True, text=True, env=env,
                          cwd=tmp_path, timeout=300)


@pytest.mark.slow
def test_streaming_is_a_sequence_acquisition_stopped_on_stop_and_close(tmp_path):
    (tmp_path / "rig.cfg").write_text(CFG)
    proc = _run(tmp_path, STREAM, str(tmp_path / "rig.cfg"))
    assert proc.returncode == 0 and "streamed" in proc.stdout, (proc.returncode, proc.stderr[-3000:])


MODULE_API = textwrap.dedent(
    """
    import re
    from pymmcore_plus import CMMCorePlus
    from holostim.hardware.camera.micromanager import release_core

    core = CMMCorePlus()
    print(re.search(r"Module API version (\\d+)", core.getAPIVersionInfo()).group(1), flush=True)
    release_core(core)
    """
)


def _module_version(tmp_path: Path) -> int:
    """MMCore's module-interface version, asked in a process of its own (a core must not outlive a test)."""
    proc = _run(tmp_path, MODULE_API)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return int(proc.stdout.split()[-1])


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("cc") is None, reason="needs a C compiler for the stand-in adapter")
@pytest.mark.parametrize("core", ["UniMMCore", "CMMCorePlus"])
def test_an_adapter_of_another_device_interface_is_one_line_naming_both(tmp_path, core):
    adapters = tmp_path / "adapters"
    adapters.mkdir()
    src = tmp_path / "old.c"
    src.write_text(OLD_ADAPTER_C.replace("MODULE_VERSION", str(_module_version(tmp_path))))
    subprocess.run(["cc", "-shared", "-fPIC", "-o", str(adapters / "libmmgr_dal_OldCam.so.0"), str(src)],
                   check=True, timeout=120)
    (tmp_path / "old.cfg").write_text("Device,Cam,OldCam,OldCamera\nProperty,Core,Initialize,1\n"
                                      "Property,Core,Camera,Cam\n")
    proc = _run(tmp_path, OPEN_OLD, str(tmp_path / "old.cfg"), core)
    assert proc.returncode == 0, proc.stderr[-3000:]
    (line,) = [ln for ln in proc.stdout.splitlines() if ln.startswith("ERROR")]
    from pymmcore_plus import _pymmcore

    needs = _pymmcore.version_info.device_interface
    assert re.fullmatch(
        rf"ERROR the rig's Micro-Manager device adapter \(OldCam: adapters/libmmgr_dal_OldCam\.so\.0\) is "
        rf"built for device interface 71, but pymmcore \S+ loads only {needs}: install the pymmcore "
        rf"release for interface 71 \(a version x\.y\.z\.71\.n\) or device adapters for {needs} .*",
        line), line


UNDER_QT = textwrap.dedent(
    """
    import sys
    from PyQt6.QtWidgets import QApplication
    import pymmcore_plus
    from pymmcore_plus.experimental.unicore import UniMMCore
    pymmcore_plus.CMMCorePlus = UniMMCore
    from holostim.hardware.camera.micromanager import MicroManagerCamera

    app = QApplication([])  # what the GUI has running: pymmcore-plus would pick Qt signals (and qtpy)
    cam = MicroManagerCamera(sys.argv[1], exposure_ms=2.0)
    cam.start()
    assert cam.wait_frame(0, timeout=30) is not None
    cam.close()
    print("closed", flush=True)
    """
)


@pytest.mark.slow
def test_a_camera_opens_while_a_qt_application_runs(tmp_path):
    pytest.importorskip("PyQt6.QtWidgets")
    (tmp_path / "rig.cfg").write_text(CFG)
    (tmp_path / "fakecam.py").write_text(FAKE_CAMERA)
    proc = subprocess.run([sys.executable, "-c", UNDER_QT, str(tmp_path / "rig.cfg")], capture_output=True,
                          text=True, cwd=tmp_path, timeout=300, env={
                              **os.environ, "QT_QPA_PLATFORM": "offscreen",
                              "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(tmp_path)])})
    assert proc.returncode == 0 and "closed" in proc.stdout, (proc.returncode, proc.stderr[-3000:])
