"""One store, two backends: HDF5 (h5py) for `*.h5`/`*.hdf5`, Zarr v3 for `*.zarr`.

The tree is CONTRACT section 1. Writing is incremental (samples are appended in chunks
of `chunk_samples`, so a training batch is a contiguous read) and atomic: everything is
written under a hidden temporary name next to the target and renamed at the end.
"""
from __future__ import annotations

import errno
import importlib
import json
import os
import re
import shutil
import zlib
from contextlib import suppress
from pathlib import Path
from typing import Any, Callable

import numpy as np

from .chunk_targets import (ChunkTarget, EncodedChunk, H5Chunks, H5EncodedChunks, H5InPlace, ZarrChunks,
                            can_write_in_place)
from .handoff import ShardReader, ShardRun, chunks_of, sample_at, spill

FORMAT_NAME = "skeltools-store"
FORMAT_VERSION = 2   # 2: the full-length sequences of --keep-full are full/ (raw/ in version 1)
H5_SUFFIXES = (".h5", ".hdf5")


class StoreError(Exception):
    """A path that is not a readable skeltools store (missing, foreign or corrupt)."""


class DiskFull(StoreError):
    """The store's file system filled up; the partial store has been removed."""


# The named dimensions of the main arrays (xarray / netCDF readers see them; CONTRACT section 1).
DIMS = {"poses": ("sample", "body", "frame", "joint", "xyz"), "views": ("scene", "view"),
        "full/poses": ("full_frame", "body", "joint", "xyz")}
META_DIMS = ("sample",)


def dims_of(key: str) -> tuple[str, ...] | None:
    return DIMS.get(key) or (META_DIMS if key.startswith("meta/") else None)


JSON_ATTRS = {"array_checksums", "plausibility", "denoise", "protocol_sources"}  # mapping-valued attributes
SPACE_MARGIN = 8 * 1024 ** 2   # bytes kept free beyond what the next write needs (HDF5 metadata, Zarr json)
CHECKSUM_KEY = "checksums/poses"   # crc32 of each chunk of `poses` (chunk_samples rows), after scaling


def chunk_checksum(block: np.ndarray) -> int:
    """The digest of one chunk of rows as stored (C order, native float32)."""
    return zlib.crc32(np.ascontiguousarray(block).view(np.uint8).reshape(-1)) & 0xFFFFFFFF


def scaled_block(runs: list, scale: float, reader: ShardReader) -> tuple[np.ndarray, int]:
    """One chunk of poses from its samples' hand-off runs (ShardRun), divided by `scale`
    (float32), and the chunk's crc32 (as `skel check` recomputes it)."""
    block = np.concatenate([reader.read(run) for run in runs])
    block /= np.float32(scale)
    return block, chunk_checksum(block)


def deliver(target: ChunkTarget | None, k: int, block: np.ndarray):
    """What becomes of chunk k where it is made: written to `target` (None returned), encoded
    for it (an EncodedChunk for the writing process to store), or, without a target, the
    block itself for the writing process to write."""
    if target is None:
        return block
    if isinstance(target, H5EncodedChunks):
        return target.encode(block)
    target.write(k, block)
    return None


def scaled_blocks_here(chunks: list[list], scale: float, target: ChunkTarget | None = None):
    """The chunks made in this process, in order, as (k, what `deliver` made of it, crc32).
    Hand-off files are removed as they are passed."""
    reader = ShardReader()
    try:
        for k, runs in enumerate(chunks):
            block, digest = scaled_block(runs, scale, reader)
            yield k, deliver(target, k, block), digest
    finally:
        reader.close()


def array_checksum(values: np.ndarray) -> int:
    """The digest of a small whole array (strings joined by NUL, numbers by their bytes)."""
    values = np.asarray(values)
    if values.dtype == object or values.dtype.kind in "UST":
        return zlib.crc32("\0".join(str(v) for v in values.reshape(-1)).encode()) & 0xFFFFFFFF
    return chunk_checksum(values)


def is_tool_store(path: str | Path) -> bool:
    """Whether `path` holds a store this tool wrote (its `format` attribute), so that it may be replaced."""
    try:
        b = _open_backend(Path(path), "r")
        try:
            return b.attrs().get("format") == FORMAT_NAME
        finally:
            b.close()
    except Exception:
        return False


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_partials(path: str | Path) -> list[Path]:
    """Remove the hidden `.<name>.partial-PID` / `.<name>.old-PID` stores of `path`, and the
    `.<name>.handoff-PID` folders of prepare's workers, whose process is gone (left by a kill);
    returns what was removed."""
    path = Path(path)
    pattern = re.compile(rf"^\.{re.escape(path.stem)}\.(partial|old|handoff)-(\d+){re.escape(path.suffix)}$")
    removed = []
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        return removed
    for entry in folder.iterdir():
        m = pattern.match(entry.name)
        if m and int(m[2]) != os.getpid() and not _pid_alive(int(m[2])):
            StoreWriter._remove(entry)
            removed.append(entry)
    return removed


def is_disk_full(e: BaseException) -> bool:
    return isinstance(e, OSError) and (e.errno == errno.ENOSPC or "No space left" in str(e))


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


def backend_of(path: str | Path) -> str:
    suffix = Path(str(path).rstrip("/")).suffix.lower()
    if suffix in H5_SUFFIXES:
        return "hdf5"
    if suffix == ".zarr":
        return "zarr"
    raise StoreError(f"{path}: unknown store type; use a .h5, .hdf5 or .zarr path")


# Compression per backend, by name; None picks the backend's default (chosen by
# benchmarks/bench_store.py, see benchmarks/RESULTS.md).
H5_COMPRESSION = {"none": {}, "lzf": {"compression": "lzf", "shuffle": True},
                  "gzip": {"compression": "gzip", "compression_opts": 1, "shuffle": True}}
ZARR_COMPRESSION = ("none", "zstd", "blosc-lz4")
DEFAULT_COMPRESSION = {"hdf5": "none", "zarr": "blosc-lz4"}


def load_backend(path: str | Path) -> None:
    """Import the store's library (h5py or zarr) now. They are imported on first use, so that
    commands that need neither start fast; `prepare` loads the one it needs before it starts
    timing the writer, as it loads the kernels before it times the workers (a first import
    costs 40 ms of CPU for h5py, more for zarr: at 3,000 samples, more than the writer's whole
    per-sample cost)."""
    importlib.import_module("h5py" if backend_of(path) == "hdf5" else "zarr")


def writes_in_place(path: str | Path, compression: str | None) -> bool:
    """Whether a StoreWriter without `defer_to` writes `poses` at their chunks' offsets
    (uncompressed HDF5, H5InPlace). Elsewhere its second pass reads, rescales and rewrites
    every chunk through the library (for Zarr: decoding and encoding it again), and a
    single-process prepare defers the poses to hand-off files instead."""
    name = compression or DEFAULT_COMPRESSION["hdf5"]
    return backend_of(path) == "hdf5" and name in H5_COMPRESSION and not h5_options(name) and can_write_in_place()


def h5_options(compression: str | None) -> dict:
    """create_dataset's filter options for an HDF5 compression name (None: the default);
    empty for an uncompressed store."""
    return H5_COMPRESSION[compression or DEFAULT_COMPRESSION["hdf5"]]


def compression_names() -> list[str]:
    return sorted(set(H5_COMPRESSION) | set(ZARR_COMPRESSION))


def _zarr_compressors(name: str):
    from zarr.codecs import BloscCodec, ZstdCodec
    return {"none": None, "zstd": ZstdCodec(level=1),
            "blosc-lz4": BloscCodec(cname="lz4", clevel=5, shuffle="shuffle")}[name]


class _H5:
    def __init__(self, path: Path, mode: str):
        import h5py
        self.h5py = h5py
        if mode != "r":
            self.f = h5py.File(path, mode)
            return
        with h5py.File(path, "r") as probe:
            compressed = "poses" in probe and probe["poses"].compression is not None
        # Uncompressed rows are read in place, and a chunk cache would only make HDF5 load
        # whole 64-sample chunks for them (13x slower on a 24k-sample store). Compressed chunks
        # must be decoded whole; a large cache saves decoding them again for the next batch.
        self.f = h5py.File(path, "r", rdcc_nbytes=256 * 1024 ** 2 if compressed else 0)

    def create(self, key: str, shape: tuple, dtype: Any, chunks: tuple, compression: str | None) -> None:
        if dtype is str:
            dtype = self.h5py.string_dtype()
        opts = h5_options(compression)
        self.f.create_dataset(key, shape=shape, maxshape=(None,) + tuple(shape[1:]), dtype=dtype, chunks=chunks, **opts)

    def create_with(self, key: str, data: np.ndarray, dtype: Any, chunks: tuple, compression: str | None) -> None:
        """An array made with its data in one call (create, resize and write were three)."""
        self.f.create_dataset(key, data=data, maxshape=(None,) + tuple(data.shape[1:]), chunks=chunks,
                              dtype=self.h5py.string_dtype() if dtype is str else dtype, **h5_options(compression))

    def create_for_direct_writes(self, key: str, shape: tuple, chunks: tuple, compression: str | None
                                 ) -> H5Chunks | H5EncodedChunks | None:
        """A float32 array of final shape whose chunks are made elsewhere (skeltools/
        chunk_targets.py): uncompressed, every chunk allocated now, no fill, and written in
        place by other processes; compressed, encoded by them and stored here as they come
        (`write_encoded`). None without pwrite: this process writes every chunk."""
        opts = h5_options(compression)
        if opts:
            self.create(key, shape, np.float32, chunks, compression)
            return H5EncodedChunks(chunks[0], dict(opts))
        ds = self._create_early(key, shape, chunks, compression)
        if ds is None:
            return None
        rest = (0,) * (len(shape) - 1)
        offsets = tuple(ds.id.get_chunk_info_by_coord((lo,) + rest).byte_offset
                        for lo in range(0, shape[0], chunks[0]))
        self.f.flush()            # the allocation is on disk before anyone writes into it
        return H5Chunks(self.f.filename, offsets, chunks[0], int(np.prod(chunks)) * 4)

    def write_encoded(self, key: str, k: int, chunk: EncodedChunk) -> None:
        """Store chunk k of `key` as HDF5's filters made it (H5EncodedChunks)."""
        ds = self.f[key]
        ds.id.write_direct_chunk((k * ds.chunks[0],) + (0,) * (ds.ndim - 1), chunk.data, chunk.filter_mask)

    def create_in_place(self, key: str, shape: tuple, chunks: tuple, compression: str | None) -> H5InPlace | None:
        """A float32 array to append to and rescale chunk by chunk at its offsets in the file
        (H5InPlace); None when compressed (made the usual way: h5py writes it)."""
        ds = self._create_early(key, shape, chunks, compression)
        return None if ds is None else H5InPlace(ds)

    def _create_early(self, key: str, shape: tuple, chunks: tuple, compression: str | None):
        """Uncompressed: the dataset with every chunk allocated when its extent is (no fill),
        for writes at known offsets. Compressed, or without pwrite: made plainly, None."""
        if h5_options(compression) or not can_write_in_place():
            self.create(key, shape, np.float32, chunks, compression)
            return None
        dcpl = self.h5py.h5p.create(self.h5py.h5p.DATASET_CREATE)
        dcpl.set_alloc_time(self.h5py.h5d.ALLOC_TIME_EARLY)
        return self.f.create_dataset(key, shape=shape, maxshape=(None,) + tuple(shape[1:]), dtype=np.float32,
                                     chunks=chunks, dcpl=dcpl, fill_time="never")

    def finish(self) -> None:
        """Dimension scales for the named dimensions (root datasets sample, body, frame, ...),
        attached to every array that has them: netCDF readers (h5netcdf, xarray) name them."""
        sizes: dict[str, int] = {}
        arrays = [(k, dims_of(k)) for k in list(DIMS) + [f"meta/{m}" for m in self.f.get("meta", {})] if k in self.f]
        for key, names in arrays:
            sizes.update(zip(names, self.f[key].shape))
        for name, size in sizes.items():
            if name not in self.f:
                self.f.create_dataset(name, data=np.arange(size, dtype=np.int64))
                self.f[name].make_scale(name)
        for key, names in arrays:
            for i, name in enumerate(names):
                self.f[key].dims[i].attach_scale(self.f[name])

    def append(self, key: str, data: np.ndarray) -> None:
        ds = self.f[key]
        n = ds.shape[0]
        ds.resize(n + len(data), axis=0)
        ds[n:] = data

    def attrs(self) -> dict:
        out = {k: _plain(v) for k, v in self.f.attrs.items()}
        for k in JSON_ATTRS & set(out):   # HDF5 attributes hold no mappings: they are kept as JSON text
            with suppress(ValueError, TypeError):
                out[k] = json.loads(out[k])
        return out

    def set_attrs(self, attrs: dict) -> None:
        for k, v in attrs.items():
            self.f.attrs[k] = json.dumps(v) if isinstance(v, dict) else v

    def has(self, key: str) -> bool:
        return key in self.f

    def node(self, key: str):
        return self.f[key]

    def read(self, key: str, sel: Any = ()) -> np.ndarray:
        ds = self.f[key]
        if self.h5py.check_string_dtype(ds.dtype) is not None:
            return np.asarray(ds.asstr()[sel], dtype=object)
        return ds[sel]

    def write(self, key: str, sel: Any, data: np.ndarray) -> None:
        self.f[key][sel] = data

    def rows(self, key: str, idx: np.ndarray) -> np.ndarray:
        """Uncompressed: each run of consecutive rows read in place. Compressed: chunk by chunk,
        each chunk decoded once. (h5py's list selection is a point selection, 4x slower.)"""
        ds = self.f[key]
        out = np.empty((len(idx),) + ds.shape[1:], ds.dtype)
        if ds.compression is None:
            starts = np.flatnonzero(np.diff(idx, prepend=-2) != 1)
            for a, b in zip(starts, np.append(starts[1:], len(idx))):
                ds.read_direct(out, np.s_[int(idx[a]):int(idx[a]) + int(b - a)], np.s_[int(a):int(b)])
            return out
        step = ds.chunks[0] if ds.chunks else max(1, len(idx))
        block = idx // step
        for b in np.unique(block):
            sel = block == b
            lo = int(b) * step
            out[sel] = ds[lo:min(lo + step, ds.shape[0])][idx[sel] - lo]
        return out

    def keys(self, key: str) -> list[str]:
        return sorted(self.f[key].keys()) if key in self.f else []

    def close(self) -> None:
        self.f.close()


class _Zarr:
    def __init__(self, path: Path, mode: str):
        import zarr
        self.path = path
        self.g = zarr.open_group(str(path), mode=mode, zarr_format=3) if mode == "w" else zarr.open_group(str(path), mode=mode)

    def create(self, key: str, shape: tuple, dtype: Any, chunks: tuple, compression: str | None) -> None:
        compressors = _zarr_compressors(compression or DEFAULT_COMPRESSION["zarr"])
        self.g.create_array(key, shape=shape, dtype=dtype, chunks=chunks, compressors=compressors,
                            dimension_names=dims_of(key))

    def create_with(self, key: str, data: np.ndarray, dtype: Any, chunks: tuple, compression: str | None) -> None:
        self.create(key, (0,) + tuple(data.shape[1:]), dtype, chunks, compression)
        if len(data):
            self.append(key, data)

    def create_for_direct_writes(self, key: str, shape: tuple, chunks: tuple, compression: str | None
                                 ) -> ZarrChunks:
        """A float32 array of final shape whose chunks other processes write with zarr."""
        self.create(key, shape, np.float32, chunks, compression)
        return ZarrChunks(str(self.path), key, chunks[0])

    def finish(self) -> None:
        """Consolidated metadata: one read gives the whole tree (xarray opens it without a warning)."""
        import warnings

        import zarr
        with warnings.catch_warnings():   # "not part of the v3 spec yet": xarray and zarr-python read it
            warnings.simplefilter("ignore")
            zarr.consolidate_metadata(self.g.store)

    def append(self, key: str, data: np.ndarray) -> None:
        self.g[key].append(data, axis=0)

    def attrs(self) -> dict:
        return dict(self.g.attrs)

    def set_attrs(self, attrs: dict) -> None:
        self.g.attrs.update({k: _plain(v) for k, v in attrs.items()})

    def has(self, key: str) -> bool:
        return key in self.g

    def node(self, key: str):
        return self.g[key]

    def read(self, key: str, sel: Any = ()) -> np.ndarray:
        out = self.g[key][sel if sel != () else ...]
        return np.asarray(out, dtype=object) if out.dtype.kind == "T" else out

    def write(self, key: str, sel: Any, data: np.ndarray) -> None:
        self.g[key][sel] = data

    def rows(self, key: str, idx: np.ndarray) -> np.ndarray:
        return self.g[key].oindex[idx]

    def keys(self, key: str) -> list[str]:
        return sorted(self.g[key].group_keys()) if key in self.g else []

    def close(self) -> None:
        pass


def _plain(v: Any) -> Any:
    """Attribute values as plain Python (h5py gives numpy scalars and arrays)."""
    if isinstance(v, np.ndarray):
        return [_plain(x) for x in v.tolist()]
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, bytes):
        return v.decode()
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    return v


def _open_backend(path: Path, mode: str):
    return _H5(path, mode) if backend_of(path) == "hdf5" else _Zarr(path, mode)


class Store:
    """Read access to a store through one code path for both backends."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        if not self.path.exists():
            raise StoreError(f"{path}: no such store")
        try:
            self._b = _open_backend(self.path, "r")
            self.attrs = self._b.attrs()
        except StoreError:
            raise
        except Exception as e:  # h5py/zarr raise many types for corrupt input
            raise StoreError(f"{path}: cannot be opened as a store ({type(e).__name__}: {e})") from None
        if self.attrs.get("format") != FORMAT_NAME:
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
        """The backend's array object (h5py Dataset or zarr Array), for lazy slicing."""
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
        node = self.node(key)
        if hasattr(node, "nchunks_initialized"):
            return int(node.nchunks_initialized), int(node.nchunks)
        n = node.shape[0]
        need = -(-n // node.chunks[0]) if node.chunks else 1
        return (int(node.id.get_num_chunks()) if node.chunks else 1), need

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


META_DTYPES = {"name": str, "label": np.int16, "view": np.int8, "scene": np.int32, "subject": np.int16,
               "setup": np.int16, "replication": np.int16, "frames": np.int32, "bodies": np.int8,
               "scale": np.float32}   # meta/scale: the divisor applied to the sample (newer stores)


def meta_row(meta: dict) -> tuple:
    """A sample's meta fields as one tuple in META_DTYPES order (scale 0 when absent: the
    dataset's), the compact form that workers hand to the writer (a tuple pickles and
    unpickles ~3x faster than the dict)."""
    return tuple(meta[k] for k in META_DTYPES if k != "scale") + (meta.get("scale", 0.0),)


class StoreWriter:
    """Appends samples to a temporary store and renames it into place on `commit`.

    Poses are written unscaled; `commit` divides every coordinate by the dataset-wide
    scale in a chunked second pass, so memory stays bounded by one chunk (uncompressed HDF5:
    both passes at the chunks' offsets in the file, skeltools/chunk_targets.py). With `defer_to`
    (a folder: prepare's hand-off folder), poses are not written during the run at all: each
    sample's poses stay in a hand-off file (a ShardRun; arrays given directly are spilled
    to a file there) and `commit` writes every chunk once, already scaled. The stored values
    are the same either way.
    """

    def __init__(self, path: str | Path, *, bodies: int, frames: int, joints: int, keep_full: bool = False,
                 chunk_samples: int = 64, compression: str | None = None, defer_to: Path | None = None):
        self.path = Path(path)
        self.defer_to = defer_to
        self._refs: list[ShardRun] = []   # with defer_to: every sample's poses in hand-off files, in order
        self._full_reader = ShardReader(remove=False)   # full arrays in hand-off files (removed at commit)
        self.kind = backend_of(self.path)
        self.tmp = self.partial_path(self.path)
        self._remove(self.tmp)
        allowed = H5_COMPRESSION if self.kind == "hdf5" else ZARR_COMPRESSION
        if compression is not None and compression not in allowed:
            raise StoreError(f"compression {compression!r} is not available for {self.kind}; "
                             f"choose from {', '.join(allowed)}")
        self.chunk = chunk_samples
        self.keep_full = keep_full
        self.compression = compression
        self.sample_shape = (bodies, frames, joints, 3)
        self._b = _open_backend(self.tmp, "w")
        self._buf: list[np.ndarray] = []
        self._full_buf: list[np.ndarray] = []
        self._full_len = 0
        self.n = 0
        self._in_place: H5InPlace | None = None
        if defer_to is None:      # deferred: made at commit, at its final shape (_write_deferred)
            shape, chunks = (0, *self.sample_shape), (chunk_samples, *self.sample_shape)
            if hasattr(self._b, "create_in_place"):
                self._in_place = self._b.create_in_place("poses", shape, chunks, compression)
            else:
                self._b.create("poses", shape, np.float32, chunks, compression)
        if keep_full:
            self._b.create("full/poses", (0, bodies, joints, 3), np.float32, (4096, bodies, joints, 3), compression)
            self._offsets = [0]
        self.meta: dict[str, list] = {k: [] for k in META_DTYPES}
        self._columns = [self.meta[k] for k in META_DTYPES]

    @staticmethod
    def partial_path(path: Path) -> Path:
        """Where this process writes `path` before renaming it into place."""
        return path.with_name(f".{path.stem}.partial-{os.getpid()}{path.suffix}")

    @staticmethod
    def _remove(p: Path) -> None:
        if p.is_dir():
            shutil.rmtree(p)
        elif p.exists():
            p.unlink()

    def append(self, poses, meta: dict | tuple, full=None) -> None:
        """Add one sample: poses (M, T, J, 3) (or, with defer_to, a ShardRun of them), its
        meta fields (a dict, or its `meta_row`) and, with keep_full, (M, L, J, 3) or a ShardRun."""
        if self.defer_to is None:
            self._buf.append(poses)
        else:
            if isinstance(poses, np.ndarray):
                self._ensure_space(poses.nbytes)
                poses = spill(poses, self.defer_to)
            self._refs.append(poses)
        for column, value in zip(self._columns, meta if isinstance(meta, tuple) else meta_row(meta)):
            column.append(value)
        if self.keep_full:
            if isinstance(full, ShardRun):
                full = self._full_reader.read(full)[0]
            frames_first = np.moveaxis(full, 1, 0)
            self._full_buf.append(frames_first)
            self._full_len += len(frames_first)
            self._offsets.append(self._offsets[-1] + len(frames_first))
        self.n += 1
        if self.n % self.chunk == 0:
            self._flush()

    def extend(self, poses: list, columns: tuple[tuple, ...], full: list | None = None) -> None:
        """Add several samples: poses as `append` takes them (ShardRuns: a run may hold many),
        the meta as columns (a tuple per META_DTYPES field, answers.Answer.meta), full as
        `append` takes it, one each. Deferred poses in hand-off files are filed with a few list
        extends; anything else sample by sample."""
        if self.defer_to is None or self.keep_full or not all(isinstance(p, ShardRun) for p in poses):
            for i in range(len(columns[0])):
                self.append(*sample_at(poses, columns, full, i))
            return
        self._refs.extend(poses)
        for column, values in zip(self._columns, columns, strict=True):
            column.extend(values)
        self.n += len(columns[0])

    def _ensure_space(self, nbytes: int) -> None:
        """Refuse a write that would fill the file system: HDF5 crashes (a segfault) when a
        write fails for lack of space, so the partial store is removed before that happens."""
        st = os.statvfs(self.tmp.parent)
        if st.f_bavail * st.f_frsize < nbytes + SPACE_MARGIN:
            self.abort()
            raise DiskFull(f"no space left on {self.tmp.parent.resolve()} (nothing written; the partial store "
                           "was removed)")

    def _flush(self) -> None:
        self._ensure_space(sum(b.nbytes for b in self._buf) + sum(b.nbytes for b in self._full_buf))
        if self._buf:
            if self._in_place is not None:
                self._in_place.append(self._buf)
            else:
                self._b.append("poses", np.stack(self._buf))
            self._buf = []
        if self._full_buf:
            self._b.append("full/poses", np.concatenate(self._full_buf))
            self._full_buf = []

    def _write_deferred(self, scale: float, interrupted: Callable[[], None], blocks: Callable | None = None
                        ) -> np.ndarray:
        """With defer_to: write every chunk of poses once, read from the hand-off files and
        divided by `scale` (the same float32 division as `_rescale`); returns their crc32s.
        `poses` is made now at its final shape; where the backend allows, the chunks are
        written in place by whoever makes them (skeltools/chunk_targets.py). `blocks(chunks,
        scale, target)`, if given, makes them elsewhere (prepare's workers) and yields (k,
        block or None, crc32) in order; else they are made here."""
        chunks = chunks_of(self._refs, self.chunk)
        self._ensure_space(self.n * int(np.prod(self.sample_shape)) * 4)
        target = self._b.create_for_direct_writes("poses", (self.n, *self.sample_shape),
                                                  (self.chunk, *self.sample_shape), self.compression)
        digests = []
        for k, made, digest in (blocks or scaled_blocks_here)(chunks, scale, target):
            interrupted()
            if isinstance(made, EncodedChunk):     # compressed HDF5: stored as encoded
                self._ensure_space(len(made.data))
                self._b.write_encoded("poses", k, made)
            elif made is not None:                 # no target: written here
                self._ensure_space(made.nbytes)
                self._b.write("poses", slice(k * self.chunk, k * self.chunk + len(made)), made)
            digests.append(digest)
        return np.asarray(digests, np.uint32)

    def _rescale(self, scale: float, interrupted: Callable[[], None], blocks: Callable | None = None) -> np.ndarray:
        """Divide the coordinates by `scale` in place; returns the crc32 of each scaled chunk of
        poses (with defer_to, poses are written scaled by `_write_deferred` instead)."""
        if self.defer_to is not None:
            digests = list(self._write_deferred(scale, interrupted, blocks))
        elif self._in_place is not None:
            digests = self._in_place.rescale(scale, interrupted, chunk_checksum)
        else:
            digests = []
        done_here = self.defer_to is not None or self._in_place is not None
        keys = (("full/poses", 4096),) if done_here else (("poses", self.chunk), ("full/poses", 4096))
        for key, step in keys:
            if not self._b.has(key):
                continue
            n = self._b.node(key).shape[0]
            for lo in range(0, n, step):
                interrupted()
                sel = slice(lo, min(n, lo + step))
                block = np.asarray(self._b.read(key, sel), np.float32)
                block /= np.float32(scale)      # in place: the same float32 division, one copy fewer
                self._b.write(key, sel, block)
                if key == "poses":
                    digests.append(chunk_checksum(block))
        return np.asarray(digests, np.uint32)

    def commit(self, *, attrs: dict, views: np.ndarray, splits: dict, skipped: list[tuple[str, object]],
               scale: float, interrupted: Callable[[], None] = lambda: None, blocks: Callable | None = None) -> Path:
        """Write the index arrays and attributes, rescale, and rename into place.
        `interrupted` is called between chunks (it raises to stop)."""
        self._flush()
        self._ensure_space(64 * (self.n + len(skipped)) * (len(META_DTYPES) + 2))
        self.meta["scale"] = [v or float(scale) for v in self.meta["scale"]]
        small: dict[str, np.ndarray] = {}   # the small arrays as written: their digests go in the attributes

        def whole(key: str, data: np.ndarray, dtype: Any = None, compression: str | None = None) -> None:
            small[key] = data
            self._write_whole(key, data, dtype, compression)

        # meta columns are made now, chunked to their length: HDF5 allocates and fills a buffer
        # the size of a chunk, and a 65536-row chunk was ~960 page faults a commit
        for k, dt in META_DTYPES.items():
            whole(f"meta/{k}", np.asarray(self.meta[k], dtype=object if dt is str else dt), dt, self.compression)
        whole("views", np.asarray(views, np.int32).reshape(-1, int(attrs["n_views"])))
        for proto, (train, test) in splits.items():
            whole(f"splits/{proto}/train", np.asarray(train, np.int32))
            whole(f"splits/{proto}/test", np.asarray(test, np.int32))
        whole("skipped/name", np.asarray([s[0] for s in skipped], dtype=object), str)
        whole("skipped/reason", np.asarray([str(s[1]) for s in skipped], dtype=object), str)
        whole("skipped/code", np.asarray([getattr(s[1], "code", str(s[1])) for s in skipped], dtype=object), str)
        if self.keep_full:
            self._write_whole("full/offsets", np.asarray(self._offsets, np.int64))
        self._write_whole(CHECKSUM_KEY, self._rescale(scale, interrupted, blocks))
        # digests of what was meant to be written, not re-read: `skel check` compares them with what a reader sees
        digests = {k: array_checksum(v) for k, v in small.items()}
        self._b.set_attrs({**attrs, "scale": float(scale), "format": FORMAT_NAME, "version": FORMAT_VERSION,
                           "checksum_chunk_samples": self.chunk, "array_checksums": digests})
        self._describe_poses(attrs)
        self._b.finish()
        self._close_in_place()
        self._b.close()
        self._swap_in()
        return self.path

    def _describe_poses(self, attrs: dict) -> None:
        """Joint names, axis names and units on `poses` itself, for readers that only see the array."""
        from .manifests import load_layout
        try:
            joints = list(load_layout(attrs["layout"]).joints)
        except (KeyError, FileNotFoundError, ValueError):
            joints = []
        aligned = bool(attrs.get("aligned"))
        axes = ["spine (r0)", "hips (r1)", "r0 x r1"] if aligned else ["x (camera)", "y (camera)", "z (camera depth)"]
        node = self._b.node("poses")
        node.attrs["joint_names"] = joints
        node.attrs["axis_names"] = axes
        node.attrs["units"] = "metres divided by the store's scale (meta/scale per sample)"

    def _write_whole(self, key: str, data: np.ndarray, dtype: Any = None, compression: str | None = None) -> None:
        shape = data.shape
        chunks = (max(1, min(65536, shape[0] or 1)),) + tuple(shape[1:])
        self._b.create_with(key, data, dtype or data.dtype, chunks, compression)

    def _swap_in(self) -> None:
        old = None
        if self.path.exists():
            old = self.path.with_name(f".{self.path.stem}.old-{os.getpid()}{self.path.suffix}")
            os.replace(self.path, old)
        os.replace(self.tmp, self.path)
        if old is not None:
            self._remove(old)

    def _close_in_place(self) -> None:
        """Close what the writer holds open besides the store: the in-place file handle, and
        the hand-off file of full arrays read last."""
        if self._in_place is not None:
            self._in_place.close()
        self._full_reader.close()

    def abort(self) -> None:
        """Drop the temporary store; the final path is left as it was."""
        self._close_in_place()
        with suppress(Exception):
            self._b.close()
        self._remove(self.tmp)

    def __enter__(self) -> StoreWriter:
        return self

    def __exit__(self, exc_type, *exc) -> None:
        if exc_type is not None or self.tmp.exists():
            self.abort()
