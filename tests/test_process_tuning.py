"""Process-level tuning applied on import: sparsegraph.allocator (large freed blocks stay and
are reused) and sparsegraph.thread_policy (idle numba threads sleep)."""

import os
import subprocess
import sys

import pytest

# NOTE: statm is read with os.pread on a descriptor opened first: opening a file between the
# free and the next allocation mallocs an 8 KiB buffer, which glibc may carve out of the freed
# block, so that the next 100 MB no longer fit in it (whether it does depends on the heap's
# layout after import, not on the tuning under test)
PROBE = """
import os, numpy as np, sparsegraph as sg
fd = os.open('/proc/self/statm', os.O_RDONLY)
def rss_mb():
    return int(os.pread(fd, 128, 0).split()[1]) * 4096 / 2**20
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


THREADS = """
import os, sparsegraph as sg
print(os.environ.get("OMP_WAIT_POLICY")); print(sg.thread_policy.thread_policy_status())
"""


@pytest.mark.parametrize("preset, expected", [(None, "PASSIVE"), ("ACTIVE", "ACTIVE")])
def test_idle_threads_sleep_unless_the_user_chose(preset, expected):
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    if preset is not None:
        env["OMP_WAIT_POLICY"] = preset
    out = subprocess.run([sys.executable, "-c", THREADS], capture_output=True, text=True,
                         check=True, env=env).stdout.splitlines()
    assert out[0] == expected
    assert out[1].startswith(f"OMP_WAIT_POLICY={expected}")
    assert out[1].endswith("sleep)" if expected == "PASSIVE" else "spin)")
