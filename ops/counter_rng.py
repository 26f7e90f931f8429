"""Counter-based random bits: the ``i``-th number of a stream is a pure function of
``(key, i)``, SplitMix64's output ``mix(key + (i + 1) * GOLDEN)`` (Steele, Lea & Flood, "Fast
splittable pseudorandom number generators", OOPSLA 2014).

Why counters instead of a sequential generator: any element can be drawn by any thread in any
order and give the same number, so parallel kernels are deterministic for any thread count, and a
dropout mask need not be stored - its backward recomputes it from the key (as Philox-based
dropout does on GPUs). The sampler (gnn/sampling_kernels.py) and dropout (ops/stochastic.py)
both draw from here.

``mix`` works on numpy and cupy uint64 arrays (they wrap around on overflow) and compiles
under numba unchanged; ``mix_int`` is the same on a Python int.
"""

from __future__ import annotations

import numpy as np

__all__ = ["GOLDEN", "MASK64", "G", "S32", "mix", "mix_int", "keep_threshold", "keep_mask"]

MASK64 = (1 << 64) - 1
GOLDEN = 0x9E3779B97F4A7C15  # 2^64 / golden ratio: SplitMix64's increment
G = np.uint64(GOLDEN)
_M1, _M2 = np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB)
_S30, _S27, _S31 = np.uint64(30), np.uint64(27), np.uint64(31)
S32 = np.uint64(32)
_CHUNK = 1 << 20  # elements per vectorised step of the generic mask: bounded uint64 temporaries


def mix(z):
    """SplitMix64's finaliser on uint64 (numpy arrays wrap around; numba compiles it too)."""
    z = (z ^ (z >> _S30)) * _M1
    z = (z ^ (z >> _S27)) * _M2
    return z ^ (z >> _S31)


def mix_int(z: int) -> int:
    """`mix` on a Python int (no numpy scalar overflow warnings)."""
    z &= MASK64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
    return z ^ (z >> 31)


def keep_threshold(p: float) -> np.uint64:
    """Element ``i`` is dropped when the high 32 bits of its number are below this, so it is kept
    with probability ``1 - p`` (exactly, up to ``p`` rounded to a multiple of ``2^-32``)."""
    return np.uint64(min(round(p * 2.0**32), 2**32))


def keep_mask(key: int, threshold: np.uint64, shape, xp=np):
    """The bool keep-mask of ``shape`` for stream ``key``: element ``i`` (C order) is kept when
    ``mix(key + (i + 1) * GOLDEN) >> 32 >= threshold``. Generic (numpy or cupy); the numba
    kernels compute the same bits in parallel."""
    n = int(np.prod(shape, dtype=np.int64))
    keep = xp.empty(n, dtype=bool)
    k = np.uint64(key & MASK64)
    for lo in range(0, n, _CHUNK):
        i = xp.arange(lo + 1, min(lo + _CHUNK, n) + 1, dtype=np.uint64)
        keep[lo:lo + i.shape[0]] = (mix(k + i * G) >> S32) >= threshold
    return keep.reshape(shape)
