"""Meadowlark Optics SLMs through the Blink SDK's C API (``Blink_C_wrapper``), PCIe and HDMI models.

The C signatures bound here are those of Meadowlark's published ``Blink_C_wrapper.h`` headers and their
Python examples:

PCIe (Blink Plus / OverDrive Plus controllers)::

    void   Create_SDK(unsigned int* n_boards_found, int* constructed_ok);
    void   Delete_SDK();
    const char* Get_last_error_message();
    int    Load_LUT_file(int board, char* LUT_file);                  // non-zero on success
    int    Write_image(int board, unsigned char* image, int wait_for_trigger, int flip_immediate,
                       int output_pulse, unsigned int trigger_timeout_ms);  // 0 on success
    int    ImageWriteComplete(int board, unsigned int trigger_timeout_ms);  // 0 on success
    int    Get_image_width(int board), Get_image_height(int board), Get_image_depth(int board);
    double Read_SLM_temperature(int board);

HDMI (the 1920×1152 HDMI panels; the SDK opens its own window on the panel's screen)::

    void  Create_SDK(unsigned int is_cpp_or_python);   // 1 from C/C++/Python
    void  Delete_SDK();
    int   Load_lut(char* file_path);                   // non-zero on success
    int   Write_image(unsigned char* image_data, int is_8_bit);  // non-zero on success
    int   Get_Height(), Get_Width(), Get_Depth();
    float Get_SLMTemp();

**Tested against a stand-in only.** The SDK cannot be installed here; the tests build a small C
library with these signatures (``tests/hardware/slm/standins/blink_*.c``) that records every call and
argument and fails on demand, so every call, argument type and error path of this module runs. A first
run on a real panel must confirm: the return-code conventions above (Meadowlark's examples test
``Load_LUT_file`` for non-zero = success and ``Write_image`` for 0 = success on PCIe), that
``ImageWriteComplete`` returning means the frame is on the panel, the image-depth byte layout for
depths above 8 (written here as little-endian 16-bit words, the gray shifted to the top of ``depth``
bits — check against the hardware LUT's entry count), that older HDMI SDKs whose ``Create_SDK`` takes
no argument accept the extra one (harmless under the C calling convention), the trigger behaviour of
``wait_for_trigger``/``output_pulse``, and the temperature readings.

With ``lut_file`` the controller's hardware LUT turns gray into voltage so that phase is linear in gray
(Meadowlark's calibrated ``slmXXXX_atWWW.lut``): holostim then uses its linear ``two_pi_gray`` and
refuses its own ``lut`` (the base class's ``device_lut``), so no LUT is applied twice.
"""

from __future__ import annotations

import ctypes
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from holostim.hardware.slm.base import FrameRecord
from holostim.hardware.slm.errors import SLMError
from holostim.hardware.slm.vendor import HeldFrameSLM, SDKError, bind, load_sdk

__all__ = ["MeadowlarkSLM"]

SDK = "Meadowlark Blink SDK"
LIBRARY_NAMES = ("Blink_C_wrapper.dll", "libBlink_C_wrapper.so", "Blink_C_wrapper.so")
MODELS = ("pcie", "hdmi")


class MeadowlarkSLM(HeldFrameSLM):
    """A Meadowlark panel driven through ``Blink_C_wrapper`` (PCIe or HDMI).

    Parameters
    ----------
    shape : (ny, nx) the session expects, or ``None`` to take the controller's; a mismatch is refused.
    pitch_um, wavelength_um, **kwargs : as :class:`~holostim.hardware.slm.SLM`.
    sdk_path : the SDK's library file, or the folder that holds ``Blink_C_wrapper``
        (``slm.meadowlark.sdk_path``).
    model : ``"pcie"`` or ``"hdmi"`` (their C APIs differ).
    board : PCIe board number (1 = the first).
    lut_file : Meadowlark's calibrated LUT file, loaded into the controller; ``None`` keeps the
        controller's LUT. Either way holostim's own ``lut`` is refused when this is set.
    wait_for_trigger, output_pulse, flip_immediate, trigger_timeout_ms : PCIe ``Write_image`` options:
        hold each frame until an external trigger, emit a pulse on each image flip, flip without waiting
        for the frame boundary, and how long to wait for the trigger / write.
    """

    def __init__(
        self,
        shape: Sequence[int] | None = None,
        pitch_um: float = 9.2,
        wavelength_um: float = 1.064,
        *,
        sdk_path: str | Path | None = None,
        model: str = "pcie",
        board: int = 1,
        lut_file: str | Path | None = None,
        wait_for_trigger: bool = False,
        output_pulse: bool = False,
        flip_immediate: bool = False,
        trigger_timeout_ms: int = 5000,
        **kwargs: Any,
    ):
        if model not in MODELS:
            raise SLMError(f"slm.meadowlark.model={model!r}: use one of {', '.join(MODELS)}")
        if int(board) < 1:
            raise SLMError(f"slm.meadowlark.board={board!r} must be >= 1 (boards count from 1)")
        if not 0 < int(trigger_timeout_ms) < 2**32:
            raise SLMError(f"slm.meadowlark.trigger_timeout_ms={trigger_timeout_ms!r} must be > 0")
        self.model = model
        self.board = int(board)
        self.wait_for_trigger = bool(wait_for_trigger)
        self.output_pulse = bool(output_pulse)
        self.flip_immediate = bool(flip_immediate)
        self.trigger_timeout_ms = int(trigger_timeout_ms)
        self._lib = load_sdk(sdk_path, LIBRARY_NAMES, SDK, "slm.meadowlark.sdk_path")
        self._bind()
        self._open = False
        self._create()
        try:
            if lut_file is not None:
                self._load_lut(Path(lut_file))
            ny, nx, depth = self._geometry()
            if shape is not None and tuple(int(s) for s in shape) != (ny, nx):
                raise SLMError(
                    f"the Meadowlark controller reports {ny}x{nx} (rows x columns) but slm.shape is "
                    f"{list(shape)}; set slm.shape to [{ny}, {nx}]"
                )
            if depth not in (8, 10, 12, 16) and not (self.model == "hdmi" and depth == 24):
                raise SDKError(f"{SDK}: image depth {depth} bits is not supported (8, 10, 12 or 16)")
            self.depth = depth
            super().__init__((ny, nx), pitch_um, wavelength_um,
                             device_lut=None if lut_file is None else f"Meadowlark LUT {lut_file}", **kwargs)
        except BaseException:
            self._delete()
            raise
        self.lut_file = None if lut_file is None else str(lut_file)

    # ------------------------------------------------------------------------------------ the C API
    def _bind(self) -> None:
        lib, c = self._lib, ctypes
        u8p = c.POINTER(c.c_ubyte)
        self._c: dict[str, Any] = {}

        def b(name, res, args):
            self._c[name] = bind(lib, name, res, args, SDK)

        b("Delete_SDK", None, [])
        if self.model == "pcie":
            b("Create_SDK", None, [c.POINTER(c.c_uint), c.POINTER(c.c_int)])
            b("Get_last_error_message", c.c_char_p, [])
            b("Load_LUT_file", c.c_int, [c.c_int, c.c_char_p])
            b("Write_image", c.c_int, [c.c_int, u8p, c.c_int, c.c_int, c.c_int, c.c_uint])
            b("ImageWriteComplete", c.c_int, [c.c_int, c.c_uint])
            for name in ("Get_image_width", "Get_image_height", "Get_image_depth"):
                b(name, c.c_int, [c.c_int])
            b("Read_SLM_temperature", c.c_double, [c.c_int])
        else:
            b("Create_SDK", None, [c.c_uint])
            b("Load_lut", c.c_int, [c.c_char_p])
            b("Write_image", c.c_int, [u8p, c.c_int])
            for name in ("Get_Height", "Get_Width", "Get_Depth"):
                b(name, c.c_int, [])
            b("Get_SLMTemp", c.c_float, [])

    def _error(self, what: str) -> SDKError:
        msg = ""
        if "Get_last_error_message" in self._c:
            raw = self._c["Get_last_error_message"]()
            msg = raw.decode("utf-8", "replace").strip() if raw else ""
        return SDKError(f"{SDK}: {what}" + (f": {msg}" if msg else ""))

    def _create(self) -> None:
        if self.model == "pcie":
            n_boards, ok = ctypes.c_uint(0), ctypes.c_int(0)
            self._c["Create_SDK"](ctypes.byref(n_boards), ctypes.byref(ok))
            self._open = True
            if not ok.value:
                err = self._error("Create_SDK failed (is the controller powered and its driver installed?)")
                self._delete()
                raise err
            if n_boards.value < self.board:
                self._delete()
                raise SDKError(f"{SDK}: board {self.board} asked for but {n_boards.value} found; check "
                               "the PCIe controller or slm.meadowlark.board")
        else:
            self._c["Create_SDK"](1)
            self._open = True

    def _load_lut(self, path: Path) -> None:
        if not path.is_file():
            raise SDKError(f"{SDK}: LUT file {path} does not exist; fix slm.meadowlark.lut_file")
        raw = str(path).encode("utf-8")
        ok = self._c["Load_LUT_file"](self.board, raw) if self.model == "pcie" else self._c["Load_lut"](raw)
        if not ok:
            raise self._error(f"loading the LUT file {path} failed")

    def _geometry(self) -> tuple[int, int, int]:
        if self.model == "pcie":
            ny = self._c["Get_image_height"](self.board)
            nx = self._c["Get_image_width"](self.board)
            depth = self._c["Get_image_depth"](self.board)
        else:
            ny, nx, depth = self._c["Get_Height"](), self._c["Get_Width"](), self._c["Get_Depth"]()
        if ny < 2 or nx < 2:
            raise self._error(f"the controller reports an image of {ny}x{nx}; is the SLM connected?")
        return ny, nx, depth

    def _delete(self) -> None:
        if self._open:
            self._open = False
            self._c["Delete_SDK"]()

    # ----------------------------------------------------------------------------------- frames out
    def device_image(self, frame: np.ndarray) -> np.ndarray:
        """The bytes the SDK is given for an 8-bit frame (C order, row 0 first).

        Depth 8: the frame. Depth 10/12/16: little-endian 16-bit words, the gray in the top bits
        (``gray << (depth - bits)``; frames of ``bits`` 10/12 keep all their levels). HDMI depth 24: RGB
        with the gray in all three channels.
        """
        if self.bits > 8:
            if self.depth < self.bits or self.depth == 24:
                raise SDKError(f"{SDK}: {self.bits}-bit frames need an image depth of at least {self.bits} "
                               f"bits; the controller has {self.depth} — set slm.bits to 8")
            return (np.asarray(frame).astype("<u2") << (self.depth - self.bits)).view(np.uint8)
        f = np.ascontiguousarray(frame, dtype=np.uint8)
        if self.depth == 8:
            return f
        if self.depth == 24:
            return np.ascontiguousarray(np.repeat(f[..., None], 3, axis=2))
        return (f.astype("<u2") << (self.depth - 8)).view(np.uint8)

    def _present(self, record: FrameRecord) -> None:
        img = self.device_image(record.frame)
        ptr = img.ctypes.data_as(ctypes.POINTER(ctypes.c_ubyte))

        def write():
            if self.model == "pcie":
                rc = self._c["Write_image"](self.board, ptr, int(self.wait_for_trigger),
                                            int(self.flip_immediate), int(self.output_pulse),
                                            self.trigger_timeout_ms)
                if rc != 0:
                    raise self._error(f"Write_image failed (code {rc})")
                rc = self._c["ImageWriteComplete"](self.board, self.trigger_timeout_ms)
                if rc != 0:
                    why = "no trigger within the timeout" if self.wait_for_trigger else "write not completed"
                    raise self._error(f"ImageWriteComplete failed (code {rc}: {why})")
            else:
                if not self._c["Write_image"](ptr, int(self.depth == 8)):
                    raise self._error("Write_image failed")

        self._write(record, write)

    def temperature_c(self) -> float:
        """The panel's temperature in °C, as the controller reports it."""
        if self.model == "pcie":
            return float(self._c["Read_SLM_temperature"](self.board))
        return float(self._c["Get_SLMTemp"]())

    @classmethod
    def from_config(cls, section: Any, safety: Any = None, **kwargs: Any) -> MeadowlarkSLM:
        """The panel of a session's ``slm`` section with its ``slm.meadowlark`` keys."""
        extra = section.meadowlark.slm_kwargs()
        return super().from_config(section, safety, **{"name": "meadowlark", **extra, **kwargs})

    def describe(self) -> dict[str, Any]:
        """The base's description plus the controller's settings."""
        return {**super().describe(), "model": self.model, "board": self.board, "depth": self.depth,
                "lut_file": self.lut_file, "wait_for_trigger": self.wait_for_trigger,
                "output_pulse": self.output_pulse}

    def close(self) -> None:
        """Stop: the interlock turns off, then the SDK is deleted (Meadowlark: always call Delete_SDK)."""
        if self.closed:
            return
        super().close()
        self._delete()
