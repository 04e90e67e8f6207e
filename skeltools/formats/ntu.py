"""NTU RGB+D 60/120 `.skeleton` reader (FORMATS.md section 1.2).

The whole file is read once as bytes and parsed by one compiled kernel that checks the
declared counts against the content line by line; only x, y, z of each joint (and the
body ID) are parsed, the other fields are counted but not parsed, which halves the cost.
A joint line takes the first of three paths that accepts it: the byte-parallel one
(`_swar_joint_line`: 64 bytes classified at once, x y z of the plain [-]d.ddd form read
eight digits at a time, no branch on the data; count and body lines have one too,
`_swar_integer_line`), the scalar fast path (exponents, signs;
unsigned positions, an integer mantissa and one exact division), and the general path,
which also names what is wrong. Every coordinate equals Python's float() of its text,
rounded to float32: numbers outside the exact fast paths are re-read with float().
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from numba import njit, uint64

from .raw_sample import RawSample, SampleError
from .read_buffer import ReadBuffer
from .units import check_frames
from .simd import BLOCK, LITTLE_ENDIAN, classify, digits_ending_at, load_u8, popcount, trailing_zeros
from .text_kernels import (ERR_BAD_COUNT, ERR_EMPTY, ERR_JOINT_COUNT, ERR_LONG_LINE, ERR_NOT_INTEGER, ERR_SHORT_LINE,
                           ERR_TRAILING, ERR_TRUNCATED, MESSAGES, OK, count_fields, end_line, line_end_problem,
                           pow10_table, read_decimal, read_number, skip_blank_lines)

BODY_INFO_VALUES = 10
JOINT_VALUES = 12
MAX_BODIES_PER_FRAME = 64
MIN_JOINT_LINE_BYTES = 2 * JOINT_VALUES   # twelve one-character fields and their separators
REPAIRS = 256   # numbers per file re-read with float() before the kernel runs again with more room
_POWERS = tuple(10.0 ** k for k in range(16))   # exact doubles
_INT_POWERS = tuple(10 ** k for k in range(16))


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


@njit(cache=True, inline="always")
def _simple_joint_line(buf, pos, xyz, r, j, pow10):
    """The fast path for the line of joint j: blanks, x y z as [sign] digits [. digits]
    [e [sign] digits] with at most 15 digits (exact, as float()), then exactly nine more fields
    of printable characters, then the newline. Returns (True, position of the newline) or
    (False, _) for any other line, which the general path then reads (and explains, if it is
    wrong). Only called at a position inside a buffer that ends in a newline: every loop
    below stops at a newline, so none needs a bounds check; positions are unsigned, so
    indexing needs no wraparound check either."""
    p = uint64(pos)
    one = uint64(1)
    for k in range(3):
        while buf[p] == 32 or buf[p] == 9:
            p += one
        neg = buf[p] == 45
        if neg:
            p += one
        mant = 0
        digits = 0
        frac = 0
        while 48 <= buf[p] <= 57:
            mant = mant * 10 + (np.int64(buf[p]) - 48)
            digits += 1
            p += one
        if buf[p] == 46:
            p += one
            while 48 <= buf[p] <= 57:
                mant = mant * 10 + (np.int64(buf[p]) - 48)
                digits += 1
                frac += 1
                p += one
        if digits == 0 or digits > 15:
            return False, 0
        exp10 = -frac
        if buf[p] == 101 or buf[p] == 69:
            p += one
            eneg = buf[p] == 45
            if buf[p] == 45 or buf[p] == 43:
                p += one
            e = 0
            edigits = 0
            while 48 <= buf[p] <= 57 and edigits < 4:
                e = e * 10 + (np.int64(buf[p]) - 48)
                edigits += 1
                p += one
            if edigits == 0:
                return False, 0
            exp10 += -e if eneg else e
        if not (buf[p] == 32 or buf[p] == 9) or exp10 < -22 or exp10 > 22:
            return False, 0
        value = float(mant) * pow10[exp10] if exp10 >= 0 else float(mant) / pow10[-exp10]
        xyz[r, j, k] = -value if neg else value
    count = 0
    while True:
        c = buf[p]
        if c > 32:                       # a field: its characters in a tight loop
            count += 1
            p += one
            while buf[p] > 32:
                p += one
        elif c == 10:
            break
        elif c == 32 or c == 9 or c == 13:
            p += one
        else:                            # another control character: the general path decides
            return False, 0
    return count == JOINT_VALUES - 3, np.int64(p)


@njit(cache=True, inline="always")
def _field_at(start, sep):
    """The field that begins at or after offset `start` of a 64-byte window whose separators
    are the bits of `sep`: (True, its first byte, the separator after it), or (False, _, _)
    when the field does not begin and end inside the window."""
    if start >= uint64(BLOCK):
        return False, start, start
    s = start + trailing_zeros(~sep >> start)          # past the blanks
    if s >= uint64(BLOCK):
        return False, s, s
    e = s + trailing_zeros(sep >> s)                    # the first separator after the field
    return e < uint64(BLOCK), s, e


@njit(cache=True, inline="always")
def _swar_number(base, start, sep, dot, digit):
    """The number whose field begins at or after offset `start` of the 64-byte window at
    address `base`, read from the window's masks: [-] digits [. digits], at most 8 digits
    before the point and 15 in all (so exact, as float()). Returns (ok, value, offset of the
    byte after it); not ok for any other form, or a field that does not end in the window."""
    one = uint64(1)
    found, s, e = _field_at(start, sep)
    if not found:
        return False, 0.0, e
    neg = load_u8(base + s) == 45
    s1 = s + (one if neg else uint64(0))
    d = s1 + trailing_zeros(dot >> s1)                  # the point, if the field has one
    has_dot = d < e
    n_int = (d if has_dot else e) - s1
    n_frac = e - d - one if has_dot else uint64(0)
    field = (((one << e) - one) >> s1) << s1
    wanted = field & ~((one << d) if has_dot else uint64(0))
    if (digit & field) != wanted or n_int > uint64(8) or n_int + n_frac > uint64(15) or n_int + n_frac == 0:
        return False, 0.0, e
    # the usual shapes (one digit before the point, at most eight after it) take one word each
    whole = uint64(load_u8(base + s1)) - uint64(48) if n_int == one else digits_ending_at(base + s1 + n_int, n_int)
    if n_frac <= uint64(8):
        frac = digits_ending_at(base + e, n_frac)
    else:
        frac = digits_ending_at(base + e - uint64(8), n_frac - uint64(8)) * uint64(100000000) + \
            digits_ending_at(base + e, uint64(8))
    value = float(whole * uint64(_INT_POWERS[n_frac]) + frac) / _POWERS[n_frac]
    return True, -value if neg else value, e


@njit(cache=True, inline="always")
def _swar_integer(base, start, sep, digit):
    """The unsigned integer (at most 18 digits) whose field begins at or after offset `start`
    of the 64-byte window at `base` (which needs 24 readable bytes before it). Returns (ok,
    value, offset of the byte after it)."""
    one = uint64(1)
    found, s, e = _field_at(start, sep)
    if not found:
        return False, uint64(0), e
    n = e - s
    field = (((one << e) - one) >> s) << s
    if (digit & field) != field or n > uint64(18):
        return False, uint64(0), e
    top = n - uint64(16) if n > uint64(16) else uint64(0)
    mid = n - top - uint64(8) if n - top > uint64(8) else uint64(0)
    value = (digits_ending_at(base + e - uint64(16), top) * uint64(10 ** 16)
             + digits_ending_at(base + e - uint64(8), mid) * uint64(10 ** 8)
             + digits_ending_at(base + e, n - top - mid))
    return True, value, e


@njit(cache=True, inline="always")
def _swar_fields_to_newline(p, e, limit, newline, sep, control):
    """The fields from offset `e` of the window at `p` (classified into the masks) to the end
    of the line, counted 64 bytes at a time. Returns (ok, count, address of the newline);
    not ok for a control character on the way or no newline 64 bytes before `limit`."""
    one = uint64(1)
    count = uint64(0)
    keep = ~uint64(0) << e
    carry = uint64(0)                # (bit 0 of the first window lies before e: masked by keep)
    while True:
        starts = ~sep & ((sep << one) | carry)
        ends = newline & keep
        if ends != 0:
            keep &= (ends & (~ends + one)) - one
            count += popcount(starts & keep)
            return (control & keep) == 0, count, p + trailing_zeros(ends)
        count += popcount(starts & keep)
        if (control & keep) != 0:
            return False, count, p
        carry = sep >> uint64(BLOCK - 1)
        keep = ~uint64(0)
        p += uint64(BLOCK)
        if p + uint64(BLOCK) > limit:
            return False, count, p
        newline, sep, _, _, control = classify(p)


@njit(cache=True, inline="always")
def _swar_joint_line(base, limit):
    """The byte-parallel fast path for the joint line at address `base` (which needs 16
    readable bytes before it, and 64 after it; `limit` is the buffer's end): x y z by
    `_swar_number` from one window's masks, then the other fields counted. Returns (True,
    address of the newline, x, y, z) for a line of exactly twelve fields whose x y z it
    could read, else (False, ...) and the scalar paths read it."""
    newline, sep, dot, digit, control = classify(base)
    ok0, x, e = _swar_number(base, uint64(0), sep, dot, digit)
    ok1, y, e = _swar_number(base, e, sep, dot, digit)
    ok2, z, e = _swar_number(base, e, sep, dot, digit)
    if not (ok0 and ok1 and ok2) or ((newline | control) & ((uint64(2) << e) - uint64(1))) != 0:
        return False, base, x, y, z
    ok, count, end = _swar_fields_to_newline(base, e, limit, newline, sep, control)
    return ok and count == uint64(JOINT_VALUES - 3), end, x, y, z


@njit(cache=True, inline="always")
def _swar_integer_line(base, limit, more):
    """The byte-parallel path for a line of an unsigned integer and then `more` fields (a
    count line: 0; a body's line: its ID and 9 more), at address `base` (24 bytes readable
    before it, 64 after it). Returns (ok, the integer, address of the newline); a blank line,
    a sign, a point or over 18 digits are left to the scalar path."""
    newline, sep, _, digit, control = classify(base)
    ok, value, e = _swar_integer(base, uint64(0), sep, digit)
    if not ok or ((newline | control) & ((uint64(2) << e) - uint64(1))) != 0:
        return False, value, base
    ok, count, end = _swar_fields_to_newline(base, e, limit, newline, sep, control)
    return ok and count == uint64(more), value, end


@njit(cache=True, inline="always")
def _quick_integer_line(base, limit, pos, n, more):
    """`_swar_integer_line` at position `pos` where it may run (little-endian, 24 bytes before
    and 64 after): (taken, the integer, position after the newline); not taken: the scalar
    path reads the line."""
    if LITTLE_ENDIAN and 24 <= pos <= n - BLOCK:
        ok, value, at = _swar_integer_line(base + uint64(pos), limit, more)
        if ok:
            return True, np.int64(value), np.int64(at - base) + 1
    return False, np.int64(0), pos


@njit(cache=True)
def parse_skeleton(buf, n_joints, max_records, pow10, max_repairs):
    """Parse `.skeleton` bytes.

    Returns (err, err_line, aux, n_frames, n_records, rec_frame, rec_id, xyz, n_repairs,
    repairs): one record per (frame, body), `rec_frame` its 0-based frame, `rec_id` the 64-bit
    body ID and `xyz[r]` its (n_joints, 3) positions. A coordinate outside the exact fast path
    of `read_decimal` is listed in `repairs` (flat index into xyz, start and end byte) for
    the caller to re-read with float(); `n_repairs` counts them all, also beyond
    `max_repairs`. On error, `err_line` is 1-based and `aux` holds the offending count
    where there is one.
    """
    rec_frame = np.empty(max_records, np.int32)
    rec_id = np.empty(max_records, np.int64)
    xyz = np.empty((max_records, n_joints, 3), np.float32)
    repairs = np.empty((max_repairs, 3), np.int64)
    n_rep = 0
    n = buf.shape[0]
    pos, line = skip_blank_lines(buf, 0, 1)
    if pos >= n:
        return ERR_EMPTY, line, 0, 0, 0, rec_frame, rec_id, xyz, n_rep, repairs
    err, n_frames, pos, line = _read_int_line(buf, pos, line, pow10)
    if err != OK:
        return err, line, 0, 0, 0, rec_frame, rec_id, xyz, n_rep, repairs
    if n_frames < 0 or n_frames > max_records + 1 + n // 2:
        return ERR_BAD_COUNT, 1, n_frames, 0, 0, rec_frame, rec_id, xyz, n_rep, repairs
    base = uint64(buf.ctypes.data)     # the byte-parallel path reads by address (simd.py says why)
    limit = base + uint64(n)
    fast = buf[n - 1] == 10            # ends in a newline: the sentinel that stops every loop of the fast path
    r = 0
    for f in range(n_frames):
        quick, n_bodies, after = _quick_integer_line(base, limit, pos, n, 0)
        if quick:
            pos, line = after, line + 1
        else:
            err, n_bodies, pos, line = _read_int_line(buf, pos, line, pow10)
            if err != OK:
                return err, line, f, n_frames, r, rec_frame, rec_id, xyz, n_rep, repairs
        if n_bodies < 0 or n_bodies > MAX_BODIES_PER_FRAME:
            return ERR_BAD_COUNT, line - 1, n_bodies, n_frames, r, rec_frame, rec_id, xyz, n_rep, repairs
        for _ in range(n_bodies):
            if r >= max_records:
                return ERR_TRUNCATED, line, f, n_frames, r, rec_frame, rec_id, xyz, n_rep, repairs
            # the body's line (its ID and 9 more fields), then the joint count
            quick, body_id, after = _quick_integer_line(base, limit, pos, n, BODY_INFO_VALUES - 1)
            if quick:
                pos, line = after, line + 1
            else:
                pos, line = skip_blank_lines(buf, pos, line)
                if pos >= n:
                    return ERR_TRUNCATED, line, f, n_frames, r, rec_frame, rec_id, xyz, n_rep, repairs
                err, _, body_id, is_int, pos = read_number(buf, pos, pow10)
                if err == OK and not is_int:
                    err = ERR_NOT_INTEGER
                if err == OK:
                    err, pos = _rest_of_line(buf, pos, BODY_INFO_VALUES - 1)
                if err != OK:
                    return err, line, 0, n_frames, r, rec_frame, rec_id, xyz, n_rep, repairs
                err, pos, line = end_line(buf, pos, line)
                if err != OK:
                    return err, line, 0, n_frames, r, rec_frame, rec_id, xyz, n_rep, repairs
            quick, nj, after = _quick_integer_line(base, limit, pos, n, 0)
            if quick:
                pos, line = after, line + 1
            else:
                err, nj, pos, line = _read_int_line(buf, pos, line, pow10)
                if err != OK:
                    return err, line, 0, n_frames, r, rec_frame, rec_id, xyz, n_rep, repairs
            if nj != n_joints:
                return ERR_JOINT_COUNT, line - 1, nj, n_frames, r, rec_frame, rec_id, xyz, n_rep, repairs
            for j in range(n_joints):
                simple = False
                if LITTLE_ENDIAN and 24 <= pos <= n - BLOCK:
                    simple, at, x, y, z = _swar_joint_line(base + uint64(pos), limit)
                    if simple:
                        xyz[r, j, 0] = x
                        xyz[r, j, 1] = y
                        xyz[r, j, 2] = z
                        end = np.int64(at - base)
                if not simple:
                    simple, end = _simple_joint_line(buf, pos, xyz, r, j, pow10) if fast and pos < n else (False, 0)
                if simple:
                    pos = end + 1
                    line += 1
                    continue
                pos, line = skip_blank_lines(buf, pos, line)
                if pos >= n:
                    return ERR_TRUNCATED, line, f, n_frames, r, rec_frame, rec_id, xyz, n_rep, repairs
                for k in range(3):
                    start = pos
                    err, val, exact, pos = read_decimal(buf, pos, pow10)
                    if err != OK:
                        return err, line, 0, n_frames, r, rec_frame, rec_id, xyz, n_rep, repairs
                    xyz[r, j, k] = val
                    if not exact:
                        if n_rep < max_repairs:
                            repairs[n_rep, 0] = (r * n_joints + j) * 3 + k
                            repairs[n_rep, 1] = start
                            repairs[n_rep, 2] = pos
                        n_rep += 1
                err, pos = _rest_of_line(buf, pos, JOINT_VALUES - 3)  # pixels, orientation, state: counted
                if err != OK:
                    return err, line, 0, n_frames, r, rec_frame, rec_id, xyz, n_rep, repairs
                err, pos, line = end_line(buf, pos, line)
                if err != OK:
                    return err, line, 0, n_frames, r, rec_frame, rec_id, xyz, n_rep, repairs
            rec_frame[r] = f
            rec_id[r] = body_id
            r += 1
    pos, line = skip_blank_lines(buf, pos, line)
    if pos < n:
        return ERR_TRAILING, line, 0, n_frames, r, rec_frame, rec_id, xyz, n_rep, repairs
    return OK, 0, 0, n_frames, r, rec_frame, rec_id, xyz, n_rep, repairs


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
    buf = np.ascontiguousarray(buf, dtype=np.uint8)   # the byte-parallel path reads it by address
    max_records = buf.shape[0] // (MIN_JOINT_LINE_BYTES * n_joints) + 1   # a bound from the size alone
    room = REPAIRS
    while True:
        err, line, aux, n_frames, n_rec, rec_frame, rec_id, xyz, n_rep, repairs = parse_skeleton(
            buf, n_joints, max_records, pow10_table(), room)
        if n_rep <= room:
            break
        room = n_rep   # a file of long mantissas: once more, with room for every one
    if err != OK:
        raise SampleError(line_end_problem(buf.tobytes()) or _error_text(err, line, aux, n_joints))
    flat = xyz.reshape(-1)
    for index, start, end in repairs[:n_rep]:   # the few numbers the fast path cannot round exactly
        flat[index] = float(buf[start:end].tobytes())
    return RawSample(frame=rec_frame[:n_rec], body_id=rec_id[:n_rec], xyz=xyz[:n_rec], n_frames=int(n_frames))


def read_ntu(path: str | Path, n_joints: int = 25, buffer: ReadBuffer | None = None,
             max_bytes: int | None = None) -> RawSample:
    """Read one `.skeleton` file (LF or CRLF), into `buffer` if given (the parsed sample does
    not point into it); a file over `max_bytes` is refused before it is read."""
    return parse_ntu_bytes((buffer or ReadBuffer()).read(path, max_bytes), n_joints)


def read_unit(unit, spec, buffer: ReadBuffer | None = None) -> list:
    """The entry point `prepare` calls for datasets with `"reader": "ntu"`: one file, one sample,
    within the manifest's limits (file size before reading, frames after)."""
    raw = read_ntu(unit.path, spec.layout.n_joints, buffer, spec.extra.get("limits", {}).get("max_file_bytes"))
    check_frames(raw.n_frames, spec)
    return [(unit.name, unit.fields, raw)]


def warm_up_sample(n_joints: int = 25) -> RawSample:
    """A small valid sample, parsed from text built here, that `prepare` runs through every
    kernel before it forks its workers (so that no raw file is read in the writing process)."""
    rng = np.random.default_rng(0)
    body = rng.normal(0.0, 0.3, (n_joints, 3)) + [0.0, 0.0, 3.0]      # one body moving a little: plausible
    lines = ["2"]
    for _ in range(2):
        lines += ["1", "72057594037931101 0 1 1 1 1 0 0.02 0.05 2", str(n_joints)]
        for x, y, z in body + rng.normal(0.0, 0.01, (n_joints, 3)):
            lines.append(f"{x:.7f} {y:.7f} {z:.7f} 277.4 191.8 1036.2 519.1 -0.2 0.05 0.96 -0.12 2")
    # a writable array, as ReadBuffer gives: numba compiles a kernel once per argument type, and a
    # read-only buffer here would leave the real files' variant to be compiled in every worker
    return parse_ntu_bytes(np.frombuffer(bytearray(("\r\n".join(lines) + "\r\n").encode()), np.uint8), n_joints)
