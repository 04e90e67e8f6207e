"""The two backends behind one interface: HDF5 (h5py) and Zarr v3 (zarr).

Both are imported on first use, so that commands needing neither start fast. Reading and
writing go through the same small set of methods, so the reader and the writer never ask
which backend they hold. `create_final` makes an array at its final shape whose chunks are
written once each, by whichever process makes them (store/chunks.py)."""
from __future__ import annotations

import importlib
import json
from contextlib import suppress
from pathlib import Path
from typing import Any

import numpy as np

from .chunks import ChunkTarget, EncodedChunk, H5Chunks, H5EncodedChunks, ZarrChunks, can_write_in_place
from ..h5safe import outside_references
from .schema import DEFAULT_COMPRESSION, DIMS, JSON_ATTRS, StoreError, backend_of, dims_of, h5_options


def load_backend(path: str | Path) -> None:
    """Import the store's library (h5py or zarr) now, before a run starts timing its writer."""
    importlib.import_module("h5py" if backend_of(path) == "hdf5" else "zarr")


def plain(v: Any) -> Any:
    """Attribute values as plain Python (h5py gives numpy scalars and arrays)."""
    if isinstance(v, np.ndarray):
        return [plain(x) for x in v.tolist()]
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, bytes):
        return v.decode()
    if isinstance(v, (list, tuple)):
        return [plain(x) for x in v]
    return v


class H5Backend:
    def __init__(self, path: Path, mode: str):
        import h5py
        self.h5py = h5py
        if mode != "r":
            self.f = h5py.File(path, mode)
            return
        with h5py.File(path, "r") as probe:
            outside = outside_references(probe)
            if outside:
                raise StoreError(f"{path}: refused: it points outside itself ({'; '.join(outside[:3])}); a store "
                                 "holds no external storage, external links or virtual datasets")
            compressed = "poses" in probe and probe["poses"].compression is not None
        # Uncompressed rows are read in place (a chunk cache would only load whole chunks for
        # them); compressed chunks are decoded whole, and a large cache keeps them for the next batch.
        self.f = h5py.File(path, "r", rdcc_nbytes=256 * 1024 ** 2 if compressed else 0)

    # --- writing
    def create(self, key: str, shape: tuple, dtype: Any, chunks: tuple, compression: str | None) -> None:
        if dtype is str:
            dtype = self.h5py.string_dtype()
        self.f.create_dataset(key, shape=shape, maxshape=(None,) + tuple(shape[1:]), dtype=dtype, chunks=chunks,
                              **h5_options(compression))

    def create_with(self, key: str, data: np.ndarray, dtype: Any, chunks: tuple, compression: str | None) -> None:
        """An array made with its data in one call."""
        self.f.create_dataset(key, data=data, maxshape=(None,) + tuple(data.shape[1:]), chunks=chunks,
                              dtype=self.h5py.string_dtype() if dtype is str else dtype, **h5_options(compression))

    def create_final(self, key: str, shape: tuple, chunks: tuple, compression: str | None) -> ChunkTarget | None:
        """A float32 array of final shape for chunks made elsewhere: uncompressed, every chunk
        allocated now (no fill) and written at its offset by whoever makes it; compressed,
        encoded by whoever makes it and stored here (`store_chunk`). None where pwrite is
        missing: the writing process writes every chunk."""
        opts = h5_options(compression)
        if opts or not can_write_in_place():
            self.create(key, shape, np.float32, chunks, compression)
            return H5EncodedChunks(chunks[0], dict(opts)) if opts else None
        dcpl = self.h5py.h5p.create(self.h5py.h5p.DATASET_CREATE)
        dcpl.set_alloc_time(self.h5py.h5d.ALLOC_TIME_EARLY)
        ds = self.f.create_dataset(key, shape=shape, maxshape=(None,) + tuple(shape[1:]), dtype=np.float32,
                                   chunks=chunks, dcpl=dcpl, fill_time="never")
        rest = (0,) * (len(shape) - 1)
        offsets = tuple(ds.id.get_chunk_info_by_coord((lo,) + rest).byte_offset
                        for lo in range(0, shape[0], chunks[0]))
        self.f.flush()            # the allocation is on disk before anyone writes into it
        return H5Chunks(self.f.filename, offsets, chunks[0], int(np.prod(chunks)) * 4)

    def store_chunk(self, key: str, k: int, payload: EncodedChunk | np.ndarray) -> None:
        """Chunk k of `key` as its maker left it: encoded by HDF5's filters, or a block to write."""
        ds = self.f[key]
        if isinstance(payload, EncodedChunk):
            ds.id.write_direct_chunk((k * ds.chunks[0],) + (0,) * (ds.ndim - 1), payload.data, payload.filter_mask)
        else:
            ds[k * ds.chunks[0]:k * ds.chunks[0] + len(payload)] = payload

    def set_attrs(self, attrs: dict, key: str | None = None) -> None:
        node = self.f if key is None else self.f[key]
        for k, v in attrs.items():
            node.attrs[k] = json.dumps(v) if isinstance(v, dict) else v

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

    # --- reading
    def attrs(self) -> dict:
        out = {k: plain(v) for k, v in self.f.attrs.items()}
        for k in JSON_ATTRS & set(out):   # HDF5 attributes hold no mappings: they are kept as JSON text
            with suppress(ValueError, TypeError):
                out[k] = json.loads(out[k])
        return out

    def has(self, key: str) -> bool:
        return key in self.f

    def node(self, key: str):
        return self.f[key]

    def read(self, key: str, sel: Any = ()) -> np.ndarray:
        ds = self.f[key]
        if self.h5py.check_string_dtype(ds.dtype) is not None:
            return np.asarray(ds.asstr()[sel], dtype=object)
        return ds[sel]

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

    def chunks_written(self, key: str) -> tuple[int, int]:
        """(chunks stored, chunks the shape needs)."""
        node = self.f[key]
        if not node.chunks:
            return 1, 1
        return int(node.id.get_num_chunks()), -(-node.shape[0] // node.chunks[0])

    def close(self) -> None:
        self.f.close()


class ZarrBackend:
    def __init__(self, path: Path, mode: str):
        import zarr
        self.path = path
        self.g = zarr.open_group(str(path), mode=mode, zarr_format=3) if mode == "w" else \
            zarr.open_group(str(path), mode=mode)

    # --- writing
    def create(self, key: str, shape: tuple, dtype: Any, chunks: tuple, compression: str | None) -> None:
        compressors = _zarr_compressors(compression or DEFAULT_COMPRESSION["zarr"])
        self.g.create_array(key, shape=shape, dtype=dtype, chunks=chunks, compressors=compressors,
                            dimension_names=dims_of(key))

    def create_with(self, key: str, data: np.ndarray, dtype: Any, chunks: tuple, compression: str | None) -> None:
        self.create(key, (0,) + tuple(data.shape[1:]), dtype, chunks, compression)
        if len(data):
            self.g[key].append(data, axis=0)

    def create_final(self, key: str, shape: tuple, chunks: tuple, compression: str | None) -> ZarrChunks:
        """A float32 array of final shape whose chunks any process writes with zarr."""
        self.create(key, shape, np.float32, chunks, compression)
        return ZarrChunks(str(self.path), key, chunks[0])

    def store_chunk(self, key: str, k: int, payload: np.ndarray) -> None:
        rows = self.g[key].chunks[0]
        self.g[key][k * rows:k * rows + len(payload)] = payload

    def set_attrs(self, attrs: dict, key: str | None = None) -> None:
        node = self.g if key is None else self.g[key]
        node.attrs.update({k: plain(v) for k, v in attrs.items()})

    def finish(self) -> None:
        """Consolidated metadata: one read gives the whole tree (xarray opens it without a warning)."""
        import warnings

        import zarr
        with warnings.catch_warnings():   # "not part of the v3 spec yet": xarray and zarr-python read it
            warnings.simplefilter("ignore")
            zarr.consolidate_metadata(self.g.store)

    # --- reading
    def attrs(self) -> dict:
        return dict(self.g.attrs)

    def has(self, key: str) -> bool:
        return key in self.g

    def node(self, key: str):
        return self.g[key]

    def read(self, key: str, sel: Any = ()) -> np.ndarray:
        out = self.g[key][sel if sel != () else ...]
        return np.asarray(out, dtype=object) if out.dtype.kind == "T" else out

    def rows(self, key: str, idx: np.ndarray) -> np.ndarray:
        return self.g[key].oindex[idx]

    def keys(self, key: str) -> list[str]:
        return sorted(self.g[key].group_keys()) if key in self.g else []

    def chunks_written(self, key: str) -> tuple[int, int]:
        node = self.g[key]
        return int(node.nchunks_initialized), int(node.nchunks)

    def close(self) -> None:
        pass


def _zarr_compressors(name: str):
    from zarr.codecs import BloscCodec, ZstdCodec
    return {"none": None, "zstd": ZstdCodec(level=1),
            "blosc-lz4": BloscCodec(cname="lz4", clevel=5, shuffle="shuffle")}[name]


def open_backend(path: Path, mode: str) -> H5Backend | ZarrBackend:
    return H5Backend(path, mode) if backend_of(path) == "hdf5" else ZarrBackend(path, mode)
