"""Audit fixes: damaged .npy headers in every reader, requires_grad / Parameter / numpy
scalars kept by save / load, save's errors naming the user's path, torch-isms of load."""

import io
import json
import os
import threading

import numpy as np
import pytest

import sparsegraph as sg
import sparsegraph.serialization as serialization
from sparsegraph import Graph
from sparsegraph.datasets import Planetoid, load_on_disk, save_on_disk, synthetic
from sparsegraph.datasets.base import Dataset

HEADER = b"(50, 20), }"
HUGE = b"(5000000000000, 20), }"  # 400 TB of float32: numpy would try to allocate it


def _damage(data: bytes, how: str) -> bytes:
    """One bad byte inside the first (50, 20) header, or a huge shape of the same length."""
    if how == "byte":
        i = data.index(HEADER) + len(HEADER) - 1  # the header's closing brace
        return data[:i] + b"\xa7" + data[i + 1:]
    old = HEADER + b" " * (len(HUGE) - len(HEADER))  # eat padding: offsets stay the same
    assert old in data
    return data.replace(old, HUGE, 1)


@pytest.mark.parametrize("how", ["byte", "huge"])
def test_load_of_a_damaged_array_header_is_a_value_error_naming_the_file(tmp_path, how):
    path = tmp_path / "ck.sg"
    sg.save({"w": sg.tensor(np.zeros((50, 20), np.float32))}, path)
    path.write_bytes(_damage(path.read_bytes(), how))
    with pytest.raises(ValueError, match=r"load: .*ck\.sg is not a sparsegraph checkpoint"):
        sg.load(path)
    if how == "huge":
        with pytest.raises(ValueError, match=r"declares shape \(5000000000000, 20\)"):
            sg.load(path)


@pytest.mark.parametrize("how", ["byte", "huge"])
@pytest.mark.parametrize("mmap", [True, False])
def test_load_on_disk_of_a_damaged_header_is_a_value_error_naming_the_file(tmp_path, how,
                                                                           mmap):
    g = Graph(x=np.zeros((50, 20), np.float32), edge_index=np.array([[0, 1], [1, 0]]))
    folder = save_on_disk(g, tmp_path / "g")
    x = folder / "x.npy"
    x.write_bytes(_damage(x.read_bytes(), how))
    with pytest.raises(ValueError, match=r"load_on_disk: .*x\.npy is not a readable \.npy"):
        load_on_disk(folder, mmap=mmap)


@pytest.mark.parametrize("how", ["byte", "huge"])
def test_damaged_synthetic_cache_counts_as_missing(tmp_path, how):
    arrays = {"x": np.zeros((50, 20), np.float32)}
    folder = synthetic.save(arrays, tmp_path / "syn")
    x = folder / "x.npy"
    x.write_bytes(_damage(x.read_bytes(), how))
    for mmap in (True, False):
        assert synthetic._cached(folder, synthetic._spec(arrays), mmap) is None


class _Toy(Dataset):
    folder = "toy"
    files = {"raw.txt": None}
    parses = 0

    def parse(self):
        type(self).parses += 1
        return {"x": np.arange(1000, dtype=np.float32).reshape(50, 20)}

    def _build(self):
        return self._arrays["x"]


@pytest.mark.parametrize("how", ["byte", "huge"])
def test_damaged_dataset_cache_header_is_rebuilt(tmp_path, how):
    (tmp_path / "toy").mkdir()
    (tmp_path / "toy" / "raw.txt").write_text("raw")
    _Toy.parses = 0
    _Toy(tmp_path, download=False, cache_dir=tmp_path / "cache")
    (cache,) = (tmp_path / "cache").glob("*.npz")
    cache.write_bytes(_damage(cache.read_bytes(), how))
    ds = _Toy(tmp_path, download=False, cache_dir=tmp_path / "cache")
    assert _Toy.parses == 2  # parsed again, not a TokenError / MemoryError
    np.testing.assert_array_equal(ds._data, np.arange(1000, dtype=np.float32).reshape(50, 20))
    assert _Toy(tmp_path, download=False, cache_dir=tmp_path / "cache")._data.shape == (50, 20)
    assert _Toy.parses == 2  # the rewritten cache is good


@pytest.mark.dataset
def test_planetoid_cache_with_a_bad_header_byte_is_rebuilt(data_root, tmp_path):
    g = Planetoid("cora", root=data_root, download=False, cache_dir=tmp_path)[0]
    (cache,) = tmp_path.glob("*.npz")
    data = cache.read_bytes()
    i = data.index(b"), }")  # the first array header's closing brace
    cache.write_bytes(data[:i + 3] + b"\xa7" + data[i + 4:])
    h = Planetoid("cora", root=data_root, download=False, cache_dir=tmp_path)[0]
    assert h.num_nodes == g.num_nodes == 2708 and h.num_edges == g.num_edges


def test_parameters_and_requires_grad_round_trip(tmp_path):
    w = sg.nn.Parameter(sg.randn(3, 2))
    frozen = sg.nn.Parameter(sg.randn(2), requires_grad=False)
    leaf = sg.tensor([1.0, 2.0], requires_grad=True)
    sg.save({"w": w, "frozen": frozen, "leaf": leaf, "plain": sg.ones(2), "lr": 0.1},
            tmp_path / "rg.sg")
    for back in (sg.load(tmp_path / "rg.sg"), sg.load(tmp_path / "rg.sg", map_location="cpu")):
        assert type(back["w"]) is sg.nn.Parameter and back["w"].requires_grad
        np.testing.assert_array_equal(back["w"].detach().numpy(), w.detach().numpy())
        assert type(back["frozen"]) is sg.nn.Parameter and not back["frozen"].requires_grad
        assert type(back["leaf"]) is sg.Tensor and back["leaf"].requires_grad
        assert type(back["plain"]) is sg.Tensor and not back["plain"].requires_grad
        (sg.ones(4, 3) @ back["w"]).sum().backward()
        np.testing.assert_array_equal(back["w"].grad.numpy(), np.full((3, 2), 4.0, np.float32))


def _checkpoint(root) -> bytes:
    out = io.BytesIO()
    text = json.dumps({"format": serialization.FORMAT, "root": root}).encode()
    np.savez(out, a0=np.ones(2, np.float32), __manifest__=np.frombuffer(text, np.uint8))
    return out.getvalue()


def test_old_checkpoints_without_the_new_fields_load_as_plain_tensors():
    back = sg.load(io.BytesIO(_checkpoint({"dict": [["w", {"tensor": "a0"}],
                                                    ["n", {"value": 0.5}]]})))
    assert type(back["w"]) is sg.Tensor and not back["w"].requires_grad
    assert back["w"].tolist() == [1.0, 1.0] and type(back["n"]) is float


@pytest.mark.parametrize("node", [{"tensor": "a0", "requires_grad": 1},
                                  {"tensor": "a0", "scalar": True},
                                  {"value": 1, "dtype": "O"}])
def test_malformed_flags_are_not_a_checkpoint(node):
    with pytest.raises(ValueError, match=r"load: <BytesIO> is not a sparsegraph checkpoint"):
        sg.load(io.BytesIO(_checkpoint(node)))


def test_save_errors_name_the_target_path(tmp_path):
    target = str(tmp_path / "nodir" / "x.sg")
    with pytest.raises(FileNotFoundError, match=r"save: parent directory .*nodir does not ex"
                       ) as err:
        sg.save({"a": 1}, target)
    assert err.value.filename == target
    (tmp_path / "adir").mkdir()
    with pytest.raises(IsADirectoryError, match=r"save: expected a file path") as err:
        sg.save({"a": 1}, tmp_path / "adir")
    assert err.value.filename == str(tmp_path / "adir")
    long = tmp_path / ("n" * 248 + ".sg")  # 251 bytes: valid, but not with 18 more
    sg.save({"a": 1}, long)
    assert sg.load(long) == {"a": 1}
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["adir", long.name])


def test_load_accepts_weights_only_and_checks_its_type(tmp_path):
    sg.save({"a": sg.ones(2)}, tmp_path / "ck.sg")
    for flag in (True, False, None):
        assert sg.load(tmp_path / "ck.sg", weights_only=flag)["a"].tolist() == [1.0, 1.0]
    with pytest.raises(TypeError, match=r"load: expected `weights_only` to be True, False or "
                                        r"None \(got str 'yes'\)"):
        sg.load(tmp_path / "ck.sg", weights_only="yes")


def test_load_from_a_pipe_asks_for_a_seekable_file():
    buf = io.BytesIO()
    sg.save({"w": sg.ones(3)}, buf)
    r, w = os.pipe()
    writer = threading.Thread(target=lambda: (os.write(w, buf.getvalue()), os.close(w)))
    writer.start()
    with os.fdopen(r, "rb") as f:
        with pytest.raises(io.UnsupportedOperation, match=r"load: <file descriptor \d+> is not "
                                                          r"seekable.*io\.BytesIO"):
            sg.load(f)
        f.read()
    writer.join()


def test_numpy_scalars_keep_their_dtype():
    obj = {"f32": np.float32(0.1), "f16": np.float16(1 / 3), "i64": np.int64(-7),
           "u64": np.uint64(2**64 - 1), "b": np.bool_(True), "s": np.str_("x"),
           "c": np.complex64(1 + 2j), "ld": np.longdouble(1) / 3, "nan": np.float32("nan")}
    buf = io.BytesIO()
    sg.save(obj, buf)
    buf.seek(0)
    back = sg.load(buf)
    for k, v in obj.items():
        assert type(back[k]) is type(v), k
        assert back[k] == v or (np.isnan(v) and np.isnan(back[k])), k


def test_save_to_a_text_mode_file_is_a_type_error(tmp_path):
    with open(tmp_path / "t.txt", "w") as f:
        with pytest.raises(TypeError, match=r"save: expected a binary file object"):
            sg.save({"a": 1}, f)
    assert (tmp_path / "t.txt").read_text() == ""
