"""`sparsegraph train`: train a GNN on a dataset with the paper's settings, over several seeds.

Node-classification datasets (Planetoid, npz graphs, karate, synthetic presets) run full-batch
training with early stopping per seed; TU datasets run the GIN paper's 10-fold protocol.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import textwrap

import numpy as np

from sparsegraph.cli.common import (
    FILE_PATH,
    FOLDER_PATH,
    POSITIVE_INT,
    SEED,
    checked,
    dataset_message,
    file_problem,
    no_split_message,
    progress,
    root_problem,
    split_problem,
)

# per-model defaults: the papers' hyper-parameters (APPNP's paper puts its 5e-3 L2 penalty on
# the first layer only; on every parameter that over-regularises, so we use PyG's 5e-4). A
# model's keys are the flags it takes: the others are refused, so the JSON config is what ran
# (SGC has no dropout; GIN's protocol runs every epoch and picks the best mean fold accuracy,
# so it has no early stopping)
DEFAULTS = {
    "gcn": dict(hidden=16, lr=0.01, weight_decay=5e-4, dropout=0.5, epochs=200, patience=None),
    "gat": dict(hidden=8, heads=8, lr=0.005, weight_decay=5e-4, dropout=0.6, epochs=1000,
                patience=100),
    "sage": dict(hidden=64, lr=0.01, weight_decay=5e-4, dropout=0.5, epochs=200, patience=None),
    "sgc": dict(lr=0.2, weight_decay=5e-5, epochs=100, patience=None, K=2),
    "appnp": dict(hidden=64, lr=0.01, weight_decay=5e-4, dropout=0.5, epochs=1000,
                  patience=100, K=10, alpha=0.1),
    "mlp": dict(hidden=64, lr=0.01, weight_decay=5e-4, dropout=0.5, epochs=200, patience=None),
    "gin": dict(hidden=32, lr=0.01, weight_decay=0.0, dropout=0.5, epochs=350, batch_size=32,
                folds=10),
}
MODELS = tuple(DEFAULTS)
# the defaults above that are PyG's (its examples), not the paper's: APPNP's weight decay (see
# above) and GCN's fixed 200 epochs (the paper stops early on a window of 10)
PYG_VALUES = {("appnp", "weight_decay"), ("gcn", "patience")}


# flag -> parser: the ranges a user can get wrong without a traceback
_FLAGS = {
    "epochs": POSITIVE_INT, "lr": checked(float, lambda v: v > 0, "a number > 0"),
    "weight-decay": checked(float, lambda v: v >= 0, "a number >= 0"),
    "hidden": POSITIVE_INT, "heads": POSITIVE_INT,
    "dropout": checked(float, lambda v: 0 <= v < 1, "a probability in [0, 1)"),
    "patience": checked(int, lambda v: v >= 0, "an int >= 0"),
    "batch-size": POSITIVE_INT, "folds": checked(int, lambda v: v >= 2, "an int >= 2"),
}


def _value(value) -> str:
    return "none" if value is None else f"{value:g}" if isinstance(value, float) else str(value)


def defaults_table() -> str:
    """`train --help`'s epilog: DEFAULTS as a table, one column per model, one row per flag
    (then the settings that are not flags)."""
    keys = [n.replace("-", "_") for n in _FLAGS]
    keys += [k for cfg in DEFAULTS.values() for k in cfg if k not in keys]
    keys = [k for k in dict.fromkeys(keys) if any(k in cfg for cfg in DEFAULTS.values())]
    rows = [["", *DEFAULTS]]
    for key in keys:
        flag = key.replace("_", "-")
        rows.append([f"--{flag}" if flag in _FLAGS else f"{key} (fixed)"]
                    + ["-" if key not in cfg else
                       _value(cfg[key]) + ("*" if (model, key) in PYG_VALUES else "")
                       for model, cfg in DEFAULTS.items()])
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  " + "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
             for r in rows]
    note = ("defaults per model: the paper's hyper-parameters, * = PyG's value instead; - = "
            "the model does not take the flag (given, it is refused); patience none = a "
            "fixed number of epochs, no early stopping; (fixed) = not a flag")
    return textwrap.fill(note, 79) + "\n" + "\n".join(lines)


RESULTS_HELP = textwrap.fill(
    "results (printed; the --json fields): test_acc_mean: the mean test accuracy, %; "
    "test_acc_std: the ± printed, the sample standard deviation (ddof=1, as PyTorch's std() "
    "and most papers) of the runs' test accuracies, for gin of every fold's (the protocol's "
    "spread), null for a single run of a node model; test_acc_std_over: 'runs' or 'folds' "
    "(null with test_acc_std); test_accs: each run's, %; val_acc_mean: %; "
    "epoch_time_median_s: the median epoch time, s, leaving out each run's first epoch "
    "(numba compilation, --static's capture) when every run has two or more; "
    "epoch_time_first_left_out: whether it did; peak_rss_mb; config: what ran.", 79)


def trainable_datasets() -> tuple[list[str], list[str]]:
    """``(accepted, refused)`` dataset names: `known_datasets` split by `without_split`, the
    check `cmd_train` refuses a dataset with."""
    from sparsegraph.datasets.registry import known_datasets, without_split

    names = known_datasets()
    return ([n for n in names if not without_split(n)], [n for n in names if without_split(n)])


class _TrainHelp(argparse.RawDescriptionHelpFormatter):
    """Keeps the defaults table as written, and lists the datasets only when help is printed
    (the list imports sparsegraph.datasets, which other commands never need)."""

    def _get_help_string(self, action):
        if action.dest != "dataset":
            return action.help
        accepted, refused = trainable_datasets()
        return (", ".join(accepted) + (f"; refused, no stored train/val/test split: "
                                       f"{', '.join(refused)}" if refused else "")
                + " (default: %(default)s)")


def add_train_parser(sub) -> None:
    p = sub.add_parser("train", help="train a GNN (paper settings) and report test accuracy",
                       epilog=defaults_table() + "\n\n" + RESULTS_HELP,
                       formatter_class=_TrainHelp)
    p.add_argument("--dataset", default="karate", help="(listed by _TrainHelp)")
    p.add_argument("--model", default="gcn", choices=MODELS,
                   help="the model; the flags below apply where it takes them, others are "
                        "refused (default: gcn)")
    for name, kind in _FLAGS.items():
        p.add_argument(f"--{name}", type=kind, default=None,
                       help="default: the model's (see below)")
    p.add_argument("--runs", type=POSITIVE_INT, default=10,
                   help="seeds to average (default: 10)")
    p.add_argument("--seed", type=SEED, default=0,
                   help="first seed (default: 0)")
    p.add_argument("--device", default="cpu",
                   help="cpu, cuda or cuda:N (needs the `gpu` extra and a GPU; default: cpu)")
    p.add_argument("--root", type=FOLDER_PATH, default=None,
                   help="data root (default: $SPARSEGRAPH_DATA, then the user cache)")
    p.add_argument("--no-download", action="store_true", help="never touch the network")
    p.add_argument("--static", action="store_true",
                   help="run each training step as a captured, optimised static graph "
                        "(sparsegraph.static.compile; node classification)")
    p.add_argument("--json", type=FILE_PATH, default=None, metavar="PATH",
                   help="write results as JSON (fields: see below)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=cmd_train)


def unused_flags(args) -> list[str]:
    """The flags given that ``--model`` does not take (its DEFAULTS have no such key)."""
    return [f"--{name}" for name in _FLAGS
            if getattr(args, name.replace("-", "_"), None) is not None
            and name.replace("-", "_") not in DEFAULTS[args.model]]


def unused_problem(args) -> str | None:
    """One line refusing the flags ``--model`` does not take (None when there are none)."""
    unused = unused_flags(args)
    if not unused:
        return None
    takes = [f"--{k.replace('_', '-')}" for k in DEFAULTS[args.model]
             if k.replace("_", "-") in _FLAGS]
    return (f"{', '.join(unused)}: not used by --model {args.model} (it takes "
            f"{', '.join(takes)}); drop {'them' if len(unused) > 1 else 'it'}")


def config_for(args) -> dict:
    cfg = dict(DEFAULTS[args.model])
    for key in ("epochs", "lr", "weight_decay", "hidden", "heads", "dropout", "patience",
                "batch_size", "folds"):
        value = getattr(args, key)
        if value is not None:
            cfg[key] = value
    cfg.update(model=args.model, dataset=args.dataset, runs=args.runs, seed=args.seed,
               device=args.device, static=bool(getattr(args, "static", False)))
    return cfg


def build_model(cfg: dict, num_features: int, num_classes: int):
    from sparsegraph.gnn import models

    name, hidden, dropout = cfg["model"], cfg.get("hidden"), cfg.get("dropout", 0.0)
    if name == "gcn":
        return models.GCN(num_features, hidden, 2, num_classes, dropout=dropout)
    if name == "gat":
        return models.GAT(num_features, hidden, 2, num_classes, dropout=dropout,
                          heads=cfg["heads"])
    if name == "sage":
        return models.GraphSAGE(num_features, hidden, 2, num_classes, dropout=dropout)
    if name == "sgc":
        return models.SGC(num_features, num_classes, K=cfg["K"])
    if name == "appnp":
        return models.APPNP(num_features, hidden, 2, num_classes, dropout=dropout, K=cfg["K"],
                            alpha=cfg["alpha"])
    if name == "mlp":
        return models.MLP(num_features, hidden, 2, num_classes, dropout=dropout, norm=None)
    return models.GIN(num_features, hidden, 4, num_classes, dropout=dropout)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def run_node_classification(cfg, graph, quiet: bool) -> dict:
    """``test_accs`` / ``val_accs`` per run and ``epoch_times``: each run's epoch times (s)."""
    from sparsegraph.gnn.train import train_node_classifier

    tests, vals, times = [], [], []
    num_classes = int(graph.y.array.max()) + 1  # numpy or cupy: never np.asarray a device array
    for run in range(cfg["runs"]):
        seed = cfg["seed"] + run
        from sparsegraph.creation import manual_seed

        manual_seed(seed)
        model = build_model(cfg, graph.num_features, num_classes).to(cfg["device"])
        # a `with`: the bar is cleared when Ctrl-C ends the run, before "interrupted"; its
        # ticks end the run if numba's compiler swallowed the Ctrl-C (see common._Sigint)
        with progress(cfg["epochs"], f"run {run + 1}/{cfg['runs']}", quiet) as bar:

            def tick(epoch, stats, bar=bar):
                bar.update(1)
                bar.set_postfix(loss=f"{stats['loss']:.3f}", val=f"{stats['val_acc']:.3f}")

            split = run % graph.train_mask.shape[0] if graph.train_mask.ndim == 2 else None
            compile_step = None
            if cfg.get("static"):
                from sparsegraph.static import compile as compile_step
            res = train_node_classifier(model, graph, epochs=cfg["epochs"], lr=cfg["lr"],
                                        weight_decay=cfg["weight_decay"],
                                        patience=cfg["patience"], split=split, on_epoch=tick,
                                        compile_step=compile_step)
        tests.append(res["test_acc"])
        vals.append(res["val_acc"])
        times.append(res["epoch_times_s"])
    return {"test_accs": tests, "val_accs": vals, "epoch_times": times}


def run_graph_classification(cfg, graphs, folds_fn, quiet: bool) -> dict:
    """As `run_node_classification`, plus ``fold_accs``: every run's fold accuracies."""
    from sparsegraph.gnn.train import train_graph_classifier

    labels = np.array([int(g.y.array.reshape(-1)[0]) for g in graphs])
    num_classes, num_features = int(labels.max()) + 1, graphs[0].num_features
    tests, fold_accs, times = [], [], []
    for run in range(cfg["runs"]):
        seed = cfg["seed"] + run
        folds = folds_fn(labels, cfg["folds"], seed)
        with progress(cfg["folds"] * cfg["epochs"], f"run {run + 1}/{cfg['runs']}",
                       quiet) as bar:
            res = train_graph_classifier(
                lambda: build_model(cfg, num_features, num_classes), graphs, folds,
                epochs=cfg["epochs"], batch_size=cfg["batch_size"], lr=cfg["lr"],
                weight_decay=cfg["weight_decay"], seed=seed,
                on_epoch=lambda f, e, acc, bar=bar: bar.update(1))
        tests.append(res["test_acc_mean"])
        fold_accs.extend(res["fold_accs"])
        times.append(res["epoch_times_s"])
    # the GIN paper reports the cross-validation accuracy: the held-out fold is both what
    # selects the epoch and what is scored, so val = test here, and the spread is over folds
    return {"test_accs": tests, "val_accs": tests, "epoch_times": times,
            "fold_accs": fold_accs}


def steady_epoch_times(per_run: list[list[float]]) -> tuple[list[float], bool]:
    """``(times, first_left_out)``: every run's epoch times, less each run's first epoch when
    every run has at least two. The first epoch of a run pays one-time costs, not the model's:
    numba compiles (or loads) its kernels in the first run's, and ``--static`` captures and
    optimises the step in every run's (10 to 100x a steady epoch); with one epoch per run
    there is nothing else to report, and ``first_left_out`` is False."""
    left_out = bool(per_run) and all(len(times) >= 2 for times in per_run)
    return [t for times in per_run for t in times[1 if left_out else 0:]], left_out


def summarize(cfg, out: dict) -> dict:
    """The results JSON (its fields are listed in `train --help`, `RESULTS_HELP`)."""
    from sparsegraph.gnn.train import sample_std  # one definition, the library's

    tests = np.array(out["test_accs"]) * 100
    spread = np.array(out.get("fold_accs", out["test_accs"])) * 100  # GIN: over the folds
    times, left_out = steady_epoch_times(out["epoch_times"])
    std = sample_std(spread) if spread.size > 1 else None  # one value has no spread
    return {
        "test_acc_mean": float(tests.mean()), "test_acc_std": std,
        "test_acc_std_over": ("folds" if "fold_accs" in out else "runs") if std is not None
        else None,
        "val_acc_mean": float(np.mean(out["val_accs"]) * 100) if out["val_accs"] else None,
        "epoch_time_median_s": float(np.median(times)) if times else None,
        "epoch_time_first_left_out": left_out,
        "peak_rss_mb": peak_rss_mb(), "test_accs": tests.tolist(), "config": cfg,
    }


def summary_lines(result: dict) -> list[str]:
    """What `train` prints: the median epoch time (saying whether the first epoch of each run
    is in it) and peak RSS, then the accuracy as mean ± sample std, saying over what."""
    cfg, lines = result["config"], []
    if result["epoch_time_median_s"] is not None:
        which = ("each run's first epoch left out: compilation, warm-up" if
                 result["epoch_time_first_left_out"] else "one epoch per run: includes "
                 "compilation")
        lines.append(f"median epoch time: {result['epoch_time_median_s'] * 1e3:.1f} ms "
                     f"({which}); peak RSS {result['peak_rss_mb']:.0f} MB")
    runs = f"{cfg['runs']} run{'s' if cfg['runs'] != 1 else ''}"
    mean, std = f"{result['test_acc_mean']:.1f}", result["test_acc_std"]
    if std is None:
        lines.append(f"test accuracy: {mean} % (1 run: no spread)")
    else:  # GIN: every fold's accuracy (the mean of the runs' fold means is their mean)
        over = (f"the {cfg['runs'] * cfg['folds']} folds of {runs}"
                if result["test_acc_std_over"] == "folds" else runs)
        lines.append(f"test accuracy: {mean} ± {std:.1f} % (mean ± sample std over {over})")
    return lines


def device_error(device: str) -> str | None:
    """Why ``--device`` cannot be used, in one line (None when it can); commands that take
    ``--device`` print it and exit with status 2 instead of a traceback."""
    from sparsegraph import backend

    try:
        dev = backend.normalize_device(device)
    except ValueError as exc:
        return "--device: " + str(exc).removeprefix("device: ")
    if dev == "cpu":
        return None
    if not backend.cuda_available():
        return f"--device {dev}: {backend.cuda_status()}"
    count = backend.cupy_module().cuda.runtime.getDeviceCount()
    if int(dev.split(":")[1]) >= count:
        return f"--device {dev}: this machine has {count} CUDA device(s) (cuda:0 to cuda:" \
               f"{count - 1})"
    return None


def cmd_train(args: argparse.Namespace) -> int:
    from sparsegraph.datasets import DatasetUnavailable, load_for_training

    cfg = config_for(args)
    problem = (unused_problem(args) or device_error(cfg["device"])
               or file_problem("--json", args.json) or root_problem(args.root))
    if problem is not None:
        print(f"sparsegraph train: {problem}", file=sys.stderr)
        return 2  # said now, not after the training
    problem = split_problem(args.dataset, "train")  # before its files are read
    if problem is not None:
        print(problem, file=sys.stderr)
        return 2
    try:
        task, data, folds_fn = load_for_training(args.dataset, root=args.root,
                                                 download=not args.no_download)
    except (DatasetUnavailable, NotADirectoryError, ValueError) as exc:
        # ValueError: an unknown dataset name; NotADirectoryError: a file where the dataset's
        # folder under the root goes. The user is at the command line: name the flag, not
        # the Python keyword
        hint = " (or drop --no-download)" if args.no_download else ""
        print(f"sparsegraph train: {dataset_message(exc, args.root, hint)}", file=sys.stderr)
        return 2
    if task == "graph" and cfg["model"] != "gin":
        print(f"sparsegraph train: {args.dataset} is a graph-classification dataset; use "
              "--model gin", file=sys.stderr)
        return 2
    if task == "graph" and cfg["device"] != "cpu":
        print(f"sparsegraph train: --device {cfg['device']}: graph classification ({args.dataset}) "
              "runs on the CPU only; drop --device", file=sys.stderr)
        return 2
    if task == "graph" and cfg["static"]:
        print("sparsegraph train: --static applies to node classification; drop it for "
              f"{args.dataset}", file=sys.stderr)
        return 2
    if task == "graph" and cfg["folds"] > len(data):  # each fold needs a test graph
        print(f"sparsegraph train: --folds {cfg['folds']}: {args.dataset} has {len(data)} "
              f"graphs (expected 2 <= --folds <= {len(data)})", file=sys.stderr)
        return 2
    if task == "node" and cfg["model"] == "gin":
        print("sparsegraph train: gin is for graph classification (TU datasets such as "
              "mutag, proteins); pick gcn, gat, sage, sgc, appnp or mlp", file=sys.stderr)
        return 2
    if task == "node" and data.train_mask is None:  # caught above for the known names
        print(no_split_message(args.dataset), file=sys.stderr)
        return 2
    try:
        if task == "node":
            if cfg["device"] != "cpu":  # the model follows in run_node_classification
                data = data.to(cfg["device"])
            out = run_node_classification(cfg, data, args.quiet)
        else:
            out = run_graph_classification(cfg, data, folds_fn, args.quiet)
    except MemoryError as exc:  # numpy's (or cupy's) refusal of an array too large
        print(f"sparsegraph train: {memory_message(cfg, args.dataset, exc)}", file=sys.stderr)
        return 2
    result = summarize(cfg, out)
    for line in summary_lines(result):
        print(line)
    if args.json:
        return write_json(args.json, result)
    return 0


def memory_message(cfg: dict, dataset: str, exc: BaseException) -> str:
    """The one line for a MemoryError while training: the sizes asked for (the model's size
    flags, with the defaults they fell back to) and what could not be allocated."""
    sizes = ", ".join(f"--{key.replace('_', '-')} {cfg[key]}"
                      for key in ("hidden", "heads", "batch_size") if key in cfg)
    why = str(exc).strip() or type(exc).__name__
    return (f"out of memory training --model {cfg['model']} on {dataset}"
            + (f" with {sizes}" if sizes else "") + f" ({why}); pick smaller sizes")


def write_json(path: str, result: dict) -> int:
    """Write ``result`` to ``path`` through a temp file and a rename (`write_atomic`): never
    half a file, not even when Ctrl-C lands mid-write (the temp file goes too). 0, or 2 with
    one line."""
    import pathlib

    from sparsegraph.datasets.download import write_atomic

    try:
        write_atomic(pathlib.Path(path), json.dumps(result, indent=2).encode())
    except OSError as exc:  # e.g. the path became a folder during the training
        print(f"sparsegraph train: --json: cannot write {path}: {exc.strerror}",
              file=sys.stderr)
        return 2
    return 0
