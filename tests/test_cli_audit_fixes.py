"""The `sparsegraph` command line: fixes of the readme_cli audit (README followed literally + the
CLI): multi-split `graph --dynamic`, one-line refusals shared by every command, the ± and the
median epoch time of `train`, Ctrl-C."""

import json
import os
import pathlib
import re
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

import sparsegraph as sg
from sparsegraph.cli import build_parser, main
from tests.cli_help import err_lines, help_text, options, run

KARATE_ONLY = ["--epochs", "1", "--runs", "1", "--quiet"]




# ---- F1: `graph --dynamic` on datasets with several stored splits -------------------------
def _karate_with_masks(train_mask):
    from sparsegraph.datasets import load_for_training

    _, g, _ = load_for_training("karate")
    g.train_mask = sg.tensor(train_mask)
    return g


def _graph_text(tmp_path, monkeypatch, train_mask, name: str) -> str:
    import sparsegraph.datasets

    graph = _karate_with_masks(train_mask)
    monkeypatch.setattr(sparsegraph.datasets, "load_for_training",
                        lambda *a, **k: ("node", graph, None))
    out = tmp_path / name
    assert main(["graph", "--dynamic", "--out", str(out)]) == 0
    return out.read_text()


def test_graph_dynamic_on_several_splits_takes_split_0_as_train_does(tmp_path, monkeypatch):
    # (S, N) masks whose splits hold different numbers of training nodes: the shapes in the
    # graph's labels say which split the loss was taken over
    masks = np.zeros((3, 34), dtype=bool)
    masks[0, :4], masks[1, :10], masks[2, :20] = True, True, True
    several = _graph_text(tmp_path, monkeypatch, masks, "several.txt")
    assert several == _graph_text(tmp_path, monkeypatch, masks[0], "split0.txt")
    assert several != _graph_text(tmp_path, monkeypatch, masks[1], "split1.txt")
    assert "[4, 2]" in several  # the logits of split 0's 4 training nodes (karate: 2 classes)


def test_graph_dynamic_on_texas(tmp_path, data_root, capsys):
    out = tmp_path / "t.dot"
    assert main(["graph", "--dynamic", "--dataset", "texas", "--root", str(data_root),
                 "--out", str(out)]) == 0
    assert out.read_text().startswith("digraph")
    assert "wrote the dynamic graph" in capsys.readouterr().out


# ---- F2: `graph` on a dataset without a split -------------------------------------------------
def test_graph_refuses_a_dataset_without_a_split_as_train_does(tmp_path, capsys):
    # no files: refused by the registry's check, before anything is read
    for command in ("train", "graph"):
        assert run([command, "--dataset", "cora_ml", "--root", str(tmp_path),
                    "--out" if command == "graph" else "--quiet",
                    *([str(tmp_path / "x.dot")] if command == "graph" else [])]) == 2
        assert err_lines(capsys) == [
            f"sparsegraph {command}: cora_ml has no stored train/val/test split; pick a "
            "dataset that has one (cora, citeseer, pubmed, actor, texas, ...)"]
    assert not (tmp_path / "x.dot").exists()


def test_graph_refuses_a_loaded_graph_without_train_mask(tmp_path, monkeypatch, capsys):
    import sparsegraph.datasets

    graph = _karate_with_masks(np.ones(34, dtype=bool))
    graph.train_mask = None
    monkeypatch.setattr(sparsegraph.datasets, "load_for_training",
                        lambda *a, **k: ("node", graph, None))
    for dynamic in ([], ["--dynamic"]):
        assert main(["graph", *dynamic, "--out", str(tmp_path / "x.dot")]) == 2
        assert err_lines(capsys) == [
            "sparsegraph graph: karate has no stored train/val/test split; pick a dataset "
            "that has one (cora, citeseer, pubmed, actor, texas, ...)"]


# ---- F3: a data root that is a file -----------------------------------------------------------
ROOT_COMMANDS = {
    "train": lambda tmp: ["train", "--dataset", "cora", *KARATE_ONLY],
    "graph": lambda tmp: ["graph", "--dataset", "cora", "--out", str(tmp / "g.dot")],
    "bench models": lambda tmp: ["bench", "models", "--datasets", "cora", "--models", "gcn",
                                 "--epochs", "1", "--quiet", "--out", str(tmp / "bm")],
}


@pytest.mark.parametrize("command", ROOT_COMMANDS)
def test_a_root_that_is_a_file_is_refused_naming_the_flag(command, tmp_path, capsys,
                                                          monkeypatch):
    afile = tmp_path / "afile"
    afile.write_text("x")
    argv = ROOT_COMMANDS[command](tmp_path)
    assert run(argv + ["--root", str(afile)]) == 2
    assert err_lines(capsys) == [f"sparsegraph {command}: --root {afile} is a file, not a "
                                 "folder; pass a folder"]
    assert run(argv + ["--root", str(afile / "sub")]) == 2
    assert err_lines(capsys) == [f"sparsegraph {command}: --root {afile / 'sub'} is inside "
                                 f"{afile}, a file, not a folder; pass a folder"]
    monkeypatch.setenv("SPARSEGRAPH_DATA", str(afile))
    assert run(argv) == 2
    assert err_lines(capsys) == [f"sparsegraph {command}: $SPARSEGRAPH_DATA {afile} is a "
                                 "file, not a folder; point it at a folder (or pass --root)"]
    assert not (tmp_path / "bm").exists() and not (tmp_path / "g.dot").exists()


@pytest.mark.parametrize("command", ["train", "graph"])
def test_a_file_where_a_datasets_folder_goes_names_the_flag(command, tmp_path, capsys):
    (tmp_path / "planetoid").write_text("x")  # the root is a folder; cora's folder is a file
    assert run(ROOT_COMMANDS[command](tmp_path) + ["--root", str(tmp_path)]) == 2
    (line,) = err_lines(capsys)
    assert line.startswith(f"sparsegraph {command}: Planetoid: expected --root to be a folder")
    assert "`root`" not in line


# ---- F4: --seed, one type for every command ---------------------------------------------------
def _subparsers(parser):
    import argparse

    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from ([(name, sub)] + [(f"{name} {n}", s) for n, s in _subparsers(sub)])


def test_every_seed_flag_is_the_shared_type():
    from sparsegraph.cli.common import SEED

    seeds = {name: a.type for name, sub in _subparsers(build_parser())
             for a in sub._actions if "--seed" in a.option_strings}
    assert set(seeds) == {"train", "graph", "bench sparse-vs-dense", "bench spmm",
                          "bench models"}
    assert all(t is SEED for t in seeds.values()), seeds


@pytest.mark.parametrize("argv", [["graph", "--out", "s.txt"], ["train", "--quiet"],
                                  ["bench", "spmm"], ["bench", "models"],
                                  ["bench", "sparse-vs-dense"]])
def test_a_negative_seed_is_refused_by_argparse(argv, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert run(argv + ["--seed", "-1"]) == 2
    assert err_lines(capsys)[-1].endswith("error: argument --seed: expected an int >= 0 "
                                          "(got -1)")
    assert list(tmp_path.iterdir()) == []


# ---- F5: no Python keyword in the advice of commands that never download -------------------
def test_graph_says_train_downloads_not_download_true(tmp_path, capsys):
    assert main(["graph", "--dataset", "pubmed", "--root", str(tmp_path),
                 "--out", str(tmp_path / "p.dot")]) == 2
    (line,) = err_lines(capsys)
    assert "download=True" not in line and "ind.pubmed.x" in line
    assert f"(or run `sparsegraph train --dataset pubmed --root {tmp_path}` once, which " \
           "downloads them)" in line


def test_bench_models_row_says_train_downloads_not_download_true(tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["bench", "models", "--datasets", "pubmed", "--models", "gcn", "--epochs",
                 "1", "--root", str(empty), "--quiet", "--out", str(tmp_path / "bm")]) == 1
    (row,) = json.loads((tmp_path / "bm" / "results.json").read_text())["rows"]
    assert "download=True" not in row["error"] and "ind.pubmed.x" in row["error"]
    assert "(or run `sparsegraph train --dataset pubmed" in row["error"]


# ---- F6: empty path flags ---------------------------------------------------------------------
@pytest.mark.parametrize("argv, flag, what", [
    (["train", *KARATE_ONLY, "--json", ""], "--json", "a file path"),
    (["train", *KARATE_ONLY, "--json", " "], "--json", "a file path"),
    (["train", *KARATE_ONLY, "--root", ""], "--root", "a folder path"),
    (["graph", "--out", ""], "--out", "a file path"),
    (["graph", "--out", "g.dot", "--root", ""], "--root", "a folder path"),
    (["bench", "models", "--out", "bm", "--root", ""], "--root", "a folder path"),
])
def test_an_empty_path_is_refused_naming_the_flag(argv, flag, what, tmp_path, capsys,
                                                  monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert run(argv) == 2
    line = err_lines(capsys)[-1]
    assert line.endswith(f"error: argument {flag}: expected {what} (got {argv[-1]!r})"), line
    assert list(tmp_path.iterdir()) == []  # nothing trained, nothing written


# ---- F7: --passes ------------------------------------------------------------------------------
def test_graph_help_lists_every_pass(capsys, monkeypatch):
    from sparsegraph.static.passes import DEFAULT_PASSES, FORWARD_PASSES

    line = options(help_text(["graph", "--help"], capsys, monkeypatch))["--passes"]
    listed = re.search(r"by default: ([a-z, ]+) \('none'", line).group(1).split(", ")
    assert listed == list(DEFAULT_PASSES) and set(listed) == set(FORWARD_PASSES)


def test_an_unknown_pass_is_refused_with_the_list_before_any_data_is_read(tmp_path, capsys):
    from sparsegraph.static.passes import FORWARD_PASSES

    # cora under an empty root would be refused as missing: the pass is refused first
    assert run(["graph", "--dataset", "cora", "--root", str(tmp_path), "--out",
                str(tmp_path / "g.dot"), "--passes", "dce,fusion"]) == 2
    line = err_lines(capsys)[-1]
    assert "argument --passes: unknown pass 'fusion' (did you mean 'fuse'?)" in line
    assert all(name in line for name in FORWARD_PASSES)
    assert run(["graph", "--out", str(tmp_path / "g.dot"), "--passes", ","]) == 2
    assert "argument --passes: no pass named in ','" in err_lines(capsys)[-1]


def test_named_passes_and_none_still_run(tmp_path, capsys):
    for passes in ("none", "dce,cse", "fuse"):
        out = tmp_path / f"{passes}.txt"
        assert main(["graph", "--out", str(out), "--passes", passes]) == 0
        assert out.read_text()


# ---- F8, F9: the ± and the median epoch time of `train` --------------------------------------
def _fake_trainer(monkeypatch, accs, times):
    """`train_node_classifier` returning run i's ``accs[i]`` and epoch times ``times[i]``."""
    import sparsegraph.gnn.train

    calls = iter(range(len(accs)))

    def fake(model, graph, *, on_epoch, **kw):
        i = next(calls)
        return {"test_acc": accs[i], "val_acc": 0.5, "epoch_times_s": list(times[i])}

    monkeypatch.setattr(sparsegraph.gnn.train, "train_node_classifier", fake)


def _train(tmp_path, capsys, runs: int) -> tuple[dict, list[str]]:
    out = tmp_path / "r.json"
    assert main(["train", "--runs", str(runs), "--quiet", "--json", str(out)]) == 0
    return json.loads(out.read_text()), capsys.readouterr().out.strip().splitlines()


def test_the_plus_minus_is_the_sample_std_and_says_so(tmp_path, capsys, monkeypatch):
    accs = [0.80, 0.82, 0.85]
    _fake_trainer(monkeypatch, accs, [[1.0, 0.002]] * 3)
    result, lines = _train(tmp_path, capsys, 3)
    std = float(np.std(np.array(accs) * 100, ddof=1))  # PyTorch's Tensor.std()
    assert result["test_acc_std"] == pytest.approx(std) and std > np.std(np.array(accs) * 100)
    assert result["test_acc_std_over"] == "runs"
    assert lines[-1] == f"test accuracy: 82.3 ± {std:.1f} % (mean ± sample std over 3 runs)"


def test_one_run_has_no_spread(tmp_path, capsys, monkeypatch):
    _fake_trainer(monkeypatch, [0.8], [[1.0, 0.002]])
    result, lines = _train(tmp_path, capsys, 1)
    assert result["test_acc_std"] is None and result["test_acc_std_over"] is None
    assert lines[-1] == "test accuracy: 80.0 % (1 run: no spread)"


def test_gin_spread_is_the_sample_std_over_every_fold(monkeypatch):
    from sparsegraph.cli.train import summarize, summary_lines

    cfg = {"runs": 2, "folds": 3}
    folds = [0.7, 0.8, 0.9, 0.6, 0.7, 0.8]
    out = {"test_accs": [0.8, 0.7], "val_accs": [0.8, 0.7], "fold_accs": folds,
           "epoch_times": [[1.0, 0.01], [0.01, 0.01]]}
    result = summarize(cfg, out)
    assert result["test_acc_std"] == pytest.approx(np.std(np.array(folds) * 100, ddof=1))
    assert result["test_acc_std_over"] == "folds"
    assert summary_lines({**result, "config": cfg})[-1] == (
        f"test accuracy: 75.0 ± {result['test_acc_std']:.1f} % (mean ± sample std over the 6 "
        "folds of 2 runs)")


def test_median_epoch_time_leaves_out_each_runs_first_epoch(tmp_path, capsys, monkeypatch):
    # the first epoch of each run compiles (numba; --static captures in every run)
    _fake_trainer(monkeypatch, [0.8, 0.8], [[5.0, 0.002, 0.004], [3.0, 0.002]])
    result, lines = _train(tmp_path, capsys, 2)
    assert result["epoch_time_median_s"] == pytest.approx(0.002)
    assert result["epoch_time_first_left_out"] is True
    assert lines[0].startswith("median epoch time: 2.0 ms (each run's first epoch left out: "
                               "compilation, warm-up); peak RSS ")


def test_median_epoch_time_of_single_epoch_runs_says_it_includes_compilation(
        tmp_path, capsys, monkeypatch):
    _fake_trainer(monkeypatch, [0.8, 0.8], [[5.0], [3.0]])
    result, lines = _train(tmp_path, capsys, 2)
    assert result["epoch_time_median_s"] == pytest.approx(4.0)
    assert result["epoch_time_first_left_out"] is False
    assert lines[0].startswith("median epoch time: 4000.0 ms (one epoch per run: includes "
                               "compilation)")


def test_train_help_documents_every_json_field(tmp_path, capsys, monkeypatch):
    _fake_trainer(monkeypatch, [0.8, 0.9], [[1.0, 0.002]] * 2)
    result, _ = _train(tmp_path, capsys, 2)
    text = help_text(["train", "--help"], capsys, monkeypatch)
    fields = text[text.index("results (printed; the --json fields)"):]
    for key in result:
        assert re.search(rf"\b{key}\b", fields), key
    assert "ddof=1" in fields


# ---- F10: Ctrl-C --------------------------------------------------------------------------------
def _interrupt(*args, **kwargs):
    raise KeyboardInterrupt


def _patch_for(command: str, monkeypatch):
    from sparsegraph.cli import bench, bench_models, bench_sparse_dense

    if command == "info":
        monkeypatch.setattr(sg.kernels, "table", _interrupt)
    elif command == "train":
        import sparsegraph.gnn.train

        monkeypatch.setattr(sparsegraph.gnn.train, "train_node_classifier", _interrupt)
    elif command == "graph":
        import sparsegraph.static

        monkeypatch.setattr(sparsegraph.static, "trace", _interrupt)
    elif command == "bench spmm":
        monkeypatch.setattr(bench, "spmm_rows", _interrupt)
    elif command == "bench models":
        monkeypatch.setattr(bench_models, "_one_in_child", _interrupt)
    else:
        monkeypatch.setattr(bench_sparse_dense, "measure", _interrupt)


INTERRUPTED = {  # --quiet: no progress bars in the captured stderr (a terminal's are cleared)
    "info": lambda tmp: ["info"],
    "train": lambda tmp: ["train", "--quiet", "--json", str(tmp / "r.json")],
    "graph": lambda tmp: ["graph", "--out", str(tmp / "g.dot")],
    "bench spmm": lambda tmp: ["bench", "spmm", "--quiet", "--out", str(tmp / "o")],
    "bench models": lambda tmp: ["bench", "models", "--quiet", "--out", str(tmp / "o")],
    "bench sparse-vs-dense": lambda tmp: ["bench", "sparse-vs-dense", "--no-plots", "--quiet",
                                          "--out", str(tmp / "o")],
}


@pytest.mark.parametrize("command", INTERRUPTED)
def test_ctrl_c_ends_any_command_with_one_line_and_status_130(command, tmp_path, capsys,
                                                              monkeypatch):
    _patch_for(command, monkeypatch)
    hook = sys.unraisablehook
    assert main(INTERRUPTED[command](tmp_path)) == 130
    assert err_lines(capsys) == [f"sparsegraph {command}: interrupted"]
    assert list(tmp_path.iterdir()) == []  # nothing half-written
    # the handler and the unraisable hook are put back for whoever called main
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    assert sys.unraisablehook is hook


class _SwallowedCtrlC:
    """Ctrl-C landing where Python only reports errors: a ``__del__`` here, llvmlite's ctypes
    callback while numba compiles (the audit's and our SIGINT runs saw both)."""

    def __del__(self):
        signal.getsignal(signal.SIGINT)(signal.SIGINT, None)


def test_a_swallowed_ctrl_c_ends_train_at_the_next_epoch(tmp_path, capsys, monkeypatch):
    import sparsegraph.gnn.train

    def trainer(model, graph, *, on_epoch, **kw):
        _SwallowedCtrlC()  # collected at once: its KeyboardInterrupt goes nowhere
        on_epoch(0, {"loss": 1.0, "val_acc": 0.5})
        raise AssertionError("the epoch after Ctrl-C ran")

    monkeypatch.setattr(sparsegraph.gnn.train, "train_node_classifier", trainer)
    assert main(["train", "--quiet", "--json", str(tmp_path / "r.json")]) == 130
    assert err_lines(capsys) == ["sparsegraph train: interrupted"]  # no "Exception ignored"
    assert list(tmp_path.iterdir()) == []


def test_after_an_interrupted_command_the_same_process_runs_the_next_one(tmp_path, capsys,
                                                                        monkeypatch):
    # a notebook, a wrapper script or this test session calls main() again: the Ctrl-C that
    # ended the first command must not end the bars and writes of what comes next
    import sparsegraph.gnn.train
    from sparsegraph.cli.common import interrupted, progress
    from sparsegraph.cli.graph import _write
    from sparsegraph.cli.train import write_json

    def trainer(model, graph, *, on_epoch, **kw):
        _SwallowedCtrlC()
        on_epoch(0, {"loss": 1.0, "val_acc": 0.5})

    with monkeypatch.context() as m:
        m.setattr(sparsegraph.gnn.train, "train_node_classifier", trainer)
        assert main(["train", "--quiet", "--json", str(tmp_path / "r.json")]) == 130
    assert not interrupted()
    with progress(3, "later", quiet=True) as bar:
        bar.update(1)
    _write(str(tmp_path / "g.txt"), "x")
    assert write_json(str(tmp_path / "w.json"), {"a": 1}) == 0
    assert (tmp_path / "g.txt").read_text() == "x" and json.loads(
        (tmp_path / "w.json").read_text()) == {"a": 1}
    assert main(["train", *KARATE_ONLY, "--json", str(tmp_path / "r.json")]) == 0
    assert json.loads((tmp_path / "r.json").read_text())["config"]["dataset"] == "karate"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["g.txt", "r.json", "w.json"]


def test_a_failure_after_a_swallowed_ctrl_c_is_the_interruption(tmp_path, capsys, monkeypatch):
    import sparsegraph.static

    def trace(*args, **kwargs):
        _SwallowedCtrlC()
        raise RuntimeError("no compiled object yet for <Library '_gat_scores'>")  # numba's

    monkeypatch.setattr(sparsegraph.static, "trace", trace)
    assert main(["graph", "--out", str(tmp_path / "g.dot")]) == 130
    assert err_lines(capsys) == ["sparsegraph graph: interrupted"]


def test_a_failure_without_ctrl_c_is_not_hidden(tmp_path, monkeypatch):
    import sparsegraph.static

    def trace(*args, **kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(sparsegraph.static, "trace", trace)
    with pytest.raises(RuntimeError, match="a bug"):
        main(["graph", "--out", str(tmp_path / "g.dot")])


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT to a child is POSIX's")
def test_sigint_to_a_training_process_exits_130_with_one_line(tmp_path):
    import select

    root = pathlib.Path(__file__).resolve().parents[1]  # this checkout's sparsegraph
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        filter(None, [str(root), os.environ.get("PYTHONPATH")]))}
    proc = subprocess.Popen(
        [sys.executable, "-m", "sparsegraph", "train", "--epochs", "1000000", "--runs", "1",
         "--json", str(tmp_path / "r.json")], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        cwd=tmp_path, env=env)
    try:
        seen, deadline = b"", time.monotonic() + 120
        while b"run 1/1" not in seen and time.monotonic() < deadline:  # the bar: training
            if select.select([proc.stderr], [], [], 0.1)[0]:
                seen += os.read(proc.stderr.fileno(), 1 << 16)
        assert b"run 1/1" in seen, seen
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
    err = (seen + err).decode()
    assert proc.returncode == 130, err
    # the message ends the output (a loaded machine can interrupt the bar mid-write, so the
    # bar's text may still precede it on the terminal's last line)
    assert err.rstrip().endswith("sparsegraph train: interrupted"), err
    assert "Traceback" not in err and "Exception ignored" not in err
    assert out == b"" and list(tmp_path.iterdir()) == []


def test_graph_dynamic_names_the_models_parameters(tmp_path, monkeypatch):
    masks = np.zeros(34, dtype=bool)
    masks[:4] = True
    text = _graph_text(tmp_path, monkeypatch, masks, "named.dot")
    assert "convs.0.lin.weight" in text and "convs.1.bias" in text
