"""Every record that crosses a process boundary in `prepare`, in one place.

Stage 1 (a worker reads a batch of raw units): `BatchResult`, holding a `SampleRecord` or a
`SkipRecord` per item in the units' order; a sample's arrays wait in a hand-off file, named
by a `Staged`. Stage 4 (a worker makes a store chunk): the store's own `ChunkJob` in, its
`ChunkDone` out (skeltools/store/chunks.py; the store knows nothing of processes).
"""
from __future__ import annotations

from typing import NamedTuple

from ..formats.raw_sample import Skipped
from ..store.chunks import ChunkDone, ChunkJob
from ..store.schema import META_DTYPES

__all__ = ["BatchResult", "ChunkDone", "ChunkJob", "SampleMeta", "SampleRecord", "SkipRecord", "Staged"]


class SampleMeta(NamedTuple):
    """A sample's meta fields, in the store's column order (META_DTYPES)."""

    name: str
    label: int
    view: int
    scene: int          # 0 here: scenes are numbered by the writer once every sample is known
    subject: int
    setup: int
    replication: int
    frames: int         # frames before resampling (the full-length sequence's length)
    bodies: int
    scale: float        # the sample's own divisor with --scale sample; 0: the dataset's


assert SampleMeta._fields == tuple(META_DTYPES), "SampleMeta must follow the store's meta columns"


class Staged(NamedTuple):
    """An array waiting in a hand-off file: float32 values from item `offset` of `path`, of
    `shape`, rows first (a sample's poses: 1 row; its full-length sequence: a row a frame)."""

    path: str
    offset: int
    shape: tuple[int, ...]


class SampleRecord(NamedTuple):
    """A sample ready to file: the raw unit it came from (an index into the run's units), its
    meta, its largest |coordinate| before any scaling (the dataset's scale is the maximum of
    these), and where its poses (and full-length sequence) wait."""

    unit: int
    meta: SampleMeta
    peak: float
    poses: Staged
    full: Staged | None


class SkipRecord(NamedTuple):
    """An item that becomes no sample, and why."""

    unit: int
    name: str
    reason: Skipped


class BatchResult(NamedTuple):
    """What a worker returns for a batch of units: their items in order, the bytes read and
    the CPU seconds spent."""

    units: int
    items: tuple[SampleRecord | SkipRecord, ...]
    bytes_read: int
    cpu_seconds: float
