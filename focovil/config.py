"""The settings of a training run and where each default comes from (no torch needed:
`focovil --help` and `skel` work without the trainer installed)."""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

# Paper settings per dataset (Section 4.2): batch in scenes, and beta (UWA3D's skeletons are noisier).
DATASET_DEFAULTS = {"ntu60": (128, 1.0), "ntu120": (128, 1.0), "uwa3d": (64, 2.0)}
OTHER_DEFAULTS = (64, 1.0)
# Where each default of TrainConfig comes from: shown by `focovil train --help`, saved in config.json.
DEFAULT_SOURCES = {
    "epochs": "not in the paper: 100, so that the P&C decay step (every 50 epochs) applies once; "
              "check that curves.png has flattened on your data",
    "lr": "paper Sec. 4.2 (Adam, learning rate 0.0001)",
    "lr_decay": "paper Sec. 4.2 (decay rate 0.95)",
    "lr_decay_every": "not in the paper, which gives no step: P&C's code (0.95 ** (epoch // 50)), which FoCoViL builds on",
    "batch": "paper Sec. 4.2 (128 scenes for NTU RGB+D, 64 for the other datasets)",
    "views_per_scene": "paper Eq. 3 (sums over every other view v != u): every view a scene has, absent ones masked",
    "tau": "paper Sec. 3.2 (0.5, best of 0.1, 0.5, 1, 2)",
    "alpha": "paper Sec. 4.2 (alpha = 1 for every dataset)",
    "beta": "paper Sec. 4.2 (1; 2 for UWA3D)",
    "hidden": "paper Sec. 4.2 (1024 for the encoder and decoder output; here 2 x 512 per direction)",
    "proj": "paper Sec. 4.2 (projection units 512 and 1024) and Table 9",
    "detach_focal_weights": "paper Eq. 6 (the loss as written, differentiated through w+ and w-)",
    "scaling": "the store's: `skel prepare --scale` (paper Sec. 4.2 says only 'normalized to [-1, 1]')",
}

@dataclass
class TrainConfig:
    store: str
    protocol: str
    out: str
    preset: str = "focovil"
    epochs: int = 100
    batch: int | None = None          # scenes per step; None: by the store's dataset
    hidden: int = 1024                # representation size (2 x GRU units per direction)
    proj: str | None = None           # e.g. 1024-512-1024; None: hidden-hidden/2-hidden
    alpha: float = 1.0
    beta: float | None = None         # None: by the store's dataset
    tau: float = 0.5
    lr: float = 1e-4
    lr_decay: float = 0.95
    lr_decay_every: int = 50          # epochs between decays
    views_per_scene: int | None = None
    data_fraction: float = 1.0
    seed: int = 0
    device: str = "cpu"
    precision: str = "fp32"           # bf16 autocast on CUDA
    detach_focal_weights: bool = False
    stream: bool = False              # read batches from the store instead of a device copy
    cuda_graph: bool = False          # capture the whole step as one CUDA graph (one process, CUDA only)
    resolved: dict = field(default_factory=dict)

    def save(self, path: Path) -> None:
        path.write_text(json.dumps({**asdict(self), "sources": DEFAULT_SOURCES}, indent=1))

    @classmethod
    def load(cls, path: str | Path) -> TrainConfig:
        """A config.json written by `save` (its `sources` and `resolved` are not settings)."""
        raw = json.loads(Path(path).read_text())
        known = {f for f in cls.__dataclass_fields__ if f != "resolved"}
        return cls(**{k: v for k, v in raw.items() if k in known})
