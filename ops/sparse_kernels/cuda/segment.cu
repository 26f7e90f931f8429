// Reductions over sorted segments: segment s is entries indptr[s] .. indptr[s + 1] of src
// (E, K), read through perm (E,) when use_perm (scatter: the stable sort of the index).
// mode 0 sums, 1 keeps the max, 2 the min, with arg = the source position of the extremum:
// the first on ties, the first NaN if any (NaN propagates, as np.maximum). Empty segments
// give 0 and arg -1. One thread per (segment, column k).

extern "C" __global__ void sg_segment_reduce(const P* __restrict__ indptr,
                                             const T* __restrict__ src,
                                             const i64* __restrict__ perm,
                                             T* __restrict__ out, i64* __restrict__ arg,
                                             i64 n_seg, i64 width, i64 mode, i64 use_perm) {
    const i64 s = sg_row(), k = sg_col();
    if (s >= n_seg || k >= width) return;
    const i64 lo = indptr[s], hi = indptr[s + 1];
    T best = 0;
    i64 where = -1;
    for (i64 e = lo; e < hi; ++e) {
        const i64 p = use_perm ? perm[e] : e;
        const T v = src[p * width + k];
        if (mode == 0) {
            best += v;
            continue;
        }
        // strict comparisons: on ties the earlier source position stays
        const bool nan_first = v != v && best == best;
        const bool better = e == lo || (mode == 1 ? v > best : v < best) || nan_first;
        if (better) {
            best = v;
            where = p;
        }
    }
    out[s * width + k] = best;
    if (mode != 0) arg[s * width + k] = where;
}
