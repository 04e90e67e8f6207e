"""UWA3D Multiview Activity II reader (FORMATS.md section 4).

One MATLAB v7.3 file per sequence, `aXX_sYY_eZZ_vWW.mat`, read with h5py: dataset `A`
of frames x (joints * 3). The joint count comes from the data; `probe_layout` picks the
store's layout from the manifest's `layouts_by_joints` by the count most files have, and
files with another count are skipped with a reason. All-zero frames are dropped; a
non-finite value skips the file.
"""
from __future__ import annotations

from collections import Counter
from functools import partial
from pathlib import Path
from typing import Callable

import numpy as np

from ..h5safe import outside_references
from .raw_sample import RawSample, SampleError
from .units import RawUnit, check_size


def refuse_outside_references(f) -> None:
    """SampleError for a .mat file that points outside itself (skeltools/h5safe.py)."""
    outside = outside_references(f)
    if outside:
        raise SampleError(f"refused .mat file: it points outside itself ({'; '.join(outside[:3])})")


def _columns_last(shape: tuple) -> tuple[int, int]:
    """(frames, joints * 3) of a stored matrix shape. The files hold frames x (J*3); MATLAB
    writes the transpose through HDF5, so when only the first axis is a multiple of 3 the
    matrix is read transposed. A square (3k, 3k) matrix, e.g. (45, 45), is ambiguous and
    taken as frames x (J*3), as stored."""
    rows, cols = shape
    return (cols, rows) if cols % 3 and not rows % 3 else (rows, cols)


def read_matrix(path: Path, key: str, max_frames: int | None = None) -> np.ndarray:
    """The frames x (J*3) matrix of one file (a transposed MATLAB layout is accepted); a
    matrix of more than `max_frames` frames is refused before it is read."""
    import h5py
    try:
        with h5py.File(path, "r") as f:
            refuse_outside_references(f)
            if key not in f:
                raise SampleError(f"no dataset {key!r} in the .mat file (has: {', '.join(sorted(f)) or 'nothing'})")
            node = f[key]
            if not isinstance(node, h5py.Dataset):
                raise SampleError(f"{key!r} in the .mat file is a {type(node).__name__}, not a numeric matrix")
            if node.dtype.kind not in "fiu":
                raise SampleError(f"{key!r} in the .mat file has dtype {node.dtype}, not numbers")
            if max_frames is not None and node.ndim == 2 and _columns_last(node.shape)[0] > max_frames:
                raise SampleError(f"too many frames: {_columns_last(node.shape)[0]} (bound {max_frames}: `limits` in "
                                  "the manifest)")
            a = np.asarray(node[()], dtype=np.float64)
    except OSError:
        raise SampleError("not a MATLAB v7.3 (HDF5) .mat file") from None
    if a.ndim != 2 or a.size == 0:
        raise SampleError(f"dataset {key!r} has shape {a.shape}, expected frames x (joints * 3)")
    if _columns_last(a.shape) != a.shape:
        a = a.T
    if a.shape[1] % 3:
        raise SampleError(f"dataset {key!r} has {a.shape[1]} columns, not a multiple of 3")
    return a


def _unit_joint_count(unit: RawUnit, key: str) -> int | None:
    return joint_count(unit.path, key)


def joint_count(path: Path, key: str) -> int | None:
    """The joint count of one file from its matrix shape alone (no data read); None if unreadable."""
    import h5py
    try:
        with h5py.File(path, "r") as f:
            if outside_references(f):
                return None
            node = f.get(key)
            if not isinstance(node, h5py.Dataset) or node.ndim != 2:
                return None
            cols = _columns_last(node.shape)[1]
    except Exception:
        return None
    return cols // 3 if cols % 3 == 0 else None


def probe_layout(units: list[RawUnit], spec, map_units: Callable = lambda fn, xs: list(map(fn, xs))) -> str:
    """The layout of the joint count most files have (ties: the manifest's default layout),
    so that one odd file sorting first cannot decide for all; files with another count are
    skipped by read_unit with a reason. `map_units(fn, units)`: prepare passes its pool's map,
    as opening every file's header costs about as much as a third of reading it."""
    by_joints = spec.extra["layouts_by_joints"]
    found = map_units(partial(_unit_joint_count, key=spec.extra["mat_dataset"]), units)
    counts = Counter(j for j in found if j is not None and str(j) in by_joints)
    if not counts:
        return spec.layout_name
    best = max(counts.values())
    default_j = next((j for j, name in by_joints.items() if name == spec.layout_name), None)
    tied = sorted(j for j, c in counts.items() if c == best)
    chosen = int(default_j) if default_j is not None and int(default_j) in tied else tied[0]
    return by_joints[str(chosen)]


def read_unit(unit: RawUnit, spec, buffer=None) -> list:   # buffer: see formats/__init__.py
    check_size(unit.path, spec)
    a = read_matrix(unit.path, spec.extra["mat_dataset"], spec.extra.get("limits", {}).get("max_frames"))
    J = a.shape[1] // 3
    if J != spec.layout.n_joints:
        known = ", ".join(spec.extra["layouts_by_joints"])
        raise SampleError(f"wrong joint count: {J} joints, but this store's layout {spec.layout.name} (the joint count of most files) "
                          f"has {spec.layout.n_joints} (supported joint counts: {known})")
    return [(unit.name, unit.fields, sample_of_matrix(a))]


def sample_of_matrix(a: np.ndarray) -> RawSample:
    """One body's frames from a frames x (J*3) matrix: all-zero frames dropped, a non-finite
    value anywhere a broken sample."""
    xyz = a.reshape(len(a), a.shape[1] // 3, 3).astype(np.float32)
    finite = np.isfinite(xyz).all(axis=(1, 2))
    if not finite.all():
        raise SampleError(f"non-finite coordinates (NaN or inf) in frame {int(np.argmin(finite)) + 1}")
    kept = np.flatnonzero(np.abs(xyz).sum(axis=(1, 2)) > 0)
    return RawSample(frame=kept.astype(np.int32), body_id=np.zeros(len(kept), np.int64), xyz=xyz[kept],
                     n_frames=len(xyz))


def warm_up_sample(n_joints: int = 15) -> RawSample:
    """A small valid sample made here, that `prepare` runs through every kernel before it
    forks its workers (so that no raw file is read in the writing process)."""
    rng = np.random.default_rng(0)
    body = rng.normal(0.0, 0.3, (n_joints, 3)) + [0.0, 0.0, 3.0] + rng.normal(0.0, 0.01, (4, n_joints, 3))
    return sample_of_matrix(body.reshape(4, -1))
