"""How the workers of `prepare` hand their arrays to the writing process: through one file
per task in a folder beside the store, not through the pool's pipe.

Measured on the 2-core machine (benchmarks/RESULTS.md): a 30 KB sample through the pipe cost
the writing process about 60 us of CPU (pickling, 64 KB pipe writes, thread hand-offs), as much
as writing it; through a file (a page-cache copy) about 20 us, and less with more samples a
file. A worker that cannot write its file (a full disk) sends the arrays through the pipe
instead, so nothing is ever skipped for the hand-off's sake. With a pool the poses stay in
their files (ShardRun) until commit, when the workers turn them into scaled chunks: each
sample is written to the store once, instead of written, read back and rewritten scaled. The
folder is `.<name>.handoff-<pid><suffix>`, removed when the run ends however it ends, and by
`store.remove_stale_partials` after a kill.
"""
from __future__ import annotations

import math
import os
import shutil
import tempfile
from pathlib import Path
from typing import NamedTuple

import numpy as np


class ShardRun(NamedTuple):
    """`count` consecutive samples of one hand-off file, each of `shape`, from float32 item
    `offset`: how a task's answer names its poses (one run for the whole task), and how a store
    chunk names its samples (a few runs, not 64 slices, travel to the worker that makes it)."""

    path: str
    offset: int
    count: int
    shape: tuple[int, ...]

    @property
    def sample_size(self) -> int:
        return math.prod(self.shape)


def sample_of(poses: list, i: int):
    """Sample i of a list of one array per sample, or of a list of ShardRuns (a run of one)."""
    if not poses or isinstance(poses[0], np.ndarray):
        return poses[i]
    for run in poses:
        if i < run.count:
            return ShardRun(run.path, run.offset + i * run.sample_size, 1, run.shape)
        i -= run.count
    raise IndexError("sample index out of range")


def sample_at(poses: list, columns: tuple[tuple, ...], full: list | None, i: int) -> tuple[object, tuple, object]:
    """Sample i of a task's samples in columns, as StoreWriter.append takes it: (poses, meta
    row, full)."""
    return sample_of(poses, i), tuple(c[i] for c in columns), None if full is None else full[i]


def chunks_of(runs: list[ShardRun], rows: int) -> list[list[ShardRun]]:
    """The runs, in order, cut into store chunks of `rows` samples, runs that follow one
    another in the same file merged."""
    chunks: list[list[ShardRun]] = []
    room = 0
    for run in runs:
        offset, count = run.offset, run.count
        while count:
            if room == 0:
                chunks.append([])
                room = rows
            take = min(count, room)
            last = chunks[-1][-1] if chunks[-1] else None
            if last is not None and last.path == run.path and last.shape == run.shape and \
                    last.offset + last.count * run.sample_size == offset:
                chunks[-1][-1] = last._replace(count=last.count + take)
            else:
                chunks[-1].append(ShardRun(run.path, offset, take, tuple(run.shape)))
            offset += take * run.sample_size
            count -= take
            room -= take
    return chunks


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
        return self.data[run.offset:run.offset + run.count * run.sample_size].reshape((run.count, *run.shape))

    def close(self) -> None:
        if self.path is not None and self.remove:
            Path(self.path).unlink(missing_ok=True)
        self.path, self.data = None, np.zeros(0, np.float32)


def write_floats(folder: str | Path, arrays: list[np.ndarray]) -> str:
    """A new file in `folder` holding the arrays' float32 values one after another; its path
    (no file is left if the write fails). One writev for a task's arrays, not a write each:
    9.6 -> 6.0 us a 30 KB sample."""
    fd, path = tempfile.mkstemp(dir=folder, suffix=".f32")
    try:
        views = [np.ascontiguousarray(a, np.float32).reshape(-1).view(np.uint8) for a in arrays]
        while views and not hasattr(os, "writev"):     # Windows
            _write_all(fd, views.pop(0))
        while views:
            done = os.writev(fd, views[:IOV_MAX])     # may write less than asked
            while views and done >= len(views[0]):
                done -= len(views.pop(0))
            if views and done:
                views[0] = views[0][done:]
    except BaseException:
        os.close(fd)
        Path(path).unlink(missing_ok=True)
        raise
    os.close(fd)
    return path


# buffers one writev takes: 1024 on Linux and macOS, at least 16 by POSIX
IOV_MAX = min(512, os.sysconf("SC_IOV_MAX")) if "SC_IOV_MAX" in getattr(os, "sysconf_names", {}) else 16


def _write_all(fd: int, view: np.ndarray) -> None:
    while len(view):
        view = view[os.write(fd, view):]


def move_to_file(folder: str | Path, poses: list[np.ndarray], full: list[np.ndarray] | None
                 ) -> tuple[list[ShardRun], list[ShardRun] | None]:
    """In a worker: a task's arrays (one poses and, with --keep-full, one full array per
    sample) written to one new file in `folder`, poses first; returned as ShardRuns of it (the
    poses merged into as few runs as their shapes allow, one run a full array)."""
    path = write_floats(folder, poses + (full or []))
    runs: list[ShardRun] = []
    offset = 0
    for p in poses:
        last = runs[-1] if runs else None
        if last is not None and last.shape == p.shape:
            runs[-1] = last._replace(count=last.count + 1)
        else:
            runs.append(ShardRun(path, offset, 1, tuple(p.shape)))
        offset += p.size
    full_runs = None if full is None else []
    for f in full or []:
        full_runs.append(ShardRun(path, offset, 1, tuple(f.shape)))
        offset += f.size
    return runs, full_runs


def spill(poses: np.ndarray, folder: Path) -> ShardRun:
    """Write one sample's poses that came by the pipe to a file of its own (the writer's),
    making the folder again if it went missing; an OSError here (a full disk) ends the run."""
    folder.mkdir(exist_ok=True)
    return ShardRun(write_floats(folder, [poses]), 0, 1, tuple(poses.shape))


def handoff_folder(out: Path) -> Path:
    """Make the run's hand-off folder beside `out` (same file system: no copy across disks)."""
    folder = out.with_name(f".{out.stem}.handoff-{os.getpid()}{out.suffix}")
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir()
    return folder


def remove_folder(folder: Path | None) -> None:
    if folder is not None:
        shutil.rmtree(folder, ignore_errors=True)
