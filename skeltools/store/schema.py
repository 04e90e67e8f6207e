"""The store's contract in constants: format name and version, array names, dtypes and
dimensions, attribute kinds, compression names, and the backend a path's suffix selects
(CONTRACT section 1; the README's store table)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

FORMAT_NAME = "skeltools-store"
FORMAT_VERSION = 2   # 2: the full-length sequences of --keep-full are full/ (raw/ in version 1)
H5_SUFFIXES = (".h5", ".hdf5")
CHUNK_SAMPLES = 64        # samples per chunk of `poses` (and per checksum)
FULL_CHUNK_FRAMES = 4096  # frames per chunk of `full/poses`
CHECKSUM_KEY = "checksums/poses"   # crc32 of each chunk of `poses`, as stored

META_DTYPES = {"name": str, "label": np.int16, "view": np.int8, "scene": np.int32, "subject": np.int16,
               "setup": np.int16, "replication": np.int16, "frames": np.int32, "bodies": np.int8,
               "scale": np.float32}   # meta/scale: the divisor applied to the sample (absent in older stores)

# The named dimensions of the main arrays (xarray / netCDF readers see them).
DIMS = {"poses": ("sample", "body", "frame", "joint", "xyz"), "views": ("scene", "view"),
        "full/poses": ("full_frame", "body", "joint", "xyz")}
META_DIMS = ("sample",)
JSON_ATTRS = {"array_checksums", "plausibility", "denoise", "protocol_sources", "limits", "index_values",
              "layout_spec"}   # mapping-valued attributes

# Compression per backend, by name; None picks the backend's default (benchmarks/bench_store.py chose them).
H5_COMPRESSION = {"none": {}, "lzf": {"compression": "lzf", "shuffle": True},
                  "gzip": {"compression": "gzip", "compression_opts": 1, "shuffle": True}}
ZARR_COMPRESSION = ("none", "zstd", "blosc-lz4")
DEFAULT_COMPRESSION = {"hdf5": "none", "zarr": "blosc-lz4"}


class StoreError(Exception):
    """A path that is not a readable skeltools store (missing, foreign or corrupt), or one
    that cannot be written."""


class DiskFull(StoreError):
    """The store's file system filled up; the partial store has been removed."""


def dims_of(key: str) -> tuple[str, ...] | None:
    return DIMS.get(key) or (META_DIMS if key.startswith("meta/") else None)


def backend_of(path: str | Path) -> str:
    """`hdf5` or `zarr`, by the path's suffix."""
    suffix = Path(str(path).rstrip("/")).suffix.lower()
    if suffix in H5_SUFFIXES:
        return "hdf5"
    if suffix == ".zarr":
        return "zarr"
    raise StoreError(f"{path}: unknown store type; use a .h5, .hdf5 or .zarr path")


def check_compression(backend: str, compression: str | None) -> None:
    allowed = H5_COMPRESSION if backend == "hdf5" else ZARR_COMPRESSION
    if compression is not None and compression not in allowed:
        raise StoreError(f"compression {compression!r} is not available for {backend}; "
                         f"choose from {', '.join(allowed)}")


def h5_options(compression: str | None) -> dict:
    """create_dataset's filter options for an HDF5 compression name (None: the default);
    empty for an uncompressed store."""
    return H5_COMPRESSION[compression or DEFAULT_COMPRESSION["hdf5"]]


def compression_names() -> list[str]:
    return sorted(set(H5_COMPRESSION) | set(ZARR_COMPRESSION))


def check_version(path: str | Path, attrs: dict) -> int:
    """The store's version as an int, or a StoreError naming what is wrong with it."""
    v = attrs.get("version")
    if v is None:
        raise StoreError(f"{path}: no version attribute (not written by skel prepare, or damaged)")
    if isinstance(v, bool) or not isinstance(v, (int, float, str)) or not str(v).isdigit() or int(v) < 1:
        raise StoreError(f"{path}: version attribute {v!r} is not a store version (1..{FORMAT_VERSION})")
    if int(v) > FORMAT_VERSION:
        raise StoreError(f"{path}: store version {v} is newer than this tool reads ({FORMAT_VERSION}); "
                         "update skeltools")
    return int(v)
