if __name__ != "sparsegraph.gnn":
    raise ImportError(f"import this package as sparsegraph.gnn (it was imported as {__name__!r})")
