"""PyG's own code transcribed to numpy (not its formulas): the references of the self-loop
tests (torch_geometric.utils: scatter.py, loop.py)."""

from __future__ import annotations

import numpy as np


def pyg_scatter(src, index, dim_size, reduce):
    """``torch_geometric.utils.scatter`` along dim 0: empty outputs 0, the mean divides by the
    count clamped to 1 (true division: an integer source gives a float32 mean)."""
    reduce = "sum" if reduce == "add" else reduce
    out = np.zeros((dim_size,) + src.shape[1:], src.dtype)
    if reduce in ("sum", "mean"):
        np.add.at(out, index, src)
        if reduce == "sum":
            return out
        count = np.maximum(np.bincount(index, minlength=dim_size), 1)
        return (out / count.reshape((-1,) + (1,) * (src.ndim - 1))).astype(
            src.dtype if src.dtype.kind == "f" else np.float32)
    for i in range(dim_size):
        hit = src[index == i]
        if len(hit):
            out[i] = hit.max(0) if reduce == "max" else hit.min(0)
    return out


def pyg_add_remaining_self_loops(edge_index, edge_attr, fill_value, num_nodes):
    """``add_remaining_self_loops``, line for line (a fill ndarray: broadcast, or one row per
    node)."""
    mask = edge_index[0] != edge_index[1]
    loop_index = np.tile(np.arange(num_nodes), (2, 1))
    if fill_value is None or isinstance(fill_value, int | float):
        loop_attr = np.full((num_nodes,) + edge_attr.shape[1:],
                            1.0 if fill_value is None else fill_value).astype(edge_attr.dtype)
    elif isinstance(fill_value, np.ndarray):
        loop_attr = np.broadcast_to(fill_value.astype(edge_attr.dtype),
                                    (num_nodes,) + edge_attr.shape[1:]).copy()
    else:
        loop_attr = pyg_scatter(edge_attr, edge_index[1], num_nodes, fill_value)
    inv_mask = ~mask
    # numpy, like torch on the CPU, keeps the last of repeated indices' values
    loop_attr[edge_index[0][inv_mask]] = edge_attr[inv_mask]
    # torch.cat promotes an integer edge_attr with a float32 mean to float32 (numpy: float64)
    dtype = (loop_attr.dtype if edge_attr.dtype.kind in "biu" and loop_attr.dtype.kind == "f"
             else np.result_type(edge_attr, loop_attr))
    edge_attr = np.concatenate([edge_attr[mask], loop_attr], axis=0).astype(dtype)
    edge_index = np.concatenate([edge_index[:, mask], loop_index], axis=1)
    return edge_index, edge_attr


def pyg_aggregate(x, edge_index, num_nodes: int, reduce: str):
    """PyG's aggregation of ``x_j`` over each target's in-edges (``edge_index[1] == i``), with
    duplicate edges counted and 0 for a node without any (sum / mean / max / min)."""
    fn = {"sum": np.sum, "mean": np.mean, "max": np.max, "min": np.min}[reduce]
    out = np.zeros((num_nodes, x.shape[1]))
    for i in range(num_nodes):
        rows = x[edge_index[0, edge_index[1] == i]]
        if rows.size:
            out[i] = fn(rows, axis=0)
    return out
