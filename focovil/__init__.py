"""FoCoViL: focalized contrastive view-invariant learning on a skeltools store.

Modules: `config` (a run's settings, their sources and rules), `presets` (the paper's
ablations as data), `data` (scenes x views batches on the device), `model` (bi-GRU encoder,
projection, zero-input GRU decoder), `losses` (Eq. 3, 6, 7), `step` (one optimisation step,
eager or as a CUDA graph), `train` (the loop), `checkpoint` (safe saving and loading, the
trained model), `run_folder`, `reports` (metrics.csv, curves.png), `device`, `distributed`
(DDP), `evaluate` (frozen-encoder protocols) and `embed` (the trained encoder for downstream
use: `focovil.load_encoder(run_dir)`).
"""
from __future__ import annotations


def load_encoder(run_dir, device: str = "cpu"):
    """The trained encoder f_e of a run (a torch Module with `.encode(poses (N, M, T, J, 3))`)."""
    from .embed import load_encoder as load
    return load(run_dir, device)
