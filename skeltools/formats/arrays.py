"""Joints exported as arrays: NumPy `.npy` / `.npz` of shape (T, J, 3) or (M, T, J, 3), and `.csv`
with one row per frame of J*3 values (x, y, z of each joint in turn; a first row of names is a
header and is skipped). A body is absent in a frame where all its values are zero; the units are
the caller's (`skel prepare custom --units`)."""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from .raw_sample import RawSample, SampleError
from .units import check_frames, check_size


def sample_of_array(a: np.ndarray, n_joints: int, metres_per_unit: float) -> RawSample:
    """Joint records of an (M, T, J, 3) or (T, J, 3) array; SampleError for another shape."""
    if a.dtype.kind not in "fiu":
        raise SampleError(f"array of dtype {a.dtype}, not numbers")
    if a.ndim == 3:
        a = a[None]
    if a.ndim != 4 or a.shape[-1] != 3:
        raise SampleError(f"array of shape {a.shape}: expected (T, J, 3) or (M, T, J, 3)")
    if a.shape[2] != n_joints:
        raise SampleError(f"wrong joint count: {a.shape[2]} joints, the layout has {n_joints}")
    a = a.astype(np.float64)
    finite = np.isfinite(a).all(axis=(0, 2, 3))
    if not finite.all():
        raise SampleError(f"non-finite coordinates (NaN or inf) in frame {int(np.argmin(finite)) + 1}")
    present = np.abs(a).sum(axis=(2, 3)) > 0                  # (M, T)
    m, t = np.nonzero(present)
    order = np.lexsort((m, t))                                 # frame by frame, as a tracker reports them
    if not len(order):
        raise SampleError(f"all frames empty: no body in any of {a.shape[1]} frames")
    return RawSample(frame=t[order].astype(np.int32), body_id=m[order].astype(np.int64),
                     xyz=(a[m[order], t[order]] * metres_per_unit).astype(np.float32), n_frames=a.shape[1])


def read_numpy(path: Path, spec, n_joints: int, metres_per_unit: float = 1.0) -> RawSample:
    """A `.npy` array, or the one array of a `.npz` (or its `poses` / `keypoint`); pickled
    objects are refused (loading them could run code)."""
    check_size(path, spec)
    try:
        loaded = np.load(path, allow_pickle=False)
    except ValueError as e:
        raise SampleError(f"not a plain NumPy file ({str(e)[:120]})") from None
    if isinstance(loaded, np.lib.npyio.NpzFile):
        with loaded:
            keys = list(loaded.files)
            key = next((k for k in ("poses", "keypoint") if k in keys), keys[0] if len(keys) == 1 else None)
            if key is None:
                raise SampleError(f"an .npz of several arrays ({', '.join(keys)}) and none named poses or keypoint")
            try:
                a = loaded[key]
            except ValueError:
                raise SampleError(f"pickled objects refused: the array {key!r} holds Python objects, and "
                                  "loading them could run code") from None
    else:
        a = loaded
    check_frames(a.shape[-3] if a.ndim >= 3 else 0, spec)
    return sample_of_array(a, n_joints, metres_per_unit)


def read_csv(path: Path, spec, n_joints: int, metres_per_unit: float = 1.0) -> RawSample:
    """A `.csv` of one row per frame and J*3 columns (one body), a header row of names allowed."""
    check_size(path, spec)
    text = Path(path).read_text(errors="replace")
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if not lines:
        raise SampleError("empty file")
    first = lines[0].split(",")
    try:
        [float(v) for v in first]
        skip = 0
    except ValueError:
        skip = 1                                               # a header of joint or column names
    if len(lines) == skip:
        raise SampleError("no frames: only a header row")
    check_frames(len(lines) - skip, spec)
    try:
        a = np.loadtxt(io.StringIO("\n".join(lines[skip:])), delimiter=",", ndmin=2, dtype=np.float64)
    except ValueError as e:
        raise SampleError(f"non-numeric value in the CSV ({str(e)[:120]})") from None
    if a.shape[1] != n_joints * 3:
        raise SampleError(f"wrong joint count: {a.shape[1]} columns, the layout's {n_joints} joints need "
                          f"{n_joints * 3}")
    return sample_of_array(a.reshape(len(a), n_joints, 3), n_joints, metres_per_unit)
