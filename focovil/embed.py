"""A trained run's encoder f_e for downstream use: `load_encoder`, `Encoder.encode` and
`embed_store` (what `focovil embed` writes)."""
from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .data import flatten_poses
from .model import FoCoViL
from .train import load_trained


class Encoder(nn.Module):
    """f_e alone: (B, T, C) frames -> (B, hidden) features (the last layer's final forward
    and backward states), the representation the paper evaluates."""

    def __init__(self, model: FoCoViL):
        super().__init__()
        self.encoder = model.encoder
        self.channels, self.hidden = model.channels, model.hidden

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return FoCoViL.encode(self, x)

    @torch.no_grad()
    def encode(self, poses: np.ndarray, batch: int = 1024) -> np.ndarray:
        """Features of store-shaped poses (N, M, T, J, 3) as (N, hidden) float32 (bf16 on CUDA)."""
        poses = np.asarray(poses, dtype=np.float32)
        if poses.ndim != 5 or poses.shape[1] * poses.shape[3] * poses.shape[4] != self.channels:
            raise ValueError(f"poses of shape {poses.shape}: expected (N, M, T, J, 3) with M*J*3 = {self.channels}")
        device = next(self.parameters()).device
        out = []
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=device.type == "cuda"):
            for lo in range(0, len(poses), batch):
                x = torch.from_numpy(flatten_poses(poses[lo:lo + batch])).to(device)
                out.append(self(x).float().cpu().numpy())
        return np.concatenate(out) if out else np.zeros((0, self.hidden), np.float32)


def load_encoder(run_dir: str | Path, device: str = "cpu") -> Encoder:
    """The encoder f_e of a run's last checkpoint, in eval mode."""
    model, _ = load_trained(run_dir, device)
    return Encoder(model).eval()


def encode(encoder: Encoder, poses: np.ndarray, batch: int = 1024) -> np.ndarray:
    """`encoder.encode(poses)`, as a function."""
    return encoder.encode(poses, batch)


def embed_store(run_dir: str | Path, store: str | Path, out: str | Path, device: str = "cpu",
                batch: int = 1024) -> Path:
    """Write `features` (N, D) float32 of every sample of `store`, with meta/name, meta/label,
    meta/view and the run's config as attributes, to an HDF5 file (renamed into place)."""
    import h5py

    from skeltools.store import require_valid
    from skeltools.store import Store

    require_valid(store)
    model, cfg = load_trained(run_dir, device)
    encoder = Encoder(model).eval()
    out = Path(out)
    tmp = out.with_name(f".{out.name}.partial")
    with Store(store) as st, h5py.File(tmp, "w") as f:
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
    tmp.replace(out)
    return out
