"""`skel prepare`: raw files -> one aligned, resampled, scaled, view-indexed store, in five
stages driven from here:

1. `pool.map(read_batch, spans)`: workers read and transform batches of raw units, leave each
   batch's arrays in a hand-off file and return records (prepare/records.py);
2. the writer files each sample's meta in order (duplicates skipped) and the dataset's scale
   is the largest |coordinate| seen;
3. `writer.chunk_jobs(scale)` lists the store chunks to make;
4. `pool.map(make_staged_chunk, jobs)`: workers make each chunk from the hand-off files and
   write it;
5. `writer.finish` writes the checksums and attributes and renames the store into place.

The pool is ended before the hand-off folder is removed (no worker writes into it then).
The results come back in unit order whatever the worker count, so the store is the same for
any `--workers`; a bad file becomes a skipped sample with its reason and never stops the
run. The hand-off folder is owned here: made before stage 1, removed after stage 5 or on any
error; Ctrl-C and SIGTERM end the run through the same clean-up.
"""
from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Iterable
from contextlib import contextmanager
from dataclasses import replace
from functools import partial
from pathlib import Path

from .. import __version__
from ..formats import find_units, reader_of
from ..formats.raw_sample import Skipped
from ..formats.units import RawUnit
from ..kernel_cache import compiled_in_this_process
from ..manifests import DatasetSpec, load_dataset
from ..store import DiskFull, StoreWriter, is_disk_full, load_backend
from ..transform import TransformParams
from .handoff import HandOff
from .interrupt import StopOnSignal
from .plan import (check_out_path, check_scaling, empty_parts, nothing_written, output_path, protocols_of,
                   scene_index, split_fields, store_attrs, transform_params)
from .pool import OrderedPool
from .records import BatchResult, SkipRecord
from .stages import ReadJob, make_staged_chunk, read_batch, warm_up
from .summary import EmptyResult, PrepareSummary

UNITS_PER_BATCH = 64          # at most: each batch costs the writer a fixed share, whatever its size
MIN_BATCHES_PER_WORKER = 8    # fewer units a batch on small corpora, so that the last batches still balance


@contextmanager
def said_if_slow(message: str, say: bool, after_s: float = 3.0):
    """Print `message` (to stderr) if the block is still running after `after_s` seconds: loading
    the cached kernels takes a fraction of a second, compiling them about a minute."""
    timer = threading.Timer(after_s, lambda: print(message, file=sys.stderr, flush=True)) if say else None
    if timer is not None:
        timer.daemon = True
        timer.start()
    try:
        yield
    finally:
        if timer is not None:
            timer.cancel()


def batch_spans(n: int, workers: int) -> list[tuple[int, int]]:
    """(lo, hi) spans of n units: at most UNITS_PER_BATCH a span, and at least
    MIN_BATCHES_PER_WORKER spans a worker where n allows."""
    size = max(1, min(UNITS_PER_BATCH, n // (workers * MIN_BATCHES_PER_WORKER)))
    return [(lo, min(lo + size, n)) for lo in range(0, n, size)]


def prepare(dataset: str, raw: str | Path, out: str | Path, *, frames: int = 50, align: bool = True,
            workers: int | None = None, keep_full: bool = False, limit: int | None = None,
            compression: str | None = None, progress: bool = True,
            split_files: tuple[str | Path, ...] = (), scaling: str = "dataset",
            allow_empty_splits: bool = False) -> PrepareSummary:
    """Prepare a store from a raw folder; returns the summary (nothing is written on error).
    A run that would write no sample, or a protocol with an empty part, raises EmptyResult
    (with `allow_empty_splits`, it is written, and the store records which protocols may be empty).

    `scaling`: "dataset" divides every sample by one factor, the largest |coordinate| of
    all samples (the `scale` attribute); "sample" divides each sample by its own largest
    |coordinate| (as P&C's per-clip normalisation), recorded per sample in meta/scale."""
    spec = load_dataset(dataset)
    if spec.reader == "custom":
        raise ValueError("your own recordings come from an index file: skel prepare custom --index FILE.csv")
    raw, out = Path(raw), output_path(Path(out))
    if not raw.is_dir():
        raise FileNotFoundError(f"{raw}: not a directory")
    units, ignored = find_units(raw, spec)
    if not units:
        raise FileNotFoundError(f"{raw}: no {spec.name} sample files found ({ignored} other files ignored); "
                                f"expected names like {spec.example}")
    protocols, sources = protocols_of(spec, tuple(split_files))
    return prepare_units(spec, units[:limit] if limit is not None else units, out, protocols, sources,
                         ignored=ignored, frames=frames, align=align, workers=workers, keep_full=keep_full,
                         compression=compression, progress=progress, scaling=scaling,
                         allow_empty_splits=allow_empty_splits)


def prepare_units(spec: DatasetSpec, units: list[RawUnit], out: Path, protocols: list, sources: dict, *,
                  ignored: int = 0, frames: int = 50, align: bool = True, workers: int | None = None,
                  keep_full: bool = False, compression: str | None = None, progress: bool = True,
                  scaling: str = "dataset", allow_empty_splits: bool = False,
                  extra_attrs: dict | None = None) -> PrepareSummary:
    """The five stages for the units of a dataset (what `prepare` found, or an index file listed)."""
    check_scaling(scaling)
    check_out_path(out)
    load_backend(out)
    summary = PrepareSummary(out=out, ignored=ignored)
    params = transform_params(spec, frames, align)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    n_workers = min(workers or cores, cores, len(units))
    if workers and workers > n_workers:
        summary.notes.append(f"--workers {workers}: more than this machine's {cores} cores or the {len(units)} files; "
                             f"using {n_workers}")
    with StopOnSignal() as stop, HandOff(out) as handoff, OrderedPool(n_workers, stop.check) as pool:
        job = ReadJob(spec, params, keep_full, scaling, str(handoff.folder))
        wall = time.perf_counter()
        with said_if_slow("compiling the kernels (a first run after an install or a change: about a minute)",
                          progress):
            warm_up(job)             # before the workers are forked: they inherit the compiled kernels
        summary.warm_up_seconds = time.perf_counter() - wall
        summary.compiled = compiled_in_this_process()
        probe = getattr(reader_of(spec), "probe_layout", None)
        if probe is not None:
            spec = replace(spec, layout_name=probe(units, spec, lambda fn, xs: list(
                pool.map(fn, xs, "probing the raw files"))))
            job = replace(job, spec=spec)
        results = pool.map(partial(read_batch, job, units), batch_spans(len(units), pool.workers),
                           "reading the raw files")
        write_store(spec, out, units, results, pool, protocols, sources, params, summary, keep_full=keep_full,
                    compression=compression, scaling=scaling, progress=progress, in_process=pool.workers <= 1,
                    allow_empty_splits=allow_empty_splits, handoff=handoff, extra_attrs=extra_attrs)
    return summary


def write_store(spec: DatasetSpec, out: Path, units: list[RawUnit], results: Iterable[BatchResult],
                pool: OrderedPool, protocols: list, protocol_sources: dict, params: TransformParams,
                summary: PrepareSummary, *, keep_full: bool = False, compression: str | None = None,
                scaling: str = "dataset", progress: bool = True, extra_attrs: dict | None = None,
                in_process: bool = True, allow_empty_splits: bool = False,
                handoff: HandOff | None = None, scale_floor: float = 0.0) -> PrepareSummary:
    """Stages 2-5 for the batch results of `units`, in unit order: committed atomically; an
    interrupt, a full disk, an empty result or any error leaves nothing under `out`.
    `scale_floor`: the least dataset scale (a re-imported export keeps the scale it left with)."""
    from tqdm import tqdm

    start, cpu = time.perf_counter(), time.process_time()
    scale = 0.0
    first_unit: dict[str, int] = {}      # sample name -> the unit it was written from
    sample_units: list[int] = []
    try:
        with StoreWriter(out, bodies=spec.bodies, frames=params.frames, joints=spec.layout.n_joints,
                         keep_full=keep_full, compression=compression) as writer:
            with tqdm(total=len(units), unit="file", disable=not progress, desc=f"prepare {spec.name}") as bar:
                for result in results:
                    summary.bytes_read += result.bytes_read
                    summary.worker_seconds += result.cpu_seconds
                    bar.update(result.units)
                    for item in result.items:
                        if isinstance(item, SkipRecord):
                            summary.skipped.append((item.name, item.reason))
                        elif item.meta.name in first_unit:
                            first = units[first_unit[item.meta.name]].path
                            summary.skipped.append((item.meta.name, Skipped(
                                "duplicate", f"duplicate of {first} (same sample name)")))
                        else:
                            first_unit[item.meta.name] = item.unit
                            sample_units.append(item.unit)
                            scale = max(scale, item.peak)
                            writer.add(item.meta, item.poses, item.full)
            if not sample_units:
                raise EmptyResult(nothing_written(spec, summary.skipped))
            fields = split_fields(writer.columns(), [units[u].name for u in sample_units])
            scene, views = scene_index(fields, spec)
            writer.set_scenes(scene)
            splits = {p.name: p.assign(fields[p.field]) for p in protocols}
            if empty := empty_parts(splits):
                said = "; ".join(f"{name} has no {' and no '.join(parts)} sample" for name, parts in empty.items())
                if not allow_empty_splits:
                    raise EmptyResult(f"{said}: nothing written (--allow-empty-splits writes the store without "
                                      f"{'these protocols' if len(empty) > 1 else 'it'})")
                summary.notes.append(f"{said} (written as it is: --allow-empty-splits)")
                extra_attrs = {**(extra_attrs or {}), "empty_splits_allowed": sorted(empty)}
            divisor = 1.0 if scaling == "sample" else (max(scale, scale_floor) or 1.0)
            writer.write_index(views=views, splits=splits, skipped=summary.skipped, scale=divisor,
                               n_views=spec.n_views)
            for done in pool.map(make_staged_chunk, writer.chunk_jobs(divisor), "writing the store's chunks"):
                writer.store_chunk(done)
            writer.finish(store_attrs(spec, params, protocol_sources, scaling, __version__, extra_attrs), divisor)
        if handoff is not None:
            handoff.empty(pool)
    except OSError as e:
        if is_disk_full(e):
            raise DiskFull(f"no space left on {out.resolve().parent} (the partial store was removed)") from None
        raise
    summary.written = len(sample_units)
    summary.seconds = time.perf_counter() - start + summary.warm_up_seconds
    own = time.process_time() - cpu - (summary.worker_seconds if in_process else 0.0)
    summary.parent_cpu_seconds = max(own, 0.0)
    return summary
