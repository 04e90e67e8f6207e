"""`skel prepare --from-mmaction`: a store from an mmaction2/pyskl 3D annotation pickle, through
the same stages as raw files (each annotation is a unit; its bodies come already picked)."""
from __future__ import annotations

import re
from functools import partial
from pathlib import Path

import numpy as np

from ..formats.mmaction import bodies_of, load_pickle
from ..formats.raw_sample import SampleError, Skipped
from ..formats.units import RawUnit
from ..manifests import DatasetSpec, Protocol, load_dataset
from ..transform import TransformParams, transform_bodies
from .handoff import HandOff
from .interrupt import StopOnSignal
from .plan import check_out_path, check_scaling, output_path, transform_params
from .pool import OrderedPool
from .records import BatchResult
from .run import UNITS_PER_BATCH, write_store
from .stages import ReadJob, failure_reason, stage_batch
from .summary import PrepareSummary


def annotation_item(spec: DatasetSpec, params: TransformParams, name: str, annotation) -> tuple[dict, object]:
    """(fields of the name, Transformed or Skipped) of one annotation."""
    fields = spec.parse_file_name(f"{name}.skeleton")
    if fields is None:
        return {}, Skipped("unknown name", f"unknown name: {name!r} is not an {spec.name} sample name")
    if (why := spec.out_of_range(fields)) is not None:
        return fields, Skipped.of(why)
    try:
        label = annotation["label"]
        if isinstance(label, bool) or not isinstance(label, (int, np.integer)):
            raise SampleError(f"label {label!r} is not an integer class index")
        if label != fields["action"] - 1:
            raise SampleError(f"label {label} disagrees with the name's action A{fields['action']:03d}")
        bodies = bodies_of(annotation, spec.layout.n_joints, spec.bodies)
        scale = annotation.get("scale", 1.0)       # `skel export --to mmaction` records the divisor it left in
        if isinstance(scale, bool) or not isinstance(scale, (int, float, np.floating)) or not 0 < scale < np.inf:
            raise SampleError(f"scale {scale!r} is not a positive number")
        return fields, transform_bodies(bodies * np.float32(scale), spec.layout.role_indices(), params)
    except Exception as e:
        return fields, failure_reason(e)


def read_annotations(job: ReadJob, names: list[str], annotations: list, span: tuple[int, int]) -> BatchResult:
    """Stage 1 for annotations[lo:hi]: transformed and staged like raw units."""
    entries = [(k, names[k], *annotation_item(job.spec, job.params, names[k], annotations[k])) for k in range(*span)]
    return BatchResult(span[1] - span[0], stage_batch(job, entries), 0, 0.0)


PROTOCOL_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def pickle_protocols(data: dict, source: str) -> tuple[list[Protocol], dict[str, str], list[str]]:
    """The pickle's `<protocol>_train` / `<protocol>_val` lists as protocols over sample names,
    where each comes from, and warnings (split names that are neither). ValueError, one line
    per problem, for a split structure that would make a store `skel check` rejects."""
    split = data.get("split", {})
    problems, warnings, sources = [], [], {}
    for key, names in split.items():
        proto, _, part = str(key).rpartition("_")
        if not isinstance(names, (list, tuple)) or not all(isinstance(n, str) for n in names):
            problems.append(f"split[{key!r}] is {type(names).__name__}: expected a list of frame_dir names")
        elif not proto or part not in ("train", "val"):
            warnings.append(f"split {key!r} is neither <protocol>_train nor <protocol>_val: not used")
        elif not PROTOCOL_NAME.match(proto):
            problems.append(f"split {key!r}: {proto!r} is not a protocol name (letters, digits, _ . -)")
        else:
            sources[proto] = source
    for proto in sources:
        both = set(split.get(f"{proto}_train", ())) & set(split.get(f"{proto}_val", ()))
        if both:
            problems.append(f"split {proto}: {len(both)} names in both {proto}_train and {proto}_val "
                            f"(e.g. {sorted(both)[0]})")
    if problems:
        raise ValueError("\n".join(problems))
    protocols = [Protocol(name=proto, field="name", train=tuple(split.get(f"{proto}_train", ())),
                          test=tuple(split.get(f"{proto}_val", ()))) for proto in sources
                 if f"{proto}_train" in split or f"{proto}_val" in split]
    return protocols, sources, warnings


def exported_scale(annotations: list) -> float:
    """The scale `skel export --to mmaction` left in every annotation (one value for all), or 0:
    the store made from the export then divides by it again, and holds the numbers it came from
    (its own peak, measured on the exported frames, can only be lower: linear resampling does
    not overshoot)."""
    found = {a.get("scale") for a in annotations if isinstance(a, dict)}
    value = next(iter(found)) if len(found) == 1 else None
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating)) or not 0 < value < np.inf:
        return 0.0
    return float(value)


def prepare_from_mmaction(dataset: str, pickle_path: str | Path, out: str | Path, *, frames: int = 50,
                          align: bool = True, compression: str | None = None, progress: bool = True,
                          scaling: str = "dataset", allow_empty_splits: bool = False) -> PrepareSummary:
    """A store from an mmaction2/pyskl 3D annotation pickle (bodies already picked): the same
    transform from plausibility on, the view and scene from each `frame_dir` name, the
    pickle's splits as the store's protocols (`xsub_train` / `xsub_val` -> xsub)."""
    check_scaling(scaling)
    spec = load_dataset(dataset)
    if spec.reader != "ntu":
        raise ValueError(f"--from-mmaction reads NTU RGB+D pickles (ntu60, ntu120), not {dataset}")
    out, source = output_path(Path(out)), Path(pickle_path)
    check_out_path(out)
    data = load_pickle(source)
    params = transform_params(spec, frames, align)
    annotations = data["annotations"]
    names = [str(a.get("frame_dir", f"annotation {k}")) if isinstance(a, dict) else f"annotation {k}"
             for k, a in enumerate(annotations)]
    try:
        protocols, sources, warnings = pickle_protocols(data, f"mmaction:{source.name}")
    except ValueError as e:
        raise ValueError("\n".join(f"{source}: {line}" for line in str(e).splitlines())) from None
    summary = PrepareSummary(out=out, notes=warnings, source="annotations")
    floor = exported_scale(annotations) if scaling == "dataset" else 0.0
    units = [RawUnit(source, name, {}) for name in names]
    spans = [(lo, min(lo + UNITS_PER_BATCH, len(names))) for lo in range(0, len(names), UNITS_PER_BATCH)]
    with StopOnSignal() as stop, HandOff(out) as handoff, OrderedPool(1, stop.check) as pool:
        job = ReadJob(spec, params, False, scaling, str(handoff.folder))
        results = pool.map(partial(read_annotations, job, names, annotations), spans)
        write_store(spec, out, units, results, pool, protocols, sources, params, summary, compression=compression,
                    scaling=scaling, progress=progress, extra_attrs={"source": f"mmaction:{source.name}"},
                    allow_empty_splits=allow_empty_splits, handoff=handoff, scale_floor=floor)
    summary.bytes_read = source.stat().st_size
    return summary
