"""sg.cuda: torch.cuda's device queries over CuPy (a stub CuPy stands in for a GPU here)."""

import types

import numpy as np
import pytest

import sparsegraph as sg
from sparsegraph import backend


def test_without_a_gpu(monkeypatch):
    monkeypatch.setattr(backend, "cuda_available", lambda: False)
    assert sg.cuda.is_available() is False and sg.cuda.device_count() == 0
    sg.cuda.empty_cache()  # nothing to free
    device = "cuda" if sg.cuda.is_available() else "cpu"  # the script's idiom
    assert sg.zeros(2, device=device).device == "cpu"


def test_synchronize_without_a_gpu_says_why():
    if sg.cuda.is_available():
        pytest.skip("a GPU is usable here")
    with pytest.raises(RuntimeError, match="device 'cuda' is not usable"):
        sg.cuda.synchronize()


def test_queries_go_to_cupy(monkeypatch):
    calls = []

    class Device:
        def __init__(self, i=1):
            self.id = i

        def synchronize(self):
            calls.append(("sync", self.id))

    pool = types.SimpleNamespace(free_all_blocks=lambda: calls.append("free"))
    runtime = types.SimpleNamespace(getDeviceCount=lambda: 2,
                                    getDeviceProperties=lambda i: {"name": f"GPU{i}".encode()})
    cupy = types.SimpleNamespace(cuda=types.SimpleNamespace(runtime=runtime, Device=Device),
                                 get_default_memory_pool=lambda: pool)
    monkeypatch.setattr(backend, "cuda_available", lambda: True)
    monkeypatch.setattr(backend, "cupy_module", lambda: cupy)
    assert sg.cuda.device_count() == 2 and sg.cuda.current_device() == 1
    assert sg.cuda.get_device_name() == "GPU1" and sg.cuda.get_device_name("cuda:0") == "GPU0"
    sg.cuda.synchronize(0)
    sg.cuda.empty_cache()
    assert calls == [("sync", 0), "free"]


def test_manual_seed_seeds_the_global_generator():
    sg.cuda.manual_seed(7)
    a = sg.randn(3).numpy()
    sg.cuda.manual_seed_all(7)
    np.testing.assert_array_equal(sg.randn(3).numpy(), a)
