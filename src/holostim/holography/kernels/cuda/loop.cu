// The CUDA kernels of holostim's phase-retrieval loop, launched by holostim.holography.kernels.cupy.
//
// One template per kernel over the real type R (float: complex64 buffers, double: complex128), explicitly
// instantiated for both at the end, so that `nvcc -cubin` compiles exactly what CuPy's RawModule loads
// (tests/holography/test_cuda_sources.py). Complex values are float2/double2 (x = real, y = imaginary),
// the memory layout of numpy's complex64/complex128. Every kernel is written next to the plain array
// expression of holostim.holography.kernels.plain.PlainKernels it fuses; they agree to rounding.

#define HOLOSTIM_TINY 1.1754943508222875e-38  // holostim.holography.methods.TINY (smallest normal float32)
#define HOLOSTIM_WGS_STEP 1                    // holostim.holography.methods.WGS_STEP
#define HOLOSTIM_KIM_STEP 2                    // holostim.holography.methods.KIM_STEP
#define HOLOSTIM_SPOT_THREADS 1024             // the one block of holostim_fourier_spots (a power of 2)
#define HOLOSTIM_REDUCE_THREADS 256            // the blocks of holostim_dark_excess (a power of 2)

template <typename R> struct cplx;
template <> struct cplx<float> { typedef float2 type; };
template <> struct cplx<double> { typedef double2 type; };

// P_S of one value: amplitude a, the phase of z; phase 0 where z is exactly 0.
//   plain: where(|z| > 0, z * (a / |z|), a)
template <typename R>
__device__ __forceinline__ typename cplx<R>::type onto(typename cplx<R>::type z, R a) {
    R m = hypot(z.x, z.y);
    typename cplx<R>::type q;
    if (m > (R)0) {
        R s = a / m;
        q.x = z.x * s;
        q.y = z.y * s;
    } else {
        q.x = a;
        q.y = (R)0;
    }
    return q;
}

// Sum of v over the block (blockDim.x a power of 2, s[blockDim.x] shared), in a fixed order: deterministic.
__device__ __forceinline__ double block_sum(double *s, double v) {
    int tid = threadIdx.x;
    s[tid] = v;
    __syncthreads();
    for (int h = blockDim.x / 2; h > 0; h >>= 1) {
        if (tid < h) s[tid] += s[tid + h];
        __syncthreads();
    }
    double r = s[0];
    __syncthreads();
    return r;
}

// WGS weight update of one spot: holostim.holography.methods.wgs_spot_update, the same rule. The lines
// between BEGIN and END are also compiled as C on the CPU and compared with the Python rule
// (tests/holography/test_methods.py), so keep them plain C.
template <typename R>
__device__ __forceinline__ void wgs_spot_update(R a, R mean_a, R &w, R &gamma, R &sign) {
    // BEGIN wgs_spot_update
    R f = mean_a / max(a, (R)1e-3 * mean_a);
    R s = (R)(f > (R)1) - (R)(f < (R)1);
    bool flip = s * sign < (R)0;
    gamma = flip ? (R)0.8 * gamma : min((R)2 * gamma, (R)1);
    w = w * pow(f, gamma);
    sign = s;
    // END wgs_spot_update
}

#define HOLOSTIM_GRID_STRIDE(i, n) \
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < (n); \
         i += (long long)blockDim.x * gridDim.x)

// project_slm / project_slm_into: dst = P_S(src) with amplitude amp (full grid) or amp[0] (uniform).
//   plain: dst[...] = where(|src| > 0, src * (amp / |src|), amp)
template <typename R>
__global__ void holostim_project_slm(const typename cplx<R>::type *src, typename cplx<R>::type *dst,
                                     const R *amp, int full, long long n) {
    HOLOSTIM_GRID_STRIDE(i, n) { dst[i] = onto<R>(src[i], full ? amp[i] : amp[0]); }
}

// raar_start: buf = R_M x = 2 P_S(x) - x.
//   plain: buf[...] = 2 * project(x, amp) - x
template <typename R>
__global__ void holostim_raar_start(const typename cplx<R>::type *x, typename cplx<R>::type *buf,
                                    const R *amp, int full, long long n) {
    HOLOSTIM_GRID_STRIDE(i, n) {
        typename cplx<R>::type z = x[i];
        typename cplx<R>::type q = onto<R>(z, full ? amp[i] : amp[0]);
        typename cplx<R>::type r;
        r.x = (R)2 * q.x - z.x;
        r.y = (R)2 * q.y - z.y;
        buf[i] = r;
    }
}

// raar_update: x <- beta x + beta buf + (1 - 2 beta) P_S(x); then buf <- 2 P_S(x) - x.
//   plain: xn = b * x + b * buf + (1 - 2 * b) * project(x, amp); x[...] = xn; buf[...] = 2 * project(xn, amp) - xn
template <typename R>
__global__ void holostim_raar_update(typename cplx<R>::type *x, typename cplx<R>::type *buf, const R *amp,
                                     int full, R beta, long long n) {
    HOLOSTIM_GRID_STRIDE(i, n) {
        R a = full ? amp[i] : amp[0];
        typename cplx<R>::type z = x[i];
        typename cplx<R>::type b = buf[i];
        typename cplx<R>::type q = onto<R>(z, a);
        R c = (R)1 - (R)2 * beta;
        typename cplx<R>::type xn;
        xn.x = beta * z.x + beta * b.x + c * q.x;
        xn.y = beta * z.y + beta * b.y + c * q.y;
        typename cplx<R>::type qn = onto<R>(xn, a);
        x[i] = xn;
        typename cplx<R>::type r;
        r.x = (R)2 * qn.x - xn.x;
        r.y = (R)2 * qn.y - xn.y;
        buf[i] = r;
    }
}

// dark_excess, one partial sum per block (the caller sums the partials and divides by eps):
//   plain: sum(maximum((real(z)**2 + imag(z)**2).astype(float64) * scale - eps, 0))
template <typename R>
__global__ void holostim_dark_excess(const typename cplx<R>::type *z, const double *scale, double eps,
                                     double *partial, long long n) {
    __shared__ double s[HOLOSTIM_REDUCE_THREADS];
    double acc = 0.0, k = *scale;  // (a device scalar: the caller does not wait for it)
    HOLOSTIM_GRID_STRIDE(i, n) {
        typename cplx<R>::type v = z[i];
        R m2 = v.x * v.x + v.y * v.y;
        double e = (double)m2 * k - eps;
        if (e > 0.0) acc += e;
    }
    double total = block_sum(s, acc);
    if (threadIdx.x == 0) partial[blockIdx.x] = total;
}

// fourier_step, part 1 (one block of HOLOSTIM_SPOT_THREADS): gather the lit pixels and update the weights.
//   plain (methods.fourier_projection): g = flat[idx]; a = maximum(|g|, TINY) / t;
//          mode >= WGS_STEP: wgs_spot_update(a, mean(a), w, step, ...); w /= mean(w)
// The means are summed in double in a fixed order (as the numba kernel sums in float64).
template <typename R>
__global__ void holostim_fourier_spots(const typename cplx<R>::type *flat, const long long *idx, const R *t,
                                       R *w, R *step, typename cplx<R>::type *g, R *a, int n, int mode) {
    __shared__ double s[HOLOSTIM_SPOT_THREADS];
    double sa = 0.0;
    for (int i = threadIdx.x; i < n; i += blockDim.x) {
        typename cplx<R>::type z = flat[idx[i]];
        g[i] = z;
        R ai = max(hypot(z.x, z.y), (R)HOLOSTIM_TINY) / t[i];
        a[i] = ai;
        sa += (double)ai;
    }
    if (mode < HOLOSTIM_WGS_STEP) return;  // GS and RAAR: no weights (mode is the same for the whole block)
    R mean_a = (R)(block_sum(s, sa) / n);
    double sw = 0.0;
    for (int i = threadIdx.x; i < n; i += blockDim.x) {
        R wi = w[i], gamma = step[i], sign = step[n + i];
        wgs_spot_update<R>(a[i], mean_a, wi, gamma, sign);
        w[i] = wi;
        step[i] = gamma;
        step[n + i] = sign;
        sw += (double)wi;
    }
    double mean_w = block_sum(s, sw) / n;
    for (int i = threadIdx.x; i < n; i += blockDim.x) w[i] = (R)(w[i] / mean_w);
}

// fourier_step, part 2 (after the caller zeroed flat): write the projection on the lit pixels.
//   plain: unit = where(|g| > 0, g / |g|, 1); KIM_STEP: phase = unit if fresh, unit = phase;
//          flat[idx] = t * unit (GS_STEP) or (w * t) * unit (WGS_STEP, KIM_STEP)
template <typename R>
__global__ void holostim_fourier_scatter(typename cplx<R>::type *flat, const long long *idx, const R *t,
                                         const R *w, typename cplx<R>::type *phase,
                                         const typename cplx<R>::type *g, int n, int mode, int fresh) {
    HOLOSTIM_GRID_STRIDE(i, n) {
        typename cplx<R>::type z = g[i];
        R m = hypot(z.x, z.y);
        typename cplx<R>::type u;
        if (m > (R)0) {
            u.x = z.x / m;
            u.y = z.y / m;
        } else {
            u.x = (R)1;
            u.y = (R)0;
        }
        if (mode == HOLOSTIM_KIM_STEP) {
            if (fresh) phase[i] = u;
            u = phase[i];
        }
        R amp = mode >= HOLOSTIM_WGS_STEP ? w[i] * t[i] : t[i];
        typename cplx<R>::type out;
        out.x = amp * u.x;
        out.y = amp * u.y;
        flat[idx[i]] = out;
    }
}

// Both precisions, so that a plain nvcc compile builds (and checks) every kernel CuPy can load.
#define HOLOSTIM_INSTANTIATE(R)                                                                              \
    template __global__ void holostim_project_slm<R>(const cplx<R>::type *, cplx<R>::type *, const R *, int, \
                                                     long long);                                             \
    template __global__ void holostim_raar_start<R>(const cplx<R>::type *, cplx<R>::type *, const R *, int,  \
                                                    long long);                                              \
    template __global__ void holostim_raar_update<R>(cplx<R>::type *, cplx<R>::type *, const R *, int, R,    \
                                                     long long);                                             \
    template __global__ void holostim_dark_excess<R>(const cplx<R>::type *, const double *, double, double *, \
                                                     long long);                                             \
    template __global__ void holostim_fourier_spots<R>(const cplx<R>::type *, const long long *, const R *,  \
                                                       R *, R *, cplx<R>::type *, R *, int, int);            \
    template __global__ void holostim_fourier_scatter<R>(cplx<R>::type *, const long long *, const R *,      \
                                                         const R *, cplx<R>::type *, const cplx<R>::type *,  \
                                                         int, int, int);
HOLOSTIM_INSTANTIATE(float)
HOLOSTIM_INSTANTIATE(double)
