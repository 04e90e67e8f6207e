"""Where the store's chunks of poses go at commit, written by whichever process made them.

With a pool, the workers make the scaled chunks of `poses` at commit; handing each chunk back
to the writing process, which then writes it, cost that process more CPU per sample than all
else it does (reading the chunk file back, the store write, freeing the pages: ~35 us a
sample, benchmarks/RESULTS.md). So the chunks are written where they are made:

- uncompressed HDF5: `poses` is created at commit with its final shape and every chunk
  allocated at once (alloc time early, no fill), so each chunk's place in the file is known
  and fixed; a worker writes the chunk's bytes there (`os.pwrite`). HDF5 never holds any of
  these chunks in its cache (the writing process writes none of them), so it cannot
  overwrite them, and its own metadata lies elsewhere in the file.
- Zarr: one file per chunk, written with zarr itself (its codecs), the array's shape final.
- compressed HDF5 (`H5EncodedChunks`): HDF5's own filters (shuffle, gzip or lzf) run where the
  chunk is made, on a one-chunk HDF5 file in memory, and the writing process stores the
  encoded bytes as they are (`write_direct_chunk`): compressing in the writing process made
  it the bottleneck (with gzip, ~400 us a sample: a scaling ceiling of 1).

A target is small and picklable: it travels with each commit task.

Without a pool (`H5InPlace`), uncompressed HDF5 is written the same way from the one process:
each chunk once, unscaled, at its offset as soon as it is full, then read back, scaled and
rewritten at commit through one reused buffer. Through h5py the same store cost 81 us a
sample (its writes and reads of 1.9 MB chunks, a new array per chunk), in place 35.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np


def can_write_in_place() -> bool:
    """pwrite and preadv are POSIX: elsewhere every chunk goes through h5py."""
    return hasattr(os, "pwrite") and hasattr(os, "preadv")


def _pwrite_all(fd: int, data: memoryview, offset: int) -> None:
    done = 0
    while done < len(data):        # pwrite may write less than asked
        done += os.pwrite(fd, data[done:], offset + done)


def _full_chunk(block: np.ndarray, rows: int) -> np.ndarray:
    """`block` padded with zero rows to a whole chunk (HDF5 stores the last chunk whole)."""
    if len(block) == rows:
        return np.ascontiguousarray(block, np.float32)
    full = np.zeros((rows,) + block.shape[1:], np.float32)
    full[:len(block)] = block
    return full


@dataclass(frozen=True)
class H5Chunks:
    """The byte offset of every chunk of an uncompressed, early-allocated HDF5 dataset."""

    path: str
    offsets: tuple[int, ...]
    rows: int            # samples per chunk
    chunk_bytes: int

    def write(self, k: int, block: np.ndarray) -> None:
        data = memoryview(_full_chunk(block, self.rows)).cast("B")
        if len(data) != self.chunk_bytes:
            raise ValueError(f"chunk {k}: {len(data)} bytes, the dataset's chunks hold {self.chunk_bytes}")
        fd = os.open(self.path, os.O_WRONLY)
        try:
            _pwrite_all(fd, data, self.offsets[k])
        finally:
            os.close(fd)


class H5InPlace:
    """`poses` of an uncompressed HDF5 store with early allocation, written by this process
    at its chunks' offsets: `append` a whole chunk's samples at a time (the last may be
    partial), then `rescale` every chunk in place. h5py never writes or caches these chunks."""

    def __init__(self, dataset):
        self.ds = dataset
        self.rows = dataset.chunks[0]
        self.buf = np.zeros(dataset.chunks, np.float32)
        self.fd = os.open(dataset.file.filename, os.O_RDWR)

    def _offset(self, lo: int) -> int:
        return self.ds.id.get_chunk_info_by_coord((lo,) + (0,) * (self.ds.ndim - 1)).byte_offset

    def append(self, samples: list[np.ndarray]) -> None:
        """Up to one chunk of samples, starting a new chunk (allocated by the resize)."""
        n = self.ds.shape[0]
        if n % self.rows or not 0 < len(samples) <= self.rows:
            raise ValueError(f"in-place chunks take whole chunks: {len(samples)} samples at row {n}")
        self.ds.resize(n + len(samples), axis=0)
        np.stack(samples, out=self.buf[:len(samples)])
        self.buf[len(samples):] = 0.0
        _pwrite_all(self.fd, memoryview(self.buf).cast("B"), self._offset(n))

    def rescale(self, scale: float, interrupted, checksum) -> list[int]:
        """Divide every stored value by `scale` (float32), chunk by chunk; the checksum of
        each chunk's rows as stored."""
        data = memoryview(self.buf).cast("B")
        n, digests = self.ds.shape[0], []
        for lo in range(0, n, self.rows):
            interrupted()
            offset = self._offset(lo)
            if os.preadv(self.fd, [data], offset) != len(data):
                raise OSError(f"{self.ds.file.filename}: short read of the chunk at row {lo}")
            rows = self.buf[:min(self.rows, n - lo)]
            rows /= np.float32(scale)
            digests.append(checksum(rows))
            _pwrite_all(self.fd, data, offset)
        return digests

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


@dataclass(frozen=True)
class ZarrChunks:
    """A Zarr array of final shape whose chunks (`rows` samples) any process may write."""

    path: str
    key: str
    rows: int

    def write(self, k: int, block: np.ndarray) -> None:
        import zarr
        array = zarr.open_array(self.path, path=self.key, mode="r+")
        array[k * self.rows:k * self.rows + len(block)] = block


@dataclass(frozen=True)
class EncodedChunk:
    """One chunk as HDF5 stores it after its filters, and the filter mask that goes with it."""

    data: bytes
    filter_mask: int


@dataclass(frozen=True)
class H5EncodedChunks:
    """Chunks of a compressed HDF5 dataset, encoded by whoever makes them (`encode`) and
    stored by the writing process (`_H5.write_encoded`)."""

    rows: int
    h5_options: dict      # create_dataset's compression options (store.H5_COMPRESSION)

    def encode(self, block: np.ndarray) -> EncodedChunk:
        """`block` (at most `rows` samples) through HDF5's filters, as one whole chunk."""
        import h5py
        full = _full_chunk(block, self.rows)
        with h5py.File(f"chunk-{os.getpid()}-{id(full)}", "w", driver="core", backing_store=False) as f:
            ds = f.create_dataset("c", data=full, chunks=full.shape, **self.h5_options)
            mask, data = ds.id.read_direct_chunk((0,) * full.ndim)
        return EncodedChunk(bytes(data), int(mask))


ChunkTarget = H5Chunks | ZarrChunks | H5EncodedChunks
