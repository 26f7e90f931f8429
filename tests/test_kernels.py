"""The kernel registry: priorities, forcing (context manager and environment), clear errors."""

import subprocess
import sys

import pytest

import sparsegraph as sg
from sparsegraph import kernels


@pytest.fixture
def toy_op():
    op = "toy_test_op"
    kernels.register(op, "cpu", name="generic")(lambda x: ("generic", x))
    kernels.register(op, "cpu", name="fast", priority=10)(lambda x: ("fast", x))
    yield op
    kernels._TABLE.pop((op, "cpu", None), None)
    kernels._CHOSEN.clear()


def test_best_priority_wins_and_can_be_forced(toy_op):
    assert kernels.dispatch(toy_op, "cpu")(1) == ("fast", 1)
    with kernels.use("generic"):
        assert kernels.dispatch(toy_op, "cpu")(1)[0] == "generic"
        assert kernels.chosen(toy_op) == "generic"
    with kernels.use("numpy"):  # alias of the generic kernel
        assert kernels.dispatch(toy_op, "cpu")(1)[0] == "generic"
    with kernels.use(**{toy_op: "generic"}):
        assert kernels.dispatch(toy_op, "cpu")(1)[0] == "generic"
    assert kernels.dispatch(toy_op, "cpu")(1)[0] == "fast"
    with kernels.use("scipy"):  # a preference, not a requirement: toy_op has no scipy kernel
        assert kernels.dispatch(toy_op, "cpu")(1)[0] == "fast"


def test_forcing_a_missing_kernel_for_one_op_is_an_error(toy_op):
    with pytest.raises(ValueError, match=r"kernels.use: op 'toy_test_op' has no kernel 'numba' "
                                         r"\(it has: fast, generic\)"):
        kernels.use(**{toy_op: "numba"}).__enter__()
    kernels.register(toy_op, "cuda", name="numba")(lambda x: x)
    try:  # it exists, but not on the device asked for: an error at dispatch
        with kernels.use(**{toy_op: "numba"}), pytest.raises(NotImplementedError,
                                                              match=r"'numba' was forced"):
            kernels.dispatch(toy_op, "cpu")
    finally:
        kernels._TABLE.pop((toy_op, "cuda", None), None)


@pytest.mark.parametrize("names, per_op, match", [
    (("numbaa",), {}, r"no kernel is named 'numbaa' \(registered kernel names: .*generic"),
    ((), {"spmmm": "numba"}, r"no op is named 'spmmm' \(did you mean 'spmm'"),
], ids=["kernel-name", "op-name"])
def test_forcing_unknown_names_is_an_error(names, per_op, match):
    with pytest.raises(ValueError, match=match):
        kernels.use(*names, **per_op).__enter__()
    assert kernels._forced_all == () and kernels._forced_op == {}


def test_register_rejects_unknown_devices_and_non_callables():
    with pytest.raises(ValueError, match=r"register: expected device types from \('cpu', "
                                         r"'cuda'\) for op 'toy2' \(got 'gpu'\)"):
        kernels.register("toy2", "gpu")
    with pytest.raises(TypeError, match="register: expected a callable kernel for op 'toy2'"):
        kernels.register("toy2", "cpu")(3)
    assert ("toy2", "cpu", None) not in kernels._TABLE


def test_unknown_op_or_device_lists_what_exists(toy_op):
    with pytest.raises(NotImplementedError, match=r"no kernel for device 'cuda'.*available: cpu"):
        kernels.dispatch(toy_op, "cuda")


def test_duplicate_registration_is_refused(toy_op):
    with pytest.raises(ValueError, match="already registered"):
        kernels.register(toy_op, "cpu", name="fast")(lambda x: x)


def test_listen_sees_every_dispatch(toy_op):
    seen = []
    with kernels.listen(lambda op, device, fmt, fn: seen.append(op)):
        sg.ones(2) + sg.ones(2)
    assert "add" in seen


def test_environment_variable_forces_kernels():
    code = ("import sparsegraph as sg, sparsegraph.ops; "
            "print(sg.kernels.chosen('spmm', 'cpu', 'csr'))")
    for spec, expected in (("spmm=generic", "generic"), ("scipy", "scipy"), ("", "numba")):
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             env={"SPARSEGRAPH_KERNELS": spec, "PATH": "/usr/bin:/bin"})
        assert out.returncode == 0, out.stderr
        assert out.stdout.strip() == expected


def test_environment_variable_with_an_unknown_kernel_is_an_error():
    code = "import sparsegraph as sg; sg.ones(2) + 1"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={"SPARSEGRAPH_KERNELS": "bogus", "PATH": "/usr/bin:/bin"})
    assert out.returncode != 0
    assert "SPARSEGRAPH_KERNELS: no kernel is named 'bogus'" in out.stderr


@pytest.mark.parametrize("spec, message", [
    ("spmmm=scipy", "SPARSEGRAPH_KERNELS: no op is named 'spmmm' (did you mean 'spmm'"),
    ("spmm=scipy=x", "expected entries 'kernel' or 'op=kernel'"),
])
def test_environment_variable_with_an_unknown_op_or_bad_syntax_is_an_error(spec, message):
    code = "import sparsegraph as sg; sg.ones(2) + 1"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={"SPARSEGRAPH_KERNELS": spec, "PATH": "/usr/bin:/bin"})
    assert out.returncode != 0
    assert message in out.stderr


def test_environment_variable_may_name_an_op_a_later_package_registers():
    code = ("import sparsegraph as sg; sg.ones(2) + 1; "
            "print(sg.kernels.chosen('sample_neighbors', 'cpu', 'csr'))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={"SPARSEGRAPH_KERNELS": "sample_neighbors=generic",
                              "PATH": "/usr/bin:/bin"})
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "generic"


def test_every_op_has_a_generic_kernel():
    import sparsegraph.ops  # noqa: F401

    missing = [op for op, ks in kernels.table().items()
               if ks[0].device == "cpu" and not any(k.name == "generic" for k in ks)]
    assert not missing, f"ops without a generic kernel: {missing}"
