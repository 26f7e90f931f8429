// Softmax / log-softmax of the stored values within each CSR row (each head separately), and
// their gradients. Shapes: indptr (N + 1,), values / out / g / grad (E, H) row-major.
// One thread per (row, head), three passes over the row: max, sum of exp, normalise.

extern "C" __global__ void sg_csr_softmax(const P* __restrict__ indptr,
                                          const T* __restrict__ values, T* __restrict__ out,
                                          i64 n_rows, i64 heads, i64 log_) {
    const i64 i = sg_row(), h = sg_col();
    if (i >= n_rows || h >= heads) return;
    const i64 lo = indptr[i], hi = indptr[i + 1];
    if (lo == hi) return;
    const T m = sg_row_max(values, lo, hi, heads, h);
    T s = 0;
    for (i64 e = lo; e < hi; ++e) {
        const T z = values[e * heads + h] - m;
        const T ez = sg_exp(z);
        out[e * heads + h] = log_ ? z : ez;  // one exp per entry either way
        s += ez;
    }
    if (log_) {
        const T lse = sg_log(s);
        for (i64 e = lo; e < hi; ++e) out[e * heads + h] -= lse;
    } else {
        for (i64 e = lo; e < hi; ++e) out[e * heads + h] /= s;
    }
}

// softmax: grad = out * (g - rowsum(out * g)); log-softmax: grad = g - exp(out) * rowsum(g)
extern "C" __global__ void sg_csr_softmax_backward(const P* __restrict__ indptr,
                                                   const T* __restrict__ out,
                                                   const T* __restrict__ g,
                                                   T* __restrict__ grad, i64 n_rows,
                                                   i64 heads, i64 log_) {
    const i64 i = sg_row(), h = sg_col();
    if (i >= n_rows || h >= heads) return;
    const i64 lo = indptr[i], hi = indptr[i + 1];
    T s = 0;
    for (i64 e = lo; e < hi; ++e)
        s += log_ ? g[e * heads + h] : out[e * heads + h] * g[e * heads + h];
    for (i64 e = lo; e < hi; ++e) {
        const i64 at = e * heads + h;
        grad[at] = log_ ? g[at] - sg_exp(out[at]) * s : out[at] * (g[at] - s);
    }
}
