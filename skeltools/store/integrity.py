"""Integrity: the digests a store records, and `skel check`'s logic (a store against CONTRACT
section 1, and its content against its checksums).

The structural part (attributes, arrays, shapes, dtypes, index ranges, splits, views,
version, every chunk of `poses` present) reads only the small arrays, so `skel stats`,
`focovil train` and `focovil eval` run it before they trust a store. The content part
re-reads every chunk of `poses` and compares it with the crc32 that `prepare` recorded:
a lost Zarr chunk (which reads as zeros) or flipped bytes fail it.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from .chunks import array_checksum, chunk_checksum
from .reader import Store
from .schema import CHECKSUM_KEY, META_DTYPES, StoreError

OPTIONAL_META = {"scale"}   # absent from stores written before per-sample scales
REQUIRED_ATTRS = {"dataset": str, "layout": str, "frames": int, "aligned": bool, "scale": float, "n_views": int,
                  "classes": list}


def _attr_problems(attrs: dict) -> list[str]:
    out = []
    for key, kind in REQUIRED_ATTRS.items():
        if key not in attrs:
            out.append(f"attribute {key!r} is missing")
            continue
        v = attrs[key]
        ok = {str: isinstance(v, str), bool: isinstance(v, (bool, np.bool_)) or v in (0, 1),
              int: isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v >= 1,
              float: isinstance(v, (int, float)) and math.isfinite(v) and v > 0,
              list: isinstance(v, (list, tuple)) and len(v) > 0}[kind]
        if not ok:
            out.append(f"attribute {key!r} is {v!r}, not a valid {'positive number' if kind is float else kind.__name__}")
    return out


def _array_problems(st: Store, attrs: dict) -> list[str]:
    out = []
    if not st.has("poses"):
        return ["array poses is missing"]
    P = st.node("poses")
    if len(P.shape) != 5 or P.shape[-1] != 3 or np.dtype(P.dtype) != np.float32:
        return [f"poses has shape {tuple(P.shape)} and dtype {P.dtype}, expected (N, M, T, J, 3) float32"]
    N = P.shape[0]
    if isinstance(attrs.get("frames"), int) and P.shape[2] != attrs["frames"]:
        out.append(f"poses has {P.shape[2]} frames per sample, the frames attribute says {attrs['frames']}")
    meta = {}
    for k, dt in META_DTYPES.items():
        key = f"meta/{k}"
        if not st.has(key):
            if k not in OPTIONAL_META:
                out.append(f"array {key} is missing")
            continue
        a = st.read(key)
        if a.ndim != 1 or len(a) != N:
            out.append(f"{key} has shape {a.shape}, expected ({N},) like poses")
            continue
        kinds = "f" if np.dtype(dt).kind == "f" else "iu" if dt is not str else a.dtype.kind
        if a.dtype.kind not in kinds:
            out.append(f"{key} has dtype {a.dtype}, expected {'numbers' if kinds == 'f' else 'integers'}")
            continue
        if k == "scale" and len(a) and not (np.isfinite(a).all() and a.min() > 0):
            out.append(f"{key}: divisors that are not positive and finite")
            continue
        meta[k] = a
    n_classes = len(attrs["classes"]) if isinstance(attrs.get("classes"), list) else None
    if "label" in meta and n_classes and len(meta["label"]) and not (0 <= meta["label"].min() and
                                                                        meta["label"].max() < n_classes):
        bad = int(np.sum((meta["label"] < 0) | (meta["label"] >= n_classes)))
        out.append(f"meta/label: {bad} labels outside 0..{n_classes - 1} (the classes attribute)")
    V = attrs.get("n_views") if isinstance(attrs.get("n_views"), int) else None
    if "view" in meta and V and len(meta["view"]) and not (1 <= meta["view"].min() and meta["view"].max() <= V):
        out.append(f"meta/view: values outside 1..{V} (the n_views attribute)")
    out += _views_problems(st, meta, N, V)
    out += _split_problems(st, N)
    if st.has("skipped/name") and st.has("skipped/reason") and \
            st.node("skipped/name").shape != st.node("skipped/reason").shape:
        out.append("skipped/name and skipped/reason differ in length")
    elif not (st.has("skipped/name") and st.has("skipped/reason")):
        out.append("array skipped/name or skipped/reason is missing")
    written, need = st.stored_chunks("poses")
    if written < need:
        out.append(f"poses: {need - written} of {need} chunks are missing (they would read as zeros)")
    return out


def _views_problems(st: Store, meta: dict, N: int, V: int | None) -> list[str]:
    if not st.has("views"):
        return ["array views is missing"]
    views = st.read("views")
    if views.ndim != 2 or (V and views.shape[1] != V) or views.dtype.kind not in "iu":
        return [f"views has shape {views.shape} and dtype {views.dtype}, expected (S, {V}) integers"]
    if len(views) and (views.min() < -1 or views.max() >= N):
        return [f"views holds sample indices outside -1..{N - 1}"]
    out = []
    s, v = np.nonzero(views >= 0)
    idx = views[s, v]
    if "view" in meta and len(idx) and not np.array_equal(meta["view"][idx], v + 1):
        out.append("views disagrees with meta/view (a sample sits in another view's column)")
    if "scene" in meta and len(idx) and not np.array_equal(meta["scene"][idx], s):
        out.append("views disagrees with meta/scene (a sample sits in another scene's row)")
    if len(np.unique(idx)) != len(idx):
        out.append("views lists a sample twice")
    return out


def _split_problems(st: Store, N: int) -> list[str]:
    out = []
    for proto in st.protocols():
        parts = {}
        for part in ("train", "test"):
            key = f"splits/{proto}/{part}"
            if not st.has(key):
                out.append(f"array {key} is missing")
                continue
            a = st.read(key)
            if a.ndim != 1 or a.dtype.kind not in "iu":
                out.append(f"{key} has shape {a.shape} and dtype {a.dtype}, expected sorted integers")
            elif len(a) and (a.min() < 0 or a.max() >= N):
                out.append(f"{key}: indices past the {N} samples (max {int(a.max())})")
            elif np.any(np.diff(a) <= 0):
                out.append(f"{key} is not sorted and unique")
            else:
                parts[part] = a
        if len(parts) == 2 and np.intersect1d(parts["train"], parts["test"]).size:
            out.append(f"splits/{proto}: train and test share samples")
    return out


def structure_problems(path: str | Path) -> list[str]:
    """The cheap part of the check: everything but re-reading the poses."""
    try:
        with Store(path) as st:
            problems = _attr_problems(st.attrs)
            return problems + _array_problems(st, st.attrs)
    except StoreError as e:
        return [str(e).removeprefix(f"{path}: ")]
    except Exception as e:   # a store damaged in a way h5py/zarr report by raising
        return [f"cannot be read ({type(e).__name__}: {e})"]


def content_problems(path: str | Path) -> tuple[list[str], list[str]]:
    """(problems, notes) from re-reading every chunk of poses and the small arrays against the checksums."""
    problems, notes = [], []
    with Store(path) as st:
        digests = st.attrs.get("array_checksums")
        if not st.has(CHECKSUM_KEY) or not isinstance(digests, dict):
            return [], ["no checksums recorded (a store written before they were): content not verified"]
        expected = st.read(CHECKSUM_KEY)
        step = int(st.attrs.get("checksum_chunk_samples", 64))
        n = len(st)
        if len(expected) != -(-n // step):
            problems.append(f"{CHECKSUM_KEY} has {len(expected)} entries for {-(-n // step)} chunks of poses")
        for c, lo in enumerate(range(0, n, step)):
            try:
                block = st.read("poses", slice(lo, min(n, lo + step)))
            except Exception as e:
                problems.append(f"poses rows {lo}-{min(n, lo + step) - 1}: unreadable ({type(e).__name__}: {e})")
                continue
            if c < len(expected) and chunk_checksum(block) != int(expected[c]):
                problems.append(f"poses rows {lo}-{min(n, lo + step) - 1}: content differs from its checksum "
                                "(damaged or lost chunk)")
            if not np.isfinite(block).all() or np.abs(block).max(initial=0.0) > 1.0 + 1e-6:
                problems.append(f"poses rows {lo}-{min(n, lo + step) - 1}: values outside [-1, 1] or not finite")
        for key, want in digests.items():
            try:
                got = array_checksum(st.read(key))
            except Exception as e:
                problems.append(f"{key}: unreadable ({type(e).__name__}: {e})")
                continue
            if got != int(want):
                problems.append(f"{key}: content differs from its checksum")
    return problems, notes


def check_store(path: str | Path, content: bool = True) -> tuple[list[str], list[str]]:
    """(problems, notes): problems make a store invalid; notes say what could not be verified."""
    problems = structure_problems(path)
    if problems or not content:
        return problems, []
    return content_problems(path)


def require_valid(path: str | Path) -> None:
    """Raise StoreError with the first structural problem (the check commands run before trusting a store)."""
    problems = structure_problems(path)
    if problems:
        more = f" (and {len(problems) - 1} more: run `skel check {path}`)" if len(problems) > 1 else ""
        raise StoreError(f"{path}: {problems[0]}{more}")
