"""The plots of `sparsegraph bench sparse-vs-dense`: time and memory against density, one panel
per (op, F), one line per N and side, the measured crossovers marked. They need matplotlib (the
`plot` extra); the command checks for it with `pyplot` before its sweep.
"""

from __future__ import annotations

NO_MATPLOTLIB = ("plots need matplotlib, which is not installed: pip install "
                 "'sparsegraph[plot]' (or pass --no-plots)")


def pyplot():
    """matplotlib.pyplot on the file-only Agg backend; ImportError without matplotlib (the
    `plot` extra)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot(points: list[dict], cross: list[dict], folder) -> list[str]:
    """time_vs_density.png (crossovers marked) and memory_vs_density.png; ImportError without
    matplotlib."""
    import pathlib

    plt = pyplot()
    folder = pathlib.Path(folder)
    if not points:
        return []
    ops = list(dict.fromkeys(p["op"] for p in points))
    feats = list(dict.fromkeys(p["features"] for p in points))
    nodes = list(dict.fromkeys(p["n_rows"] for p in points))
    colors = {n: plt.cm.viridis(i / max(len(nodes) - 1, 1)) for i, n in enumerate(nodes)}
    written = []
    for name, key, ylabel in (("time_vs_density.png", "_s", "forward + backward time (s)"),
                              ("memory_vs_density.png", "_memory_bytes",
                               "bytes beyond the inputs, forward + backward")):
        fig, axes = plt.subplots(len(ops), len(feats), squeeze=False,
                                 figsize=(5.5 * len(feats), 4.2 * len(ops)))
        for r, op in enumerate(ops):
            for c, f in enumerate(feats):
                ax = axes[r][c]
                for n in nodes:
                    mine = sorted((p for p in points if (p["op"], p["features"], p["n_rows"])
                                   == (op, f, n)), key=lambda p: p["density"])
                    for side, style in (("sparse", "-o"), ("dense", "--s")):
                        xy = [(p["density"], p[side + key]) for p in mine if p[side + key]]
                        if xy:
                            ax.plot(*zip(*xy, strict=True), style, color=colors[n], ms=3,
                                    label=f"N={n} {side}")
                    if key != "_s" and mine and not any(p["dense_s"] for p in mine):
                        ax.plot([mine[0]["density"], mine[-1]["density"]],
                                [mine[0]["dense_matrix_bytes"]] * 2, ":", color=colors[n],
                                label=f"N={n} dense matrix alone (over budget, not run)")
                    hit = next((x for x in cross if (x["op"], x["features"], x["nodes"])
                                == (op, f, n) and x["crossover_density"]), None)
                    if hit and key == "_s":
                        ax.axvline(hit["crossover_density"], color=colors[n], ls=":", lw=1.2,
                                   label=f"N={n} crossover {hit['crossover_density']:.2g}")
                ax.set(xscale="log", yscale="log", xlabel="density nnz / N^2", ylabel=ylabel,
                       title=f"{'A @ X' if op == 'spmm' else 'GCN layer'}, F={f}")
                ax.grid(True, which="both", alpha=0.3)
                ax.legend(fontsize=6, ncol=2, framealpha=0.6)
        if key == "_s":
            fig.suptitle("sparse (solid) vs dense (dashed); dotted: measured crossover")
        fig.tight_layout()
        tmp = folder / f".{name}.part.png"
        fig.savefig(tmp, dpi=110)
        plt.close(fig)
        tmp.replace(folder / name)
        written.append(str(folder / name))
    return written
