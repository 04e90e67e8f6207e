"""The work that prepare's pool runs: stage 1, reading a batch of raw units into records
(`read_batch`), and stage 4, making one store chunk from the hand-off files
(`make_staged_chunk`). Both run in a worker process (or in the writing process with one
worker); whatever goes wrong while reading one unit becomes its skip reason, so only the
writer's own errors can stop a run.
"""
from __future__ import annotations

import os
import stat
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..formats import reader_of
from ..formats.raw_sample import SampleError, Skipped
from ..formats.read_buffer import ReadBuffer
from ..formats.units import UNREADABLE, RawUnit
from ..kernels import abs_max
from ..manifests import DatasetSpec
from ..store.chunks import ChunkDone, ChunkJob, make_chunk
from ..store.schema import META_DTYPES
from ..transform import Transformed, TransformParams, transform_sample
from .handoff import fill_from_handoff, new_file, write_arrays
from .records import BatchResult, SampleMeta, SampleRecord, SkipRecord, Staged


@dataclass(frozen=True)
class ReadJob:
    """What a worker needs to turn raw units into records (sent once to each worker)."""

    spec: DatasetSpec
    params: TransformParams
    keep_full: bool
    scaling: str              # "dataset" or "sample"
    handoff: str              # the hand-off folder
    buffer: ReadBuffer = field(default_factory=ReadBuffer, compare=False, repr=False)   # each process its own

    def skip_reason(self, name: str, fields: dict) -> Skipped | None:
        """Why a unit of a well-formed name is not part of the dataset, before reading it."""
        why = self.spec.out_of_range(fields)
        if why is None and name in self.spec.missing:
            why = "listed by the dataset as a sample with missing skeletons"
        return None if why is None else Skipped.of(why)


def failure_reason(e: Exception) -> Skipped:
    """The skip reason for an exception raised while reading or transforming one unit
    (an unexpected one keeps its type as the code: `type: message`)."""
    if isinstance(e, SampleError):
        return Skipped(e.code, str(e))
    if isinstance(e, OSError) and e.strerror:
        return Skipped("unreadable", f"unreadable: {e.strerror}")
    return Skipped(type(e).__name__, f"{type(e).__name__}: {e}")


INT_RANGES = {k: (int(np.iinfo(dt).min), int(np.iinfo(dt).max), np.dtype(dt).name) for k, dt in META_DTYPES.items()
              if dt is not str and np.dtype(dt).kind == "i"}   # the meta columns' integer ranges (constants)


def sample_meta(name: str, fields: dict, out: Transformed, scale: float = 0.0) -> SampleMeta:
    """A sample's meta fields from its name's fields and its transform; SampleError for a value
    that its store column cannot hold (a video named A40000N01, a label line 40,000)."""
    meta = SampleMeta(name, fields["action"] - 1, fields["view"], fields.get("scene", 0), fields.get("subject", -1),
                      fields.get("setup", -1), fields.get("replication", -1), out.frames, out.bodies, scale)
    for key, value in zip(SampleMeta._fields, meta):
        bounds = INT_RANGES.get(key)
        if bounds is not None and not bounds[0] <= value <= bounds[1]:
            raise SampleError(f"value out of range: {key} {value} does not fit the store's meta/{key} "
                              f"({bounds[2]}: {bounds[0]}..{bounds[1]})")
    return meta


def sample_arrays(out: Transformed, scaling: str, keep_full: bool) -> tuple[np.ndarray, np.ndarray | None, float]:
    """(poses, full-length sequence frames first or None, peak): the arrays as they are
    staged, divided by their own peak with --scale sample, and the largest |coordinate|
    before any scaling (the dataset's scale is the largest of these)."""
    peak = max(abs_max(out.poses), abs_max(out.full) if keep_full else 0.0)
    poses, full = out.poses, (np.moveaxis(out.full, 1, 0) if keep_full else None)
    if scaling == "sample":
        own = np.float32(peak or 1.0)
        poses = (poses / own).astype(np.float32)
        full = None if full is None else (full / own).astype(np.float32)
    return poses, full, float(peak)


def _transformed(job: ReadJob, name: str, fields: dict, raw) -> Transformed | Skipped:
    why = raw if isinstance(raw, Skipped) else job.skip_reason(name, fields)
    if why is not None:
        return why
    try:
        return transform_sample(raw, job.spec.bodies, job.spec.layout.role_indices(), job.params)
    except Exception as e:
        return failure_reason(e)


def _items_of(job: ReadJob, unit: RawUnit) -> list[tuple[str, dict, Transformed | Skipped]]:
    """A unit's items, read and transformed (a failure is the item's skip reason)."""
    why = Skipped(UNREADABLE, unit.extra[1]) if unit.extra[:1] == (UNREADABLE,) else \
        job.skip_reason(unit.name, unit.fields)
    if why is not None:
        return [(unit.name, unit.fields, why)]
    try:
        items = reader_of(job.spec).read_unit(unit, job.spec, job.buffer)
    except Exception as e:
        return [(unit.name, unit.fields, failure_reason(e))]
    return [(name, fields, _transformed(job, name, fields, raw)) for name, fields, raw in items]


def stage_batch(job: ReadJob, entries: list[tuple[int, str, dict, Transformed | Skipped]]) -> tuple:
    """Records for transformed items [(unit, name, fields, Transformed or Skipped)], their
    arrays written to one new hand-off file."""
    path = new_file(job.handoff)
    records, arrays, offset = [], [], 0
    for unit, name, fields, out in entries:
        if isinstance(out, Skipped):
            records.append(SkipRecord(unit, name, out))
            continue
        try:
            meta = sample_meta(name, fields, out)
        except SampleError as e:
            records.append(SkipRecord(unit, name, failure_reason(e)))
            continue
        poses, full, peak = sample_arrays(out, job.scaling, job.keep_full)
        staged = []
        for a in (poses[None], full):
            if a is not None:
                staged.append(Staged(path, offset, a.shape))
                arrays.append(a)
                offset += a.size
        meta = meta._replace(scale=(peak or 1.0) if job.scaling == "sample" else 0.0)
        records.append(SampleRecord(unit, meta, peak, staged[0], staged[1] if job.keep_full else None))
    write_arrays(path, arrays)
    return tuple(records)


def read_batch(job: ReadJob, units: list[RawUnit], span: tuple[int, int]) -> BatchResult:
    """Stage 1, in a worker: units[lo:hi] of the run read, transformed and staged (the run's
    units come with the function, once per worker: through a fork, for nothing)."""
    start = time.thread_time()     # CPU: what the scaling ceiling compares, unaffected by contention
    entries, size = [], 0
    for u in range(*span):
        size += _size(units[u].path)
        entries += [(u, name, fields, out) for name, fields, out in _items_of(job, units[u])]
    records = stage_batch(job, entries)
    return BatchResult(span[1] - span[0], records, size, time.thread_time() - start)


def warm_up(job: ReadJob) -> None:
    """Compile (or load from the cache) every kernel of a unit on the format's built-in sample,
    before any worker is forked (they inherit the compiled kernels)."""
    spec = job.spec
    out = transform_sample(reader_of(spec).warm_up_sample(spec.layout.n_joints), spec.bodies,
                           spec.layout.role_indices(), job.params)
    sample_arrays(out, job.scaling, job.keep_full)


def make_staged_chunk(job: ChunkJob) -> ChunkDone:
    """Stage 4, in a worker: one store chunk made from its samples' hand-off files."""
    return make_chunk(job, fill_from_handoff)


def _size(path: Path) -> int:
    """The unit's bytes: a file's size, or the sizes of a folder's files; 0 if unreadable."""
    try:
        st = os.stat(path)
        if stat.S_ISDIR(st.st_mode):
            return sum(p.stat().st_size for p in path.iterdir() if p.is_file())
        return st.st_size
    except OSError:
        return 0
