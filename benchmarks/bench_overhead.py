"""Autograd overhead against plain numpy doing the same arithmetic.

1. Per-op cost of a small elementwise op (``a * b + a`` on 16 floats): sparsegraph without and
   with a recorded graph (forward + backward) vs numpy.
2. A 2-layer MLP training step (forward, softmax cross-entropy, backward, Adam) on 1000 x 256
   inputs: sparsegraph vs a hand-written numpy implementation of the same maths.

Run:  python benchmarks/bench_overhead.py [--repeats 30] [--hidden 256] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

import sparsegraph as sg
import sparsegraph.nn.functional as F


def best_of(fn, repeats: int, inner: int = 1) -> float:
    """Median of ``repeats`` timings of ``inner`` calls, in seconds per call."""
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(inner):
            fn()
        times.append((time.perf_counter() - t0) / inner)
    return float(np.median(times))


def small_op(repeats: int) -> dict:
    an, bn = np.random.rand(16).astype(np.float32), np.random.rand(16).astype(np.float32)
    a, b = sg.tensor(an), sg.tensor(bn)
    ag, bg = sg.tensor(an, requires_grad=True), sg.tensor(bn, requires_grad=True)
    g = sg.ones(16)

    def numpy_op():
        return an * bn + an

    def sg_op():
        return a * b + a

    def sg_grad():
        (ag * bg + ag).backward(g)

    n = best_of(numpy_op, repeats, 2000)
    s = best_of(sg_op, repeats, 2000)
    sgrad = best_of(sg_grad, repeats, 500)
    return {"numpy_us": n * 1e6, "sg_no_grad_us": s * 1e6, "sg_fwd_bwd_us": sgrad * 1e6,
            "ratio_no_grad": s / n}


class NumpyMLP:
    """The same model, loss and Adam written directly in numpy (the floor to compare with)."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8):
        self.p = [p.copy() for p in params]
        self.m = [np.zeros_like(p) for p in self.p]
        self.v = [np.zeros_like(p) for p in self.p]
        self.lr, self.b1, self.b2, self.eps, self.t = lr, betas[0], betas[1], eps, 0

    def step(self, x, y):
        w1, b1, w2, b2 = self.p
        h_pre = x @ w1.T + b1
        h = np.maximum(h_pre, 0)
        logits = h @ w2.T + b2
        z = logits - logits.max(axis=1, keepdims=True)
        logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        loss = -logp[np.arange(len(y)), y].mean()
        g = np.exp(logp)
        g[np.arange(len(y)), y] -= 1
        g /= len(y)
        gw2, gb2 = g.T @ h, g.sum(0)
        gh = g @ w2
        gh *= h_pre > 0
        gw1, gb1 = gh.T @ x, gh.sum(0)
        self.t += 1
        for p, gp, m, v in zip(self.p, (gw1, gb1, gw2, gb2), self.m, self.v, strict=True):
            m *= self.b1
            m += (1 - self.b1) * gp
            v *= self.b2
            v += (1 - self.b2) * gp * gp
            mhat = m / (1 - self.b1**self.t)
            vhat = v / (1 - self.b2**self.t)
            p -= self.lr * mhat / (np.sqrt(vhat) + self.eps)
        return loss


def mlp_step(repeats: int, n: int, f: int, hidden: int, classes: int) -> dict:
    rng = np.random.default_rng(0)
    xn = rng.standard_normal((n, f)).astype(np.float32)
    yn = rng.integers(0, classes, n)
    sg.manual_seed(0)
    model = sg.nn.Sequential(sg.nn.Linear(f, hidden), sg.nn.ReLU(), sg.nn.Linear(hidden, classes))
    opt = sg.optim.Adam(model.parameters(), lr=1e-3)
    ref = NumpyMLP([p.detach().numpy() for p in model.parameters()])
    x, y = sg.tensor(xn), sg.tensor(yn)

    def sg_step():
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss

    def np_step():
        return ref.step(xn, yn)

    for _ in range(3):  # warm-up; also checks both compute the same losses
        a, b = float(sg_step().item()), float(np_step())
        assert abs(a - b) < 1e-3 * max(1.0, abs(b)), (a, b)
    t_sg = best_of(sg_step, repeats)
    t_np = best_of(np_step, repeats)
    return {"shape": [n, f, hidden, classes], "numpy_ms": t_np * 1e3, "sg_ms": t_sg * 1e3,
            "ratio": t_sg / t_np}


def main(argv=None) -> int:
    from sparsegraph.cli.common import FILE_PATH, POSITIVE_INT, file_problem

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=POSITIVE_INT, default=30)
    parser.add_argument("--hidden", type=POSITIVE_INT, default=256)
    parser.add_argument("--json", type=FILE_PATH, help="write the results here")
    args = parser.parse_args(argv)
    problem = file_problem("--json", args.json)
    if problem:
        parser.error(problem)
    results = {"small_op": small_op(args.repeats),
               "mlp_step": mlp_step(args.repeats, 1000, 256, args.hidden, 10)}
    so, ms = results["small_op"], results["mlp_step"]
    print(f"small op (a * b + a, 16 floats): numpy {so['numpy_us']:.2f} us, sparsegraph "
          f"{so['sg_no_grad_us']:.2f} us (x{so['ratio_no_grad']:.1f}), forward+backward "
          f"{so['sg_fwd_bwd_us']:.2f} us")
    print(f"MLP step 1000x256 -> {args.hidden} -> 10 (fwd + CE + bwd + Adam): numpy "
          f"{ms['numpy_ms']:.2f} ms, sparsegraph {ms['sg_ms']:.2f} ms, ratio {ms['ratio']:.2f}x")
    if args.json:
        import pathlib

        from sparsegraph.datasets.download import write_atomic

        write_atomic(pathlib.Path(args.json), json.dumps(results, indent=2).encode())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
