"""Read suite2p's pickled ``.npy`` files without running arbitrary pickles.

suite2p saves ``stat.npy`` and ``ops.npy`` as object arrays, which ``np.load(allow_pickle=True)``
unpickles — and a pickle can run any code. A ROI file comes from another machine or a colleague, so it
is read with an unpickler that builds only what suite2p writes: numpy arrays, dtypes and scalars inside
dicts, lists and tuples of plain numbers and strings, and the harmless values suite2p puts in its ops
(``datetime`` for ``date_proc``, ``pathlib`` paths in suite2p 1.0's ``db``, read as pure paths so a
Windows path loads on Linux). In ``stat.npy`` anything else (a class, a function, ``os.system``) is
refused with one line naming what the file tried to build; in ``ops.npy``/``db.npy``, of which only
``Ly``, ``Lx`` and ``meanImg`` are used, any other object becomes an inert placeholder — never
imported, never called — so a newer suite2p's extra entries do not block an import.
"""

from __future__ import annotations

import datetime
import io
import pathlib
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
_PLAIN = {
    ("datetime", "datetime"): datetime.datetime, ("datetime", "date"): datetime.date,
    ("datetime", "time"): datetime.time, ("datetime", "timedelta"): datetime.timedelta,
    ("datetime", "timezone"): datetime.timezone,
    ("pathlib", "PosixPath"): pathlib.PurePosixPath, ("pathlib", "PurePosixPath"): pathlib.PurePosixPath,
    ("pathlib", "WindowsPath"): pathlib.PureWindowsPath,
    ("pathlib", "PureWindowsPath"): pathlib.PureWindowsPath,
    ("collections", "OrderedDict"): dict,
}


class Opaque:
    """What a lenient read makes of an object it does not know: it takes any arguments and state."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    def __setstate__(self, state: Any) -> None:
        pass


class _SafeUnpickler(pickle.Unpickler):
    def __init__(self, file: Any, lenient: bool) -> None:
        super().__init__(file)
        self.lenient = lenient

    def find_class(self, module: str, name: str) -> Any:
        if module in _NUMPY_MODULES and name in _ALLOWED:
            return _ALLOWED[name]
        if module == "builtins" and name in ("dict", "list", "tuple", "set", "frozenset", "bool", "int",
                                             "float", "complex", "str", "bytes", "bytearray", "slice"):
            return getattr(__import__("builtins"), name)
        if (module, name) in _PLAIN:
            return _PLAIN[module, name]
        if module.startswith("numpy") and name.endswith("DType"):  # numpy 2's dtype classes
            import numpy.dtypes as dtypes

            if hasattr(dtypes, name):
                return getattr(dtypes, name)
        if self.lenient:
            return Opaque
        raise pickle.UnpicklingError(f"it builds {module}.{name}, which suite2p never writes")


def load_npy(path: Path, what: str, lenient: bool = False) -> Any:
    """The array in ``path``; an object array is unpickled with the restricted unpickler.

    ``what`` names the file in messages (``"suite2p stat.npy '/data/plane0/stat.npy'"``); ``lenient``
    turns unknown objects into :class:`Opaque` placeholders instead of refusing the file.
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
                data = _SafeUnpickler(io.BytesIO(f.read()), lenient).load()
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
