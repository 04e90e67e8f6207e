"""What `prepare` hands to a format module: one raw unit (a file, or a folder of frame
files), and the default way to find units, by matching file names."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ..manifests import DatasetSpec


@dataclass(frozen=True)
class RawUnit:
    """One thing to read: `path` is a file (NTU, PKU-MMD, UWA3D) or a folder (N-UCLA)."""

    path: Path
    name: str
    fields: dict
    extra: tuple = ()      # format-specific (e.g. the PKU-MMD label file)


def walk_files(raw_dir: Path):
    """(folder, file name) under raw_dir in name order, hidden folders left out (hidden files
    are the caller's to ignore). Regular files only: a FIFO would block its reader. One
    scandir per folder (its entries know their type: no stat per file), one Path per folder."""
    stack = [Path(raw_dir)]
    while stack:
        folder = stack.pop()
        try:
            with os.scandir(folder) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError:
            continue
        dirs = []
        for e in entries:
            if e.is_dir(follow_symlinks=False):   # as os.walk: a linked folder is not entered
                if not e.name.startswith("."):
                    dirs.append(folder / e.name)
            elif e.is_file():
                yield folder, e.name
        stack.extend(reversed(dirs))


def units_by_file_name(raw_dir: Path, spec: DatasetSpec) -> tuple[list[RawUnit], int]:
    """Files whose names match the dataset's pattern, in name order; the count of the rest."""
    found, ignored = [], 0
    for folder, fn in walk_files(raw_dir):
        fields = None if fn.startswith(".") else spec.parse_file_name(fn)
        if fields is None:
            ignored += 1
            continue
        found.append(RawUnit(folder / fn, fn.split(".")[0], fields))
    found.sort(key=lambda u: (u.name, str(u.path)))
    return found, ignored
