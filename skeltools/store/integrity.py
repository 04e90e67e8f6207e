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
    if N == 0:
        out.append("the store holds no sample")
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
    out += _split_problems(st, N, attrs.get("empty_splits_allowed") or [])
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
    elif len(idx) < N:
        out.append(f"{N - len(idx)} samples sit in no scene's row of views (two samples with one scene and view?)")
    return out


def _split_problems(st: Store, N: int, empty_allowed: list) -> list[str]:
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
        if proto not in empty_allowed:
            out += [f"splits/{proto}/{part} is empty" for part, a in parts.items() if N and not len(a)]
    return out


def structure_problems(path: str | Path) -> list[str]:
    """The cheap part of the check: everything but re-reading the poses."""
    try:
        with Store(path, verify=False) as st:
            problems = _attr_problems(st.attrs)
            return problems + _array_problems(st, st.attrs)
    except StoreError as e:
        return [str(e).removeprefix(f"{path}: ")]
    except Exception as e:   # a store damaged in a way h5py/zarr report by raising
        return [f"cannot be read ({type(e).__name__}: {e})"]


def _digest_problems(st: Store) -> list[str]:
    """What is wrong with the recorded digests themselves. A version-2 store must have them."""
    out = []
    digests = st.attrs.get("array_checksums")
    if st.version >= 2:
        if not st.has(CHECKSUM_KEY):
            out.append(f"array {CHECKSUM_KEY} is missing (a version-2 store records the crc32 of every chunk)")
        if not isinstance(digests, dict):
            out.append("attribute 'array_checksums' is missing (a version-2 store records the crc32 of every small "
                       "array)")
    step = st.attrs.get("checksum_chunk_samples", 64)
    if isinstance(step, bool) or not isinstance(step, int) or step < 1:
        out.append(f"attribute 'checksum_chunk_samples' is {step!r}, not a chunk size")
    if isinstance(digests, dict):
        out += [f"array_checksums[{key!r}] is {want!r}, not a crc32" for key, want in digests.items()
                if isinstance(want, bool) or not isinstance(want, int) or not 0 <= want < 2 ** 32]
    return out


def _small_array_problems(st: Store) -> list[str]:
    """The small arrays (meta, views, splits, skipped) against their recorded digests."""
    out = []
    digests = st.attrs.get("array_checksums")
    for key, want in (digests.items() if isinstance(digests, dict) else ()):
        if isinstance(want, bool) or not isinstance(want, int):
            continue                                   # reported by _digest_problems
        try:
            got = array_checksum(st.read(key))
        except Exception as e:
            out.append(f"{key}: unreadable ({type(e).__name__}: {str(e)[:160]})")
            continue
        if got != want:
            out.append(f"{key}: content differs from its checksum")
    return out


def content_problems(path: str | Path) -> tuple[list[str], list[str]]:
    """(problems, notes) from re-reading every chunk of poses and the small arrays against the checksums."""
    with Store(path, verify=False) as st:
        problems = _digest_problems(st)
        if not st.has(CHECKSUM_KEY) or not isinstance(st.attrs.get("array_checksums"), dict):
            if st.version < 2:
                return problems, ["no checksums recorded (a version-1 store, written before they were): content not "
                                  "verified"]
            return problems, []
        if problems:
            return problems, []
        expected = st.read(CHECKSUM_KEY)
        step = st.attrs.get("checksum_chunk_samples", 64)
        n = len(st)
        if len(expected) != -(-n // step):
            problems.append(f"{CHECKSUM_KEY} has {len(expected)} entries for {-(-n // step)} chunks of poses")
        for c, lo in enumerate(range(0, n, step)):
            rows = f"poses rows {lo}-{min(n, lo + step) - 1}"
            try:
                block = st.read("poses", slice(lo, min(n, lo + step)))
            except Exception as e:
                problems.append(f"{rows}: unreadable ({str(e).removeprefix(f'{path}: ')[:200]})")
                continue
            if c < len(expected) and chunk_checksum(block) != int(expected[c]):
                problems.append(f"{rows}: content differs from its checksum (damaged or lost chunk)")
            if not np.isfinite(block).all() or np.abs(block).max(initial=0.0) > 1.0 + 1e-6:
                problems.append(f"{rows}: values outside [-1, 1] or not finite")
        return problems + _small_array_problems(st), []


def check_store(path: str | Path, content: bool = True) -> tuple[list[str], list[str]]:
    """(problems, notes): problems make a store invalid; notes say what could not be verified,
    or what the store was written to allow."""
    problems = structure_problems(path)
    if problems:
        return problems, []
    with Store(path, verify=False) as st:
        notes = [f"protocol {p} may have an empty part (written with --allow-empty-splits)"
                 for p in st.attrs.get("empty_splits_allowed") or []]
    if not content:
        return problems, notes
    problems, more = content_problems(path)
    return problems, notes + more


def require_valid(path: str | Path, verify: bool = True) -> None:
    """Raise StoreError with the first problem of the structure and, with `verify`, of the
    small arrays' content (what every command runs before it trusts a store; the poses are
    verified chunk by chunk as they are read)."""
    problems = structure_problems(path)
    if not problems and verify:
        with Store(path, verify=False) as st:
            problems = _digest_problems(st) or _small_array_problems(st)
    if problems:
        more = f" (and {len(problems) - 1} more: run `skel check {path}`)" if len(problems) > 1 else ""
        raise StoreError(f"{path}: {problems[0]}{more}")
