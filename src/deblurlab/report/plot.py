"""``psnr_vs_runtime.png``: PSNR against runtime per image, ours beside the papers'."""

from __future__ import annotations

import statistics
from pathlib import Path

from deblurlab.report.table import Row


def plot_psnr_runtime(rows: list[Row], path: Path) -> int:
    """PSNR against runtime per image (log scale), in the spirit of the MIMO-UNet paper's Figure 1:
    filled markers are our runs, hollow ones the paper's numbers (only where comparable).
    Returns the points drawn."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    fig, ax = plt.subplots(figsize=(7.5, 5.0), dpi=120)
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    drawn = 0
    for i, row in enumerate(rows):
        colour = colours[i % len(colours)]
        psnr, runtime = row.values("psnr"), row.values("runtime_s")
        if psnr and runtime and statistics.fmean(runtime) > 0:
            x, y = statistics.fmean(runtime), statistics.fmean(psnr)
            ax.scatter([x], [y], s=60, color=colour, edgecolors="black", linewidths=0.5, zorder=3)
            ax.annotate(row.label, (x, y), textcoords="offset points", xytext=(6, 4), fontsize=8)
            drawn += 1
        paper = row.paper
        if row.comparable and paper.get("psnr") is not None and paper.get("runtime_s"):
            x, y = float(paper["runtime_s"]), float(paper["psnr"])
            ax.scatter(
                [x], [y], s=60, facecolors="none", edgecolors=colour, linewidths=1.5, zorder=3
            )
            ax.annotate(
                f"{paper.get('row', row.label)} (paper)",
                (x, y),
                textcoords="offset points",
                xytext=(6, -10),
                fontsize=8,
                color="0.35",
            )
            drawn += 1
    ax.set_xscale("log")
    plain = matplotlib.ticker.FuncFormatter(lambda value, _: f"{value:g}")
    ax.xaxis.set_major_formatter(plain)
    ax.xaxis.set_minor_formatter(plain)
    ax.set_xlabel("runtime per image (s, log scale)")
    ax.set_ylabel("PSNR (dB)")
    ax.set_title("PSNR vs runtime — filled: measured here, hollow: paper", fontsize=10)
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return drawn
