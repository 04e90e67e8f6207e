"""Each transform kernel against an independent numpy statement of what it should do."""
from __future__ import annotations

import numpy as np
import pytest

from skeltools.bodies import DenoiseParams, select_bodies
from skeltools.formats.raw_sample import RawSample, SampleError
from skeltools.kernels import (ALIGN_HIPS_PARALLEL, ALIGN_SPINE_ON_ROOT, alignment_rotation, motion, resample_linear,
                               spread_valid)
from skeltools.transform import TransformParams, align, transform_sample

ROLES = np.array([0, 1, 12, 16])


def random_rotation(rng):
    q, r = np.linalg.qr(rng.normal(size=(3, 3)))
    q = q * np.sign(np.diag(r))
    return q if np.linalg.det(q) > 0 else -q


def skeleton(rng, frames=6, J=25):
    x = rng.normal(0, 0.3, size=(frames, J, 3))
    x[:, 1] = x[:, 0] + [0, 0.3, 0.02]
    x[:, 12] = x[:, 0] + [0.1, -0.03, 0.01]
    x[:, 16] = x[:, 0] + [-0.1, -0.03, 0.0]
    return x.astype(np.float32)


def test_alignment_matches_gram_schmidt_reference():
    rng = np.random.default_rng(0)
    x = skeleton(rng)[0].astype(np.float64)
    status, R = alignment_rotation(x[0], x[1], x[12], x[16], 1e-4)
    r0 = (x[1] - x[0]) / np.linalg.norm(x[1] - x[0])
    h = x[12] - x[16]
    r1 = h - h @ r0 * r0
    r1 /= np.linalg.norm(r1)
    assert status == 0
    np.testing.assert_allclose(R, np.stack([r0, r1, np.cross(r0, r1)], 1), atol=1e-12)


def test_aligned_frame_zero_geometry_and_rigid_invariance():
    rng = np.random.default_rng(1)
    x = skeleton(rng)[None]
    a = align(x, ROLES, 1e-4)
    assert np.abs(a[0, 0, 0]).max() < 1e-6                       # root at the origin
    assert a[0, 0, 1, 0] > 0 and np.abs(a[0, 0, 1, 1:]).max() < 1e-6  # spine on +axis 0
    assert abs(a[0, 0, 12, 2] - a[0, 0, 16, 2]) < 1e-6             # hips: zero axis-2 component
    moved = (x @ random_rotation(rng).T + [1.0, -2.0, 3.5]).astype(np.float32)
    np.testing.assert_allclose(align(moved, ROLES, 1e-4), a, atol=2e-5)


def test_degenerate_skeletons_are_reported():
    p = np.zeros(3)
    assert alignment_rotation(p, p, p + [1, 0, 0], p, 1e-4)[0] == ALIGN_SPINE_ON_ROOT
    assert alignment_rotation(p, p + [0, 1, 0], p + [0, 2, 0], p, 1e-4)[0] == ALIGN_HIPS_PARALLEL
    raw = RawSample(frame=np.arange(20, dtype=np.int32), body_id=np.zeros(20, np.int64),
                    xyz=np.ones((20, 25, 3), np.float32), n_frames=20)
    with pytest.raises(SampleError, match="spine joint on the root"):
        transform_sample(raw, 2, ROLES, TransformParams())


def test_resample_matches_np_interp_and_keeps_absent_bodies_zero():
    rng = np.random.default_rng(2)
    x = np.zeros((2, 37, 25, 3), np.float32)
    x[0] = rng.normal(size=(37, 25, 3))
    out = resample_linear(x, 50)
    t_new = np.linspace(0, 36, 50)
    ref = np.stack([np.interp(t_new, np.arange(37), x[0, :, j, c]) for j in range(25) for c in range(3)], 1)
    np.testing.assert_allclose(out[0].reshape(50, -1), ref, atol=1e-5)
    assert not out[1].any()
    np.testing.assert_array_equal(resample_linear(x, 37), x)


def test_resample_does_not_blend_with_absent_frames():
    x = np.zeros((1, 3, 1, 3), np.float32)
    x[0, 0] = 1.0
    x[0, 2] = 3.0                       # frame 1 absent
    out = resample_linear(x, 5)[0, :, 0, 0]
    assert out.tolist() == [1.0, 1.0, 3.0, 3.0, 3.0] or out.tolist() == [1.0, 1.0, 1.0, 3.0, 3.0]
    assert set(out.tolist()) <= {1.0, 3.0}


def test_motion_and_spread_match_numpy():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(9, 25, 3)).astype(np.float32)
    assert motion(x) == pytest.approx(x.reshape(-1, 3).astype(np.float64).var(axis=0).sum(), rel=1e-9)
    ref = np.ptp(x[..., 0], axis=1) <= 0.8 * np.ptp(x[..., 1], axis=1)
    np.testing.assert_array_equal(spread_valid(x, 0.8), ref)


def _raw(tracks):
    """tracks: list of (body_id, frames, xyz per frame)."""
    frame, ids, xyz = [], [], []
    for bid, frames, pts in tracks:
        for t, p in zip(frames, pts):
            frame.append(t)
            ids.append(bid)
            xyz.append(p)
    order = np.argsort(frame, kind="stable")
    return RawSample(frame=np.array(frame, np.int32)[order], body_id=np.array(ids, np.int64)[order],
                     xyz=np.array(xyz, np.float32)[order], n_frames=max(frame) + 2)


def person(rng, frames, amp):
    base = skeleton(rng, 1)[0] * [0.3, 3.0, 0.3]
    return (base + amp * rng.normal(size=(frames, 25, 3))).astype(np.float32)


def test_spurious_bodies_never_become_the_main_actor():
    rng = np.random.default_rng(4)
    main = person(rng, 40, 0.05)
    blob = rng.normal(0, 2.0, size=(8, 25, 3))                      # big motion, but short-lived
    table = np.stack([rng.uniform(-1, 1, (40, 25)), np.full((40, 25), 0.7), rng.uniform(-1, 1, (40, 25))], -1)
    table += rng.normal(0, 0.5, size=table.shape)                    # wide and moving a lot: spread filter
    raw = _raw([(1, range(40), table), (2, range(10, 18), blob), (3, range(40), main)])
    out = select_bodies(raw, 2)
    np.testing.assert_array_equal(out[0], main)
    assert not out[1].any()


def test_two_actors_ranked_by_motion_and_split_tracks_share_a_slot():
    rng = np.random.default_rng(5)
    calm, busy = person(rng, 30, 0.01), person(rng, 30, 0.1)
    first, second = person(rng, 15, 0.2), person(rng, 15, 0.2)
    raw = _raw([(1, range(30), calm), (2, range(30), busy), (3, range(15), first), (4, range(15, 30), second)])
    out = select_bodies(raw, 2, DenoiseParams(max_short_frames=11))
    # 3 and 4 move most and never overlap: they fill slot 0 together; then 2 goes to slot 1, 1 is dropped
    np.testing.assert_array_equal(out[0], np.concatenate([first, second]))
    np.testing.assert_array_equal(out[1], busy)


def test_frames_without_a_kept_body_are_dropped():
    rng = np.random.default_rng(6)
    main = person(rng, 30, 0.05)
    blob = rng.normal(size=(3, 25, 3))
    raw = _raw([(1, range(30), main), (9, range(40, 43), blob)])
    assert select_bodies(raw, 2).shape[1] == 30


@pytest.mark.parametrize("n", [0, 1, 3, 4, 5, 8, 11, 7500])
def test_abs_max_is_numpy_s_on_every_length(n):
    """The four interleaved maxima and the tail loop cover every element, wherever the
    largest one lies (last, first, in the tail)."""
    from skeltools.kernels import abs_max
    x = np.random.default_rng(n).normal(size=n).astype(np.float32)
    assert abs_max(x) == (float(np.abs(x).max()) if n else 0.0)
    for k in {0, n - 1, n // 2} if n else ():
        y = x.copy()
        y[k] = -9.5
        assert abs_max(y.reshape(-1, 1) if n % 2 else y) == 9.5
