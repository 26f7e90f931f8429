"""Compare eager and static (sparsegraph.static.compile) training steps and each graph pass.

Measured: step time, peak memory, and the contribution of each graph pass (ablation: all
passes minus one).

Every variant runs in a fresh process (so peak RSS is its own) and trains the same model from
the same seed. Reported per variant:
- step time: median over ``--steps`` steps after two warm-up steps (the first compiled call
  traces);
- step peak: the most bytes numpy/Python held at once during one step above what was held
  before it (tracemalloc, which sees every numpy allocation; measured on a separate step, as
  tracing allocations slows the step);
- peak RSS of the process (includes the data, the model and the interpreter).

Run:  python benchmarks/bench_static.py --root ../shared/data --models gcn gat \
          --datasets cora synthetic:arxiv
      python benchmarks/bench_static.py --interleave --root ../shared/data --models gcn gat \
          --datasets cora karate
(``--interleave``: eager and static models train side by side in ONE process, alternating
blocks of steps, so both see the same machine load; prints the median step times and their
ratio. Use it for the speed ratio on a shared machine.)
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
import tracemalloc

import numpy as np


def build(model: str, g, num_classes: int, dataset: str):
    """The `sparsegraph bench models` configurations; GCN on a synthetic preset is the
    arxiv-scale 3 x 256 one (issue 5's)."""
    from sparsegraph.cli.bench_models import build_model

    if model == "gcn" and dataset.startswith("synthetic:"):
        model = "gcn3x256"
    return build_model(model, g, num_classes)


def one(model: str, dataset: str, root, steps: int, variant: str) -> dict:
    import sparsegraph as sg
    from sparsegraph import static
    from sparsegraph.datasets import load_for_training

    parse_variant(variant)  # (--one is not checked by argparse)
    _, g, _ = load_for_training(dataset, root=root, download=False)
    sg.manual_seed(0)
    net = build(model, g, int(np.asarray(g.y.array).max()) + 1, dataset)
    opt = sg.optim.Adam(net.parameters(), lr=0.01, weight_decay=5e-4)
    step = static.node_classification_step(net, g, opt)
    if variant == "eager":
        fn = step
    else:
        from sparsegraph.static.passes import DEFAULT_PASSES as PASSES

        passes = {"static": list(PASSES), "static-none": []}.get(variant)
        if passes is None:  # "static-no-<pass>"
            passes = [p for p in PASSES if p != variant.removeprefix("static-no-")]
        fn = static.compile(step, passes=passes)
    times, losses = [], []
    for _ in range(steps + 2):
        t0 = time.perf_counter()
        loss = fn()
        times.append(time.perf_counter() - t0)
        losses.append(float(loss.detach().numpy()))
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    tracemalloc.reset_peak()
    fn()
    peak = tracemalloc.get_traced_memory()[1] - base
    tracemalloc.stop()
    out = {"model": model, "dataset": dataset, "variant": variant,
           "step_ms_median": 1e3 * float(np.median(times[2:])),
           "step_ms_min": 1e3 * float(np.min(times[2:])),
           "step_peak_mb": peak / 2**20,
           "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
           "last_loss": losses[-1]}
    if variant != "eager":
        out["plan"] = str(fn.plan())
        out["nodes"] = len(fn.graph.nodes)
    return out


def interleaved(model: str, dataset: str, root, steps: int, rounds: int = 10) -> dict:
    """Median step time of eager and fully optimised static training, alternating blocks of
    ``steps`` steps for ``rounds`` rounds in one process."""
    import sparsegraph as sg
    from sparsegraph import static
    from sparsegraph.datasets import load_for_training

    _, g, _ = load_for_training(dataset, root=root, download=False)
    fns = {}
    for variant in ("eager", "static"):
        sg.manual_seed(0)
        net = build(model, g, int(np.asarray(g.y.array).max()) + 1, dataset)
        opt = sg.optim.Adam(net.parameters(), lr=0.01, weight_decay=5e-4)
        step = static.node_classification_step(net, g, opt)
        fns[variant] = static.compile(step) if variant == "static" else step
        for _ in range(3):  # warm up (the static one traces on its first call)
            fns[variant]()
    times: dict[str, list] = {v: [] for v in fns}
    for _ in range(rounds):
        for variant, fn in fns.items():
            for _ in range(steps):
                t0 = time.perf_counter()
                fn()
                times[variant].append(time.perf_counter() - t0)
    med = {v: 1e3 * float(np.median(t)) for v, t in times.items()}
    return {"model": model, "dataset": dataset, "eager_ms": med["eager"],
            "static_ms": med["static"], "speedup": med["eager"] / med["static"]}


def variant_names() -> list[str]:
    """The variants `one` runs: eager, static (every default pass), static-none (the raw
    capture) and static-no-<pass> for each default pass."""
    from sparsegraph.static.passes import DEFAULT_PASSES

    return ["eager", "static", "static-none", *(f"static-no-{x}" for x in DEFAULT_PASSES)]


def parse_variant(text: str) -> str:
    """``--variants``' argparse type: a name of `variant_names` (a typo such as
    static-no-fusee would otherwise run every pass, labelled as an ablation)."""
    import difflib

    known = variant_names()
    if text not in known:
        close = difflib.get_close_matches(text, known, n=1)
        raise argparse.ArgumentTypeError(
            f"unknown variant {text!r}" + (f" (did you mean {close[0]!r}?)" if close else "")
            + f"; expected one of: {', '.join(known)}")
    return text


parse_variant.__name__ = "variant"  # argparse names the type in its messages


def parse(argv=None) -> argparse.Namespace:
    """The options, each bad value refused here (argparse's one line, status 2), before any
    child process runs."""
    from sparsegraph.cli.bench_models import MODELS
    from sparsegraph.cli.common import (
        FOLDER_PATH,
        POSITIVE_INT,
        node_dataset_problem,
        root_problem,
    )

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", nargs="+", default=["gcn", "gat"], choices=MODELS)
    p.add_argument("--datasets", nargs="+", default=["cora", "synthetic:arxiv"])
    p.add_argument("--variants", nargs="+", type=parse_variant,
                   default=["eager", "static-none", "static"] + [
                       f"static-no-{x}" for x in ("fold", "scale", "reorder", "fuse",
                                                  "attention")],
                   help="eager, static, static-none or static-no-<pass> (default: %(default)s)")
    p.add_argument("--steps", type=POSITIVE_INT, default=30)
    p.add_argument("--root", type=FOLDER_PATH, default=None)
    p.add_argument("--interleave", action="store_true",
                   help="eager vs static speed in one process (alternating blocks of steps)")
    p.add_argument("--one", nargs=3, metavar=("MODEL", "DATASET", "VARIANT"),
                   help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if not args.one:
        problem = (next(filter(None, map(node_dataset_problem, args.datasets)), None)
                   or root_problem(args.root))
        if problem:
            p.error(problem)
    return args


def main(argv=None) -> int:
    args = parse(argv)
    if args.one:
        from sparsegraph.datasets import DatasetUnavailable

        try:
            print(json.dumps(one(*args.one[:2], args.root, args.steps, args.one[2])))
        except (DatasetUnavailable, NotADirectoryError) as exc:  # files missing: say so
            from sparsegraph.cli.common import dataset_message, fetch_hint

            hint = fetch_hint(args.one[1], args.root)
            print(f"bench_static.py: {dataset_message(exc, args.root, hint)}", file=sys.stderr)
            return 2
        return 0
    if args.interleave:
        print("| model | dataset | eager ms (median) | static ms (median) | speedup |")
        print("|---|---|---|---|---|")
        for model in args.models:
            for dataset in args.datasets:
                r = interleaved(model, dataset, args.root, args.steps)
                print(f"| {model} | {dataset} | {r['eager_ms']:.2f} | {r['static_ms']:.2f} | "
                      f"{r['speedup']:.2f}x |", flush=True)
        return 0
    print("| model | dataset | variant | step ms (median) | step peak MB | peak RSS MB | "
          "last loss |")
    print("|---|---|---|---|---|---|---|")
    for model in args.models:
        for dataset in args.datasets:
            for variant in args.variants:
                if model != "gat" and variant == "static-no-attention":
                    continue
                if model == "gat" and variant in ("static-no-scale", "static-no-reorder",
                                                  "static-no-fuse"):
                    continue
                cmd = [sys.executable, __file__, "--one", model, dataset, variant,
                       "--steps", str(args.steps)] + (["--root", args.root] if args.root
                                                      else [])
                out = subprocess.run(cmd, capture_output=True, text=True)
                if out.returncode != 0:  # the child's own message, not CalledProcessError's
                    sys.stderr.write(out.stderr)
                    print(f"bench_static.py: {model} on {dataset}, {variant}, failed (exit "
                          f"status {out.returncode})", file=sys.stderr)
                    return out.returncode if out.returncode > 0 else 1
                r = json.loads(out.stdout.strip().splitlines()[-1])
                print(f"| {model} | {dataset} | {variant} | {r['step_ms_median']:.1f} | "
                      f"{r['step_peak_mb']:.1f} | {r['peak_rss_mb']:.0f} | "
                      f"{r['last_loss']:.4f} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
