"""NTU RGB+D 60/120 `.skeleton` reader (FORMATS.md section 1.2).

The whole file is read once as bytes and parsed by one compiled kernel that checks the
declared counts against the content line by line; only x, y, z of each joint (and the
body ID) are parsed, the other fields are counted but not parsed, which halves the cost.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from numba import njit

from .raw_sample import RawSample, SampleError
from .text_kernels import (ERR_BAD_COUNT, ERR_EMPTY, ERR_JOINT_COUNT, ERR_LONG_LINE, ERR_NOT_INTEGER, ERR_SHORT_LINE,
                           ERR_TRAILING, ERR_TRUNCATED, MESSAGES, OK, count_fields, end_line, line_end_problem,
                           pow10_table, read_number, skip_blank_lines)

BODY_INFO_VALUES = 10
JOINT_VALUES = 12
MAX_BODIES_PER_FRAME = 64


@njit(cache=True)
def _read_int_line(buf, pos, line, pow10):
    """A line holding exactly one integer (a count)."""
    pos, line = skip_blank_lines(buf, pos, line)
    if pos >= buf.shape[0]:
        return ERR_TRUNCATED, 0, pos, line
    err, _, ival, is_int, pos = read_number(buf, pos, pow10)
    if err != OK:
        return err, 0, pos, line
    if not is_int:
        return ERR_NOT_INTEGER, 0, pos, line
    err, pos, line2 = end_line(buf, pos, line)
    if err != OK:
        return err, 0, pos, line
    return OK, ival, pos, line2


@njit(cache=True)
def _rest_of_line(buf, pos, expected):
    """The fields that are not kept: only their number is checked (not parsed)."""
    count, pos = count_fields(buf, pos)
    if count < expected:
        return (ERR_TRUNCATED if pos >= buf.shape[0] else ERR_SHORT_LINE), pos
    if count > expected:
        return ERR_LONG_LINE, pos
    return OK, pos


@njit(cache=True)
def parse_skeleton(buf, n_joints, max_records, pow10):
    """Parse `.skeleton` bytes.

    Returns (err, err_line, aux, n_frames, n_records, rec_frame, rec_id, xyz): one record
    per (frame, body), `rec_frame` its 0-based frame, `rec_id` the 64-bit body ID and
    `xyz[r]` its (n_joints, 3) positions. On error, `err_line` is 1-based and `aux` holds
    the offending count where there is one.
    """
    rec_frame = np.empty(max_records, np.int32)
    rec_id = np.empty(max_records, np.int64)
    xyz = np.empty((max_records, n_joints, 3), np.float32)
    n = buf.shape[0]
    pos, line = skip_blank_lines(buf, 0, 1)
    if pos >= n:
        return ERR_EMPTY, line, 0, 0, 0, rec_frame, rec_id, xyz
    err, n_frames, pos, line = _read_int_line(buf, pos, line, pow10)
    if err != OK:
        return err, line, 0, 0, 0, rec_frame, rec_id, xyz
    if n_frames < 0 or n_frames > max_records + 1 + n // 2:
        return ERR_BAD_COUNT, 1, n_frames, 0, 0, rec_frame, rec_id, xyz
    r = 0
    for f in range(n_frames):
        err, n_bodies, pos, line = _read_int_line(buf, pos, line, pow10)
        if err != OK:
            return err, line, f, n_frames, r, rec_frame, rec_id, xyz
        if n_bodies < 0 or n_bodies > MAX_BODIES_PER_FRAME:
            return ERR_BAD_COUNT, line - 1, n_bodies, n_frames, r, rec_frame, rec_id, xyz
        for _ in range(n_bodies):
            if r >= max_records:
                return ERR_TRUNCATED, line, f, n_frames, r, rec_frame, rec_id, xyz
            pos, line = skip_blank_lines(buf, pos, line)
            if pos >= n:
                return ERR_TRUNCATED, line, f, n_frames, r, rec_frame, rec_id, xyz
            err, _, body_id, is_int, pos = read_number(buf, pos, pow10)
            if err == OK and not is_int:
                err = ERR_NOT_INTEGER
            if err == OK:
                err, pos = _rest_of_line(buf, pos, BODY_INFO_VALUES - 1)
            if err != OK:
                return err, line, 0, n_frames, r, rec_frame, rec_id, xyz
            err, pos, line = end_line(buf, pos, line)
            if err != OK:
                return err, line, 0, n_frames, r, rec_frame, rec_id, xyz
            err, nj, pos, line = _read_int_line(buf, pos, line, pow10)
            if err != OK:
                return err, line, 0, n_frames, r, rec_frame, rec_id, xyz
            if nj != n_joints:
                return ERR_JOINT_COUNT, line - 1, nj, n_frames, r, rec_frame, rec_id, xyz
            for j in range(n_joints):
                pos, line = skip_blank_lines(buf, pos, line)
                if pos >= n:
                    return ERR_TRUNCATED, line, f, n_frames, r, rec_frame, rec_id, xyz
                for k in range(3):  # inline, not text_kernels.read_floats: the helper costs ~13 % here
                    err, val, _, _, pos = read_number(buf, pos, pow10)
                    if err != OK:
                        return err, line, 0, n_frames, r, rec_frame, rec_id, xyz
                    xyz[r, j, k] = val
                err, pos = _rest_of_line(buf, pos, JOINT_VALUES - 3)  # pixels, orientation, state: counted
                if err != OK:
                    return err, line, 0, n_frames, r, rec_frame, rec_id, xyz
                err, pos, line = end_line(buf, pos, line)
                if err != OK:
                    return err, line, 0, n_frames, r, rec_frame, rec_id, xyz
            rec_frame[r] = f
            rec_id[r] = body_id
            r += 1
    pos, line = skip_blank_lines(buf, pos, line)
    if pos < n:
        return ERR_TRAILING, line, 0, n_frames, r, rec_frame, rec_id, xyz
    return OK, 0, 0, n_frames, r, rec_frame, rec_id, xyz


def _error_text(err: int, line: int, aux: int, n_joints: int) -> str:
    msg = MESSAGES.get(err, f"parse error {err}")
    if err == ERR_JOINT_COUNT:
        msg = f"wrong joint count: {aux} joints, expected {n_joints}"
    elif err == ERR_TRUNCATED:
        msg = "truncated: file ends before the counts it declares"
    elif err == ERR_BAD_COUNT:
        msg = f"implausible count {aux}"
    return msg if err == ERR_EMPTY else f"{msg} (line {line})"


def parse_ntu_bytes(data: bytes | np.ndarray, n_joints: int = 25) -> RawSample:
    """Parse the bytes of one `.skeleton` file; raises SampleError naming the problem."""
    buf = np.frombuffer(data, dtype=np.uint8) if isinstance(data, (bytes, bytearray, memoryview)) else data
    n_lines = int(np.count_nonzero(buf == 10)) + 1
    max_records = n_lines // (n_joints + 2) + 1
    err, line, aux, n_frames, n_rec, rec_frame, rec_id, xyz = parse_skeleton(buf, n_joints, max_records, pow10_table())
    if err != OK:
        raise SampleError(line_end_problem(buf.tobytes()) or _error_text(err, line, aux, n_joints))
    return RawSample(frame=rec_frame[:n_rec].copy(), body_id=rec_id[:n_rec].copy(), xyz=xyz[:n_rec].copy(),
                     n_frames=int(n_frames))


def read_ntu(path: str | Path, n_joints: int = 25) -> RawSample:
    """Read one `.skeleton` file (LF or CRLF)."""
    return parse_ntu_bytes(Path(path).read_bytes(), n_joints)


def read_unit(unit, spec) -> list:
    """The entry point `prepare` calls for datasets with `"reader": "ntu"`: one file, one sample."""
    return [(unit.name, unit.fields, read_ntu(unit.path, spec.layout.n_joints))]
