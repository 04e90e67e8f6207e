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

    def empty(self, pool) -> None:
        """Remove the staged files through the pool, each worker a share: freeing a file's
        pages is most of what removing it costs, and it should not all fall on the writing
        process at the end of a run."""
        files = [str(p) for p in self.folder.glob("*.f32")]
        shares = [files[k::pool.workers] for k in range(pool.workers)]
        for _ in pool.map(remove_files, shares, "removing the hand-off files"):
            pass


def remove_files(paths: list[str]) -> None:
    for path in paths:
        Path(path).unlink(missing_ok=True)


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


def fill_from_handoff(pieces: tuple[tuple[Staged, int, int], ...], block: np.ndarray) -> None:
    """A RowFiller (store/chunks.py) for staged arrays: each run of pieces that lie one after
    another in one file read straight into the block, with one read."""
    row_bytes = block[0].nbytes if len(block) else 0
    out = memoryview(block.reshape(-1).view(np.uint8))
    runs: list[list] = []                  # [path, file offset, block offset, bytes]
    at = 0
    for staged, lo, hi in pieces:
        start, size = (staged.offset * 4 + lo * row_bytes), (hi - lo) * row_bytes
        last = runs[-1] if runs else None
        if last is not None and last[0] == staged.path and last[1] + last[3] == start and last[2] + last[3] == at:
            last[3] += size
        else:
            runs.append([staged.path, start, at, size])
        at += size
    files: dict[str, object] = {}
    try:
        for path, start, to, size in runs:
            f = files.get(path)
            if f is None:
                f = files[path] = open(path, "rb", buffering=0)
            f.seek(start)
            done = 0
            while done < size:
                got = f.readinto(out[to + done:to + size])
                if not got:
                    raise OSError(f"{path}: hand-off file shorter than its records say")
                done += got
    finally:
        for f in files.values():
            f.close()
