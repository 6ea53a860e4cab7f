"""The OpenGL SLM window under Xvfb (Mesa llvmpipe): exact bytes, orientation, interlock, faults, screens."""

from __future__ import annotations

import json
import math
import os
import random
import re
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("PyQt6.QtOpenGL")

from PIL import Image  # noqa: E402
from PyQt6.QtCore import QRect  # noqa: E402
from PyQt6.QtGui import QColor, QPainter, QRasterWindow  # noqa: E402
from slm_helpers import FakeClock  # noqa: E402

from holostim.hardware.slm import (  # noqa: E402
    ScreenError,
    checkerboard,
    gray_ramp,
    orientation_marker,
    toggle_corner,
)
from holostim.hardware.slm.opengl.screens import find_screen  # noqa: E402
from holostim.hardware.slm.opengl.window import OpenGLSLM, SLMWindow  # noqa: E402

pytestmark = pytest.mark.gui
TWO_PI = 2 * math.pi


def primary_geometry(app) -> str:
    g = app.primaryScreen().geometry()
    return f"{g.width()}x{g.height()}+{g.x()}+{g.y()}"


@pytest.fixture
def make_slm(qapp):
    made = []

    def make(shape=(512, 512), **kw):
        if "lut" not in kw:
            kw.setdefault("two_pi_gray", 255)
        slm = OpenGLSLM(shape, 8.0, 1.064, screen=primary_geometry(qapp), fullscreen=False, **kw)
        made.append(slm)
        assert slm.wait_ready(10.0), "SLM window never exposed/swapped"
        return slm

    yield make
    for s in made:
        s.close()


def show_and_read(slm, phase=None, gray=None):
    rec = slm.show_phase(phase) if gray is None else slm.show_gray(gray)
    assert slm.wait_swapped(rec, 5.0)
    return rec, slm.read_back()


def test_random_phases_read_back_byte_exact(make_slm):
    slm = make_slm((512, 512), blaze=(0.1, -0.03))
    rng = np.random.default_rng(7)
    for _ in range(3):
        rec, back = show_and_read(slm, rng.uniform(0, TWO_PI, (512, 512)).astype(np.float32))
        assert back.dtype == np.uint8 and back.shape == (512, 512)
        assert np.array_equal(back, rec.frame)
        assert rec.t_request <= rec.t_loaded <= rec.t_uploaded <= rec.t_swapped
    # every gray level survives exactly (no gamma, dithering or sRGB anywhere)
    ramp = np.tile(np.arange(256, dtype=np.uint8), (512, 2))[:, :512]
    _, back = show_and_read(slm, gray=ramp)
    assert np.array_equal(back, ramp)


def test_non_square_and_odd_widths(make_slm):
    slm = make_slm((300, 257))  # odd width: row alignment must not shear the frame
    frame = np.random.default_rng(3).integers(0, 256, (300, 257), dtype=np.uint8)
    _, back = show_and_read(slm, gray=frame)
    assert np.array_equal(back, frame)


def test_full_hd_slm_frame_exact(make_slm):
    slm = make_slm((1152, 1920), lut=Path(__file__).resolve().parents[2] / "assets/slm/example-1064nm.lut")
    phase = np.random.default_rng(11).uniform(-4, 4, (1152, 1920)).astype(np.float32)
    rec, back = show_and_read(slm, phase)
    assert np.array_equal(back, rec.frame)


def test_orientation_marker_top_left(make_slm, artifacts):
    slm = make_slm((256, 384))
    marker = orientation_marker((256, 384))
    _, back = show_and_read(slm, gray=marker)
    assert np.array_equal(back, marker)
    Image.fromarray(back).save(artifacts / "slm_orientation_marker_readback.png")
    u = 256 // 16
    # the F: stem at the left, long bar at the very top of the glyph, nothing mirrored to other corners
    assert back[2 * u + 1, 2 * u + 1] == 255 and back[2 * u + 1, 5 * u + 1] == 255
    assert back[2 * u + 4 * u, 2 * u + 1] == 255 and back[2 * u + 4 * u, 4 * u] == 0
    assert back[-2 * u - 1, -2 * u - 1] == 0 and back[2 * u + 1, -2 * u - 1] == 0
    assert back[-2 * u - 1, 2 * u + 1] == 0


def test_test_patterns():
    ramp = gray_ramp((4, 512))
    assert ramp[0, 0] == 0 and ramp[0, -1] == 255 and np.all(np.diff(ramp[0].astype(int)) >= 0)
    assert set(np.unique(gray_ramp((2, 256))[0])) == set(range(256))
    cb = checkerboard((64, 64), square=16)
    assert cb[0, 0] == 0 and cb[0, 16] == 255 and cb[16, 16] == 0
    on, off = toggle_corner(cb, True, 8), toggle_corner(cb, False, 8)
    assert np.all(on[-8:, -8:] == 255) and np.all(off[-8:, -8:] == 0)
    assert np.array_equal(on[:-8], cb[:-8])


def wait_until(qapp, cond, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        qapp.processEvents()
        if cond():
            return True
        time.sleep(0.002)
    return cond()


def test_interlock_hide_stall_and_recover(make_slm, qapp):
    clock = FakeClock()
    slm = make_slm((128, 128), stale_ms=80, clock=clock)
    events = []
    slm.add_interlock_listener(lambda ok, reason: events.append((clock(), ok, reason)))
    rec, _ = show_and_read(slm, np.zeros((128, 128), np.float32))
    assert wait_until(qapp, lambda: slm.laser_permitted, 2.0), slm.interlock_reason
    # hiding the window: off through its expose state, not by staleness (the clock does not move)
    slm.window.hide()
    assert wait_until(qapp, lambda: events and not events[-1][1], 5.0)
    assert "not exposed" in events[-1][2] and events[-1][0] == clock()
    assert not slm.laser_permitted
    slm.window.show()
    rec = slm.show_phase(np.zeros((128, 128), np.float32))
    assert slm.wait_swapped(rec, 5.0)
    assert wait_until(qapp, lambda: slm.laser_permitted and events[-1][1], 5.0), slm.interlock_reason
    # stopping frames (no keep-alive repaints, nothing new): off exactly 80 ms after the last swap
    slm.window._keepalive.stop()
    slm.window._keepalive.setInterval(10_000)
    wait_until(qapp, lambda: False, 0.2)  # let a repaint already queued finish
    t_last = slm._t_last_swap
    n = len(events)
    clock.t = t_last + 0.079
    wait_until(qapp, lambda: False, 0.3)  # the watchdog re-checks within its poll interval
    assert slm.laser_permitted and len(events) == n
    clock.t = t_last + 0.081
    assert wait_until(qapp, lambda: not events[-1][1], 5.0)
    t_off, _, reason = events[-1]
    assert "stalled" in reason and "limit 80 ms" in reason and t_off == t_last + 0.081
    # a fresh frame turns it back on
    rec = slm.show_phase(np.ones((128, 128), np.float32))
    assert slm.wait_swapped(rec, 5.0)
    assert wait_until(qapp, lambda: events[-1][1], 5.0)
    slm.close()
    assert not slm.laser_permitted and "closed" in slm.interlock_reason


class _Cover(QRasterWindow):
    def paintEvent(self, ev):  # noqa: N802
        p = QPainter(self)
        p.fillRect(0, 0, self.width(), self.height(), QColor(255, 0, 0))
        p.end()


@pytest.mark.parametrize("x_stacking", [True, False], ids=["x11-stacking", "own-windows-only"])
def test_interlock_off_while_another_window_covers_part_of_the_slm(make_slm, qapp, x_stacking):
    slm = make_slm((128, 128))
    assert slm.window._stacking is not None  # xcb under Xvfb
    if not x_stacking:  # what other platforms get: only this program's windows are seen
        slm.window._stacking.close()
        slm.window._stacking = None
    show_and_read(slm, np.zeros((128, 128), np.float32))
    assert wait_until(qapp, lambda: slm.laser_permitted, 2.0), slm.interlock_reason
    cover = _Cover()
    cover.setTitle("a dialog")
    cover.setGeometry(QRect(100, 100, 60, 60))  # overlaps the SLM's bottom-right corner only
    cover.show()
    try:
        assert wait_until(qapp, lambda: not slm.laser_permitted, 2.0)
        assert "covered by window 'a dialog'" in slm.interlock_reason
    finally:
        cover.hide()
    assert wait_until(qapp, lambda: slm.laser_permitted, 2.0), slm.interlock_reason


def test_show_phase_from_a_worker_thread(make_slm, qapp):
    slm = make_slm((128, 128))
    phase = np.random.default_rng(9).uniform(0, TWO_PI, (128, 128)).astype(np.float32)
    box = {}
    worker = threading.Thread(target=lambda: box.setdefault("rec", slm.show_phase(phase)))
    worker.start()
    assert wait_until(qapp, lambda: "rec" in box and box["rec"].t_swapped is not None, 5.0)
    worker.join()
    assert np.array_equal(slm.read_back(), box["rec"].frame)
    seen = []
    slm.add_frame_listener(seen.append)
    rec = slm.show_gray(np.full((128, 128), 77, np.uint8))
    assert slm.wait_swapped(rec) and seen == [rec]


def test_interlock_off_when_the_window_is_moved(make_slm, qapp):
    slm = make_slm((128, 128))
    show_and_read(slm, np.zeros((128, 128), np.float32))
    assert wait_until(qapp, lambda: slm.laser_permitted, 2.0), slm.interlock_reason
    slm.window.setPosition(40, 30)
    assert wait_until(qapp, lambda: not slm.laser_permitted, 2.0)
    assert "not at its place on screen" in slm.interlock_reason
    slm.window.setPosition(0, 0)
    assert wait_until(qapp, lambda: slm.laser_permitted, 2.0), slm.interlock_reason


def test_exception_in_draw_path_gives_safe_frame(make_slm, qapp, caplog):
    slm = make_slm((64, 64))
    good = np.random.default_rng(5).integers(1, 256, (64, 64), dtype=np.uint8)
    show_and_read(slm, gray=good)
    assert wait_until(qapp, lambda: slm.laser_permitted, 2.0)
    real_draw = slm.window._draw

    def broken():
        raise RuntimeError("injected draw failure")

    slm.window._draw = broken
    rec = slm.show_gray(255 - good)
    back = slm.read_back()  # the process is alive and the window painted
    assert np.all(back == 0)  # the safe frame
    assert rec.t_swapped is None  # the failed frame never counts as shown
    assert not slm.laser_permitted and "injected draw failure" in slm.interlock_reason
    assert any("injected draw failure" in f for f in slm.window.faults)
    assert "injected draw failure" in caplog.text
    # later keep-alive paints stay safe until a new frame draws successfully
    assert np.all(slm.read_back() == 0) and not slm.laser_permitted
    slm.window._draw = real_draw
    rec, back = show_and_read(slm, gray=good)
    assert np.array_equal(back, good)
    assert wait_until(qapp, lambda: slm.laser_permitted, 2.0), slm.interlock_reason


def test_exception_in_initialize_gl_leaves_a_safe_window(qapp, monkeypatch):
    def broken(self):
        raise RuntimeError("injected GL init failure")

    monkeypatch.setattr(SLMWindow, "_init_gl", broken)
    slm = OpenGLSLM((64, 64), 8.0, 1.064, screen=primary_geometry(qapp), fullscreen=False)
    try:
        assert wait_until(qapp, lambda: slm.window.swap_count > 0, 10.0)
        slm.show_gray(np.full((64, 64), 200, np.uint8))
        assert np.all(slm.read_back() == 0)
        assert not slm.laser_permitted and "injected GL init failure" in slm.interlock_reason
        assert slm.window.faults[0].startswith("initializeGL: RuntimeError")
    finally:
        slm.close()


def test_screen_errors(qapp):
    with pytest.raises(ScreenError, match=r"(?s)no screen matches slm.screen='DP-9'.*geometry=") as info:
        find_screen("DP-9")
    assert primary_geometry(qapp) in str(info.value)
    with pytest.raises(ScreenError, match="but the SLM shape is 512x512"):
        OpenGLSLM((512, 512), 8.0, 1.064, screen=primary_geometry(qapp))
    with pytest.raises(ScreenError, match="smaller"):
        OpenGLSLM((4000, 512), 8.0, 1.064, screen=primary_geometry(qapp), fullscreen=False)


# ---------------------------------------------------------------------------------------------------------
# Two X screens: a private Xvfb and a child process (the main process's Qt app stays on pytest's display)

CHILD = textwrap.dedent(
    r"""
    import json, subprocess, sys, time, numpy as np
    from PyQt6.QtGui import QGuiApplication
    app = QGuiApplication(sys.argv)
    from holostim.hardware.slm import ScreenError
    from holostim.hardware.slm.opengl.window import OpenGLSLM
    out = {"screens": [f"{s.name()} {s.geometry().width()}x{s.geometry().height()}" for s in app.screens()]}
    mode = sys.argv[1]
    if mode == "place":
        slm = OpenGLSLM((512, 512), 8.0, 1.064, screen="512x512+0+0", stale_ms=200)
        out["ready"] = slm.wait_ready(10)
        g = slm.window.screen().geometry()
        out["window_screen"] = [g.width(), g.height()]
        out["geometry"] = [slm.window.geometry().width(), slm.window.geometry().height()]
        out["fullscreen"] = bool(slm.window.windowStates().value & 4)
        ph = np.random.default_rng(0).uniform(0, 6.3, (512, 512)).astype(np.float32)
        rec = slm.show_phase(ph)
        slm.wait_swapped(rec)
        out["exact"] = bool(np.array_equal(slm.read_back(), rec.frame))
        out["permitted"] = slm.laser_permitted
        # another program's window over part of the SLM screen: the X stacking check sees it
        cover = subprocess.Popen([sys.executable, "-c", COVER], stdout=subprocess.DEVNULL)
        def spin(cond, t=10.0):  # keep the event loop running (a blocked GUI thread is a stall)
            end = time.monotonic() + t
            while time.monotonic() < end and not cond():
                app.processEvents(); time.sleep(0.01)
        spin(lambda: "covered" in slm.interlock_reason)
        out["covered"] = slm.interlock_reason
        cover.terminate(); cover.wait()
        spin(lambda: slm.laser_permitted)
        out["uncovered"] = slm.laser_permitted
        slm.close()
        for spec in ("screen", "HDMI-7"):
            try:
                OpenGLSLM((512, 512), 8.0, 1.064, screen=spec)
            except ScreenError as e:
                out[spec] = str(e)
        try:
            OpenGLSLM((600, 800), 8.0, 1.064, screen="800x600+0+0", fullscreen=True)
            out["big"] = "ok"
        except ScreenError as e:
            out["big"] = str(e)
    elif mode == "dpr":
        try:
            OpenGLSLM((256, 256), 8.0, 1.064, screen="512x512+0+0")
            out["dpr"] = "no error"
        except ScreenError as e:
            out["dpr"] = str(e)
    print("RESULT " + json.dumps(out))
    """
)


COVER = """
import sys
from PyQt6.QtCore import QRect
from PyQt6.QtGui import QColor, QGuiApplication, QPainter, QRasterWindow
app = QGuiApplication(sys.argv)
class W(QRasterWindow):
    def paintEvent(self, ev):
        p = QPainter(self); p.fillRect(0, 0, self.width(), self.height(), QColor(255, 0, 0)); p.end()
w = W(); w.setScreen([s for s in app.screens() if s.geometry().width() == 512][0])
w.setGeometry(QRect(300, 200, 100, 100)); w.show()
print("shown", flush=True)
app.exec()
"""
CHILD = CHILD.replace("COVER", repr(COVER))


def _x_server_answers(display: str) -> bool:
    """Whether an X client can really connect to ``display`` (libxcb, no extra tools needed)."""
    import ctypes
    import ctypes.util

    lib = ctypes.CDLL(ctypes.util.find_library("xcb") or "libxcb.so.1")
    lib.xcb_connect.restype = ctypes.c_void_p
    lib.xcb_connect.argtypes = [ctypes.c_char_p, ctypes.c_void_p]
    lib.xcb_connection_has_error.argtypes = [ctypes.c_void_p]
    lib.xcb_disconnect.argtypes = [ctypes.c_void_p]
    conn = lib.xcb_connect(display.encode(), None)
    try:
        return bool(conn) and lib.xcb_connection_has_error(conn) == 0
    finally:
        if conn:
            lib.xcb_disconnect(conn)


def start_xvfb(screens: list[str], tries: int = 8) -> tuple[subprocess.Popen, str]:
    """A private Xvfb with the given screens (``WxHxD``), on a free display number that really answers.

    Several Xvfb servers from other processes (possibly in other PID namespaces, so their lock files look
    stale) may share /tmp/.X11-unix; ``-displayfd`` can then hand out a number another server owns, so
    the number is chosen here and the connection is verified.
    """
    rng = random.Random()
    for _ in range(tries):
        n = rng.randint(300, 2000)
        if os.path.exists(f"/tmp/.X{n}-lock") or os.path.exists(f"/tmp/.X11-unix/X{n}"):
            continue
        args = ["Xvfb", f":{n}", "-nolisten", "tcp"]
        for i, geometry in enumerate(screens):
            args += ["-screen", str(i), geometry]
        proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and proc.poll() is None:
            if _x_server_answers(f":{n}"):
                return proc, f":{n}"
            time.sleep(0.05)
        proc.kill()
        proc.wait()
    raise RuntimeError("could not start a private Xvfb")


@pytest.fixture(scope="module")
def two_screen_display():
    proc, display = start_xvfb(["800x600x24", "512x512x24"])
    yield display
    proc.terminate()
    proc.wait(10)


def run_child(display, mode, extra_env=None, tmp_path=None):
    env = dict(os.environ, DISPLAY=display, QT_QPA_PLATFORM="xcb")
    env.pop("WAYLAND_DISPLAY", None)
    env.update(extra_env or {})
    p = subprocess.run(
        [sys.executable, "-c", CHILD, mode], env=env, capture_output=True, text=True, timeout=120
    )
    assert p.returncode == 0, p.stdout + p.stderr
    line = [x for x in p.stdout.splitlines() if x.startswith("RESULT ")][-1]
    return json.loads(line[7:]), p.stdout


def test_window_lands_on_the_named_screen(two_screen_display):
    out, _ = run_child(two_screen_display, "place")
    assert len(out["screens"]) == 2
    assert out["ready"] and out["window_screen"] == [512, 512] and out["geometry"] == [512, 512]
    assert out["fullscreen"] and out["exact"] and out["permitted"]
    assert out["covered"].startswith("SLM window covered by X window 0x"), out["covered"]
    assert out["uncovered"]
    assert "matches 2 screens" in out["screen"] and "512x512+0+0" in out["screen"]
    assert "no screen matches slm.screen='HDMI-7'" in out["HDMI-7"]
    assert "800x600+0+0" in out["HDMI-7"] and "512x512+0+0" in out["HDMI-7"]
    assert out["big"] == "ok"


def test_device_pixel_ratio_not_one_is_refused(two_screen_display):
    out, _ = run_child(two_screen_display, "dpr", {"QT_SCALE_FACTOR": "2"})
    assert "device pixel ratio 2" in out["dpr"]


SESSION = """\
version: 1
name: slm-check-test
slm:
  backend: opengl
  screen: "{screen}"
  shape: [512, 512]
  pitch_um: 9.2
  wavelength_um: 1.064
  two_pi_gray: 255
camera:
  backend: opencv   # a real SLM needs a real camera (slm-check opens only the SLM)
safety:
  laser_power_mw: 100   # stated, so only the test-pattern rule keeps the laser blocked
log:
  directory: logs
"""


def run_cli(display, config, seconds="0.6"):
    env = dict(os.environ, DISPLAY=display, QT_QPA_PLATFORM="xcb")
    cmd = [sys.executable, "-m", "holostim", "slm-check", "--config", str(config), "--seconds", seconds]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)


def check_slm_check_log(folder, stdout):
    """The run's log: one gated ``test_pattern`` record per frame shown, its hash that of the drawn frame."""
    from holostim.eventlog import read
    from holostim.eventlog.records import frame_hash

    logs = sorted(folder.glob("*.jsonl"))
    assert len(logs) == 1, logs
    contents = read(logs[0])
    assert not contents.damaged and contents.header["camera"] is None  # slm-check opens no camera
    assert contents.header["calibration"] is None
    frames = [r for r in contents.records if r["type"] in ("frame", "pattern")]
    assert frames and all(r["kind"] == "test_pattern" for r in frames)
    patterns = {"gray ramp": gray_ramp((512, 512)), "checkerboard": checkerboard((512, 512)),
                "orientation marker": orientation_marker((512, 512))}
    # the three read back exact (stdout says so) are logged with the hash of those very bytes
    first = [(r["name"], r["frame_hash"]) for r in frames[:3]]
    assert first == [(n, frame_hash(f)) for n, f in patterns.items()]
    cycled = {frame_hash(toggle_corner(f, on)) for f in patterns.values() for on in (False, True)}
    assert all(r["frame_hash"] in cycled for r in frames[3:])
    shown = int(re.search(r"^frames (\d+),", stdout, re.M).group(1))
    assert len(frames) == 3 + shown  # every frame of the cycle went through the gate and the log
    assert not any(r["interlock"]["laser_permitted"] for r in frames)
    assert not any(r.get("laser_permitted") for r in contents.records if r["type"] == "laser")
    assert all("test pattern" in r["interlock"]["reason"] for r in frames)
    assert contents.records[-1]["type"] == "session_end"


@pytest.mark.slow  # starts its own X server and cycles the patterns
def test_slm_check_cli_proves_bytes(two_screen_display, tmp_path):
    cfg = tmp_path / "session.yaml"
    cfg.write_text(SESSION.format(screen="512x512+0+0"))
    p = run_cli(two_screen_display, cfg)
    assert p.returncode == 0, p.stdout + p.stderr
    for name in ("gray ramp", "checkerboard", "orientation marker"):
        assert re.search(rf"^{name}\s+exact$", p.stdout, re.M), p.stdout
    assert re.search(r"^frames \d+, show→swap median", p.stdout, re.M), p.stdout
    check_slm_check_log(tmp_path / "logs", p.stdout)
    cfg.write_text(SESSION.format(screen="HDMI-3"))
    p = run_cli(two_screen_display, cfg)
    assert p.returncode == 2
    assert "no screen matches slm.screen='HDMI-3'" in p.stderr and "512x512+0+0" in p.stderr
    assert "Traceback" not in p.stderr
