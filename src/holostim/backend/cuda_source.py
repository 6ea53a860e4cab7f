"""CUDA C++ kernels kept as ``.cu`` files: read them, list their kernels, load them with CuPy, launch them.

Kernels written as ``.cu`` sources (shipped next to the module that launches them) rather than strings
inside Python can be compiled by ``nvcc`` in CI, where there is no GPU: a syntax error, a type mismatch or
a warning fails a test instead of the first run on a rig (``tests/holography/test_cuda_sources.py``).
Each kernel is a ``template <typename R> __global__ void holostim_...`` over the real type, explicitly
instantiated in the file for float and double; CuPy's :class:`cupy.RawModule` loads the same text with one
name expression per kernel and type, and :meth:`CudaModule.launch` runs one with an explicit grid/block.

Nothing here imports CuPy until a module is loaded, so this file imports on any machine.
"""

from __future__ import annotations

import re
import threading
from pathlib import Path
from typing import Any

__all__ = ["CudaModule", "blocks_for", "defines", "kernel_names", "marked_block", "read_source"]

_KERNEL = re.compile(r"template\s*<\s*typename\s+\w+\s*>\s*__global__\s+void\s+(\w+)\s*\(")
_DEFINE = re.compile(r"^#define\s+(\w+)\s+([^\s/\\]+)", re.MULTILINE)
# real dtype name -> C++ type of the template argument
CXX_TYPES = {"float32": "float", "float64": "double"}
BLOCK = 256  # threads per block of the element-wise kernels
MAX_BLOCKS = 1 << 16  # grid-stride loops cover anything bigger


def read_source(path: str | Path) -> str:
    """The text of a ``.cu`` file."""
    return Path(path).read_text(encoding="utf-8")


def kernel_names(source: str) -> set[str]:
    """Names of the ``__global__`` templates a source defines (what may be launched)."""
    return set(_KERNEL.findall(source))


def defines(source: str) -> dict[str, str]:
    """The ``#define NAME VALUE`` constants of a source (macros with arguments excluded)."""
    return {k: v for k, v in _DEFINE.findall(source) if "(" not in k}


def marked_block(source: str, name: str) -> str:
    """The lines between ``// BEGIN name`` and ``// END name`` (code that tests also compile as C)."""
    m = re.search(rf"//\s*BEGIN {re.escape(name)}\n(.*?)^\s*//\s*END {re.escape(name)}\b", source,
                  re.DOTALL | re.MULTILINE)
    if m is None:
        raise KeyError(f"no '// BEGIN {name}' ... '// END {name}' block in the source")
    return m.group(1)


def blocks_for(n: int, block: int = BLOCK) -> int:
    """Blocks for ``n`` elements at ``block`` threads each (at least 1; grid-stride beyond MAX_BLOCKS)."""
    return max(1, min(MAX_BLOCKS, -(-int(n) // block)))


class CudaModule:
    """One ``.cu`` file compiled by CuPy (NVRTC) for both precisions, its kernels looked up by name.

    Compiled once per process on first use (CuPy caches the binary on disk). :meth:`launch` refuses a name
    the source does not define, so a typo fails loudly, and the CI test checks every launched name.
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.source = read_source(self.path)
        self.names = kernel_names(self.source)
        self._module: Any = None
        self._kernels: dict[tuple[str, str], Any] = {}
        self._lock = threading.Lock()

    def _load(self):
        import cupy

        exprs = [f"{k}<{t}>" for k in sorted(self.names) for t in CXX_TYPES.values()]
        return cupy.RawModule(code=self.source, options=("--std=c++14",), name_expressions=exprs)

    def kernel(self, name: str, dtype: Any):
        """The compiled kernel ``name`` for real dtype ``dtype`` (float32 or float64)."""
        key = (name, str(getattr(dtype, "name", dtype)))
        k = self._kernels.get(key)
        if k is None:
            if name not in self.names:
                raise KeyError(f"{self.path.name} defines no kernel {name!r} (it has {sorted(self.names)})")
            with self._lock:
                if self._module is None:
                    self._module = self._load()
                k = self._kernels[key] = self._module.get_function(f"{name}<{CXX_TYPES[key[1]]}>")
        return k

    def launch(self, name: str, dtype: Any, args: tuple, n: int | None = None, *, blocks: int | None = None,
               block: int = BLOCK) -> None:
        """Launch ``name<dtype>`` on the current stream, ``blocks`` (default: for ``n``) x ``block``."""
        grid = blocks if blocks is not None else blocks_for(n if n is not None else 1, block)
        self.kernel(name, dtype)((grid,), (block,), args)
