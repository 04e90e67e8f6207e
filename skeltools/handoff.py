"""How the workers of `prepare` hand their arrays to the writing process: through one file
per task in a folder beside the store, not through the pool's pipe.

Measured on the 2-core machine (benchmarks/RESULTS.md): a 30 KB sample through the pipe cost
the writing process about 60 us of CPU (pickling, 64 KB pipe writes, thread hand-offs), as much
as writing it; through a file (a page-cache copy) about 20 us, and less with more samples a
file. A worker that cannot write its file (a full disk) sends the arrays through the pipe
instead, so nothing is ever skipped for the hand-off's sake. With a pool the poses stay in
their files (ShardSlice) until commit, when the workers turn them into scaled chunks: each
sample is written to the store once, instead of written, read back and rewritten scaled. The
folder is `.<name>.handoff-<pid><suffix>`, removed when the run ends however it ends, and by
`store.remove_stale_partials` after a kill.
"""
from __future__ import annotations

import math
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np

ARRAYS = ("poses", "full")   # the attributes of a Ready sample that travel by file


class ShardSlice(NamedTuple):
    """One sample's poses left in a hand-off file until the writer's final pass reads it
    (`offset` and `size` in float32 items). A named tuple: the writer makes one a sample."""

    path: str
    offset: int
    shape: tuple[int, ...]

    @property
    def size(self) -> int:
        return math.prod(self.shape)


class ShardRun(NamedTuple):
    """`count` consecutive samples of one hand-off file, each of `shape`, from float32 item
    `offset`: how a store chunk names its samples (a few runs, not 64 slices, travel to the
    worker that makes the chunk)."""

    path: str
    offset: int
    count: int
    shape: tuple[int, ...]


def runs_of(refs: list[ShardSlice]) -> list[ShardRun]:
    """The slices, in order, merged where one follows the other in the same file."""
    runs: list[ShardRun] = []
    path = shape = None
    start = count = end = size = 0
    for ref in refs:
        if ref.path == path and ref.offset == end and ref.shape == shape:
            count += 1
            end += size
            continue
        if path is not None:
            runs.append(ShardRun(path, start, count, shape))
        path, start, shape, count = ref.path, ref.offset, tuple(ref.shape), 1
        size = math.prod(shape)
        end = start + size
    if path is not None:
        runs.append(ShardRun(path, start, count, shape))
    return runs


class ShardReader:
    """Reads ShardRuns in order, one file in memory at a time; with `remove`, a file is
    removed once the reader has moved past it (the samples of one file are contiguous in the
    store's order)."""

    def __init__(self, remove: bool = True):
        self.remove = remove
        self.path: str | None = None
        self.data = np.zeros(0, np.float32)

    def read(self, run: ShardRun) -> np.ndarray:
        """The run's samples, (count, *shape)."""
        if run.path != self.path:
            self.close()
            self.path, self.data = run.path, np.fromfile(run.path, np.float32)
        size = math.prod(run.shape)
        return self.data[run.offset:run.offset + run.count * size].reshape((run.count, *run.shape))

    def close(self) -> None:
        if self.path is not None and self.remove:
            Path(self.path).unlink(missing_ok=True)
        self.path, self.data = None, np.zeros(0, np.float32)


def write_floats(folder: str | Path, arrays: list[np.ndarray]) -> str:
    """A new file in `folder` holding the arrays' float32 values one after another; its path."""
    fd, path = tempfile.mkstemp(dir=folder, suffix=".f32")
    with os.fdopen(fd, "wb") as f:
        for a in arrays:
            f.write(np.ascontiguousarray(a, np.float32).data)
    return path


def spill(poses: np.ndarray, folder: Path) -> ShardSlice:
    """Write one sample's poses that came by the pipe to a file of its own (the writer's),
    making the folder again if it went missing; an OSError here (a full disk) ends the run."""
    folder.mkdir(exist_ok=True)
    return ShardSlice(write_floats(folder, [poses]), 0, tuple(poses.shape))


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
    arrays, shapes = [], []
    for item in _carriers(results):
        these = []
        for a in ARRAYS:
            arr = getattr(item, a, None)
            if isinstance(arr, np.ndarray):
                arrays.append(arr)
                these.append((a, arr.shape))
        shapes.append(these)
    if not arrays:
        return results
    try:
        path = write_floats(folder, arrays)
    except OSError:
        return results
    for item in _carriers(results):
        for a in ARRAYS:
            setattr(item, a, None)
    return Packed(path, results, shapes)


def unpack(batch: Packed | list, defer_poses: bool = False) -> list:
    """In the writing process: the task's results with their arrays back (views into the one
    array read from the file, which is then removed). With `defer_poses`, poses become
    ShardSlices instead and the file stays for the writer's final pass (StoreWriter `defer_to`)."""
    if not isinstance(batch, Packed):
        return batch
    data = None
    offset = 0
    for item, these in zip(_carriers(batch.results), batch.shapes, strict=True):
        for a, shape in these:
            ref = ShardSlice(batch.path, offset, tuple(shape))
            if defer_poses and a == "poses":
                setattr(item, a, ref)
            else:
                if data is None:
                    data = np.fromfile(batch.path, np.float32)
                setattr(item, a, data[offset:offset + ref.size].reshape(shape))
            offset += ref.size
    if not defer_poses:
        os.unlink(batch.path)
    return batch.results
