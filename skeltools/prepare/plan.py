"""What a prepare run decides before it reads a file, and after every sample is known: the
output path's checks, the transform's parameters, the protocols, and the scene index."""
from __future__ import annotations

import os
from dataclasses import asdict
from pathlib import Path

import numpy as np

from ..manifests import DatasetSpec, Protocol, dataset_names, load_dataset, read_split_file
from ..store import StoreError, backend_of, is_tool_store, remove_stale
from ..bodies import DenoiseParams
from ..transform import PlausibilityBounds, TransformParams

SCALINGS = ("dataset", "sample")


def check_scaling(scaling: str) -> None:
    """Refuse an unknown --scale before any work."""
    if scaling not in SCALINGS:
        raise ValueError(f"--scale {scaling!r}: choose from {', '.join(SCALINGS)}")


def output_path(out: Path) -> Path:
    """Where the store goes: a link given as --out is followed (the link stays and names the
    new store); one whose target is missing is refused."""
    if not out.is_symlink():
        return out
    target = Path(os.path.realpath(out))
    if not target.exists():
        raise StoreError(f"{out} is a link to {target}, which does not exist; give that path or remove the link")
    return target


def check_out_path(out: Path) -> None:
    """Refuse, before any work, an --out that cannot or must not be written; remove what
    killed runs to it left behind."""
    backend_of(out)
    folder = out.resolve().parent
    if not folder.is_dir():
        raise FileNotFoundError(f"{out.parent}: the folder for --out does not exist")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise StoreError(f"{folder}: cannot write there (read-only or no permission)")
    if (out.exists() or out.is_symlink()) and not is_tool_store(out):
        kind = "a folder" if out.is_dir() else "a file"
        raise StoreError(f"{out} exists and is {kind} that is not a store written by skel prepare; "
                         "remove it or choose another --out (only a skeltools store is replaced)")
    remove_stale(out, is_tool_store)


def transform_params(spec: DatasetSpec, frames: int, align: bool) -> TransformParams:
    """The transform's settings: the dataset's plausibility bounds and body-selection thresholds
    (its manifest's `plausibility` and `denoise`, else the defaults)."""
    bounds = {k: float(v) for k, v in spec.extra.get("plausibility", {}).items() if k != "source"}
    denoise = {k: v for k, v in spec.extra.get("denoise", {}).items() if k != "source"}
    return TransformParams(frames=frames, align=align, bounds=PlausibilityBounds(**bounds),
                           denoise=DenoiseParams(**denoise))


def protocols_of(spec: DatasetSpec, split_files: tuple) -> tuple[list[Protocol], dict[str, str]]:
    """The manifest's protocols, each replaced by an official split file of its name where
    one is given, and where each comes from."""
    from_files = {p.name: (p, f) for f in split_files for p in read_split_file(f)}
    protocols = [p for p in spec.protocols if p.name not in from_files] + [p for p, _ in from_files.values()]
    sources = {p.name: "manifest" for p in spec.protocols if p.name not in from_files}
    sources.update({name: f"--split-file {Path(f).name}" for name, (_, f) in from_files.items()})
    return protocols, sources


def split_fields(meta: dict, units: list[str] | None = None) -> dict[str, np.ndarray]:
    """Per-sample values that split rules and scene keys may refer to."""
    out = {k: np.asarray(meta[k]) for k in ("subject", "setup", "replication", "view", "scene")}
    out["name"] = np.asarray(meta["name"], dtype=object)
    out["action"] = np.asarray(meta["label"]) + 1
    if units is not None:
        out["unit"] = np.asarray(units, dtype=object)
    return out


def scene_index(fields: dict[str, np.ndarray], spec: DatasetSpec) -> tuple[np.ndarray, np.ndarray]:
    """meta/scene (in order of first appearance) and the (S, V) views table, from `split_fields`."""
    keys = list(zip(*(fields[f] for f in spec.scene_fields)))
    ids: dict = {}
    scene = np.array([ids.setdefault(k, len(ids)) for k in keys], dtype=np.int32)
    views = np.full((len(ids), spec.n_views), -1, np.int32)
    for i, (s, v) in enumerate(zip(scene, fields["view"])):
        views[s, int(v) - 1] = i
    return scene, views


def store_attrs(spec: DatasetSpec, params: TransformParams, protocol_sources: dict, scaling: str,
                version: str, extra: dict | None = None) -> dict:
    """The root attributes that say what the store holds and how it was made."""
    return {"dataset": spec.name, "layout": spec.layout.name, "frames": params.frames,
            "aligned": bool(params.align), "n_views": spec.n_views, "classes": spec.classes,
            "tool_version": version, "plausibility": asdict(params.bounds),
            "denoise": asdict(params.denoise), "min_norm": params.min_norm,
            "protocol_sources": protocol_sources, "scaling": scaling, **(extra or {}),
            **({"layout_spec": spec.layout.as_dict()} if str(spec.layout_name).endswith(".json") else {})}


def nothing_written(spec: DatasetSpec, skipped: list) -> str:
    """Why a run wrote no sample: the commonest skip reason with an example, and a hint where
    the names belong to another dataset."""
    if not skipped:
        return "wrote no sample: no item was read"
    codes: dict[str, list] = {}
    for name, why in skipped:
        codes.setdefault(why.code, []).append((name, why))
    code, items = max(codes.items(), key=lambda kv: len(kv[1]))
    hint = other_dataset(spec, [name for name, _ in skipped])
    return (f"wrote no sample: all {len(skipped)} items were skipped, {len(items)} for {code!r} (e.g. {items[0][0]}: "
            f"{items[0][1].detail})" + (f"; {hint}" if hint else ""))


def other_dataset(spec: DatasetSpec, names: list[str]) -> str | None:
    """'these names look like X: did you mean `skel prepare X`?' where most of `names` lie
    outside `spec`'s ranges but inside another dataset's of the same raw format."""
    suffix = spec.example.rsplit(".", 1)[-1] if "." in spec.example else ""
    fields = [spec.parse_file_name(f"{n}.{suffix}" if suffix else n) for n in names]
    outside = [f for f in fields if f is not None and spec.out_of_range(f) is not None]
    if len(outside) * 2 < len(names):
        return None
    for other in dataset_names():
        o = load_dataset(other)
        if other != spec.name and o.reader == spec.reader and \
                sum(o.out_of_range(f) is None for f in outside) * 2 > len(outside):
            return f"these names look like {other}: did you mean `skel prepare {other}`?"
    return None


def empty_parts(splits: dict[str, tuple[np.ndarray, np.ndarray]]) -> dict[str, list[str]]:
    """The protocols with an empty train or test part, and which parts."""
    empty = {name: [part for part, idx in zip(("train", "test"), parts) if not len(idx)]
             for name, parts in splits.items()}
    return {name: parts for name, parts in empty.items() if parts}
