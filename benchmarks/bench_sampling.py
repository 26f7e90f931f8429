"""Neighbour-sampling throughput and a GraphSAGE mini-batch epoch on a synthetic preset.

    python benchmarks/bench_sampling.py --preset arxiv
    python benchmarks/bench_sampling.py --preset products --batches 200

The preset is generated once and cached as .npy files (`synthetic.load_synthetic`), then
memory-mapped: CSR indices and features are read from the page cache, and each batch gathers
its feature rows from the map. Two measurements:

1. sampling alone: ``--batches`` batches of training seeds (shuffled), fan-out
   ``--fanout`` (default 15 10 5), batch ``--batch-size`` (default 1024): batches/s, sampled
   nodes/s (sum of ``len(n_id)``), sampled edges/s (sum of block entries);
2. one training epoch of GraphSAGE (``--layers`` = number of fan-outs, ``--hidden`` 256, mean
   aggregation, Adam) through `NeighborLoader`, timing in the same run the time spent
   sampling, gathering features and computing (forward + backward + Adam), so the sampling
   fraction is measured, not inferred. With ``--batches`` the epoch stops after that many
   batches and the full epoch time is projected from the per-batch mean (stated in the
   output).
"""

from __future__ import annotations

import argparse
import itertools
import json
import resource
import sys
import time

import numpy as np


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def positive_int(text: str) -> int:
    """An argparse ``type``: an int >= 1 (argparse prints one line and exits 2 otherwise)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an int >= 1 (got {text!r})") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an int >= 1 (got {value}); leave the flag "
                                         "out for the default")
    return value


def main(argv=None) -> dict:
    import sparsegraph as sg
    import sparsegraph.ops as ops
    from sparsegraph.cli.common import FILE_PATH, FOLDER_PATH, file_problem, folder_problem
    from sparsegraph.datasets import synthetic
    from sparsegraph.gnn import NeighborLoader, NeighborSampler, models
    from sparsegraph.optim import Adam

    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--preset", default="arxiv", choices=sorted(synthetic.PRESETS))
    p.add_argument("--root", type=FOLDER_PATH, default=None,
                   help="cache root for the preset's .npy files")
    p.add_argument("--fanout", type=int, nargs="+", default=[15, 10, 5])
    p.add_argument("--batch-size", type=positive_int, default=1024)
    p.add_argument("--batches", type=positive_int, default=None,
                   help="batches per measurement, >= 1 (default: a whole epoch)")
    p.add_argument("--hidden", type=int, default=256)
    p.add_argument("--kernel", default=None, help="force a sample_neighbors kernel")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", type=FILE_PATH, default=None, help="write the results here")
    args = p.parse_args(argv)
    problem = ((folder_problem("--root", args.root) if args.root else None)
               or file_problem("--json", args.json))
    if problem:
        p.error(problem)
    if args.kernel:  # refused now, not after the preset is generated and loaded
        try:
            with sg.kernels.use(sample_neighbors=args.kernel):
                pass
        except ValueError as exc:
            p.error(f"argument --kernel: {exc}")

    t0 = time.perf_counter()
    try:
        g = synthetic.to_graph(synthetic.load_synthetic(args.preset, args.root))
    except synthetic.DatasetUnavailable as exc:  # e.g. a cache folder nobody can write to
        raise SystemExit(f"bench_sampling.py: {str(exc).replace('`root`', '--root')}") from None
    load_s = time.perf_counter() - t0
    train = np.flatnonzero(np.asarray(g.train_mask.array))
    n_classes = int(np.asarray(g.y.array).max()) + 1
    print(f"{args.preset}: {g.num_nodes:,} nodes, {g.num_edges:,} edges, {g.num_features} "
          f"features, {train.size:,} training nodes; loaded (memmap) in {load_s:.1f} s",
          flush=True)
    forced = sg.kernels.use(sample_neighbors=args.kernel) if args.kernel else None
    if forced is not None:
        forced.__enter__()

    # 1. sampling alone
    sampler = NeighborSampler(g, args.fanout, seed=args.seed)
    order = np.random.default_rng(args.seed).permutation(train)
    n_batches = -(-train.size // args.batch_size)
    n_sample = n_batches if args.batches is None else min(n_batches, args.batches)
    sampler.sample(order[:args.batch_size])  # compile (cached on disk after the first run)
    nodes = edges = 0
    t0 = time.perf_counter()
    for i in range(n_sample):
        b = sampler.sample(order[i * args.batch_size:(i + 1) * args.batch_size], epoch=1)
        nodes += sum(b.num_sampled_nodes)  # per-hop lists (PyG's names)
        edges += sum(b.num_sampled_edges)
    sample_only_s = time.perf_counter() - t0
    print(f"sampling: {n_sample} batches in {sample_only_s:.2f} s: "
          f"{n_sample / sample_only_s:.1f} batches/s, {nodes / sample_only_s / 1e6:.2f} M "
          f"sampled nodes/s, {edges / sample_only_s / 1e6:.2f} M sampled edges/s "
          f"(mean {nodes / n_sample:,.0f} nodes, {edges / n_sample:,.0f} edges per batch)",
          flush=True)

    # 2. a training epoch, timed by part
    sg.manual_seed(args.seed)
    model = models.GraphSAGE(g.num_features, args.hidden, len(args.fanout), n_classes,
                             dropout=0.5)
    opt = Adam(model.parameters(), lr=0.003)
    loader = NeighborLoader(g, args.fanout, args.batch_size, shuffle=True, input_nodes=train,
                            seed=args.seed)
    warm = next(iter(loader))  # epoch 0: warm-up (first-call costs), not timed
    model.train()
    ops.cross_entropy(model(warm.x, warm.blocks), warm.y).backward()
    opt.zero_grad()
    n_train = len(loader) if args.batches is None else min(len(loader), args.batches)
    compute, losses = 0.0, []
    t_epoch = time.perf_counter()
    # islice, not a break: the loader must not sample (and time) a batch nobody trains
    for batch in itertools.islice(loader, n_train):
        t0 = time.perf_counter()
        opt.zero_grad()
        loss = ops.cross_entropy(model(batch.x, batch.blocks), batch.y)
        loss.backward()
        opt.step()
        compute += time.perf_counter() - t0
        losses.append(float(loss.item()))
    epoch_s = time.perf_counter() - t_epoch
    sample_s, gather_s = loader.timings["sample_s"], loader.timings["gather_s"]
    frac = sample_s / epoch_s
    projected = epoch_s / n_train * len(loader)
    print(f"training: {n_train} of {len(loader)} batches in {epoch_s:.2f} s "
          f"(sampling {sample_s:.2f} s = {100 * frac:.1f} %, gathering features {gather_s:.2f} s"
          f" = {100 * gather_s / epoch_s:.1f} %, compute {compute:.2f} s = "
          f"{100 * compute / epoch_s:.1f} %); "
          f"{'projected ' if n_train < len(loader) else ''}epoch {projected:.1f} s; loss "
          f"{losses[0]:.3f} -> {losses[-1]:.3f}; peak RSS {peak_rss_mb():.0f} MB", flush=True)
    if forced is not None:
        forced.__exit__(None, None, None)
    result = {"preset": args.preset, "nodes": g.num_nodes, "edges": g.num_edges,
              "fanout": args.fanout, "batch_size": args.batch_size,
              "sampling": {"batches": n_sample, "seconds": sample_only_s,
                           "nodes_per_s": nodes / sample_only_s,
                           "edges_per_s": edges / sample_only_s,
                           "nodes_per_batch": nodes / n_sample,
                           "edges_per_batch": edges / n_sample},
              "training": {"batches": n_train, "batches_per_epoch": len(loader),
                           "seconds": epoch_s, "sample_s": sample_s, "gather_s": gather_s,
                           "compute_s": compute, "sampling_fraction": frac,
                           "epoch_s_projected": projected, "first_loss": losses[0],
                           "last_loss": losses[-1]},
              "peak_rss_mb": peak_rss_mb(), "numba_threads": _threads()}
    if args.json:
        import pathlib

        from sparsegraph.datasets.download import write_atomic

        write_atomic(pathlib.Path(args.json), json.dumps(result, indent=1).encode())
    return result


def _threads() -> int:
    import numba

    return numba.get_num_threads()


if __name__ == "__main__":
    main(sys.argv[1:])
