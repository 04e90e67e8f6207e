"""`skel show`: draw one sample and every view of its scene, to see that alignment worked."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .manifests import store_layout
from .store import Store, StoreError

MAX_FRAMES = 12   # frames drawn per panel at most: more only overdraw (and took minutes at 1000)


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


def raw_units(raw_dir: str | Path, attrs: dict) -> tuple[list, object]:
    """The raw units under raw_dir and the spec to read them with: the dataset's, or for a
    custom store the index it names (in raw_dir, or raw_dir itself), which must be the one the
    store was made from (its digest)."""
    import hashlib

    from .formats import find_units
    from .manifests import load_dataset, store_layout
    if attrs["dataset"] != "custom":
        spec = load_dataset(attrs["dataset"])
        return find_units(Path(raw_dir), spec)[0], spec
    from .index import read_index
    index = Path(raw_dir) if Path(raw_dir).is_file() else Path(raw_dir) / attrs["index"]
    if not index.is_file() or hashlib.sha256(index.read_bytes()).hexdigest() != attrs.get("index_sha256"):
        raise StoreError(f"--raw {raw_dir}: no {attrs['index']} there with the digest this store records: give the "
                         "folder of the index the store was prepared from (or the index itself)")
    found = read_index(index, layout=store_layout(attrs), units=attrs.get("units", "m"))
    return found.units, found.spec


def camera_sequences(raw_dir: str | Path, attrs: dict, samples: dict[str, int], frames: int) -> dict[str, np.ndarray]:
    """The named samples before alignment: read from the raw files under raw_dir with the
    dataset's reader and body selection, resampled to `frames` (camera coordinates, metres).
    `samples`: name -> the store's frame count before resampling; a raw sample that is missing
    or of another length is not the one the store was made from: StoreError."""
    from .bodies import select_bodies
    from .formats import reader_of
    from .formats.raw_sample import RawSample
    from .kernels import resample_linear

    units, spec = raw_units(raw_dir, attrs)
    out = {}
    for unit in units:
        if unit.name not in samples and not any(n.startswith(unit.name) for n in samples):
            continue
        for name, _, raw in reader_of(spec).read_unit(unit, spec):
            if name in samples and isinstance(raw, RawSample) and name not in out:
                bodies = select_bodies(raw, spec.bodies)
                if bodies.shape[1] != samples[name]:
                    raise StoreError(f"--raw {raw_dir}: the raw file of {name} has {bodies.shape[1]} frames and the "
                                     f"store's sample {samples[name]}: not the folder this store was prepared from")
                out[name] = resample_linear(bodies, frames)
    missing = sorted(set(samples) - set(out))
    if missing:
        raise StoreError(f"--raw {raw_dir}: no readable raw file of {', '.join(missing)} there: not the folder this "
                         "store was prepared from")
    return out


def show_sample(store: str | Path, name_or_index: str, out: str | Path, frames: int = 5,
                raw_dir: str | Path | None = None) -> tuple[list[str], int]:
    """Every view of the sample's scene side by side: front (axis 1 vs 0) and side (axis 2 vs
    0) of `frames` frames (at most MAX_FRAMES) after alignment, and, with `raw_dir`, the same
    frames before it (as the cameras saw them) in the top row. Frame colour runs from dark
    (first) to light (last). Returns the names drawn and the frames drawn per panel."""
    with Store(store) as st:
        i = find_sample(st, name_or_index)
        scene = int(st.read("meta/scene", slice(i, i + 1))[0])
        members = [int(k) for k in st.read("views", slice(scene, scene + 1))[0] if k >= 0]
        names, views, raw_frames = st.read("meta/name"), st.read("meta/view"), st.read("meta/frames")
        bones = store_layout(st.attrs).bones
        attrs, aligned = dict(st.attrs), bool(st.attrs["aligned"])
        poses = {k: st.read("poses", k) for k in members}
    T = next(iter(poses.values())).shape[1]
    frames = min(frames, T, MAX_FRAMES)
    pick = np.linspace(0, T - 1, frames).round().astype(int)
    before = camera_sequences(raw_dir, attrs, {str(names[k]): int(raw_frames[k]) for k in members}, T) \
        if raw_dir else {}
    y_axis = "camera y (m)" if attrs["dataset"] == "custom" else "camera y, up (m)"   # Azure Kinect's y points down
    _draw(out, members, poses, before, names, views, i, scene, bones, aligned, pick, T, y_axis)
    return [str(names[k]) for k in members], frames


def _draw(out, members, poses, before, names, views, asked, scene, bones, aligned, pick, T, y_axis) -> None:
    import matplotlib
    from matplotlib.figure import Figure   # no pyplot: a notebook's backend is left alone

    stored = "aligned" if aligned else "stored (no alignment)"
    rows = ([("before alignment: as the camera saw it", lambda k: before.get(str(names[k])), (0, 1), False)]
            if before else []) + [(f"{stored}: front", lambda k: poses[k], (1, 0), True),
                                  (f"{stored}: side", lambda k: poses[k], (2, 0), True)]
    fig = Figure(figsize=(3.2 * len(members) + 1.6, 3.3 * len(rows)), layout="constrained")
    axes = fig.subplots(len(rows), len(members), squeeze=False)
    cmap = matplotlib.colormaps["viridis"]
    colors = cmap(np.linspace(0, 1, len(pick)))
    axis_names = {0: "axis 0 (spine)", 1: "axis 1 (hips)", 2: "axis 2 (r0 x r1)"}
    for row, (title, get, (h, v), in_store_units) in enumerate(rows):
        for col, k in enumerate(members):
            ax = axes[row, col]
            seq = get(k)
            for c, t in zip(colors, pick):
                for body in seq:
                    if body[t].any():
                        for a, b in bones:
                            ax.plot(body[t, [a, b], h], body[t, [a, b], v], color=c, lw=1.2)
            if in_store_units:          # fixed square limits: the box keeps the aspect (no limit to give up)
                ax.set(xlim=(-1, 1), ylim=(-1, 1), xticks=np.linspace(-1, 1, 5), yticks=np.linspace(-1, 1, 5))
                ax.set_aspect("equal", adjustable="box")
            else:
                ax.set_aspect("equal", adjustable="datalim")
            ax.tick_params(labelsize=7)
            ax.set_title(f"camera {views[k]}: {names[k]}{' *' if k == asked else ''}\n{title}", fontsize=8)
            if row == len(rows) - 1 or not in_store_units:
                ax.set_xlabel(axis_names[h] if in_store_units else ("camera x (m)" if y_axis == "camera y (m)" else "camera x, right (m)"), fontsize=8)
            if col == 0:
                ax.set_ylabel(axis_names[v] if in_store_units else y_axis, fontsize=8)
    sm = matplotlib.cm.ScalarMappable(cmap=cmap, norm=matplotlib.colors.Normalize(1, T))
    fig.colorbar(sm, ax=axes[:, -1].tolist(), label=f"frame (of the {T} every row is resampled to)", shrink=0.8)
    n = len(members)
    fig.suptitle(f"scene {scene}: one performance seen by {n} camera{'s' if n != 1 else ''} (* the sample asked for)",
                 fontsize=10)
    fig.savefig(out, dpi=90)
