"""`sparsegraph info`: versions, devices, and every registered kernel per op (* = chosen now)."""

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


def _kernel_line(op: str, entries: list) -> str:
    by_device: dict[str, list] = {}
    for k in entries:
        by_device.setdefault(k.device + (f"/{k.fmt}" if k.fmt else ""), []).append(k)
    parts = []
    for dev, ks in by_device.items():
        try:
            chosen = sg.kernels.chosen(op, ks[0].device, ks[0].fmt)
            note = ""
        except NotImplementedError:
            # a kernel forced for this op that this device lacks (e.g. numba on cuda): the
            # command that shows the choice must not die on a device nobody dispatches to
            chosen, note = None, " (forced kernel n/a here)"
        names = ", ".join(("*" if k.name == chosen else "") + k.name for k in ks)
        parts.append(f"{dev}: {names}{note}")
    return f"  {op:<24} " + "; ".join(parts)


def cmd_info(args: argparse.Namespace) -> int:
    """Versions, devices, and every registered kernel per op; exit 2 for a bad
    SPARSEGRAPH_KERNELS (one line on stderr)."""
    import sparsegraph.ops  # noqa: F401  (registers the kernels)

    try:
        sg.kernels.check_environment()
    except ValueError as exc:
        print(f"sparsegraph info: {exc}", file=sys.stderr)
        return 2
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
    forced = sg.kernels.forced_description()
    print(f"kernels ({len(table)} ops; best first, * = chosen now"
          + (f"; forced: {forced}" if forced else "") + "):")
    for op, entries in table.items():
        print(_kernel_line(op, entries))
    return 0
