"""The SLM as a bare fullscreen OpenGL window: exact frames, swap timestamps, and the interlock's eyes.

The SLM is a second monitor. Between our ``uint8`` frame and its pixels there must be nothing that
scales, filters, blends or dithers: the frame is uploaded as a one-channel 8-bit texture and every
screen pixel fetches exactly one texel (``texelFetch``, nearest sampling, blending, dithering and
multisampling off, viewport = window = screen, device pixel ratio 1). Row 0 of the array is the top row
of the screen. :meth:`OpenGLSLM.read_back` returns the back buffer after drawing (``glReadPixels``), so
a test or ``holostim slm-check`` proves the screen gets exactly the intended bytes.

The window is chosen by screen *name*, *serial number* or *geometry* (``WxH+X+Y``), never by index (the
index order of screens changes when monitors are replugged). It refuses to start on an unknown or
ambiguous screen (the message lists the screens that exist), a device pixel ratio other than 1, or a
screen whose size is not the SLM's shape.

Exceptions in the GL callbacks are caught (in PyQt6 an exception escaping ``paintGL`` aborts the
process): they are logged, the fault is latched, and the window draws the **safe frame** — all zeros,
drawn with ``glClear`` alone, so it needs no texture, shader or upload, the parts that may be broken.
All-zero is a *uniform* phase: all light goes to the zero order, so the safe frame is only safe together
with the laser interlock, which the fault turns off (``laser_permitted`` False, reason "display fault:
…") until a new frame has been drawn successfully.

The window repaints the current frame every frame period (a precise timer at the screen's refresh
rate; swap interval 1 paces it to vblank on real displays), so "the last swap is recent" proves the
display path is alive; a hidden, minimised or fully covered window stops painting and its expose state
turns the interlock off at once.

Qt and OpenGL are imported only here and in the screen and slm-check modules next to this one; the
rest of :mod:`holostim.hardware.slm` is Qt-free, so the core runs on a machine without a display.
"""

from __future__ import annotations

import atexit
import logging
import threading
import time
import weakref
from collections.abc import Sequence
from typing import Any

import numpy as np
from PyQt6 import sip
from PyQt6.QtCore import QEventLoop, QRect, Qt, QTimer, pyqtSignal
from PyQt6.QtGui import QCursor, QGuiApplication, QScreen, QSurfaceFormat
from PyQt6.QtOpenGL import QOpenGLWindow

from holostim.hardware.slm.base import SLM, FrameRecord
from holostim.hardware.slm.errors import ScreenError, SLMDisplayError
from holostim.hardware.slm.opengl.encoding import decode_rgb, encode_rgb
from holostim.hardware.slm.opengl.screens import find_screen, geometry_string
from holostim.hardware.slm.opengl.stacking import XcbStacking

__all__ = ["OpenGLSLM", "SLMWindow"]

log = logging.getLogger("holostim.slm")

_VERT = """
#version 330 core
// One triangle that covers the viewport; no vertex buffer needed.
void main() {
    vec2 p = vec2((gl_VertexID == 1) ? 3.0 : -1.0, (gl_VertexID == 2) ? 3.0 : -1.0);
    gl_Position = vec4(p, 0.0, 1.0);
}
"""

_FRAG = """
#version 330 core
uniform sampler2D frame;
uniform int rgb;  // 0: one 8-bit gray channel, replicated; 1: a ready RGB encoding (10/12-bit frames)
out vec4 color;
void main() {
    // Exactly one texel per screen pixel; texture row 0 (array row 0) goes to the top of the screen.
    ivec2 size = textureSize(frame, 0);
    ivec2 p = ivec2(gl_FragCoord.xy);
    vec4 t = texelFetch(frame, ivec2(p.x, size.y - 1 - p.y), 0);
    color = (rgb == 1) ? vec4(t.rgb, 1.0) : vec4(t.r, t.r, t.r, 1.0);
}
"""


# ---------------------------------------------------------------------------------------------------------
# The window


class SLMWindow(QOpenGLWindow):
    """A bare, frameless, always-on-top OpenGL window that shows one uint8 frame 1:1.

    Normally created by :class:`OpenGLSLM`. ``fullscreen=False`` places a window of exactly the
    frame's size at the top-left of the screen instead of filling it (for tests and development on a
    desktop; the interlock then checks that geometry instead of fullscreen).

    Signals: ``frameSwapped`` (Qt's, after each completed swap), ``key_pressed(int)``.
    """

    frame_ready = pyqtSignal()
    readback_requested = pyqtSignal()
    key_pressed = pyqtSignal(int)

    def __init__(self, slm: OpenGLSLM, screen: QScreen, *, fullscreen: bool = True):
        super().__init__(QOpenGLWindow.UpdateBehavior.NoPartialUpdate)
        self._slm = slm
        ny, nx = slm.shape
        self._shape = (ny, nx)
        self._fullscreen = fullscreen
        self._target_screen = screen
        sg = screen.geometry()
        self._target_rect = QRect(sg) if fullscreen else QRect(sg.x(), sg.y(), nx, ny)

        fmt = QSurfaceFormat()
        fmt.setRenderableType(QSurfaceFormat.RenderableType.OpenGL)
        fmt.setVersion(3, 3)
        fmt.setProfile(QSurfaceFormat.OpenGLContextProfile.CoreProfile)
        fmt.setSwapBehavior(QSurfaceFormat.SwapBehavior.DoubleBuffer)
        fmt.setSwapInterval(1)
        fmt.setSamples(0)
        fmt.setDepthBufferSize(0)
        fmt.setStencilBufferSize(0)
        fmt.setRedBufferSize(8)
        fmt.setGreenBufferSize(8)
        fmt.setBlueBufferSize(8)
        self.setFormat(fmt)
        self.setFlags(
            Qt.WindowType.Window | Qt.WindowType.FramelessWindowHint | Qt.WindowType.WindowStaysOnTopHint
        )
        self.setCursor(QCursor(Qt.CursorShape.BlankCursor))  # no mouse pointer drawn onto the panel
        self.setTitle(f"holostim SLM {slm.name}")
        self.setScreen(screen)
        self.setGeometry(self._target_rect)

        self._lock = threading.Lock()
        self._pending: FrameRecord | None = None  # waiting for upload
        self._current: FrameRecord | None = None  # in the texture
        self._painted: FrameRecord | None = None  # drawn, waiting for its swap
        self._gl_ready = False
        self._faulted_at: int | None = None  # index of the newest frame when the fault happened
        self._readback: np.ndarray | None = None
        self._readback_wanted = False
        self._readback_done = threading.Event()
        self._exposed = False
        self._geometry_ok = False
        self.paint_count = 0
        self.swap_count = 0
        self.faults: list[str] = []

        self.frame_ready.connect(self.update, Qt.ConnectionType.QueuedConnection)
        self.readback_requested.connect(self.update, Qt.ConnectionType.QueuedConnection)
        self.frameSwapped.connect(self._on_swapped)
        self.screenChanged.connect(lambda _s: self._refresh_state())
        self.windowStateChanged.connect(lambda _s: self._refresh_state())
        self._keepalive = QTimer(self)
        self._keepalive.setTimerType(Qt.TimerType.PreciseTimer)
        self._keepalive.setInterval(max(1, int(round(1000.0 / slm.refresh_hz))))
        self._keepalive.timeout.connect(self.update)
        self._covered_by: str | None = None
        self._stacking: XcbStacking | None = None
        if QGuiApplication.platformName() == "xcb":
            try:
                self._stacking = XcbStacking()
            except OSError as exc:
                log.warning(
                    "SLM: cannot read the X stacking order (%s); covering by other programs' windows "
                    "goes undetected",
                    exc,
                )
        self._cover_timer = QTimer(self)
        self._cover_timer.setInterval(50)
        self._cover_timer.timeout.connect(self._check_covered)

    # ------------------------------------------------------------------------------ state for interlock
    def _refresh_state(self) -> None:
        try:  # called from Qt event handlers: an exception escaping one aborts the process
            self._refresh_state_now()
        except Exception:
            log.exception("SLM: window state check failed")
            self._exposed = False  # unknown state: not safe
            self._slm._interlock_changed()

    def _refresh_state_now(self) -> None:
        exposed = self.isVisible() and self.isExposed()
        on_screen = self.screen() is self._target_screen
        geo_ok = on_screen and self.geometry() == self._target_rect
        if self._fullscreen:
            geo_ok = geo_ok and bool(self.windowStates() & Qt.WindowState.WindowFullScreen)
        self._exposed, self._geometry_ok = exposed, geo_ok
        self._slm._interlock_changed()

    def _check_covered(self) -> None:
        try:  # an exception escaping a PyQt6 slot aborts the process
            self._check_covered_now()
        except Exception:
            log.exception("SLM: window covering check failed")

    def _check_covered_now(self) -> None:
        """Every 50 ms: is any other window stacked over (part of) the SLM window.

        On X11 the server's stacking order decides (any program's windows, only those above ours). On
        other platforms only this program's own windows can be seen, and any visible one that overlaps
        the SLM window on its screen counts (stacking unknown: the conservative choice).
        """
        r = self.geometry()
        covered = None
        others = [
            w
            for w in QGuiApplication.topLevelWindows()
            if w is not self and w.isVisible() and w.screen() is self.screen()
        ]
        if self._stacking is not None:
            if self.isVisible():
                try:
                    ids = self._stacking.covering(int(self.winId()), (r.x(), r.y(), r.width(), r.height()))
                except Exception as exc:  # never let the check itself break the display
                    log.warning("SLM: X stacking check failed (%r); only this program's windows checked", exc)
                    self._stacking.close()
                    self._stacking = None
                    ids = []
                if ids:
                    ours = {int(w.winId()): w.title() for w in others}
                    names = [
                        f"window {ours[i]!r} of this program" if i in ours else f"X window {i:#x}"
                        for i in ids
                    ]
                    covered = ", ".join(names)
        if self._stacking is None:
            for w in others:
                if w.geometry().intersects(r):
                    covered = f"window {w.title()!r} of this program"
                    break
        if covered != self._covered_by:
            self._covered_by = covered
            self._slm._interlock_changed()

    def display_state(self) -> tuple[bool, str]:
        """(ok, reason) from the last window events; safe to call from any thread."""
        if not self._exposed:
            return False, "SLM window not exposed (hidden or minimised)"
        if self._covered_by:
            return False, f"SLM window covered by {self._covered_by}"
        if not self._geometry_ok:
            where = "fullscreen on" if self._fullscreen else "at its place on"
            return False, f"SLM window not {where} screen {geometry_string(self._target_screen)}"
        return True, ""

    def exposeEvent(self, ev):  # noqa: N802 - Qt override
        """Track exposure for the interlock (then let Qt paint)."""
        super().exposeEvent(ev)
        self._refresh_state()

    def showEvent(self, ev):  # noqa: N802
        """Start the keep-alive repaints."""
        super().showEvent(ev)
        self._keepalive.start()
        self._cover_timer.start()
        self._refresh_state()

    def hideEvent(self, ev):  # noqa: N802
        """Hidden: the interlock turns off at once."""
        self._keepalive.stop()
        self._cover_timer.stop()
        self._exposed = False
        self._slm._interlock_changed()
        super().hideEvent(ev)

    def moveEvent(self, ev):  # noqa: N802
        """Moved windows no longer cover the SLM."""
        super().moveEvent(ev)
        self._refresh_state()

    def resizeEvent(self, ev):  # noqa: N802
        """Resized windows no longer match the SLM."""
        super().resizeEvent(ev)
        self._refresh_state()

    def keyPressEvent(self, ev):  # noqa: N802
        """Forward keys (Esc, Space) for slm-check."""
        self.key_pressed.emit(int(ev.key()))

    # ------------------------------------------------------------------------------------- frames in
    def set_frame(self, record: FrameRecord) -> None:
        """Queue a frame for upload (any thread); the GUI thread draws it at the next paint."""
        with self._lock:
            old = self._pending
            self._pending = record
        if old is not None and old is not record and old.t_swapped is None:
            old.superseded = True
        self.frame_ready.emit()

    def request_readback(self) -> threading.Event:
        """Ask for the next painted back buffer; the returned event is set when it is available."""
        with self._lock:
            self._readback_done.clear()
            self._readback_wanted = True
            self._readback = None
        self.readback_requested.emit()
        return self._readback_done

    def take_readback(self) -> np.ndarray | None:
        """The last read-back frame (uint8, row 0 = top), or None."""
        return self._readback

    # ------------------------------------------------------------------------------------ GL callbacks
    def initializeGL(self):  # noqa: N802
        """Compile the shader and make the texture; a failure is caught and latched as a fault."""
        try:
            self._init_gl()
            self._gl_ready = True
        except Exception as exc:  # PyQt6 aborts the process if this escapes
            self._fault("initializeGL", exc)

    def _init_gl(self) -> None:
        from OpenGL import GL

        prog = GL.glCreateProgram()
        for kind, src in ((GL.GL_VERTEX_SHADER, _VERT), (GL.GL_FRAGMENT_SHADER, _FRAG)):
            sh = GL.glCreateShader(kind)
            GL.glShaderSource(sh, src)
            GL.glCompileShader(sh)
            if not GL.glGetShaderiv(sh, GL.GL_COMPILE_STATUS):
                raise SLMDisplayError(f"SLM shader does not compile: {GL.glGetShaderInfoLog(sh)!r}")
            GL.glAttachShader(prog, sh)
        GL.glLinkProgram(prog)
        if not GL.glGetProgramiv(prog, GL.GL_LINK_STATUS):
            raise SLMDisplayError(f"SLM shader does not link: {GL.glGetProgramInfoLog(prog)!r}")
        self._prog = prog
        self._vao = GL.glGenVertexArrays(1)
        ny, nx = self._shape
        self._tex = GL.glGenTextures(1)
        GL.glBindTexture(GL.GL_TEXTURE_2D, self._tex)
        for p in (GL.GL_TEXTURE_MIN_FILTER, GL.GL_TEXTURE_MAG_FILTER):
            GL.glTexParameteri(GL.GL_TEXTURE_2D, p, GL.GL_NEAREST)
        for p in (GL.GL_TEXTURE_WRAP_S, GL.GL_TEXTURE_WRAP_T):
            GL.glTexParameteri(GL.GL_TEXTURE_2D, p, GL.GL_CLAMP_TO_EDGE)
        GL.glTexParameteri(GL.GL_TEXTURE_2D, GL.GL_TEXTURE_MAX_LEVEL, 0)
        GL.glPixelStorei(GL.GL_UNPACK_ALIGNMENT, 1)
        deep = self._slm.bits > 8
        GL.glTexImage2D(
            GL.GL_TEXTURE_2D,
            0,
            GL.GL_RGB8 if deep else GL.GL_R8,
            nx,
            ny,
            0,
            GL.GL_RGB if deep else GL.GL_RED,
            GL.GL_UNSIGNED_BYTE,
            np.zeros((ny, nx, 3) if deep else (ny, nx), np.uint8),
        )
        GL.glUseProgram(prog)
        GL.glUniform1i(GL.glGetUniformLocation(prog, "frame"), 0)
        GL.glUniform1i(GL.glGetUniformLocation(prog, "rgb"), int(deep))

    def resizeGL(self, w, h):  # noqa: N802
        """Nothing to do: the viewport is set every paint."""

    def paintGL(self):  # noqa: N802
        """Upload the newest frame (if any), draw it 1:1, read back if asked; never raises."""
        rec = None
        try:
            with self._lock:
                pending, self._pending = self._pending, None
            if pending is not None and self._faulted_at is not None and pending.index > self._faulted_at:
                self._faulted_at = None  # a new frame after a fault: try the normal path again
            if not self._gl_ready or self._faulted_at is not None:
                self._draw_safe()  # the fault (from initializeGL or an earlier paint) stays latched
            else:
                if pending is not None:
                    self._upload(pending)
                    pending.t_uploaded = self._slm._clock()
                    self._current = pending
                self._draw()
                rec = self._current
                if rec is not None and self._slm._fault and self._faulted_at is None:
                    self._slm._set_fault(None)
        except Exception as exc:
            self._fault("paintGL", exc)
            rec = None
            try:
                self._draw_safe()
            except Exception as exc2:  # even glClear failed: nothing more we can do here
                log.error("SLM safe frame could not be drawn either: %r", exc2)
        self._painted = rec
        self.paint_count += 1
        if self._readback_wanted:
            try:
                self._readback = self._read_pixels()
            except Exception as exc:
                log.error("SLM read-back failed: %r", exc)
                self._readback = None
            self._readback_wanted = False
            self._readback_done.set()

    def _upload(self, record: FrameRecord) -> None:
        from OpenGL import GL

        ny, nx = self._shape
        GL.glBindTexture(GL.GL_TEXTURE_2D, self._tex)
        GL.glPixelStorei(GL.GL_UNPACK_ALIGNMENT, 1)
        deep = self._slm.bits > 8
        data = encode_rgb(record.frame, self._slm.bits) if deep else np.ascontiguousarray(record.frame)
        GL.glTexSubImage2D(
            GL.GL_TEXTURE_2D,
            0,
            0,
            0,
            nx,
            ny,
            GL.GL_RGB if deep else GL.GL_RED,
            GL.GL_UNSIGNED_BYTE,
            np.ascontiguousarray(data),
        )

    def _raw_state(self) -> None:
        from OpenGL import GL

        for cap in (
            GL.GL_DITHER,
            GL.GL_BLEND,
            GL.GL_MULTISAMPLE,
            GL.GL_FRAMEBUFFER_SRGB,
            GL.GL_DEPTH_TEST,
            GL.GL_STENCIL_TEST,
            GL.GL_SCISSOR_TEST,
        ):
            GL.glDisable(cap)
        GL.glColorMask(True, True, True, True)
        ny, nx = self._shape
        GL.glViewport(0, 0, nx, ny)

    def _draw(self) -> None:
        from OpenGL import GL

        self._raw_state()
        GL.glUseProgram(self._prog)
        GL.glActiveTexture(GL.GL_TEXTURE0)
        GL.glBindTexture(GL.GL_TEXTURE_2D, self._tex)
        GL.glBindVertexArray(self._vao)
        GL.glDrawArrays(GL.GL_TRIANGLES, 0, 3)
        GL.glBindVertexArray(0)

    def _draw_safe(self) -> None:
        from OpenGL import GL

        GL.glDisable(GL.GL_DITHER)
        GL.glDisable(GL.GL_SCISSOR_TEST)
        GL.glClearColor(0.0, 0.0, 0.0, 1.0)
        GL.glClear(GL.GL_COLOR_BUFFER_BIT)

    def _read_pixels(self) -> np.ndarray:
        from OpenGL import GL

        ny, nx = self._shape
        GL.glPixelStorei(GL.GL_PACK_ALIGNMENT, 1)
        raw = GL.glReadPixels(0, 0, nx, ny, GL.GL_RGB, GL.GL_UNSIGNED_BYTE)
        rgb = np.frombuffer(raw, dtype=np.uint8).reshape(ny, nx, 3)[::-1]  # GL row 0 is the bottom
        try:
            return decode_rgb(rgb, self._slm.bits)
        except ValueError as exc:
            raise SLMDisplayError(f"read-back is not the frame's encoding ({exc})") from None

    def _fault(self, where: str, exc: BaseException) -> None:
        msg = f"{where}: {type(exc).__name__}: {exc}"
        if not self.faults or self.faults[-1] != msg:  # a fault repeating every frame is logged once
            log.error("SLM display fault in %s", msg, exc_info=exc)
            self.faults.append(msg)
            del self.faults[:-100]
        last = self._slm.last_record
        self._faulted_at = last.index if last is not None else -1
        self._slm._set_fault(msg)

    def _on_swapped(self) -> None:
        t = self._slm._clock()
        try:  # an exception escaping a PyQt6 slot aborts the process
            self.swap_count += 1
            rec, self._painted = self._painted, None
            self._slm._frame_swapped(rec, t)
        except Exception:
            log.exception("SLM: error after a buffer swap")


# ---------------------------------------------------------------------------------------------------------
# The SLM backend

_OPEN: weakref.WeakSet[OpenGLSLM] = weakref.WeakSet()
_hooked: list[Any] = []


def _close_all() -> None:
    for slm in list(_OPEN):
        try:
            slm.close()
        except Exception:  # shutting down: never raise from here
            log.exception("closing SLM %r at exit failed", slm.name)


def _track(slm: OpenGLSLM) -> None:
    """Close open SLM windows when the application quits (a window left to the interpreter's exit crashes)."""
    _OPEN.add(slm)
    app = QGuiApplication.instance()
    if app is not None and app not in _hooked:
        app.aboutToQuit.connect(_close_all)
        _hooked.append(app)
        atexit.register(_close_all)


class OpenGLSLM(SLM):
    """An :class:`~holostim.hardware.slm.SLM` that shows its frames in a fullscreen :class:`SLMWindow`.

    Create and use it on the GUI thread of a running ``QGuiApplication``/``QApplication``;
    :meth:`show_phase` may be called from any thread (the frame is handed over through a queued signal).

    Parameters
    ----------
    shape, pitch_um, wavelength_um, **kwargs : as :class:`~holostim.hardware.slm.SLM`.
    screen : the SLM's screen by name, serial number or geometry ``WxH+X+Y``.
    fullscreen : False only for tests/development: a window of exactly ``shape`` at the screen's top-left.
    refresh_hz : default: the screen's refresh rate.

    Raises
    ------
    ScreenError : unknown/ambiguous screen, device pixel ratio ≠ 1, or (fullscreen) a screen size other
        than ``shape``, or (windowed) a screen smaller than ``shape``.
    """

    def __init__(
        self,
        shape: Sequence[int],
        pitch_um: float,
        wavelength_um: float,
        *,
        screen: str,
        fullscreen: bool = True,
        refresh_hz: float | None = None,
        **kwargs: Any,
    ):
        qscreen = find_screen(screen)
        if refresh_hz is None:
            refresh_hz = qscreen.refreshRate() or 60.0
        super().__init__(shape, pitch_um, wavelength_um, refresh_hz=refresh_hz, **kwargs)
        ny, nx = self.shape
        dpr = qscreen.devicePixelRatio()
        g = qscreen.geometry()
        where = f"screen {screen!r} ({geometry_string(qscreen)})"
        if dpr != 1:
            raise ScreenError(
                f"{where} has device pixel ratio {dpr:g}; the SLM needs 1 so each frame pixel is one panel "
                "pixel — set the display scale of that screen to 100% (QT_SCREEN_SCALE_FACTORS / desktop "
                "settings)"
            )
        if fullscreen and (g.width(), g.height()) != (nx, ny):
            raise ScreenError(
                f"{where} is {g.width()}x{g.height()} but the SLM shape is {nx}x{ny} (width x height); set "
                "the screen's mode to the panel's native resolution or fix slm.shape"
            )
        if not fullscreen and (g.width() < nx or g.height() < ny):
            raise ScreenError(f"{where} is smaller than the SLM shape {nx}x{ny}")
        self.screen_spec = str(screen)
        self.window = SLMWindow(self, qscreen, fullscreen=fullscreen)
        _track(self)
        if fullscreen:
            self.window.showFullScreen()
        else:
            self.window.show()

    @classmethod
    def from_config(cls, section: Any, safety: Any = None, **kwargs: Any) -> OpenGLSLM:
        """The window on the session's ``slm.screen`` (refused when no screen is named)."""
        if not section.screen:
            raise ScreenError("slm.screen is not set: name the SLM's screen (name, serial or WxH+X+Y)")
        return super().from_config(section, safety, **{"screen": section.screen,
                                                         "fullscreen": bool(section.fullscreen),
                                                         "name": "slm", **kwargs})

    def _present(self, record: FrameRecord) -> None:
        self.window.set_frame(record)

    def _display_ok(self) -> tuple[bool, str]:
        return self.window.display_state()

    def wait_ready(self, timeout: float = 5.0) -> bool:
        """Process events (GUI thread) until the window is exposed and has swapped once; True if it did."""
        deadline = time.monotonic() + timeout
        app = QGuiApplication.instance()
        while time.monotonic() < deadline:
            app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 20)
            if self.window._exposed and self._t_last_swap is not None:
                return True
            time.sleep(0.002)
        return False

    def wait_swapped(self, record: FrameRecord, timeout: float = 5.0) -> bool:
        """Process events (GUI thread) until ``record`` has been swapped onto the screen."""
        deadline = time.monotonic() + timeout
        app = QGuiApplication.instance()
        while record.t_swapped is None and time.monotonic() < deadline:
            app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 20)
            if record.t_swapped is None:
                record.wait_swapped(0.001)
        return record.t_swapped is not None

    def read_back(self, timeout: float = 5.0) -> np.ndarray:
        """The frame OpenGL actually drew at the next paint (uint8 (ny, nx), row 0 = top).

        On the GUI thread this processes events while it waits; from another thread it blocks until the
        GUI thread has painted. Raises :class:`SLMDisplayError` if nothing was painted within ``timeout``
        (e.g. the window is hidden).
        """
        done = self.window.request_readback()
        on_gui = threading.current_thread() is threading.main_thread()
        deadline = time.monotonic() + timeout
        app = QGuiApplication.instance()
        while not done.is_set() and time.monotonic() < deadline:
            if on_gui:
                app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 20)
                done.wait(0.001)
            else:
                done.wait(0.05)
        frame = self.window.take_readback()
        if frame is None:
            raise SLMDisplayError(f"SLM window painted nothing to read back within {timeout:g} s")
        return frame

    def close(self) -> None:
        """Close the window; the interlock turns off."""
        if self._closed:
            return
        super().close()
        _OPEN.discard(self)
        try:
            self.window._keepalive.stop()
            self.window._cover_timer.stop()
            if self.window._stacking is not None:
                self.window._stacking.close()
            self.window.hide()
            # Delete the window (and its GL context) now, while the application lives: a QOpenGLWindow
            # left for the interpreter's exit crashes the process, and so does deleting one whose
            # platform window is gone (after close(), destroy() or QGuiApplication.quit(), which closes
            # all windows): ~QOpenGLWindow makes the context current on that surface (Qt 6.11, Mesa GLX).
            self.window.winId()  # re-creates the platform window if it is gone
            sip.delete(self.window)
        except RuntimeError:  # the C++ window is already gone
            pass
