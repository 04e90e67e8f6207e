"""Where a store is written before it is renamed into place, and the clean-up of what a
killed run left behind. Everything is written under a hidden name beside the target
(`.<name>.partial-<pid><suffix>`) and renamed at the end, so an interrupted run never
leaves a half store under the final name; only files that carry this tool's marker are
ever removed: a working entry (a partial store, a hand-off folder) has a marker file beside
it, `<entry>.skeltools`, for its whole life, and a replaced store (`.<name>.old-<pid>`) must be
a store this tool wrote."""
from __future__ import annotations

import errno
import os
import re
import shutil
from pathlib import Path

from .schema import DiskFull

SPACE_MARGIN = 8 * 1024 ** 2   # bytes kept free beyond what the next write needs (HDF5 metadata, Zarr json)
MARK_SUFFIX = ".skeltools"   # the marker beside a working entry


def partial_path(path: Path) -> Path:
    """Where this process writes `path` before renaming it into place."""
    return path.with_name(f".{path.stem}.partial-{os.getpid()}{path.suffix}")


def work_folder(path: Path, kind: str) -> Path:
    """A marked working folder beside `path` for this process (`.<name>.<kind>-<pid><suffix>`),
    made empty; removed by `remove_tree` when the run ends, or by `remove_stale` after a kill."""
    folder = path.with_name(f".{path.stem}.{kind}-{os.getpid()}{path.suffix}")
    remove_tree(folder)
    mark(folder)
    folder.mkdir()
    return folder


def marker(entry: Path) -> Path:
    return entry.with_name(entry.name + MARK_SUFFIX)


def mark(entry: Path) -> None:
    """Say that `entry` is this tool's working file or folder (before it is made)."""
    marker(entry).write_text("made by skeltools: the entry beside this file is removed when its run ends\n")


def unmark(entry: Path) -> None:
    marker(entry).unlink(missing_ok=True)


def remove_work(entry: Path | None) -> None:
    """Remove a working entry and its marker."""
    if entry is not None:
        remove_tree(entry)
        unmark(entry)


def remove_tree(p: Path | None) -> None:
    """Remove a file or folder (a link itself, never what it points to), if it is there."""
    if p is None:
        return
    if p.is_symlink() or p.is_file():
        p.unlink(missing_ok=True)
    elif p.is_dir():
        shutil.rmtree(p, ignore_errors=True)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale(path: str | Path, is_tool_store) -> list[Path]:
    """Remove what killed runs left beside `path` (their process is gone): working entries
    (`.<name>.<kind>-PID`) that carry this tool's marker, with the marker, and replaced stores
    (`.<name>.old-PID`) that `is_tool_store` recognises. Anything else is kept. Returns what
    was removed."""
    path = Path(path)
    pattern = re.compile(rf"^\.{re.escape(path.stem)}\.([a-z]+)-(\d+){re.escape(path.suffix)}"
                         rf"({re.escape(MARK_SUFFIX)})?$")
    folder = path.parent if str(path.parent) else Path(".")
    removed = []
    if not folder.is_dir():
        return removed
    for entry in sorted(folder.iterdir()):
        m = pattern.match(entry.name)
        if not m or int(m[2]) == os.getpid() or _pid_alive(int(m[2])) or entry.is_symlink():
            continue
        if m[3]:                                  # a marker whose entry is gone
            if not entry.with_name(entry.name[:-len(MARK_SUFFIX)]).exists():
                entry.unlink(missing_ok=True)
            continue
        if marker(entry).is_file() or (m[1] == "old" and is_tool_store(entry)):
            remove_work(entry)
            removed.append(entry)
    return removed


def is_disk_full(e: BaseException) -> bool:
    return isinstance(e, OSError) and (e.errno == errno.ENOSPC or "No space left" in str(e))


def ensure_space(folder: Path, nbytes: int) -> None:
    """Raise DiskFull before a write that would fill the file system: HDF5 crashes (a
    segfault) when a write fails for lack of space."""
    st = os.statvfs(folder)
    if st.f_bavail * st.f_frsize < nbytes + SPACE_MARGIN:
        raise DiskFull(f"no space left on {folder.resolve()} (nothing written; the partial store was removed)")


def swap_in(tmp: Path, path: Path) -> None:
    """Rename the finished `tmp` into place, replacing a store at `path` only once `tmp` is whole."""
    old = None
    if path.exists():
        old = path.with_name(f".{path.stem}.old-{os.getpid()}{path.suffix}")
        os.replace(path, old)
    os.replace(tmp, path)
    remove_tree(old)
