// Phase -> gray on the GPU, launched by holostim.hardware.slm.gray.phase_to_gray_cupy.
//
// The same per-pixel steps as the numba kernels beside it and phase_to_gray_reference:
//   t = (phase + corr) * scale                    (in double, after the sum in the phase's type T)
//   t = t - period * floor(t / period)            (wrap to [0, period] in gray units)
//   level = (int)(t + 0.5), clamped to last       (nearest level; a NaN/inf phase gives level 0)
//   gray = table[level]
// Non-finite pixels are counted in *bad so the caller refuses the frame (one atomic per bad pixel: rare).
// T is float or double, explicitly instantiated below (8-bit and 16-bit frames) so `nvcc -cubin` compiles what CuPy loads.

#define HOLOSTIM_GRID_STRIDE(i, n) \
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < (n); \
         i += (long long)blockDim.x * gridDim.x)

// One pixel, for both gray depths (G: unsigned char for 8-bit panels, unsigned short for 10/12-bit).
template <typename T, typename G>
__device__ __forceinline__ void holostim_gray_pixel(const T *phase, const T *corr, int has_corr, const G *table,
                                                     double scale, double period, int last, G *gray,
                                                     unsigned long long *bad, long long i) {
    T p = has_corr ? (T)(phase[i] + corr[i]) : phase[i];
    double t = (double)p * scale;
    t = t - period * floor(t / period);
    int k = 0;
    if (t >= 0.0 && t <= period) {
        k = (int)(t + 0.5);
    } else {
        atomicAdd(bad, 1ULL);
    }
    if (k > last) k = last;
    gray[i] = table[k];
}

// 8-bit frames (one byte per pixel).
template <typename T>
__global__ void holostim_phase_to_gray(const T *phase, const T *corr, int has_corr, const unsigned char *table,
                                       double scale, double period, int last, unsigned char *gray,
                                       unsigned long long *bad, long long n) {
    HOLOSTIM_GRID_STRIDE(i, n) { holostim_gray_pixel(phase, corr, has_corr, table, scale, period, last, gray, bad, i); }
}

// 10/12-bit frames (a 16-bit word per pixel; LUTs of up to 65536 entries).
template <typename T>
__global__ void holostim_phase_to_gray16(const T *phase, const T *corr, int has_corr, const unsigned short *table,
                                         double scale, double period, int last, unsigned short *gray,
                                         unsigned long long *bad, long long n) {
    HOLOSTIM_GRID_STRIDE(i, n) { holostim_gray_pixel(phase, corr, has_corr, table, scale, period, last, gray, bad, i); }
}

template __global__ void holostim_phase_to_gray<float>(const float *, const float *, int, const unsigned char *,
                                                       double, double, int, unsigned char *,
                                                       unsigned long long *, long long);
template __global__ void holostim_phase_to_gray<double>(const double *, const double *, int,
                                                        const unsigned char *, double, double, int,
                                                        unsigned char *, unsigned long long *, long long);
template __global__ void holostim_phase_to_gray16<float>(const float *, const float *, int,
                                                         const unsigned short *, double, double, int,
                                                         unsigned short *, unsigned long long *, long long);
template __global__ void holostim_phase_to_gray16<double>(const double *, const double *, int,
                                                          const unsigned short *, double, double, int,
                                                          unsigned short *, unsigned long long *, long long);
