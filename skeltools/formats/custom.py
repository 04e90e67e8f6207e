"""The reader of `skel prepare custom`: one row of the index file is one unit, read by the
reader of its format (the row's `format`, or the file's extension):

- `skeleton`: the Kinect v2 SDK text NTU RGB+D uses (formats/ntu.py), metres;
- `azure`: Azure Kinect Body Tracking JSON (formats/azure.py), millimetres;
- `npy` / `npz` / `csv`: exported joint arrays (formats/arrays.py), in `--units`.

A row's `start` and `end` (1-based, inclusive) cut the frames of a file holding several
actions, as PKU-MMD's label files do. A row the index already found wrong (a missing file, an
unknown label, a second row for one scene and view) carries its problem, which becomes its
skip reason here, in the worker, like every other reason.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .arrays import read_csv, read_numpy, sample_of_array
from .azure import read_azure_json
from .ntu import read_ntu
from .raw_sample import RawSample, SampleError
from .units import RawUnit, check_frames

FORMATS = {".skeleton": "skeleton", ".json": "azure", ".npy": "npy", ".npz": "npz", ".csv": "csv"}


class CustomRow(NamedTuple):
    """What the index says of one unit beyond its name and fields (RawUnit.extra[0])."""

    row: int                        # the index file's line number
    format: str
    metres_per_unit: float
    start: int | None = None        # 1-based, inclusive
    end: int | None = None
    problem: str | None = None      # set: the row is skipped with this reason


def read_rows(unit: RawUnit, spec, buffer=None) -> RawSample:
    row: CustomRow = unit.extra[0]
    if row.problem is not None:
        raise SampleError(row.problem)
    J = spec.layout.n_joints
    if row.format == "skeleton":
        raw = read_ntu(unit.path, J, buffer, spec.extra.get("limits", {}).get("max_file_bytes"))
        check_frames(raw.n_frames, spec)
        if row.metres_per_unit != 1.0:
            raw = RawSample(raw.frame, raw.body_id, (raw.xyz * row.metres_per_unit).astype(np.float32), raw.n_frames)
    elif row.format == "azure":
        raw = read_azure_json(unit.path, spec, J, row.metres_per_unit)
    elif row.format in ("npy", "npz"):
        raw = read_numpy(unit.path, spec, J, row.metres_per_unit)
    else:
        raw = read_csv(unit.path, spec, J, row.metres_per_unit)
    if row.start is None:
        return raw
    try:
        return interval(raw, row.start, row.end)
    except SampleError as e:
        raise SampleError(f"{e} (index line {row.row})") from None


def interval(raw: RawSample, start: int, end: int) -> RawSample:
    """Frames start..end (1-based, inclusive) of a sample, renumbered from 0."""
    if not 1 <= start <= end <= raw.n_frames:
        raise SampleError(f"interval {start}-{end} outside the file's {raw.n_frames} frames")
    keep = (raw.frame >= start - 1) & (raw.frame <= end - 1)
    if not keep.any():
        raise SampleError(f"all frames empty: no body in frames {start}-{end}")
    return RawSample(raw.frame[keep] - (start - 1), raw.body_id[keep], raw.xyz[keep], end - start + 1)


def read_unit(unit: RawUnit, spec, buffer=None) -> list:
    return [(unit.name, unit.fields, read_rows(unit, spec, buffer))]


def warm_up_sample(n_joints: int) -> RawSample:
    """A small sample through the array reader (and the NTU parser's kernels compiled on its
    own built-in text, as `.skeleton` rows need them)."""
    from .ntu import warm_up_sample as ntu_warm_up
    ntu_warm_up(n_joints)
    rng = np.random.default_rng(0)
    body = rng.normal(0.0, 0.3, (n_joints, 3)) + [0.0, 0.0, 3.0] + rng.normal(0.0, 0.01, (4, n_joints, 3))
    return sample_of_array(body, n_joints, 1.0)
