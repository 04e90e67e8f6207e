"""Files that commands write beside their inputs (exports, features): never over an input or
a store, never over anything else without --overwrite, and never half-written (a temporary
name beside the target, renamed at the end, removed on any failure)."""
from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from .store import StoreError, is_tool_store


def check_output(out: str | Path, inputs: list[str | Path], overwrite: bool = False) -> Path:
    """The path to write (a link is followed); StoreError in one line where writing it would
    destroy an input or a store, or replace another file without `overwrite`."""
    out = Path(out)
    target = Path(os.path.realpath(out))
    for given in inputs:
        if Path(os.path.realpath(given)) == target:
            raise StoreError(f"--out {out} is the input {given}: writing it would destroy the input; choose another "
                             "--out")
    if target.is_dir():
        raise StoreError(f"--out {out} is a folder; give a file name")
    if target.exists():
        if is_tool_store(target):
            raise StoreError(f"--out {out} is a store written by skel prepare; it is never replaced by an export "
                             "(choose another --out)")
        if not overwrite:
            raise StoreError(f"--out {out} exists; pass --overwrite to replace it")
    if not target.parent.is_dir():
        raise StoreError(f"{out.parent}: the folder for --out does not exist")
    return target


@contextmanager
def written_whole(target: Path) -> Iterator[Path]:
    """Yields a temporary path beside `target` to write; renamed to `target` when the block
    ends, removed if it raises (a full disk leaves nothing behind)."""
    tmp = target.with_name(f".{target.name}.partial-{os.getpid()}{target.suffix}")
    try:
        yield tmp
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
