"""Shared fixtures: the `device` fixture (cpu, plus cuda when CuPy sees a GPU), `emulated_cuda`
and data roots."""

import os
import pathlib

import pytest
from hypothesis import settings

import sparsegraph as sg

# derandomize: the same examples every run, so CI is reproducible (failures are not flaky)
settings.register_profile("sparsegraph", deadline=None, max_examples=40, derandomize=True)
settings.load_profile("sparsegraph")

DEVICES = ["cpu"] + (["cuda"] if sg.cuda_available() else [])


@pytest.fixture(params=DEVICES)
def device(request):
    return request.param


@pytest.fixture(autouse=True)
def _seed():
    sg.manual_seed(0)


@pytest.fixture
def float64_default():
    """sg.set_default_dtype(float64) for one test, float32 again after it."""
    sg.set_default_dtype(sg.float64)
    try:
        yield
    finally:
        sg.set_default_dtype(sg.float32)


@pytest.fixture
def data_root():
    """The staged real datasets (CI sets SPARSEGRAPH_DATA=../shared/data); skip without them."""
    root = os.environ.get("SPARSEGRAPH_DATA")
    if not root or not pathlib.Path(root).is_dir():
        pytest.skip("SPARSEGRAPH_DATA is not set to the staged datasets folder")
    return pathlib.Path(root)


@pytest.fixture
def emulated_cuda(monkeypatch):
    """"cuda" made usable by CuPy emulated on numpy (`tests.cupy_emulation.install`), with the
    generic kernels: the CUDA-specific ones (RawKernel, cuSPARSE) are not emulated."""
    from sparsegraph import kernels
    from tests.cupy_emulation import install

    install(monkeypatch)
    with kernels.use("generic"):
        yield
