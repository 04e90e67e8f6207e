"""N-UCLA Multiview Action3D reader (FORMATS.md section 2).

A sample is a folder `view_N/aXX_sYY_eZZ/` of per-frame files
`frame_<n>_tc_<tc>_skeletons.txt`, read in numeric frame order. Each frame file holds
blocks of one integer line plus J lines of `x,y,z,state`; when a frame holds several
skeletons the one nearest the camera (smallest mean z) is kept. Empty or short frame
files are dropped (and counted in `RawSample.n_frames` vs the kept frames).
"""
from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
from numba import njit

from .raw_sample import RawSample, SampleError
from .text_kernels import (ERR_TRUNCATED, MESSAGES, OK, end_line, line_end_problem, pow10_table, read_floats,
                           read_number, skip_blank_lines, skip_number)
from .units import RawUnit, check_frames, check_size, unreadable_unit

MAX_SKELETONS = 16


@njit(cache=True)
def parse_frame(buf, n_joints, pow10):
    """Blocks of (header line, n_joints lines of 4 numbers) with commas already blanked.

    Returns (err, err_line, n_skeletons, xyz (MAX_SKELETONS, J, 3)); a block cut short
    ends the file (err ERR_TRUNCATED with the skeletons before it kept)."""
    xyz = np.zeros((MAX_SKELETONS, n_joints, 3), np.float32)
    joint_rows = xyz.reshape((MAX_SKELETONS * n_joints, 3))  # a view: row k * n_joints + j
    pos, line = skip_blank_lines(buf, 0, 1)
    k = 0
    while pos < buf.shape[0] and k < MAX_SKELETONS:
        err, _, _, _, pos = read_number(buf, pos, pow10)
        if err == OK:
            err, pos, line = end_line(buf, pos, line)
        if err != OK:
            return err, line, k, xyz
        for j in range(n_joints):
            pos, line = skip_blank_lines(buf, pos, line)
            if pos >= buf.shape[0]:
                return ERR_TRUNCATED, line, k, xyz
            err, pos = read_floats(buf, pos, joint_rows, k * n_joints + j, 3, pow10)
            if err == OK:
                err, pos = skip_number(buf, pos)   # tracking state
            if err == OK:
                err, pos, line = end_line(buf, pos, line)
            if err != OK:
                return err, line, k, xyz
        k += 1
        pos, line = skip_blank_lines(buf, pos, line)
    return OK, 0, k, xyz


def find_units(raw_dir: Path, spec) -> tuple[list[RawUnit], int]:
    """Sequence folders `view_N/aXX_sYY_eZZ` (anywhere under raw_dir); files elsewhere are
    ignored. Two folders of one sequence (a stray nested copy) are ordered by depth, then
    path, so that the shallowest is the sample and the other its duplicate."""
    view_re = re.compile(spec.extra["view_folder_pattern"])
    units, ignored = [], 0
    for root, dirs, files in os.walk(raw_dir, onerror=lambda e: units.append(unreadable_unit(Path(e.filename), e))):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        folder = Path(root)
        seq, view = spec.name_regex.match(folder.name), view_re.match(folder.parent.name)
        if seq is None or view is None:
            ignored += len(files)
            continue
        raw = {k: int(v) for k, v in seq.groupdict().items()}
        fields = {"subject": raw["subject"], "replication": raw["replication"], "view": int(view["view"]),
                  "action_id": raw["action"]}
        label = spec.extra["label_map"].get(str(raw["action"]))
        if label is not None:
            fields["action"] = label
        units.append(RawUnit(folder, spec.name_format.format(**{**fields, "action": raw["action"]}), fields))
    units.sort(key=lambda u: (u.name, str(u.path).count(os.sep), str(u.path)))
    return units, ignored


def frame_files(folder: Path, pattern: re.Pattern) -> list[Path]:
    """The folder's skeleton frame files in numeric frame order (not glob order)."""
    found = [(int(m["frame"]), fn) for fn in os.listdir(folder)
             if (m := pattern.match(fn)) and os.path.isfile(folder / fn)]   # regular files: a FIFO would block
    return [folder / fn for _, fn in sorted(found)]


def read_unit(unit: RawUnit, spec, buffer=None) -> list:   # buffer: see formats/__init__.py
    if "action" not in unit.fields:
        raise SampleError(f"action a{unit.fields['action_id']:02d} is not one of N-UCLA's 10 classes "
                          f"(label_map in data_manifests/datasets/nucla.json)")
    J = spec.layout.n_joints
    files = frame_files(unit.path, re.compile(spec.extra["frame_file_pattern"]))
    if not files:
        raise SampleError("no frame_<n>_tc_<tc>_skeletons.txt files in the folder")
    check_frames(len(files), spec)
    for p in files:
        check_size(p, spec)
    return [(unit.name, unit.fields, sample_of_frames([(p.name, p.read_bytes()) for p in files], J))]


def sample_of_frames(frames: list[tuple[str, bytes]], n_joints: int) -> RawSample:
    """One sequence from its frame files' (name, bytes), in order: in each frame the nearest
    skeleton in front of the camera (smallest positive mean depth); an empty or short frame,
    or one whose skeletons all lie at or behind the camera, is dropped."""
    pow10 = pow10_table()
    kept_frames, kept_xyz = [], []
    for t, (name, data) in enumerate(frames):
        err, line, k, xyz = parse_frame(np.frombuffer(data.replace(b",", b" "), dtype=np.uint8), n_joints, pow10)
        if err not in (OK, ERR_TRUNCATED):
            raise SampleError(f"{line_end_problem(data) or MESSAGES.get(err, err)} in {name} (line {line})")
        depth = xyz[:k, :, 2].mean(axis=1)
        if k == 0 or not (depth > 0).any():
            continue  # empty or short frame file, or nothing in front of the camera: dropped
        kept_frames.append(t)
        kept_xyz.append(xyz[np.argmin(np.where(depth > 0, depth, np.inf))])
    if not kept_frames:
        raise SampleError(f"all frames empty: {len(frames)} frame files, none with a whole skeleton")
    return RawSample(frame=np.array(kept_frames, np.int32), body_id=np.zeros(len(kept_frames), np.int64),
                     xyz=np.stack(kept_xyz), n_frames=len(frames))


def warm_up_sample(n_joints: int = 20) -> RawSample:
    """A small valid sample, parsed from frame texts built here, that `prepare` runs through
    every kernel before it forks its workers (so that no raw file is read in the writing
    process)."""
    rng = np.random.default_rng(0)
    frames = []
    body = rng.normal(0.0, 0.3, (n_joints, 3)) + [0.0, 0.0, 3.0]     # one body moving a little: plausible
    for t, joints in enumerate(body + rng.normal(0.0, 0.01, (4, n_joints, 3))):
        lines = ["1"] + [f"{x:.7f},{y:.7f},{z:.7f},2" for x, y, z in joints]
        frames.append((f"frame_{t}", ("\r\n".join(lines) + "\r\n").encode()))
    return sample_of_frames(frames, n_joints)
