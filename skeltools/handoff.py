"""How the workers of `prepare` hand their arrays to the writing process: through one file
per task in a folder beside the store, not through the pool's pipe.

Measured on the 2-core machine (benchmarks/RESULTS.md): a 30 KB sample through the pipe cost
the writing process about 60 us of CPU (pickling, 64 KB pipe writes, thread hand-offs), as much
as writing it; through a file (a page-cache copy, read once, then removed) about 5 us. A worker
that cannot write its file (a full disk) sends the arrays through the pipe instead, so nothing
is ever skipped for the hand-off's sake. The folder is `.<name>.handoff-<pid><suffix>`, removed
when the run ends however it ends, and by `store.remove_stale_partials` after a kill.
"""
from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ARRAYS = ("poses", "full")   # the attributes of a Ready sample that travel by file


@dataclass
class Packed:
    """A task's results with their arrays moved to `path`: `shapes[i]` lists, for the i-th
    array-carrying item, (attribute, shape) in the file's order."""

    path: str
    results: list
    shapes: list[list[tuple[str, tuple[int, ...]]]]


def handoff_folder(out: Path) -> Path:
    """Make the run's hand-off folder beside `out` (same file system: no copy across disks)."""
    folder = out.with_name(f".{out.stem}.handoff-{os.getpid()}{out.suffix}")
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir()
    return folder


def remove_folder(folder: Path | None) -> None:
    if folder is not None:
        shutil.rmtree(folder, ignore_errors=True)


def _carriers(results: list) -> list:
    """The items of a task's results that carry arrays (Ready samples, not Skipped), in order."""
    return [item for _, _, items in results for _, _, item in items if hasattr(item, ARRAYS[0])]


def pack(results: list, folder: str) -> Packed | list:
    """In the worker: write the task's float32 arrays to one file and drop them from the
    results; the results unchanged if the file cannot be written."""
    chunks, shapes = [], []
    for item in _carriers(results):
        these = []
        for a in ARRAYS:
            arr = getattr(item, a, None)
            if isinstance(arr, np.ndarray):
                chunks.append(np.ascontiguousarray(arr, np.float32))
                these.append((a, arr.shape))
        shapes.append(these)
    if not chunks:
        return results
    try:
        fd, path = tempfile.mkstemp(dir=folder, suffix=".f32")
        with os.fdopen(fd, "wb") as f:
            for c in chunks:
                f.write(c.data)
    except OSError:
        return results
    for item in _carriers(results):
        for a in ARRAYS:
            setattr(item, a, None)
    return Packed(path, results, shapes)


def unpack(batch: Packed | list) -> list:
    """In the writing process: the task's results with their arrays back (views into the one
    array read from the file, which is then removed)."""
    if not isinstance(batch, Packed):
        return batch
    data = np.fromfile(batch.path, np.float32)
    os.unlink(batch.path)
    offset = 0
    for item, these in zip(_carriers(batch.results), batch.shapes, strict=True):
        for a, shape in these:
            size = int(np.prod(shape))
            setattr(item, a, data[offset:offset + size].reshape(shape))
            offset += size
    return batch.results
