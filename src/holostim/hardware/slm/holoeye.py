"""Holoeye SLMs (PLUTO, GAEA, LETO, ERIS) through the HOLOEYE SLM Display SDK's C API (``heds_*``, API 3).

The C signatures bound here are those of the SDK's published headers
(``holoeye_slmdisplaysdk_shared.h``, ``holoeye_slmdisplaysdk_types.h``, ``holoeye_slmdisplaysdk_data.h``)::

    typedef struct { int api; char apiname[32]; } heds_configuration;   // HEDS_CONFIGURATION_DEFAULT: api = 1
    int   heds_requires_version(int requiredApiVersion, int showMessagebox);  // HOLOEYE_TRUE: supported
    int   heds_slm_init(const heds_configuration* configuration);             // heds_errorcode, 0 = no error
    void  heds_slm_close();
    int   heds_slm_width_px(), heds_slm_height_px();
    double heds_slm_pixelsize_um();
    float heds_slm_refreshrate_hz();
    int   heds_show_data_grayscale_uchar(int width, int height, const unsigned char* data, int pitch,
                                         unsigned int showFlags);             // HEDSSHF_PresentCentered = 1
    int   heds_slm_wavefrontcompensation_load_utf8(const char* filename, double wavelength_nm,
                                                   unsigned int flags, int shift_x, int shift_y);
    const char* heds_error_string_ascii(int error);

The panel's phase calibration (gray → voltage) lives in its driver, so holostim's gray levels are
linear phase with the panel's ``two_pi_gray``; with ``wavefront_file`` the SDK adds Holoeye's wavefront
compensation itself, and holostim then refuses its own ``flatness`` (the base class's
``device_flatness``) so it is never applied twice.

**Tested against a stand-in only.** The SDK cannot be installed here; the tests build a C library with
these signatures (``tests/hardware/slm/standins/heds.c``) that records every call and argument and
returns error codes on demand. A first run on a real panel must confirm: that a return from
``heds_show_data_grayscale_uchar`` means the frame is on the panel (the SDK renders through its own
window; if it only queues, the swap time here is early and the data-handle API's wait for the
"visible" state is needed), the API version (3) the installed SDK accepts, the pitch and refresh
rate reported, and the wavefront file's wavelength handling.
"""

from __future__ import annotations

import ctypes
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from holostim.hardware.slm.base import FrameRecord
from holostim.hardware.slm.errors import SLMError
from holostim.hardware.slm.vendor import HeldFrameSLM, SDKError, bind, load_sdk

__all__ = ["HoloeyeSLM"]

SDK = "HOLOEYE SLM Display SDK"
LIBRARY_NAMES = ("holoeye_slmdisplaysdk.dll", "holoeye_slmdisplaysdk.so", "libholoeye_slmdisplaysdk.so")
API_VERSION = 3
HEDSSHF_PRESENT_CENTERED = 1


class _Configuration(ctypes.Structure):
    _fields_ = [("api", ctypes.c_int), ("apiname", ctypes.c_char * 32)]


class HoloeyeSLM(HeldFrameSLM):
    """A Holoeye panel driven through the SLM Display SDK.

    Parameters
    ----------
    shape : (ny, nx) the session expects, or ``None`` for the panel's; a mismatch is refused.
    pitch_um : the session's pitch, checked against the SDK's (1 % tolerance); ``None`` takes the SDK's.
    wavelength_um, **kwargs : as :class:`~holostim.hardware.slm.SLM`.
    sdk_path : the SDK's library file or its folder (``slm.holoeye.sdk_path``).
    wavefront_file : Holoeye's wavefront-compensation file (H5), applied by the SDK at the working
        wavelength; holostim's ``flatness`` is then refused.
    """

    def __init__(
        self,
        shape: Sequence[int] | None = None,
        pitch_um: float | None = None,
        wavelength_um: float = 1.064,
        *,
        sdk_path: str | Path | None = None,
        wavefront_file: str | Path | None = None,
        **kwargs: Any,
    ):
        if int(kwargs.get("bits", 8)) != 8:
            raise SLMError("the Holoeye SDK's heds_show_data_grayscale_uchar takes 8-bit frames; "
                           "set slm.bits to 8")
        self._lib = load_sdk(sdk_path, LIBRARY_NAMES, SDK, "slm.holoeye.sdk_path")
        c = ctypes
        self._c = {name: bind(self._lib, name, res, args, SDK) for name, res, args in (
            ("heds_requires_version", c.c_int, [c.c_int, c.c_int]),
            ("heds_slm_init", c.c_int, [c.POINTER(_Configuration)]),
            ("heds_slm_close", None, []),
            ("heds_slm_width_px", c.c_int, []),
            ("heds_slm_height_px", c.c_int, []),
            ("heds_slm_pixelsize_um", c.c_double, []),
            ("heds_slm_refreshrate_hz", c.c_float, []),
            ("heds_show_data_grayscale_uchar", c.c_int,
             [c.c_int, c.c_int, c.POINTER(c.c_ubyte), c.c_int, c.c_uint]),
            ("heds_slm_wavefrontcompensation_load_utf8", c.c_int,
             [c.c_char_p, c.c_double, c.c_uint, c.c_int, c.c_int]),
            ("heds_error_string_ascii", c.c_char_p, [c.c_int]),
        )}
        if not self._c["heds_requires_version"](API_VERSION, 0):
            raise SDKError(f"{SDK}: the installed SDK does not provide API version {API_VERSION}; install "
                           "SLM Display SDK 3.x or set slm.holoeye.sdk_path to it")
        config = _Configuration(api=1, apiname=b"holostim")
        self._check(self._c["heds_slm_init"](ctypes.byref(config)), "heds_slm_init (is the SLM connected?)")
        self._open = True
        try:
            ny, nx = self._c["heds_slm_height_px"](), self._c["heds_slm_width_px"]()
            if shape is not None and tuple(int(s) for s in shape) != (ny, nx):
                raise SLMError(f"the Holoeye SLM is {ny}x{nx} (rows x columns) but slm.shape is "
                               f"{list(shape)}; "
                               f"set slm.shape to [{ny}, {nx}]")
            sdk_pitch = float(self._c["heds_slm_pixelsize_um"]())
            if pitch_um is None:
                pitch_um = sdk_pitch
            elif sdk_pitch > 0 and abs(float(pitch_um) - sdk_pitch) > 0.01 * sdk_pitch:
                raise SLMError(f"the Holoeye SLM's pixel pitch is {sdk_pitch:g} µm but slm.pitch_um is "
                               f"{pitch_um:g}; set slm.pitch_um to {sdk_pitch:g}")
            hz = float(self._c["heds_slm_refreshrate_hz"]())
            if "refresh_hz" not in kwargs and math.isfinite(hz) and hz > 0:
                kwargs["refresh_hz"] = hz
            if wavefront_file is not None:
                wf = Path(wavefront_file)
                if not wf.is_file():
                    raise SDKError(
                        f"{SDK}: wavefront file {wf} does not exist; fix slm.holoeye.wavefront_file"
                    )
                rc = self._c["heds_slm_wavefrontcompensation_load_utf8"](
                    str(wf).encode("utf-8"), float(wavelength_um) * 1e3, 0, 0, 0)
                self._check(rc, f"loading the wavefront file {wf}")
            super().__init__((ny, nx), pitch_um, wavelength_um,
                             device_flatness=None if wavefront_file is None
                             else f"Holoeye wavefront {wavefront_file}",
                             **kwargs)
        except BaseException:
            self._close_sdk()
            raise
        self.wavefront_file = None if wavefront_file is None else str(wavefront_file)

    def _check(self, code: int, what: str) -> None:
        if code != 0:
            raw = self._c["heds_error_string_ascii"](code)
            msg = raw.decode("utf-8", "replace") if raw else "unknown error"
            raise SDKError(f"{SDK}: {what} failed (error {code}: {msg})")

    def _close_sdk(self) -> None:
        if getattr(self, "_open", False):
            self._open = False
            self._c["heds_slm_close"]()

    def _present(self, record: FrameRecord) -> None:
        frame = np.ascontiguousarray(record.frame, dtype=np.uint8)
        ny, nx = frame.shape
        ptr = frame.ctypes.data_as(ctypes.POINTER(ctypes.c_ubyte))

        def write():
            rc = self._c["heds_show_data_grayscale_uchar"](nx, ny, ptr, 0, HEDSSHF_PRESENT_CENTERED)
            self._check(rc, "heds_show_data_grayscale_uchar")

        self._write(record, write)

    @classmethod
    def from_config(cls, section: Any, safety: Any = None, **kwargs: Any) -> HoloeyeSLM:
        """The panel of a session's ``slm`` section with its ``slm.holoeye`` keys."""
        extra = section.holoeye.slm_kwargs()
        return super().from_config(section, safety, **{"name": "holoeye", **extra, **kwargs})

    def describe(self) -> dict[str, Any]:
        """The base's description plus the SDK's wavefront file."""
        return {**super().describe(), "wavefront_file": self.wavefront_file}

    def close(self) -> None:
        """Stop: the interlock turns off, then the SDK closes its window."""
        if self.closed:
            return
        super().close()
        self._close_sdk()
