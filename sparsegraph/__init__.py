"""sparsegraph: a torch-free tensor framework for sparse and graph-neural-network work.

Import it as ``sg``: ``sg.tensor``, ``sg.Function``, ``sg.ops``, ``sg.nn``, ``sg.optim``.
"""

import os as _os

if __name__ != "sparsegraph":
    raise ImportError(f"sparsegraph imported under the wrong name {__name__!r}")

_here = _os.path.dirname(_os.path.abspath(__file__))
_checkout = _os.path.dirname(_here)
if not _os.path.isdir(_os.path.join(_here, "ops")) and _os.path.isfile(
    _os.path.join(_checkout, "ops", "__init__.py")
):
    # NOTE: source checkout. ops/, gnn/ and datasets/ sit beside this directory and are mapped to
    # sparsegraph.* by pyproject's package-dir; this makes the same dotted names resolve when only
    # the checkout is on sys.path (no install needed).
    __path__.append(_checkout)

__version__ = "0.1.0"

from sparsegraph.allocator import keep_freed_memory as _keep_freed_memory  # noqa: E402
from sparsegraph.thread_policy import sleep_idle_threads as _sleep_idle_threads  # noqa: E402

_keep_freed_memory()  # before the first large array: see sparsegraph/allocator.py
_sleep_idle_threads()  # before numba loads its OpenMP team: see sparsegraph/thread_policy.py

# imports follow the layer order: backend, kernels, tensor, autograd, ops, nn/optim
from sparsegraph import backend, kernels  # noqa: E402
from sparsegraph.backend import cuda_available, device  # noqa: E402
from sparsegraph import cuda  # noqa: E402  (torch.cuda: is_available, device_count, ...)
from sparsegraph import backends  # noqa: E402  (torch.backends: mps, cudnn)
from sparsegraph.tensor import Tensor  # noqa: E402
from sparsegraph.creation import (  # noqa: E402
    Generator, arange, as_tensor, default_generator, empty, empty_like, eye, from_numpy, full,
    full_like, get_default_dtype, is_tensor, linspace, manual_seed, ones, ones_like, rand,
    rand_like, randint, randn, randn_like, randperm, set_default_dtype, tensor, zeros, zeros_like,
)
from sparsegraph.sparse import (  # noqa: E402
    SparseTensor, Structure, from_edge_index, from_scipy, sparse_coo, sparse_csr,
)
from sparsegraph import autograd  # noqa: E402
from sparsegraph.autograd import (  # noqa: E402
    Function, enable_grad, inference_mode, is_grad_enabled, is_inference_mode_enabled, no_grad,
    set_grad_enabled,
)
from sparsegraph import ops  # noqa: E402
from sparsegraph.ops import *  # noqa: E402,F403
from sparsegraph import nn, optim  # noqa: E402
from sparsegraph.nn import Parameter  # noqa: E402
from sparsegraph.serialization import load, save  # noqa: E402
from sparsegraph.graph import Graph  # noqa: E402

# dtype names as numpy dtypes, so `t.dtype == sg.float32` holds
float32, float64, float16 = backend.DTYPES["float32"], backend.DTYPES["float64"], backend.DTYPES[
    "float16"]
int32, int64, int16, int8, uint8 = (backend.DTYPES[n]
                                    for n in ("int32", "int64", "int16", "int8", "uint8"))
bool = backend.DTYPES["bool"]  # noqa: A001  (torch.bool's counterpart)
# torch's other names for them: sg.float is float32, sg.int is int32, as torch.float / torch.int
float, double, half = float32, float64, float16  # noqa: A001
int, long, short = int32, int64, int16  # noqa: A001

# What `from sparsegraph import *` gives: the core names above and every public op, but no
# module (sg.nn, sg.ops, ... stay attributes) and no name of Python's builtins. sg.bool / int /
# float and the ops sum / max / min / abs / pow / round / all / any stay attributes only, so a
# star import leaves Python's own sum() and max() working on lists. torch differs: its
# __all__ takes every public ATen function and every dtype name (torch/__init__.py), so
# `from torch import *` replaces max, sum, bool, int, float, ... with torch's.
_BUILTIN_SHADOWS = frozenset({"abs", "all", "any", "bool", "float", "int", "max", "min", "pow",
                              "round", "sum"})
_CORE = [
    "Tensor", "Generator", "arange", "default_generator", "empty", "empty_like", "eye", "full",
    "full_like", "get_default_dtype", "linspace", "manual_seed", "ones", "ones_like", "rand",
    "rand_like", "randint", "randn", "randn_like", "randperm", "tensor", "zeros", "zeros_like",
    "from_numpy", "as_tensor", "is_tensor",
    "SparseTensor", "Structure", "from_edge_index", "from_scipy", "sparse_coo", "sparse_csr",
    "Function", "enable_grad", "is_grad_enabled", "no_grad", "set_grad_enabled",
    "inference_mode", "is_inference_mode_enabled",
    "Parameter", "load", "save", "Graph", "cuda_available", "device", "set_default_dtype",
    "float32", "float64", "float16", "double", "half", "int32", "int64", "int16", "int8", "uint8",
    "long", "short",
]
__all__ = [n for n in (*_CORE, *ops.__all__) if n not in _BUILTIN_SHADOWS]


def __getattr__(name):
    # imported on first use: sparsegraph.static sits above gnn and datasets; sparsegraph.testing
    # (`sg.testing.gradcheck`, as issue 2 names it) is not needed to train
    if name in ("static", "testing"):
        import importlib

        return importlib.import_module(f"sparsegraph.{name}")
    raise AttributeError(f"module 'sparsegraph' has no attribute {name!r}")
