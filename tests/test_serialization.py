"""save / load: pickle-free, atomic, and loud about corrupt files."""

import numpy as np
import pytest

import sparsegraph as sg


def test_round_trip_of_nested_state(tmp_path):
    state = {"w": sg.randn(3, 2), "nested": {"step": 4, "lr": 0.1, "name": "adam",
                                             "betas": (0.9, 0.99), "none": None},
             "list": [sg.arange(3), np.ones(2, np.float64)]}
    sg.save(state, tmp_path / "s.npz")
    back = sg.load(tmp_path / "s.npz")
    np.testing.assert_array_equal(back["w"].numpy(), state["w"].numpy())
    assert back["nested"] == state["nested"]
    assert back["list"][0].dtype == np.int64 and isinstance(back["list"][1], np.ndarray)


def test_unsupported_objects_leave_nothing_and_keep_old_file(tmp_path):
    path = tmp_path / "s.npz"
    sg.save({"a": sg.ones(1)}, path)
    before = path.read_bytes()
    with pytest.raises(TypeError, match=r"cannot store object at x\.y"):
        sg.save({"x": {"y": object()}}, path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["s.npz"]


def test_corrupt_truncated_and_missing_files(tmp_path):
    path = tmp_path / "s.npz"
    sg.save({"a": sg.ones(100)}, path)
    data = path.read_bytes()
    (tmp_path / "trunc.npz").write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="not a sparsegraph checkpoint or is corrupt"):
        sg.load(tmp_path / "trunc.npz")
    np.savez(tmp_path / "plain.npz", a=np.ones(2))
    with pytest.raises(ValueError, match="not a sparsegraph checkpoint"):
        sg.load(tmp_path / "plain.npz")
    with pytest.raises(FileNotFoundError):
        sg.load(tmp_path / "missing.npz")


def test_pickled_npz_is_refused(tmp_path):
    np.savez(tmp_path / "evil.npz", __manifest__=np.array([object()], dtype=object))
    with pytest.raises(ValueError, match="not a sparsegraph checkpoint"):
        sg.load(tmp_path / "evil.npz")
