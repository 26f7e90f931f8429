"""Training loops: full-batch node classification and k-fold graph classification.

Both are deterministic for a seed (same seed -> identical numbers): the seed drives parameter
initialisation, dropout masks and shuffling.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Callable
from numbers import Integral

import numpy as np

import sparsegraph.ops as ops
from sparsegraph.autograd import no_grad
from sparsegraph.backend import to_device
from sparsegraph.creation import manual_seed
from sparsegraph.gnn.utils import reset_submodules
from sparsegraph.optim import Adam
from sparsegraph.tensor import Tensor


def accuracy(pred, target) -> float:
    """The fraction of ``pred`` equal to ``target``: class ids of the same shape (take
    ``logits.argmax(-1)`` first); NaN for none."""
    pred, target = np.asarray(pred), np.asarray(target)
    if pred.shape != target.shape:
        hint = "; pass class ids (logits.argmax(-1))" if pred.ndim == target.ndim + 1 else ""
        raise ValueError(f"accuracy: expected `pred` of the shape of `target` {target.shape} "
                         f"(got {pred.shape}){hint}")
    return float((pred == target).mean()) if target.size else float("nan")


def macro_f1(pred, target, num_classes: int | None = None) -> float:
    """Unweighted mean of per-class F1 over the classes present in target or pred."""
    pred, target = np.asarray(pred), np.asarray(target)
    classes = np.union1d(np.unique(target), np.unique(pred)) if num_classes is None else (
        np.arange(num_classes))
    scores = []
    for c in classes:
        tp = np.sum((pred == c) & (target == c))
        fp, fn = np.sum((pred == c) & (target != c)), np.sum((pred != c) & (target == c))
        scores.append(0.0 if tp == 0 else 2 * tp / (2 * tp + fp + fn))
    return float(np.mean(scores)) if scores else float("nan")


def _snapshot(model) -> dict:
    """A copy of the state dict (the optimizer updates parameters in place)."""
    return {k: Tensor(v.array.copy()) for k, v in model.state_dict().items()}


def _mask(graph, name: str, split: int | None, op: str):
    """The node ids ``graph.<name>`` selects (split ``split`` of a 2-D mask); errors name
    ``op``, the public function called."""
    m = getattr(graph, name)
    if m is None:
        raise ValueError(f"{op}: the graph has no `{name}`")
    m = np.asarray(to_device(m.array, "cpu") if isinstance(m, Tensor) else m)  # cupy refuses
    if m.ndim == 2:  # datasets with several stored splits: (num_splits, N)
        if split is not None and not 0 <= split < m.shape[0]:
            raise ValueError(f"{op}: expected `split` in [0, {m.shape[0]}), one of the "
                             f"{m.shape[0]} splits `{name}` holds (got {split})")
        m = m[split or 0]
    elif split is not None:  # a split index that selected nothing would go unnoticed
        raise ValueError(f"{op}: `split`={split} needs masks with several splits, shape "
                         f"(num_splits, N) (got `{name}` of shape {m.shape}); pass split=None")
    return np.flatnonzero(m)


def _check_schedule(epochs, patience, split) -> None:
    """ValueErrors naming the argument, before any work (negative values used to run 0
    epochs, or stop after the first, silently)."""
    if isinstance(epochs, bool) or not isinstance(epochs, Integral) or epochs < 1:
        raise ValueError(f"train_node_classifier: expected `epochs` to be an int >= 1 "
                         f"(got {epochs!r})")
    if patience is not None and (isinstance(patience, bool) or not isinstance(
            patience, Integral) or patience < 0):
        raise ValueError(f"train_node_classifier: expected `patience` to be None or an int "
                         f">= 0 (got {patience!r})")
    if split is not None and (isinstance(split, bool) or not isinstance(split, Integral)):
        raise ValueError(f"train_node_classifier: expected `split` to be None or an int "
                         f"(got {split!r})")


def node_classification_step(model, graph, optimizer, train=None):
    """One full-batch training step as a function: ``zero_grad``, forward on the whole graph,
    cross-entropy on the training nodes, ``backward``, ``optimizer.step``; it returns the loss.
    What `train_node_classifier`, the benchmarks and `sparsegraph.static.compile` run.

    Args:
        model: called as ``model(graph.x, graph.adj)`` -> ``(N, C)`` logits.
        graph: a `sparsegraph.Graph` with ``x``, ``adj``, ``y`` and ``train_mask``.
        optimizer: over ``model.parameters()``.
        train: indices of the training nodes (default: ``graph.train_mask``, its first split
            when it holds several).
    """
    x, adj = graph.x, graph.adj
    if train is None:
        train = _mask(graph, "train_mask", None, "node_classification_step")
    target = Tensor(to_device(graph.y.array, "cpu")[train])

    def step():
        optimizer.zero_grad()
        loss = ops.cross_entropy(model(x, adj)[train], target)
        loss.backward()
        optimizer.step()
        return loss

    return step


def _check_model_and_graph(op: str, model, graph) -> None:
    """A callable model with parameters and a Graph with node features and labels (missing
    ones failed later with AttributeErrors)."""
    if not callable(model) or not hasattr(model, "parameters"):
        raise TypeError(f"{op}: expected `model` to be a Module (got {type(model).__name__})")
    if not all(hasattr(graph, k) for k in ("x", "y", "adj")):
        raise TypeError(f"{op}: expected `graph` to be a Graph (got {type(graph).__name__})")
    for name in ("x", "y"):
        if getattr(graph, name) is None:
            raise ValueError(f"{op}: expected a graph with `{name}` (node "
                             f"{'features' if name == 'x' else 'labels'}); it has none")


def train_node_classifier(model, graph, *, epochs: int = 200, lr: float = 0.01,
                          weight_decay: float = 5e-4, patience: int | None = None,
                          split: int | None = None, seed: int | None = None,
                          on_epoch: Callable[[int, dict], None] | None = None,
                          compile_step: Callable | None = None) -> dict:
    """Full-batch training with Adam; keeps the parameters of the best validation epoch.

    Early stopping: training stops at the first epoch that ends ``patience`` consecutive epochs
    without a better validation loss or accuracy (``patience=0``: the first epoch without
    improvement; None: never); the best model is restored either way. Returns test/val
    accuracy and macro-F1 of the restored model, the best epoch and the per-epoch wall times
    (forward + backward + Adam step).

    ``seed``: ``manual_seed(seed)``, then every parameter is drawn again
    (``model.reset_parameters()``, or each submodule's), so the run depends on the seed alone,
    not on the generator's state when the model was built.

    ``compile_step``: e.g. `sparsegraph.static.compile`: the training step (zero_grad, forward,
    loss, backward, Adam) runs as a captured, optimised static graph (same numbers, less time
    and memory); evaluation stays eager.
    """
    _check_schedule(epochs, patience, split)
    _check_model_and_graph("train_node_classifier", model, graph)
    x, adj = graph.x, graph.adj
    y = to_device(graph.y.array, "cpu")
    train, val, test = (_mask(graph, f"{k}_mask", split, "train_node_classifier")
                         for k in ("train", "val", "test"))
    for name, idx in (("train_mask", train), ("val_mask", val)):
        if idx.size == 0:  # no best epoch could be chosen, nor a loss computed
            raise ValueError(f"train_node_classifier: `{name}` selects no nodes; training "
                             f"and model selection need at least one")
    if seed is not None:
        manual_seed(seed)
        if hasattr(model, "reset_parameters"):
            model.reset_parameters()
        else:  # a user's model: PyG's reset over its layers
            reset_submodules(model)
    opt = Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    best = {"val_loss": np.inf, "val_acc": -1.0, "epoch": -1, "state": None}
    times, bad = [], 0
    step = node_classification_step(model, graph, opt, train)
    if compile_step is not None:
        step = compile_step(step)
    for epoch in range(epochs):
        t0 = time.perf_counter()
        model.train()
        loss = step()
        times.append(time.perf_counter() - t0)
        model.eval()
        with no_grad():
            out = model(x, adj)
            pred = to_device(out.array.argmax(axis=1), "cpu")
            val_loss = float(ops.cross_entropy(out[val], Tensor(y[val])).item())
        val_acc = accuracy(pred[val], y[val])
        improved = val_loss < best["val_loss"] or val_acc > best["val_acc"]
        if improved:
            if val_acc >= best["val_acc"]:
                best.update(epoch=epoch, state=_snapshot(model))
            best["val_loss"] = min(best["val_loss"], val_loss)
            best["val_acc"] = max(best["val_acc"], val_acc)
            bad = 0
        else:
            bad += 1
        if on_epoch is not None:
            on_epoch(epoch, {"loss": float(loss.item()), "val_loss": val_loss,
                             "val_acc": val_acc})
        if patience is not None and not improved and bad >= patience:
            break  # only after an epoch without improvement: patience=0 stops at the first
    if best["state"] is not None:
        model.load_state_dict(best["state"])
    model.eval()
    with no_grad():
        pred = to_device(model(x, adj).array.argmax(axis=1), "cpu")
    return {"test_acc": accuracy(pred[test], y[test]), "val_acc": accuracy(pred[val], y[val]),
            "train_acc": accuracy(pred[train], y[train]),
            "test_macro_f1": macro_f1(pred[test], y[test]), "best_epoch": best["epoch"],
            "epochs_run": len(times), "epoch_times_s": times}


def train_graph_classifier(make_model: Callable[[], object], graphs: list, folds: list, *,
                           epochs: int = 350, batch_size: int = 32, lr: float = 0.01,
                           weight_decay: float = 0.0, step_size: int = 50, gamma: float = 0.5,
                           seed: int = 0,
                           on_epoch: Callable[[int, int, float], None] | None = None) -> dict:
    """k-fold graph classification, the GIN paper's protocol.

    Each fold trains a fresh model with Adam (lr halved every ``step_size`` epochs) on the
    fold's training graphs and records test accuracy after every epoch. Reported: the epoch
    whose accuracy averaged over folds is best (the paper's protocol), and the last epoch.

    Args:
        make_model: builds a fresh model ``model(x, adj, batch) -> (G, C)`` logits; one whose
            forward takes ``num_graphs`` (as models.GIN) is given the batch's, so graphs
            without nodes keep their rows.
        graphs: list (or dataset) of Graphs with a graph-level integer label ``y``.
        folds: list of ``(train_idx, test_idx)`` index arrays.
        weight_decay: Adam's L2 penalty (the paper uses none). (default: 0.0)

    Returns:
        dict: ``test_acc_mean`` / ``test_acc_std`` (mean and `sample_std` over the folds at
        the best epoch, as the CLI reports; 0 for one fold), ``best_epoch``,
        ``last_epoch_acc_mean``, ``fold_accs`` and
        ``epoch_times_s`` (seconds per epoch, training plus evaluation, every fold).
    """
    from sparsegraph.graph import Graph, graph_list
    from sparsegraph.optim.lr_scheduler import StepLR

    graphs = graph_list("train_graph_classifier", graphs)  # one Graph iterates as pairs
    labels = np.array([int(np.asarray(g.y.array).reshape(-1)[0]) for g in graphs])
    curves = np.zeros((len(folds), epochs))
    rng = np.random.default_rng(seed)
    times = []
    for f, (train_idx, test_idx) in enumerate(folds):
        manual_seed(seed + f)
        model = make_model()
        counts = "num_graphs" in inspect.signature(model.forward).parameters

        def logits(b, model=model, counts=counts):
            extra = {"num_graphs": b.num_graphs} if counts else {}
            return model(b.x, b.adj, b.batch, **extra)

        opt = Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
        sched = StepLR(opt, step_size=step_size, gamma=gamma)
        test_batch = Graph.batch([graphs[i] for i in test_idx])
        for epoch in range(epochs):
            t0 = time.perf_counter()
            model.train()
            order = rng.permutation(np.asarray(train_idx))
            for start in range(0, order.size, batch_size):
                idx = order[start:start + batch_size]
                if idx.size < 2:  # batch norm needs more than one graph
                    continue
                b = Graph.batch([graphs[i] for i in idx])
                opt.zero_grad()
                loss = ops.cross_entropy(logits(b), Tensor(labels[idx]))
                loss.backward()
                opt.step()
            sched.step()
            model.eval()
            with no_grad():
                out = logits(test_batch)
            pred = to_device(out.array.argmax(axis=1), "cpu")
            curves[f, epoch] = accuracy(pred, labels[test_idx])
            times.append(time.perf_counter() - t0)
            if on_epoch is not None:
                on_epoch(f, epoch, curves[f, epoch])
    mean_curve = curves.mean(axis=0)
    best = int(mean_curve.argmax())
    return {"test_acc_mean": float(mean_curve[best]),
            "test_acc_std": sample_std(curves[:, best]),
            "best_epoch": best, "last_epoch_acc_mean": float(mean_curve[-1]),
            "fold_accs": curves[:, best].tolist(), "epoch_times_s": times}


def sample_std(values) -> float:
    """The sample standard deviation of ``values`` (ddof=1: PyTorch's ``Tensor.std()`` and
    what papers report as ``mean ± std``); 0.0 for a single value (the CLI prints no spread
    for it)."""
    values = np.asarray(values, dtype=np.float64)
    return float(values.std(ddof=1)) if values.size > 1 else 0.0
