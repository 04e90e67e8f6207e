"""Your own recordings: the index file that says what each file is (`skel prepare custom`), and
one written from the files' names (`skel index`).

The index is a CSV file, one row per recording: `path` (relative to --raw, or to the index
file's folder), `label` (an integer class index, or a class name: looked up in --classes, else
the names found in the column, sorted), `view` (a camera id), `scene` (what ties the views of
one performance together); optional `subject`, `setup`, `start` and `end` (1-based, inclusive:
an interval of the file), `format` (skeleton, azure, npy, npz, csv; default: by the extension),
`name` (default `<scene>-<view>`) and any `split:<protocol>` columns of `train` / `test`.
Without a split column the store gets `xsub` (an even, seeded split of the subjects) and `xview`
(the last view is the test view) where the columns allow them. A bad row becomes a skipped
sample with its row number and reason, never a crash.
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from .formats.custom import FORMATS, CustomRow
from .formats.units import RawUnit, walk_files
from .manifests import DatasetSpec, Layout, Protocol, json_object, load_dataset, load_layout

REQUIRED = ("path", "label", "view", "scene")
UNITS = {"m": 1.0, "mm": 0.001}


@dataclass
class CustomDataset:
    """What an index file describes: the dataset's spec, its units, and the store's provenance."""

    spec: DatasetSpec
    units: list[RawUnit]
    protocol_sources: dict[str, str]
    attrs: dict = field(default_factory=dict)


def _ids(values: list[str]) -> dict[str, int]:
    """Sorted distinct values -> 1, 2, ... (numbers in numeric order)."""
    def key(v: str):
        return (0, float(v), v) if _is_number(v) else (1, 0.0, v)
    return {v: k for k, v in enumerate(sorted(set(values), key=key), start=1)}


def _is_number(v: str) -> bool:
    try:
        float(v)
        return True
    except ValueError:
        return False


def _int(v: str) -> int | None:
    try:
        f = float(v)
    except ValueError:
        return None
    return int(f) if f == int(f) else None


def class_names(labels: list[str], classes_file: str | Path | None) -> tuple[list[str], dict[str, int | None]]:
    """(class names, label text -> class index or None for an unknown label)."""
    if classes_file is not None:
        names = [ln.strip() for ln in Path(classes_file).read_text().splitlines() if ln.strip()]
        index = {n: k for k, n in enumerate(names)}
        index.update({v: _int(v) for v in set(labels) - set(index)
                      if _int(v) is not None and 0 <= _int(v) < len(names)})     # a class given by its number
        return names, {v: index.get(v) for v in set(labels)}
    if labels and all(_int(v) is not None and _int(v) >= 0 for v in labels):
        n = max(_int(v) for v in labels) + 1
        return [f"class {k}" for k in range(n)], {v: _int(v) for v in set(labels)}
    names = sorted(set(labels))
    return names, {v: names.index(v) for v in set(labels)}


def read_index(index: str | Path, *, layout: str | Layout = "kinect_v2_25", classes: str | Path | None = None,
               raw: str | Path | None = None, units: str = "m", manifest: str | Path | None = None) -> CustomDataset:
    """The units and the dataset spec of an index file (ValueError, one line per problem, for a
    file that cannot be an index: missing columns, an unreadable file). `layout`: a shipped
    layout's name, a layout file (.json), or a Layout (a store's own `layout_spec`)."""
    import pandas as pd

    index = Path(index)
    if units not in UNITS:
        raise ValueError(f"--units {units}: choose m or mm")
    try:
        table = pd.read_csv(index, dtype=str, keep_default_na=False, skipinitialspace=True)
    except (OSError, ValueError, pd.errors.ParserError) as e:
        raise ValueError(f"{index}: not a readable CSV index ({str(e).splitlines()[0][:160]})") from None
    table.columns = [str(c).strip() for c in table.columns]
    missing = [c for c in REQUIRED if c not in table.columns]
    if missing:
        raise ValueError(f"{index}: the index needs the columns {', '.join(REQUIRED)}; missing {', '.join(missing)}")
    lay = layout if isinstance(layout, Layout) else load_layout(layout)
    spec = custom_spec(lay.name if isinstance(layout, Layout) or not str(layout).endswith(".json") else str(layout),
                       manifest)
    root = Path(raw) if raw is not None else index.parent
    names, label_of = class_names(table["label"].tolist(), classes)
    views = _ids(table["view"].tolist())
    subjects = _ids(table["subject"].tolist()) if "subject" in table.columns else {}
    scene_ids: dict[str, int] = {}
    taken: dict[tuple, int] = {}
    unit_list = []
    for k, row in enumerate(table.to_dict("records")):
        line = k + 2                                   # the file's line: its header is line 1
        scene = scene_ids.setdefault(row["scene"], len(scene_ids) + 1)
        name = row.get("name") or f"{row['scene']}-{row['view']}"
        label, setup = label_of.get(row["label"]), _int(row.get("setup", ""))
        fields = {"action": (label if label is not None else -1) + 1, "view": views[row["view"]], "scene": scene,
                  "subject": subjects.get(row.get("subject", ""), -1), "setup": setup if setup is not None else -1,
                  "replication": -1}
        path = Path(row["path"]) if Path(row["path"]).is_absolute() else root / row["path"]
        fmt = row.get("format") or FORMATS.get(path.suffix.lower())
        start, end = (_int(row[c]) if row.get(c) else None for c in ("start", "end"))
        problem = row_problem(row, label, fmt, path, start, end, taken.get((scene, row["view"])), line)
        taken.setdefault((scene, row["view"]), line)
        factor = 1.0 if fmt == "skeleton" else 0.001 if fmt == "azure" else UNITS[units]
        unit_list.append(RawUnit(path, name, fields, (CustomRow(line, fmt or "", factor, start, end, problem),)))
    protocols, sources = index_protocols(table, [u.name for u in unit_list], subjects, views)
    spec = replace(spec, n_views=max(len(views), 1), n_classes=len(names), class_names=tuple(names),
                   protocols=tuple(protocols))
    if isinstance(layout, Layout):
        spec.__dict__["layout"] = layout       # the cached property, filled: there is no file to load it from
    attrs = {"index": index.name, "index_sha256": hashlib.sha256(index.read_bytes()).hexdigest(),
             "index_values": {"view": list(views), "subject": list(subjects)}, "units": units}
    return CustomDataset(spec, unit_list, sources, attrs)


def row_problem(row: dict, label: int | None, fmt: str | None, path: Path, start: int | None, end: int | None,
                earlier: int | None, line: int) -> str | None:
    """Why a row cannot be a sample, or None (the reason names its line of the index)."""
    where = f"(index line {line})"
    if label is None:
        return f"unknown label: {row['label']!r} is not a class {where}"
    if earlier is not None:
        return f"a second row for scene {row['scene']!r} and view {row['view']!r}: line {earlier} came first {where}"
    if fmt not in FORMATS.values():
        return f"unknown format: {path.suffix or row.get('format')!r}; give skeleton, azure, npy, npz or csv {where}"
    if not path.is_file():
        return f"no such file: {path} {where}"
    if (row.get("start") or row.get("end")) and (start is None or end is None or not 1 <= start <= end):
        return f"bad interval: start {row.get('start')!r}, end {row.get('end')!r}: expected 1 <= start <= end {where}"
    return None


def index_protocols(table, names: list[str], subjects: dict, views: dict) -> tuple[list[Protocol], dict[str, str]]:
    """The index's `split:<protocol>` columns as protocols over sample names; without any, xsub
    and xview where the columns allow them."""
    split_cols = [c for c in table.columns if c.startswith("split:")]
    if split_cols:
        protocols, sources = [], {}
        for c in split_cols:
            part = [str(v).strip().lower() for v in table[c]]
            protocols.append(Protocol(name=c[6:], field="name",
                                      train=tuple(n for n, p in zip(names, part) if p == "train"),
                                      test=tuple(n for n, p in zip(names, part) if p == "test")))
            sources[c[6:]] = f"index column {c}"
        return protocols, sources
    protocols, sources = [], {}
    if len(subjects) >= 2:
        ids = np.random.default_rng(0).permutation(sorted(subjects.values()))
        protocols.append(Protocol(name="xsub", field="subject", train=tuple(int(s) for s in ids[:len(ids) // 2]),
                                  test=tuple(int(s) for s in ids[len(ids) // 2:])))
        sources["xsub"] = "rule: the subjects split in two halves, seeded (numpy default_rng(0) permutation)"
    if len(views) >= 2:
        last = max(views.values())
        protocols.append(Protocol(name="xview", field="view", train=tuple(range(1, last)), test=(last,)))
        sources["xview"] = f"rule: the last view ({list(views)[-1]!r}) is the test view"
    return protocols, sources


def custom_spec(layout: str, manifest: str | Path | None = None) -> DatasetSpec:
    """data_manifests/datasets/custom.json with the layout, and a user's manifest's keys over it
    (bodies, denoise, plausibility, limits)."""
    spec = replace(load_dataset("custom"), layout_name=layout)
    if manifest is None:
        return spec
    user = json_object(manifest, f"--manifest {manifest}")
    allowed = {"bodies", "denoise", "plausibility", "limits"}
    unknown = sorted(set(user) - allowed - {"source", "name"})
    if unknown:
        raise ValueError(f"--manifest {manifest}: keys {', '.join(unknown)} are not a dataset's rules "
                         f"(give {', '.join(sorted(allowed))})")
    extra = {**spec.extra, **{k: {**spec.extra.get(k, {}), **user[k]} for k in allowed & set(user) if k != "bodies"}}
    return replace(spec, bodies=int(user.get("bodies", spec.bodies)), extra=extra)


def write_index_from_pattern(raw: str | Path, pattern: str, out: str | Path, overwrite: bool = False) -> list[dict]:
    """`skel index`: the rows of index_from_pattern, written to `out` as CSV (never over an
    existing file unless `overwrite`; ValueError when no file matches)."""
    import pandas as pd
    out = Path(out)
    if out.exists() and not overwrite:
        raise ValueError(f"{out} exists; give --overwrite to replace it")
    rows = index_from_pattern(raw, pattern)
    if not rows:
        raise ValueError(f"no file under {raw} matches --pattern {pattern!r}")
    columns = ["path", "label", "view", "scene", *[k for k in rows[0] if k not in ("path", "label", "view", "scene")]]
    pd.DataFrame(rows, columns=columns).to_csv(out, index=False)
    return rows


def index_from_pattern(raw: str | Path, pattern: str) -> list[dict]:
    """Rows of an index from the paths under `raw` that match `pattern` (relative paths with
    `{field}` placeholders, e.g. `{subject}/{scene}_{view}.json`): path, label (empty unless
    the pattern names it), view, scene, and any other field the pattern names."""
    fields = re.findall(r"{(\w+)}", pattern)
    if not {"scene", "view"} <= set(fields):
        raise ValueError(f"--pattern {pattern!r}: it must name {{scene}} and {{view}}")
    if len(set(fields)) != len(fields) or any(f in ("path",) or f[0].isdigit() for f in fields):
        raise ValueError(f"--pattern {pattern!r}: name each field once, with a name (not path)")
    raw = Path(raw)
    regex = re.compile("^" + "".join(f"(?P<{part[1:-1]}>[^/]+?)" if re.fullmatch(r"{\w+}", part) else re.escape(part)
                                     for part in re.split(r"({\w+})", pattern) if part) + "$")
    rows = []
    for folder, fn in walk_files(Path(raw)):
        rel = (folder / fn).relative_to(raw).as_posix()
        m = regex.match(rel)
        if m:
            rows.append({"path": rel, "label": m.groupdict().get("label", ""), **m.groupdict()})
    return rows
