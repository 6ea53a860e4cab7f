"""The SLM base: from a phase in radians to the exact 8-bit frame on the panel, plus the laser interlock.

A phase-only SLM is a display whose gray levels set a liquid-crystal retardance.  Whatever the engine
computes is worthless unless the right gray levels reach the panel, so the conversion lives in one
place, the :class:`SLM` base class, and every backend (the simulated panel, the OpenGL window) only
pushes the finished ``uint8`` frame (``_present``).

:meth:`SLM.load` adds the precomputed correction (:mod:`.corrections`), wraps, scales to the gray levels
of the working wavelength and applies the LUT (:mod:`.lut`) in one fused pass (:mod:`.gray`), on the
backend of the phase array; on CuPy only the finished ``uint8`` frame crosses to the host.  With
``two_pi_gray`` the gray levels per 2π are that value; with a LUT they are its 256 phase levels.

This module never imports Qt: the core must run on a headless analysis machine, and only the OpenGL
window (``window.py`` and the screen helpers next to it) touches Qt.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from holostim.backend import is_cupy_array
from holostim.checks import non_negative, number_pair, positive
from holostim.hardware.slm import corrections, gray
from holostim.hardware.slm.errors import SLMDisplayError, SLMError
from holostim.hardware.slm.interlock import InterlockWatchdog
from holostim.hardware.slm.lut import LUT, gray_scale

__all__ = ["SLM", "FrameRecord", "SLMProtocol"]

log = logging.getLogger("holostim.slm")


@dataclass(eq=False)
class FrameRecord:
    """One frame's journey to the panel; times are on the SLM's clock (monotonic), ``None`` until reached.

    Attributes
    ----------
    index : running frame number of this SLM (0, 1, ...).
    frame : the exact ``uint8`` (ny, nx) frame (row 0 = top of the screen).
    t_request : when :meth:`SLM.show_phase` / :meth:`SLM.load` was called.
    t_loaded : when the frame was finished (corrections, wrap, LUT done; on the host).
    t_uploaded : when the backend handed the frame to the display (texture upload in OpenGL).
    t_swapped : when the first buffer swap showing it completed (``frameSwapped`` in OpenGL).
    wall_offset : add to a monotonic time to get wall-clock seconds since the epoch (see :meth:`wall`).
    superseded : True when a newer frame replaced this one before it was ever swapped.
    """

    index: int
    frame: np.ndarray
    t_request: float
    t_loaded: float | None = None
    t_uploaded: float | None = None
    t_swapped: float | None = None
    wall_offset: float = 0.0
    superseded: bool = False
    _swapped: threading.Event = field(default_factory=threading.Event, repr=False)

    def wall(self, t: float | None) -> float | None:
        """Wall-clock (epoch seconds) of a monotonic time of this record."""
        return None if t is None else t + self.wall_offset

    @property
    def wall_request(self) -> float:
        """Wall-clock time of the request."""
        return self.t_request + self.wall_offset

    @property
    def wall_swapped(self) -> float | None:
        """Wall-clock time of the swap, once it happened."""
        return self.wall(self.t_swapped)

    def wait_swapped(self, timeout: float | None = None) -> bool:
        """Block until the frame has been swapped onto the screen (True) or ``timeout`` s passed (False).

        Do not call this on the GUI thread of an OpenGL SLM: the swap needs that thread's event loop.
        """
        return self._swapped.wait(timeout)

    def timings_ms(self) -> dict[str, float | None]:
        """Milliseconds from the request to each later stage (for logs and benchmarks)."""

        def d(t):
            return None if t is None else 1e3 * (t - self.t_request)

        return {"load_ms": d(self.t_loaded), "upload_ms": d(self.t_uploaded), "swap_ms": d(self.t_swapped)}


@runtime_checkable
class SLMProtocol(Protocol):
    """What the session, GUI and calibration need from any SLM (every :class:`SLM` backend has it)."""

    name: str
    shape: tuple[int, int]
    pitch_um: float
    wavelength_um: float
    blaze: tuple[float, float]

    @property
    def settle_ms(self) -> float: ...  # noqa: D102

    def settle_time_s(self, taus: float = 3.0) -> float: ...  # noqa: D102

    last_record: FrameRecord | None

    def show_phase(self, phase: Any) -> FrameRecord: ...  # noqa: D102

    def show_gray(self, frame: np.ndarray) -> FrameRecord: ...  # noqa: D102

    def phase_to_gray(self, phase: Any, out: np.ndarray | None = None) -> Any: ...  # noqa: D102

    def load(self, phase: Any) -> FrameRecord: ...  # noqa: D102

    def display(self, record: FrameRecord | None = None) -> FrameRecord: ...  # noqa: D102

    @property
    def laser_permitted(self) -> bool: ...  # noqa: D102

    def interlock_state(self, now: float | None = None) -> tuple[bool, str]: ...  # noqa: D102

    def check_interlock(self) -> tuple[bool, str]: ...  # noqa: D102

    @property
    def corrections_version(self) -> int: ...  # noqa: D102

    def add_interlock_listener(self, callback: Callable[[bool, str], None]) -> Callable[[], None]: ...  # noqa: D102

    def add_frame_listener(self, callback: Callable[[FrameRecord], None]) -> Callable[[], None]: ...  # noqa: D102

    def describe(self) -> dict[str, Any]: ...  # noqa: D102

    def close(self) -> None: ...  # noqa: D102


class SLM:
    """Shared logic of every SLM: corrections, wrap, wavelength scaling, LUT, frames and the interlock.

    Backends override :meth:`_present` (push a finished frame), and for the interlock
    :meth:`_display_ok` (is the display really showing our window?) and call :meth:`_frame_swapped` on
    each buffer swap.

    Parameters
    ----------
    shape : (ny, nx) pixels of the panel.
    pitch_um : pixel pitch in µm.
    wavelength_um : the working (laser) wavelength in µm. The phases given to :meth:`show_phase` are
        radians at this wavelength.
    two_pi_gray : gray value that gives a 2π retardance, either one number or ``{wavelength_um: gray}``.
        One number is valid at ``two_pi_gray_wavelength_um`` (default: the working wavelength) and is
        scaled linearly, ``G(λ) = G(λ0) · λ / λ0`` (retardance ∝ 1/λ; LC dispersion neglected), which
        must stay ≤ 256. Default 255 when neither this nor ``lut`` is given.
    lut : a :class:`LUT`, a LUT file path, or ``{wavelength_um: LUT or path}``; the entry for the working
        wavelength is used (a LUT is never rescaled to another wavelength: it is not linear).
    flatness : vendor flatness-correction image (path, or uint8/float array of gray values) of the SLM
        shape; its gray value ``g`` means the phase ``2π g / flatness_two_pi_gray`` at
        ``flatness_wavelength_um``, rescaled to the working wavelength by ``λ_design / λ`` (exact only
        away from the file's own wrap lines: use the vendor file for your wavelength when there is one).
    zernike : aberration correction, ANSI index → coefficient in radians at the working wavelength,
        orthonormal (RMS-normalised) Zernike polynomials on the disc of radius ``zernike_radius_px``
        (default the inscribed circle, ``min(ny, nx) / 2``) centred on pixel (ny//2, nx//2); zero outside.
        A mapping ``{j: c}`` or a sequence indexed by j.
    blaze : (gx, gy) grating in cycles per pixel; moves the far field by (+gx·nx, +gy·ny) Fourier pixels
        (the zero order stays put, the pattern leaves it).
    fresnel_focal_um : focal length (µm) of a Fresnel lens added to the pattern,
        ``-π r² / (λ f)`` with r in µm from the centre pixel (f > 0 converges): moves the pattern off the
        focal plane of the zero order. ``None`` for none.
    refresh_hz : the panel's frame rate (for the interlock's staleness in frame periods).
    stale_frames, stale_ms : the interlock turns off when the last completed swap is older than
        ``stale_ms`` (if given) or ``stale_frames`` frame periods.
    settle_tau_ms : the liquid crystal's response time constant τ in ms (the datasheet's value on a real
        panel; the simulated panel models it). The laser gate waits a few τ after each swap.
    name : label for logs.
    clock : monotonic clock (seconds) for frame times and the interlock's staleness; default
        ``time.monotonic``. Tests inject a controllable one to check the staleness deadline exactly.
    bits : gray depth of the frames: 8 (uint8, the default), 10 or 12 (uint16 frames; ``two_pi_gray`` up to
        2^bits, a LUT of 2^bits entries). A backend shows them as its panel takes them (the OpenGL window
        encodes them into RGB, :mod:`.opengl.encoding`).
    device_lut, device_flatness : set by backends whose vendor SDK applies its own phase LUT or flatness
        (wavefront) correction in the device (a Meadowlark hardware LUT, a Holoeye wavefront file): a
        short description of it. holostim then refuses its own ``lut`` / ``flatness`` — the same
        correction applied twice is a wrong phase, not a better one.

    Notes
    -----
    *Load and display.* :meth:`load` converts a phase into a frame and keeps it; :meth:`display` hands
    it to the backend, so the next frame can be prepared while the current one is shown.
    :meth:`show_phase` does both. Each frame has a :class:`FrameRecord` with its timestamps;
    :meth:`add_frame_listener` hears about every completed swap (for the event log).

    *Laser interlock.* ``laser_permitted`` is True only when all of these hold: the SLM is open, no
    display fault is latched, one of our frames has reached the screen, the backend's display check
    passes (OpenGL: window exposed, uncovered, fullscreen on the right screen; simulated: "visible"), and
    the last completed swap is at most ``stale_s`` old (backends keep swapping while healthy, so a
    stalled display goes stale). ``interlock_reason`` says which condition failed.
    :meth:`add_interlock_listener` callbacks hear every change, from a watchdog thread that wakes at the
    exact staleness deadline and on every display event. The core never imports Qt: the GUI forwards
    the callback through a queued signal, a DAQ output can act on it directly.

    *Threads.* :meth:`show_phase`/:meth:`load`/:meth:`display` may be called from a worker thread
    (one at a time); the OpenGL backend hands frames to the GUI thread through a queued signal.
    """

    def __init__(
        self,
        shape: Sequence[int],
        pitch_um: float,
        wavelength_um: float,
        *,
        two_pi_gray: float | Mapping[float, float] | None = None,
        two_pi_gray_wavelength_um: float | None = None,
        lut: LUT | str | Path | Mapping[float, LUT | str | Path] | None = None,
        flatness: str | Path | np.ndarray | None = None,
        flatness_wavelength_um: float | None = None,
        flatness_two_pi_gray: float = 256.0,
        zernike: Mapping[int, float] | Sequence[float] | None = None,
        zernike_radius_px: float | None = None,
        blaze: Sequence[float] = (0.0, 0.0),
        fresnel_focal_um: float | None = None,
        refresh_hz: float = 60.0,
        stale_frames: float = 3.0,
        stale_ms: float | None = None,
        settle_tau_ms: float = 0.0,
        name: str = "slm",
        clock: Callable[[], float] = time.monotonic,
        device_lut: str | None = None,
        device_flatness: str | None = None,
        bits: int = 8,
    ):
        try:
            ny, nx = (int(s) for s in shape)
        except (TypeError, ValueError):
            raise SLMError(f"shape={shape!r} must be (ny, nx)") from None
        if ny < 2 or nx < 2:
            raise SLMError(f"shape={shape!r}: both sides must be at least 2 pixels")
        self.shape = (ny, nx)
        self.pitch_um = positive(pitch_um, "pitch_um", SLMError)
        self.wavelength_um = positive(wavelength_um, "wavelength_um", SLMError)
        self.name = name
        self._clock = clock
        self.refresh_hz = positive(refresh_hz, "refresh_hz", SLMError)
        self.stale_frames = positive(stale_frames, "stale_frames", SLMError)
        self.stale_ms = None if stale_ms is None else positive(stale_ms, "stale_ms", SLMError)
        self.settle_tau_ms = non_negative(settle_tau_ms, "settle_tau_ms", SLMError)

        self.device_lut = device_lut
        self.device_flatness = device_flatness
        if device_lut and lut is not None:
            raise SLMError(
                f"the SLM's SDK already applies its own LUT ({device_lut}); holostim's lut would apply a "
                "second one — remove slm.lut (keep two_pi_gray for the device's linearised scale) or the "
                "SDK's LUT"
            )
        if device_flatness and flatness is not None:
            raise SLMError(
                f"the SLM's SDK already applies its own flatness correction ({device_flatness}); "
                "holostim's flatness would add it twice — remove slm.flatness or the SDK's file"
            )
        scale = gray_scale(self.wavelength_um, two_pi_gray, two_pi_gray_wavelength_um, lut, bits=int(bits))
        self.bits = scale.bits
        self.gray_dtype = np.dtype(scale.table.dtype)
        self.lut: LUT | None = scale.lut
        self.two_pi_gray = scale.two_pi_gray
        self._period = scale.period
        self._scale = scale.scale
        self._table = scale.table
        # Retardance (radians) the panel gives for each gray value: the inverse of the mapping above.
        self._phase_of_gray = scale.phase_of_gray

        self._flatness_gray: np.ndarray | None = None
        self.flatness_wavelength_um = None
        self.flatness_two_pi_gray = positive(flatness_two_pi_gray, "flatness_two_pi_gray", SLMError)
        if flatness is not None:
            self._flatness_gray = corrections.flatness_gray(flatness, self.shape)
            self.flatness_wavelength_um = (
                self.wavelength_um
                if flatness_wavelength_um is None
                else positive(flatness_wavelength_um, "flatness_wavelength_um", SLMError)
            )
        self.zernike: dict[int, float] = corrections.parse_zernike(zernike)
        self.zernike_radius_px = (
            min(ny, nx) / 2.0
            if zernike_radius_px is None
            else positive(zernike_radius_px, "zernike_radius_px", SLMError)
        )
        self.blaze = number_pair(blaze, "blaze", SLMError)
        self.fresnel_focal_um = corrections.fresnel_focal_um(fresnel_focal_um)
        self._correction: np.ndarray | None = None
        self._corrections_version = 0
        self._device_cache: dict[str, Any] = {}
        self._update_correction()
        gray.warm_up()
        #: CPU threads of the phase→gray kernel (see :func:`.gray.kernel_threads`; settable).
        self.kernel_threads = gray.kernel_threads()

        self._lock = threading.RLock()
        self._frame_counter = 0
        self._pending: FrameRecord | None = None
        self.last_record: FrameRecord | None = None  # the last frame handed to the display
        self._closed = False
        self._t_last_swap: float | None = None
        self._frame_on_screen = False  # one of our frames (not the window's initial blank) was swapped
        self._frame_listeners: list[Callable[[FrameRecord], None]] = []
        self._fault: str | None = None
        self._interlock = InterlockWatchdog(
            self.interlock_state, self._stale_deadline, lambda: self._closed, clock, f"{name}-interlock"
        )

    # ----------------------------------------------------------------------------------- corrections
    def flatness_phase(self) -> np.ndarray | None:
        """The flatness correction as phase (float64 radians at the working wavelength), or None."""
        if self._flatness_gray is None:
            return None
        return corrections.flatness_phase(
            self._flatness_gray, self.flatness_two_pi_gray, self.flatness_wavelength_um, self.wavelength_um
        )

    def set_corrections(
        self,
        *,
        zernike: Mapping[int, float] | Sequence[float] | None | bool = False,
        blaze: Sequence[float] | None = None,
        fresnel_focal_um: float | None | bool = False,
    ) -> None:
        """Change the Zernike, blaze and lens corrections live (arguments left out keep their value).

        ``zernike=None`` and ``fresnel_focal_um=None`` remove them. Takes effect with the next frame.
        """
        if zernike is not False:
            self.zernike = corrections.parse_zernike(zernike)
        if blaze is not None:
            self.blaze = number_pair(blaze, "blaze", SLMError)
        if fresnel_focal_um is not False:
            self.fresnel_focal_um = corrections.fresnel_focal_um(fresnel_focal_um)
        self._update_correction()

    def _update_correction(self) -> None:
        """Precompute the total correction phase (float32, radians at the working wavelength).

        The new array and an empty device cache are swapped in together (one tuple assignment each is
        atomic in CPython), so a frame being converted on another thread uses either the old or the new
        correction, never a mix.
        """
        corr = corrections.correction_phase(
            self.shape,
            self.pitch_um,
            self.wavelength_um,
            flatness=self.flatness_phase(),
            zernike=self.zernike,
            zernike_radius_px=self.zernike_radius_px,
            blaze=self.blaze,
            fresnel_focal_um=self.fresnel_focal_um,
        )
        self._device_cache, self._correction = {}, corr
        self._corrections_version += 1

    @property
    def corrections_version(self) -> int:
        """Counts correction changes: a frame made at one version shows other light at another."""
        return self._corrections_version

    @property
    def correction_phase(self) -> np.ndarray:
        """The total correction added to every phase (float32 radians in [0, 2π); zeros if none)."""
        return self._correction if self._correction is not None else np.zeros(self.shape, np.float32)

    # ---------------------------------------------------------------------------------- phase -> gray
    def phase_to_gray(self, phase: Any, out: np.ndarray | None = None) -> Any:
        """The uint8 frame for ``phase`` (radians at the working wavelength), on the phase's backend.

        numpy in → numpy out (``out`` may be a preallocated uint8 array); CuPy in → CuPy out.
        Raises :class:`SLMError` on a wrong shape or non-finite values (no frame is produced then).
        """
        if tuple(getattr(phase, "shape", ())) != self.shape:
            raise SLMError(
                f"phase has shape {getattr(phase, 'shape', None)} but the SLM is {self.shape} (ny, nx)"
            )
        if is_cupy_array(phase):
            return self._phase_to_gray_cupy(phase)
        ph = np.asarray(phase)
        if ph.dtype.kind != "f":
            ph = ph.astype(np.float32)
        ph = np.ascontiguousarray(ph)
        if out is None:
            out = np.empty(self.shape, dtype=self.gray_dtype)
        corr = self._correction  # read once: set_corrections() may swap it from another thread
        bad = gray.phase_to_gray_cpu(
            ph, corr, self._scale, self._period, self._table, out, self.kernel_threads
        )
        if bad:
            raise SLMError(f"phase holds {bad} non-finite values (NaN or inf); refusing to show it")
        return out

    def _phase_to_gray_cupy(self, phase):
        import cupy

        if phase.dtype.kind != "f":
            phase = phase.astype(cupy.float32)
        cache, corr = self._device_cache, self._correction  # read once (see phase_to_gray)
        if "table" not in cache:
            cache["table"] = cupy.asarray(self._table)
        if corr is not None and phase.dtype not in cache:
            cache[phase.dtype] = cupy.asarray(corr, dtype=phase.dtype)
        dcorr = None if corr is None else cache[phase.dtype]
        frame, bad = gray.phase_to_gray_cupy(phase, dcorr, cache["table"], self._scale, self._period)
        if bad:
            raise SLMError(f"phase holds {bad} non-finite values (NaN or inf); refusing to show it")
        return frame

    def gray_to_phase(self, frame: np.ndarray) -> np.ndarray:
        """The retardance (float32 radians, not wrapped) the panel applies for a uint8 frame."""
        return self._phase_of_gray.astype(np.float32)[np.asarray(frame, dtype=self.gray_dtype)]

    # ------------------------------------------------------------------------------- load and display
    def _new_record(self, frame: np.ndarray, t_request: float) -> FrameRecord:
        with self._lock:
            idx = self._frame_counter
            self._frame_counter += 1
        return FrameRecord(
            index=idx, frame=frame, t_request=t_request, wall_offset=time.time() - self._clock()
        )

    def load(self, phase: Any) -> FrameRecord:
        """Compute the next frame (corrections, wrap, wavelength scaling, LUT → uint8) without showing it.

        Runs on the phase's backend; for CuPy only the uint8 frame is copied to the host. The frame waits
        in the SLM until :meth:`display`; loading again replaces it.
        """
        t0 = self._clock()
        frame = self.phase_to_gray(phase)
        if is_cupy_array(frame):
            frame = frame.get()
        rec = self._new_record(frame, t0)
        rec.t_loaded = self._clock()
        with self._lock:
            self._pending = rec
        return rec

    def load_gray(self, frame: np.ndarray) -> FrameRecord:
        """Queue a ready uint8 frame (test patterns, replay) as given, bypassing the phase pipeline."""
        t0 = self._clock()
        arr = np.asarray(frame)
        if arr.shape != self.shape or arr.dtype != self.gray_dtype:
            raise SLMError(
                f"frame must be {self.gray_dtype} of shape {self.shape}, got {arr.dtype} {arr.shape}"
            )
        if self.bits > 8 and arr.size and int(arr.max()) >= 2**self.bits:
            raise SLMError(
                f"frame holds gray {int(arr.max())}, beyond the {self.bits}-bit range 0..{2**self.bits - 1}"
            )
        rec = self._new_record(np.ascontiguousarray(arr).copy(), t0)
        rec.t_loaded = self._clock()
        with self._lock:
            self._pending = rec
        return rec

    def display(self, record: FrameRecord | None = None) -> FrameRecord:
        """Show the loaded frame (or ``record``) on the panel: hands it to the backend's ``_present``."""
        with self._lock:
            if self._closed:
                raise SLMDisplayError(f"SLM {self.name!r} is closed")
            rec = record if record is not None else self._pending
            if rec is None:
                raise SLMError("nothing loaded: call load(phase) before display()")
            if rec is self._pending:
                self._pending = None
            self.last_record = rec
        self._present(rec)
        return rec

    def show_phase(self, phase: Any) -> FrameRecord:
        """Load ``phase`` (radians, numpy or CuPy) and display it; returns the frame's record."""
        return self.display(self.load(phase))

    def show_gray(self, frame: np.ndarray) -> FrameRecord:
        """Display a ready uint8 frame as given (test patterns)."""
        return self.display(self.load_gray(frame))

    @property
    def last_frame(self) -> np.ndarray | None:
        """The last uint8 frame handed to the display (None before the first)."""
        rec = self.last_record
        return None if rec is None else rec.frame

    def add_frame_listener(self, callback: Callable[[FrameRecord], None]) -> Callable[[], None]:
        """Call ``callback(record)`` when a frame's swap completes (event log, GUI). Returns a remover.

        Called on the thread that saw the swap (the GUI thread for OpenGL); keep it short.
        """
        self._frame_listeners.append(callback)
        return lambda: self._frame_listeners.remove(callback) if callback in self._frame_listeners else None

    def _present(self, record: FrameRecord) -> None:  # pragma: no cover - abstract
        """Backend hook: push ``record.frame`` to the display, set ``t_uploaded``, later report the swap."""
        raise NotImplementedError

    def _frame_swapped(self, record: FrameRecord | None, t: float) -> None:
        """Backends call this when a swap completed at clock time ``t`` (``record``: the frame it showed)."""
        if record is not None:
            self._frame_on_screen = True
        self._note_swap(t)
        if record is not None and record.t_swapped is None:
            record.t_swapped = t
            record._swapped.set()
            for cb in list(self._frame_listeners):
                try:
                    cb(record)
                except Exception:  # a listener must never break the display path
                    log.exception("frame listener %r failed", cb)

    # ------------------------------------------------------------------------------------- interlock
    @property
    def stale_s(self) -> float:
        """Seconds after the last completed swap at which the interlock turns off."""
        if self.stale_ms is not None:
            return self.stale_ms / 1e3
        return self.stale_frames / self.refresh_hz

    def _display_ok(self) -> tuple[bool, str]:
        """Backend hook: ``(ok, reason)``: is the display showing our frames (exposed, fullscreen)."""
        return True, ""

    def _last_swap_time(self) -> float | None:
        """Backend hook: clock time of the last completed swap (any frame, repeats included)."""
        return self._t_last_swap

    def _stale_deadline(self) -> float | None:
        """Clock time at which the last swap goes stale (None before any swap)."""
        t = self._last_swap_time()
        return None if t is None else t + self.stale_s

    def _interlock_changed(self) -> None:
        """Something the permit depends on changed: let the watchdog re-evaluate now."""
        self._interlock.wake()

    def _note_swap(self, t: float) -> None:
        """Record a completed swap (keep-alive repaints count: they prove the display path is alive)."""
        was = self._t_last_swap
        self._t_last_swap = t
        if was is None or self._interlock.reported is False:
            self._interlock.wake()

    def _set_fault(self, reason: str | None) -> None:
        """Latch (or clear) a display fault; the interlock stays off while one is set."""
        self._fault = reason
        self._interlock.wake()

    def interlock_state(self, now: float | None = None) -> tuple[bool, str]:
        """``(laser_permitted, reason)`` at clock time ``now`` (default: now); the reason says why not."""
        if self._closed:
            return False, f"SLM {self.name!r} is closed"
        if self._fault:
            return False, f"display fault: {self._fault}"
        if self.last_record is None:
            return False, "no frame shown yet"
        if not self._frame_on_screen:
            return False, "the first frame has not reached the screen yet"
        ok, why = self._display_ok()
        if not ok:
            return False, why
        t = self._last_swap_time()
        if t is None:
            return False, "no frame has reached the screen yet"
        now = self._clock() if now is None else now
        if now - t > self.stale_s:  # a stable text: the watchdog reports every change of reason
            return False, f"no frame swap in time (limit {1e3 * self.stale_s:.0f} ms): display stalled"
        return True, ""

    @property
    def laser_permitted(self) -> bool:
        """Whether it is safe to let laser light through the SLM right now."""
        return self.interlock_state()[0]

    @property
    def interlock_reason(self) -> str:
        """Why the laser is not permitted ("" when it is)."""
        return self.interlock_state()[1]

    def check_interlock(self) -> tuple[bool, str]:
        """Run one watchdog pass on this thread (listeners hear a change before it returns); the state.

        The one way to bring the interlock's listeners up to date on demand: a listener that took the
        state from elsewhere could miss an edge the watchdog never saw (on, then off, before its pass).
        """
        self._interlock.check()
        return self.interlock_state()

    def add_interlock_listener(self, callback: Callable[[bool, str], None]) -> Callable[[], None]:
        """Call ``callback(permitted, reason)`` now and on every change; returns a function that removes it.

        Changes are detected by a watchdog thread that wakes exactly when the last swap goes stale and
        on every display event, so a listener hears "off" within ``stale_s`` of the last swap (plus
        scheduling delay). Callbacks run on the watchdog thread: GUIs must forward them with a queued
        signal; a DAQ output can act directly. A callback must not wait on a lock held by a caller of
        :meth:`check_interlock` (passes are serialised), nor block for long.
        """
        return self._interlock.add_listener(callback)

    # -------------------------------------------------------------------------------------- lifetime
    def close(self) -> None:
        """Stop showing frames; the interlock turns off for good."""
        self._closed = True
        self._interlock.stop()

    @property
    def closed(self) -> bool:
        """True after :meth:`close`."""
        return self._closed

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @classmethod
    def from_config(cls, section: Any, safety: Any = None, **kwargs: Any) -> SLM:
        """Build this backend from a session's validated ``slm`` section (and its ``safety`` section).

        The section is :class:`holostim.config.SLMConfig` (this layer does not import the config; it only
        reads ``slm_kwargs``). Backends with settings of their own override this; ``kwargs`` win.
        """
        return cls(**{**section.slm_kwargs(safety), **kwargs})

    @property
    def settle_ms(self) -> float:
        """The panel's liquid-crystal response time constant τ in ms (``settle_tau_ms``; 0: instantaneous).

        Every backend has one, because the laser gate must not open on a half-switched panel: on a real
        rig it is the datasheet's (or a measured) response time, not something the display can report.
        """
        return self.settle_tau_ms

    def settle_time_s(self, taus: float = 3.0) -> float:
        """Seconds after a swap until the panel has settled: ``taus`` × τ for a plain first-order panel.

        The one place the laser gate's settle wait comes from; a backend whose model settles otherwise
        (the simulated panel with overdrive, :mod:`.response`) overrides it with its model's figure.
        """
        return float(taus) * self.settle_ms / 1e3

    def describe(self) -> dict[str, Any]:
        """The settings that decide the frames (for the event log header)."""
        return {
            "name": self.name,
            "shape": list(self.shape),
            "pitch_um": self.pitch_um,
            "wavelength_um": self.wavelength_um,
            "two_pi_gray": None if self.lut is not None else self.two_pi_gray,
            "lut": None if self.lut is None else self.lut.source,
            "flatness": self._flatness_gray is not None,
            "flatness_wavelength_um": self.flatness_wavelength_um,
            "zernike": dict(self.zernike),
            "blaze": list(self.blaze),
            "fresnel_focal_um": self.fresnel_focal_um,
            "stale_ms": 1e3 * self.stale_s,
            "settle_tau_ms": self.settle_ms,
            "bits": self.bits,
            "device_lut": self.device_lut,
            "device_flatness": self.device_flatness,
        }
