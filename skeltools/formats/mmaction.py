"""The 3D annotation pickles of mmaction2 and pyskl (`ntu60_3d.pkl`, `ntu120_3d.pkl`), in and out.

The dict: {"split": {name: [frame_dir, ...]}, "annotations": [{"frame_dir", "label"
(0-based), "keypoint" (M, T, V, 3) float32, "total_frames"}, ...]}, with denoised but
unaligned Kinect joints. Unpickling runs code: load only files from a source you trust.
"""
from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np

from ..store import Store
from .raw_sample import SampleError


def load_pickle(path: str | Path) -> dict:
    """The pickle's dict, checked for the two keys (unpickling runs code: trusted files only)."""
    with open(path, "rb") as f:
        data = pickle.load(f)  # noqa: S301 - documented: only files from a trusted source
    if not isinstance(data, dict) or not isinstance(data.get("annotations"), list):
        raise ValueError(f"{path}: not an mmaction2/pyskl annotation pickle (no 'annotations' list)")
    if not isinstance(data.get("split", {}), dict):
        raise ValueError(f"{path}: its 'split' is not a dict of name -> frame_dir list")
    return data


def bodies_of(annotation: dict, joints: int, slots: int) -> np.ndarray:
    """An annotation's keypoints as (slots, L, J, 3) float32 over the frames where a body is
    present, the shape body selection gives; SampleError for what cannot be a sample."""
    if not isinstance(annotation, dict) or "keypoint" not in annotation:
        raise SampleError("annotation without keypoint")
    kp = np.asarray(annotation["keypoint"])
    if kp.ndim != 4 or kp.shape[-1] != 3 or kp.shape[2] != joints or kp.dtype.kind not in "fiu":
        raise SampleError(f"wrong keypoint shape: {kp.shape} {kp.dtype}, expected (M, T, {joints}, 3) numbers")
    if kp.shape[0] == 0 or kp.shape[1] == 0:
        raise SampleError(f"empty keypoint array {kp.shape}")
    kp = kp.astype(np.float32)
    if not np.isfinite(kp).all():
        t = int(np.argmin(np.isfinite(kp).all(axis=(0, 2, 3))))
        raise SampleError(f"non-finite coordinates (NaN or inf) in frame {t + 1}")
    kp = kp[:slots]
    present = np.abs(kp).sum(axis=(0, 2, 3)) > 0
    if not present.any():
        raise SampleError(f"all frames empty: no body in any of {kp.shape[1]} frames")
    out = np.zeros((slots, int(present.sum()), joints, 3), np.float32)
    out[:len(kp)] = kp[:, present]
    return out


def export_mmaction(store: str | Path, out: str | Path) -> dict:
    """The store's aligned, resampled samples in the annotation-pickle dict (absent bodies
    dropped; splits `<protocol>_train` / `<protocol>_val`), written to `out`; returns it."""
    with Store(store) as st:
        names, labels, poses = st.read("meta/name"), st.read("meta/label"), st.read("poses")
        split = {}
        for p in st.protocols():
            split[f"{p}_train"] = [str(names[i]) for i in st.split(p, "train")]
            split[f"{p}_val"] = [str(names[i]) for i in st.split(p, "test")]
    annotations = []
    for name, label, p in zip(names, labels, poses):
        present = np.abs(p).reshape(len(p), -1).max(axis=1) > 0
        annotations.append({"frame_dir": str(name), "label": int(label), "keypoint": np.ascontiguousarray(p[present]),
                            "total_frames": int(p.shape[1])})
    data = {"split": split, "annotations": annotations}
    tmp = Path(out).with_name(f".{Path(out).name}.partial")
    with open(tmp, "wb") as f:
        pickle.dump(data, f, protocol=4)
    tmp.replace(out)
    return data
