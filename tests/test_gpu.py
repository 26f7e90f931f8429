"""The CUDA path: the CUDA C sources, a CPU simulation of the RawKernels, the kernel registry on
device "cuda", device-mixing errors, lazy cupy, and GPU-only parity tests.

Without a GPU, three things still check the CUDA code here:
- every ``.cu`` source (with ``common.cuh`` in front, exactly as NVRTC gets it) compiles with
  ``nvcc`` for sm_90 with warnings as errors;
- the same sources compiled for the host with g++ and a small shim (``blockIdx`` / ``threadIdx``
  globals, a loop over every block and thread, run in reverse order) run under the real Python
  wrappers of `cupy_kernels` on numpy arrays, compared with the generic kernels. The simulated
  launch also checks what cupy would not: argument dtypes against the kernel's C types, int64
  scalars, launch limits, and that every output element is written;
- the registry has a "cuda" kernel for every op that has a "cpu" one.
The tests marked ``gpu`` run every "cuda" kernel against the generic kernel on a GPU.
"""

from __future__ import annotations

import ctypes
import functools
import pathlib
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest

import sparsegraph as sg
import sparsegraph.ops as ops
from sparsegraph import kernels
from sparsegraph.ops.sparse_kernels import cupy_kernels, generic
from sparsegraph.tensor import wrap
from sparsegraph.testing import random_sparse

HAVE_GPU = sg.cuda_available()
needs_gpu = pytest.mark.skipif(not HAVE_GPU, reason=f"needs CuPy and a GPU: "
                                                    f"{sg.backend.cuda_status()}")
COMBOS = {  # (value, indptr, indices) dtype combinations the sources are compiled for
    "f32-i32": (np.float32, np.int32, np.int32),
    "f64-i64": (np.float64, np.int64, np.int64),
    "f32-p64-i32": (np.float32, np.int64, np.int32),
}
KERNEL = re.compile(r'extern "C" __global__ void (\w+)\((.*?)\)\s*\{', re.S)


def kernel_signatures(name: str) -> dict[str, list[tuple[str, str]]]:
    """``{kernel: [(C type, parameter name), ...]}`` of a source file."""
    out = {}
    for fn, params in KERNEL.findall(cupy_kernels.source(name)):
        parsed = []
        for p in params.split(","):
            words = p.replace("__restrict__", "").split()
            parsed.append((" ".join(words[:-1]), words[-1]))
        out[fn] = parsed
    return out


# ---- (a) the sources compile with nvcc --------------------------------------------------------
@pytest.mark.skipif(shutil.which("nvcc") is None, reason="nvcc (the CUDA compiler) is missing")
@pytest.mark.parametrize("combo", sorted(COMBOS))
@pytest.mark.parametrize("name", cupy_kernels.SOURCES)
def test_cuda_source_compiles_with_nvcc(name, combo, tmp_path):
    src = tmp_path / name
    src.write_text(cupy_kernels.source(name))
    flags = cupy_kernels.flags(*COMBOS[combo])
    done = subprocess.run(["nvcc", "--cubin", "-arch=sm_90", "--Werror", "all-warnings", *flags,
                           str(src), "-o", str(tmp_path / "out.cubin")],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "out.cubin").stat().st_size > 0


def test_every_kernel_the_wrappers_launch_exists():
    """A misspelt kernel name would only fail on a GPU: check the calls against the sources."""
    code = pathlib.Path(cupy_kernels.__file__).read_text()
    calls = set(re.findall(r'get_kernel\("(\w+\.cu)", "(\w+)"', code))
    assert calls, "no get_kernel calls found"
    for name, fn in calls:
        assert fn in kernel_signatures(name), f"{fn} is not a kernel of {name}"
    defined = {(n, fn) for n in cupy_kernels.SOURCES for fn in kernel_signatures(n)}
    assert defined == calls, f"kernels never launched: {sorted(defined - calls)}"


def test_cuda_sources_ship_with_the_package():
    """Every file under cuda/ matches a package-data pattern, so the wheel carries it."""
    import fnmatch
    import tomllib

    root = pathlib.Path(__file__).resolve().parents[1]
    cfg = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]
    patterns = cfg["package-data"]["sparsegraph.ops.sparse_kernels"]
    files = [p.relative_to(cupy_kernels.CUDA_DIR.parent).as_posix()
             for p in cupy_kernels.CUDA_DIR.iterdir() if p.is_file()]
    assert set(cupy_kernels.SOURCES) | {"common.cuh"} == {f.split("/")[1] for f in files}
    unshipped = [f for f in files if not any(fnmatch.fnmatch(f, pat) for pat in patterns)]
    assert not unshipped, f"not in package-data: {unshipped}"


# ---- (b) CPU simulation of the RawKernels ----------------------------------------------------
SHIM = """
#include <math.h>
struct sg_dim3 { unsigned int x, y, z; };
static sg_dim3 blockIdx, threadIdx, blockDim, gridDim;
#define __global__
#define __device__
#define __forceinline__ inline
"""


def _launcher(fn: str, params) -> str:
    """A host function that runs kernel ``fn`` for every (block, thread), last one first."""
    decl = ", ".join(f"{t} {n}" for t, n in params)
    names = ", ".join(n for _, n in params)
    return f"""
extern "C" void sim_{fn}(unsigned gx, unsigned gy, unsigned bx, unsigned by, {decl}) {{
    gridDim = {{gx, gy, 1}}; blockDim = {{bx, by, 1}};
    for (unsigned b1 = gy; b1-- > 0;) for (unsigned b0 = gx; b0-- > 0;)
        for (unsigned t1 = by; t1-- > 0;) for (unsigned t0 = bx; t0-- > 0;) {{
            blockIdx = {{b0, b1, 0}}; threadIdx = {{t0, t1, 0}};
            {fn}({names});
        }}
}}
"""


@pytest.fixture(scope="session")
def sim_build(tmp_path_factory):
    if shutil.which("g++") is None:
        pytest.skip("g++ is missing: the CPU simulation compiles the CUDA sources for the host")
    root = tmp_path_factory.mktemp("cuda_sim")

    @functools.cache
    def build(name: str, options: tuple[str, ...]):
        sigs = kernel_signatures(name)
        code = SHIM + cupy_kernels.source(name) + "".join(
            _launcher(fn, params) for fn, params in sigs.items())
        stem = root / f"{name.split('.')[0]}{''.join(options).replace('-D', '_')}"
        stem.with_suffix(".cpp").write_text(code)
        done = subprocess.run(["g++", "-O1", "-shared", "-fPIC", "-Wall", "-Werror", *options, "-o",
                               str(stem.with_suffix(".so")), str(stem.with_suffix(".cpp"))],
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        return ctypes.CDLL(str(stem.with_suffix(".so"))), sigs

    return build


def _c_dtype(ctype: str, options) -> np.dtype:
    base = ctype.replace("const", "").replace("*", "").strip()
    if base == "T":
        return np.dtype(np.float64 if "-DSG_DOUBLE" in options else np.float32)
    if base in ("P", "I"):
        wide = f"-DSG_{'PTR' if base == 'P' else 'IDX'}64" in options
        return np.dtype(np.int64 if wide else np.int32)
    assert base == "i64", f"unexpected kernel parameter type {ctype!r}"
    return np.dtype(np.int64)


SENTINEL = {"f": -1.2345e30, "i": -987654321}


@pytest.fixture
def sim(sim_build, monkeypatch):
    """Route `cupy_kernels.get_kernel` to the host-compiled sources; yields the launch log."""
    log = []

    def get_kernel(name, function, options):
        lib, sigs = sim_build(name, tuple(options))
        params = sigs[function]
        entry = getattr(lib, f"sim_{function}")

        def run(grid, block, args):
            assert len(args) == len(params), f"{function}: {len(args)} args for {params}"
            assert block[0] * block[1] * block[2] <= 1024 and grid[1] <= 65535 and grid[2] == 1
            c_args = []
            for (ctype, pname), a in zip(params, args, strict=True):
                want = _c_dtype(ctype, options)
                if "*" not in ctype:  # cupy passes numpy scalars with their own width
                    assert isinstance(a, np.int64), f"{function}({pname}): {type(a)}"
                    c_args.append(ctypes.c_longlong(int(a)))
                    continue
                assert isinstance(a, np.ndarray) and a.dtype == want, (
                    f"{function}({pname}): expected {want} (got {getattr(a, 'dtype', a)})")
                assert a.flags.c_contiguous, f"{function}({pname}) is not contiguous"
                if "const" not in ctype:  # an output: unwritten elements must show
                    a.fill(SENTINEL[want.kind])
                c_args.append(ctypes.c_void_p(a.ctypes.data))
            entry(*(ctypes.c_uint(int(v)) for v in (*grid[:2], *block[:2])), *c_args)
            log.append(function)

        return run

    monkeypatch.setattr(cupy_kernels, "get_kernel", get_kernel)
    return log


def random_csr(n, m, rng, ptr=np.int32, idx=np.int32):
    """CSR with empty rows, a hub row and duplicate, unsorted columns."""
    deg = rng.integers(0, 5, n)
    deg[::4] = 0
    if n > 1:
        deg[1] = 3 * m
    indptr = np.concatenate([[0], np.cumsum(deg)]).astype(ptr)
    return indptr, rng.integers(0, m, int(indptr[-1])).astype(idx)


def close(a, b, dtype, **kw):
    tol = 1e-5 if np.dtype(dtype) == np.float32 else 1e-12
    np.testing.assert_allclose(a, b, rtol=tol, atol=tol, **kw)


SHAPES = [  # (n rows, m cols, heads (0: 1-D values), F): one thread block, several, wide
    (7, 5, 0, 3), (40, 30, 2, 33), (9, 4, 3, 1), (300, 50, 0, 200)]


@pytest.mark.parametrize("combo", sorted(COMBOS))
@pytest.mark.parametrize("n, m, heads, f", SHAPES)
def test_sim_spmm_and_sddmm_match_generic(sim, combo, n, m, heads, f):
    dt, ptr, idx = COMBOS[combo]
    rng = np.random.default_rng(n + f)
    indptr, indices = random_csr(n, m, rng, ptr, idx)
    nnz = indices.shape[0]
    values = rng.standard_normal((nnz, heads) if heads else nnz).astype(dt)
    xs = (m, heads, f) if heads else (m, f)
    x = rng.standard_normal(xs).astype(dt)
    close(cupy_kernels.spmm_rows(indptr, indices, values, x, n),
          generic.spmm(indptr, indices, values, x, n), dt)
    g = rng.standard_normal((n,) + xs[1:]).astype(dt)
    got = cupy_kernels.sddmm(indptr, indices, g, x)
    assert got.shape == values.shape and got.dtype == dt
    close(got, generic.sddmm(indptr, indices, g, x), dt)
    assert sim == ["sg_spmm", "sg_sddmm"]


@pytest.mark.parametrize("combo", sorted(COMBOS))
@pytest.mark.parametrize("heads", [0, 1, 4])
def test_sim_edge_softmax_and_fused_attention_match_generic(sim, combo, heads):
    dt, ptr, idx = COMBOS[combo]
    rng = np.random.default_rng(heads)
    n, m, f = 23, 11, 5
    indptr, indices = random_csr(n, m, rng, ptr, idx)
    nnz = indices.shape[0]
    shape = (nnz, heads) if heads else (nnz,)
    scores = (3 * rng.standard_normal(shape)).astype(dt)
    g = rng.standard_normal(shape).astype(dt)
    for name in ("csr_softmax", "csr_log_softmax"):
        out = getattr(cupy_kernels, name)(indptr, scores)
        close(out, getattr(generic, name)(indptr, scores), dt)
        back = name + "_backward"
        close(getattr(cupy_kernels, back)(indptr, out, g), getattr(generic, back)(indptr, out, g),
              dt)
    x = rng.standard_normal((m, heads, f) if heads else (m, f)).astype(dt)
    out, alpha = cupy_kernels.csr_softmax_spmm(indptr, indices, scores, x)
    ref_out, ref_alpha = generic.csr_softmax_spmm(indptr, indices, scores, x)
    close(alpha, ref_alpha, dt)
    close(out, ref_out, dt)


def test_sim_softmax_rows_of_minus_inf_and_nan(sim):
    indptr = np.array([0, 2, 4, 5], np.int32)
    scores = np.array([-np.inf, -np.inf, 1.0, np.nan, 2.0], np.float32)
    got = cupy_kernels.csr_softmax(indptr, scores)
    with np.errstate(invalid="ignore"):  # numpy warns on -inf - -inf; the kernel gives NaN
        ref = generic.csr_softmax(indptr, scores)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(ref))
    close(got, ref, np.float32, equal_nan=True)


@pytest.mark.parametrize("combo", sorted(COMBOS))
@pytest.mark.parametrize("reduce", ["sum", "mean", "max", "min"])
@pytest.mark.parametrize("trailing", [(), (3,), (2, 70)])
def test_sim_segment_and_scatter_reduce_match_generic(sim, combo, reduce, trailing):
    dt, ptr, _ = COMBOS[combo]
    rng = np.random.default_rng(len(trailing))
    n_seg, nnz = 17, 60
    # small integers: ties in max / min, so the arg rule (smallest position) is exercised
    src = rng.integers(-3, 4, (nnz,) + trailing).astype(dt)
    cuts = np.sort(rng.integers(0, nnz + 1, n_seg - 1))
    indptr = np.concatenate([[0], cuts, [nnz]]).astype(ptr)
    for got, ref in ((cupy_kernels.segment_reduce(indptr, src, reduce),
                      generic.segment_reduce(indptr, src, reduce)),
                     (cupy_kernels.scatter_reduce(index := rng.integers(0, n_seg + 3, nnz)
                                                  .astype(ptr), src, n_seg + 3, reduce),
                      generic.scatter_reduce(index, src, n_seg + 3, reduce))):
        close(got[0], ref[0], dt)
        assert got[0].dtype == ref[0].dtype
        if reduce in ("max", "min"):
            np.testing.assert_array_equal(got[1], ref[1])
        else:
            assert got[1] is None and ref[1] is None


def test_sim_segment_max_propagates_the_first_nan(sim):
    src = np.array([[1.0, 2.0], [np.nan, 5.0], [3.0, np.nan], [np.nan, 1.0]], np.float64)
    indptr = np.array([0, 4, 4], np.int64)
    for reduce in ("max", "min"):
        out, arg = cupy_kernels.segment_reduce(indptr, src, reduce)
        ref_out, ref_arg = generic.segment_reduce(indptr, src, reduce)
        np.testing.assert_array_equal(out, ref_out)  # NaN == NaN here
        np.testing.assert_array_equal(arg, ref_arg)
        assert arg.tolist() == [[1, 2], [-1, -1]]


def test_sim_empty_inputs(sim):
    indptr = np.zeros(4, np.int32)
    empty, x = np.zeros(0, np.int32), np.ones((5, 3), np.float32)
    assert cupy_kernels.spmm_rows(indptr, empty, np.zeros(0, np.float32), x, 3).tolist() == [
        [0.0] * 3] * 3
    assert cupy_kernels.sddmm(indptr, empty, np.ones((3, 3), np.float32), x).shape == (0,)
    out, arg = cupy_kernels.scatter_reduce(empty, np.zeros((0, 2), np.float32), 3, "max")
    assert out.tolist() == [[0.0, 0.0]] * 3 and arg.tolist() == [[-1, -1]] * 3
    out, alpha = cupy_kernels.csr_softmax_spmm(indptr, empty, np.zeros(0, np.float32), x)
    assert out.shape == (3, 3) and not out.any() and alpha.shape == (0,)


def test_sim_falls_back_to_generic_for_dtypes_without_a_variant(sim):
    indptr = np.array([0, 2, 3], np.int32)
    src = np.array([4, 1, 7], np.int64)  # integer sums have no compiled variant
    out, _ = cupy_kernels.segment_reduce(indptr, src, "sum")
    assert out.tolist() == [5, 7] and out.dtype == np.int64
    half = np.ones(3, np.float16)
    assert cupy_kernels.csr_softmax(indptr, half).dtype == np.float16
    assert sim == []  # nothing was launched


def test_launch_geometry_covers_every_output():
    seen = []
    cupy_kernels.launch(lambda grid, block, args: seen.append((grid, block)), 1000, 200, ())
    (grid, block), = seen
    assert block[0] * block[1] <= 1024
    assert grid[0] * block[1] >= 1000 and grid[1] * block[0] >= 200
    cupy_kernels.launch(lambda *a: seen.append(a), 0, 5, ())  # nothing to do: no launch
    assert len(seen) == 1


# ---- the generic kernels' cupy branches, on numpy ---------------------------------------------
class _CupyLikeUfunc:
    """A numpy ufunc without ``reduceat`` unless cupy has it (cupy 14: ``add`` only)."""

    def __init__(self, ufunc, reduceat: bool):
        self._ufunc, self.at = ufunc, ufunc.at
        if reduceat:
            self.reduceat = ufunc.reduceat

    def __call__(self, *args, **kwargs):
        return self._ufunc(*args, **kwargs)


class _CupyLike:
    """numpy with cupy's gaps, so the generic kernels take their cupy code paths."""

    add = _CupyLikeUfunc(np.add, True)
    maximum, minimum = _CupyLikeUfunc(np.maximum, False), _CupyLikeUfunc(np.minimum, False)

    def __getattr__(self, name):
        return getattr(np, name)

    @staticmethod
    def repeat(a, repeats, axis=None):
        if hasattr(repeats, "shape") and repeats.ndim:  # cupy wants host repeats
            raise TypeError("cupy.repeat: repeats must be an int or a list")
        return np.repeat(a, repeats, axis)


def test_generic_kernels_take_their_cupy_branches(monkeypatch):
    from sparsegraph.ops.sparse_kernels import structure

    rng = np.random.default_rng(5)
    indptr, indices = random_csr(30, 12, rng)
    nnz = indices.shape[0]
    v = rng.standard_normal((nnz, 2))
    src = np.round(rng.standard_normal((nnz, 3)), 1)
    x, g = rng.standard_normal((12, 2, 4)), rng.standard_normal((30, 2, 4))
    index = rng.integers(0, 30, nnz)
    calls = {
        "spmm": (indptr, indices, v, x, 30), "sddmm": (indptr, indices, g, x),
        "csr_softmax": (indptr, v), "csr_log_softmax": (indptr, v),
        "csr_softmax_spmm": (indptr, indices, v, x),
        **{f"segment_{r}": (indptr, src, r) for r in ("sum", "mean", "max", "min")},
        **{f"scatter_{r}": (index, src, 30, r) for r in ("sum", "mean", "max", "min")},
        "csr_transpose": (indptr, indices, 12), "coo_to_csr": (index, indices, 30),
    }

    def run():
        out = {}
        for name, args in calls.items():
            fn = (getattr(generic, name.split("_")[0] + "_reduce") if name.split("_")[0] in (
                "segment", "scatter") else getattr(generic, name, None)
                or getattr(structure, name))
            out[name] = fn(*args)
        return out

    numpy_results = run()
    for module in (generic, structure):
        monkeypatch.setattr(module, "xp_of", lambda a: _CupyLike())
    for name, got in run().items():
        for a, b in zip(*(r if isinstance(r, tuple) else (r,)
                          for r in (got, numpy_results[name])), strict=True):
            if b is None:
                assert a is None, name
            else:
                np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12, err_msg=name)


# ---- the registry on device "cuda" ------------------------------------------------------------
HOST_ONLY = {  # ops that run on the host by design, with the reason
    "sample_neighbors": "neighbour sampling is data loading; the sampled blocks move to the GPU",
}


def test_every_cpu_op_has_a_cuda_kernel():
    import sparsegraph.gnn  # noqa: F401  (registers its kernels)

    table = kernels._TABLE
    missing = sorted({op for (op, dev, fmt) in table if dev == "cpu"
                      and (op, "cuda", fmt) not in table and op not in HOST_ONLY})
    assert not missing, f"ops with no kernel for device 'cuda': {missing}"


@pytest.mark.parametrize("op", ["spmm", "sddmm", "csr_softmax", "csr_log_softmax",
                                "csr_softmax_backward", "csr_log_softmax_backward",
                                "csr_softmax_spmm", "segment_reduce", "scatter_reduce",
                                "spgemm", "spgemm_symbolic"])
def test_cupy_kernels_win_on_cuda_and_mirror_the_cpu_signature(op):
    import inspect

    assert kernels.chosen(op, "cuda", "csr") == "cupy"
    assert any(k.name == "generic" for k in kernels.kernels(op, "cuda", "csr"))
    cpu = kernels.kernels(op, "cpu", "csr")[0].fn
    cuda = kernels.kernels(op, "cuda", "csr")[0].fn
    assert (list(inspect.signature(cuda).parameters)
            == list(inspect.signature(cpu).parameters))


# ---- (d) mixing devices is a clear error ------------------------------------------------------
def _elsewhere(t):
    """``t`` labelled as living on cuda:0 (validation reads only the label)."""
    out = wrap(t.array)
    out.device = "cuda:0"
    return out


def test_mixing_devices_in_one_op_is_a_clear_error():
    a = random_sparse(5, 5, 0.5, dtype="float32", seed=3)
    x, y = sg.randn(5, 4), _elsewhere(sg.randn(5, 4))
    gpu_a = random_sparse(5, 5, 0.5, dtype="float32", seed=4)  # its own structure
    gpu_a.values.device = gpu_a.structure.device = "cuda:0"
    cases = {
        r"spmm: `a` is on cpu but `x` is on cuda:0": lambda: ops.spmm(a, y),
        r"sddmm: `a` is on cpu but `y` is on cuda:0": lambda: ops.sddmm(a, x, y),
        r"spgemm: `a` is on cpu but `b` is on cuda:0": lambda: ops.spgemm(a, gpu_a),
        r"sparse_add: .* different devices": lambda: ops.sparse_add(a, gpu_a),
        r"sparse_mul: `a` is on cpu but `other` is on cuda:0": lambda: ops.sparse_mul(a, y),
        r"matmul: inputs are on different devices \(cpu, cuda:0\)":
            lambda: ops.matmul(x, _elsewhere(sg.randn(4, 5))),
        r"add: inputs are on different devices": lambda: x + y,
        r"edge_softmax_spmm: `scores` is on cpu but `x` is on cuda:0":
            lambda: ops.edge_softmax_spmm(a, y),
        r"edge_sum: `adj` is on cpu but `dst_term` is on cuda:0":
            lambda: ops.edge_sum(a, x, y),
        r"with_values: `values` is on cuda:0 but the structure is on cpu":
            lambda: a.with_values(_elsewhere(a.values)),
        r"add_: `other` is on cuda:0 but the tensor is on cpu": lambda: ops.add_(sg.zeros(5, 4), y),
        r"mul_: `other` is on cuda:0 but the tensor is on cpu": lambda: ops.mul_(sg.zeros(5, 4), y),
    }
    for pattern, call in cases.items():
        with pytest.raises(ValueError, match=pattern):
            call()


# ---- (e) importing sparsegraph never imports cupy ---------------------------------------------
def test_importing_sparsegraph_does_not_import_cupy():
    code = ("import sys, sparsegraph, sparsegraph.ops, sparsegraph.gnn, sparsegraph.datasets, "
            "sparsegraph.cli; sparsegraph.ops.spmm(sparsegraph.sparse_coo([[0], [0]], [1.0], "
            "(1, 1)), sparsegraph.ones(1, 1)); print('cupy' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"


# ---- the CLI ----------------------------------------------------------------------------------
@pytest.mark.skipif(HAVE_GPU, reason="a GPU is present: `train --device cuda` would train")
def test_train_on_cuda_without_a_gpu_fails_with_one_line(capsys):
    from sparsegraph.cli import main

    assert main(["train", "--device", "cuda", "--epochs", "1", "--runs", "1"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert err.startswith("sparsegraph train: --device cuda:") and "not usable" in err


def test_train_rejects_an_unknown_device(capsys):
    from sparsegraph.cli import main

    assert main(["train", "--device", "gpu", "--epochs", "1", "--runs", "1"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == ("sparsegraph train: --device: expected 'cpu', 'cuda' or 'cuda:N' "
                   "(got 'gpu')")


# ---- (c) on a GPU: every "cuda" kernel against the generic kernel -----------------------------
def _gpu_cases(dt):
    rng = np.random.default_rng(0)
    n, m, f, h = 300, 200, 24, 4
    indptr, indices = random_csr(n, m, rng)
    nnz = indices.shape[0]
    v, vh = rng.standard_normal(nnz).astype(dt), rng.standard_normal((nnz, h)).astype(dt)
    x, xh = rng.standard_normal((m, f)).astype(dt), rng.standard_normal((m, h, f)).astype(dt)
    g, gh = rng.standard_normal((n, f)).astype(dt), rng.standard_normal((n, h, f)).astype(dt)
    index = rng.integers(0, n, nnz).astype(np.int32)
    row = np.repeat(np.arange(n, dtype=np.int32), np.diff(indptr))
    src = np.round(rng.standard_normal((nnz, 3)), 1).astype(dt)
    b_indptr, b_indices = random_csr(m, n, rng)
    bv = rng.standard_normal(b_indices.shape[0]).astype(dt)
    from sparsegraph.ops.sparse_products import _spgemm_symbolic

    c_indptr, c_indices = _spgemm_symbolic(indptr, indices, b_indptr, b_indices, n)
    return {
        "spmm": [(indptr, indices, v, x, n), (indptr, indices, vh, xh, n)],
        "sddmm": [(indptr, indices, g, x), (indptr, indices, gh, xh)],
        "csr_softmax": [(indptr, v), (indptr, vh)],
        "csr_log_softmax": [(indptr, vh)],
        "csr_softmax_backward": [(indptr, v, v[::-1].copy())],
        "csr_log_softmax_backward": [(indptr, vh, vh[::-1].copy())],
        "csr_softmax_spmm": [(indptr, indices, v, x), (indptr, indices, vh, xh)],
        # rounded: ties in max / min exercise the arg rule
        "segment_reduce": [(indptr, src, r) for r in ("sum", "mean", "max", "min")],
        "scatter_reduce": [(index, src, n, r) for r in ("sum", "mean", "max", "min")],
        "csr_transpose": [(indptr, indices, m)],
        "coo_to_csr": [(row, indices, n)],
        "spgemm_symbolic": [(indptr, indices, b_indptr, b_indices, n)],
        "spgemm": [(indptr, indices, v, b_indptr, b_indices, bv, c_indptr, c_indices, n)],
    }


def _to(a, where):
    if isinstance(a, tuple | list):
        return type(a)(_to(v, where) for v in a)
    if a is None or not hasattr(a, "dtype"):
        return a
    return sg.backend.to_device(a, where)


@pytest.mark.gpu
@needs_gpu
@pytest.mark.parametrize("dt", [np.float32, np.float64])
def test_gpu_every_cuda_kernel_matches_the_cpu_generic_kernel(dt):
    for op, cases in _gpu_cases(dt).items():
        for args in cases:
            ref = kernels.kernels(op, "cpu", "csr")[-1].fn(*args)  # the generic kernel
            for k in kernels.kernels(op, "cuda", "csr"):
                got = _to(k.fn(*_to(args, "cuda:0")), "cpu")
                again = _to(k.fn(*_to(args, "cuda:0")), "cpu")
                for r, a, b in zip(*(t if isinstance(t, tuple) else (t,)
                                     for t in (ref, got, again)), strict=True):
                    if r is None:
                        assert a is None
                        continue
                    np.testing.assert_allclose(a, r, rtol=2e-4 if dt == np.float32 else 1e-10,
                                               atol=1e-5, err_msg=f"{op}/{k.name}")
                    if k.name == "cupy":  # deterministic: bitwise the same on a second run
                        np.testing.assert_array_equal(a, b, err_msg=f"{op}/{k.name} varies")


@pytest.mark.gpu
@needs_gpu
def test_gpu_gcn_and_gat_train_step_matches_cpu():
    from sparsegraph.gnn import models
    from sparsegraph.testing import assert_close, random_graph

    edge_index = random_graph(60, 300, seed=1)
    adj = sg.from_edge_index(edge_index, 60)
    x = sg.randn(60, 12)
    for make in (lambda: models.GCN(12, 16, 2, 3), lambda: models.GAT(12, 4, 2, 3, heads=2)):
        sg.manual_seed(0)
        cpu = make()
        sg.manual_seed(0)
        gpu = make().to("cuda")
        cpu.eval(), gpu.eval()
        out_cpu, out_gpu = cpu(x, adj), gpu(x.to("cuda"), adj.to("cuda"))
        assert out_gpu.device == "cuda:0"
        assert_close(out_gpu.to("cpu"), out_cpu, rtol=1e-4, atol=1e-5)
        out_cpu.sum().backward()
        out_gpu.sum().backward()
        for (name, p), q in zip(cpu.named_parameters(), gpu.parameters(), strict=True):
            assert_close(q.grad.to("cpu"), p.grad, rtol=1e-4, atol=1e-5, msg=name)


@pytest.mark.gpu
@needs_gpu
def test_gpu_round_trips_and_structure_transforms_stay_on_device():
    a = random_sparse(30, 20, 0.2, dtype="float32", layout="coo", seed=2)
    g = a.to("cuda")
    assert g.device == "cuda:0" and g.structure.device == "cuda:0"
    csr = g.to_csr()  # coo_to_csr on the GPU
    t = csr.T  # csr_transpose on the GPU
    assert t.structure.device == "cuda:0"
    np.testing.assert_allclose(t.to("cpu").to_dense().numpy(), a.to_dense().numpy().T)


@pytest.mark.gpu
@needs_gpu
def test_gpu_copy_across_devices_sends_the_gradient_back():
    src = sg.randn(3, 2, requires_grad=True)
    out = sg.zeros(3, 2, device="cuda").clone()  # a non-leaf: in-place is allowed
    ops.copy_(out, src * 2)
    assert out.device == "cuda:0"
    (out * 3).sum().backward()
    assert src.grad.device == "cpu"
    np.testing.assert_allclose(src.grad.numpy(), np.full((3, 2), 6.0))


@pytest.mark.gpu
@needs_gpu
def test_gpu_bench_spmm_models_and_sparse_vs_dense_run_on_the_device(tmp_path, capsys):
    """`sparsegraph bench ... --device cuda`, tiny: the cuda kernels, synchronised timings and
    the memory pool's numbers."""
    import json

    from sparsegraph.cli import main

    out = tmp_path / "spmm"
    assert main(["bench", "spmm", "--device", "cuda", "--nodes", "1000", "--edges", "5000",
                 "--features", "8", "--repeat", "1", "--copy-gb", "0.01", "--quiet",
                 "--out", str(out)]) == 0
    r = json.loads((out / "results.json").read_text())
    assert r["config"]["device"] == "cuda:0" and r["machine"]["gpu"]
    assert [row["kernel"] for row in r["rows"]] == [
        k.name for k in kernels.kernels("spmm", "cuda", "csr")]
    assert r["copy_bandwidth_gb_s"] > 0
    for row in r["rows"]:
        assert row["forward_ms"] > 0 and row["grad_x_ms"] > 0 and row["grad_values_ms"] > 0
        assert row["forward_copy_fraction"] > 0
    assert "Device cuda:0 (" in (out / "results.md").read_text()

    out = tmp_path / "models"
    assert main(["bench", "models", "--device", "cuda", "--models", "gcn", "--datasets",
                 "karate", "--epochs", "1", "--quiet", "--out", str(out)]) == 0
    (row,) = json.loads((out / "results.json").read_text())["rows"]
    assert row["device"] == "cuda:0" and row["nodes"] == 34
    assert row["epoch_ms_median"] > 0 and row["peak_gpu_mb"] > 0 and row["peak_rss_mb"] > 0
    assert "| peak GPU |" in (out / "results.md").read_text()

    out = tmp_path / "sparse-vs-dense"
    assert main(["bench", "sparse-vs-dense", "--device", "cuda", "--nodes", "300",
                 "--density-sweep", "0.01", "0.3", "--features", "4", "--ops", "spmm",
                 "--repeat", "1", "--no-plots", "--quiet", "--out", str(out)]) == 0
    r = json.loads((out / "results.json").read_text())
    assert r["config"]["device"] == "cuda:0"
    for p in r["points"]:
        assert p["sparse_s"] > 0 and p["dense_s"] > 0 and p["dense_memory_bytes"] > 0
    assert r["cost_table"] is None or r["cost_table"]["device"] == "cuda"
