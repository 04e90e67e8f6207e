"""What `prepare` hands to a format module: one raw unit (a file, or a folder of frame
files), and the default way to find units, by matching file names."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ..manifests import DatasetSpec
from .raw_sample import SampleError


@dataclass(frozen=True)
class RawUnit:
    """One thing to read: `path` is a file (NTU, PKU-MMD, UWA3D) or a folder (N-UCLA)."""

    path: Path
    name: str
    fields: dict
    extra: tuple = ()      # format-specific (e.g. the PKU-MMD label file)


UNREADABLE = "unreadable folder"


def unreadable_unit(folder: Path, error: OSError) -> RawUnit:
    """A folder under --raw that could not be listed, as a unit that becomes a skipped item
    with its reason (its files may be samples: the run must say it did not see them)."""
    return RawUnit(Path(folder), str(folder), {}, (UNREADABLE, f"{UNREADABLE}: {error.strerror or error}"))


def walk_files(raw_dir: Path, unreadable: list | None = None):
    """(folder, file name) under raw_dir in name order, hidden folders left out (hidden files
    are the caller's to ignore). Regular files only: a FIFO would block its reader. One
    scandir per folder (its entries know their type: no stat per file), one Path per folder.
    A folder that cannot be listed is added to `unreadable` as a unit (`unreadable_unit`)."""
    stack = [Path(raw_dir)]
    while stack:
        folder = stack.pop()
        try:
            with os.scandir(folder) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as e:
            if unreadable is not None:
                unreadable.append(unreadable_unit(folder, e))
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
    """Files whose names match the dataset's pattern, in name order (two files of one name:
    the shallowest first), and folders that could not be listed; the count of the rest."""
    found, ignored = [], 0
    for folder, fn in walk_files(raw_dir, found):
        fields = None if fn.startswith(".") else spec.parse_file_name(fn)
        if fields is None:
            ignored += 1
            continue
        found.append(RawUnit(folder / fn, fn.split(".")[0], fields))
    found.sort(key=lambda u: (u.name, str(u.path).count(os.sep), str(u.path)))
    return found, ignored


def _bound(spec: DatasetSpec, name: str) -> int | None:
    value = spec.extra.get("limits", {}).get(name)
    return int(value) if value is not None else None


def check_size(path: Path, spec: DatasetSpec) -> None:
    """SampleError for a file larger than the dataset's `limits.max_file_bytes`, before it is
    read: a tiny sparse or malformed input must not cost gigabytes."""
    bound = _bound(spec, "max_file_bytes")
    size = os.stat(path).st_size
    if bound is not None and size > bound:
        raise SampleError(f"file too large: {size} bytes (bound {bound}: `limits` in the {spec.name} manifest)")


def check_frames(frames: int, spec: DatasetSpec, what: str = "frames") -> None:
    """SampleError for more frames (or label lines: `what`) than the dataset's limit allows."""
    bound = _bound(spec, "max_label_lines" if what == "label lines" else "max_frames")
    if bound is not None and frames > bound:
        raise SampleError(f"too many {what}: {frames} (bound {bound}: `limits` in the {spec.name} manifest)")
