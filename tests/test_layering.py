"""Module-level imports may only point down the stack (DESIGN.md "Layout and layering")."""

import ast
import pathlib
import tomllib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
RANK = {  # lower rank = lower layer; equal ranks may not import each other unless the same layer
    "sparsegraph.backend": 0,
    "sparsegraph.allocator": 0,  # process settings, no sparsegraph imports
    "sparsegraph.thread_policy": 0,
    "sparsegraph.backends": 0,  # torch.backends' flags, no sparsegraph imports
    "sparsegraph.kernels": 1,
    "sparsegraph.numpy_compat": 1,  # numpy's argument names, for the methods and the ops
    "sparsegraph.tensor_inplace_methods": 1.95,  # below tensor_methods: in-place math methods
    "sparsegraph.tensor_shape_methods": 1.9,  # below tensor_methods: the shape methods
    "sparsegraph.tensor_methods": 2,  # below tensor: its operators and methods, no state
    "sparsegraph.tensor": 2.5,
    "sparsegraph.creation": 3,
    "sparsegraph.cuda": 3.2,  # torch.cuda's calls: backend, and creation's manual_seed
    "sparsegraph.sparse": 3,
    "sparsegraph.sparse_structure": 2.8,  # below sparse: the pattern, its caches and kernels
    "sparsegraph.sparse_checks": 2.6,  # below sparse: its checks, on tensor only
    "sparsegraph.row_ids": 2.6,  # the row / node / graph id check (sparse rows, Graph, datasets)
    "sparsegraph.sparse_rows": 3.5,  # above sparse: row selection of SparseTensors
    "sparsegraph.autograd": 4,
    "sparsegraph.ops": 5,
    "sparsegraph.nn": 6,
    "sparsegraph.optim": 6,
    "sparsegraph.serialization": 6,
    "sparsegraph.graph_fields": 6.5,  # below graph: the rule for its attributes
    "sparsegraph.graph_access": 6.8,  # below graph: PyG's Data protocol, mixed into Graph
    "sparsegraph.graph": 7,
    "sparsegraph.graph_ops": 7,
    "sparsegraph.graph_batch": 7,
    "sparsegraph.transforms": 7.5,  # Graph -> Graph; below gnn and datasets, which take them
    "sparsegraph.gnn": 8,
    "sparsegraph.datasets": 8,
    "sparsegraph.loader": 9,  # PyG's torch_geometric.loader: datasets' and gnn's loaders
    "sparsegraph.static": 9,
    "sparsegraph.testing": 9,
    "sparsegraph.cli": 10,
}


def layer(module: str) -> str | None:
    return max((p for p in RANK if module == p or module.startswith(p + ".")), key=len,
               default=None)


def modules():
    dirs = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"][
        "package-dir"]
    for name, top in {"sparsegraph": "sparsegraph", **dirs}.items():
        for path in sorted((ROOT / top).rglob("*.py")):
            parts = path.relative_to(ROOT / top).with_suffix("").parts
            yield ".".join((name, *parts)).removesuffix(".__init__"), path


MODULES = list(modules())


@pytest.mark.parametrize("module, path", MODULES, ids=[m for m, _ in MODULES])
def test_imports_point_down(module, path):
    here = layer(module)
    if here is None:
        return
    for node in ast.parse(path.read_text()).body:  # module level only: lazy imports are allowed
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        else:
            continue
        for target in filter(None, map(layer, names)):
            assert target == here or RANK[target] < RANK[here], f"{module} imports {target}"


def test_every_module_has_a_layer():
    """A new module must be placed: an unlisted one would escape the check above."""
    unplaced = [m for m, _ in MODULES if layer(m) is None
                and m.split(".")[-1] not in ("sparsegraph", "__main__")]
    assert unplaced == []


def test_gnn_and_datasets_never_import_each_other():
    for module, path in MODULES:
        text = path.read_text()
        if module.startswith("sparsegraph.gnn"):
            assert "sparsegraph.datasets" not in text, module
        if module.startswith("sparsegraph.datasets"):
            assert "sparsegraph.gnn" not in text, module
