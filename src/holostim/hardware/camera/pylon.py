"""A Basler (GenICam) camera through pypylon; pypylon is imported only when a camera is listed or opened.

Everything is set through the camera's node map and read back from it, in the order the features depend
on each other: trigger off while configuring, pixel format, binning (it changes the ROI's units), ROI
(offsets to 0 first so the size can use the whole sensor, then the size, then the offsets, whose maxima
follow the size), exposure, gain, frame rate, and last the trigger. A value the camera cannot take
exactly is refused in one line that says what it can take — never silently rounded, since an ROI one
increment off shifts every calibrated coordinate.

Streaming uses pylon's own grab engine (``StartGrabbing`` with ``GrabStrategy_LatestImageOnly`` and
``RetrieveResult`` with a short timeout), not a loop of single grabs: the camera runs at its own rate,
frames the engine dropped for a slow consumer still advance the frame counter (``skipped``), and each
frame carries the camera's timestamp as ``Frame.t_camera``. With a trigger (``hardware`` on a line, or
``software`` from :meth:`PylonCamera.trigger`) the stream waits for triggers without limit; free-running,
no frame for ``timeout_s`` is an error. Closing stops the engine, closes the camera and destroys the
device object, so the process exits cleanly.

Without hardware, pylon's camera emulator stands in: set ``PYLON_CAMEMU=1`` (or the number of emulated
cameras) in the environment before the process first enumerates cameras. The emulated "Basler Emulation"
is a 1024 × 1040 Mono8 camera with test images, Mono10/12/16, binning, ROI, a software trigger and line
trigger settings (its lines never fire), but its frames carry no timestamp (``t_camera`` is ``None``).
"""

from __future__ import annotations

import time
from typing import Annotated, Any, Literal, NamedTuple

import numpy as np
from pydantic import Field, ValidationError

from holostim.hardware.camera.base import (
    Camera,
    CameraConfigError,
    CameraError,
    CameraNotFoundError,
    CameraOptions,
    Grab,
)

__all__ = [
    "PIXEL_FORMATS", "Axis", "PylonCamera", "PylonDevice", "PylonOptions", "check_step", "list_cameras",
]

PIXEL_FORMATS: dict[str, tuple[np.dtype, int]] = {
    "Mono8": (np.dtype(np.uint8), 8),
    "Mono10": (np.dtype(np.uint16), 10),
    "Mono12": (np.dtype(np.uint16), 12),
    "Mono16": (np.dtype(np.uint16), 16),
}
"""Pixel formats holostim takes: frame dtype and significant bits (Mono10/12 come LSB-aligned in uint16)."""

EDGES = {"rising": "RisingEdge", "falling": "FallingEdge", "any": "AnyEdge"}
POLL_MS = 100  # longest a stream read blocks, so stop() is heard within this
MAX_FAILED_IN_A_ROW = 10  # failed buffers skipped while streaming before the stream counts as broken
INSTALL = "camera.backend 'pylon' needs pypylon: pip install 'holostim[basler]'"


def _pylon() -> tuple[Any, Any]:
    try:
        from pypylon import genicam, pylon
    except ImportError as exc:
        raise CameraConfigError(INSTALL) from exc
    return pylon, genicam


def _one_line(exc: BaseException) -> str:
    """Keep the first line: pypylon's messages run over several lines (with the C++ source location)."""
    text = str(exc).strip().splitlines()
    return text[0].strip() if text else type(exc).__name__


class PylonDevice(NamedTuple):
    """One camera pylon sees: what ``camera.serial`` and ``camera.model`` match."""

    serial: str
    model: str
    name: str
    device_class: str

    def describe(self) -> str:  # noqa: D102
        return f"{self.name} (serial {self.serial}, model {self.model})"


def list_cameras() -> tuple[PylonDevice, ...]:
    """Every camera pylon can see now (also one another process has open: listing does not open it)."""
    pylon, _ = _pylon()
    return tuple(PylonDevice(str(d.GetSerialNumber()), str(d.GetModelName()), str(d.GetFriendlyName()),
                             str(d.GetDeviceClass()))
                 for d in pylon.TlFactory.GetInstance().EnumerateDevices())


class Axis(NamedTuple):
    """What an integer feature (Width, OffsetX, ...) takes: ``lo..hi`` in steps of ``inc`` from ``lo``."""

    lo: int
    hi: int
    inc: int


def check_step(key: str, what: str, value: int, axis: Axis, camera: str) -> None:
    """Refuse ``value`` unless ``axis`` takes it exactly (in range and on the increment grid), in one line.

    A camera would round a width of 641 to 640 on its own; holostim says so instead, with what is allowed.
    ``key`` is the session key (``roi``), ``what`` the part of it (``width``).
    """
    lo, hi, inc = axis
    inc = max(int(inc), 1)
    if lo <= value <= hi and (value - lo) % inc == 0:
        return
    steps = f"in steps of {inc}" + (f" from {lo}" if lo % inc else "")
    raise CameraConfigError(f"camera.{key}: {what} {value} is not possible on {camera}, which takes "
                            f"{lo}..{hi} {steps} here (refused rather than rounded)")


def _choose(devices: list[Any], serial: str | None, model: str | None) -> Any:
    """The device info of the one camera ``serial``/``model`` name; one line listing them otherwise."""
    found = [PylonDevice(str(d.GetSerialNumber()), str(d.GetModelName()), str(d.GetFriendlyName()),
                         str(d.GetDeviceClass())) for d in devices]
    listing = "; ".join(f.describe() for f in found)
    if not devices:
        raise CameraNotFoundError(
            "no Basler camera found: check its cable and power and that pylon Viewer sees it (without "
            "hardware, set PYLON_CAMEMU=1 for pylon's camera emulator)")
    picked = [i for i, f in enumerate(found) if (serial is None or f.serial == serial)
              and (model is None or f.model.lower() == model.lower())]
    wanted = " and ".join(x for x in (serial and f"serial {serial!r}", model and f"model {model!r}") if x)
    if not picked:
        raise CameraNotFoundError(f"no Basler camera with {wanted}; found: {listing}")
    if len(picked) > 1:
        which = f"with {wanted} " if wanted else ""
        these = "; ".join(found[i].describe() for i in picked)
        raise CameraConfigError(f"{len(picked)} Basler cameras {which}found ({these}); choose one with "
                                "camera.serial")
    return devices[picked[0]]


class PylonOptions(CameraOptions):
    """A Basler camera through pypylon (``pip install 'holostim[basler]'``)."""

    serial: str | None = Field(None, description="the camera's serial number; default: the only camera")
    model: str | None = Field(None, description="the camera's model name, e.g. acA1920-155um")
    gain_db: Annotated[float, Field(ge=0, allow_inf_nan=False)] | None = Field(
        None, description="analog gain in dB (automatic gain off); default: the camera's")
    roi: tuple[Annotated[int, Field(ge=0)], Annotated[int, Field(ge=0)],
               Annotated[int, Field(gt=0)], Annotated[int, Field(gt=0)]] | None = Field(
        None, description="[x, y, width, height] in (binned) pixels, on the camera's increments; "
                          "default: the camera's current one")
    binning: Annotated[int, Field(ge=1, le=16)] | None = Field(
        None, description="horizontal and vertical binning; default: the camera's")
    pixel_format: Literal["Mono8", "Mono10", "Mono12", "Mono16"] = "Mono8"
    trigger: Literal["free_run", "hardware", "software"] = Field(
        "free_run", description="free_run; hardware: a frame per edge on trigger_line; "
                                "software: one per trigger()")
    trigger_line: str = "Line1"
    trigger_edge: Literal["rising", "falling", "any"] = "rising"
    timeout_s: Annotated[float, Field(gt=0, le=3600, allow_inf_nan=False)] = Field(
        5.0, description="longest wait for a frame (free run) or for a trigger (a snap)")


class PylonCamera(Camera):
    """A Basler camera through pypylon, configured from its node map and streamed by pylon's grab engine.

    Parameters
    ----------
    serial, model : str or None
        Which camera (its serial number or model name). Neither: the only camera there is; several and
        no choice is an error that lists them.
    exposure_ms : float or None
        Exposure time (automatic exposure off); default: the camera's.
    gain_db : float or None
        Gain in dB (automatic gain off); default: the camera's.
    roi : (x, y, width, height) or None
        Region of interest in pixels after binning; each number must be on the camera's increments.
        ``None`` keeps the camera's current ROI (its power-on user set, or what pylon Viewer left). A
        calibrated rig should state it: the calibration checks the frame size, but an offset changed
        elsewhere would move every calibrated position unnoticed. :attr:`roi` reads it back.
    binning : int or None
        Binning, the same horizontally and vertically; ``None`` keeps the camera's.
    pixel_format : "Mono8", "Mono10", "Mono12" or "Mono16"
        Mono8 frames are ``uint8``; the others ``uint16`` with :attr:`bit_depth` significant bits.
    trigger : "free_run", "hardware" or "software"
        ``hardware``: one frame per ``trigger_edge`` on ``trigger_line`` (FrameStart trigger);
        ``software``: one frame per :meth:`trigger` (and per :meth:`snap`).
    fps : float or None
        Frame rate the camera runs at free-running (``AcquisitionFrameRate``); default: as fast as it can.
    timeout_s : float
        Longest wait for a frame while free-running, or for the trigger of a snap.
    """

    Options = PylonOptions
    stream_owns_device = True

    def __init__(
        self,
        *,
        serial: str | None = None,
        model: str | None = None,
        exposure_ms: float | None = None,
        gain_db: float | None = None,
        roi: tuple[int, int, int, int] | list[int] | None = None,
        binning: int | None = None,
        pixel_format: str = "Mono8",
        trigger: str = "free_run",
        trigger_line: str = "Line1",
        trigger_edge: str = "rising",
        fps: float | None = None,
        timeout_s: float = 5.0,
    ) -> None:
        try:  # the session validated these already; a direct call gets the same checks
            opts = PylonOptions(serial=serial, model=model, exposure_ms=exposure_ms, gain_db=gain_db,
                                roi=None if roi is None else tuple(roi), binning=binning,
                                pixel_format=pixel_format, trigger=trigger, trigger_line=trigger_line,
                                trigger_edge=trigger_edge, fps=fps, timeout_s=timeout_s)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(part) for part in first["loc"])
            raise CameraConfigError(f"camera.{where}: {first['msg']} (got {first.get('input')!r})") from None
        pylon, genicam = _pylon()
        self._pylon, self._genicam = pylon, genicam
        factory = pylon.TlFactory.GetInstance()
        info = _choose(list(factory.EnumerateDevices()), opts.serial, opts.model)
        self.device = PylonDevice(str(info.GetSerialNumber()), str(info.GetModelName()),
                                  str(info.GetFriendlyName()), str(info.GetDeviceClass()))
        self._label = f"Basler {self.device.model} (serial {self.device.serial})"
        try:
            self._cam = pylon.InstantCamera(factory.CreateDevice(info))
            self._cam.Open()
        except genicam.GenericException as exc:
            raise CameraNotFoundError(f"{self._label} cannot be opened: {_one_line(exc)}; is another program "
                                      "(pylon Viewer, another holostim) using it?") from exc
        self._nodes = self._cam.GetNodeMap()
        self.trigger_mode = opts.trigger
        self.timeout_s = float(opts.timeout_s)
        self.snap_timeout_s = self.timeout_s
        try:
            self._configure(opts)
            super().__init__(exposure_ms=self._exposure_us() / 1000.0, fps=None,
                             name=f"basler:{self.device.model}:{self.device.serial}")
        except BaseException:
            self._free()
            raise
        self.pixel_format = opts.pixel_format
        self._dtype, self._bit_depth = PIXEL_FORMATS[opts.pixel_format]
        self._shape = (int(self.node_value("Height")), int(self.node_value("Width")))
        freq = self._node("GevTimestampTickFrequency")
        self._tick_hz = float(freq.GetValue()) if freq is not None and genicam.IsReadable(freq) else 1e9
        self._last_frame_at = 0.0
        self._failed = 0

    # ------------------------------------------------------------------ the node map
    def _node(self, name: str) -> Any | None:
        node = self._nodes.GetNode(name)
        return node if node is not None and self._genicam.IsAvailable(node) else None

    def node_value(self, name: str) -> Any:
        """A node-map feature's value (``"Width"``, ``"PixelFormat"``, ...) as the camera reports it."""
        node = self._node(name)
        if node is None or not self._genicam.IsReadable(node):
            raise CameraConfigError(f"{self._label} has no readable feature {name!r}")
        return node.GetValue()

    def _set(self, name: str, value: Any, key: str) -> None:
        node = self._node(name)
        if node is None or not self._genicam.IsWritable(node):
            raise CameraConfigError(f"camera.{key}: {self._label} cannot set {name} (not available or not "
                                    "writable on this model)")
        try:
            node.SetValue(value)
        except self._genicam.GenericException as exc:
            raise CameraConfigError(f"camera.{key}: {self._label} refused {name} = {value!r}: "
                                    f"{_one_line(exc)}") from exc

    def _axis(self, name: str) -> Axis:
        node = self._node(name)
        if node is None:
            raise CameraConfigError(f"camera.roi: {self._label} has no {name}")
        return Axis(int(node.GetMin()), int(node.GetMax()), int(node.GetInc()))

    def _enum(self, name: str, value: str, key: str) -> None:
        node = self._node(name)
        choices = tuple(node.GetSymbolics()) if node is not None else ()
        if value not in choices:
            raise CameraConfigError(f"camera.{key}: {self._label} has no {name} {value!r}"
                                    + (f"; it has {', '.join(choices)}" if choices else ""))
        self._set(name, value, key)

    def _range(self, name: str, value: float, key: str, unit: str) -> None:
        node = self._node(name)
        lo, hi = float(node.GetMin()), float(node.GetMax())
        if not lo <= value <= hi:
            scale = 1000.0 if unit == "ms" else 1.0  # exposure nodes count µs
            raise CameraConfigError(f"camera.{key} = {value / scale:g} {unit} is outside what {self._label} "
                                    f"takes: {lo / scale:g}..{hi / scale:g} {unit}")
        self._set(name, value, key)

    # ------------------------------------------------------------------ configuring
    def _configure(self, o: PylonOptions) -> None:
        self._trigger_off()
        self._enum("PixelFormat", o.pixel_format, "pixel_format")
        if o.binning is not None:
            for name in ("BinningHorizontal", "BinningVertical"):
                if self._node(name) is None:
                    raise CameraConfigError(f"camera.binning: {self._label} has no binning")
                check_step("binning", name, o.binning, self._axis(name), self._label)
                self._set(name, o.binning, "binning")
        if o.roi is not None:
            self._set_roi(o.roi)
        if o.exposure_ms is not None:
            self._set_exposure(o.exposure_ms)
        if o.gain_db is not None:
            if self._node("GainAuto") is not None:
                self._set("GainAuto", "Off", "gain_db")
            if self._node("Gain") is None:
                raise CameraConfigError(f"camera.gain_db: {self._label} has no Gain in dB (only raw gain); "
                                        "leave gain_db out and set the gain in pylon Viewer")
            self._range("Gain", float(o.gain_db), "gain_db", "dB")
        if o.fps is not None:
            if self._node("AcquisitionFrameRateEnable") is not None:
                self._set("AcquisitionFrameRateEnable", True, "fps")
            rate = "AcquisitionFrameRate" if self._node("AcquisitionFrameRate") else "AcquisitionFrameRateAbs"
            if self._node(rate) is None:
                raise CameraConfigError(f"camera.fps: {self._label} has no frame-rate setting")
            self._range(rate, float(o.fps), "fps", "Hz")
        if o.trigger != "free_run":
            self._enum("TriggerSelector", "FrameStart", "trigger")
            self._set("TriggerMode", "On", "trigger")
            if o.trigger == "software":
                self._enum("TriggerSource", "Software", "trigger")
            else:
                self._enum("TriggerSource", o.trigger_line, "trigger_line")
                self._enum("TriggerActivation", EDGES[o.trigger_edge], "trigger_edge")

    def _trigger_off(self) -> None:
        """Every trigger off (an acquisition-start trigger left on by a user set would stall a free run)."""
        selector = self._node("TriggerSelector")
        if selector is None:
            return
        for name in selector.GetSymbolics():
            if name in ("AcquisitionStart", "FrameBurstStart", "FrameStart"):
                self._set("TriggerSelector", name, "trigger")
                self._set("TriggerMode", "Off", "trigger")

    def _set_roi(self, roi: tuple[int, int, int, int]) -> None:
        x, y, w, h = (int(v) for v in roi)
        self._set("OffsetX", self._axis("OffsetX").lo, "roi")
        self._set("OffsetY", self._axis("OffsetY").lo, "roi")
        check_step("roi", "width", w, self._axis("Width"), self._label)
        check_step("roi", "height", h, self._axis("Height"), self._label)
        self._set("Width", w, "roi")
        self._set("Height", h, "roi")
        check_step("roi", "x", x, self._axis("OffsetX"), self._label)
        check_step("roi", "y", y, self._axis("OffsetY"), self._label)
        self._set("OffsetX", x, "roi")
        self._set("OffsetY", y, "roi")

    @property
    def roi(self) -> tuple[int, int, int, int]:
        """The ROI the camera has now, ``(x, y, width, height)``, read back from it."""
        return tuple(int(self.node_value(n)) for n in ("OffsetX", "OffsetY", "Width", "Height"))  # type: ignore[return-value]

    def _exposure_node(self) -> str:
        name = "ExposureTime" if self._node("ExposureTime") is not None else "ExposureTimeAbs"
        if self._node(name) is None:
            raise CameraConfigError(f"camera.exposure_ms: {self._label} has no exposure time setting")
        return name

    def _exposure_us(self) -> float:
        return float(self.node_value(self._exposure_node()))

    def _set_exposure(self, ms: float) -> None:
        if self._node("ExposureAuto") is not None:
            self._set("ExposureAuto", "Off", "exposure_ms")
        self._range(self._exposure_node(), float(ms) * 1000.0, "exposure_ms", "ms")

    # ------------------------------------------------------------------ grabbing
    def trigger(self) -> None:
        """Fire one software trigger while streaming (``trigger: software``): one frame follows."""
        if self.trigger_mode != "software":
            raise CameraConfigError(f"{self._label}: trigger() needs camera.trigger 'software' "
                                    f"(it is {self.trigger_mode!r})")
        self._check_open()
        if not self._cam.IsGrabbing():
            raise CameraError(f"{self._label} is not streaming: start() it first (snap() triggers itself)")
        self._fire()

    def _fire(self) -> None:
        pylon = self._pylon
        if not self._cam.WaitForFrameTriggerReady(int(self.timeout_s * 1000), pylon.TimeoutHandling_Return):
            raise CameraError(f"{self._label} was not ready for a trigger within {self.timeout_s:g} s")
        self._cam.ExecuteSoftwareTrigger()

    def _before_stream_snap(self) -> None:
        if self.trigger_mode == "software":
            self._fire()

    def _grab(self) -> np.ndarray:
        """One frame outside streaming: a one-frame grab (with its trigger, or waiting for the line's)."""
        pylon = self._pylon
        self._cam.StartGrabbingMax(1, pylon.GrabStrategy_OneByOne)
        try:
            if self.trigger_mode == "software":
                self._fire()
            res = self._cam.RetrieveResult(int(self.timeout_s * 1000), pylon.TimeoutHandling_Return)
            if not res or not res.IsValid():
                waited = (f"no trigger on {self.node_value('TriggerSource')} within {self.timeout_s:g} s"
                          if self.trigger_mode == "hardware" else f"no frame within {self.timeout_s:g} s")
                raise CameraError(f"{self._label}: {waited} (camera.timeout_s)")
            try:
                if not res.GrabSucceeded():
                    raise CameraError(f"{self._label}: grab failed: {res.GetErrorDescription()} "
                                      f"(error 0x{res.GetErrorCode() & 0xFFFFFFFF:08X})")
                return self._image(res)
            finally:
                res.Release()
        finally:
            if self._cam.IsGrabbing():
                self._cam.StopGrabbing()

    def _image(self, res: Any) -> np.ndarray:
        img = np.asarray(res.GetArray())
        if img.ndim != 2 or img.dtype != self._dtype:
            raise CameraError(f"{self._label} sent a {img.dtype} frame of shape {img.shape} in "
                              f"{self.pixel_format}; expected one {self._dtype} plane")
        return img

    def _stamp(self, res: Any) -> float | None:
        ticks = int(res.GetTimeStamp())
        return ticks / self._tick_hz if ticks else None  # 0: the camera (or the emulator) keeps no clock

    def _stream_begin(self) -> None:
        self._failed = 0
        self._last_frame_at = time.monotonic()
        self._cam.StartGrabbing(self._pylon.GrabStrategy_LatestImageOnly)

    def _stream_next(self) -> Grab | None:
        pylon = self._pylon
        res = self._cam.RetrieveResult(POLL_MS, pylon.TimeoutHandling_Return)
        if not res or not res.IsValid():
            if self._cam.IsCameraDeviceRemoved():
                raise CameraError(f"{self._label} was disconnected")
            stalled = time.monotonic() - self._last_frame_at
            limit = max(self.timeout_s, 2e-3 * self._exposure_us())
            if self.trigger_mode == "free_run" and stalled > limit:
                raise CameraError(f"{self._label} sent no frame for {stalled:.1f} s while free-running; "
                                  "check its cable and bandwidth in pylon Viewer")
            return None
        try:
            skipped = int(res.GetNumberOfSkippedImages())
            if not res.GrabSucceeded():  # an incomplete buffer (bandwidth): skipped unless it keeps failing
                self._failed += 1 + skipped
                if self._failed >= MAX_FAILED_IN_A_ROW:
                    raise CameraError(f"{self._label}: {self._failed} grabs failed in a row, the last: "
                                      f"{res.GetErrorDescription()}")
                return None
            grab = Grab(self._image(res), self._stamp(res), skipped + self._failed)
        finally:
            res.Release()
        self._failed = 0
        self._last_frame_at = time.monotonic()
        return grab

    def _stream_end(self) -> None:
        if self._cam.IsGrabbing():
            self._cam.StopGrabbing()

    def _release(self) -> None:
        self._free()

    def _free(self) -> None:
        """StopGrabbing, Close, DestroyDevice, each even if the one before failed."""
        cam = getattr(self, "_cam", None)
        if cam is None:
            return
        for step in (lambda: cam.IsGrabbing() and cam.StopGrabbing(), cam.Close, cam.DestroyDevice):
            try:
                step()
            except Exception:  # noqa: BLE001, S110 - the device may be gone already; free the rest
                pass
        self._cam = None
