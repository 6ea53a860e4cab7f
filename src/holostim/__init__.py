"""holostim: real-time holographic photostimulation for optogenetics rigs.

Importing the package also chooses numba's cache folder (``NUMBA_CACHE_DIR``), before any holostim module
imports numba: the kernels are compiled with ``cache=True``, and numba's default writes the compiled code
into ``__pycache__`` beside the installed sources, which a lab's shared or read-only install must not
get (and which one user could plant for another). The cache goes to the user's cache folder
(``$XDG_CACHE_HOME/holostim/numba``, ``~/.cache/holostim/numba``; ``%LOCALAPPDATA%`` on Windows) unless the
user set ``NUMBA_CACHE_DIR`` already.
"""

from __future__ import annotations

import os
from pathlib import Path

try:
    from importlib.metadata import PackageNotFoundError, version

    __version__ = version("holostim")
except PackageNotFoundError:  # running from a source tree without an install
    __version__ = "0.1.0"


def user_cache_dir() -> Path:
    """The per-user cache folder (FFTW wisdom, numba's compiled kernels); not created here."""
    base = os.environ.get("XDG_CACHE_HOME")
    if not base and os.name == "nt":
        base = os.environ.get("LOCALAPPDATA")
    return Path(base or os.path.join(os.path.expanduser("~"), ".cache")) / "holostim"


def numba_cache_dir() -> str:
    """The folder numba caches holostim's kernels in: ``NUMBA_CACHE_DIR``, set to the user's if unset.

    The kernel modules also hand it to ``numba.config`` in case numba was imported before holostim (numba
    reads the variable only at its own import).
    """
    if not os.environ.get("NUMBA_CACHE_DIR"):
        os.environ["NUMBA_CACHE_DIR"] = str(user_cache_dir() / "numba")
    return os.environ["NUMBA_CACHE_DIR"]


numba_cache_dir()
