"""`skel synth`: dispatch to the writer of the dataset's raw format."""
from __future__ import annotations

import importlib
from pathlib import Path

from ..manifests import load_dataset


def synth(dataset: str, out: str | Path, *, scenes: int = 20, seed: int = 0, rigid: bool = False,
          classes: int = 10, broken: bool = True, hard: bool = False, hard_spacing: float = 45.0):
    """Write a synthetic raw corpus of `dataset` under `out`; returns the writer's SynthResult.
    `hard` (NTU only): the ablation corpus of skeltools/synth/hard.py, with the side cameras
    `hard_spacing` degrees from the middle one (NTU's 45; benchmarks/ablation_floor.py varies it)."""
    spec = load_dataset(dataset)
    writer = importlib.import_module(f"skeltools.synth.{spec.reader}")
    write = getattr(writer, f"write_{spec.reader}")
    if hard:
        if spec.reader != "ntu":
            raise ValueError(f"--hard is made for ntu60 and ntu120, not {dataset}")
        return write(spec, Path(out), scenes, seed, rigid, classes, broken, hard=True, spacing=hard_spacing)
    return write(spec, Path(out), scenes, seed, rigid, classes, broken)
