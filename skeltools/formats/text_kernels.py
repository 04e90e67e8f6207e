"""Numba helpers that scan ASCII numbers out of a byte buffer, line-aware.

They are shared by the text formats (NTU `.skeleton`, N-UCLA, PKU-MMD). Each returns an
error code instead of raising, so that a kernel can report the line of the problem.
"""
from __future__ import annotations

import numpy as np
from numba import njit

OK = 0
ERR_EMPTY = 1
ERR_NON_NUMERIC = 2
ERR_SHORT_LINE = 3
ERR_LONG_LINE = 4
ERR_TRUNCATED = 5
ERR_JOINT_COUNT = 6
ERR_TRAILING = 7
ERR_BAD_COUNT = 8
ERR_NOT_INTEGER = 9

MESSAGES = {
    ERR_EMPTY: "empty file",
    ERR_NON_NUMERIC: "non-numeric value",
    ERR_SHORT_LINE: "too few values on a line",
    ERR_LONG_LINE: "too many values on a line",
    ERR_TRUNCATED: "truncated: file ends before the counts it declares",
    ERR_JOINT_COUNT: "wrong joint count",
    ERR_TRAILING: "counts do not match the content: data after the last declared frame",
    ERR_BAD_COUNT: "implausible count",
    ERR_NOT_INTEGER: "a count or ID is not an integer",
}

_POW10 = np.array([10.0 ** k for k in range(23)], dtype=np.float64)

INT64_MAX = 9223372036854775807
NL = 10
CR = 13
SPACE = 32
TAB = 9


@njit(cache=True, inline="always")
def is_blank(c: int) -> bool:
    return c == SPACE or c == TAB or c == CR


@njit(cache=True)
def skip_blank_lines(buf, pos, line):
    """Skip lines holding only blanks; returns the start of the next non-blank line."""
    n = buf.shape[0]
    start = pos
    while pos < n:
        c = buf[pos]
        if c == NL:
            pos += 1
            line += 1
            start = pos
        elif is_blank(c):
            pos += 1
        else:
            return start, line
    return n, line


@njit(cache=True, inline="always")
def read_number(buf, pos, pow10):
    """Parse one number at `pos` on the current line.

    Returns (err, value, int_value, is_integer, new_pos). Accepts a sign, decimals,
    exponents, and nan/inf spellings (so non-finite input is reported by the caller as
    such rather than as garbage).
    """
    n = buf.shape[0]
    while pos < n and is_blank(buf[pos]):
        pos += 1
    if pos >= n:
        return ERR_TRUNCATED, 0.0, 0, False, pos
    if buf[pos] == NL:
        return ERR_SHORT_LINE, 0.0, 0, False, pos
    neg = False
    c = buf[pos]
    if c == 45 or c == 43:  # - +
        neg = c == 45
        pos += 1
    if pos < n and (buf[pos] | 32) in (110, 105):  # n, i: nan / inf / infinity
        start = pos
        while pos < n and not is_blank(buf[pos]) and buf[pos] != NL:
            pos += 1
        first = buf[start] | 32
        if first == 110 and pos - start >= 3 and (buf[start + 1] | 32) == 97 and (buf[start + 2] | 32) == 110:
            return OK, np.nan, 0, False, pos
        if first == 105 and pos - start >= 3 and (buf[start + 1] | 32) == 110 and (buf[start + 2] | 32) == 102:
            return OK, -np.inf if neg else np.inf, 0, False, pos
        return ERR_NON_NUMERIC, 0.0, 0, False, pos
    mant = 0
    ndig = 0
    exp10 = 0
    seen_digit = False
    is_int = True
    while pos < n and 48 <= buf[pos] <= 57:
        seen_digit = True
        d = buf[pos] - 48
        if ndig < 18 or (ndig == 18 and mant <= (INT64_MAX - d) // 10):  # every int64 stays exact
            mant = mant * 10 + d
            if mant > 0:
                ndig += 1
        else:
            exp10 += 1
        pos += 1
    if pos < n and buf[pos] == 46:  # .
        is_int = False
        pos += 1
        while pos < n and 48 <= buf[pos] <= 57:
            seen_digit = True
            if ndig < 18:
                mant = mant * 10 + (buf[pos] - 48)
                if mant > 0:
                    ndig += 1
                exp10 -= 1
            pos += 1
    if not seen_digit:  # a sign or point alone: cut short at the end of the file, or garbage
        return (ERR_TRUNCATED if pos >= n else ERR_NON_NUMERIC), 0.0, 0, False, pos
    if pos < n and (buf[pos] | 32) == 101:  # e / E
        is_int = False
        pos += 1
        eneg = False
        if pos < n and (buf[pos] == 45 or buf[pos] == 43):
            eneg = buf[pos] == 45
            pos += 1
        if pos >= n:
            return ERR_TRUNCATED, 0.0, 0, False, pos
        if not (48 <= buf[pos] <= 57):
            return ERR_NON_NUMERIC, 0.0, 0, False, pos
        e = 0
        while pos < n and 48 <= buf[pos] <= 57:
            if e < 100000:
                e = e * 10 + (buf[pos] - 48)
            pos += 1
        exp10 += -e if eneg else e
    if pos < n and not (is_blank(buf[pos]) or buf[pos] == NL):
        return ERR_NON_NUMERIC, 0.0, 0, False, pos
    value = float(mant)
    if exp10 > 0:
        value = value * pow10[exp10] if exp10 <= 22 else value * 10.0 ** exp10
    elif exp10 < 0:
        value = value / pow10[-exp10] if exp10 >= -22 else value * 10.0 ** exp10
    if neg:
        value = -value
        mant = -mant
    return OK, value, mant, is_int and exp10 == 0, pos


TWO_POW_53 = 9007199254740992


@njit(cache=True, inline="always")
def _mantissa_digits(buf, pos, mant, digits, exp10, after_point):
    """Read a run of digits into the integer mantissa: up to 18 significant digits are kept
    (leading zeros are not counted); beyond that they are dropped, and mant >= 1e17 > 2^53
    then sends the number to float(). Returns (pos, mant, digits, exp10, any digit seen)."""
    n = buf.shape[0]
    seen = False
    while pos < n:
        d = np.int64(buf[pos]) - 48
        if d < 0 or d > 9:
            break
        seen = True
        if digits < 18:
            mant = mant * 10 + d
            digits += 1 if mant > 0 else 0
            exp10 -= 1 if after_point else 0
        elif not after_point:
            exp10 += 1
        pos += 1
    return pos, mant, digits, exp10, seen


@njit(cache=True, inline="always")
def read_decimal(buf, pos, pow10):
    """Parse one coordinate at `pos`: the fast path of `read_number` for the common form
    [sign] digits [. digits] [e [sign] digits], with an integer mantissa and one exact
    multiply or divide by a power of ten (Clinger's fast path: mantissa <= 2^53 and
    |exponent| <= 22 give the correctly rounded double, the value float() returns).

    Returns (err, value, exact, new_pos). `exact` is False where that condition fails (more
    than 15-16 significant digits, a huge exponent): the value is then close, and the caller
    re-reads the number with float(). Anything else (nan/inf, garbage) goes to read_number."""
    n = buf.shape[0]
    while pos < n and is_blank(buf[pos]):
        pos += 1
    start = pos
    if pos >= n or buf[pos] == NL:
        err, value, _, _, pos = read_number(buf, start, pow10)
        return err, value, True, pos
    neg = buf[pos] == 45
    if neg or buf[pos] == 43:
        pos += 1
    pos, mant, digits, exp10, seen = _mantissa_digits(buf, pos, 0, 0, 0, False)
    seen_fraction = False
    if pos < n and buf[pos] == 46:
        pos, mant, digits, exp10, seen_fraction = _mantissa_digits(buf, pos + 1, mant, digits, exp10, True)
    seen = seen or seen_fraction
    if pos < n and (buf[pos] | 32) == 101 and seen:  # e / E
        pos += 1
        eneg = False
        if pos < n and (buf[pos] == 45 or buf[pos] == 43):
            eneg = buf[pos] == 45
            pos += 1
        e = 0
        edigits = 0
        while pos < n:
            d = np.int64(buf[pos]) - 48
            if d < 0 or d > 9:
                break
            if e < 100000:
                e = e * 10 + d
            edigits += 1
            pos += 1
        if edigits == 0:
            seen = False
        exp10 += -e if eneg else e
    if not seen or (pos < n and not (is_blank(buf[pos]) or buf[pos] == NL)):
        err, value, _, _, pos = read_number(buf, start, pow10)   # nan/inf, or the reason it is not a number
        return err, value, True, pos
    exact = mant <= TWO_POW_53 and -22 <= exp10 <= 22
    if exact:
        value = float(mant) * pow10[exp10] if exp10 >= 0 else float(mant) / pow10[-exp10]
    else:
        value = float(mant) * 10.0 ** exp10
    return OK, -value if neg else value, exact, pos


@njit(cache=True, inline="always")
def count_fields(buf, pos):
    """Count the blank-separated fields left on the line without parsing them, with a tight
    inner loop over the characters of a field (the nine unused values of a joint line are
    most of its bytes); returns (count, position of the newline or the end)."""
    n = buf.shape[0]
    count = 0
    while pos < n:
        c = buf[pos]
        if c == NL:
            break
        if is_blank(c):
            pos += 1
            continue
        count += 1
        pos += 1
        while pos < n:
            c = buf[pos]
            if c > 32:
                pos += 1
            elif c == NL or is_blank(c):
                break
            else:                      # another control character: part of the field
                pos += 1
    return count, pos


@njit(cache=True, inline="always")
def read_floats(buf, pos, out, row, count, pow10):
    """Parse the next `count` numbers of the current line into out[row, :count]; returns
    (err, pos). A literal `count` lets the compiler unroll the loop once inlined."""
    for c in range(count):
        err, val, _, _, pos = read_number(buf, pos, pow10)
        if err != OK:
            return err, pos
        out[row, c] = val
    return OK, pos


@njit(cache=True, inline="always")
def skip_number(buf, pos):
    """Step over one field that is validated but not needed (about 3x cheaper than parsing).

    Only the characters of a number (digits, sign, point, exponent, nan/inf spellings)
    are accepted. Returns (err, new_pos)."""
    n = buf.shape[0]
    while pos < n and is_blank(buf[pos]):
        pos += 1
    if pos >= n:
        return ERR_TRUNCATED, pos
    if buf[pos] == NL:
        return ERR_SHORT_LINE, pos
    while pos < n:
        c = buf[pos]
        if 48 <= c <= 57 or c == 46 or c == 45 or c == 43:
            pos += 1
        elif is_blank(c) or c == NL:
            break
        elif (c | 32) in (101, 110, 97, 105, 102, 116, 121):  # e, and the letters of nan / inf / infinity
            pos += 1
        else:
            return ERR_NON_NUMERIC, pos
    return OK, pos


@njit(cache=True)
def end_line(buf, pos, line):
    """Require the rest of the line to be blank; returns (err, pos after newline, line+1)."""
    n = buf.shape[0]
    while pos < n and is_blank(buf[pos]):
        pos += 1
    if pos < n and buf[pos] != NL:
        return ERR_LONG_LINE, pos, line
    return OK, pos + 1, line + 1


@njit(cache=True)
def count_content_lines(buf) -> int:
    """Lines holding anything but blanks: bounds a row buffer by the real content (a file
    of blank lines must not cost memory per line)."""
    count = 0
    blank = True
    for c in buf:
        if c == NL:
            if not blank:
                count += 1
            blank = True
        elif not is_blank(c):
            blank = False
    return count + (0 if blank else 1)


def line_end_problem(data: bytes) -> str | None:
    """A clear reason for text whose lines end in CR alone (classic Mac), which the
    line-aware kernels would otherwise see as one long line."""
    if b"\r" in data and b"\n" not in data:
        return "line ends are CR only (classic Mac text): convert the file to LF or CRLF line ends"
    return None


def pow10_table() -> np.ndarray:
    """Exact powers of ten for the fast float path (passed to kernels, no global state)."""
    return _POW10
