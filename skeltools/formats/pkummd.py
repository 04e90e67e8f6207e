"""PKU-MMD phase 1 and 2 reader (FORMATS.md section 3).

A unit is one untrimmed video: a skeleton file (one line per frame of 150 values, body 2
all zero when absent) and its label file (`label,start,end,confidence`, 1-based inclusive
frames). Every labelled interval becomes one sample named `<video>_<instance>`, where the
instance is the label line's number; views L/M/R are 1/2/3.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
from numba import njit

from .raw_sample import RawSample, SampleError, Skipped
from .text_kernels import (ERR_LONG_LINE, ERR_NON_NUMERIC, ERR_SHORT_LINE, ERR_TRUNCATED, OK, count_content_lines,
                           end_line, line_end_problem, pow10_table, read_floats, skip_blank_lines)
from .units import RawUnit, check_frames, check_size, walk_files


@njit(cache=True)
def parse_rows(buf, n_values, max_rows, pow10):
    """Lines of exactly `n_values` numbers, blank lines skipped.

    Returns (err, err_line, n_rows, rows (max_rows, n_values)); a line with fewer values
    gives ERR_SHORT_LINE, one with more ERR_LONG_LINE (a lost newline joins two frames)."""
    rows = np.zeros((max_rows, n_values), np.float32)
    n = buf.shape[0]
    pos, line = skip_blank_lines(buf, 0, 1)
    r = 0
    while pos < n:
        if r >= max_rows:
            return ERR_LONG_LINE, line, r, rows
        err, pos = read_floats(buf, pos, rows, r, n_values, pow10)
        if err == ERR_TRUNCATED:
            err = ERR_SHORT_LINE    # the last line ends early
        if err != OK:
            return err, line, r, rows
        err, pos, line = end_line(buf, pos, line)
        if err != OK:
            return err, line, r, rows
        r += 1
        pos, line = skip_blank_lines(buf, pos, line)
    return OK, 0, r, rows


def _is_label(path: Path, spec) -> bool:
    folders = {f.lower() for f in spec.extra["label_folders"]}
    return path.suffix == ".label" or path.parent.name.lower() in folders


def find_units(raw_dir: Path, spec) -> tuple[list[RawUnit], int]:
    """Skeleton files paired with their label files by video name (`.txt` in the distributed
    folders, or `.skeleton` / `.label` side by side). A video is the name's fields, not its
    spelling: a second skeleton file of one video (another folder, or another spelling such as
    A1N1-L beside A01N01-L) is a unit of its own whose reason says which file came first, and a
    video with two label files keeps neither (its reason names both)."""
    letters = spec.extra["view_letters"]
    label_re = re.compile(spec.file_pattern.replace(r"\.(txt|skeleton)$", r"\.(txt|label)$"))
    skeletons: dict[tuple, list] = {}
    labels: dict[tuple, list[Path]] = {}
    ignored, unreadable = 0, []
    for folder, fn in walk_files(raw_dir, unreadable):
        path = folder / fn
        is_label = _is_label(path, spec)
        m = None if fn.startswith(".") else (label_re if is_label else spec.name_regex).match(fn)
        if m is None:
            ignored += 1
            continue
        fields = {k: int(v) for k, v in m.groupdict().items() if k not in ("view",) and v and v.isdigit()}
        fields["view"] = letters[m["view"]]
        key = tuple(sorted(fields.items()))
        (labels.setdefault(key, []).append(path) if is_label else
         skeletons.setdefault(key, []).append((fn.rsplit(".", 1)[0], path, fields)))
    ignored += sum(len(paths) for key, paths in labels.items() if key not in skeletons)
    units = []
    for key, found in skeletons.items():
        found.sort(key=lambda f: (str(f[1]).count(os.sep), f[1].name, str(f[1])))   # the shallowest, then by name
        for k, (video, path, fields) in enumerate(found):
            label = labels.get(key, [])
            same = [p for p in label if p.stem == video]   # a label spelled as its skeleton file goes with it
            label = same or label
            problem = f"another copy of video {found[0][0]} ({found[0][1]})" if k else \
                (f"two label files for one video: {', '.join(str(p) for p in sorted(label))}" if len(label) > 1
                 else None)
            units.append(RawUnit(path, video, fields, (label[0] if len(label) == 1 else None, problem)))
    units += unreadable
    units.sort(key=lambda u: (u.name, str(u.path)))
    return units, ignored


def _integer(text: str) -> int | None:
    """An integer field of a label line ('12', also '12.0'); None for '1.9', 'inf', '1e400', 'x'."""
    try:
        value = float(text)
    except ValueError:
        return None
    if not np.isfinite(value) or value != int(value):
        return None
    return int(value)


def read_labels(path: Path, spec) -> list[tuple[int, tuple[int, int, int] | Skipped]]:
    """(line number, (label, start, end) or the reason the line is unusable), blank lines
    skipped; the file within the manifest's limits (bytes, label lines)."""
    check_size(path, spec)
    out = []
    for k, line in enumerate(path.read_text(errors="replace").splitlines(), start=1):
        if not line.strip():
            continue
        parts = [p.strip() for p in line.replace(";", ",").split(",")]
        if len(parts) < 3:
            out.append((k, Skipped("bad label line", f"label file line {k}: too few fields, expected label,start,end,"
                                                     "confidence")))
            continue
        values = [_integer(p) for p in parts[:3]]
        bad = [f"{what} {p!r}" for what, p, v in zip(("label", "start", "end"), parts, values) if v is None]
        if bad:
            out.append((k, Skipped("bad label line", f"label file line {k}: not an integer: {', '.join(bad)}")))
            continue
        out.append((k, tuple(values)))
    check_frames(len(out), spec, "label lines")
    return out


def read_skeleton_rows(path: Path, n_values: int) -> np.ndarray:
    return rows_of_bytes(path.read_bytes(), n_values)


def rows_of_bytes(data: bytes, n_values: int) -> np.ndarray:
    """The frames x n_values matrix of a skeleton file's bytes; SampleError names a problem."""
    if not data.strip():
        raise SampleError("empty skeleton file")
    if (why := line_end_problem(data)) is not None:
        raise SampleError(why)
    buf = np.frombuffer(data, dtype=np.uint8)
    err, line, n, rows = parse_rows(buf, n_values, count_content_lines(buf), pow10_table())
    if err in (ERR_SHORT_LINE, ERR_LONG_LINE):
        few = err == ERR_SHORT_LINE
        raise SampleError(f"too {'few' if few else 'many'} values on a line: skeleton file line {line} holds "
                          f"{'fewer' if few else 'more'} than the {n_values} values of a frame")
    if err == ERR_NON_NUMERIC:
        raise SampleError(f"non-numeric value in the skeleton file (line {line})")
    if err != OK:
        raise SampleError(f"unreadable skeleton file (line {line}, code {err})")
    return rows[:n]


def instance_sample(rows: np.ndarray, start: int, end: int, joints: int) -> RawSample:
    """Frames start..end (1-based, inclusive) as per-body records; an all-zero body is absent.
    A non-finite value anywhere in the interval is a broken sample, never an absent frame."""
    seg = rows[start - 1:end].reshape(end - start + 1, -1, joints, 3)
    finite = np.isfinite(seg).all(axis=(1, 2, 3))
    if not finite.all():
        raise SampleError(f"non-finite coordinates (NaN or inf) in frame {start + int(np.argmin(finite))} "
                          "of the skeleton file")
    present = np.abs(seg).sum(axis=(2, 3)) > 0          # (L, bodies)
    t, b = np.nonzero(present)
    return RawSample(frame=t.astype(np.int32), body_id=b.astype(np.int64), xyz=seg[t, b], n_frames=len(seg))


def warm_up_sample(n_joints: int = 25) -> RawSample:
    """A small valid sample, parsed from text built here, that `prepare` runs through every
    kernel before it forks its workers (so that no raw file is read in the writing process)."""
    rng = np.random.default_rng(0)
    frames = rng.normal(0.0, 0.3, (2 * n_joints, 3)) + [0.0, 0.0, 3.0] + rng.normal(0.0, 0.01, (4, 2 * n_joints, 3))
    text = "".join(" ".join(f"{v:.6f}" for v in frame.reshape(-1)) + "\r\n" for frame in frames)
    return instance_sample(rows_of_bytes(text.encode(), 2 * n_joints * 3), 1, len(frames), n_joints)


def read_unit(unit: RawUnit, spec, buffer=None) -> list:   # buffer: see formats/__init__.py
    label_path, problem = unit.extra if len(unit.extra) == 2 else (unit.extra[0] if unit.extra else None, None)
    if problem is not None:
        raise SampleError(problem)
    if label_path is None:
        raise SampleError(f"no label file (looked for {unit.name}.txt in {', '.join(spec.extra['label_folders'])} "
                          "and for a .label file beside the skeleton file)")
    check_size(unit.path, spec)
    rows = read_skeleton_rows(unit.path, spec.extra["values_per_frame"])
    check_frames(len(rows), spec)
    labels = read_labels(label_path, spec)
    if not labels:
        raise SampleError("label file holds no instance")
    out = []
    for k, item in labels:
        name = f"{unit.name}_{k:03d}"
        fields = {**unit.fields, "replication": k}
        if isinstance(item, Skipped):
            out.append((name, fields, item))
            continue
        label, start, end = item
        fields["action"] = label
        if not 1 <= start <= end <= len(rows):
            out.append((name, fields, Skipped("label interval outside the skeleton file",
                                              f"label interval {start}-{end} outside the skeleton file's "
                                              f"{len(rows)} frames")))
            continue
        try:
            out.append((name, fields, instance_sample(rows, start, end, spec.layout.n_joints)))
        except SampleError as e:
            out.append((name, fields, Skipped.of(str(e))))
    return out
