if __name__ != "sparsegraph.datasets":
    raise ImportError(f"import this package as sparsegraph.datasets (it was imported as {__name__!r})")
