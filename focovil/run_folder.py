"""What `focovil train --out` may hold, and what --resume and --overwrite do with it."""
from __future__ import annotations

from pathlib import Path

from .checkpoint import CHECKPOINT, RUN_FILES


def prepare_run_folder(out: Path, resume: bool, overwrite: bool) -> bool:
    """Check what `out` holds against --resume / --overwrite, and clear what may be replaced;
    returns whether the folder is new. A folder with run files but no checkpoint (a run
    interrupted before its first epoch ended) holds nothing to keep, and is reused."""
    ours = [f for f in RUN_FILES if (out / f).exists()] + [p.name for p in out.glob("rng_rank*.pt")]
    if resume and overwrite:
        raise ValueError("--resume and --overwrite contradict each other")
    if resume and not (out / CHECKPOINT).exists():
        raise ValueError(f"{out}: nothing to resume (no {CHECKPOINT}); leave out --resume to start a run")
    if not resume and (out / CHECKPOINT).exists() and not overwrite:
        raise ValueError(f"{out} already holds a run ({', '.join(ours)}); pass --resume to continue it or "
                         "--overwrite to replace it")
    if not resume:
        for f in ours:
            (out / f).unlink()
    new = not out.exists()
    out.mkdir(parents=True, exist_ok=True)
    return new
