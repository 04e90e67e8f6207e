"""`skel stats`: what a store holds, as a dict, a readable table and a figure."""
from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np

from .formats.raw_sample import reason_kind
from .store import require_valid
from .store import Store


def store_stats(path: str | Path) -> dict:
    """The CONTRACT section 3 statistics of a store (plus per-class counts)."""
    require_valid(path)
    with Store(path) as st:
        meta = st.meta()
        classes = st.attrs["classes"]
        n = len(meta["label"])
        frames = meta["frames"]
        amax, at = 0.0, -1
        for lo in range(0, n, 1024):
            block = st.read("poses", slice(lo, min(n, lo + 1024)))
            peaks = np.abs(block).reshape(len(block), -1).max(axis=1)
            if len(peaks) and peaks.max() > amax:
                amax, at = float(peaks.max()), lo + int(peaks.argmax())
        codes = st.read("skipped/code") if st.has("skipped/code") else \
            [reason_kind(r) for r in st.read("skipped/reason")]   # stores written before codes were
        reasons = Counter(codes)
        return {
            "path": str(path),
            "dataset": st.attrs["dataset"],
            "layout": st.attrs["layout"],
            "aligned": bool(st.attrs["aligned"]),
            "frames_per_sample": int(st.attrs["frames"]),
            "scale": float(st.attrs["scale"]),
            "samples": n,
            "scenes": int(st.node("views").shape[0]),
            "classes": int(len(np.unique(meta["label"]))),
            "n_classes": len(classes),
            "per_view": {str(v): int(c) for v, c in sorted(Counter(meta["view"].tolist()).items())},
            "per_class": {classes[k]: int(c) for k, c in sorted(Counter(meta["label"].tolist()).items())},
            "two_body_samples": int(np.sum(meta["bodies"] >= 2)),
            "splits": {p: {"train": len(st.split(p, "train")), "test": len(st.split(p, "test"))}
                       for p in st.protocols()},
            "skipped": int(sum(reasons.values())),
            "skipped_by_reason": dict(reasons.most_common()),
            "frames": {"min": int(frames.min()) if n else 0, "mean": float(frames.mean()) if n else 0.0,
                       "max": int(frames.max()) if n else 0},
            "abs_max": amax,
            "scale_set_by": _scale_set_by(st, meta, at),
        }


def _scale_set_by(st: Store, meta: dict, at: int) -> dict | None:
    """The sample whose largest |coordinate| the dataset's scale is (dataset-wide scaling): the
    one to look at when the scale seems wrong (one glitch can shrink every other sample)."""
    if at < 0 or st.attrs.get("scaling", "dataset") != "dataset":
        return None
    return {"name": str(meta["name"][at]), "index": at, "metres": float(st.attrs["scale"])}


def stats_table(s: dict) -> str:
    """A plain-text report of `store_stats`."""
    rows = [
        ("store", s["path"]), ("dataset", f"{s['dataset']} ({s['layout']}, aligned={s['aligned']})"),
        ("samples", s["samples"]), ("scenes", s["scenes"]),
        ("classes", f"{s['classes']} of {s['n_classes']} present"),
        ("two-body samples", s["two_body_samples"]),
        ("raw frames", f"min {s['frames']['min']}, mean {s['frames']['mean']:.1f}, max {s['frames']['max']}"),
        ("frames per sample", s["frames_per_sample"]), ("scale", f"{s['scale']:.4g} (|poses| max {s['abs_max']:.4f})"),
    ]
    if s.get("scale_set_by"):
        rows.append(("scale set by", f"{s['scale_set_by']['name']} (sample {s['scale_set_by']['index']}: its largest "
                                     f"|coordinate|, {s['scale_set_by']['metres']:.4g} m)"))
    out = [f"{k:<18} {v}" for k, v in rows]
    out.append("per view           " + ", ".join(f"view {v}: {c}" for v, c in s["per_view"].items()))
    out.append("splits")
    out += [f"  {p:<16} train {d['train']:>7}  test {d['test']:>7}" for p, d in s["splits"].items()]
    out.append(f"skipped            {s['skipped']}")
    out += [f"  {c:>7}  {r}" for r, c in s["skipped_by_reason"].items()]
    return "\n".join(out)


def plot_stats(s: dict, path: str | Path, raw_frames: np.ndarray) -> None:
    """Histogram of raw lengths, per-class and per-view counts, in one PNG."""
    from matplotlib.figure import Figure   # no pyplot: a notebook's backend is left alone

    from matplotlib.ticker import MaxNLocator
    fig = Figure(figsize=(15, 4.5))
    ax = fig.subplots(1, 3, gridspec_kw={"width_ratios": [1, 2, 0.6]})
    ax[0].hist(raw_frames, bins=40, color="tab:blue")
    ax[0].set(title="raw frames per sample", xlabel="frames", ylabel="samples")
    names = list(s["per_class"])
    ax[1].bar(range(len(names)), list(s["per_class"].values()), color="tab:green")
    ax[1].set(title=f"samples per class ({s['classes']} classes)", ylabel="samples")
    ax[1].set_xticks(range(len(names)), [n if len(n) <= 18 else n[:17] + "…" for n in names],
                     rotation=90 if len(names) > 12 else 45, ha="center" if len(names) > 12 else "right",
                     fontsize=6 if len(names) > 30 else 8)
    for a in ax:
        a.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax[2].bar(list(s["per_view"].keys()), list(s["per_view"].values()), color="tab:orange")
    ax[2].set(title="samples per view", xlabel="view")
    fig.suptitle(f"{s['dataset']}: {s['samples']} samples, {s['scenes']} scenes")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
