"""Views on emulated "cuda" (tests/cupy_emulation.py) as on the CPU: einsum diagonals (read
through ``cupy.lib.stride_tricks.as_strided``) with their gradients, in-place writes through
views (whose backward scatters into the base with ``as_strided``), ``retain_grad`` after such a
write, and the view tracking itself, which reads the arrays' ``base`` (CuPy's views name their
owning array, as numpy's do; the emulation keeps that for its functions' results too)."""

import numpy as np
import pytest

import sparsegraph as sg
from tests.cupy_emulation import DeviceArray, host


def _x(shape, device, seed=0):
    x = sg.tensor(np.random.default_rng(seed).standard_normal(shape), dtype="float64")
    return x.to(device).requires_grad_(True)


def _same_on_both(run):
    """``run(device)`` -> a list of Tensors: equal on "cpu" and "cuda", each on its device."""
    want, got = run("cpu"), run("cuda")
    assert len(want) == len(got)
    for w, g in zip(want, got, strict=True):
        assert isinstance(g.array, DeviceArray), "a result left the device"
        assert g.dtype == w.dtype and g.shape == w.shape
        np.testing.assert_allclose(host(g), w.numpy(), rtol=1e-12, atol=1e-14)


# ---- einsum diagonals ---------------------------------------------------------------------
EINSUMS = [("ii->", [(3, 3)]), ("ii->i", [(3, 3)]), ("ii", [(3, 3)]), ("bii->bi", [(2, 3, 3)]),
           ("bii->b", [(2, 3, 3)]), ("iii->i", [(3, 3, 3)]), ("...ii->...i", [(2, 3, 3)]),
           ("ii,ij->j", [(3, 3), (3, 4)]), ("ijj,ik->ik", [(2, 3, 3), (2, 4)]),
           ("bij,bjj->bi", [(2, 3, 3), (2, 3, 3)])]


@pytest.mark.parametrize("spec, shapes", EINSUMS)
def test_einsum_diagonals_and_their_gradients_match_the_cpu(spec, shapes, emulated_cuda):
    def run(device):
        xs = [_x(s, device, seed=i) for i, s in enumerate(shapes)]
        out = sg.einsum(spec, *xs)
        g = sg.tensor(np.random.default_rng(9).standard_normal(out.shape)).to(out.dtype)
        out.backward(g.to(device))
        return [out.detach()] + [x.grad for x in xs]

    _same_on_both(run)


@pytest.mark.parametrize("spec, shape", [("ii->i", (3, 3)), ("bii->bi", (2, 3, 3))])
def test_an_in_place_change_of_an_einsum_diagonal_matches_the_cpu(spec, shape, emulated_cuda):
    """The diagonal is a copy on both devices: h is unchanged, the gradient is 2x + d's."""
    def run(device):
        x = _x(shape, device)
        h = x * 1.0
        d = sg.einsum(spec, h)
        d.mul_(10.0)
        ((h * h).sum() + (d * d).sum()).backward()
        return [h.detach(), d.detach(), x.grad]

    _same_on_both(run)


# ---- in-place writes through views --------------------------------------------------------
VIEWS = {
    "row": lambda h: h[1],
    "strided": lambda h: h[:, ::2],
    "block": lambda h: h[1:, :2],
    "reversed": lambda h: h[::-1],
    "transpose": lambda h: h.t(),
    "permute": lambda h: h.permute(1, 0),
    "reshape": lambda h: h.reshape(-1)[2:7],
    "view of a view": lambda h: h[1:][:, 1],
    "unsqueeze": lambda h: h.unsqueeze(0)[0, 2],
    "einsum transpose": lambda h: sg.einsum("ij->ji", h),
}


def _write(kind, v, w):
    """One in-place write into view ``v`` (``w``: a tensor that requires grad)."""
    if kind == "mul_":
        v.mul_(2.0)
    elif kind == "add_":
        v.add_(w[:1].sum() * 0.5)
    elif kind == "clamp_":
        v.clamp_(min=-0.2)
    elif kind == "relu inplace":
        sg.ops.relu(v, inplace=True)
    elif kind == "+=":
        v += w.sum()
    elif kind == "setitem":
        v[...] = w.sum() * 3.0
    elif kind == "setitem index":
        v[0] = w.sum()


WRITES = ["mul_", "add_", "clamp_", "relu inplace", "+=", "setitem", "setitem index"]


@pytest.mark.parametrize("write", WRITES)
@pytest.mark.parametrize("view", sorted(VIEWS))
def test_in_place_writes_through_views_match_the_cpu(view, write, emulated_cuda):
    def run(device):
        x, w = _x((4, 5), device), _x((3,), device, seed=1)
        h = x * 1.0
        v = VIEWS[view](h)
        _write(write, v, w)
        loss = (h * h).sum() + (h.sum(0) * sg.arange(5, dtype="float64").to(device)).sum()
        loss.backward()
        return [h.detach(), loss.detach(), x.grad, w.grad if w.grad is not None else w.detach() * 0]

    _same_on_both(run)


@pytest.mark.parametrize("view", ["row", "strided", "transpose", "einsum transpose"])
def test_retain_grad_after_a_write_through_a_view_matches_the_cpu(view, emulated_cuda):
    def run(device):
        x = _x((4, 5), device)
        h = x * 1.0
        h.retain_grad()
        v = VIEWS[view](h)
        v.retain_grad()
        v.mul_(3.0)
        (h * h * sg.arange(20, dtype="float64").to(device).reshape(4, 5)).sum().backward()
        return [h.grad, v.grad, x.grad]

    _same_on_both(run)


# ---- view tracking: the emulation keeps numpy's / CuPy's `base` ---------------------------
TRACKED = {**VIEWS,
           "expand": lambda h: h[0].expand(3, 5),
           "flip": lambda h: sg.flip(h, 0),
           "squeeze": lambda h: h.unsqueeze(1).squeeze(1),
           "split": lambda h: h.split(2)[1],
           "einsum diagonal": lambda h: sg.einsum("ii->i", h[:, :4])}


@pytest.mark.parametrize("name", sorted(TRACKED))
def test_an_op_output_is_a_tracked_view_on_cuda_exactly_when_on_the_cpu(name, emulated_cuda):
    tracked = {}
    for device in ("cpu", "cuda"):
        h = _x((4, 5), device) * 1.0
        t = TRACKED[name](h)
        tracked[device] = (t._view is not None, t._version is h._version)
    assert tracked["cuda"] == tracked["cpu"]


def test_the_audits_transposing_einsum_write_matches_the_cpu(emulated_cuda):
    """einsum('ij->ji', h) is a view of h on both devices (it was untracked on the emulation,
    whose function results lost their owner), so the write reaches h and the gradient."""
    def run(device):
        x = sg.tensor(np.arange(4.0).reshape(2, 2)).to(device).requires_grad_(True)
        h = x * 1
        t = sg.einsum("ij->ji", h)
        assert t._view is not None
        t.mul_(2)
        (h * h).sum().backward()
        return [h.detach(), x.grad]

    _same_on_both(run)
    x = sg.tensor(np.arange(4.0).reshape(2, 2)).to("cuda").requires_grad_(True)
    h = x * 1
    sg.einsum("ij->ji", h).mul_(2)
    (h * h).sum().backward()
    np.testing.assert_array_equal(host(x.grad), 8.0 * np.arange(4.0).reshape(2, 2))


def test_the_emulations_function_results_keep_numpys_base(emulated_cuda):
    cp = sg.backend.cupy_module()
    a = cp.asarray(np.arange(12.0).reshape(3, 4))
    owner = a.base if isinstance(a.base, DeviceArray) else a
    host_a = np.arange(12.0).reshape(3, 4)
    for fn in (lambda m, y: m.transpose(y), lambda m, y: m.einsum("ij->ji", y),
               lambda m, y: m.broadcast_to(y[0], (3, 4)), lambda m, y: m.flip(y, 0),
               lambda m, y: m.moveaxis(y, 0, 1), lambda m, y: m.reshape(y, (4, 3)),
               lambda m, y: m.squeeze(y[None])):
        r = fn(cp, a)
        assert isinstance(r, DeviceArray) and r.base is owner  # numpy: the owner as well
        assert fn(np, host_a).base is (host_a.base if host_a.base is not None else host_a)
        np.testing.assert_array_equal(r.get(), fn(np, host_a))
        assert np.shares_memory(r.view(np.ndarray), a.view(np.ndarray))
    c = cp.ascontiguousarray(a)
    assert c is a  # CuPy returns a contiguous argument itself
    x = np.ones(3)
    d = cp.asarray(x)
    d[0] = 5.0  # a transfer copies: the host array is not the device one
    assert x[0] == 1.0
    s = cp.lib.stride_tricks.as_strided(a, (3,), (a.strides[0] + a.strides[1],))
    np.testing.assert_array_equal(s.get(), [0.0, 5.0, 10.0])
    with pytest.raises(TypeError, match="device array"):
        cp.lib.stride_tricks.as_strided(host_a, (3,), (40,))
