"""`sparsegraph train --folds` beyond the dataset's graph count: one line naming the flag and
the limit, status 2 (a fold needs at least one test graph), not a traceback."""

import pytest

from sparsegraph.cli import main


@pytest.mark.dataset
@pytest.mark.parametrize("folds", ["189", "500"])
def test_more_folds_than_graphs_is_one_line_and_status_2(folds, data_root, capsys):
    argv = ["train", "--dataset", "mutag", "--model", "gin", "--epochs", "1", "--runs", "1",
            "--folds", folds, "--quiet", "--root", str(data_root), "--no-download"]
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err and captured.out == ""
    assert captured.err.strip().splitlines() == [
        f"sparsegraph train: --folds {folds}: mutag has 188 graphs (expected 2 <= --folds "
        "<= 188)"]
