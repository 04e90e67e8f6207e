"""CTR-GCN's (and MS-G3D's) NTU arrays: one `.npz` of x_train (N, T, M*J*3), y_train (N, C)
one-hot, x_test, y_test: the frames of every body side by side, as their feeders read them."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..store import Store


def frames_flat(poses: np.ndarray) -> np.ndarray:
    """(N, M, T, J, 3) -> (N, T, M*J*3)."""
    N, M, T, J, _ = poses.shape
    return np.ascontiguousarray(poses.transpose(0, 2, 1, 3, 4).reshape(N, T, M * J * 3))


def export_ctrgcn(store: str | Path, protocol: str, out: str | Path) -> dict[str, np.ndarray]:
    """Write the protocol's train and test split as CTR-GCN arrays; returns them."""
    with Store(store) as st:
        n_classes = len(st.attrs["classes"])
        labels = st.read("meta/label").astype(np.int64)
        arrays = {}
        for part, key in (("train", "train"), ("test", "test")):
            idx = st.split(protocol, part)
            arrays[f"x_{key}"] = frames_flat(st.read_rows("poses", idx)) if len(idx) else \
                np.zeros((0, st.attrs["frames"], 0), np.float32)
            arrays[f"y_{key}"] = np.eye(n_classes, dtype=np.float32)[labels[idx]]
    tmp = Path(out).with_name(f".{Path(out).stem}.partial.npz")
    np.savez(tmp, **arrays)
    tmp.replace(out)
    return arrays
