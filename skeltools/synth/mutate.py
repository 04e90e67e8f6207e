"""Seeded mutations of raw text files, as a fuzzer makes them: what a disk, a copy, an
editor or a buggy converter does to a file. Used by tests/test_fuzz.py (a fast seeded
subset) and benchmarks/fuzz_prepare.py (the long run)."""
from __future__ import annotations

import re
from typing import Callable

import numpy as np

NUMBER = re.compile(rb"-?\d+\.\d+(?:[eE][-+]?\d+)?|-?\d+")


def _numbers(data: bytes) -> list[re.Match]:
    return list(NUMBER.finditer(data))


def _replace_number(data: bytes, rng: np.random.Generator, new: Callable[[bytes], bytes]) -> bytes:
    found = _numbers(data)
    if not found:
        return data + b"x"
    m = found[int(rng.integers(len(found)))]
    return data[:m.start()] + new(m.group()) + data[m.end():]


def _lines(data: bytes) -> list[bytes]:
    return data.split(b"\n")


def _pick_line(data: bytes, rng: np.random.Generator) -> tuple[list[bytes], int]:
    lines = _lines(data)
    return lines, int(rng.integers(len(lines)))


def delete_char(data, rng):
    k = int(rng.integers(len(data))) if data else 0
    return data[:k] + data[k + 1:]


def insert_char(data, rng):
    k = int(rng.integers(len(data) + 1))
    return data[:k] + bytes([int(rng.choice(list(b"0123456789.-+eE x\t\r\n,;")))]) + data[k:]


def flip_byte(data, rng):
    if not data:
        return b"\xff"
    k = int(rng.integers(len(data)))
    return data[:k] + bytes([data[k] ^ (1 << int(rng.integers(8)))]) + data[k + 1:]


def truncate(data, rng):
    return data[:int(rng.integers(len(data) + 1))]


def drop_decimal_point(data, rng):
    return _replace_number(data, rng, lambda s: s.replace(b".", b"", 1))


def huge_value(data, rng):
    return _replace_number(data, rng, lambda s: rng.choice([b"1e30", b"-1e30", b"1e400", b"99999999"]))


def non_finite(data, rng):
    return _replace_number(data, rng, lambda s: rng.choice([b"nan", b"inf", b"-inf", b"NaN"]))


def negate_count(data, rng):
    return _replace_number(data, rng, lambda s: b"-" + s.lstrip(b"-") if b"." not in s else s)


def delete_line(data, rng):
    lines, k = _pick_line(data, rng)
    return b"\n".join(lines[:k] + lines[k + 1:])


def duplicate_line(data, rng):
    lines, k = _pick_line(data, rng)
    return b"\n".join(lines[:k + 1] + lines[k:])


def join_lines(data, rng):
    lines, k = _pick_line(data, rng)
    if k + 1 >= len(lines):
        return data
    return b"\n".join(lines[:k] + [lines[k] + b" " + lines[k + 1]] + lines[k + 2:])


def swap_lines(data, rng):
    lines = _lines(data)
    a, b = (int(x) for x in rng.integers(len(lines), size=2))
    lines[a], lines[b] = lines[b], lines[a]
    return b"\n".join(lines)


def cr_only(data, rng):
    return data.replace(b"\r\n", b"\n").replace(b"\n", b"\r")


def empty(data, rng):
    return rng.choice([b"", b"\n\n\n", b"   "])


def joint_glitch(data, rng):
    """A coordinate moved 1.6-3 m: still a plausible number, an implausible jump between frames
    (a tracking glitch, which the joint-speed bound must catch)."""
    found = [m for m in _numbers(data) if b"." in m.group()]
    if not found:
        return data
    m = found[int(rng.integers(len(found)))]
    moved = float(m.group()) + float(rng.choice([-1.0, 1.0]) * rng.uniform(1.6, 3.0))
    return data[:m.start()] + f"{moved:.6f}".encode() + data[m.end():]


def amplified_count(data, rng):
    """The file's first number times 10 000: a header claiming far more frames than the file holds."""
    m = NUMBER.search(data)
    if m is None or b"." in m.group():
        return data
    return data[:m.start()] + str(int(m.group()) * 10000).encode() + data[m.end():]


def binary_garbage(data, rng):
    return rng.bytes(int(rng.integers(1, 4096)))


def doubled(data, rng):
    return data + data


MUTATIONS: dict[str, Callable[[bytes, np.random.Generator], bytes]] = {
    f.__name__: f for f in (delete_char, insert_char, flip_byte, truncate, drop_decimal_point, huge_value,
                            non_finite, negate_count, delete_line, duplicate_line, join_lines, swap_lines, cr_only,
                            empty, binary_garbage, doubled, joint_glitch, amplified_count)
}


def mutate(data: bytes, rng: np.random.Generator, rounds: int = 1) -> tuple[bytes, list[str]]:
    """`rounds` random mutations applied in turn; returns the bytes and the mutation names."""
    names = []
    for _ in range(rounds):
        name = str(rng.choice(list(MUTATIONS)))
        data = MUTATIONS[name](data, rng)
        names.append(name)
    return data, names
