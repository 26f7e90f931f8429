"""`Node2Vec`: shallow node embeddings learned from biased random walks with negative sampling
(Grover & Leskovec, "node2vec: Scalable Feature Learning for Networks", KDD 2016), as PyG's
``torch_geometric.nn.Node2Vec``.

Each walk of ``walk_length`` nodes is cut into its ``walk_length + 1 - context_size`` windows
of ``context_size`` nodes; the first node of a window is the centre, the others its context
(skip-gram). Negative windows start at the same nodes and continue with nodes drawn uniformly.
The walks are `sparsegraph.gnn.random_walk`'s (numba, counter-based, seeded from
`sparsegraph.manual_seed`'s generator); the downstream ``test`` is a multinomial logistic
regression fitted with scipy's L-BFGS, the model scikit-learn's ``LogisticRegression()`` fits.
"""

from __future__ import annotations

import warnings
from numbers import Real

import numpy as np
from scipy.optimize import minimize
from scipy.special import log_expit, log_softmax

import sparsegraph.ops as ops
from sparsegraph import backend
from sparsegraph.creation import rng_of
from sparsegraph.gnn.edge_args import count, edge_index_array, flag, node_count
from sparsegraph.gnn.random_walk import csr_of_edge_index, positive_number, random_walk
from sparsegraph.nn import Embedding, Module
from sparsegraph.tensor import Tensor, host_values, wrap

__all__ = ["Node2Vec"]

EPS = 1e-15  # PyG's: keeps log(p + EPS) finite where a sigmoid saturates to 0 or 1


def _host(op: str, name: str, value, kinds: str) -> np.ndarray:
    """``value`` (a Tensor, an array or a list) as a host numpy array of dtype kind ``kinds``."""
    if isinstance(value, Tensor):
        array = host_values(value.detach(), f"{op}: `{name}` read on the host")
        array = np.asarray(backend.to_device(array, "cpu"))
    elif isinstance(value, list | tuple | range) or hasattr(value, "__array__"):
        array = np.asarray(value)
    else:
        raise TypeError(f"{op}: expected `{name}` to be a Tensor or an array (got "
                        f"{type(value).__name__})")
    if array.dtype.kind not in kinds and not (array.size == 0 and "i" in kinds):
        what = "an integer" if kinds == "iu" else "a numeric"
        raise TypeError(f"{op}: expected `{name}` with {what} dtype (got {array.dtype})")
    return array


class Node2Vec(Module):
    r"""The node2vec model (Grover & Leskovec, KDD 2016), PyG's ``Node2Vec``: an embedding per
    node, trained so that nodes close on biased random walks get similar embeddings.

    Args:
        edge_index: ``(2, E)`` integer edges (a Tensor or an array); walks follow them from
            source to target (pass both directions for an undirected graph).
        embedding_dim: size of each embedding.
        walk_length: nodes per random walk (``walk_length - 1`` steps; PyG keeps the step
            count in ``self.walk_length``).
        context_size: nodes per skip-gram window (``<= walk_length``); a walk gives
            ``walk_length + 1 - context_size`` windows.
        walks_per_node: walks started at each node of a batch. (default: 1)
        p: return parameter: ``1 / p`` weighs stepping back to the previous node. (default: 1)
        q: in-out parameter: ``1 / q`` weighs moving away from it. (default: 1)
        num_negative_samples: negative windows per positive one. (default: 1)
        num_nodes: number of nodes (default: ``edge_index.max() + 1``).
        sparse: torch's sparse embedding gradient, for ``optim.SparseAdam`` (PyG's example):
            accepted; the gradient is a dense ``(N, D)`` array, zero on rows outside the
            batch's walks, and ``sg.optim.SparseAdam`` updates only its nonzero rows (torch's
            lazy Adam). (default: False)

    Shapes:
        ``forward(batch=None)``: the ``(N, D)`` embedding weight itself, or ``(B, D)`` rows.
        ``pos_sample(batch)`` / ``neg_sample(batch)``: ``(B * walks_per_node * W,
        context_size)`` int64 windows (times ``num_negative_samples`` for negatives),
        ``W = walk_length + 1 - context_size``, ordered window-major as PyG's ``cat``.
        ``loss(pos_rw, neg_rw)``: 0-d, ``-mean(log(sigmoid(z_c . z_w) + EPS))`` over the
        positive (centre, context) pairs plus ``-mean(log(1 - sigmoid(z_c . z_w) + EPS))``
        over the negative ones, ``EPS = 1e-15``.

    Random walks use ``sparsegraph.manual_seed``'s generator (one seed drawn per call), as do
    the negative nodes and the loader's shuffling (or the loader's ``generator=``).

    Raises:
        TypeError / ValueError: named arguments of the wrong kind or out of range
            (``context_size > walk_length`` included, PyG's assertion), batch nodes outside
            ``[0, N)``, walks that are not ``(B, L)`` integer arrays with ``B >= 1`` and
            ``L >= 2``.

    Example::

        model = Node2Vec(data.edge_index, 128, walk_length=20, context_size=10,
                         walks_per_node=10, num_negative_samples=1, p=1.0, q=1.0)
        opt = sg.optim.Adam(model.parameters(), lr=0.01)
        for pos_rw, neg_rw in model.loader(batch_size=128, shuffle=True):
            opt.zero_grad(); model.loss(pos_rw, neg_rw).backward(); opt.step()
    """

    def __init__(self, edge_index, embedding_dim: int, walk_length: int, context_size: int,
                 walks_per_node: int = 1, p: float = 1.0, q: float = 1.0,
                 num_negative_samples: int = 1, num_nodes: int | None = None,
                 sparse: bool = False):
        super().__init__()
        op = "Node2Vec"
        ei, _ = edge_index_array(op, edge_index)
        self.num_nodes = node_count(op, ei, num_nodes)
        self.rowptr, self.col = csr_of_edge_index(ei, self.num_nodes)
        embedding_dim = count(op, "embedding_dim", embedding_dim, 1)
        walk_length = count(op, "walk_length", walk_length, 1)
        context_size = count(op, "context_size", context_size, 1)
        if context_size > walk_length:
            raise ValueError(f"{op}: expected `context_size` <= `walk_length`={walk_length} "
                             f"(got {context_size})")
        self.EPS = EPS
        self.embedding_dim = embedding_dim
        self.walk_length = walk_length - 1  # PyG's: the number of steps
        self.context_size = context_size
        self.walks_per_node = count(op, "walks_per_node", walks_per_node, 1)
        self.p, self.q = positive_number(op, "p", p), positive_number(op, "q", q)
        self.num_negative_samples = count(op, "num_negative_samples", num_negative_samples, 1)
        self.sparse = flag(op, "sparse", sparse)
        self.embedding = Embedding(self.num_nodes, embedding_dim, sparse=sparse)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Redraw the embeddings from ``N(0, 1)``, as ``torch.nn.Embedding``."""
        self.embedding.reset_parameters()

    def forward(self, batch=None) -> Tensor:
        """The embeddings of the nodes in ``batch`` (all of them, the weight, when None)."""
        weight = self.embedding.weight
        if batch is None:
            return weight
        return ops.gather_rows(weight, self._batch("Node2Vec.forward", batch))

    def _batch(self, op: str, batch, name: str = "batch", ndim: int = 1) -> np.ndarray:
        b = _host(op, name, batch, "iu").astype(np.int64, copy=False)
        if b.ndim != ndim:
            raise ValueError(f"{op}: expected a {ndim}-D `{name}` of node ids (got shape "
                             f"{b.shape})")
        if b.size and (int(b.min()) < 0 or int(b.max()) >= self.num_nodes):
            bad = int(b.min()) if int(b.min()) < 0 else int(b.max())
            raise ValueError(f"{op}: expected node ids in `{name}` in [0, {self.num_nodes}) "
                             f"(got {bad})")
        return b

    def loader(self, **kwargs) -> NodeLoader:
        """Batches ``(pos_rw, neg_rw) = self.sample(ids)`` over the node ids ``0 .. N - 1``,
        as PyG's ``DataLoader(range(N), collate_fn=self.sample, **kwargs)``; see
        `NodeLoader` for the arguments."""
        return NodeLoader(self.num_nodes, self.sample, **kwargs)

    def _windows(self, rw: np.ndarray) -> Tensor:
        """Every window of ``context_size`` consecutive nodes, window-major: PyG's
        ``cat([rw[:, j:j + context_size] for j in ...])``."""
        win = np.lib.stride_tricks.sliding_window_view(rw, self.context_size, axis=1)
        return wrap(np.ascontiguousarray(win.transpose(1, 0, 2)).reshape(-1, self.context_size))

    def pos_sample(self, batch) -> Tensor:
        """Windows of ``walks_per_node`` node2vec walks from each node of ``batch``."""
        b = np.tile(self._batch("Node2Vec.pos_sample", batch), self.walks_per_node)
        seed = int(rng_of(None).integers(0, 2**63))
        return self._windows(random_walk(self.rowptr, self.col, b, self.walk_length,
                                         self.p, self.q, seed))

    def neg_sample(self, batch) -> Tensor:
        """Windows of ``walks_per_node * num_negative_samples`` walks from each node of
        ``batch`` whose other nodes are drawn uniformly from all ``N``."""
        b = np.tile(self._batch("Node2Vec.neg_sample", batch),
                    self.walks_per_node * self.num_negative_samples)
        rest = rng_of(None).integers(0, self.num_nodes, size=(b.shape[0], self.walk_length))
        return self._windows(np.concatenate([b[:, None], rest], axis=1))

    def sample(self, batch) -> tuple[Tensor, Tensor]:
        """``(pos_sample(batch), neg_sample(batch))``."""
        return self.pos_sample(batch), self.neg_sample(batch)

    def _side(self, op: str, name: str, rw, prob) -> Tensor:
        """``-mean(log(prob(sigmoid(z_centre . z_context)) + EPS))`` over ``rw``'s pairs."""
        w = self._batch(op, rw, name, ndim=2)
        if w.shape[1] < 2:
            raise ValueError(f"{op}: expected `{name}` of shape (B, L) with L >= 2, a centre "
                             f"node and its context (got shape {w.shape})")
        if w.shape[0] == 0:  # PyG's mean over no pairs is nan; name the empty batch instead
            raise ValueError(f"{op}: expected `{name}` with at least one walk window (B >= 1) "
                             f"(got shape {w.shape})")
        weight, (n, length) = self.embedding.weight, w.shape
        # numba gathers and one batched product: 4-10x faster than the lookups' np.add.at
        # backward and a broadcast multiply-sum (PyG's formulation; same values and gradient)
        h_start = ops.gather_rows(weight, w[:, 0]).reshape(n, 1, -1)  # (B, 1, D)
        h_rest = ops.gather_rows(weight, w[:, 1:].reshape(-1)).reshape(n, length - 1, -1)
        out = ops.matmul(h_rest, h_start.transpose(1, 2)).reshape(-1)  # (B * (L - 1),)
        return -ops.mean(ops.log(prob(ops.sigmoid(out)) + self.EPS))

    def loss(self, pos_rw, neg_rw) -> Tensor:
        """PyG's skip-gram loss with negative sampling (see the class docstring)."""
        op = "Node2Vec.loss"
        return (self._side(op, "pos_rw", pos_rw, lambda s: s)
                + self._side(op, "neg_rw", neg_rw, lambda s: 1 - s))

    def test(self, train_z, train_y, test_z, test_y, solver: str = "lbfgs", *args,
             **kwargs) -> float:
        """Accuracy on ``(test_z, test_y)`` of a logistic regression fitted on ``(train_z,
        train_y)``: PyG's ``LogisticRegression(solver, *args, **kwargs).fit(...).score(...)``
        without scikit-learn (`logistic_regression` lists the options it takes)."""
        op = "Node2Vec.test"
        zs = [_host(op, n, v, "iuf") for n, v in (("train_z", train_z), ("test_z", test_z))]
        ys = [_host(op, n, v, "iub") for n, v in (("train_y", train_y), ("test_y", test_y))]
        for z, y, part in ((zs[0], ys[0], "train"), (zs[1], ys[1], "test")):
            if z.ndim != 2 or y.ndim != 1 or y.shape[0] != z.shape[0]:
                raise ValueError(f"{op}: expected `{part}_z` (n, D) and `{part}_y` (n,) with "
                                 f"one label per row (got shapes {z.shape} and {y.shape})")
        if zs[0].shape[1] != zs[1].shape[1]:
            raise ValueError(f"{op}: expected `test_z` with {zs[0].shape[1]} columns as "
                             f"`train_z` (got {zs[1].shape[1]})")
        pred = logistic_regression(zs[0], ys[0], zs[1], solver, *args, op=op, **kwargs)
        return float(np.mean(pred == ys[1]))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.num_nodes}, {self.embedding_dim})"


class NodeLoader:
    """``torch.utils.data.DataLoader(range(num_nodes), collate_fn=collate_fn, ...)``: batches
    of node ids (lists, as torch's default sampler gives the collate function).

    Args:
        batch_size: ids per batch (>= 1). (default: 1, as torch's)
        shuffle: a fresh permutation every epoch. (default: False)
        drop_last: drop the last incomplete batch. (default: False)
        generator: a `sparsegraph.Generator` for the permutations (default: the global one).
        num_workers, pin_memory, persistent_workers, timeout, prefetch_factor: torch's,
            accepted for PyG scripts; batches are made in this process.
    """

    _ACCEPTED = ("num_workers", "pin_memory", "persistent_workers", "timeout",
                 "prefetch_factor", "worker_init_fn", "multiprocessing_context")

    def __init__(self, num_nodes: int, collate_fn, batch_size: int = 1, shuffle: bool = False,
                 drop_last: bool = False, generator=None, **kwargs):
        op = "Node2Vec.loader"
        unknown = sorted(set(kwargs) - set(self._ACCEPTED))
        if unknown:
            raise TypeError(f"{op}: unexpected keyword argument `{unknown[0]}` (takes "
                            f"batch_size, shuffle, drop_last, generator and torch "
                            f"DataLoader's worker options)")
        self.batch_size = count(op, "batch_size", batch_size, 1)
        self.shuffle, self.drop_last = flag(op, "shuffle", shuffle), flag(op, "drop_last",
                                                                             drop_last)
        rng_of(generator)  # a bad generator is named now, not at the first epoch
        self.num_nodes, self.collate_fn, self.generator = num_nodes, collate_fn, generator

    def __len__(self) -> int:
        full, rest = divmod(self.num_nodes, self.batch_size)
        return full + (rest > 0 and not self.drop_last)

    def __iter__(self):
        ids = (rng_of(self.generator).permutation(self.num_nodes) if self.shuffle
               else np.arange(self.num_nodes))
        for i in range(len(self)):
            yield self.collate_fn(ids[i * self.batch_size:(i + 1) * self.batch_size].tolist())


# ---- the downstream classifier: scikit-learn's LogisticRegression without scikit-learn -------
_LR_OPTIONS = ("penalty", "C", "tol", "max_iter", "fit_intercept", "multi_class",
               "random_state", "n_jobs", "verbose", "class_weight", "warm_start")


def logistic_regression(train_z, train_y, test_z, solver: str = "lbfgs", *args,
                        op: str = "logistic_regression", **kwargs) -> np.ndarray:
    """The labels scikit-learn's ``LogisticRegression(solver, *args, **kwargs)`` fitted on
    ``(train_z, train_y)`` predicts for ``test_z``.

    The model and objective are sklearn's lbfgs ones: ``C * sum_i loss_i + ||W||^2 / 2`` (the
    intercept is not penalised; ``penalty=None`` drops the second term), minimised by scipy's
    L-BFGS-B with sklearn's stopping rule (the objective divided by ``n``, ``gtol=tol``,
    ``maxiter=max_iter``, ``maxls=50``). ``multi_class="auto"``: with two classes one weight
    vector and the logistic loss, with more the multinomial (softmax) loss over one vector per
    class; ``"multinomial"`` always the latter; ``"ovr"`` one binary model per class (predicting
    the class of the largest score). Options (sklearn's defaults): ``penalty``
    ("l2"), ``C`` (1.0), ``tol`` (1e-4), ``max_iter`` (100), ``fit_intercept`` (True),
    ``multi_class`` ("auto"); ``random_state``, ``n_jobs``, ``verbose`` are accepted and
    unused, ``class_weight`` only None, ``warm_start`` only False. Not converging within
    ``max_iter`` warns, as sklearn's ConvergenceWarning (a UserWarning).
    """
    if solver != "lbfgs":
        raise ValueError(f"{op}: solver={solver!r} is not supported: the classifier is fitted "
                         "with L-BFGS (solver='lbfgs', scikit-learn's default)")
    if len(args) > 1:
        raise TypeError(f"{op}: expected at most one positional LogisticRegression argument, "
                        f"`penalty` (got {len(args)})")
    if args:
        if "penalty" in kwargs:
            raise TypeError(f"{op}: got `penalty` both positionally and by keyword")
        kwargs["penalty"] = args[0]
    unknown = sorted(set(kwargs) - set(_LR_OPTIONS))
    if unknown:
        raise TypeError(f"{op}: unsupported LogisticRegression option `{unknown[0]}` (takes "
                        f"{', '.join(_LR_OPTIONS)})")
    o = {"penalty": "l2", "C": 1.0, "tol": 1e-4, "max_iter": 100, "fit_intercept": True,
         "multi_class": "auto", "class_weight": None, "warm_start": False, **kwargs}
    if o["penalty"] not in ("l2", None, "none"):
        raise ValueError(f"{op}: expected penalty 'l2' or None, what lbfgs fits (got "
                         f"{o['penalty']!r})")
    for name in ("C", "tol"):
        if isinstance(o[name], bool) or not isinstance(o[name], Real) or not o[name] > 0:
            raise ValueError(f"{op}: expected `{name}` to be a number > 0 (got {o[name]!r})")
    max_iter = count(op, "max_iter", o["max_iter"], 0)
    fit_b = flag(op, "fit_intercept", o["fit_intercept"])
    if o["multi_class"] not in ("auto", "multinomial", "ovr"):
        raise ValueError(f"{op}: expected multi_class 'auto', 'multinomial' or 'ovr' (got "
                         f"{o['multi_class']!r})")
    if o["class_weight"] is not None or o["warm_start"] is not False:
        raise ValueError(f"{op}: only class_weight=None and warm_start=False are supported")
    x = np.asarray(train_z, np.float64)
    classes, y = np.unique(train_y, return_inverse=True)
    if classes.shape[0] < 2:
        raise ValueError(f"{op}: expected at least 2 classes in `train_y` (got "
                         f"{classes.shape[0]})")
    alpha = 0.0 if o["penalty"] in (None, "none") else 1.0 / (float(o["C"]) * x.shape[0])
    fit = (max_iter, float(o["tol"]), fit_b, alpha, op)
    t = np.asarray(test_z, np.float64)
    k = classes.shape[0]
    if o["multi_class"] == "multinomial" or (k > 2 and o["multi_class"] == "auto"):
        w = _lbfgs(_softmax_loss, (x, y, k, fit_b, alpha), k * (x.shape[1] + 1), *fit)
        w = w.reshape(k, -1)
        return classes[np.argmax(t @ w[:, :-1].T + w[:, -1], axis=1)]
    pos = [1] if k == 2 else range(k)
    w = np.stack([_lbfgs(_binary_loss, (x, np.where(y == c, 1.0, -1.0), fit_b, alpha),
                         x.shape[1] + 1, *fit) for c in pos])
    score = t @ w[:, :-1].T + w[:, -1]
    return classes[(score[:, 0] > 0).astype(np.int64) if len(pos) == 1 else score.argmax(1)]


def _lbfgs(fun, args, size, max_iter, tol, fit_b, alpha, op):
    res = minimize(fun, np.zeros(size), args=args, method="L-BFGS-B", jac=True,
                   options={"maxiter": max_iter, "maxls": 50, "gtol": tol,
                            "ftol": 64 * np.finfo(float).eps})
    if res.status == 1:
        warnings.warn(f"{op}: lbfgs failed to converge in max_iter={max_iter} iterations "
                      "(scikit-learn's ConvergenceWarning); increase `max_iter`", UserWarning,
                      stacklevel=4)
    return res.x


def _binary_loss(w, x, y, fit_b, alpha):
    """Mean logistic loss of labels ``y`` in {-1, +1} plus ``alpha / 2 ||coef||^2``, with
    its gradient (the last entry of ``w`` is the intercept)."""
    z = x @ w[:-1] + (w[-1] if fit_b else 0.0)
    n = x.shape[0]
    loss = -log_expit(y * z).sum() / n + 0.5 * alpha * w[:-1] @ w[:-1]
    g = -y * np.exp(log_expit(-y * z)) / n  # d loss / d z
    grad = np.append(x.T @ g + alpha * w[:-1], g.sum() if fit_b else 0.0)
    return loss, grad


def _softmax_loss(w, x, y, k, fit_b, alpha):
    """Mean multinomial cross entropy plus ``alpha / 2 ||coef||^2``, with its gradient;
    ``w`` is ``(k, D + 1)`` flattened, intercepts last."""
    w = w.reshape(k, -1)
    n = x.shape[0]
    logp = log_softmax(x @ w[:, :-1].T + (w[:, -1] if fit_b else 0.0), axis=1)
    loss = -logp[np.arange(n), y].sum() / n + 0.5 * alpha * (w[:, :-1] ** 2).sum()
    g = np.exp(logp)
    g[np.arange(n), y] -= 1.0
    g /= n
    gb = g.sum(0) if fit_b else np.zeros(k)
    return loss, np.concatenate([g.T @ x + alpha * w[:, :-1], gb[:, None]], axis=1).ravel()
