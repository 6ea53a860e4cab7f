"""A stand-in for the GPU: the ``.cu`` kernels compiled as host C++ and launched one thread per block.

There is no GPU in CI, but the arithmetic of the kernels can still run: the source is included into a host
C++ file after a small shim (``__global__`` etc. defined away, ``float2``/``double2`` as plain structs,
``threadIdx``/``blockIdx``/``blockDim``/``gridDim`` as globals). :class:`HostModule` has the ``launch``
method of :class:`holostim.backend.cuda_source.CudaModule`, so the real launchers (argument order, types,
flags, grid sizes) run unchanged on numpy arrays. Each launch runs every block of its grid in turn with one
thread per block, which is exactly the CUDA semantics of these kernels (grid-stride loops, block sums that
are the identity for one thread); only the order of the additions in a block sum differs from the GPU.
The argument list is checked against the kernel's C++ signature (size and kind of each parameter), as a
wrong scalar type would silently misread memory on the GPU.
"""

from __future__ import annotations

import ctypes
import shutil
import subprocess
from pathlib import Path

import numpy as np

from holostim.backend.cuda_source import kernel_names, read_source

_SHIM = r"""
#include <cmath>
#include <algorithm>
#include <cstddef>
#include <type_traits>
#include <utility>
using std::floor; using std::hypot; using std::max; using std::min; using std::pow;
struct float2 { float x, y; };
struct double2 { double x, y; };
struct holostim_dim3 { unsigned x, y, z; };
static holostim_dim3 threadIdx = {0, 0, 0}, blockIdx = {0, 0, 0}, blockDim = {1, 1, 1}, gridDim = {1, 1, 1};
#define __global__
#define __device__
#define __forceinline__ inline
#define __shared__ static
static inline void __syncthreads() {}
static inline unsigned long long atomicAdd(unsigned long long *p, unsigned long long v) {
    unsigned long long o = *p; *p += v; return o;
}
#include "%(source)s"

template <typename A> constexpr int holostim_kind() {
    return std::is_pointer<A>::value ? 1 : std::is_floating_point<A>::value ? 2 : 0;
}
template <typename... A, std::size_t... I>
static void holostim_call(void (*f)(A...), void **a, std::index_sequence<I...>) {
    f(*static_cast<typename std::remove_reference<A>::type *>(a[I])...);
}
template <typename... A> static void holostim_run(void (*f)(A...), void **a, unsigned grid) {
    gridDim.x = grid;
    blockDim.x = 1;
    threadIdx.x = 0;
    for (unsigned b = 0; b < grid; b++) {
        blockIdx.x = b;
        holostim_call(f, a, std::index_sequence_for<A...>{});
    }
}
template <typename... A> static int holostim_sig(void (*)(A...), int *out) {
    int s[] = {(int)sizeof(A) * 10 + holostim_kind<A>()...};
    for (std::size_t i = 0; i < sizeof...(A); i++) out[i] = s[i];
    return (int)sizeof...(A);
}
#define HOLOSTIM_HOST(name, R, tag)                                                                         \
    extern "C" void host_##name##_##tag(void **a, unsigned grid) { holostim_run(&name<R>, a, grid); }     \
    extern "C" int sig_##name##_##tag(int *out) { return holostim_sig(&name<R>, out); }
%(wrappers)s
"""

_SCALARS = {np.dtype(np.int32): ctypes.c_int32, np.dtype(np.int64): ctypes.c_int64,
            np.dtype(np.float32): ctypes.c_float, np.dtype(np.float64): ctypes.c_double}
_TAGS = {"float32": "f", "float64": "d"}


def host_compiler() -> str | None:
    """A C++ compiler for the host build (``c++``/``g++``), or None."""
    return shutil.which("c++") or shutil.which("g++")


class HostModule:
    """The kernels of one ``.cu`` file on the CPU, with :class:`~holostim.backend.cuda_source.CudaModule`'s
    ``launch``. ``launched`` records ``(name, dtype, grid, block)`` of every launch."""

    def __init__(self, source: Path, workdir: Path):
        self.names = kernel_names(read_source(source))
        wrappers = "\n".join(f"HOLOSTIM_HOST({k}, {t}, {tag})" for k in sorted(self.names)
                             for t, tag in (("float", "f"), ("double", "d")))
        cpp = workdir / f"{source.stem}_host.cpp"
        cpp.write_text(_SHIM % {"source": str(source), "wrappers": wrappers})
        lib = workdir / f"{source.stem}_host.so"
        subprocess.run([host_compiler(), "-std=c++17", "-O1", "-shared", "-fPIC", "-w", "-o", str(lib),
                        str(cpp)], check=True, capture_output=True, text=True)
        self._lib = ctypes.CDLL(str(lib))
        self.launched: list[tuple[str, str, int, int]] = []

    def _signature(self, name: str, tag: str) -> list[int]:
        out = (ctypes.c_int * 32)()
        n = getattr(self._lib, f"sig_{name}_{tag}")(out)
        return list(out[:n])

    def launch(self, name, dtype, args, n=None, *, blocks=None, block=256):
        """Run ``name<dtype>`` over its whole grid on numpy arrays (same arguments as on the GPU)."""
        from holostim.backend.cuda_source import blocks_for

        assert name in self.names, f"no kernel {name!r}"
        tag = _TAGS[np.dtype(dtype).name]
        sig = self._signature(name, tag)
        assert len(sig) == len(args), f"{name}: {len(args)} arguments for {len(sig)} parameters"
        keep, ptrs = [], (ctypes.c_void_p * len(args))()
        for i, (arg, want) in enumerate(zip(args, sig, strict=True)):
            if isinstance(arg, np.ndarray):
                assert want == 81, f"{name} argument {i}: an array where the kernel takes {want}"
                assert arg.flags.c_contiguous, f"{name} argument {i}: not C-contiguous"
                val = ctypes.c_void_p(arg.ctypes.data)
            else:
                dt = np.asarray(arg).dtype
                assert type(arg) not in (int, float, bool), f"{name} argument {i}: a bare Python {arg!r}"
                kind = 2 if dt.kind == "f" else 0
                assert want == dt.itemsize * 10 + kind, f"{name} argument {i}: {dt} where it takes {want}"
                val = _SCALARS[dt](arg)
            keep.append(val)
            ptrs[i] = ctypes.cast(ctypes.pointer(val), ctypes.c_void_p)
        grid = blocks if blocks is not None else blocks_for(n if n is not None else 1, block)
        self.launched.append((name, tag, grid, block))
        getattr(self._lib, f"host_{name}_{tag}")(ptrs, ctypes.c_uint(grid))
