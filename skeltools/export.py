"""What every export shares: the samples of a store as the target wants them (store units or
metres, the stored frames or another count), and where the file may be written.

Conventions of the store, and so of every export: axes are the body frame of the sample
(axis 0 along the spine, axis 1 along the hips, axis 2 their cross product; camera axes for a
--no-align store), the origin is the spine base (the root joint) of body 0 in its first
frame, the units are metres divided by the store's scale (`--metres`: metres), and there are
the store's frames per sample (`--frames N`: resampled, from the full-length sequences when
the store kept them).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .kernels import resample_linear
from .store import Store


def sample_poses(st: Store, idx: np.ndarray, *, metres: bool = False, frames: int | None = None
                 ) -> tuple[np.ndarray, str]:
    """(poses (n, M, T, J, 3) float32 of samples `idx`, how they were made: a line for the
    user). Resampled to `frames` from full/ where the store kept it, else from the stored
    frames; multiplied by each sample's scale with `metres`."""
    idx = np.asarray(idx, np.int64)
    stored = st.read_rows("poses", idx) if len(idx) else np.zeros((0, *st.node("poses").shape[1:]), np.float32)
    T = stored.shape[2]
    how = f"{T} stored frames"
    if frames is not None and frames != T:
        full = st.has("full/offsets") or st.has("raw/offsets")
        sources = (st.full_sequence(int(i)) for i in idx) if full else iter(stored)
        stored = np.stack([resample_linear(np.ascontiguousarray(p, np.float32), frames) for p in sources]) \
            if len(idx) else np.zeros((0, stored.shape[1], frames, *stored.shape[3:]), np.float32)
        how = f"{frames} frames resampled from the {'full-length sequences (full/)' if full else f'{T} stored frames'}"
    if metres:
        scale = st.read("meta/scale")[idx] if st.has("meta/scale") else np.full(len(idx), float(st.attrs["scale"]))
        stored = stored * scale.astype(np.float32)[:, None, None, None, None]
        how += ", in metres"
    else:
        how += ", in store units (metres / scale)"
    return np.ascontiguousarray(stored, np.float32), how


def require_suffix(out: str | Path, suffix: str, target: str) -> None:
    if Path(out).suffix.lower() != suffix:
        raise ValueError(f"--out {out}: {target} is written to a {suffix} file; give a name ending in {suffix}")
