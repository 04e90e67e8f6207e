"""What a training run leaves beside its checkpoint: metrics.csv (a row per epoch) and curves.png."""
from __future__ import annotations

import csv
from pathlib import Path


def write_metrics(out: Path, rows: list[dict]) -> None:
    keys = sorted({k for r in rows for k in r}, key=lambda k: (k != "epoch", k))
    with open(out / "metrics.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=keys)
        w.writeheader()
        w.writerows(rows)


TITLES = {"loss": "total (alpha * contrastive + beta * recon)", "contrastive": "contrastive (Eq. 3 / 6)",
          "recon": "reconstruction (Eq. 7)"}


def plot_curves(out: Path, rows: list[dict]) -> None:
    """One panel a loss term (the total only where there is more than one term)."""
    if not rows:
        return
    from matplotlib.figure import Figure   # no pyplot: a notebook's backend is left alone

    terms = [k for k in ("contrastive", "recon") if k in rows[0]]
    panels = (["loss"] if len(terms) > 1 else []) + terms
    fig = Figure(figsize=(1 + 4 * len(panels), 4), layout="constrained")
    axes = fig.subplots(1, len(panels), squeeze=False)[0]   # one panel each: no line hides another
    epochs = [r["epoch"] for r in rows]
    colors = {"loss": "black", "contrastive": "tab:blue", "recon": "tab:orange"}
    for ax, k in zip(axes, panels):
        ax.plot(epochs, [r[k] for r in rows], color=colors[k], marker="o" if len(rows) < 30 else None, ms=3)
        ax.set(xlabel="epoch", ylabel="mean over the epoch's steps", title=TITLES[k])
    fig.suptitle("training curves")
    fig.savefig(out / "curves.png", dpi=90)
