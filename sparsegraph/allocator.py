"""Keep large freed blocks inside the process instead of handing them back to the OS.

glibc's malloc serves every request above 32 MB with a fresh ``mmap`` and ``munmap``s it on
free, so each large temporary (an N x F activation, a gradient, a dropout mask) is faulted in
page by page again on every use. On a VM those faults are slow: an arxiv-sized (169k x 256
float32) ``a + b`` took 0.25-0.6 s instead of 0.04 s, and a 3 x 256 GCN epoch on the arxiv
preset 5.0 s instead of 2.8 s (benchmarks/RESULTS.md). With ``mmap`` off and trimming raised,
freed blocks stay in the heap and the next step reuses them already faulted in; peak RSS is
unchanged (the same blocks are live at the peak either way) - what changes is that RSS stays at
its peak until the process exits, as with a caching allocator (PyTorch's on the GPU, jemalloc
and tcmalloc, which PyTorch's CPU performance guide recommends preloading for the same reason).

Applied once when sparsegraph is imported, on Linux with glibc; ``SPARSEGRAPH_MALLOC=system``
in the environment leaves malloc as it is.
"""

from __future__ import annotations

import ctypes
import os
import sys

__all__ = ["keep_freed_memory", "allocator_status"]

# mallopt parameters (glibc's malloc.h)
_M_TRIM_THRESHOLD = -1
_M_MMAP_MAX = -4
_INT_MAX = 2**31 - 1  # mallopt takes an int: trim only when 2 GiB lie free at the heap's top

_status = "not configured"


def keep_freed_memory() -> bool:
    """Tune glibc's malloc to keep freed blocks for reuse (see the module docstring).

    Returns:
        True when malloc was tuned; False when this is not glibc on Linux or
        ``SPARSEGRAPH_MALLOC=system`` asks to leave it alone (`allocator_status` says which).
    """
    global _status
    if os.environ.get("SPARSEGRAPH_MALLOC", "").lower() == "system":
        _status = "system malloc (SPARSEGRAPH_MALLOC=system)"
        return False
    if not sys.platform.startswith("linux"):
        _status = f"system malloc ({sys.platform} is not Linux)"
        return False
    try:
        mallopt = ctypes.CDLL("libc.so.6").mallopt
    except (OSError, AttributeError):  # musl and other C libraries have no mallopt
        _status = "system malloc (no glibc mallopt)"
        return False
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    if not (mallopt(_M_MMAP_MAX, 0) and mallopt(_M_TRIM_THRESHOLD, _INT_MAX)):
        _status = "system malloc (mallopt refused)"
        return False
    _status = "glibc malloc keeping freed blocks (no mmap, trim above 2 GiB)"
    return True


def allocator_status() -> str:
    """How host memory is allocated in this process, in words (`sparsegraph info` prints it)."""
    return _status
