"""The tracer's part for values library code reads on the host (`sparsegraph.tensor.host_values`):
an edge_index turned into a CSR structure, a pool's ``batch``, a size inferred from an index.
What is built from them is not an op, so the graph keeps it: an input's values read are
recorded (`compile` traces again for others), a constant's version too, a raw array's values
are guarded by a copy; a tensor the step computed from traced values is refused.
"""

from __future__ import annotations

from sparsegraph.static.ir import HostRead, Value
from sparsegraph.static.recorded import CaptureError
from sparsegraph.tensor import Tensor


class HostReads:
    """Mixin of `sparsegraph.static.capture.Tracer`; reads ``reads`` (value id -> HostRead),
    ``read_arrays`` and ``positions`` (input value id -> position), set up by the tracer."""

    def read_values(self, obj, what: str, hint: str = "") -> None:
        """Python reads the values of ``obj`` (an index Tensor or array) on the host to build
        something it keeps (`sparsegraph.tensor.host_values`): an input's are guarded (`compile`
        traces again for other values), a constant's version too (bound now if unseen) and a
        raw array's values; a tensor computed in the step from traced values (or a
        parameter) is refused, as its values differ on every call."""
        if self.depth:
            return  # inside an op's forward: the op runs again on every call
        if isinstance(obj, Tensor):
            entry = self._entry(obj)
            v = entry[1] if entry is not None else self._alias_of(obj)
            self._op = what
            v = self.value_of(obj) if v is None else v  # an unseen tensor: a constant
        elif hasattr(obj, "shape") and hasattr(obj, "dtype"):
            v = self._array_value(obj) or self._base_value(obj)
            if v is None:  # a raw array (a closure's numpy edge_index): guarded by value
                if not any(a is obj for a in self.read_arrays):
                    self.read_arrays.append(obj)
                return
        else:
            return  # a list: a Python value, baked in like a literal argument
        if v.id in self.reads or v.id in self._known:
            return  # read before, or computed from constants only (their versions are guarded)
        t = v.tensor
        if v.kind == "input":
            self.reads[v.id] = HostRead(what, t, t._version[0], t.array, self.positions[v.id],
                                        t.array.copy())
        elif v.kind == "const" and not v.mutable:
            self.reads[v.id] = HostRead(what, t, t._version[0], t.array)
        else:
            source = ("a parameter" if v.kind == "param" else "a tensor the step writes in "
                      "place" if v.kind == "const" else "a tensor computed in the step (the "
                      f"output of {v.producer.op if v.producer is not None else v.label()})")
            raise CaptureError(
                f"static.trace: {what} reads on the host the values of {source}; a static "
                "graph would keep this run's values. " + (
                    hint or "Compute it outside the compiled function and pass it as an "
                    "argument (or pass a SparseTensor / Graph)"))

    def _base_value(self, array) -> Value | None:
        """The Value of a traced array that ``array`` views (``ei.array[::-1]``), if any: one
        with the same memory owner (numpy's ``base`` skips the views in between), an input's
        first (an op output on its memory is a view of it: guarding the input is enough)."""
        root = _owner(array)
        if root is array:
            return None
        found = None
        for ref, is_array, v in list(self._arrays.values()):
            held = ref()
            a = held if is_array else getattr(held, "array", None)
            if a is not None and _owner(a) is root:
                if v.kind == "input":
                    return v
                found = found or v
        return found

    def checked_reads(self) -> list[HostRead]:
        """The reads, after the trace; a constant changed in place after its values were read
        is refused (the graph holds what was built from the old values)."""
        for read in self.reads.values():
            t = read.tensor
            if read.position is None and (t._version[0] != read.version
                                          or t.array is not read.array):
                raise CaptureError(
                    f"static.trace: {read.what} read the values of a tensor of shape "
                    f"{tuple(t.shape)} on the host, then the step changed it in place; a "
                    "static graph would keep what was built from the old values. Change it "
                    "outside the compiled function")
        return list(self.reads.values())


def _owner(array):
    """The array owning ``array``'s memory (``array`` itself when it owns it)."""
    while hasattr(getattr(array, "base", None), "shape"):
        array = array.base
    return array
