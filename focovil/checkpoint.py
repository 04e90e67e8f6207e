"""Checkpoints that a kill cannot truncate, and that fail with one line when they are not ours."""
from __future__ import annotations

import os
from pathlib import Path

import torch

CHECKPOINT = "checkpoint.pt"
KEYS = ("model", "optimizer", "scheduler", "rng", "epoch", "metrics", "config")
RUN_FILES = (CHECKPOINT, "config.json", "metrics.csv", "curves.png", "results.json", "tsne.png", "confusion.png")


class CheckpointError(ValueError):
    """A checkpoint that is missing, truncated, foreign or of another model size."""


def save_atomic(obj: object, path: Path) -> None:
    """torch.save to a temporary name beside `path`, then rename: the old file stays whole until the new one is."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        torch.save(obj, tmp)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def read_checkpoint(path: Path, device: str | torch.device = "cpu") -> dict:
    """The checkpoint dict, or CheckpointError naming what is wrong with the file."""
    if not path.is_file():
        raise CheckpointError(f"{path}: no checkpoint (train first with `focovil train --out {path.parent}`)")
    if path.stat().st_size == 0:
        raise CheckpointError(f"{path}: empty file (a save was interrupted?); retrain or restore it")
    try:
        ck = torch.load(path, map_location=device, weights_only=False)
    except Exception as e:
        detail = str(e).splitlines()[0][:160] if str(e) else ""
        raise CheckpointError(f"{path}: not a readable checkpoint (truncated or not a torch file: "
                              f"{type(e).__name__}{': ' + detail if detail else ''})") from None
    missing = [k for k in KEYS if not isinstance(ck, dict) or k not in ck]
    if missing:
        raise CheckpointError(f"{path}: not a focovil checkpoint (missing {', '.join(missing)})")
    return ck


def load_weights(module: torch.nn.Module, state: dict, path: Path) -> None:
    """load_state_dict with a one-line error when the sizes differ from the run's model."""
    try:
        module.load_state_dict(state)
    except (RuntimeError, KeyError, TypeError) as e:
        first = str(e).strip().splitlines()
        hint = next((ln.strip() for ln in first if "size mismatch" in ln or "Missing key" in ln), first[0] if first
                    else "")
        raise CheckpointError(f"{path}: its model does not fit this run's sizes (--hidden, --proj or --preset "
                              f"differ from the checkpoint's): {hint[:200]}") from None
