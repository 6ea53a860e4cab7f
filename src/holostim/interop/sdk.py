"""The interop room's optional SDKs (``h5py``, ``roifile``): what to say when one is missing.

Each reader imports its SDK inside itself, when a file needs it (so the import stays visible to the
import contracts); a machine installed without the ``[interop]`` extra still runs holostim, and asking
it to read a CaImAn or ImageJ file says in one line what to install instead of a traceback.
"""

from __future__ import annotations

from holostim.interop.errors import InteropError

__all__ = ["missing_sdk"]


def missing_sdk(module: str, what: str) -> InteropError:
    """The error for reading ``what`` without the package ``module``."""
    return InteropError(f"reading {what} needs the Python package {module!r}, which is not installed: "
                        "pip install 'holostim[interop]' (in a checkout: pip install -e .[interop])")
