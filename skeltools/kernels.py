"""Numba kernels of the per-sample transform: small pure functions over arrays.

Conventions: a sample is `poses[M, L, J, 3]` (bodies, frames, joints, xyz); a body is
absent in a frame when all its joints are exactly zero, and stays exactly zero through
every kernel here.
"""
from __future__ import annotations

import numpy as np
from numba import njit

ALIGN_OK = 0
ALIGN_SPINE_ON_ROOT = 1
ALIGN_HIPS_PARALLEL = 2


@njit(cache=True)
def body_present(poses):
    """(M, L) mask: body m has at least one non-zero joint coordinate in frame t."""
    M, L, J, _ = poses.shape
    out = np.zeros((M, L), np.bool_)
    for m in range(M):
        for t in range(L):
            for j in range(J):
                if poses[m, t, j, 0] != 0.0 or poses[m, t, j, 1] != 0.0 or poses[m, t, j, 2] != 0.0:
                    out[m, t] = True
                    break
    return out


@njit(cache=True)
def motion(xyz):
    """Sum over x, y, z of the variance of all joint positions of a body track (L, J, 3).
    The three axes are summed in one pass, each in the same order as three passes would: the
    same values, three independent chains of additions instead of one (it was most of the
    body selection's time)."""
    L, J, _ = xyz.shape
    n = L * J
    if n == 0:
        return 0.0
    sx = sy = sz = 0.0
    for t in range(L):
        for j in range(J):
            sx += xyz[t, j, 0]
            sy += xyz[t, j, 1]
            sz += xyz[t, j, 2]
    mx, my, mz = sx / n, sy / n, sz / n
    vx = vy = vz = 0.0
    for t in range(L):
        for j in range(J):
            dx = xyz[t, j, 0] - mx
            dy = xyz[t, j, 1] - my
            dz = xyz[t, j, 2] - mz
            vx += dx * dx
            vy += dy * dy
            vz += dz * dz
    return vx / n + vy / n + vz / n


@njit(cache=True)
def spread_valid(xyz, ratio):
    """(L,) mask of frames whose x spread is at most `ratio` times their y spread (SGN's rule)."""
    L, J, _ = xyz.shape
    out = np.empty(L, np.bool_)
    for t in range(L):
        xmin = xmax = xyz[t, 0, 0]
        ymin = ymax = xyz[t, 0, 1]
        for j in range(1, J):
            x = xyz[t, j, 0]
            y = xyz[t, j, 1]
            xmin = min(xmin, x)
            xmax = max(xmax, x)
            ymin = min(ymin, y)
            ymax = max(ymax, y)
        out[t] = (xmax - xmin) <= ratio * (ymax - ymin)
    return out


@njit(cache=True)
def alignment_rotation(root, spine, left_hip, right_hip, eps):
    """FoCoViL Eq. 1-2: the body frame R = [r0 r1 r2] (columns) and a status code.

    r0 = unit(spine - root); r1 = unit(left_hip - right_hip with its r0 part removed);
    r2 = r0 x r1. Status is ALIGN_SPINE_ON_ROOT or ALIGN_HIPS_PARALLEL when a norm is
    below `eps` (metres), in which case R is the identity.
    """
    R = np.eye(3)
    r0 = spine.astype(np.float64) - root.astype(np.float64)
    n0 = np.sqrt(np.sum(r0 * r0))
    if not n0 > eps:
        return ALIGN_SPINE_ON_ROOT, R
    r0 = r0 / n0
    h = left_hip.astype(np.float64) - right_hip.astype(np.float64)
    h = h - np.sum(h * r0) * r0
    n1 = np.sqrt(np.sum(h * h))
    if not n1 > eps:
        return ALIGN_HIPS_PARALLEL, R
    r1 = h / n1
    r2 = np.empty(3)
    r2[0] = r0[1] * r1[2] - r0[2] * r1[1]
    r2[1] = r0[2] * r1[0] - r0[0] * r1[2]
    r2[2] = r0[0] * r1[1] - r0[1] * r1[0]
    for i in range(3):
        R[i, 0] = r0[i]
        R[i, 1] = r1[i]
        R[i, 2] = r2[i]
    return ALIGN_OK, R


@njit(cache=True)
def apply_alignment(poses, R, origin, present=None):
    """x' = R^T (x - origin) for every present body-frame; absent ones stay zero.
    `present`: body_present(poses), when the caller has it already."""
    M, L, J, _ = poses.shape
    out = np.zeros(poses.shape, np.float32)
    if present is None:
        present = body_present(poses)
    for m in range(M):
        for t in range(L):
            if not present[m, t]:
                continue
            for j in range(J):
                d0 = poses[m, t, j, 0] - origin[0]
                d1 = poses[m, t, j, 1] - origin[1]
                d2 = poses[m, t, j, 2] - origin[2]
                for a in range(3):
                    out[m, t, j, a] = R[0, a] * d0 + R[1, a] * d1 + R[2, a] * d2
    return out


@njit(cache=True)
def resample_linear(poses, frames, present=None):
    """Resample L frames to `frames` by linear interpolation over time.

    Output frame k sits at time k (L-1)/(frames-1). A body absent in one of the two
    neighbouring input frames takes the nearer present one instead of blending with
    zeros; absent in both, it stays zero. `present`: body_present(poses), when the caller
    has it already.
    """
    M, L, J, C = poses.shape
    out = np.zeros((M, frames, J, C), np.float32)
    if present is None:
        present = body_present(poses)
    for k in range(frames):
        pos = 0.0 if frames == 1 else k * (L - 1) / (frames - 1)
        i0 = min(int(np.floor(pos)), L - 1)
        i1 = min(i0 + 1, L - 1)
        w = pos - i0
        for m in range(M):
            p0 = present[m, i0]
            p1 = present[m, i1]
            if p0 and p1:
                for j in range(J):
                    for c in range(C):
                        out[m, k, j, c] = (1.0 - w) * poses[m, i0, j, c] + w * poses[m, i1, j, c]
            elif p0 or p1:
                src = i0 if (p0 and (w < 0.5 or not p1)) else i1
                for j in range(J):
                    for c in range(C):
                        out[m, k, j, c] = poses[m, src, j, c]
    return out


@njit(cache=True)
def abs_max(x):
    """Largest absolute value of a float array (0 for an empty one; NaN never counts). Four
    running maxima over interleaved elements, not one: four independent comparison chains
    (a maximum is exact in any order), 3x faster on a sample's poses."""
    flat = x.ravel()
    n = flat.shape[0]
    b0 = b1 = b2 = b3 = 0.0
    i = 0
    while i + 4 <= n:
        v0, v1, v2, v3 = abs(flat[i]), abs(flat[i + 1]), abs(flat[i + 2]), abs(flat[i + 3])
        b0 = v0 if v0 > b0 else b0
        b1 = v1 if v1 > b1 else b1
        b2 = v2 if v2 > b2 else b2
        b3 = v3 if v3 > b3 else b3
        i += 4
    while i < n:
        v = abs(flat[i])
        b0 = v if v > b0 else b0
        i += 1
    return max(max(b0, b1), max(b2, b3))


@njit(cache=True)
def extent_and_distance(poses):
    """Per sample, over the present (body, frame)s: the largest joint distance from the
    origin (the camera, before alignment) and the largest extent of one body in one frame
    (its joints' max - min along any axis). Returns (distance, its frame, extent, its frame)."""
    M, L, J, _ = poses.shape
    dist, dist_t, ext, ext_t = 0.0, -1, 0.0, -1
    for m in range(M):
        for t in range(L):
            lo0 = lo1 = lo2 = np.inf           # scalars, not arrays: no allocation per frame
            hi0 = hi1 = hi2 = -np.inf
            present = False
            for j in range(J):
                x, y, z = poses[m, t, j, 0], poses[m, t, j, 1], poses[m, t, j, 2]
                if x != 0.0 or y != 0.0 or z != 0.0:
                    present = True
                d2 = x * x + y * y + z * z     # float32, squared: one sqrt at the end, the same value
                if d2 > dist:
                    dist, dist_t = d2, t
                lo0, hi0 = min(lo0, np.float64(x)), max(hi0, np.float64(x))
                lo1, hi1 = min(lo1, np.float64(y)), max(hi1, np.float64(y))
                lo2, hi2 = min(lo2, np.float64(z)), max(hi2, np.float64(z))
            if present:
                e = max(hi0 - lo0, hi1 - lo1, hi2 - lo2)
                if e > ext:
                    ext, ext_t = e, t
    return np.float64(np.sqrt(np.float32(dist))), dist_t, ext, ext_t


@njit(cache=True)
def largest_step(poses, present):
    """Per sample: the largest distance one joint moves between two consecutive frames in
    which its body is present (`present`: body_present(poses)). Returns (distance, body,
    frame (the later of the two), joint); (0, -1, -1, -1) when no body is present twice."""
    M, L, J, _ = poses.shape
    best, bm, bt, bj = 0.0, -1, -1, -1
    for m in range(M):
        prev = -1
        for t in range(L):
            if not present[m, t]:
                continue
            if prev >= 0:
                for j in range(J):
                    dx = np.float64(poses[m, t, j, 0]) - poses[m, prev, j, 0]
                    dy = np.float64(poses[m, t, j, 1]) - poses[m, prev, j, 1]
                    dz = np.float64(poses[m, t, j, 2]) - poses[m, prev, j, 2]
                    d2 = dx * dx + dy * dy + dz * dz
                    if d2 > best:
                        best, bm, bt, bj = d2, m, t, j
            prev = t
    return np.sqrt(best), bm, bt, bj
