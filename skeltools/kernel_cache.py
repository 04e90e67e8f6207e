"""Keep numba's on-disk kernel cache in step with the package's sources.

numba keys a cached kernel on the modification time of the kernel's own file only. A kernel
that inlines a helper from another file (`formats.ntu.parse_skeleton` inlines
`formats.text_kernels.read_decimal`), or reads a constant from one, would therefore go on
running the old code after only that other file changed, as after a `git pull` in an
editable install: silently different numbers. `refresh` compares one digest of the package's
numba sources (every module that imports numba: the kernels, the helpers they inline and the
constants they read all live in such modules) with the digest each cache location was made
under, and drops that location's cached kernels when they differ. A change elsewhere (the
CLI, the writer) leaves the cache alone.

numba caches a kernel in the first of three places it can write: the folder given by
`NUMBA_CACHE_DIR`, the `__pycache__` beside the source, or a user-wide cache folder; in the
first and last, under `<folder name>_<sha1 of the folder's path>` per source folder
(numba.core.caching's locators). All three are refreshed. It runs once per process, when
the package is imported (a few milliseconds), and imports nothing heavy.
"""
from __future__ import annotations

import hashlib
import os
import re
import sys
from pathlib import Path

STAMP = "kernel-sources.sha1"
CACHED = ("*.nbi", "*.nbc")


NUMBA_IMPORT = re.compile(rb"^\s*(import numba|from numba[ .])", re.M)


def sources_digest(package: Path) -> str:
    """One digest of the Python sources under `package` that import numba (names and contents)."""
    h = hashlib.sha1()
    for path in sorted(package.rglob("*.py")):
        text = path.read_bytes()
        if NUMBA_IMPORT.search(text):
            h.update(str(path.relative_to(package)).encode())
            h.update(text)
    return h.hexdigest()


def _user_wide_cache() -> Path | None:
    """numba's user-wide cache folder (appdirs' user_cache_dir for "numba"), where known."""
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / "numba"
    if sys.platform.startswith("linux"):
        return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "numba"
    return None


def cache_locations(package: Path) -> list[tuple[Path, list[Path], bool]]:
    """Each place numba may cache the package's kernels: (its stamp file, the folders that
    hold the cached kernels of the package's source folders there, whether the stamp's folder
    may be made here)."""
    folders = sorted({p.parent.resolve() for p in package.rglob("*.py")})
    out = [(package / "__pycache__" / STAMP, [f / "__pycache__" for f in folders], True)]
    roots = [(Path(os.environ["NUMBA_CACHE_DIR"]), True)] if os.environ.get("NUMBA_CACHE_DIR") else []
    if (user := _user_wide_cache()) is not None:
        roots.append((user, False))      # made by numba only when it caches there: left alone otherwise
    tag = hashlib.sha1(str(package.resolve()).encode()).hexdigest()[:16]
    for root, make in roots:
        subs = [root / f"{f.name}_{hashlib.sha1(str(f).encode()).hexdigest()}" for f in folders]
        out.append((root / f"skeltools-{tag}-{STAMP}", subs, make))
    return out


def refresh(package: Path) -> bool:
    """Remove the package's cached kernels in each cache location whose stamp differs from
    the sources' digest, and stamp it; returns whether any location was refreshed. A location
    that cannot be written is left alone (numba cannot cache there either)."""
    try:
        digest = sources_digest(package)
    except OSError:
        return False
    refreshed = False
    for stamp, caches, make in cache_locations(package):
        try:
            if stamp.is_file() and stamp.read_text() == digest:
                continue
            if not stamp.parent.is_dir():
                if not make:
                    continue
                stamp.parent.mkdir(parents=True)
            for cache in caches:
                for pattern in CACHED:
                    for f in cache.glob(pattern):
                        f.unlink(missing_ok=True)
            stamp.write_text(digest)
            refreshed = True
        except OSError:
            continue
    return refreshed


def compiled_in_this_process() -> int:
    """How many kernel variants of the package this process compiled rather than loaded from the
    cache (numba's per-dispatcher cache statistics): what tells a first run from a warm one."""
    import sys
    total = 0
    for name, module in list(sys.modules.items()):
        if not name.startswith("skeltools.") or module is None:
            continue
        for value in vars(module).values():
            stats = getattr(value, "stats", None)
            misses = getattr(stats, "cache_misses", None)
            if misses is not None and getattr(value, "__module__", None) == name:
                total += sum(misses.values())
    return total
