"""Rules of the transform that a mutation once slipped past: each test breaks if its rule does."""
from __future__ import annotations

import numpy as np
import pytest

from skeltools.bodies import select_bodies
from skeltools.formats.ntu import read_ntu
from skeltools.manifests import load_dataset
from skeltools.prepare import prepare
from skeltools.store import Store
from skeltools.synth.generate import synth
from skeltools.synth.ntu import skeleton_text
from skeltools.transform import TransformParams, transform_bodies


def test_alignment_uses_body_0_at_its_first_present_frame():
    """A two-actor clip whose first actor enters one frame late: the body frame is body 0's in
    its first present frame (frame 1), not frame 0 (where body 0 is absent) and not body 1's."""
    rng = np.random.default_rng(0)
    spec = load_dataset("ntu60")
    roles = spec.layout.role_indices()
    bodies = rng.normal(0.0, 0.3, (2, 1, 25, 3)) + [0.0, 0.0, 3.0]      # two actors, each moving a little
    poses = (bodies + rng.normal(0.0, 0.02, (2, 12, 25, 3))).astype(np.float32)
    poses[1] += np.float32([1.0, 0.2, 0.5])        # the second actor elsewhere, turned otherwise
    poses[0, 0] = 0.0                              # body 0 absent in frame 0
    out = transform_bodies(poses, roles, TransformParams(frames=12))
    first = out.full[0, 1]                         # body 0, its first present frame (aligned, not resampled)
    root, spine, lhip, rhip = (first[roles[k]] for k in range(4))
    assert np.allclose(root, 0.0, atol=1e-5)
    assert np.allclose(spine[1:], 0.0, atol=1e-5) and spine[0] > 0
    assert abs((lhip - rhip)[2]) < 1e-5
    assert not out.full[0, 0].any()                # and the absent frame stays absent


def _shifted_copy(sample_path, name, out_dir, target_m):
    """The sample's records moved along the camera's depth axis so that the farthest joint of
    the bodies that body selection keeps (it drops a short-lived extra body, whatever its
    place) is `target_m` metres from the camera, written as a new `.skeleton` file `name`."""
    raw = read_ntu(sample_path)
    kept = select_bodies(raw, 2)
    joints = kept[np.abs(kept).sum(-1) > 0].astype(np.float64)

    def farthest(shift):
        return np.sqrt(((joints + [0.0, 0.0, shift]) ** 2).sum(-1)).max()

    lo, hi = 0.0, 20.0                             # the performer is 2-5 m away: farther with every shift
    for _ in range(200):                           # bisection: farthest() grows with the shift here
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if farthest(mid) < target_m else (lo, mid)
    moved = raw.xyz.astype(np.float64) + [0.0, 0.0, lo]
    frames = [[] for _ in range(raw.n_frames)]
    for t, body, xyz in zip(raw.frame, raw.body_id, moved):
        frames[t].append((int(body), xyz, np.full(len(xyz), 2)))
    (out_dir / f"{name}.skeleton").write_text(skeleton_text(frames, np.random.default_rng(1), exp_share=0.0))
    return farthest(lo)


@pytest.mark.parametrize("side,margin", [("inside", -1e-4), ("outside", 1e-4)])
def test_the_distance_bound_holds_at_its_edge(tmp_path, side, margin):
    """A sample whose farthest joint lies just inside the manifest's max_distance_m is written;
    just outside, it is skipped with the plausibility reason."""
    corpus = synth("ntu60", tmp_path / "raw", scenes=2, seed=4, rigid=True, broken=False)
    bound = load_dataset("ntu60").extra["plausibility"]["max_distance_m"]
    name = "S001C001P001R002A001"
    got = _shifted_copy(corpus.out / f"{corpus.samples[0]}.skeleton", name, corpus.out, bound + margin)
    assert abs(got - (bound + margin)) < 1e-6
    summary = prepare("ntu60", corpus.out, tmp_path / "s.h5", workers=1, progress=False, allow_empty_splits=True)
    skipped = dict(summary.skipped)
    with Store(tmp_path / "s.h5") as st:
        written = set(st.read("meta/name"))
    if side == "inside":
        assert name in written and name not in skipped
    else:
        assert name not in written and skipped[name].code == "implausible coordinates"
        assert f"bound {bound:g} m" in skipped[name].detail
