// CSR @ dense, plain and fused with the edge softmax (GAT's attention aggregation).
//
// Shapes: indptr (N + 1,), indices (E,), values / scores (E, H) (H = 1 for 1-D values),
// x (M, H * F) and out (N, H * F) row-major. One thread per output element (row i, column
// k = h * F + f) sums its row's entries in stored order.

extern "C" __global__ void sg_spmm(const P* __restrict__ indptr, const I* __restrict__ indices,
                                   const T* __restrict__ values, const T* __restrict__ x,
                                   T* __restrict__ out, i64 n_rows, i64 heads, i64 feat) {
    const i64 i = sg_row(), k = sg_col(), width = heads * feat;
    if (i >= n_rows || k >= width) return;
    const i64 h = k / feat;
    T acc = 0;
    for (i64 e = indptr[i]; e < indptr[i + 1]; ++e)
        acc += values[e * heads + h] * x[(i64)indices[e] * width + k];
    out[i * width + k] = acc;
}

// alpha = softmax of each row's scores (per head); out = alpha @ x, without an E x F array.
// Every thread of head h recomputes the row max and sum (cheap next to the gathers of x); the
// thread with f == 0 also stores alpha, so each alpha entry has one writer.
extern "C" __global__ void sg_softmax_spmm(const P* __restrict__ indptr,
                                           const I* __restrict__ indices,
                                           const T* __restrict__ scores,
                                           const T* __restrict__ x, T* __restrict__ out,
                                           T* __restrict__ alpha, i64 n_rows, i64 heads,
                                           i64 feat) {
    const i64 i = sg_row(), k = sg_col(), width = heads * feat;
    if (i >= n_rows || k >= width) return;
    const i64 h = k / feat, f = k - h * feat, lo = indptr[i], hi = indptr[i + 1];
    T acc = 0;
    if (lo < hi) {
        const T m = sg_row_max(scores, lo, hi, heads, h);
        T s = 0;
        for (i64 e = lo; e < hi; ++e) s += sg_exp(scores[e * heads + h] - m);
        for (i64 e = lo; e < hi; ++e) {
            const T a = sg_exp(scores[e * heads + h] - m) / s;  // divide, as the CPU kernels
            if (f == 0) alpha[e * heads + h] = a;
            acc += a * x[(i64)indices[e] * width + k];
        }
    }
    out[i * width + k] = acc;
}
