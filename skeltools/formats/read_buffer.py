"""One byte array that a process reuses for every raw file it reads.

Why: a fresh `bytes` object for each ~250 KB file is a fresh allocation that the kernel
backs with new pages, and the parser then reads memory that is not in the cache. Reading into
the same array again avoids both (the measurement is in benchmarks/RESULTS.md).
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .raw_sample import SampleError


class ReadBuffer:
    """`read(path)` returns the file's bytes as a view of this buffer, valid until the next
    read: callers parse it at once and keep nothing that points into it."""

    def __init__(self, size: int = 1 << 20):
        self._array = np.empty(size, np.uint8)

    def __reduce__(self):
        return ReadBuffer, (self._array.shape[0],)   # a spawned worker starts with its own, empty

    def read(self, path: str | Path, max_bytes: int | None = None) -> np.ndarray:
        """The file's bytes; with `max_bytes`, SampleError for a larger file, before reading it."""
        fd = os.open(path, os.O_RDONLY)
        try:
            if max_bytes is not None and (size := os.fstat(fd).st_size) > max_bytes:
                raise SampleError(f"file too large: {size} bytes (bound {max_bytes}: `limits` in the manifest)")
            filled = 0
            while True:                      # to the end, whatever the file's size says (it may change)
                if filled == self._array.shape[0]:
                    self._array = np.concatenate([self._array, np.empty_like(self._array)])
                got = os.readv(fd, [memoryview(self._array)[filled:]])
                if got == 0:
                    return self._array[:filled]
                filled += got
        finally:
            os.close(fd)
