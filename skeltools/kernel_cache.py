"""Keep numba's on-disk kernel cache in step with the package's sources.

numba keys a cached kernel on the modification time of the kernel's own file only. A kernel
that inlines a helper from another file (`formats.ntu.parse_skeleton` inlines
`formats.text_kernels.read_decimal`) would therefore go on running the old helper after only
that other file changed, as after a `git pull` in an editable install: silently different
numbers. `refresh` compares one digest of the package's kernel sources with the digest the
cache was made under, and drops the cached kernels when they differ. It runs once per process, when
the package is imported (a millisecond), and imports nothing heavy.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

STAMP = "kernel-sources.sha1"


def sources_digest(package: Path) -> str:
    """One digest of the Python sources under `package` that define kernels (file names and
    contents; a change elsewhere, in the CLI or the writer, leaves the cache alone)."""
    h = hashlib.sha1()
    for path in sorted(package.rglob("*.py")):
        text = path.read_bytes()
        if b"@njit" in text:
            h.update(str(path.relative_to(package)).encode())
            h.update(text)
    return h.hexdigest()


def refresh(package: Path) -> bool:
    """Remove the package's cached kernels (`__pycache__/*.nbi|nbc`) if its sources changed since
    they were cached; returns whether it did. A read-only install (nothing to refresh, numba
    then caches elsewhere) is left alone."""
    stamp = package / "__pycache__" / STAMP
    try:
        digest = sources_digest(package)
        if stamp.exists() and stamp.read_text() == digest:
            return False
        for cached in [*package.rglob("__pycache__/*.nbi"), *package.rglob("__pycache__/*.nbc")]:
            cached.unlink(missing_ok=True)
        stamp.parent.mkdir(exist_ok=True)
        stamp.write_text(digest)
    except OSError:
        return False
    return True
