"""The hand-off folder: where workers leave a batch's arrays for the chunks that are made
from them at the end (stage 4), instead of sending them through the pool's pipe (a copy
through the writing process) or holding them in memory.

One folder per run, beside the store (the same file system), made before stage 1 and
removed after stage 5 by the run that owns it, however the run ends; a killed run's folder
carries the tool's marker, so the next run to that store removes it (store/files.py).
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np

from ..store.files import remove_work, work_folder
from .records import Staged


class HandOff:
    """The run's hand-off folder, as a context manager that removes it at the end."""

    def __init__(self, out: Path):
        self.folder = work_folder(out, "handoff")

    def __enter__(self) -> HandOff:
        return self

    def __exit__(self, *exc) -> None:
        remove_work(self.folder)


def new_file(folder: str | Path) -> str:
    """A new, empty file in the hand-off folder."""
    fd, path = tempfile.mkstemp(dir=folder, suffix=".f32")
    os.close(fd)
    return path


def write_arrays(path: str, arrays: list[np.ndarray]) -> None:
    """The arrays' float32 values, one after another, into `path` (no file left if it fails)."""
    try:
        with open(path, "wb") as f:
            for a in arrays:
                f.write(np.ascontiguousarray(a, np.float32).reshape(-1).view(np.uint8))
    except BaseException:
        Path(path).unlink(missing_ok=True)
        raise


class StagedReader:
    """Reads rows of `Staged` arrays, keeping the last file read in memory (a chunk's samples
    mostly come from one or two files)."""

    def __init__(self):
        self.path: str | None = None
        self.data = np.zeros(0, np.float32)

    def rows(self, staged: Staged, lo: int, hi: int) -> np.ndarray:
        if staged.path != self.path:
            self.path, self.data = staged.path, np.fromfile(staged.path, np.float32)
        row = int(np.prod(staged.shape[1:]))
        start = staged.offset + lo * row
        return self.data[start:staged.offset + hi * row].reshape((hi - lo,) + tuple(staged.shape[1:]))
