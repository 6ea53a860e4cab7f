"""Read suite2p's pickled ``.npy`` files without running arbitrary pickles.

suite2p saves ``stat.npy`` and ``ops.npy`` as object arrays, which ``np.load(allow_pickle=True)``
unpickles — and a pickle can run any code. A ROI file comes from another machine or a colleague, so it
is read with an unpickler that builds only what suite2p writes: numpy arrays, dtypes and scalars inside
dicts, lists and tuples of plain numbers and strings. Anything else (a class, a function, ``os.system``)
is refused with one line naming what the file tried to build.
"""

from __future__ import annotations

import io
import pickle
from pathlib import Path
from typing import Any

import numpy as np

from holostim.interop.errors import InteropError

__all__ = ["load_npy"]

_NUMPY_MODULES = ("numpy.core.multiarray", "numpy._core.multiarray", "numpy")
_ALLOWED = {
    "_reconstruct": np.ndarray.__reduce__(np.zeros(1))[0],  # numpy's array rebuild function
    "scalar": None,  # filled below: numpy's scalar rebuild function
    "ndarray": np.ndarray,
    "dtype": np.dtype,
}
_ALLOWED["scalar"] = np.float64(0).__reduce__()[0]


class _SafeUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if module in _NUMPY_MODULES and name in _ALLOWED:
            return _ALLOWED[name]
        if module == "builtins" and name in ("dict", "list", "tuple", "set", "frozenset", "bool", "int",
                                             "float", "complex", "str", "bytes", "slice"):
            return getattr(__import__("builtins"), name)
        if module.startswith("numpy") and name.endswith("DType"):  # numpy 2's dtype classes
            import numpy.dtypes as dtypes

            if hasattr(dtypes, name):
                return getattr(dtypes, name)
        raise pickle.UnpicklingError(f"it builds {module}.{name}, which suite2p never writes")


def load_npy(path: Path, what: str) -> Any:
    """The array in ``path``; an object array is unpickled with the restricted unpickler.

    ``what`` names the file in messages (``"suite2p stat.npy '/data/plane0/stat.npy'"``).
    """
    try:
        with path.open("rb") as f:
            version = np.lib.format.read_magic(f)
            if version == (1, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
            elif version == (2, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_2_0(f)
            else:
                raise InteropError(f"{what} is a .npy file of version {version}, which numpy cannot read")
            if not dtype.hasobject:
                f.seek(0)
                return np.load(f, allow_pickle=False)
            try:
                data = _SafeUnpickler(io.BytesIO(f.read())).load()
            except (pickle.UnpicklingError, EOFError, AttributeError, ImportError, TypeError,
                    ValueError, IndexError, KeyError, MemoryError) as exc:
                raise InteropError(f"{what} holds pickled objects that are not suite2p's ({exc})") from None
    except InteropError:
        raise
    except ValueError as exc:  # a bad magic string or header
        raise InteropError(f"{what} is not a .npy file ({' '.join(str(exc).split())})") from None
    except OSError as exc:
        raise InteropError(f"{what} cannot be read: {exc.strerror or exc}") from None
    if not isinstance(data, np.ndarray):
        raise InteropError(f"{what} holds a pickled {type(data).__name__}, not a numpy array")
    if data.shape != tuple(shape):
        raise InteropError(f"{what}: its header says shape {tuple(shape)} but it holds {data.shape}")
    return data
