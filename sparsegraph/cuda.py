"""``sparsegraph.cuda``: the ``torch.cuda`` calls a PyTorch script makes before it picks a
device (``device = "cuda" if sg.cuda.is_available() else "cpu"``), over CuPy.

Without a usable GPU (no CuPy, no driver) `is_available` is False and `device_count` 0, as in
PyTorch; the calls that need a device then raise a RuntimeError saying why (`backend`'s
reason).
"""

from __future__ import annotations

from sparsegraph import backend

__all__ = ["current_device", "device_count", "empty_cache", "get_device_name", "is_available",
           "manual_seed", "manual_seed_all", "synchronize"]


def is_available() -> bool:
    """Whether a CUDA device can run sparsegraph's kernels (CuPy imports and sees one)."""
    return backend.cuda_available()


def device_count() -> int:
    """The CUDA devices CuPy sees (0 without a usable one)."""
    return backend.cupy_module().cuda.runtime.getDeviceCount() if is_available() else 0


def current_device() -> int:
    """The index of CuPy's current device."""
    return int(backend.cupy_module().cuda.Device().id)


def _index(device) -> int:
    return current_device() if device is None else backend.normalize_device(device).index or 0


def get_device_name(device=None) -> str:
    """The name of ``device`` (an int, "cuda:N" or None: the current one)."""
    name = backend.cupy_module().cuda.runtime.getDeviceProperties(_index(device))["name"]
    return name.decode() if isinstance(name, bytes) else str(name)


def synchronize(device=None) -> None:
    """Wait for the work queued on ``device`` (None: the current one), as torch's: kernels
    run asynchronously, so time them after this."""
    backend.cupy_module().cuda.Device(_index(device)).synchronize()


def empty_cache() -> None:
    """Hand CuPy's cached, unused device memory back to the driver (torch's
    ``empty_cache``); nothing to do without a GPU."""
    if is_available():
        backend.cupy_module().get_default_memory_pool().free_all_blocks()


def manual_seed(seed: int) -> None:
    """Seed the draws of CUDA tensors. They come from sparsegraph's one global generator
    (`sparsegraph.manual_seed`, the CPU's too), so this seeds that, as PyTorch scripts call
    ``torch.manual_seed(s); torch.cuda.manual_seed(s)`` together."""
    from sparsegraph.creation import manual_seed as seed_all

    seed_all(seed)


manual_seed_all = manual_seed
