"""Body selection and denoising (FORMATS.md 1.6(a), the SGN / CTR-GCN rules).

Bodies are tracked by ID; short-lived bodies and bodies whose x spread exceeds their y
spread in most frames are dropped while more than one body is left; the rest are ranked
by motion and packed into M actor slots by non-overlapping frame sets. Frames where no
kept body appears are dropped. One compiled kernel does it all (it was 20 % of a sample's
time as numpy calls per body); tests/reference_bodies.py keeps the readable version that
it is tested against.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from numba import njit

from .formats.raw_sample import RawSample, SampleError
from .kernels import motion, spread_valid


@dataclass(frozen=True)
class DenoiseParams:
    """Thresholds, with SGN's defaults (get_raw_denoised_data.py)."""

    max_short_frames: int = 11          # noise_len_thres: a body seen in <= this many frames is noise
    spread_ratio: float = 0.8           # noise_spr_thres1: a frame is valid if x spread <= ratio * y spread
    max_invalid_share: float = 0.69754  # noise_spr_thres2: a body with this share of invalid frames is noise


SELECT_OK = 0
SELECT_NO_BODY = 1
SELECT_NON_FINITE = 2


@njit(cache=True)
def _first_of_runs(keys, order):
    """For records sorted by `order` (stable) on `keys`: the rank of each record's key among the
    distinct keys, and the distinct keys' count."""
    rank = np.empty(keys.shape[0], np.int64)
    k = -1
    for i in range(order.shape[0]):
        r = order[i]
        if i == 0 or keys[r] != keys[order[i - 1]]:
            k += 1
        rank[r] = k
    return rank, k + 1


@njit(cache=True)
def select_tracks(frame, body_id, xyz, slots, max_short, spread_ratio, max_invalid_share):
    """The body selection of this module as one kernel over the parser's records.

    Records are grouped by body ID (tracks in order of first appearance; one record per
    frame, the first), frames indexed among the non-empty ones; then the length filter and
    the spread filter while more than one track is left, ranking by motion (stable) and
    packing into `slots` by non-overlapping frames. Returns (status, bad record, poses
    (slots, L, J, 3) without frames that no kept body fills)."""
    R = frame.shape[0]
    J = xyz.shape[1]
    empty = np.zeros((slots, 0, J, 3), np.float32)
    if R == 0:
        return SELECT_NO_BODY, 0, empty
    for r in range(R):
        for j in range(J):
            for a in range(3):
                if not np.isfinite(xyz[r, j, a]):
                    return SELECT_NON_FINITE, r, empty
    frame_rank, n_frames = _first_of_runs(frame, np.argsort(frame, kind="mergesort"))
    by_id = np.argsort(body_id, kind="mergesort")            # records of one ID together, in file order
    id_rank, n_ids = _first_of_runs(body_id, by_id)
    first = np.full(n_ids, R, np.int64)
    for r in range(R):
        first[id_rank[r]] = min(first[id_rank[r]], r)
    track_of_id = np.argsort(np.argsort(first, kind="mergesort"), kind="mergesort")   # tracks by first appearance
    # every record's (track, frame) key; one record per key (the first in file order)
    key = np.empty(R, np.int64)
    for r in range(R):
        key[r] = track_of_id[id_rank[r]] * (n_frames + 1) + frame_rank[r]
    order = np.argsort(key, kind="mergesort")
    keep = np.empty(R, np.int64)
    n_keep = 0
    for i in range(R):
        if i == 0 or key[order[i]] != key[order[i - 1]]:
            keep[n_keep] = order[i]
            n_keep += 1
    keep = keep[:n_keep]
    start = np.zeros(n_ids + 1, np.int64)
    for i in range(n_keep):
        start[track_of_id[id_rank[keep[i]]] + 1] += 1
    for t in range(n_ids):
        start[t + 1] += start[t]
    tracks_xyz = np.empty((n_keep, J, 3), np.float32)
    tracks_frame = np.empty(n_keep, np.int64)
    for i in range(n_keep):
        tracks_xyz[i] = xyz[keep[i]]
        tracks_frame[i] = frame_rank[keep[i]]
    length = start[1:] - start[:-1]
    score = np.empty(n_ids)
    for t in range(n_ids):
        score[t] = motion(tracks_xyz[start[t]:start[t + 1]])
    alive = np.ones(n_ids, np.bool_)
    if n_ids > 1:                                             # length filter
        longest = 0
        n_long = 0
        for t in range(n_ids):
            if length[t] > max_short:
                n_long += 1
            if length[t] > length[longest]:
                longest = t
        for t in range(n_ids):
            alive[t] = length[t] > max_short if n_long > 0 else t == longest
    n_alive = int(alive.sum())
    for t in range(n_ids):                                    # spread filter, in track order
        if not alive[t]:
            continue
        if n_alive <= 1:
            break
        valid = spread_valid(tracks_xyz[start[t]:start[t + 1]], spread_ratio)
        n_valid = int(valid.sum())
        if 1.0 - n_valid / length[t] >= max_invalid_share:
            alive[t] = False
            n_alive -= 1
        elif n_valid > 0:
            score[t] = min(score[t], motion(tracks_xyz[start[t]:start[t + 1]][valid]))
    ranked = np.argsort(-score, kind="mergesort")
    out = np.zeros((slots, n_frames, J, 3), np.float32)
    used = np.zeros((slots, n_frames), np.bool_)
    for t in ranked:
        if not alive[t]:
            continue
        for s in range(slots):
            free = True
            for i in range(start[t], start[t + 1]):
                if used[s, tracks_frame[i]]:
                    free = False
                    break
            if free:
                for i in range(start[t], start[t + 1]):
                    out[s, tracks_frame[i]] = tracks_xyz[i]
                    used[s, tracks_frame[i]] = True
                break
    filled = np.zeros(n_frames, np.bool_)
    for s in range(slots):
        filled |= used[s]
    return SELECT_OK, 0, out[:, filled]


def select_bodies(raw: RawSample, slots: int, params: DenoiseParams = DenoiseParams()) -> np.ndarray:
    """The main bodies of a raw sample as (slots, L, J, 3); an unused slot is all zeros."""
    status, bad, poses = select_tracks(raw.frame, raw.body_id, raw.xyz, slots, params.max_short_frames,
                                       params.spread_ratio, params.max_invalid_share)
    if status == SELECT_NO_BODY:
        raise SampleError(f"all frames empty: no body in any of {raw.n_frames} frames")
    if status == SELECT_NON_FINITE:
        raise SampleError(f"non-finite coordinates (NaN or inf) in frame {int(raw.frame[bad]) + 1}")
    return poses
