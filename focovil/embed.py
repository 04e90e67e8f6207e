"""A trained run's encoder f_e for downstream use: `load_encoder`, `Encoder.encode` and
`embed_store` (what `focovil embed` writes)."""
from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .checkpoint import load_trained
from .data import flatten_poses
from .model import FoCoViL, features, final_states
from .store_fit import require_fit


class Encoder(nn.Module):
    """f_e alone: (B, T, C) frames -> (B, hidden) features (the last layer's final forward
    and backward states), the representation the paper evaluates."""

    def __init__(self, model: FoCoViL):
        super().__init__()
        self.encoder = model.encoder
        self.channels, self.hidden = model.channels, model.hidden

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return final_states(self.encoder, x)

    def encode(self, poses: np.ndarray, batch: int = 1024) -> np.ndarray:
        """Features of store-shaped poses (N, M, T, J, 3) as (N, hidden) float32 (bf16 on CUDA)."""
        poses = np.asarray(poses, dtype=np.float32)
        if poses.ndim != 5 or poses.shape[1] * poses.shape[3] * poses.shape[4] != self.channels:
            raise ValueError(f"poses of shape {poses.shape}: expected (N, M, T, J, 3) with M*J*3 = {self.channels}")
        device = next(self.parameters()).device
        out = [features(self, torch.from_numpy(flatten_poses(poses[lo:lo + batch])).to(device), batch)
               for lo in range(0, len(poses), batch)]
        return np.concatenate(out) if out else np.zeros((0, self.hidden), np.float32)


def load_encoder(run_dir: str | Path, device: str = "cpu") -> Encoder:
    """The encoder f_e of a run's last checkpoint, in eval mode."""
    model, _ = load_trained(run_dir, device)
    return Encoder(model).eval()


def embed_store(run_dir: str | Path, store: str | Path, out: str | Path, device: str = "cpu",
                batch: int = 1024, *, overwrite: bool = False, verify: bool = True, force: bool = False) -> Path:
    """Write `features` (N, D) float32 of every sample of `store`, with meta/name, meta/label,
    meta/view and the run's config as attributes, to an HDF5 file (written whole or not at
    all; never over the store, another store, or without `overwrite` another file). A store
    that does not fit the run is refused unless `force`."""
    import h5py

    from skeltools.outputs import check_output, written_whole
    from skeltools.store import Store, require_valid

    require_valid(store, verify)
    target = check_output(out, [store], overwrite)
    model, cfg = load_trained(run_dir, device)
    require_fit(cfg.resolved.get("store"), store, force)
    encoder = Encoder(model).eval()
    with Store(store, verify=verify) as st, written_whole(target) as tmp:
        with h5py.File(tmp, "w") as f:
            n = len(st)
            feats = f.create_dataset("features", shape=(n, encoder.hidden), dtype=np.float32)
            for lo in range(0, n, batch):
                feats[lo:lo + batch] = encoder.encode(st.read("poses", slice(lo, min(n, lo + batch))), batch)
            f.create_dataset("meta/name", data=np.asarray(st.read("meta/name"), dtype=object),
                             dtype=h5py.string_dtype())
            f["meta/label"] = st.read("meta/label")
            f["meta/view"] = st.read("meta/view")
            f.attrs["run"] = str(Path(run_dir).resolve())
            f.attrs["store"] = str(Path(store).resolve())
            f.attrs["config"] = json.dumps(asdict(cfg))
            f.attrs["features"] = "f_e: last encoder layer, final forward and backward states concatenated"
    return Path(out)
