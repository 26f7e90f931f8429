"""PyTorch's index updates along one dim: `index_add` (sums repeated indices, as
torch_geometric.utils.scatter does with it), `index_copy`, `index_fill`, and the in-place
`index_add_` / `index_copy_` / `index_fill_`. Composites of `scatter`, `setitem` and `where`,
so the gradients are theirs: ``index_add`` sends ``alpha * g[index]`` to ``source``, the
copies send nothing to the overwritten slices.
"""

from __future__ import annotations

import numpy as np

from sparsegraph import backend
from sparsegraph.ops._util import check_tensor, norm_dim
from sparsegraph.ops.gather_scatter import scatter
from sparsegraph.ops.index import setitem
from sparsegraph.ops.inplace import add_
from sparsegraph.ops.shape import reshape
from sparsegraph.ops.ternary import where
from sparsegraph.sparse_checks import index_array
from sparsegraph.tensor import Tensor, host_values, wrap

__all__ = ["index_add", "index_add_", "index_copy", "index_copy_", "index_fill",
           "index_fill_"]


def _checked(op: str, input, dim, index, source=None):
    """``(dim, index array)`` for an update of ``input`` along ``dim`` by a 1-D ``index`` (one
    entry per slice of ``source`` along ``dim``, when given), values in range."""
    check_tensor(op, "input", input)
    d = norm_dim(op, dim, max(input.ndim, 1))
    # the index values are read on the host (range check, negative ids): a static trace
    # guards them, or refuses an index computed inside the compiled function
    idx = index_array(op, "index", host_values(index, f"{op}: `index`") if isinstance(
        index, Tensor) else index)
    if idx.ndim != 1:
        raise ValueError(f"{op}: expected a 1-D `index` (got shape {idx.shape})")
    size = input.shape[d] if input.ndim else 1
    if idx.size and (int(idx.min()) < -size or int(idx.max()) >= size):
        bad = int(idx.min()) if int(idx.min()) < -size else int(idx.max())
        raise ValueError(f"{op}: expected `index` values in [{-size}, {size}) for dim {dim} of "
                         f"size {size} (got {bad})")
    if source is not None:
        check_tensor(op, "source", source)
        if source.dtype != input.dtype:  # torch: "self and source must have same scalar type"
            raise TypeError(f"{op}: expected `source` of `input`'s dtype {input.dtype} (got "
                            f"{source.dtype})")
        want = input.shape[:d] + (idx.size,) + input.shape[d + 1:] if input.ndim else ()
        if source.shape != want and not (input.ndim == 0 and source.numel() == idx.size):
            raise ValueError(f"{op}: expected `source` of shape {want}, `input`'s with "
                             f"len(index) = {idx.size} along dim {dim} (got {source.shape})")
    return d, wrap(idx % size if idx.size else idx.astype(np.int64))


def _added(op: str, input: Tensor, dim: int, index, source: Tensor, alpha):
    """``(source's slices summed at index along dim, in input's shape; alpha)``, checked: an
    integer or bool ``input`` takes only an integral ``alpha`` (torch's rule)."""
    d, idx = _checked(op, input, dim, index, source)
    if input.dtype.kind != "f" and not (isinstance(alpha, int | np.integer)
                                        and not isinstance(alpha, bool)):
        raise TypeError(f"{op}: expected an int `alpha` for the {input.dtype} `input` (got "
                        f"{alpha!r})")
    if not input.ndim:  # a 0-d input: its one slot
        return reshape(scatter(reshape(source, (-1,)), idx, 1, "sum", 0), ()), alpha
    return scatter(source, idx, input.shape[d], "sum", d), alpha


def index_add(input: Tensor, dim: int, index, source: Tensor, *, alpha=1) -> Tensor:
    """``input`` plus ``alpha * source``'s slices added at ``index`` along ``dim`` (repeated
    indices add up): ``out[..., index[i], ...] += alpha * source[..., i, ...]``; ``source``
    of ``input``'s dtype (torch's rule)."""
    added, alpha = _added("index_add", input, dim, index, source, alpha)
    return input + added * alpha


def index_add_(input: Tensor, dim: int, index, source: Tensor, *, alpha=1) -> Tensor:
    """`index_add` in place."""
    added, alpha = _added("index_add_", input, dim, index, source, alpha)
    return add_(input, added, alpha=alpha)


def _key(d: int, idx: Tensor) -> tuple:
    return (slice(None),) * d + (idx,)


def index_copy(input: Tensor, dim: int, index, source: Tensor) -> Tensor:
    """``input`` with its slices at ``index`` along ``dim`` replaced by ``source``'s (with
    repeated indices one of them wins, as torch leaves it undefined)."""
    check_tensor("index_copy", "input", input)
    return _copy_into("index_copy", input.clone(), dim, index, source)


def index_copy_(input: Tensor, dim: int, index, source: Tensor) -> Tensor:
    """`index_copy` in place."""
    return _copy_into("index_copy_", input, dim, index, source)


def _copy_into(op: str, out: Tensor, dim: int, index, source: Tensor) -> Tensor:
    d, idx = _checked(op, out, dim, index, source)
    setitem(out, _key(d, idx) if out.ndim else (), source if out.ndim else reshape(source, ()))
    return out


def _fill_value(op: str, input: Tensor, value):
    """A number or a 0-d Tensor (torch: "only supports a 0-dimensional value tensor"), in
    ``input``'s dtype: the result keeps it, as torch's."""
    if isinstance(value, Tensor):
        if value.ndim:
            raise ValueError(f"{op}: expected a number or a 0-d Tensor `value` (got shape "
                             f"{value.shape})")
        return value if value.dtype == input.dtype else value.to(input.dtype)
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise TypeError(f"{op}: expected a number or a 0-d Tensor `value` (got "
                        f"{type(value).__name__})")
    value = backend.check_fits(op, "value", value, input.dtype)  # astype would wrap it
    return wrap(input.xp.asarray(value).astype(input.dtype))


def index_fill(input: Tensor, dim: int, index, value) -> Tensor:
    """``input`` with its slices at ``index`` along ``dim`` set to ``value`` (a number or a
    0-d Tensor, which gets the gradient of every filled element), in ``input``'s dtype."""
    d, idx = _checked("index_fill", input, dim, index)
    value = _fill_value("index_fill", input, value)
    shape = [1] * input.ndim
    mask = np.zeros(input.shape[d] if input.ndim else 1, bool)
    mask[idx.array] = True
    if input.ndim:
        shape[d] = input.shape[d]
    mask = backend.to_device(mask.reshape(shape) if input.ndim else mask.reshape(()),
                             input.device)  # on input's device, as where needs
    return where(wrap(mask), value, input)


def index_fill_(input: Tensor, dim: int, index, value) -> Tensor:
    """`index_fill` in place."""
    d, idx = _checked("index_fill_", input, dim, index)
    value = _fill_value("index_fill_", input, value)
    # each slice once: a repeated id would send the value's gradient once per repeat
    idx = wrap(np.unique(idx.array))
    setitem(input, _key(d, idx) if input.ndim else (), value)
    return input

