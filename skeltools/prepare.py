"""`skel prepare`: raw files -> one aligned, resampled, scaled, view-indexed store.

Files are processed by a process pool in a fixed order and streamed to the writer, so
the store is identical whatever the worker count; a bad file becomes a skipped sample
with its reason and never stops the run.
"""
from __future__ import annotations

import importlib
import multiprocessing as mp
import os
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
from tqdm import tqdm

from . import __version__
from .formats.raw_sample import SampleError
from .kernels import abs_max
from .manifests import DatasetSpec, load_dataset
from .store import StoreWriter
from .transform import TransformParams, transform_sample

WINDOW = 1024  # files in flight at once: bounds memory whatever the corpus size


@dataclass(frozen=True)
class RawFile:
    path: Path
    name: str          # sample name (file name without extension)
    fields: dict


@dataclass
class PrepareSummary:
    out: Path
    written: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)
    ignored: int = 0
    seconds: float = 0.0
    bytes_read: int = 0

    @property
    def mb_per_s(self) -> float:
        return self.bytes_read / 1e6 / max(self.seconds, 1e-9)

    def reasons(self) -> Counter:
        """Skipped counts by kind of reason (the text before any detail)."""
        return Counter(reason_kind(r) for _, r in self.skipped)

    def text(self) -> str:
        lines = [f"wrote {self.written} samples to {self.out}",
                 f"skipped {len(self.skipped)} files" + (":" if self.skipped else ""),
                 *[f"  {n:6d}  {kind}" for kind, n in self.reasons().most_common()],
                 f"ignored {self.ignored} files that are not samples",
                 f"{self.seconds:.1f} s, {self.bytes_read / 1e6:.1f} MB read, {self.mb_per_s:.1f} MB/s"]
        return "\n".join(lines)


def reason_kind(reason: str) -> str:
    return reason.split(" (line")[0].split(":")[0]


def find_raw_files(raw_dir: Path, spec: DatasetSpec) -> tuple[list[RawFile], int]:
    """Sample files under raw_dir (recursively) in name order, and how many other files were ignored."""
    found, ignored = [], 0
    for root, dirs, files in os.walk(raw_dir):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        for fn in files:
            fields = None if fn.startswith(".") else spec.parse_file_name(fn)
            if fields is None:
                ignored += 1
                continue
            found.append(RawFile(Path(root) / fn, fn.split(".")[0], fields))
    found.sort(key=lambda f: (f.name, str(f.path)))
    return found, ignored


def reader_for(spec: DatasetSpec) -> Callable:
    """The `read_sample(path, spec)` function of the dataset's format module."""
    return importlib.import_module(f"skeltools.formats.{spec.reader}").read_sample


@dataclass(frozen=True)
class _Job:
    spec: DatasetSpec
    params: TransformParams
    keep_raw: bool

    def __call__(self, f: RawFile):
        """Runs in a worker: returns (name, size, result or reason)."""
        size = f.path.stat().st_size if f.path.exists() else 0
        why = self.spec.out_of_range(f.fields)
        if why is None and f.name in self.spec.missing:
            why = "listed by the dataset as a sample with missing skeletons"
        if why is not None:
            return f.name, size, why
        try:
            raw = reader_for(self.spec)(f.path, self.spec)
            out = transform_sample(raw, self.spec.bodies, self.spec.layout.role_indices(), self.params)
        except SampleError as e:
            return f.name, size, str(e)
        except OSError as e:
            return f.name, size, f"unreadable: {e.strerror or e}"
        if not self.keep_raw:
            out.full = None
        return f.name, size, out


def _results(job: _Job, files: list[RawFile], workers: int) -> Iterator:
    """Results in file order: the first file in this process (which compiles the kernels
    once, before the fork), the rest through the pool in bounded windows."""
    if not files:
        return
    yield job(files[0])
    rest = files[1:]
    if workers <= 1:
        yield from map(job, rest)
        return
    with mp.get_context("fork").Pool(workers) as pool:
        for lo in range(0, len(rest), WINDOW):
            yield from pool.imap(job, rest[lo:lo + WINDOW], chunksize=8)


def _meta_of(spec: DatasetSpec, f: RawFile, out) -> dict:
    flds = f.fields
    return {"name": f.name, "label": flds["action"] - 1, "view": flds["view"], "scene": 0,
            "subject": flds.get("subject", -1), "setup": flds.get("setup", -1),
            "replication": flds.get("replication", -1), "frames": out.frames, "bodies": out.bodies}


def scene_index(meta: dict, spec: DatasetSpec) -> tuple[np.ndarray, np.ndarray]:
    """meta/scene (in order of first appearance) and the (S, V) views table."""
    fields = split_fields(meta)
    keys = list(zip(*(fields[f] for f in spec.scene_fields)))
    ids: dict = {}
    scene = np.array([ids.setdefault(k, len(ids)) for k in keys], dtype=np.int32)
    views = np.full((len(ids), spec.n_views), -1, np.int32)
    for i, (s, v) in enumerate(zip(scene, fields["view"])):
        views[s, int(v) - 1] = i
    return scene, views


def split_fields(meta: dict) -> dict[str, np.ndarray]:
    """Per-sample values that split rules and scene keys may refer to."""
    out = {k: np.asarray(meta[k]) for k in ("subject", "setup", "replication", "view")}
    out["action"] = np.asarray(meta["label"]) + 1
    return out


def prepare(dataset: str, raw: str | Path, out: str | Path, *, frames: int = 50, align: bool = True,
            workers: int | None = None, keep_raw: bool = False, limit: int | None = None,
            compression: str | None = None, progress: bool = True) -> PrepareSummary:
    """Prepare a store from a raw folder; returns the summary (nothing is written on error)."""
    spec = load_dataset(dataset)
    raw = Path(raw)
    if not raw.is_dir():
        raise FileNotFoundError(f"{raw}: not a directory")
    files, ignored = find_raw_files(raw, spec)
    if not files:
        raise FileNotFoundError(f"{raw}: no {spec.name} sample files found ({ignored} other files ignored); "
                                f"expected names like {spec.name_format.format(**{k: 1 for k in spec.ranges})}")
    if limit is not None:
        files = files[:limit]
    summary = PrepareSummary(out=Path(out), ignored=ignored)
    job = _Job(spec, TransformParams(frames=frames, align=align), keep_raw)
    workers = workers or os.cpu_count() or 1
    start = time.perf_counter()
    scale = 0.0
    with StoreWriter(out, bodies=spec.bodies, frames=frames, joints=spec.layout.n_joints, keep_raw=keep_raw,
                     compression=compression) as writer:
        bar = tqdm(total=len(files), unit="file", disable=not progress, desc=f"prepare {dataset}")
        for f, (name, size, result) in zip(files, _results(job, files, workers)):
            summary.bytes_read += size
            bar.update(1)
            if isinstance(result, str):
                summary.skipped.append((name, result))
                continue
            scale = max(scale, abs_max(result.poses), abs_max(result.full) if keep_raw else 0.0)
            writer.append(result.poses, _meta_of(spec, f, result), result.full)
        bar.close()
        scene, views = scene_index(writer.meta, spec)
        writer.meta["scene"] = scene.tolist()
        fields = split_fields(writer.meta)
        splits = {p.name: p.assign(fields[p.field]) for p in spec.protocols}
        attrs = {"dataset": spec.name, "layout": spec.layout.name, "frames": frames, "aligned": bool(align),
                 "n_views": spec.n_views, "classes": spec.classes, "tool_version": __version__}
        writer.commit(attrs=attrs, views=views, splits=splits, skipped=summary.skipped, scale=scale or 1.0)
    summary.written = writer.n
    summary.seconds = time.perf_counter() - start
    return summary
