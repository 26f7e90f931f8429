"""Idle numba threads sleep instead of spinning (``OMP_WAIT_POLICY=PASSIVE``).

numba's parallel kernels run on an OpenMP team (libgomp) whose threads, by default, spin for a
while after each parallel region, waiting for the next. numpy's sgemm runs on OpenBLAS's own
threads, which spin too. On a small machine (this project's reference has 2 cores) the
interpreter, a spinning OpenMP worker and OpenBLAS's workers then fight for the cores: a GAT
epoch on Cora took 21-34 ms with the default policy and 12.5-15.8 ms with idle threads
sleeping (benchmarks/RESULTS.md), while large kernels do not notice the extra wake-up.

libgomp reads the variable when it is loaded, which numba does at the first parallel call, so
setting it when sparsegraph is imported is in time unless the process has already run OpenMP
code. A value the user set is kept (``OMP_WAIT_POLICY=ACTIVE`` restores spinning).
"""

from __future__ import annotations

import os

__all__ = ["sleep_idle_threads", "thread_policy_status"]


def sleep_idle_threads() -> None:
    """Default ``OMP_WAIT_POLICY`` to ``PASSIVE`` (a value already set is left alone)."""
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def thread_policy_status() -> str:
    """The OpenMP wait policy in words (`sparsegraph info` prints it)."""
    policy = os.environ.get("OMP_WAIT_POLICY", "unset")
    idle = "sleep" if policy.upper() == "PASSIVE" else "spin"
    return f"OMP_WAIT_POLICY={policy} (numba's idle threads {idle})"
