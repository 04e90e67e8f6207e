"""Writing a store: every sample's meta in order, then each chunk of the large arrays written
once, already scaled, then the attributes; all under a hidden name, renamed at the end.

The writer never holds pose data. `add` takes a sample's meta and opaque *row sources* for
its poses (one row) and, with keep_full, its full-length sequence (one row a frame). Once
every sample is known, `write_index` writes the small arrays, `chunk_jobs(scale)` lists the
chunks to make (store/chunks.py), whoever makes them hands each result to `store_chunk`, and
`finish` writes the checksums and attributes and renames the store into place. One strategy
for every backend and option: the chunks are made where the sources can be read.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from .backends import open_backend
from .chunks import ChunkDone, ChunkJob, RowFiller, array_checksum, fill_from_arrays, make_chunk
from .files import ensure_space, mark, partial_path, remove_work, swap_in
from .schema import (CHECKSUM_KEY, CHUNK_SAMPLES, FORMAT_NAME, FORMAT_VERSION, FULL_CHUNK_FRAMES, META_DTYPES,
                     StoreError, backend_of, check_compression)


FRAMES = list(META_DTYPES).index("frames")


class StoreWriter:
    """A store being written at `partial_path(path)`; see the module docstring for the order
    of calls. Used as a context manager, it removes the partial store on any error."""

    def __init__(self, path: str | Path, *, bodies: int, frames: int, joints: int, keep_full: bool = False,
                 compression: str | None = None):
        self.path = Path(path)
        self.kind = backend_of(self.path)
        check_compression(self.kind, compression)
        self.tmp = partial_path(self.path)
        remove_work(self.tmp)
        self.compression = compression
        self.keep_full = keep_full
        self.sample_shape = (bodies, frames, joints, 3)
        self._rows: list[tuple] = []           # each sample's meta fields, in META_DTYPES order
        self._scene: np.ndarray | None = None
        self._poses: list[Any] = []          # a row source per sample
        self._full: list[Any] = []           # with keep_full: a source of the sample's frames
        self._digests: dict[int, int] = {}   # chunk index of poses -> crc32
        self._small: dict[str, np.ndarray] = {}   # the small arrays as written: their digests go in the attributes
        mark(self.tmp)
        self._b = open_backend(self.tmp, "w")

    @property
    def n(self) -> int:
        return len(self._poses)

    def add(self, meta: tuple, poses: Any, full: Any = None) -> None:
        """One sample: its meta fields in META_DTYPES order (scene 0 until `set_scenes`, scale
        0 for the dataset's), a source of its poses (one row) and, with keep_full, of its
        full-length sequence (`frames` rows, frames first)."""
        if len(meta) != len(META_DTYPES):
            raise ValueError(f"a sample's meta has {len(meta)} fields, the store {len(META_DTYPES)}")
        self._rows.append(meta)
        self._poses.append(poses)
        if self.keep_full:
            self._full.append(full)

    def columns(self) -> dict[str, list]:
        """The meta fields of the samples added so far, a list per column."""
        values = list(zip(*self._rows)) if self._rows else [()] * len(META_DTYPES)
        return {k: list(v) for k, v in zip(META_DTYPES, values)}

    def set_scenes(self, scene: np.ndarray) -> None:
        """meta/scene, once every sample is known (scenes are numbered in order of first appearance)."""
        self._scene = np.asarray(scene)

    def write_index(self, *, views: np.ndarray, splits: dict, skipped: list[tuple[str, object]], scale: float,
                    n_views: int) -> None:
        """The small arrays: meta (scenes as given to `set_scenes`, each sample's scale), views,
        splits, skipped, and with keep_full the offsets of each sample's frames."""
        ensure_space(self.tmp.parent, 64 * (self.n + len(skipped)) * (len(META_DTYPES) + 2))
        meta = self.columns()
        meta["scale"] = [v or float(scale) for v in meta["scale"]]
        if self._scene is not None:
            meta["scene"] = self._scene
        for k, dt in META_DTYPES.items():
            self._whole(f"meta/{k}", np.asarray(meta[k], dtype=object if dt is str else dt), dt, self.compression)
        self._whole("views", np.asarray(views, np.int32).reshape(-1, int(n_views)))
        for proto, (train, test) in splits.items():
            self._whole(f"splits/{proto}/train", np.asarray(train, np.int32))
            self._whole(f"splits/{proto}/test", np.asarray(test, np.int32))
        self._whole("skipped/name", np.asarray([s[0] for s in skipped], dtype=object), str)
        self._whole("skipped/reason", np.asarray([str(s[1]) for s in skipped], dtype=object), str)
        self._whole("skipped/code", np.asarray([getattr(s[1], "code", str(s[1])) for s in skipped], dtype=object), str)
        if self.keep_full:
            self._whole("full/offsets", np.concatenate([[0], np.cumsum(meta["frames"], dtype=np.int64)]),
                        digest=False)

    def chunk_jobs(self, scale: float) -> list[ChunkJob]:
        """Make `poses` (and `full/poses`) at their final shapes and list their chunks, in order."""
        M, T, J, _ = self.sample_shape
        frames = [row[FRAMES] for row in self._rows]
        full_frames = int(sum(frames)) if self.keep_full else 0
        ensure_space(self.tmp.parent, 4 * (self.n * M * T * J * 3 + full_frames * M * J * 3))
        target = self._b.create_final("poses", (self.n, *self.sample_shape), (CHUNK_SAMPLES, *self.sample_shape),
                                      self.compression)
        jobs = [ChunkJob("poses", k, tuple((src, 0, 1) for src in self._poses[lo:lo + CHUNK_SAMPLES]),
                         self.sample_shape, scale, target, True) for k, lo in enumerate(range(0, self.n, CHUNK_SAMPLES))]
        if self.keep_full:
            target = self._b.create_final("full/poses", (full_frames, M, J, 3), (FULL_CHUNK_FRAMES, M, J, 3),
                                          self.compression)
            jobs += [ChunkJob("full/poses", k, pieces, (M, J, 3), scale, target, False)
                     for k, pieces in enumerate(_frame_chunks(self._full, frames, FULL_CHUNK_FRAMES))]
        return jobs

    def store_chunk(self, done: ChunkDone) -> None:
        """A made chunk: its payload stored here if its maker could not write it, its digest kept."""
        if done.payload is not None:
            size = len(done.payload.data) if hasattr(done.payload, "data") else done.payload.nbytes
            ensure_space(self.tmp.parent, size)
            self._b.store_chunk(done.key, done.index, done.payload)
        if done.crc32 is not None:
            self._digests[done.index] = done.crc32

    def make_chunks_here(self, scale: float, fill: RowFiller = fill_from_arrays) -> None:
        """Every chunk made in this process (by default from sources that are arrays in memory)."""
        for job in self.chunk_jobs(scale):
            self.store_chunk(make_chunk(job, fill))

    def finish(self, attrs: dict, scale: float) -> Path:
        """Checksums, attributes and named dimensions; then the store is renamed into place."""
        chunks = -(-self.n // CHUNK_SAMPLES)
        if sorted(self._digests) != list(range(chunks)):
            raise StoreError(f"{self.path}: {chunks - len(self._digests)} chunks of poses were never made")
        self._whole(CHECKSUM_KEY, np.asarray([self._digests[k] for k in range(chunks)], np.uint32), digest=False)
        digests = {k: array_checksum(v) for k, v in self._small.items()}
        self._b.set_attrs({**attrs, "scale": float(scale), "format": FORMAT_NAME, "version": FORMAT_VERSION,
                           "checksum_chunk_samples": CHUNK_SAMPLES, "array_checksums": digests})
        self._describe_poses(attrs)
        self._b.finish()
        self._b.close()
        swap_in(self.tmp, self.path)
        remove_work(self.tmp)
        return self.path

    def _describe_poses(self, attrs: dict) -> None:
        """Joint names, axis names and units on `poses` itself, for readers that only see the array."""
        from ..manifests import store_layout
        try:
            joints = list(store_layout(attrs).joints)
        except (KeyError, FileNotFoundError, ValueError):
            joints = []
        aligned = bool(attrs.get("aligned"))
        axes = ["spine (r0)", "hips (r1)", "r0 x r1"] if aligned else ["x (camera)", "y (camera)", "z (camera depth)"]
        self._b.set_attrs({"joint_names": joints, "axis_names": axes,
                           "units": "metres divided by the store's scale (meta/scale per sample)"}, key="poses")

    def _whole(self, key: str, data: np.ndarray, dtype: Any = None, compression: str | None = None,
               digest: bool = True) -> None:
        """A small array written whole, chunked to its length (a larger chunk would cost HDF5
        a buffer of that size); its digest goes into `array_checksums` unless told otherwise."""
        if digest:
            self._small[key] = data
        chunks = (max(1, min(65536, data.shape[0] or 1)),) + tuple(data.shape[1:])
        self._b.create_with(key, data, dtype or data.dtype, chunks, compression)

    def abort(self) -> None:
        """Drop the partial store; the final path is left as it was."""
        try:
            self._b.close()
        except Exception:
            pass
        remove_work(self.tmp)

    def __enter__(self) -> StoreWriter:
        return self

    def __exit__(self, exc_type, *exc) -> None:
        if exc_type is not None or self.tmp.exists():
            self.abort()


def _frame_chunks(sources: list, frames: list[int], rows: int) -> list[tuple[tuple[Any, int, int], ...]]:
    """The samples' frames (`frames[i]` rows of `sources[i]`, one after another) cut into
    chunks of `rows` rows, as (source, lo, hi) pieces."""
    chunks: list[list] = [[]]
    room = rows
    for source, n in zip(sources, frames):
        lo = 0
        while lo < n:
            if room == 0:
                chunks.append([])
                room = rows
            take = min(room, n - lo)
            chunks[-1].append((source, lo, lo + take))
            lo += take
            room -= take
    return [tuple(c) for c in chunks if c]


def write_arrays(path: str | Path, poses: np.ndarray, meta: dict[str, np.ndarray], *, attrs: dict,
                 views: np.ndarray, splits: dict, scale: float = 1.0, skipped: list | None = None,
                 compression: str | None = None) -> Path:
    """A store from arrays in memory (N, M, T, J, 3) and meta columns (scene included), for
    benchmarks and tests: the same writer, its chunks made in this process."""
    N, M, T, J, _ = poses.shape
    with StoreWriter(path, bodies=M, frames=T, joints=J, compression=compression) as w:
        for i in range(N):
            w.add(tuple(meta[k][i] if k in meta else 0.0 for k in META_DTYPES), poses[i:i + 1])
        w.write_index(views=views, splits=splits, skipped=skipped or [], scale=scale, n_views=attrs["n_views"])
        w.make_chunks_here(scale)
        return w.finish(attrs, scale)
