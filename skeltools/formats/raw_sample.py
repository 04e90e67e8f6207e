"""The reader output shared by every format: per-(frame, body) joint records."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


class SampleError(Exception):
    """A raw file that cannot become a sample; the message is the reason stored in the store."""


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
