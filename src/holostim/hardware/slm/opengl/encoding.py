"""Gray frames deeper than 8 bits over a monitor connection: the RGB layout, both ways.

A monitor link carries 8 bits per colour channel (24-bit RGB; Xvfb's and most desktops' depth), so a
10- or 12-bit phase frame has to be split across the channels, and the SLM's controller reassembles
it. Meadowlark documents only the 8-bit HDMI layout (the gray in the red channel, replicated to all
three: ``Blink_C_wrapper.h``, ``Write_image``); the layout of their 10/12-bit HDMI modes is not public.
holostim therefore implements one explicit convention, to be confirmed against the panel's manual:

* 8 bits: ``R = G = B = gray`` (Meadowlark's documented layout);
* 10/12 bits (``"red-high"``): ``R`` = the top 8 bits (``v >> (bits - 8)``), ``G`` = the remaining low
  ``bits - 8`` bits (right-aligned), ``B = 0`` — so the red channel alone is the 8-bit approximation,
  as on an 8-bit panel that reads red.

:func:`decode_rgb` inverts it exactly; the window's read-back test uses it to prove the screen holds
exactly the intended deep-gray frame.
"""

from __future__ import annotations

import numpy as np

__all__ = ["decode_rgb", "encode_rgb"]


def encode_rgb(frame: np.ndarray, bits: int) -> np.ndarray:
    """The (ny, nx, 3) uint8 RGB image that carries ``frame`` (uint8 for 8 bits, uint16 deeper)."""
    f = np.asarray(frame)
    if bits == 8:
        g = f.astype(np.uint8)
        return np.repeat(g[..., None], 3, axis=2)
    if bits not in (10, 12):
        raise ValueError(f"bits={bits!r}: 8, 10 or 12")
    v = f.astype(np.uint16)
    low = bits - 8
    out = np.zeros(f.shape + (3,), np.uint8)
    out[..., 0] = (v >> low).astype(np.uint8)
    out[..., 1] = (v & ((1 << low) - 1)).astype(np.uint8)
    return out


def decode_rgb(rgb: np.ndarray, bits: int) -> np.ndarray:
    """The gray frame an RGB image carries (the inverse of :func:`encode_rgb`); raises on a foreign image."""
    a = np.asarray(rgb, dtype=np.uint8)
    if bits == 8:
        if not (np.array_equal(a[..., 0], a[..., 1]) and np.array_equal(a[..., 0], a[..., 2])):
            raise ValueError("R, G and B differ: not an 8-bit gray frame")
        return a[..., 0].copy()
    low = bits - 8
    if np.any(a[..., 2]) or np.any(a[..., 1] >> low):
        raise ValueError(f"blue set or green above {low} bits: not a {bits}-bit red-high frame")
    return (a[..., 0].astype(np.uint16) << low) | a[..., 1].astype(np.uint16)
