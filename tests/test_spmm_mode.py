"""`spmm_mode` is local to a thread (a ContextVar, as torch.no_grad is thread-local);
`set_spmm_mode` sets the process default; a bad ``$SPARSEGRAPH_SPMM_MODE`` is read lazily and
named where a product needs the mode (audit_large3 #3, #5)."""

import os
import subprocess
import sys
import threading

import numpy as np
import pytest

import sparsegraph as sg
from sparsegraph.ops import cost_model, get_spmm_mode, set_spmm_mode, spmm_mode


@pytest.fixture(autouse=True)
def _restore_default():
    previous = set_spmm_mode("auto")
    yield
    set_spmm_mode(previous)


def run_threads(*targets):
    threads = [threading.Thread(target=t) for t in targets]
    for th in threads:
        th.start()
    for th in threads:
        th.join(10)


def test_a_block_in_one_thread_neither_leaks_nor_is_restored_over_another():
    # audit_large3 r03: interleaved exits left the process forced to "dense"
    entered, t2_entered, t1_left = threading.Event(), threading.Event(), threading.Event()
    seen = {}

    def t1():
        with spmm_mode("dense"):
            entered.set()
            t2_entered.wait(10)
            seen["t1 inside"] = get_spmm_mode()
        t1_left.set()

    def t2():
        entered.wait(10)
        seen["t2 before"] = get_spmm_mode()
        with spmm_mode("sparse"):
            t2_entered.set()
            t1_left.wait(10)
            seen["t2 inside"] = get_spmm_mode()
        seen["t2 after"] = get_spmm_mode()

    run_threads(t1, t2)
    assert seen == {"t1 inside": "dense", "t2 before": "auto", "t2 inside": "sparse",
                    "t2 after": "auto"}
    assert get_spmm_mode() == "auto"


def test_a_worker_thread_runs_its_products_under_its_own_mode(monkeypatch):
    rng = np.random.default_rng(0)
    a = sg.sparse_csr(np.array([0, 2, 3]), np.array([0, 1, 1]), np.ones(3), (2, 2))
    x = sg.tensor(rng.standard_normal((2, 3)))
    used = {}
    from sparsegraph.ops import sparse_conversion

    real = sparse_conversion.sparse_to_dense

    def watch(t):  # the dense path densifies: record which thread did
        used.setdefault(threading.current_thread().name, []).append("dense")
        return real(t)

    monkeypatch.setattr(sparse_conversion, "sparse_to_dense", watch)
    inside, done = threading.Event(), threading.Event()

    def worker():
        inside.wait(10)
        a @ x  # auto: the built-in table keeps this tiny product sparse
        done.set()

    th = threading.Thread(target=worker, name="worker")
    th.start()
    with spmm_mode("dense"):
        inside.set()
        done.wait(10)
        out = a @ x
    th.join(10)
    assert used == {"MainThread": ["dense"]}
    np.testing.assert_allclose(out.numpy(), a.to_dense().numpy() @ x.numpy())


def test_set_spmm_mode_is_the_process_default_and_a_block_takes_precedence():
    assert set_spmm_mode("dense") == "auto"
    seen = []
    run_threads(lambda: seen.append(get_spmm_mode()))
    assert seen == ["dense"]  # every thread
    with spmm_mode("sparse"):
        assert set_spmm_mode("auto") == "dense"
        assert get_spmm_mode() == "sparse"  # the block still holds in this thread
        run_threads(lambda: seen.append(get_spmm_mode()))
    assert seen == ["dense", "auto"] and get_spmm_mode() == "auto"
    with pytest.raises(ValueError, match=r"spmm_mode: expected `mode` in .* \(got 'Dense'\)"):
        set_spmm_mode("Dense")


def test_a_block_works_as_a_decorator_and_is_reset_after_an_exception():
    @spmm_mode("dense")
    def inner():
        return get_spmm_mode()

    assert inner() == "dense" and get_spmm_mode() == "auto"
    with pytest.raises(KeyError), spmm_mode("sparse"):
        raise KeyError
    assert get_spmm_mode() == "auto"


def test_the_environment_variable_is_read_when_first_needed(monkeypatch):
    monkeypatch.setenv("SPARSEGRAPH_SPMM_MODE", "dense")
    monkeypatch.setattr(cost_model, "_default_mode", None)
    assert get_spmm_mode() == "dense"
    monkeypatch.setenv("SPARSEGRAPH_SPMM_MODE", "Dense")
    assert get_spmm_mode() == "dense"  # read once
    cost_model._default_mode = None
    with spmm_mode("sparse"):  # a block needs no default
        assert get_spmm_mode() == "sparse"
    with pytest.raises(ValueError, match=r"SPARSEGRAPH_SPMM_MODE: expected one of \('auto', "
                                         r"'sparse', 'dense'\) \(got 'Dense'\)"):
        get_spmm_mode()


def test_set_spmm_mode_overrides_a_bad_variable_and_reports_it_unvalidated(monkeypatch):
    # review A3: the escape hatch must not raise the variable's own error
    monkeypatch.setenv("SPARSEGRAPH_SPMM_MODE", "bogus")
    monkeypatch.setattr(cost_model, "_default_mode", None)
    assert set_spmm_mode("sparse") == "bogus"
    assert get_spmm_mode() == "sparse"
    monkeypatch.delenv("SPARSEGRAPH_SPMM_MODE")
    cost_model._default_mode = None
    assert set_spmm_mode("dense") == "auto"
    assert set_spmm_mode("auto") == "dense"


def test_a_bad_variable_breaks_neither_import_nor_help_nor_info_only_products():
    script = """
import sys
import numpy as np
import sparsegraph as sg
from sparsegraph.cli import main
assert main(["info"]) == 0
try:
    main(["--help"])
except SystemExit as exc:
    assert exc.code == 0
x = sg.ones(2, 2) @ sg.ones(2, 2)   # dense products never need the mode
a = sg.sparse_csr(np.array([0, 1, 2]), np.array([0, 1]), np.ones(2, np.float32), (2, 2))
try:
    a @ sg.ones(2, 3)
except ValueError as exc:
    print("ERROR:", exc)
"""
    env = {**os.environ, "SPARSEGRAPH_SPMM_MODE": "Dense"}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "usage: sparsegraph" in done.stdout
    assert done.stdout.strip().splitlines()[-1] == (
        "ERROR: SPARSEGRAPH_SPMM_MODE: expected one of ('auto', 'sparse', 'dense') (got "
        "'Dense')")
