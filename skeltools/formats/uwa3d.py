"""UWA3D Multiview Activity II reader (FORMATS.md section 4).

One MATLAB v7.3 file per sequence, `aXX_sYY_eZZ_vWW.mat`, read with h5py: dataset `A`
of frames x (joints * 3). The joint count comes from the data; `probe_layout` picks the
store's layout from the manifest's `layouts_by_joints`, and files with another count are
skipped with a reason. All-zero frames are dropped.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .raw_sample import RawSample, SampleError
from .units import RawUnit


def read_matrix(path: Path, key: str) -> np.ndarray:
    """The frames x (J*3) matrix of one file (a transposed MATLAB layout is accepted)."""
    import h5py
    try:
        with h5py.File(path, "r") as f:
            if key not in f:
                raise SampleError(f"no dataset {key!r} in the .mat file (has: {', '.join(sorted(f)) or 'nothing'})")
            a = np.asarray(f[key][()], dtype=np.float64)
    except OSError:
        raise SampleError("not a MATLAB v7.3 (HDF5) .mat file") from None
    if a.ndim != 2 or a.size == 0:
        raise SampleError(f"dataset {key!r} has shape {a.shape}, expected frames x (joints * 3)")
    if a.shape[1] % 3 and not a.shape[0] % 3:
        a = a.T
    if a.shape[1] % 3:
        raise SampleError(f"dataset {key!r} has {a.shape[1]} columns, not a multiple of 3")
    return a


def probe_layout(units: list[RawUnit], spec) -> str:
    """The layout named for the joint count of the first readable file."""
    for unit in units:
        try:
            J = read_matrix(unit.path, spec.extra["mat_dataset"]).shape[1] // 3
        except SampleError:
            continue
        return spec.extra["layouts_by_joints"].get(str(J), spec.layout_name)
    return spec.layout_name


def read_unit(unit: RawUnit, spec) -> list:
    a = read_matrix(unit.path, spec.extra["mat_dataset"])
    J = a.shape[1] // 3
    if J != spec.layout.n_joints:
        known = ", ".join(spec.extra["layouts_by_joints"])
        raise SampleError(f"{J} joints, but this store's layout {spec.layout.name} has {spec.layout.n_joints} "
                          f"(supported joint counts: {known})")
    xyz = a.reshape(len(a), J, 3).astype(np.float32)
    kept = np.flatnonzero(np.abs(xyz).sum(axis=(1, 2)) > 0)
    return [(unit.name, unit.fields, RawSample(frame=kept.astype(np.int32), body_id=np.zeros(len(kept), np.int64),
                                              xyz=xyz[kept], n_frames=len(xyz)))]
