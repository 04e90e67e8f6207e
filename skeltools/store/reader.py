"""Reading a store: one code path for both backends, and every chunk of `poses` checked
against its recorded crc32 the first time it is read (a flipped bit, a zeroed or lost chunk
never reaches training, export or evaluation; `verify=False` skips it)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from .backends import open_backend
from .chunks import chunk_checksum
from .schema import CHECKSUM_KEY, CHUNK_SAMPLES, FORMAT_NAME, META_DTYPES, StoreError, check_version


class Store:
    """Read access to a store (HDF5 or Zarr); a StoreError names what is wrong with one that
    cannot be opened or read. With `verify`, reads of `poses` check each chunk they touch
    against checksums/poses, once per chunk and Store."""

    def __init__(self, path: str | Path, verify: bool = True):
        self.path = Path(path)
        self.verify = verify
        self._verified: set[int] = set()
        self._digests: np.ndarray | None = None
        if not self.path.exists():
            raise StoreError(f"{path}: no such store")
        try:
            self._b = open_backend(self.path, "r")
            self.attrs = self._b.attrs()
        except StoreError:
            raise
        except Exception as e:  # h5py/zarr raise many types for corrupt input
            raise StoreError(f"{path}: cannot be opened as a store ({type(e).__name__}: {e})") from None
        if self.attrs.get("format") != FORMAT_NAME:
            self._b.close()
            raise StoreError(f"{path}: not a skeltools store (format attribute is {self.attrs.get('format')!r})")
        self.version = check_version(path, self.attrs)

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self._b.close()

    def __len__(self) -> int:
        return int(self.node("poses").shape[0])

    def has(self, key: str) -> bool:
        return self._b.has(key)

    def node(self, key: str):
        """The backend's array object (h5py Dataset or zarr Array), for its shape and attributes."""
        return self._b.node(key)

    def read(self, key: str, sel: Any = ()) -> np.ndarray:
        """A whole array (or a selection of it: a slice or an index along the first axis for
        `poses`); strings come back as Python str objects."""
        data = self._guarded(key, lambda: self._b.read(key, sel))
        if key == "poses" and self.verify and self.version >= 2:
            rows = np.arange(len(self))[sel if sel != () else slice(None)]
            self._check(np.atleast_1d(rows), data if np.ndim(rows) else data[None])
        return data

    def read_rows(self, key: str, idx: np.ndarray) -> np.ndarray:
        """Rows `idx` (sorted, unique) of an array along its first axis, in one selection."""
        idx = np.asarray(idx, dtype=np.int64)
        data = self._guarded(key, lambda: self._b.rows(key, idx))
        if key == "poses" and self.verify and self.version >= 2:
            self._check(idx, data)
        return data

    def _guarded(self, key: str, read):
        """A read whose failures (a missing array, a chunk that cannot be decoded) are one StoreError."""
        try:
            return read()
        except KeyError:
            raise StoreError(f"{self.path}: missing array {key}") from None
        except Exception as e:   # HDF5: OSError; Zarr: RuntimeError from a codec, ValueError from a short chunk
            detail = str(e).strip().splitlines()[0][:160] if str(e).strip() else ""
            raise StoreError(f"{self.path}: {key} cannot be read (a damaged chunk: {type(e).__name__}"
                             f"{': ' + detail if detail else ''}); `skel check {self.path}` lists every problem") from None

    def _check(self, rows: np.ndarray, data: np.ndarray) -> None:
        """Check the chunks of `poses` that rows (sorted) fall in, not checked before: from the
        rows read where they cover a chunk, else by reading the chunk."""
        step = self._chunk_rows()
        n = len(self)
        for k in np.unique(rows // step).tolist():
            if k in self._verified:
                continue
            lo, hi = k * step, min(n, (k + 1) * step)
            a, b = np.searchsorted(rows, [lo, hi])
            block = data[a:b] if b - a == hi - lo else self._guarded("poses", lambda: self._b.read("poses",
                                                                                                    slice(lo, hi)))
            if chunk_checksum(np.asarray(block, np.float32)) != int(self._expected()[k]):
                raise StoreError(f"{self.path}: poses rows {lo}-{hi - 1} differ from their checksum (a damaged or "
                                 f"lost chunk); `skel check {self.path}` lists every problem, --no-verify reads anyway")
            self._verified.add(k)

    def _chunk_rows(self) -> int:
        step = self.attrs.get("checksum_chunk_samples", CHUNK_SAMPLES)
        if isinstance(step, bool) or not isinstance(step, int) or step < 1:
            raise StoreError(f"{self.path}: checksum_chunk_samples {step!r} is not a chunk size; the poses cannot "
                             "be verified (--no-verify reads anyway)")
        return step

    def _expected(self) -> np.ndarray:
        if self._digests is None:
            if not self.has(CHECKSUM_KEY):
                raise StoreError(f"{self.path}: no {CHECKSUM_KEY}: the poses cannot be verified (a store written "
                                 "before checksums, or damaged; --no-verify reads anyway)")
            digests = self._guarded(CHECKSUM_KEY, lambda: self._b.read(CHECKSUM_KEY))
            if len(digests) != -(-len(self) // self._chunk_rows()):
                raise StoreError(f"{self.path}: {CHECKSUM_KEY} has {len(digests)} entries for "
                                 f"{-(-len(self) // self._chunk_rows())} chunks of poses (damaged)")
            self._digests = digests
        return self._digests

    def stored_chunks(self, key: str) -> tuple[int, int]:
        """(chunks written, chunks the shape needs) of an array: a lost Zarr chunk file
        would otherwise read as zeros."""
        return self._b.chunks_written(key)

    def meta(self) -> dict[str, np.ndarray]:
        return {k: self.read(f"meta/{k}") for k in META_DTYPES if self.has(f"meta/{k}")}

    def protocols(self) -> list[str]:
        return self._b.keys("splits")

    def split(self, protocol: str, part: str) -> np.ndarray:
        if protocol not in self.protocols():
            raise StoreError(f"{self.path}: no protocol {protocol!r}; it has {', '.join(self.protocols()) or 'none'}")
        return self.read(f"splits/{protocol}/{part}")

    def full_sequence(self, index: int) -> np.ndarray:
        """The full-length (not resampled) aligned sequence of one sample, when written with
        --keep-full (`full/`; version 1 stores called it `raw/`)."""
        group = "full" if self.has("full/offsets") else "raw" if self.has("raw/offsets") else None
        if group is None:
            raise StoreError(f"{self.path}: written without --keep-full")
        lo, hi = self.read(f"{group}/offsets", slice(index, index + 2))
        return np.moveaxis(self.read(f"{group}/poses", slice(int(lo), int(hi))), 0, 1)


def is_tool_store(path: str | Path) -> bool:
    """Whether `path` holds a store this tool wrote (its `format` attribute), so that it may be replaced."""
    try:
        b = open_backend(Path(path), "r")
        try:
            return b.attrs().get("format") == FORMAT_NAME
        finally:
            b.close()
    except Exception:
        return False
