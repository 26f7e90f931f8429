"""`GraphAccess`: PyG's ``Data`` protocol by name on a `Graph` (``g["x"]``, ``g["x"] = v``,
``"x" in g``, ``del g.x``, ``for key, value in g``, ``g(*keys)``, ``keys()``), and a batch's
graphs by position (``batch[i]``, ``get_example``, ``to_data_list``), as PyG's ``Batch``.

A mixin of `sparsegraph.graph.Graph`: it reads the graph's attributes and `Graph.__setattr__`
(the rule every assignment goes through) and keeps no state of its own.
"""

from __future__ import annotations

import numpy as np

from sparsegraph.graph_fields import CORE_FIELDS


class GraphAccess:
    """Mixed into `sparsegraph.graph.Graph`."""

    def keys(self) -> list[str]:
        """The names of the attributes that are set, as PyG's ``Data.keys()``: the adjacency
        is listed as PyG stores it, ``edge_index``, then ``edge_weight`` when the graph is
        weighted (an unweighted graph's are the implicit ones, which PyG would not store);
        ``g.adj`` itself stays readable, and ``"adj" in g``."""
        out = []
        for k, v in vars(self).items():
            if k == "adj":
                out += ["edge_index", "edge_weight"] if self._is_weighted() else ["edge_index"]
            elif v is not None and k != "num_nodes" and not k.startswith("_"):
                out.append(k)
        return out

    def _is_weighted(self) -> bool:
        from sparsegraph.graph_ops import is_weighted

        return is_weighted(self)

    # PyG's link-prediction targets, stored without the per-edge `edge_` prefix (see __init__)
    _LINK_LABELS = {"edge_label": "label", "edge_label_index": "label_index"}

    def __getattr__(self, name: str):
        """Only for names not set: PyG's ``edge_label`` / ``edge_label_index`` read the
        ``label`` / ``label_index`` that `RandomLinkSplit` stores (a per-edge ``edge_label``
        of the graph's own, when set, is found before this)."""
        alias = type(self)._LINK_LABELS.get(name)
        if alias is not None and alias in self.__dict__:
            return self.__dict__[alias]
        raise AttributeError(f"'Graph' object has no attribute {name!r}")

    # ---- PyG's Data access by name: g["x"], g["x"] = v, "x" in g, for key, value in g ------
    # not data keys: views of adj (read only), and the node count (set by its own rule)
    _VIEWS = ("edge_index", "edge_weight", "num_nodes")

    def __getitem__(self, key: str):
        """``g[key]``: the attribute ``key`` (one of `keys`, or ``adj`` / ``num_nodes``), as
        PyG's ``data[key]``; on a batch, an int or a slice gives its graphs, as PyG's
        ``batch[i]``.

        Raises:
            TypeError: a key that is not a str. KeyError: an attribute that is not set
                (``edge_weight`` of an unweighted graph too, as ``"edge_weight" in g`` is
                False: read ``g.edge_weight`` for its implicit ones).
        """
        if self.batch is not None and not isinstance(key, str | bool):
            # a batch's graphs by position, as PyG's Batch: batch[i], batch[1:3], batch[[0, 2]]
            if isinstance(key, slice):
                return self.to_data_list()[key]
            if hasattr(key, "__index__") and not hasattr(key, "shape") or (
                    getattr(key, "shape", None) == ()):
                return self.get_example(int(key))
            if isinstance(key, list | tuple | range) or hasattr(key, "shape"):
                return self._examples(list(key) if isinstance(key, range) else key)
        if not isinstance(key, str):
            raise TypeError(f"Graph: expected an attribute name (a str) as key (got "
                            f"{type(key).__name__} {key!r})")
        if key == "edge_weight" and not self._is_weighted():
            raise KeyError("Graph: no attribute 'edge_weight': the graph is unweighted (its "
                           "`g.edge_weight` are the implicit ones)")
        if key in self._VIEWS:
            return getattr(self, key)
        value = None if key.startswith("_") else vars(self).get(key)
        if value is None:
            raise KeyError(f"Graph: no attribute {key!r} (it has: {', '.join(self.keys())})")
        return value

    def _data_key(self, key) -> str:
        """``key`` if it names a data attribute; else the TypeError of ``g[key] = ...``."""
        if not isinstance(key, str) or key.startswith("_") or key in self._VIEWS or (
                key != "batch" and hasattr(type(self), key)):
            hint = (" (a view of `adj`: build a new Graph(edge_index=..., edge_weight=...))"
                    if key == "edge_index" else "")
            raise TypeError(f"Graph: expected a data attribute name as key (got {key!r}, "
                            f"which Graph reserves){hint}")
        return key

    def __setitem__(self, key: str, value) -> None:
        """``g[key] = value``: the same as ``g.<key> = value``, as PyG's ``data[key] = value``
        (``g["num_nodes"] = N`` too).

        Raises:
            TypeError: a key that is not a str, a private name, or one of Graph's own
                (``edge_index`` / ``edge_weight`` are views of ``adj``: build a new Graph for
                those; methods and properties); and what the constructor raises for ``key``
                (see `__setattr__`).
        """
        setattr(self, key if key in ("num_nodes", "edge_weight") else self._data_key(key),
                value)

    def __delattr__(self, key: str) -> None:
        """``del g.key``, as PyG's ``del data.key``: ``x``, ``y``, ``edge_attr``, the masks
        and ``batch``, which every Graph has, become None; another attribute goes; one that
        is not set is no error (as in PyG).

        Raises:
            TypeError: ``adj`` or one of the reserved names of ``g[key] = ...``.
        """
        if key.startswith("_"):
            object.__delattr__(self, key)
            return
        if key == "adj":
            raise TypeError("Graph: cannot delete `adj`, the graph's structure")
        self._data_key(key)
        if key in CORE_FIELDS:
            self.__dict__[key] = None
        else:
            self.__dict__.pop(key, None)

    def __delitem__(self, key: str) -> None:
        """``del g[key]``: ``del g.<key>`` for a data attribute name, as PyG's ``del data[key]``."""
        delattr(self, self._data_key(key))

    def __contains__(self, key) -> bool:
        """``key in g``: whether the attribute is set (not None), as PyG's ``Data``: one of
        `keys` (``"edge_index"`` always, ``"edge_weight"`` only for a weighted graph), or
        ``"adj"``."""
        if not isinstance(key, str):
            return False
        if key == "edge_weight":  # the one key whose answer reads the values
            return self._is_weighted()
        return key in ("edge_index", "adj") or (
            key != "num_nodes" and not key.startswith("_") and vars(self).get(key) is not None)

    def __iter__(self):
        """``(key, value)`` for each of `keys`, as iterating over PyG's ``Data``: the edges
        come as ``edge_index`` (and ``edge_weight``), not ``adj``, so ``dict(g)`` holds what
        PyG code reads and ``Graph(**dict(g))`` rebuilds the graph."""
        return ((k, getattr(self, k)) for k in self.keys())

    def __call__(self, *keys: str):
        """``(key, value)`` pairs for ``keys`` that are set, in that order, or for every one
        of `keys` without arguments, as PyG's ``data(*keys)``
        (``for key, mask in g("train_mask", "val_mask")``); unset keys are skipped, as in
        PyG."""
        for key in keys:
            if not isinstance(key, str):
                raise TypeError(f"Graph: expected attribute names (str) as keys (got "
                                f"{type(key).__name__} {key!r})")
        return ((k, self[k]) for k in (keys or self.keys()) if k in self)

    # ---- a batch's graphs by position (PyG's Batch) ----------------------------------------
    def to_data_list(self) -> list:
        """The graphs of a batch (`Graph.batch`), each with its own rows: PyG's
        ``Batch.to_data_list`` (`unbatch`)."""
        return self.unbatch()

    def _examples(self, index) -> list:
        """The graphs at ``index``: integer positions or a bool mask over the graphs."""
        ids = np.asarray(index.detach().numpy() if hasattr(index, "detach") else index)
        n = self.num_graphs
        if ids.dtype == np.bool_:
            if ids.shape != (n,):
                raise IndexError(f"Graph: expected a bool mask of {n} graphs (got shape "
                                 f"{ids.shape})")
            ids = np.flatnonzero(ids)
        elif ids.size and ids.dtype.kind not in "iu" or ids.ndim != 1:
            raise TypeError(f"Graph: expected graph positions (ints) or a bool mask to index a "
                            f"batch (got {type(index).__name__} of dtype {ids.dtype}, shape "
                            f"{ids.shape})")
        graphs = self.to_data_list()
        return [graphs[self._position(int(i), n)] for i in ids]

    @staticmethod
    def _position(idx: int, n: int) -> int:
        if not -n <= idx < n:
            raise IndexError(f"Graph.get_example: expected an index in [{-n}, {n}) for a batch "
                             f"of {n} graphs (got {idx})")
        return idx

    def get_example(self, idx: int):
        """Graph ``idx`` of a batch (negative counts from the end), PyG's
        ``Batch.get_example``."""
        if isinstance(idx, bool) or not hasattr(idx, "__index__"):
            raise TypeError(f"Graph.get_example: expected an int index (got "
                            f"{type(idx).__name__} {idx!r})")
        return self.unbatch()[self._position(int(idx), self.num_graphs)]
