"""The package-dir mapping has traps (STYLE.md section 3): every package must be listed, and
the mapped directories must refuse their bare names."""

import os
import pathlib
import subprocess
import sys
import tomllib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
CONFIG = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]


def test_every_package_dir_is_declared():
    mapping = {"sparsegraph": "sparsegraph", **CONFIG["package-dir"]}
    found = {
        ".".join((name, *init.parent.relative_to(ROOT / top).parts))
        for name, top in mapping.items()
        for init in (ROOT / top).rglob("__init__.py")
        if "__pycache__" not in init.parts
    }
    declared = set(CONFIG["packages"])
    missing, stale = sorted(found - declared), sorted(declared - found)
    assert not missing and not stale, f"undeclared packages: {missing}; stale entries: {stale}"


def test_every_source_directory_is_a_package():
    mapping = {"sparsegraph": "sparsegraph", **CONFIG["package-dir"]}
    for top in mapping.values():
        for path in (ROOT / top).rglob("*.py"):
            assert (path.parent / "__init__.py").exists(), f"{path.parent} has no __init__.py"


@pytest.mark.parametrize("bare", ["ops", "gnn", "datasets"])
def test_bare_names_are_refused(bare):
    proc = subprocess.run([sys.executable, "-c", f"import {bare}"], cwd=ROOT,
                          capture_output=True, text=True)
    assert proc.returncode != 0
    assert f"import this package as sparsegraph.{bare}" in proc.stderr


def test_no_torch_anywhere():
    offenders = [
        str(p.relative_to(ROOT)) for d in ("sparsegraph", "ops", "gnn", "datasets", "tests",
                                           "benchmarks")
        for p in (ROOT / d).rglob("*.py")
        if any(line.lstrip().startswith(("import torch", "from torch"))
               for line in p.read_text().splitlines())
    ]
    assert not offenders, f"torch is imported in {offenders}"


def test_numba_caches_its_kernels_outside_the_package():
    """pip does not track numba's cache files: inside the installed package they would survive
    an uninstall as a bare site-packages/sparsegraph/ that Python imports as an empty package."""
    code = ("import os, numba, sparsegraph.ops, sparsegraph; "
            "print(numba.config.CACHE_DIR); print(os.path.dirname(sparsegraph.__file__))")
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}
    env["XDG_CACHE_HOME"] = "/tmp/sparsegraph-cache-test"
    cache, package = subprocess.run([sys.executable, "-c", code], env=env, check=True,
                                    capture_output=True, text=True).stdout.split()
    assert cache == "/tmp/sparsegraph-cache-test/sparsegraph/numba"
    assert not cache.startswith(os.path.dirname(package))
