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
# what the focal weights do (focovil.losses.focal_stats): panel title -> (columns, their labels)
FOCAL_PANELS = {"cosine in g-space": (("pos_cos", "neg_cos"), ("positive pairs", "negative pairs")),
                "focal weights": (("w_pos", "w_neg"), ("w+", "w-")),
                "gradient on negatives / on positives": (("grad_neg_over_pos",), (None,))}


def plot_curves(out: Path, rows: list[dict]) -> None:
    """One panel a loss term (the total only where there is more than one term), and, for
    contrastive presets, what the focal weights did: the cosines, the weights and the share
    of the gradient on negatives."""
    if not rows:
        return
    from matplotlib.figure import Figure   # no pyplot: a notebook's backend is left alone
    from matplotlib.ticker import MaxNLocator

    terms = [k for k in ("contrastive", "recon") if k in rows[0]]
    panels = [(TITLES[k], (k,), (None,)) for k in (["loss"] if len(terms) > 1 else []) + terms]
    panels += [(title, keys, labels) for title, (keys, labels) in FOCAL_PANELS.items() if keys[0] in rows[0]]
    cols = min(3, len(panels))
    nrows = -(-len(panels) // cols)
    fig = Figure(figsize=(1 + 4 * cols, 3.4 * nrows), layout="constrained")
    axes = fig.subplots(nrows, cols, squeeze=False).ravel()   # one panel each: no line hides another
    epochs = [r["epoch"] for r in rows]
    for ax, (title, keys, labels) in zip(axes, panels):
        for k, label in zip(keys, labels):
            ax.plot(epochs, [r[k] for r in rows], marker="o" if len(rows) < 30 else None, ms=3, label=label)
        if labels[0] is not None:
            ax.legend(fontsize=8)
        ax.set(xlabel="epoch", ylabel="mean over the epoch's steps", title=title)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))     # epochs are whole numbers
        ax.ticklabel_format(axis="y", useOffset=False)              # values as they are, not "+4.49" and a remainder
    for ax in axes[len(panels):]:
        ax.set_axis_off()
    fig.suptitle("training curves")
    fig.savefig(out / "curves.png", dpi=90)
