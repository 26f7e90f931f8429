// Sampled dense-dense product: out[e, h] = <x[row(e), h, :], y[col(e), h, :]>.
//
// Shapes: x (N, H * F), y (M, H * F), out (E, H). The blockDim.x lanes of row i take its
// entries in turn (entry lo + lane, lo + lane + blockDim.x, ...); each output is one lane's
// sequential sum over F, so there is no cross-thread reduction to order.

extern "C" __global__ void sg_sddmm(const P* __restrict__ indptr, const I* __restrict__ indices,
                                    const T* __restrict__ x, const T* __restrict__ y,
                                    T* __restrict__ out, i64 n_rows, i64 heads, i64 feat) {
    const i64 i = sg_row();
    if (i >= n_rows) return;
    const i64 width = heads * feat;
    const T* xi = x + i * width;
    for (i64 e = (i64)indptr[i] + threadIdx.x; e < indptr[i + 1]; e += blockDim.x) {
        const T* yj = y + (i64)indices[e] * width;
        for (i64 h = 0; h < heads; ++h) {
            T s = 0;
            for (i64 f = h * feat; f < (h + 1) * feat; ++f) s += xi[f] * yj[f];
            out[e * heads + h] = s;
        }
    }
}
