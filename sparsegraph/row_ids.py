"""One check for "which rows": integer ids or a boolean mask over ``n`` rows, as host ids.

Shared by the row selection of a sparse matrix (``x[ids]``, ``x[mask]``), by
``TUDataset[ids]`` and by ``Graph.subgraph(nodes)``, which all accept the same keys and refuse
the same mistakes with the same words.
"""

from __future__ import annotations

import numpy as np

from sparsegraph import backend


def row_ids(op: str, what: str, key, n: int, *, unit: str = "row", negative: bool = True,
            unique: bool = False, error: type[Exception] = IndexError) -> np.ndarray:
    """The ids in ``[0, n)`` that ``key`` names, in its order, as a host int64 array.

    Args:
        op: the caller, first word of every message (``"subgraph"``).
        what: the argument as the messages name it (``"`nodes`"``).
        key: values already read by the caller (its static-graph guard is the caller's): a 1-D
            integer array (numpy or cupy), list, tuple or range, or a boolean mask of length
            ``n``. An empty list is an empty selection (numpy would make it float64).
        n: the number of rows.
        unit: what one row is, in the messages (``"node"``, ``"graph"``).
        negative: accept ids in ``[-n, 0)``, counted from the end (returned as ``id + n``).
        unique: refuse an id given twice.
        error: the class raised for a mask of another length, an id out of range or a
            repeated id (a TypeError is raised for a key of another kind).

    Returns:
        ``(K,)`` int64 numpy array, each entry in ``[0, n)``.
    """
    if hasattr(key, "dtype"):
        a = backend.to_device(key, "cpu")
    else:
        try:
            a = np.asarray(key)
        except ValueError:  # numpy: "setting an array element with a sequence ... inhomogeneous"
            raise TypeError(f"{op}: expected {what} as 1-D integer {unit} ids or a boolean mask "
                            f"(got a ragged {type(key).__name__})") from None
    if a.size == 0 and a.dtype.kind not in "biu":  # `[]` (numpy: float64) selects nothing
        a = a.astype(np.int64)
    if a.dtype == np.bool_:
        if a.shape != (n,):
            raise error(f"{op}: expected {what} as a boolean mask of length {n}, one entry per "
                        f"{unit} (got shape {a.shape})")
        return np.flatnonzero(a)
    if a.dtype.kind not in "iu" or a.ndim != 1:
        raise TypeError(f"{op}: expected {what} as 1-D integer {unit} ids or a boolean mask "
                        f"(got {a.dtype} of shape {a.shape})")
    if a.size:  # the range before the cast: a uint64 past int64's range must not wrap
        smallest, largest, low = int(a.min()), int(a.max()), -n if negative else 0
        if smallest < low or largest >= n:
            raise error(f"{op}: expected {unit} ids in [{low}, {n}) (got "
                        f"{smallest if smallest < low else largest})")
    ids = a.astype(np.int64)
    if negative:
        ids = np.where(ids < 0, ids + n, ids)
    if unique and ids.size:
        counts = np.bincount(ids, minlength=n)
        if counts.max() > 1:
            raise error(f"{op}: expected distinct {unit} ids (got {unit} "
                        f"{int(counts.argmax())} {int(counts.max())} times)")
    return ids
