"""The `sparsegraph` command: `info`, `train` (and `graph`, `bench` as they land)."""

from __future__ import annotations

import argparse
import importlib
import platform
import sys

import sparsegraph as sg

PACKAGES = ("numpy", "scipy", "numba", "networkx", "tqdm", "matplotlib", "cupy")


def _version(name: str) -> str:
    try:
        module = importlib.import_module(name)
    except Exception as exc:  # noqa: BLE001  (cupy can fail with CUDA errors, not ImportError)
        return f"not available ({type(exc).__name__})"
    return getattr(module, "__version__", "unknown")


def cmd_info(args: argparse.Namespace) -> int:
    """Versions, devices, and every registered kernel per op."""
    import sparsegraph.ops  # noqa: F401  (registers the kernels)

    print(f"sparsegraph {sg.__version__} on Python {platform.python_version()} "
          f"({platform.machine()})")
    for name in PACKAGES:
        print(f"  {name:<11} {_version(name)}")
    print("devices:")
    print("  cpu         usable")
    print(f"  cuda        {sg.backend.cuda_status()}")
    print(f"host memory: {sg.allocator.allocator_status()}")
    print(f"cpu threads: {sg.thread_policy.thread_policy_status()}")
    table = sg.kernels.table()
    print(f"kernels ({len(table)} ops; best first, * = chosen now):")
    for op, entries in table.items():
        by_device: dict[str, list] = {}
        for k in entries:
            by_device.setdefault(k.device + (f"/{k.fmt}" if k.fmt else ""), []).append(k)
        parts = []
        for dev, ks in by_device.items():
            chosen = sg.kernels.chosen(op, ks[0].device, ks[0].fmt)
            names = ", ".join(("*" if k.name == chosen else "") + k.name for k in ks)
            parts.append(f"{dev}: {names}")
        print(f"  {op:<24} " + "; ".join(parts))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sparsegraph", description="sparsegraph: sparse tensors and graph neural networks")
    sub = parser.add_subparsers(dest="command", required=True)
    info = sub.add_parser("info", help="versions, devices and registered kernels")
    info.set_defaults(func=cmd_info)
    from sparsegraph.cli.train import add_train_parser

    add_train_parser(sub)
    from sparsegraph.cli.graph import add_graph_parser

    add_graph_parser(sub)
    from sparsegraph.cli.bench import add_bench_parser

    add_bench_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
