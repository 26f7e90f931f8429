"""sparsegraph.allocator: large freed blocks stay in the process and are reused."""

import os
import subprocess
import sys

import pytest

PROBE = """
import numpy as np, sparsegraph as sg
def rss_mb():
    with open('/proc/self/statm') as f:
        return int(f.read().split()[1]) * 4096 / 2**20
a = np.ones(100 * 2**20 // 8)  # 100 MB, above glibc's largest mmap threshold (32 MB)
held = rss_mb(); del a; freed = rss_mb()
b = np.ones(100 * 2**20 // 8); again = rss_mb()
print(sg.allocator.allocator_status()); print(held, freed, again)
"""


def probe(**env) -> tuple[str, float, float, float]:
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True,
                         check=True, env={**os.environ, **env}).stdout.splitlines()
    return (out[0], *map(float, out[1].split()))


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc malloc tuning: Linux only")
def test_freed_blocks_stay_and_are_reused():
    status, held, freed, again = probe()
    if status.startswith("system malloc"):
        pytest.skip(f"not glibc: {status}")
    assert freed > held - 10, "a freed 100 MB block went back to the OS"
    assert again < freed + 10, "the second 100 MB block did not reuse the first"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc malloc tuning: Linux only")
def test_opt_out_leaves_malloc_alone():
    status, held, freed, _ = probe(SPARSEGRAPH_MALLOC="system")
    assert status == "system malloc (SPARSEGRAPH_MALLOC=system)"
    assert freed < held - 50, "with system malloc a freed 100 MB block is unmapped at once"
