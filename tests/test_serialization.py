"""save / load: pickle-free npz checkpoints, atomic writes, clear errors on bad files."""

import io
import json
import os
import pickle
import zipfile
from collections import OrderedDict

import numpy as np
import pytest

import sparsegraph as sg
import sparsegraph.serialization as serialization


def _nested():
    return {
        "model": OrderedDict([("w", sg.randn(3, 2)), ("b", sg.zeros(2, dtype="float64"))]),
        "ints": sg.tensor([1, 2, 3]),
        "mask": sg.tensor([True, False]),
        "half": sg.ones(2, dtype="float16"),
        "raw": np.arange(6, dtype=np.int32).reshape(2, 3),
        "empty": np.zeros((0, 4)),
        "opt": {"state": {0: {"step": 3, "exp_avg": sg.ones(2)}},
                "param_groups": [{"lr": 0.1, "betas": (0.9, 0.999), "params": [0],
                                  "amsgrad": False, "name": None}]},
        "scalars": [1, 2.5, "x", None, True, float("inf"), np.float32(0.5), np.int64(7)],
    }


def _assert_same(a, b):
    assert type(a) is type(b) or (isinstance(a, dict) and isinstance(b, dict)), (a, b)
    if isinstance(a, sg.Tensor):
        assert a.dtype == b.dtype and a.shape == b.shape
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    elif isinstance(a, np.ndarray):
        assert a.dtype == b.dtype
        np.testing.assert_array_equal(a, b)
    elif isinstance(a, dict):
        assert list(a) == list(b)
        for k in a:
            _assert_same(a[k], b[k])
    elif isinstance(a, list | tuple):
        assert len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            _assert_same(x, y)
    else:
        assert a == b


def test_round_trip_of_nested_state(tmp_path):
    obj = _nested()
    sg.save(obj, tmp_path / "ck.npz")  # pathlib.Path
    back = sg.load(str(tmp_path / "ck.npz"))  # str
    expected = dict(obj)  # numpy scalars come back as numpy scalars of their dtype
    _assert_same(back, expected)
    assert [type(v) for v in back["scalars"][-2:]] == [type(v) for v in obj["scalars"][-2:]]
    assert isinstance(back["opt"]["param_groups"][0]["betas"], tuple)
    assert list(back["opt"]["state"]) == [0]  # int keys stay ints
    assert not back["model"]["w"].requires_grad


def test_round_trip_through_file_objects_and_map_location(tmp_path):
    buf = io.BytesIO()
    sg.save({"w": sg.ones(2, requires_grad=True)}, buf)
    buf.seek(0)
    back = sg.load(buf, map_location="cpu")
    assert back["w"].device == "cpu" and back["w"].tolist() == [1.0, 1.0]


def test_never_pickles(tmp_path, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("pickle was used")

    for name in ("dump", "dumps", "load", "loads"):
        monkeypatch.setattr(pickle, name, refuse)
    sg.save(_nested(), tmp_path / "ck.npz")
    sg.load(tmp_path / "ck.npz")


@pytest.mark.parametrize("bad, where", [
    ({"a": {"b": object()}}, r"obj\['a'\]\['b'\]"),
    ({"a": [1, {2, 3}]}, r"obj\['a'\]\[1\]"),
    ({"a": np.array([{}, 1], dtype=object)}, r"obj\['a'\]"),
    ({"a": np.zeros(2, dtype=[("x", "O")])}, r"obj\['a'\]"),
    ({(1, 2): 1}, "dict keys must be str or int"),
    (lambda: 0, "function at obj"),
])
def test_unsupported_objects_raise_and_leave_nothing(tmp_path, bad, where):
    path = tmp_path / "ck.npz"
    with pytest.raises(TypeError, match=where):
        sg.save(bad, path)
    assert os.listdir(tmp_path) == []


def test_failed_save_keeps_the_old_file_and_leaves_no_temporary(tmp_path, monkeypatch):
    path = tmp_path / "ck.npz"
    sg.save({"w": sg.ones(2)}, path)
    before = path.read_bytes()
    with pytest.raises(TypeError):
        sg.save({"w": sg.zeros(2), "bad": object()}, path)
    assert path.read_bytes() == before

    def crash(f, arrays):  # a crash half-way through writing
        f.write(b"PK\x03\x04partial")
        raise OSError("disk full")

    monkeypatch.setattr(serialization, "_write", crash)
    with pytest.raises(OSError, match="disk full"):
        sg.save({"w": sg.zeros(2)}, path)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["ck.npz"]
    assert sg.load(path)["w"].tolist() == [1.0, 1.0]


def test_saved_file_gets_ordinary_permissions(tmp_path):
    mask = os.umask(0o022)
    try:
        sg.save({"w": sg.ones(1)}, tmp_path / "ck.npz")
    finally:
        os.umask(mask)
    assert (tmp_path / "ck.npz").stat().st_mode & 0o777 == 0o644


def _corrupt_variants(good: bytes, tmp_path):
    yield "empty", b""
    yield "text", b"hello, this is not a checkpoint\n"
    for cut in (10, len(good) // 3, len(good) // 2, len(good) - 30, len(good) - 1):
        yield f"truncated_{cut}", good[:cut]
    flipped = bytearray(good)
    flipped[len(good) // 2] ^= 0xFF
    yield "flipped", bytes(flipped)
    other = io.BytesIO()
    np.savez(other, x=np.ones(3))  # an npz, but not ours
    yield "foreign_npz", other.getvalue()
    single = io.BytesIO()
    np.save(single, np.ones(3))
    yield "npy", single.getvalue()
    for name, manifest in [("bad_json", b"{not json"),
                           ("wrong_format", json.dumps({"format": "x", "root": {}}).encode()),
                           ("bad_node", json.dumps({"format": serialization.FORMAT,
                                                    "root": {"tensor": "missing"}}).encode()),
                           ("bad_kind", json.dumps({"format": serialization.FORMAT,
                                                    "root": {"blob": 1}}).encode())]:
        out = io.BytesIO()
        np.savez(out, __manifest__=np.frombuffer(manifest, dtype=np.uint8))
        yield name, out.getvalue()
    pickled = io.BytesIO()
    np.savez(pickled, __manifest__=np.frombuffer(b"{}", np.uint8),
             a0=np.array([{"evil": 1}], dtype=object))
    yield "pickled_member", pickled.getvalue()


def test_corrupt_truncated_foreign_and_missing_files(tmp_path):
    good_path = tmp_path / "good.npz"
    sg.save(_nested(), good_path)
    good = good_path.read_bytes()
    for name, data in _corrupt_variants(good, tmp_path):
        path = tmp_path / f"{name}.npz"
        path.write_bytes(data)
        with pytest.raises(ValueError, match=rf"load: .*{name}\.npz is not a sparsegraph "
                                             r"checkpoint \(.+\)"):
            sg.load(path)
    with pytest.raises(FileNotFoundError):
        sg.load(tmp_path / "missing.npz")
    assert zipfile.is_zipfile(good_path)  # the good file is a plain npz archive
    with np.load(good_path, allow_pickle=False) as data:
        assert "__manifest__" in data.files


def test_every_truncation_is_a_value_error(tmp_path):
    path = tmp_path / "ck.npz"
    sg.save({"w": sg.randn(4, 3), "meta": {"epoch": 3}}, path)
    good = path.read_bytes()
    bad = tmp_path / "bad.npz"
    for cut in range(0, len(good), 7):
        bad.write_bytes(good[:cut])
        with pytest.raises(ValueError, match="is not a sparsegraph checkpoint"):
            sg.load(bad)


def test_bit_flips_raise_value_error_or_load_identical_data():
    buf = io.BytesIO()
    sg.save({"w": sg.randn(4, 3), "meta": {"epoch": 3}}, buf)
    good = buf.getvalue()
    ref = sg.load(io.BytesIO(good))
    for pos in range(0, len(good), 3):
        damaged = bytearray(good)
        damaged[pos] ^= 0x81
        try:
            out = sg.load(io.BytesIO(bytes(damaged)))
        except ValueError as exc:
            assert "is not a sparsegraph checkpoint" in str(exc)
            continue
        # zip metadata that nothing reads (timestamps, ...): the data itself is CRC-checked
        assert out["meta"] == ref["meta"]
        np.testing.assert_array_equal(out["w"].numpy(), ref["w"].numpy())


# ---- self-references and map_location (audit items 11, 6) ---------------------------------------
@pytest.mark.parametrize("make, where", [
    (lambda: (d := {}).__setitem__("self", d) or d, r"obj\['self'\] is the dict at obj again"),
    (lambda: (lst := [1]).append({"up": lst}) or lst, r"obj\[1\]\['up'\] is the list at obj "),
])
def test_save_of_a_self_referencing_structure_names_the_key_path_and_writes_nothing(
        make, where, tmp_path):
    path = tmp_path / "x.sgz"
    with pytest.raises(TypeError, match=where + ".*self-referencing"):
        sg.save(make(), path)
    assert list(tmp_path.iterdir()) == []


def test_save_of_the_same_object_twice_side_by_side_is_no_cycle(tmp_path):
    shared = [sg.ones(2)]
    sg.save({"a": shared, "b": shared}, tmp_path / "x.sgz")
    out = sg.load(tmp_path / "x.sgz")
    assert out["a"][0].tolist() == out["b"][0].tolist() == [1.0, 1.0]


def test_load_with_a_bad_map_location_names_the_device(tmp_path):
    sg.save({"w": sg.ones(2)}, tmp_path / "x.sgz")
    with pytest.raises(ValueError, match=r"load: expected `map_location` to be a device \('cpu', "
                                         r"'cuda' or 'cuda:N'\) or None \(got 'tpu'\)"):
        sg.load(tmp_path / "x.sgz", map_location="tpu")


def test_tied_tensors_are_stored_once_and_load_sharing_one_array(tmp_path):
    a, b = sg.nn.Linear(3, 3), sg.nn.Linear(3, 3)
    b.weight = a.weight  # tied, as an embedding and an output layer
    model = sg.nn.Sequential(a, b)
    x = np.arange(4.0)
    path = tmp_path / "tied.npz"
    sg.save({"model": model.state_dict(), "x": x, "again": [x, x]}, path)
    with np.load(path) as z:
        assert len(z.files) == 1 + 3 + 1  # manifest, 0.weight = 1.weight, two biases, x
    loaded = sg.load(path)
    sd = loaded["model"]
    w0, w1 = sd["0.weight"], sd["1.weight"]
    np.testing.assert_array_equal(w0.numpy(), a.weight.detach().numpy())
    assert np.shares_memory(w0.numpy(), w1.numpy())  # one storage, as torch.load gives
    assert not np.shares_memory(sd["0.bias"].numpy(), sd["1.bias"].numpy())
    assert loaded["x"] is loaded["again"][0] is loaded["again"][1]
    fresh = sg.nn.Sequential(sg.nn.Linear(3, 3), sg.nn.Linear(3, 3))
    fresh.load_state_dict(sd)
    np.testing.assert_array_equal(fresh[1].weight.detach().numpy(), a.weight.detach().numpy())


def test_load_to_an_unusable_device_names_the_device_not_the_file(tmp_path, monkeypatch):
    from sparsegraph import backend

    monkeypatch.setattr(backend, "cuda_available", lambda: False)
    path = tmp_path / "c.npz"
    sg.save({"w": sg.ones(2)}, path)
    with pytest.raises(RuntimeError, match=r"load: map_location='cuda:0' but no CUDA device is "
                                           r"usable here .*map_location='cpu'"):
        sg.load(path, map_location="cuda")
    assert sg.load(path, map_location="cpu")["w"].tolist() == [1.0, 1.0]
