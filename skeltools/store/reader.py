"""Reading a store: one code path for both backends."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from .backends import open_backend
from .schema import FORMAT_NAME, META_DTYPES, StoreError, check_version


class Store:
    """Read access to a store (HDF5 or Zarr); a StoreError names what is wrong with one that
    cannot be opened."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
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
        check_version(path, self.attrs)

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
        """A whole array (or a selection of it); strings come back as Python str objects."""
        try:
            return self._b.read(key, sel)
        except KeyError:
            raise StoreError(f"{self.path}: missing array {key}") from None

    def read_rows(self, key: str, idx: np.ndarray) -> np.ndarray:
        """Rows `idx` (sorted, unique) of an array along its first axis, in one selection."""
        try:
            return self._b.rows(key, np.asarray(idx, dtype=np.int64))
        except KeyError:
            raise StoreError(f"{self.path}: missing array {key}") from None
        except OSError as e:   # HDF5: a damaged chunk
            raise StoreError(f"{self.path}: {key} cannot be read ({e})") from None

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
