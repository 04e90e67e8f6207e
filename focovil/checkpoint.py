"""Checkpoints: written so that a kill cannot truncate one, read so that a file can never run
code (torch's weights-only unpickler: tensors and plain types; numpy arrays, which older
checkpoints hold in their RNG state, are the one allowance), and refused in one line when
they are not a focovil run's. Also the model of a run's last checkpoint (`load_trained`)."""
from __future__ import annotations

import os
import random
from pathlib import Path

import numpy as np
import torch

from .config import TrainConfig, from_settings
from .model import FoCoViL, parse_proj
from .presets import get_preset

CHECKPOINT = "checkpoint.pt"
KEYS = ("model", "optimizer", "scheduler", "rng", "epoch", "metrics", "config")
RUN_FILES = (CHECKPOINT, "config.json", "metrics.csv", "curves.png", "results.json", "tsne.png", "confusion.png")


class CheckpointError(ValueError):
    """A checkpoint that is missing, truncated, foreign, unsafe or of another model size."""


def _numpy_globals() -> list:
    """What unpickling a numpy array needs (older checkpoints' numpy RNG state): rebuilding an
    array of plain values, nothing that can call arbitrary code."""
    core = getattr(np, "_core", None) or np.core
    return [core.multiarray._reconstruct, np.ndarray, np.dtype, type(np.dtype(np.uint32))]


def save_atomic(obj: object, path: Path) -> None:
    """torch.save to a temporary name beside `path`, then rename: the old file stays whole until the new one is."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        torch.save(obj, tmp)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def load_safely(path: Path, device: str | torch.device = "cpu"):
    """torch.load with the weights-only unpickler; CheckpointError in one line otherwise."""
    try:
        with torch.serialization.safe_globals(_numpy_globals()):
            return torch.load(path, map_location=device, weights_only=True)
    except Exception as e:
        lines = [ln.strip() for ln in str(e).splitlines() if ln.strip()]
        unsafe = next((ln for ln in lines if "GLOBAL" in ln or "Unsupported global" in ln), None)
        if unsafe is not None:
            raise CheckpointError(f"{path}: refused: loading it would call code a checkpoint never needs "
                                  f"({unsafe[:200]})") from None
        detail = next((ln for ln in lines if "weights_only" not in ln and "Weights only" not in ln), "")[:200]
        raise CheckpointError(f"{path}: not a readable checkpoint (truncated or not a torch file: "
                              f"{type(e).__name__}{': ' + detail if detail else ''})") from None


def read_checkpoint(path: Path, device: str | torch.device = "cpu") -> dict:
    """The checkpoint dict, or CheckpointError naming what is wrong with the file."""
    if not path.is_file():
        raise CheckpointError(f"{path}: no checkpoint (train first with `focovil train --out {path.parent}`)")
    if path.stat().st_size == 0:
        raise CheckpointError(f"{path}: empty file (a save was interrupted?); retrain or restore it")
    ck = load_safely(path, device)
    missing = [k for k in KEYS if not isinstance(ck, dict) or k not in ck]
    if missing:
        raise CheckpointError(f"{path}: not a focovil checkpoint (missing {', '.join(missing)})")
    return ck


def load_weights(module: torch.nn.Module, state: dict, path: Path) -> None:
    """load_state_dict with a one-line error when the sizes differ from the run's model."""
    try:
        module.load_state_dict(state)
    except (RuntimeError, KeyError, TypeError, AttributeError) as e:
        first = str(e).strip().splitlines()
        hint = next((ln.strip() for ln in first if "size mismatch" in ln or "Missing key" in ln), first[0] if first
                    else "")
        raise CheckpointError(f"{path}: its model does not fit this run's sizes (--hidden, --proj or --preset "
                              f"differ from the checkpoint's): {hint[:200]}") from None


def rng_state(generator: torch.Generator) -> dict:
    """Every RNG a run draws from, as tensors and plain values (a checkpoint holds no numpy object)."""
    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    return {"torch": torch.get_rng_state(), "numpy": [kind, keys.tolist(), int(pos), int(has_gauss), float(gauss)],
            "python": random.getstate(), "batches": generator.get_state(),
            "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None}


def set_rng_state(s: dict, generator: torch.Generator) -> None:
    torch.set_rng_state(s["torch"])
    kind, keys, pos, has_gauss, gauss = s["numpy"]
    np.random.set_state((kind, np.asarray(keys, np.uint32), pos, has_gauss, gauss))
    python = s["python"]
    random.setstate((python[0], tuple(python[1]), python[2]))
    generator.set_state(s["batches"])
    if s["cuda"] is not None and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(s["cuda"])


def build_model(cfg: TrainConfig, channels: int) -> FoCoViL:
    return FoCoViL(channels, hidden=cfg.hidden, proj=parse_proj(cfg.proj) if cfg.proj else None,
                   projection=get_preset(cfg.preset).projection, proj_act=cfg.proj_act)


def saved_config(ck: dict, path: Path) -> TrainConfig:
    """The run's settings as its checkpoint recorded them."""
    try:
        cfg = from_settings(dict(ck["config"]), where=str(path))
    except (TypeError, ValueError) as e:
        raise CheckpointError(f"{path}: its config is not a focovil run's ({str(e).splitlines()[0]})") from None
    cfg.resolved = dict(ck["config"].get("resolved", {})) if isinstance(ck["config"].get("resolved"), dict) else {}
    return cfg


def load_trained(run: str | Path, device: str = "cpu") -> tuple[FoCoViL, TrainConfig]:
    """The model of a run's last checkpoint and its config."""
    path = Path(run) / CHECKPOINT
    ck = read_checkpoint(path, device)
    cfg = saved_config(ck, path)
    try:
        channels = ck["model"]["readout.weight"].shape[0]
    except (TypeError, KeyError, AttributeError, IndexError) as e:
        raise CheckpointError(f"{path}: its model is not a focovil run's ({type(e).__name__}: {e})") from None
    model = build_model(cfg, channels).to(device)
    load_weights(model, ck["model"], path)
    model.eval()
    return model, cfg
