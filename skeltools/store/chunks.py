"""The chunks of a store's large arrays (`poses`, `full/poses`): what a chunk job names, how a
chunk is made from its rows, and where it goes.

A `StoreWriter` lists its chunks as `ChunkJob`s once every sample is known (`chunk_jobs`).
Any process can make one with `make_chunk`, given a function that reads the rows a job
names (the writer knows only opaque row sources: prepare's hand-off files, or arrays in
memory). The made chunk is written where it was made, through its target, so that the
writing process does not copy every chunk a second time:

- uncompressed HDF5 (`H5Chunks`): the array is allocated whole at creation (no fill), so each
  chunk's place in the file is fixed; the chunk's bytes are written there with pwrite. HDF5
  never holds these chunks in its cache, so it cannot overwrite them.
- Zarr (`ZarrChunks`): one file per chunk, written with zarr itself.
- compressed HDF5 (`H5EncodedChunks`): HDF5's own filters run where the chunk is made (on a
  one-chunk HDF5 file in memory); the writing process stores the encoded bytes as they are.

A job and a target are small and picklable: they travel to a worker process.
"""
from __future__ import annotations

import os
import zlib
from dataclasses import dataclass
from typing import Any, Callable, NamedTuple

import numpy as np


def chunk_checksum(block: np.ndarray) -> int:
    """The digest of one chunk of rows as stored (C order, native float32)."""
    return zlib.crc32(np.ascontiguousarray(block).view(np.uint8).reshape(-1)) & 0xFFFFFFFF


def array_checksum(values: np.ndarray) -> int:
    """The digest of a small whole array (strings joined by NUL, numbers by their bytes)."""
    values = np.asarray(values)
    if values.dtype == object or values.dtype.kind in "UST":
        return zlib.crc32("\0".join(str(v) for v in values.reshape(-1)).encode()) & 0xFFFFFFFF
    return chunk_checksum(values)


def can_write_in_place() -> bool:
    """pwrite is POSIX: elsewhere every chunk goes through h5py in the writing process."""
    return hasattr(os, "pwrite")


def _pwrite_all(fd: int, data: memoryview, offset: int) -> None:
    done = 0
    while done < len(data):        # pwrite may write less than asked
        done += os.pwrite(fd, data[done:], offset + done)


def _whole_chunk(block: np.ndarray, rows: int) -> np.ndarray:
    """`block` padded with zero rows to a whole chunk (HDF5 stores the last chunk whole)."""
    if len(block) == rows:
        return np.ascontiguousarray(block, np.float32)
    whole = np.zeros((rows,) + block.shape[1:], np.float32)
    whole[:len(block)] = block
    return whole


@dataclass(frozen=True)
class EncodedChunk:
    """One chunk as HDF5 stores it after its filters, and the filter mask that goes with it."""

    data: bytes
    filter_mask: int


@dataclass(frozen=True)
class H5Chunks:
    """The byte offset of every chunk of an uncompressed, early-allocated HDF5 dataset."""

    path: str
    offsets: tuple[int, ...]
    rows: int            # rows per chunk
    chunk_bytes: int

    def put(self, k: int, block: np.ndarray) -> None:
        data = memoryview(_whole_chunk(block, self.rows)).cast("B")
        if len(data) != self.chunk_bytes:
            raise ValueError(f"chunk {k}: {len(data)} bytes, the dataset's chunks hold {self.chunk_bytes}")
        fd = os.open(self.path, os.O_WRONLY)
        try:
            _pwrite_all(fd, data, self.offsets[k])
        finally:
            os.close(fd)


@dataclass(frozen=True)
class ZarrChunks:
    """A Zarr array of final shape whose chunks (`rows` rows each) any process may write."""

    path: str
    key: str
    rows: int

    def put(self, k: int, block: np.ndarray) -> None:
        import zarr
        array = zarr.open_array(self.path, path=self.key, mode="r+")
        array[k * self.rows:k * self.rows + len(block)] = block


@dataclass(frozen=True)
class H5EncodedChunks:
    """Chunks of a compressed HDF5 dataset, encoded by whoever makes them and stored by the
    writing process."""

    rows: int
    h5_options: dict      # create_dataset's compression options (schema.H5_COMPRESSION)

    def put(self, k: int, block: np.ndarray) -> EncodedChunk:
        """`block` (at most `rows` rows) through HDF5's filters, as one whole chunk."""
        import h5py
        whole = _whole_chunk(block, self.rows)
        with h5py.File(f"chunk-{os.getpid()}-{id(whole)}", "w", driver="core", backing_store=False) as f:
            ds = f.create_dataset("c", data=whole, chunks=whole.shape, **self.h5_options)
            mask, data = ds.id.read_direct_chunk((0,) * whole.ndim)
        return EncodedChunk(bytes(data), int(mask))


ChunkTarget = H5Chunks | ZarrChunks | H5EncodedChunks


class ChunkJob(NamedTuple):
    """Chunk `index` of array `key`: the rows `lo:hi` of each source in `pieces`, in order
    (each row of `row_shape`), divided by `scale` and put into `target` (None: handed back to
    the writing process)."""

    key: str
    index: int
    pieces: tuple[tuple[Any, int, int], ...]
    row_shape: tuple[int, ...]
    scale: float
    target: ChunkTarget | None
    checksum: bool


class ChunkDone(NamedTuple):
    """What became of a chunk: its crc32 (for `poses`) and what the writing process must still
    store (an EncodedChunk, the block itself, or None when it is written)."""

    key: str
    index: int
    crc32: int | None
    payload: EncodedChunk | np.ndarray | None


RowFiller = Callable[[tuple[tuple[Any, int, int], ...], np.ndarray], None]   # (pieces, block) -> block filled


def fill_from_arrays(pieces: tuple[tuple[Any, int, int], ...], block: np.ndarray) -> None:
    """A RowFiller for sources that are arrays in memory, rows first."""
    at = 0
    for source, lo, hi in pieces:
        block[at:at + hi - lo] = source[lo:hi]
        at += hi - lo


def make_chunk(job: ChunkJob, fill: RowFiller) -> ChunkDone:
    """Make one chunk: its rows read into one block (`fill(pieces, block)`), divided by the
    scale in float32, checksummed, and put where it goes."""
    block = np.empty((sum(hi - lo for _, lo, hi in job.pieces), *job.row_shape), np.float32)
    fill(job.pieces, block)
    block /= np.float32(job.scale)
    crc = chunk_checksum(block) if job.checksum else None
    payload = block if job.target is None else job.target.put(job.index, block)
    return ChunkDone(job.key, job.index, crc, payload)
