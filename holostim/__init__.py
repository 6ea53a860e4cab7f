"""holostim: real-time holographic photostimulation for optogenetics rigs."""

from __future__ import annotations

try:
    from importlib.metadata import PackageNotFoundError, version

    __version__ = version("holostim")
except PackageNotFoundError:  # running from a source tree without an install
    __version__ = "0.1.0"
