"""A Micro-Manager camera closes, and its process then exits with status 0.

Before, ``close()`` called ``unloadAllDevices()`` and left the core's event callback attached; at
interpreter exit ``CMMCorePlus.__del__`` detached it, MMCore did that on a helper thread that needs the
GIL, Python (finalising) ended that thread with a forced unwind, MMCore's catch-all swallowed it, and
glibc aborted the process: "FATAL: exception not rethrown", exit status 134.

Runs without Micro-Manager's binaries: pymmcore-plus's ``UniMMCore`` loads a pure-Python camera device
from the ``#py`` lines of a ``.cfg`` file. Each case runs in its own processes, since the abort is at
exit. The abort is a race with the process's end (it struck 40-85 % of runs here), so each case runs
``RUNS`` times: before the fix, all of them exiting 0 by chance was below 1 %; after it, none aborts.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytest.importorskip("pymmcore_plus")
pytest.importorskip("pymmcore_plus.experimental.unicore")

ROOT = Path(__file__).resolve().parents[3]

FAKE_CAMERA = textwrap.dedent(
    """
    import time

    import numpy as np
    from pymmcore_plus.experimental.unicore import SimpleCameraDevice

    class FakeCamera(SimpleCameraDevice):
        _exposure = 12.0

        def get_exposure(self):
            return self._exposure

        def set_exposure(self, exposure):
            self._exposure = exposure

        def sensor_shape(self):
            return (48, 64)

        def dtype(self):
            return np.uint16

        def snap(self, buffer):  # an exposure's time, as a camera takes; the sequence calls this too
            time.sleep(self._exposure / 1000.0)
            buffer[:] = np.arange(buffer.size, dtype=np.uint16).reshape(buffer.shape) % 4096
            return {}
    """
)

CFG = "#py pyDevice,PyCam,fakecam,FakeCamera\nProperty,Core,Initialize,1\n#py Property,Core,Camera,PyCam\n"

OPEN_AND_CLOSE = textwrap.dedent(
    """
    import sys
    import numpy as np
    import pymmcore_plus
    from pymmcore_plus.experimental.unicore import UniMMCore
    pymmcore_plus.CMMCorePlus = UniMMCore  # the camera's core, with the pure-Python device adapter
    from holostim.hardware.camera.micromanager import MicroManagerCamera

    cam = MicroManagerCamera(sys.argv[1], exposure_ms=5.0)
    frame = cam.snap()
    assert cam.shape == (48, 64) and frame.shape == (48, 64), (cam.shape, frame.shape)
    assert np.asarray(frame).max() > 0
    cam.start()  # closing while Micro-Manager's sequence acquisition runs must exit cleanly too
    assert cam.wait_frame(0, timeout=30) is not None and cam._core.isSequenceRunning()
    cam.close()
    assert not cam._core.isSequenceRunning()
    print("closed", flush=True)
    """
)

BARE_CORE = textwrap.dedent(
    """
    from pymmcore_plus import CMMCorePlus
    from holostim.hardware.camera.micromanager import release_core

    core = CMMCorePlus()
    release_core(core)
    print("closed", flush=True)
    """
)


RUNS = 8


def _run_many(tmp_path: Path, script: str, *args: str) -> list[tuple[int, str, str]]:
    """``RUNS`` processes of ``script`` side by side: (exit status, stdout, stderr) of each."""
    (tmp_path / "fakecam.py").write_text(FAKE_CAMERA)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(tmp_path)])}  # this tree
    procs = [subprocess.Popen([sys.executable, "-c", script, *args], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path) for _ in range(RUNS)]
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        results.append((proc.returncode, out, err))
    return results


def _assert_all_clean(results: list[tuple[int, str, str]]) -> None:
    for rc, out, err in results:
        assert "closed" in out, err[-2000:]
        assert rc == 0 and "exception not rethrown" not in err, (rc, err[-2000:])


@pytest.mark.slow
def test_micromanager_camera_close_then_exit_is_clean(tmp_path):
    cfg = tmp_path / "rig.cfg"
    cfg.write_text(CFG)
    _assert_all_clean(_run_many(tmp_path, OPEN_AND_CLOSE, str(cfg)))


@pytest.mark.slow
def test_bare_core_release_then_exit_is_clean(tmp_path):
    _assert_all_clean(_run_many(tmp_path, BARE_CORE))
