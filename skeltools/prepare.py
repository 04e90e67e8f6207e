"""`skel prepare`: raw files -> one aligned, resampled, scaled, view-indexed store.

Files are processed by a process pool in a fixed order and streamed to the writer, so
the store is identical whatever the worker count; a bad file becomes a skipped sample
with its reason and never stops the run.
"""
from __future__ import annotations

import importlib
import os
import signal
import stat
import threading
import time
from collections import Counter
from dataclasses import asdict, dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
from tqdm import tqdm

from . import __version__
from .answers import Answer, collect
from .formats import FormatReader
from .formats.raw_sample import SampleError, Skipped, reason_kind  # noqa: F401 - reason_kind re-exported
from .formats.read_buffer import ReadBuffer
from .formats.units import RawUnit, units_by_file_name
from .kernels import abs_max
from .manifests import DatasetSpec, Protocol, load_dataset, read_split_file
from .store import (DiskFull, StoreError, StoreWriter, backend_of, is_disk_full, is_tool_store, load_backend, meta_row,
                    remove_stale_partials, writes_in_place)
from .transform import PlausibilityBounds, TransformParams, transform_sample
from .workers import Workers



@dataclass
class PrepareSummary:
    out: Path
    written: int = 0
    skipped: list[tuple[str, Skipped]] = field(default_factory=list)
    ignored: int = 0
    seconds: float = 0.0
    bytes_read: int = 0
    first_unit_seconds: float = 0.0   # the first unit also compiles the kernels (or loads their cache)
    worker_seconds: float = 0.0       # reading and transforming: CPU seconds summed over the units (in whichever process)
    warm_up_seconds: float = 0.0      # compiling (first run) or loading the kernels, before the first unit
    parent_cpu_seconds: float = 0.0   # the writing process's own CPU time, the workers' share taken out

    @property
    def compile_seconds(self) -> float:
        """Time spent getting the kernels ready: the warm-up, or, for a format without one, the
        first unit when it took over a second (kernel compilation on a first run)."""
        return self.warm_up_seconds or (self.first_unit_seconds if self.first_unit_seconds > 1.0 else 0.0)

    @property
    def mb_per_s(self) -> float:
        """Throughput, compilation left out (it happens once per installation)."""
        return self.bytes_read / 1e6 / max(self.seconds - self.compile_seconds, 1e-9)

    def scaling_ceiling(self) -> float:
        """How many workers the writing process could keep busy: the workers' time per sample
        over the parent's (beyond it, the parent is the bottleneck)."""
        return self.worker_seconds / max(self.parent_cpu_seconds, 1e-9)

    def reasons(self) -> Counter:
        """Skipped counts by reason code."""
        return Counter(r.code for _, r in self.skipped)

    def text(self) -> str:
        lines = [f"wrote {self.written} samples to {self.out}",
                 f"skipped {len(self.skipped)} files" + (":" if self.skipped else ""),
                 *[f"  {n:6d}  {kind}" for kind, n in self.reasons().most_common()],
                 f"ignored {self.ignored} files that are not samples",
                 f"{self.seconds:.2f} s, {self.bytes_read / 1e6:.1f} MB read, {self.mb_per_s:.1f} MB/s"
                 + (f" (not counting {self.compile_seconds:.1f} s compiling or loading kernels)"
                    if self.compile_seconds >= 0.05 else "")]
        units = max(self.written + len(self.skipped), 1)
        lines.append(f"per sample: workers {self.worker_seconds / units * 1e6:.0f} us, writer "
                     f"{self.parent_cpu_seconds / units * 1e6:.0f} us "
                     f"(scaling ceiling: {self.scaling_ceiling():.0f} workers)")
        return "\n".join(lines)


def format_module(spec: DatasetSpec) -> FormatReader:
    """The dataset's format module (`"reader"` in its manifest) under skeltools.formats."""
    return importlib.import_module(f"skeltools.formats.{spec.reader}")


def find_units(raw_dir: Path, spec: DatasetSpec) -> tuple[list[RawUnit], int]:
    """The raw units under raw_dir in a fixed order, and how many other files were ignored."""
    finder = getattr(format_module(spec), "find_units", units_by_file_name)
    return finder(raw_dir, spec)


@dataclass
class Ready:
    """A sample as the writer takes it, made where it was transformed (in a worker): scaled
    already with --scale sample, its meta fields, and `own`, its largest |coordinate| before
    any scaling (what the dataset-wide factor is the maximum of)."""

    poses: np.ndarray
    full: np.ndarray | None
    meta: tuple      # store.meta_row: the meta fields in the store's column order
    own: float


def ready_sample(name: str, fields: dict, out, scaling: str, keep_full: bool) -> Ready:
    """The writer's record of one Transformed sample."""
    own = max(abs_max(out.poses), abs_max(out.full) if keep_full else 0.0)
    meta = _meta_of(name, fields, out)
    poses, full = out.poses, (out.full if keep_full else None)
    if scaling == "sample":
        own = own or 1.0
        poses = (poses / np.float32(own)).astype(np.float32)
        full = None if full is None else (full / np.float32(own)).astype(np.float32)
        meta["scale"] = own
    return Ready(poses, full, meta_row(meta), own)


@dataclass(frozen=True)
class _Job:
    spec: DatasetSpec
    params: TransformParams
    keep_full: bool
    scaling: str = "dataset"
    handoff: str | None = None   # folder for the arrays of pool tasks (skeltools/handoff.py)
    buffer: ReadBuffer = field(default_factory=ReadBuffer, compare=False, repr=False)   # each process its own

    def skip_reason(self, name: str, fields: dict) -> Skipped | None:
        why = self.spec.out_of_range(fields)
        if why is None and name in self.spec.missing:
            why = "listed by the dataset as a sample with missing skeletons"
        return None if why is None else Skipped.of(why)

    def __call__(self, unit: RawUnit) -> tuple[int, float, list[tuple[str, dict, object]]]:
        """Runs in a worker: (bytes read, CPU seconds taken, [(name, fields, Ready or Skipped), ...]).
        Whatever goes wrong while reading one unit becomes its skip reason: only the
        writer's own errors may stop a run."""
        start = time.thread_time()     # CPU: what the scaling ceiling compares, unaffected by contention
        size = _size(unit.path)
        why = self.skip_reason(unit.name, unit.fields)
        if why is not None:
            return size, time.thread_time() - start, [(unit.name, unit.fields, why)]
        try:
            items = format_module(self.spec).read_unit(unit, self.spec, self.buffer)
        except Exception as e:
            return size, time.thread_time() - start, [(unit.name, unit.fields, failure_reason(e))]
        out = [(name, fields, self._transform(name, fields, raw)) for name, fields, raw in items]
        return size, time.thread_time() - start, out

    def warm_up(self) -> bool:
        """Compile (or load from the cache) every kernel of a unit on the format's built-in
        sample, if it has one, so that forked workers inherit them and no raw file is read
        in the writing process; False if the format has none."""
        sample = getattr(format_module(self.spec), "warm_up_sample", None)
        if sample is None:
            return False
        out = transform_sample(sample(self.spec.layout.n_joints), self.spec.bodies, self.spec.layout.role_indices(),
                               self.params)
        ready_sample("warm-up", {"action": 1, "view": 1}, out, self.scaling, self.keep_full)
        return True

    def batch(self, units: list[RawUnit], first: int) -> Answer:
        """Several units in one task (one round trip to a worker for CHUNK files), units[0]
        being the run's unit `first`: one Answer, its arrays in the hand-off folder when
        there is one."""
        return collect(first, [self(u) for u in units], self.handoff)

    def _transform(self, name: str, fields: dict, raw):
        why = raw if isinstance(raw, Skipped) else self.skip_reason(name, fields)
        if why is not None:
            return why
        try:
            out = transform_sample(raw, self.spec.bodies, self.spec.layout.role_indices(), self.params)
            return ready_sample(name, fields, out, self.scaling, self.keep_full)
        except Exception as e:
            return failure_reason(e)


def failure_reason(e: Exception) -> Skipped:
    """The skip reason for an exception raised while reading or transforming one unit
    (an unexpected one keeps its type as the code: `type: message`)."""
    if isinstance(e, SampleError):
        return Skipped(e.code, str(e))
    if isinstance(e, OSError) and e.strerror:
        return Skipped("unreadable", f"unreadable: {e.strerror}")
    return Skipped(type(e).__name__, f"{type(e).__name__}: {e}")


def _size(path: Path) -> int:
    """The unit's bytes: one stat for a file (a sample's Python around the kernels is most of
    what prepare costs beyond parsing), the files' sizes for a folder; 0 if unreadable."""
    try:
        st = os.stat(path)
        if stat.S_ISDIR(st.st_mode):
            return sum(p.stat().st_size for p in path.iterdir() if p.is_file())
        return st.st_size
    except OSError:
        return 0


class _Interrupt:
    """Ctrl-C sets a flag that the write loop checks between units and chunks, and the run
    then ends through the ordinary cleanup. (A KeyboardInterrupt raised at an arbitrary
    point can be swallowed by a finalizer, so that the run goes on, or strike the pool
    mid-update, so that it hangs.) A second Ctrl-C raises at once."""

    def __init__(self):
        self.requested = False
        self.previous = None

    def __enter__(self) -> _Interrupt:
        if threading.current_thread() is threading.main_thread():
            self.previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def _handle(self, signum, frame) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True

    def check(self) -> None:
        if self.requested:
            raise KeyboardInterrupt

    def __exit__(self, *exc) -> None:
        if self.previous is not None:
            signal.signal(signal.SIGINT, self.previous)


def check_out_path(out: Path) -> None:
    """Refuse, before any work, an --out that cannot or must not be written."""
    backend_of(out)
    folder = out.resolve().parent
    if not folder.is_dir():
        raise FileNotFoundError(f"{out.parent}: the folder for --out does not exist")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise StoreError(f"{folder}: cannot write there (read-only or no permission)")
    if (out.exists() or out.is_symlink()) and not is_tool_store(out):
        kind = "a folder" if out.is_dir() else "a file"
        raise StoreError(f"{out} exists and is {kind} that is not a store written by skel prepare; "
                         "remove it or choose another --out (only a skeltools store is replaced)")
    remove_stale_partials(out)


def _meta_of(name: str, fields: dict, out) -> dict:
    return {"name": name, "label": fields["action"] - 1, "view": fields["view"], "scene": 0,
            "subject": fields.get("subject", -1), "setup": fields.get("setup", -1),
            "replication": fields.get("replication", -1), "frames": out.frames, "bodies": out.bodies}


SCALINGS = ("dataset", "sample")


def check_scaling(scaling: str) -> None:
    """Refuse an unknown --scale before any work."""
    if scaling not in SCALINGS:
        raise ValueError(f"--scale {scaling!r}: choose from {', '.join(SCALINGS)}")


def dataset_bounds(spec: DatasetSpec) -> PlausibilityBounds:
    """The plausibility bounds of the dataset's manifest (`plausibility`), else the defaults."""
    given = {k: float(v) for k, v in spec.extra.get("plausibility", {}).items() if k != "source"}
    return PlausibilityBounds(**given)


def scene_index(fields: dict[str, np.ndarray], spec: DatasetSpec) -> tuple[np.ndarray, np.ndarray]:
    """meta/scene (in order of first appearance) and the (S, V) views table, from `split_fields`."""
    keys = list(zip(*(fields[f] for f in spec.scene_fields)))
    ids: dict = {}
    scene = np.array([ids.setdefault(k, len(ids)) for k in keys], dtype=np.int32)
    views = np.full((len(ids), spec.n_views), -1, np.int32)
    for i, (s, v) in enumerate(zip(scene, fields["view"])):
        views[s, int(v) - 1] = i
    return scene, views


def split_fields(meta: dict, units: list[str] | None = None) -> dict[str, np.ndarray]:
    """Per-sample values that split rules and scene keys may refer to."""
    out = {k: np.asarray(meta[k]) for k in ("subject", "setup", "replication", "view")}
    out["name"] = np.asarray(meta["name"], dtype=object)
    out["action"] = np.asarray(meta["label"]) + 1
    if units is not None:
        out["unit"] = np.asarray(units, dtype=object)
    return out


def prepare(dataset: str, raw: str | Path, out: str | Path, *, frames: int = 50, align: bool = True,
            workers: int | None = None, keep_full: bool = False, limit: int | None = None,
            compression: str | None = None, progress: bool = True,
            split_files: tuple[str | Path, ...] = (), scaling: str = "dataset") -> PrepareSummary:
    """Prepare a store from a raw folder; returns the summary (nothing is written on error).

    `scaling`: "dataset" divides every sample by one factor, the largest |coordinate| of
    all samples (the `scale` attribute); "sample" divides each sample by its own largest
    |coordinate| (as P&C's per-clip normalisation), recorded per sample in meta/scale."""
    check_scaling(scaling)
    spec = load_dataset(dataset)
    raw = Path(raw)
    if not raw.is_dir():
        raise FileNotFoundError(f"{raw}: not a directory")
    check_out_path(Path(out))
    load_backend(out)
    units, ignored = find_units(raw, spec)
    if not units:
        raise FileNotFoundError(f"{raw}: no {spec.name} sample files found ({ignored} other files ignored); "
                                f"expected names like {spec.example}")
    if limit is not None:
        units = units[:limit]
    pool = Workers(workers or os.cpu_count() or 1, out=Path(out))
    probe = getattr(format_module(spec), "probe_layout", None)
    if probe is not None:
        spec = replace(spec, layout_name=probe(units, spec, partial(pool.map, what="probing the raw files")))
    from_files = {p.name: (p, f) for f in split_files for p in read_split_file(f)}
    protocols = [p for p in spec.protocols if p.name not in from_files] + [p for p, _ in from_files.values()]
    protocol_sources = {p.name: "manifest" for p in spec.protocols if p.name not in from_files}
    protocol_sources.update({name: f"--split-file {Path(f).name}" for name, (_, f) in from_files.items()})
    summary = PrepareSummary(out=Path(out), ignored=ignored)
    params = TransformParams(frames=frames, align=align, bounds=dataset_bounds(spec))
    job = _Job(spec, params, keep_full, scaling)
    try:
        write_store(spec, out, units, pool.results(job, units), protocols, protocol_sources, params, summary,
                    keep_full=keep_full, compression=compression, scaling=scaling, progress=progress,
                    in_process_workers=pool.workers <= 1,
                    defer_to=pool.open_handoff(single=not writes_in_place(out, compression)), blocks=pool.scaled_blocks)
    finally:
        pool.close()
    summary.warm_up_seconds = pool.warm_up_seconds
    summary.parent_cpu_seconds = max(summary.parent_cpu_seconds - pool.warm_up_cpu_seconds, 0.0)
    return summary


def write_store(spec: DatasetSpec, out: str | Path, units: list[RawUnit], answers: Iterator[Answer], protocols: list,
                protocol_sources: dict, params: TransformParams, summary: PrepareSummary, *, keep_full: bool = False,
                compression: str | None = None, scaling: str = "dataset", progress: bool = True,
                extra_attrs: dict | None = None,
                in_process_workers: bool = True, defer_to: Path | None = None,
                blocks: Callable | None = None) -> PrepareSummary:
    """Stream the answers for `units` (answers.Answer, in unit order) into a store: duplicates
    skipped, scaled, scenes and splits indexed, committed atomically; Ctrl-C, a full disk or
    any error leave nothing under `out`. The samples come ready to write (`ready_sample`, in
    the workers): this loop only files them, a task at a time where none is a duplicate."""
    start = time.perf_counter()
    cpu = time.process_time()
    scale = 0.0
    sample_units: list[int] = []        # each written sample's unit (an index into units)
    written_from: dict[str, int] = {}   # sample name -> its unit
    try:
        with _Interrupt() as interrupt, StoreWriter(out, bodies=spec.bodies, frames=params.frames,
                                                    joints=spec.layout.n_joints, keep_full=keep_full,
                                                    compression=compression, defer_to=defer_to) as writer:
            bar = tqdm(total=len(units), unit="file", disable=not progress,
                       desc=f"prepare {spec.name} (compiling kernels on a first run)")
            first, started = time.perf_counter(), False
            for answer in answers:
                if not started:      # once (a disabled bar's n stays 0)
                    summary.first_unit_seconds = time.perf_counter() - first
                    bar.set_description(f"prepare {spec.name}")
                    started = True
                interrupt.check()
                summary.bytes_read += answer.bytes_read
                summary.worker_seconds += answer.seconds
                bar.update(answer.units)
                fresh = dict(zip(answer.names, [answer.first + u for u in answer.unit_of]))
                if len(fresh) == len(answer) and written_from.keys().isdisjoint(fresh):   # the whole task at once
                    summary.skipped.extend((name, why) for _, name, why in answer.skipped)
                    if fresh:
                        scale = max(scale, *answer.own)
                        writer.extend(answer.poses, answer.meta, answer.full)
                        written_from.update(fresh)
                        sample_units.extend(fresh.values())
                    continue
                for unit, name, result in answer.items():
                    if not isinstance(result, Skipped) and name in written_from:
                        first_copy = units[written_from[name]].path
                        result = Skipped("duplicate", f"duplicate of {first_copy} (same sample name)")
                    if isinstance(result, Skipped):
                        summary.skipped.append((name, result))
                        continue
                    scale = max(scale, answer.own[result])
                    writer.append(*answer.sample(result))
                    written_from[name] = unit
                    sample_units.append(unit)
            bar.close()
            fields = split_fields(writer.meta, [units[u].name for u in sample_units])
            scene, views = scene_index(fields, spec)
            writer.meta["scene"] = scene.tolist()
            splits = {p.name: p.assign(fields[p.field]) for p in protocols}
            attrs = {"dataset": spec.name, "layout": spec.layout.name, "frames": params.frames,
                     "aligned": bool(params.align), "n_views": spec.n_views, "classes": spec.classes,
                     "tool_version": __version__, "plausibility": asdict(params.bounds),
                     "denoise": asdict(params.denoise), "min_norm": params.min_norm,
                     "protocol_sources": protocol_sources, "scaling": scaling, **(extra_attrs or {})}
            interrupt.check()
            divisor = 1.0 if scaling == "sample" else (scale or 1.0)
            writer.commit(attrs=attrs, views=views, splits=splits, skipped=summary.skipped, scale=divisor,
                          interrupted=interrupt.check, blocks=blocks)
    except OSError as e:
        if is_disk_full(e):
            raise DiskFull(f"no space left on {Path(out).resolve().parent} (the partial store was removed)") from None
        raise
    except BaseException:   # Ctrl-C may land anywhere, even while the writer is being made or aborted
        StoreWriter._remove(StoreWriter.partial_path(Path(out)))
        raise
    summary.written = writer.n
    summary.seconds = time.perf_counter() - start
    in_process = summary.worker_seconds if in_process_workers else 0.0
    summary.parent_cpu_seconds = max(time.process_time() - cpu - in_process, 0.0)
    return summary


def prepare_from_mmaction(dataset: str, pickle_path: str | Path, out: str | Path, *, frames: int = 50,
                          align: bool = True, compression: str | None = None, progress: bool = True,
                          scaling: str = "dataset") -> PrepareSummary:
    """A store from an mmaction2/pyskl 3D annotation pickle (bodies already picked): the same
    transform from alignment on, the view and scene from each `frame_dir` name, the
    pickle's splits as the store's protocols (`xsub_train` / `xsub_val` -> xsub). Unpickling
    runs code: load only files from a source you trust."""
    from .formats.mmaction import bodies_of, load_pickle
    from .transform import transform_bodies

    check_scaling(scaling)
    spec = load_dataset(dataset)
    if spec.reader != "ntu":
        raise ValueError(f"--from-mmaction reads NTU RGB+D pickles (ntu60, ntu120), not {dataset}")
    check_out_path(Path(out))
    data = load_pickle(pickle_path)
    params = TransformParams(frames=frames, align=align, bounds=dataset_bounds(spec))
    roles = spec.layout.role_indices()
    source = Path(pickle_path)

    annotations = data["annotations"]
    frame_dirs = [str(ann.get("frame_dir", f"annotation {k}")) if isinstance(ann, dict) else f"annotation {k}"
                  for k, ann in enumerate(annotations)]

    def answers():
        for k, (name, ann) in enumerate(zip(frame_dirs, annotations)):
            fields = spec.parse_file_name(f"{name}.skeleton")
            if fields is None:
                item = Skipped("unknown name", f"unknown name: {name!r} is not an {spec.name} sample name")
            elif (why := spec.out_of_range(fields)) is not None:
                item = Skipped.of(why)
            else:
                try:
                    label = int(ann["label"])
                    if label != fields["action"] - 1:
                        raise SampleError(f"label {label} disagrees with the name's action A{fields['action']:03d}")
                    out = transform_bodies(bodies_of(ann, spec.layout.n_joints, spec.bodies), roles, params)
                    item = ready_sample(name, fields, out, scaling, keep_full=False)
                except Exception as e:
                    item = failure_reason(e)
            yield collect(k, [(0, 0.0, [(name, fields, item)])])

    protocols, sources = [], {}
    for split_name in data.get("split", {}):
        proto, _, part = str(split_name).rpartition("_")
        if proto and part in ("train", "val"):
            sources[proto] = f"mmaction:{source.name}"
    for proto in sources:
        train = tuple(data["split"].get(f"{proto}_train", ()))
        test = tuple(data["split"].get(f"{proto}_val", ()))
        protocols.append(Protocol(name=proto, field="name", train=train, test=test))
    summary = PrepareSummary(out=Path(out))
    summary.bytes_read = source.stat().st_size
    units = [RawUnit(source, name, {}) for name in frame_dirs]
    return write_store(spec, out, units, answers(), protocols, sources, params, summary,
                       compression=compression, scaling=scaling, progress=progress,
                       extra_attrs={"source": f"mmaction:{source.name}"})
