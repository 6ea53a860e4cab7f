"""`holostim calibrate` and `holostim slm-check` on an OpenGL session without a display: one line, exit 2.

Qt's xcb plugin would print its own text and abort the process (SIGABRT) without saying what to do.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _opengl_session(tmp_path: Path) -> Path:
    text = (ROOT / "config" / "simulation.yaml").read_text()
    assert "slm:\n  backend: simulated\n" in text
    text = text.replace("slm:\n  backend: simulated\n", "slm:\n  backend: opengl\n  screen: HDMI-1\n", 1)
    # a real SLM needs a real camera (the simulated one looks through the simulated SLM)
    text = text.replace("camera:\n  backend: simulated\n", "camera:\n  backend: opencv\n", 1)
    path = tmp_path / "rig.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize("command", [["calibrate"], ["slm-check", "--seconds", "1"]])
def test_opengl_command_without_display_says_so_in_one_line(tmp_path, command):
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    env["PYTHONPATH"] = str(ROOT)
    argv = [sys.executable, "-m", "holostim", *command, "--config", str(_opengl_session(tmp_path))]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=120, env=env, cwd=tmp_path)
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr, proc.stderr
    line = proc.stderr.strip()
    assert line.startswith("holostim: error: ") and "DISPLAY" in line and "xvfb-run" in line
    assert command[0] in line  # names the command that needs the screen


def test_display_check_rules():
    from holostim.cli.display import NoDisplayError, require_display

    require_display("calibrate", {"DISPLAY": ":0"}, "linux")
    require_display("calibrate", {"WAYLAND_DISPLAY": "wayland-0"}, "linux")
    require_display("calibrate", {"QT_QPA_PLATFORM": "offscreen"}, "linux")  # the user chose a platform
    require_display("calibrate", {}, "win32")  # Windows and macOS always have a screen session
    with pytest.raises(NoDisplayError, match="neither DISPLAY nor WAYLAND_DISPLAY"):
        require_display("calibrate", {"DISPLAY": ""}, "linux")
