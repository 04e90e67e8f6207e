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


def camera_sequences(raw_dir: str | Path, dataset: str, names: list[str], frames: int) -> dict[str, np.ndarray]:
    """The named samples before alignment: read from the raw files under raw_dir with the
    dataset's reader and body selection, resampled to `frames` (camera coordinates, metres)."""
    from .bodies import select_bodies
    from .formats.raw_sample import RawSample
    from .kernels import resample_linear
    from .manifests import load_dataset
    from .formats import find_units, reader_of

    spec = load_dataset(dataset)
    units, _ = find_units(Path(raw_dir), spec)
    out = {}
    for unit in units:
        if unit.name not in names and not any(n.startswith(unit.name) for n in names):
            continue
        for name, _, raw in reader_of(spec).read_unit(unit, spec):
            if name in names and isinstance(raw, RawSample):
                out[name] = resample_linear(select_bodies(raw, spec.bodies), frames)
    return out


def show_sample(store: str | Path, name_or_index: str, out: str | Path, frames: int = 5,
                raw_dir: str | Path | None = None) -> list[str]:
    """Every view of the sample's scene side by side: front (axis 1 vs 0) and side (axis 2 vs
    0) of `frames` frames after alignment, and, with `raw_dir`, the same frames before it (as
    the cameras saw them) in the top row. Frame colour runs from dark (first) to light (last).
    Returns the names drawn."""
    import matplotlib
    from matplotlib.figure import Figure   # no pyplot: a notebook's backend is left alone

    with Store(store) as st:
        i = find_sample(st, name_or_index)
        scene = int(st.read("meta/scene", slice(i, i + 1))[0])
        members = [int(k) for k in st.read("views", slice(scene, scene + 1))[0] if k >= 0]
        names = st.read("meta/name")
        views = st.read("meta/view")
        bones = load_layout(st.attrs["layout"]).bones
        dataset = st.attrs["dataset"]
        aligned = bool(st.attrs["aligned"])
        poses = {k: np.asarray(st.node("poses")[k]) for k in members}
    T = next(iter(poses.values())).shape[1]
    pick = np.linspace(0, T - 1, frames).round().astype(int)
    before = camera_sequences(raw_dir, dataset, [str(names[k]) for k in members], T) if raw_dir else {}
    rows = ([("before alignment (camera view)", lambda k: before.get(str(names[k])), (0, 1), None)]
            if before else []) + [
        (("aligned" if aligned else "stored (no alignment)") + ": front", lambda k: poses[k], (1, 0), (-1, 1)),
        (("aligned" if aligned else "stored (no alignment)") + ": side", lambda k: poses[k], (2, 0), (-1, 1))]
    fig = Figure(figsize=(4 * len(members) + 1, 4 * len(rows)))
    axes = fig.subplots(len(rows), len(members), squeeze=False)
    cmap = matplotlib.colormaps["viridis"]
    colors = cmap(np.linspace(0, 1, frames))
    for col, k in enumerate(members):
        for row, (title, get, (h, v), lim) in enumerate(rows):
            ax = axes[row, col]
            seq = get(k)
            if seq is None:
                ax.set_axis_off()
                continue
            for c, t in zip(colors, pick):
                for body in seq:
                    if not body[t].any():
                        continue
                    for a, b in bones:
                        ax.plot(body[t, [a, b], h], body[t, [a, b], v], color=c, lw=1.5)
            ax.set_aspect("equal")
            if lim:
                ax.set_xlim(*lim)
                ax.set_ylim(*lim)
            ax.set_xlabel(f"axis {h}{' (hips)' if h == 1 else ' (r0 x r1)' if h == 2 else ''}" if lim
                          else "camera x, right (m)")
            ax.set_ylabel("axis 0 (spine)" if lim else "camera y, up (m)")
            ax.set_title(f"camera {views[k]}: {names[k]}{' *' if k == i else ''}\n{title}", fontsize=9)
    sm = matplotlib.cm.ScalarMappable(cmap=cmap, norm=matplotlib.colors.Normalize(1, T))
    fig.colorbar(sm, ax=axes.ravel().tolist(), label=f"frame (of {T}, after resampling)", shrink=0.6)
    fig.suptitle(f"scene {scene} from each camera: one performance, {len(members)} views", fontsize=11)
    fig.savefig(out, dpi=90)
    return [str(names[k]) for k in members]
