"""Module: registration and naming, traversal, modes, state dicts, `to`, repr."""

import copy
from collections import OrderedDict

import numpy as np
import pytest

import sparsegraph as sg
from sparsegraph import nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.scale = nn.Parameter(sg.ones(1))
        self.body = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Dropout(0.5))
        self.norm = nn.BatchNorm1d(8)
        self.head = nn.Linear(8, 3)
        self.register_buffer("step", sg.zeros(1))
        self.register_buffer("cache", sg.zeros(2), persistent=False)
        self.note = "plain attribute"

    def forward(self, x):
        return self.head(self.norm(self.body(x))) * self.scale


def test_attributes_register_by_kind():
    net = Net()
    assert [n for n, _ in net.named_parameters()] == [
        "scale", "body.0.weight", "body.0.bias", "norm.weight", "norm.bias", "head.weight",
        "head.bias"]
    assert [n for n, _ in net.named_buffers()] == [
        "step", "cache", "norm.running_mean", "norm.running_var", "norm.num_batches_tracked"]
    assert [n for n, _ in net.named_children()] == ["body", "norm", "head"]
    assert [n for n, _ in net.named_modules()] == [
        "", "body", "body.0", "body.1", "body.2", "norm", "head"]
    assert list(net.parameters())[0] is net.scale
    assert net.note == "plain attribute" and "note" not in net._parameters
    assert net.get_submodule("body.0") is net.body[0]
    assert list(net.named_parameters(recurse=False)) == [("scale", net.scale)]
    assert [n for n, _ in net.body.named_parameters(prefix="body")][:1] == ["body.0.weight"]
    assert {"scale", "body", "step"} <= set(dir(net))


def test_shared_parameters_and_modules_are_listed_once():
    lin = nn.Linear(3, 3)
    net = nn.Sequential(lin, nn.ReLU(), lin)
    assert len(list(net.parameters())) == 2
    assert [n for n, _ in net.named_modules()] == ["", "0", "1"]
    # state_dict keeps every name, as torch does (each can be loaded back)
    assert list(net.state_dict()) == ["0.weight", "0.bias", "2.weight", "2.bias"]
    tied = nn.Module()
    tied.a = nn.Linear(2, 2)
    tied.b = nn.Linear(2, 2)
    tied.b.weight = tied.a.weight
    assert [n for n, _ in tied.named_parameters()] == ["a.weight", "a.bias", "b.bias"]


def test_assignment_rules():
    net = Net()
    with pytest.raises(TypeError, match="cannot assign Tensor as parameter 'scale'"):
        net.scale = sg.ones(1)  # would silently un-register the parameter
    with pytest.raises(TypeError, match="as child module 'head'"):
        net.head = "x"
    with pytest.raises(TypeError, match="as buffer 'step'"):
        net.step = np.zeros(1)
    net.step = sg.ones(1)  # a Tensor replaces the buffer
    assert net._buffers["step"] is net.step
    net.scale = nn.Parameter(sg.full((1,), 2.0))  # replacing keeps the registration order
    assert next(iter(net.named_parameters()))[0] == "scale" and net.scale.item() == 2.0
    net.scale = None  # an absent optional parameter
    assert "scale" not in dict(net.named_parameters()) and net.scale is None
    net.head = nn.Identity()
    assert "head.weight" not in net.state_dict()
    del net.norm
    assert "norm" not in dict(net.named_children())
    with pytest.raises(AttributeError, match="has no attribute 'norm'"):
        _ = net.norm

    class Early(nn.Module):
        def __init__(self):
            self.w = nn.Parameter(sg.ones(1))

    with pytest.raises(AttributeError, match=r"before Module.__init__\(\)"):
        Early()
    m = nn.Module()
    with pytest.raises(KeyError, match="without '.'"):
        m.register_buffer("a.b", sg.zeros(1))
    with pytest.raises(TypeError, match="expected a Parameter"):
        m.register_parameter("w", sg.zeros(1))
    m.x = 1
    with pytest.raises(KeyError, match="attribute 'x' already exists"):
        m.register_buffer("x", sg.zeros(1))


def test_parameter_shares_memory_and_reprs():
    t = sg.zeros(2)
    p = nn.Parameter(t)
    assert p.requires_grad and p.is_leaf and isinstance(p, sg.Tensor)
    p.array[0] = 5.0
    assert t.numpy()[0] == 5.0
    assert repr(p) == "Parameter containing:\ntensor([5., 0.], requires_grad=True)"
    assert not nn.Parameter(sg.zeros(2), requires_grad=False).requires_grad
    assert nn.Parameter([1.0, 2.0]).dtype == np.float32
    with pytest.raises(TypeError, match="floating-point"):
        nn.Parameter(sg.tensor([1, 2]))
    assert isinstance(p.detach(), sg.Tensor) and not isinstance(p.detach(), nn.Parameter)


def test_repr_tree_matches_torch_layout():
    net = nn.Sequential(nn.Linear(4, 2), nn.ReLU())
    assert repr(net) == ("Sequential(\n  (0): Linear(in_features=4, out_features=2, bias=True)"
                         "\n  (1): ReLU()\n)")

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.inner = nn.Sequential(nn.Tanh())

        def extra_repr(self):
            return "k=1"

    assert repr(Block()) == ("Block(\n  k=1\n  (inner): Sequential(\n    (0): Tanh()\n  )\n)")
    assert repr(nn.Module()) == "Module()"


def test_train_eval_propagate_through_overridden_train():
    calls = []

    class Custom(nn.Module):
        def train(self, mode=True):
            calls.append(mode)
            return super().train(mode)

    net = nn.Sequential(nn.Linear(2, 2), nn.Sequential(Custom()))
    assert net.eval() is net
    assert not any(m.training for m in net.modules()) and calls == [False]
    net.train()
    assert all(m.training for m in net.modules()) and calls == [False, True]
    with pytest.raises(ValueError, match="bool"):
        net.train("yes")


def test_zero_grad_requires_grad_apply():
    net = Net()
    net(sg.randn(5, 4)).sum().backward()
    assert all(p.grad is not None for p in net.parameters())
    net.zero_grad(set_to_none=False)
    assert all(p.grad is not None and not p.grad.numpy().any() for p in net.parameters())
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())
    net.requires_grad_(False)
    assert not any(p.requires_grad for p in net.parameters())
    seen = []
    net.apply(lambda m: seen.append(type(m).__name__))
    assert seen == ["Linear", "ReLU", "Dropout", "Sequential", "BatchNorm1d", "Linear", "Net"]


def test_state_dict_contents_and_load_round_trip(tmp_path):
    sg.manual_seed(0)
    net = Net()
    state = net.state_dict()
    assert isinstance(state, OrderedDict)
    assert list(state)[:3] == ["scale", "step", "body.0.weight"]
    assert "cache" not in state  # non-persistent buffer
    assert not state["body.0.weight"].requires_grad
    assert np.shares_memory(state["head.weight"].array, net.head.weight.array)
    x = sg.randn(6, 4)
    net(x)  # updates the running statistics
    net.eval()
    out = net(x).detach().numpy()
    sg.save(net.state_dict(), tmp_path / "net.npz")
    sg.manual_seed(1)
    other = Net().eval()
    assert not np.allclose(other(x).detach().numpy(), out)
    keys = other.load_state_dict(sg.load(tmp_path / "net.npz"))
    assert keys.missing_keys == [] and keys.unexpected_keys == []
    np.testing.assert_array_equal(other(x).detach().numpy(), out)
    assert int(other.norm.num_batches_tracked.item()) == 1


def test_load_state_dict_strict_keys_and_shapes():
    net = Net()
    state = net.state_dict()
    del state["head.bias"]
    state["extra"] = sg.zeros(1)
    with pytest.raises(RuntimeError, match=r"state_dict for Net:\n\tMissing key\(s\) in "
                                           r"state_dict: 'head.bias'\n\tUnexpected key\(s\) "
                                           r"in state_dict: 'extra'$"):
        net.load_state_dict(state)
    before = net.head.weight.detach().numpy().copy()
    state["head.weight"] = sg.ones(3, 8)
    missing, unexpected = net.load_state_dict(state, strict=False)
    assert (missing, unexpected) == (["head.bias"], ["extra"])
    np.testing.assert_array_equal(net.head.weight.detach().numpy(), 1.0)
    assert not np.array_equal(before, 1.0)
    bad = net.state_dict()
    bad["head.weight"] = sg.zeros(2, 2)
    bad["scale"] = sg.full((1,), 7.0)
    version = net.scale._version[0]
    with pytest.raises(RuntimeError, match=r"size mismatch for 'head.weight': copying a value "
                                           r"of shape \(2, 2\) from the state_dict, the shape "
                                           r"in the module is \(3, 8\)"):
        net.load_state_dict(bad, strict=False)
    # all shapes are checked before anything is copied
    assert net.scale.item() == 1.0 and net.scale._version[0] == version


def test_load_state_dict_bumps_versions_and_casts():
    lin = nn.Linear(2, 2)
    # an input that requires grad: the matmul saves the weight (d/dinput reads it)
    loss = (lin(sg.ones(1, 2, requires_grad=True)) ** 2).sum()
    lin.load_state_dict({k: v.numpy().astype(np.float64) for k, v in lin.state_dict().items()})
    assert lin.weight.dtype == np.float32
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        loss.backward()


def test_to_keeps_parameter_identity_and_casts_floats_only():
    net = Net()
    params = list(net.parameters())
    opt = sg.optim.SGD(net.parameters(), lr=0.1)
    assert net.to("float64") is net
    assert [id(p) for p in net.parameters()] == [id(p) for p in params]
    assert all(p.dtype == np.float64 for p in net.parameters())
    assert net.norm.running_mean.dtype == np.float64
    assert net.norm.num_batches_tracked.dtype == np.int64
    net(sg.randn(3, 4, dtype="float64")).sum().backward()
    opt.step()  # the optimizer still holds the same (now float64) parameters
    assert net.float().head.weight.dtype == np.float32
    with pytest.raises(TypeError, match="floating dtype"):
        net.to("int64")


def test_deepcopy_gives_independent_modules():
    net = Net()
    twin = copy.deepcopy(net)
    assert twin.head.weight is not net.head.weight
    np.testing.assert_array_equal(twin.head.weight.detach().numpy(),
                                  net.head.weight.detach().numpy())
    twin.head.weight.array[...] = 0
    assert net.head.weight.detach().numpy().any()
    assert isinstance(twin.head.weight, nn.Parameter) and twin.head.weight.requires_grad


# ---- forward hooks (audit core3 #11) ------------------------------------------------------------
def test_forward_hooks_see_inputs_and_outputs_and_handles_remove_them():
    lin = nn.Linear(3, 2)
    x = sg.randn(4, 3)
    seen = []
    h1 = lin.register_forward_pre_hook(lambda m, args: seen.append(("pre", m, args[0].shape)))
    h2 = lin.register_forward_hook(lambda m, args, out: seen.append(("post", args[0], out.shape)))
    out = lin(x)
    assert seen == [("pre", lin, (4, 3)), ("post", x, (4, 2))]
    h1.remove()
    h1.remove()  # a second remove does nothing
    lin(x)
    assert [s[0] for s in seen] == ["pre", "post", "post"]
    with h2:
        pass  # as a context manager the handle removes its hook on exit
    lin(x)
    assert len(seen) == 3 and not lin._forward_hooks and not lin._forward_pre_hooks
    assert isinstance(h2.id, int) and out.shape == (4, 2)


def test_hooks_replace_inputs_and_outputs_as_pytorch():
    lin = nn.Linear(2, 2)
    x = sg.ones(1, 2)
    lin.register_forward_pre_hook(lambda m, args: args[0] * 0)  # a non-tuple: wrapped
    lin.register_forward_hook(lambda m, args, out: out * 2)
    np.testing.assert_allclose(lin(x).detach().numpy(), 2 * lin.bias.detach().numpy()[None])
    kw = nn.Linear(2, 2)
    kw.register_forward_pre_hook(lambda m, args, kwargs: ((sg.zeros(1, 2),), kwargs),
                                 with_kwargs=True)
    kw.register_forward_hook(lambda m, args, kwargs, out: out + 1, with_kwargs=True)
    np.testing.assert_allclose(kw(x).detach().numpy(), kw.bias.detach().numpy()[None] + 1)
    bad = nn.Linear(2, 2)
    bad.register_forward_pre_hook(lambda m, args, kwargs: args, with_kwargs=True)
    with pytest.raises(RuntimeError, match=r"must return None or a tuple \(args, kwargs\)"):
        bad(sg.ones(1, 2))


def test_hook_order_prepend_and_gradients_through_hooks():
    lin = nn.Linear(2, 1)
    order = []
    lin.register_forward_hook(lambda m, a, o: order.append(1))
    lin.register_forward_hook(lambda m, a, o: order.append(0), prepend=True)
    lin.register_forward_hook(lambda m, a, o: o * 3)
    lin(sg.ones(1, 2)).sum().backward()
    assert order == [0, 1]
    np.testing.assert_allclose(lin.weight.grad.numpy(), [[3.0, 3.0]])
    with pytest.raises(TypeError, match=r"register_forward_hook: expected a callable `hook` "
                                        r"\(got NoneType\)"):
        lin.register_forward_hook(None)


def test_hooks_on_children_run_and_state_dict_ignores_them():
    net = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    feats = []
    net[1].register_forward_hook(lambda m, a, o: feats.append(o.detach()))
    net(sg.randn(5, 3))
    assert len(feats) == 1 and feats[0].shape == (5, 4)
    assert list(net.state_dict()) == ["0.weight", "0.bias", "2.weight", "2.bias"]
    assert copy.deepcopy(net)[1]._forward_hooks  # copied with the module, as torch's


def test_static_compile_refuses_a_module_with_hooks_and_works_after_removal():
    lin = nn.Linear(3, 2)
    handle = lin.register_forward_hook(lambda m, a, o: o * 2)

    def evaluate(x):
        with sg.no_grad():
            return lin(x).sum()

    step = sg.static.compile(evaluate)
    with pytest.raises(sg.static.CaptureError, match=r"a forward hook on Linear .* cannot be "
                                                     r"captured.*handle.remove\(\)"):
        step(sg.ones(2, 3))
    handle.remove()
    x = sg.randn(2, 3)
    np.testing.assert_allclose(step(x).numpy(), lin(x).detach().numpy().sum(), rtol=1e-6)


def test_a_forward_hook_registered_after_compiling_is_not_skipped_by_the_replay():
    lin = nn.Linear(3, 2)

    def evaluate(x):
        with sg.no_grad():
            return lin(x).sum()

    step = sg.static.compile(evaluate)
    x = sg.randn(2, 3)
    step(x), step(x)  # traced and replayed
    lin.register_forward_hook(lambda m, a, o: o * 2)
    with pytest.raises(sg.static.CaptureError, match="a forward hook on Linear"):
        step(x)


def test_a_parameter_over_read_only_memory_is_a_trainable_copy():
    # gcn_norm's cached result is read-only; learnable edge weights start from it
    norm = sg.ops.gcn_norm(sg.from_edge_index([[0, 1, 2], [1, 2, 0]], 3))
    p = nn.Parameter(norm.values)
    opt = sg.optim.Adam([p], lr=0.01)
    (norm.with_values(p) @ sg.randn(3, 4)).pow(2).sum().backward()
    opt.step()
    assert not np.allclose(p.detach().numpy(), norm.values.numpy())  # trained, cache untouched
    assert not norm.values.array.flags.writeable
    shared = sg.ones(3)
    q = nn.Parameter(shared)  # writable memory is still shared, as torch's
    with sg.no_grad():
        q.add_(1)
    assert shared.tolist() == [2.0, 2.0, 2.0]


def test_load_state_dict_lists_every_problem_in_one_runtime_error():
    from sparsegraph.nn.module import StateDictError

    net = Net()
    state = net.state_dict()
    del state["head.bias"]
    state["head.weight"] = sg.zeros(2, 2)
    with pytest.raises(StateDictError) as info:
        net.load_state_dict(state)
    message = str(info.value)
    assert "Missing key(s) in state_dict: 'head.bias'" in message
    assert "size mismatch for 'head.weight'" in message
    # torch's type, and the types raised before (callers catching those keep working)
    assert isinstance(info.value, RuntimeError | KeyError | ValueError)
    assert all(isinstance(info.value, t) for t in (RuntimeError, KeyError, ValueError))


def test_a_batch_norm_checkpoint_without_num_batches_tracked_loads_as_in_torch():
    bn = nn.BatchNorm1d(3)
    bn(sg.randn(4, 3))
    state = {k: v for k, v in bn.state_dict().items() if k != "num_batches_tracked"}
    fresh = nn.BatchNorm1d(3)
    assert fresh.load_state_dict(state) == ([], [])
    np.testing.assert_array_equal(fresh.running_mean.numpy(), bn.running_mean.numpy())
    assert int(fresh.num_batches_tracked.item()) == 0
