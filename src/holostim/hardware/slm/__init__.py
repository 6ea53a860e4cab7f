"""The SLM: from a phase in radians to the exact 8-bit frame on the panel, plus the laser interlock.

One file per idea:

* :mod:`.base` — :class:`SLM` (load/display, corrections, wrap, LUT, gray; a backend only implements
  ``_present``), :class:`FrameRecord`, :class:`SLMProtocol`;
* :mod:`.interlock` — the watchdog that tells listeners when the laser permit changes;
* :mod:`.gray` — the fused phase→gray kernels (numba, CuPy) and their numpy reference;
* :mod:`.lut` — LUT files and the gray scale; :mod:`.corrections` — flatness, Zernike, blaze, Fresnel;
* :mod:`.simulated` — :class:`SimulatedSLM`; :mod:`.response` — the LC response, overdrive and
  phase-change reduction it models; :mod:`.patterns` — test patterns (numpy);
* :mod:`.meadowlark`, :mod:`.holoeye` — vendor SDKs through ctypes (:mod:`.vendor`: loading, a held
  frame); imported only through the registry, so their SDKs are needed only when opened;
* :mod:`.opengl` — the OpenGL backend (window, screen finding, ``holostim slm-check``): the only
  modules here that import Qt, so this package does not import them (import
  ``holostim.hardware.slm.opengl.window`` for :class:`OpenGLSLM`).
"""

from __future__ import annotations

from holostim.hardware.slm.base import SLM, FrameRecord, SLMProtocol
from holostim.hardware.slm.corrections import fresnel_focal_um, load_flatness
from holostim.hardware.slm.errors import LUTError, ScreenError, SLMDisplayError, SLMError, SLMFileError
from holostim.hardware.slm.gray import phase_to_gray_reference
from holostim.hardware.slm.lut import LUT, load_lut
from holostim.hardware.slm.patterns import checkerboard, gray_ramp, orientation_marker, toggle_corner
from holostim.hardware.slm.simulated import SimulatedSLM

__all__ = [
    "LUT",
    "SLM",
    "FrameRecord",
    "LUTError",
    "SLMDisplayError",
    "SLMError",
    "SLMFileError",
    "SLMProtocol",
    "ScreenError",
    "SimulatedSLM",
    "checkerboard",
    "fresnel_focal_um",
    "gray_ramp",
    "load_flatness",
    "load_lut",
    "orientation_marker",
    "phase_to_gray_reference",
    "toggle_corner",
]
