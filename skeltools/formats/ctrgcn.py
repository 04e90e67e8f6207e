"""CTR-GCN's (and MS-G3D's) NTU arrays: one `.npz` of x_train (N, T, M*J*3), y_train (N, C)
one-hot, x_test, y_test: the frames of every body side by side, as their feeders read them
(feeders/feeder_ntu.py reshapes x to (N, T, 2, 25, 3) and takes the label as the argmax of y)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..store import Store


def frames_flat(poses: np.ndarray) -> np.ndarray:
    """(N, M, T, J, 3) -> (N, T, M*J*3)."""
    N, M, T, J, _ = poses.shape
    return np.ascontiguousarray(poses.transpose(0, 2, 1, 3, 4).reshape(N, T, M * J * 3))


def export_ctrgcn(store: str | Path, protocol: str, out: str | Path, *, metres: bool = False,
                  frames: int | None = None, verify: bool = True, overwrite: bool = False
                  ) -> tuple[dict[str, np.ndarray], str]:
    """Write the protocol's train and test split as CTR-GCN arrays, whole; returns them and
    how the poses were made."""
    from ..export import require_suffix, sample_poses
    from ..outputs import check_output, written_whole

    require_suffix(out, ".npz", "--to ctrgcn")
    target = check_output(out, [store], overwrite)
    with Store(store, verify=verify) as st:
        n_classes = len(st.attrs["classes"])
        labels = st.read("meta/label").astype(np.int64)
        arrays = {}
        for part in ("train", "test"):
            idx = st.split(protocol, part)
            poses, how = sample_poses(st, idx, metres=metres, frames=frames)
            arrays[f"x_{part}"] = frames_flat(poses)
            arrays[f"y_{part}"] = np.eye(n_classes, dtype=np.float32)[labels[idx]]
    with written_whole(target) as tmp:
        with open(tmp, "wb") as f:
            np.savez(f, **arrays)
    return arrays, how
