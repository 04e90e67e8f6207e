"""`skel synth`: dispatch to the writer of the dataset's raw format."""
from __future__ import annotations

import importlib
from pathlib import Path

from ..manifests import load_dataset


def synth(dataset: str, out: str | Path, *, scenes: int = 20, seed: int = 0, rigid: bool = False,
          classes: int = 10, broken: bool = True):
    """Write a synthetic raw corpus of `dataset` under `out`; returns the writer's SynthResult."""
    spec = load_dataset(dataset)
    writer = importlib.import_module(f"skeltools.synth.{spec.reader}")
    return getattr(writer, f"write_{spec.reader}")(spec, Path(out), scenes, seed, rigid, classes, broken)
