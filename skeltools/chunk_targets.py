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
- compressed HDF5 has no target: the chunk comes back and the writing process writes it
  (HDF5's filters run there).

A target is small and picklable: it travels with each commit task.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np


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
            done = 0
            while done < len(data):        # pwrite may write less than asked
                done += os.pwrite(fd, data[done:], self.offsets[k] + done)
        finally:
            os.close(fd)


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


ChunkTarget = H5Chunks | ZarrChunks
