"""The readable body selection that skeltools.bodies.select_tracks compiles into one kernel
(the code before it was compiled), kept as the independent reference it is tested against."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from skeltools.bodies import DenoiseParams
from skeltools.formats.raw_sample import RawSample, SampleError
from skeltools.kernels import motion, spread_valid


@dataclass
class Track:
    """One body ID's joints over the frames where it appears."""

    body_id: int
    frames: np.ndarray   # indices into the non-empty frames
    xyz: np.ndarray      # (len(frames), J, 3)
    motion: float = 0.0


def tracks_by_body(raw: RawSample) -> tuple[list[Track], int]:
    """Group the records by body ID (in order of first appearance) over non-empty frames."""
    if len(raw.frame) == 0:
        raise SampleError(f"all frames empty: no body in any of {raw.n_frames} frames")
    bad = ~np.isfinite(raw.xyz).all(axis=(1, 2))
    if bad.any():
        raise SampleError(f"non-finite coordinates (NaN or inf) in frame {int(raw.frame[np.argmax(bad)]) + 1}")
    kept_frames, frame_index = np.unique(raw.frame, return_inverse=True)
    ids, first = np.unique(raw.body_id, return_index=True)
    tracks = []
    for body_id in ids[np.argsort(first, kind="stable")]:
        rec = np.flatnonzero(raw.body_id == body_id)
        frames, keep = np.unique(frame_index[rec], return_index=True)  # one record per frame
        xyz = raw.xyz[rec[keep]]
        tracks.append(Track(int(body_id), frames, xyz, float(motion(xyz))))
    return tracks, len(kept_frames)


def drop_noise(tracks: list[Track], params: DenoiseParams) -> list[Track]:
    """Length filter, then spread filter, each only while more than one body is left."""
    if len(tracks) > 1:
        long_enough = [t for t in tracks if len(t.frames) > params.max_short_frames]
        tracks = long_enough or [max(tracks, key=lambda t: len(t.frames))]
    kept = list(tracks)
    for t in tracks:
        if len(kept) <= 1:
            break
        valid = spread_valid(t.xyz, params.spread_ratio)
        if 1.0 - valid.mean() >= params.max_invalid_share:
            kept.remove(t)
        elif valid.any():
            t.motion = min(t.motion, float(motion(t.xyz[valid])))
    return kept


def pack_actors(tracks: list[Track], n_frames: int, slots: int) -> np.ndarray:
    """Rank by motion and pack into `slots` actors; returns (slots, frames, J, 3) without empty frames."""
    order = sorted(tracks, key=lambda t: -t.motion)
    J = order[0].xyz.shape[1]
    out = np.zeros((slots, n_frames, J, 3), np.float32)
    used = np.zeros((slots, n_frames), np.bool_)
    for t in order:
        for s in range(slots):
            if not used[s, t.frames].any():
                out[s, t.frames] = t.xyz
                used[s, t.frames] = True
                break
    return out[:, used.any(axis=0)]


def reference_select_bodies(raw: RawSample, slots: int, params: DenoiseParams = DenoiseParams()) -> np.ndarray:
    """The main bodies of a raw sample as (slots, L, J, 3); an unused slot is all zeros."""
    tracks, n_frames = tracks_by_body(raw)
    return pack_actors(drop_noise(tracks, params), n_frames, slots)
