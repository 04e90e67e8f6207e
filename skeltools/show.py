"""`skel show`: draw one sample and every view of its scene, to see that alignment worked."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .manifests import load_layout
from .store import Store, StoreError


def find_sample(st: Store, name_or_index: str) -> int:
    names = st.read("meta/name")
    if name_or_index.lstrip("-").isdigit():
        i = int(name_or_index)
        if not 0 <= i < len(names):
            raise StoreError(f"index {i} out of range (store has {len(names)} samples)")
        return i
    hits = np.flatnonzero(names == name_or_index)
    if not len(hits):
        raise StoreError(f"no sample named {name_or_index!r} in {st.path}")
    return int(hits[0])


def show_sample(store: str | Path, name_or_index: str, out: str | Path, frames: int = 5) -> list[str]:
    """Front (axis 1 vs 0) and side (axis 2 vs 0) views of `frames` frames for each view of
    the sample's scene, in one PNG. Returns the names drawn."""
    from matplotlib.figure import Figure   # no pyplot: a notebook's backend is left alone

    with Store(store) as st:
        i = find_sample(st, name_or_index)
        scene = int(st.read("meta/scene", slice(i, i + 1))[0])
        members = [int(k) for k in st.read("views", slice(scene, scene + 1))[0] if k >= 0]
        names = st.read("meta/name")
        bones = load_layout(st.attrs["layout"]).bones
        poses = {k: np.asarray(st.node("poses")[k]) for k in members}
    T = next(iter(poses.values())).shape[1]
    pick = np.linspace(0, T - 1, frames).round().astype(int)
    import matplotlib
    fig = Figure(figsize=(4 * len(members), 8))
    axes = fig.subplots(2, len(members), squeeze=False)
    colors = matplotlib.colormaps["viridis"](np.linspace(0, 1, frames))
    for col, k in enumerate(members):
        for row, (h, title) in enumerate(((1, "front: axis 1 vs spine axis 0"), (2, "side: axis 2 vs spine axis 0"))):
            ax = axes[row, col]
            for c, t in zip(colors, pick):
                for body in poses[k]:
                    if not body[t].any():
                        continue
                    for a, b in bones:
                        ax.plot(body[t, [a, b], h], body[t, [a, b], 0], color=c, lw=1.5)
            ax.set_aspect("equal")
            ax.set_xlim(-1, 1)
            ax.set_ylim(-1, 1)
            ax.set_title(f"{names[k]}{' (selected)' if k == i else ''}\n{title}", fontsize=9)
    fig.tight_layout()
    fig.savefig(out, dpi=90)
    return [str(names[k]) for k in members]
