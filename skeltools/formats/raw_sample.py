"""The reader output shared by every format: per-(frame, body) joint records."""
from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np


def reason_kind(reason: str) -> str:
    """The code of a skip reason: its text before any detail (a colon or a parenthesis),
    numbers written as N, so that reasons of one kind group together."""
    return re.sub(r"\d+", "N", reason.split(" (")[0].split(":")[0])


class SampleError(Exception):
    """A raw file that cannot become a sample; the message is the reason stored in the store,
    and its text before any detail is the reason's code."""

    @property
    def code(self) -> str:
        return reason_kind(str(self))


@dataclass(frozen=True)
class Skipped:
    """Why a unit or a sample was not written: `code` is what `skel stats` groups by (stored
    as skipped/code), `detail` the whole reason with its line, frame or value (skipped/reason)."""

    code: str
    detail: str

    @classmethod
    def of(cls, reason: str) -> Skipped:
        return cls(reason_kind(reason), reason)

    def __str__(self) -> str:
        return self.detail


@dataclass
class RawSample:
    """Joint records of one raw sample, before body selection.

    `frame[r]` is the 0-based frame of record r, `body_id[r]` the tracker's body ID and
    `xyz[r]` the (J, 3) joint positions. `n_frames` counts every frame of the file,
    including frames with no body.
    """

    frame: np.ndarray
    body_id: np.ndarray
    xyz: np.ndarray
    n_frames: int
