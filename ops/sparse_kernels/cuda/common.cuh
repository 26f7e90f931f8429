// Shared by every sparsegraph CUDA source; cupy_kernels.py prepends it to each .cu file.
//
// The element types are chosen per compilation with -D flags, one compiled module per
// (value, indptr, indices) dtype combination actually used:
//   SG_DOUBLE -> T = double (else float), SG_PTR64 -> P = long long (else int),
//   SG_IDX64 -> I = long long (else int).
// Every kernel follows one rule: each output element is written by exactly one thread, which
// walks its row's (or segment's) entries in stored order. No atomics, so the result is the
// same on every run. Offsets are computed in 64 bits (E x F can pass 2^31).

#ifdef SG_DOUBLE
typedef double T;
#else
typedef float T;
#endif
#ifdef SG_PTR64
typedef long long P;
#else
typedef int P;
#endif
#ifdef SG_IDX64
typedef long long I;
#else
typedef int I;
#endif
typedef long long i64;

__device__ __forceinline__ float sg_exp(float v) { return expf(v); }
__device__ __forceinline__ double sg_exp(double v) { return exp(v); }
__device__ __forceinline__ float sg_log(float v) { return logf(v); }
__device__ __forceinline__ double sg_log(double v) { return log(v); }

// The 2-D launch used by the row kernels: rows (or segments) along blockIdx.x * blockDim.y +
// threadIdx.y, output columns along blockIdx.y * blockDim.x + threadIdx.x, so the lanes of a
// warp read consecutive columns of one row (coalesced). Widened before multiplying: the
// built-in indices are 32-bit unsigned.
__device__ __forceinline__ i64 sg_row() { return (i64)blockIdx.x * blockDim.y + threadIdx.y; }
__device__ __forceinline__ i64 sg_col() { return (i64)blockIdx.y * blockDim.x + threadIdx.x; }

// max of v[e * stride + off] for e in [lo, hi) (hi > lo); NaN propagates, as np.maximum
__device__ __forceinline__ T sg_row_max(const T* v, i64 lo, i64 hi, i64 stride, i64 off) {
    T m = v[lo * stride + off];
    for (i64 e = lo + 1; e < hi; ++e) {
        const T x = v[e * stride + off];
        if (x > m || x != x) m = x;
    }
    return m;
}
