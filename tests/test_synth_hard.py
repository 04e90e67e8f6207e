"""The hard ablation corpus is what its design says (README, skeltools/synth/hard.py)."""
from __future__ import annotations

import numpy as np
import pytest

from skeltools.prepare import prepare
from skeltools.store import Store
from skeltools.synth.generate import synth
from skeltools.synth.hard import base_pairs, hard_pattern, subject_traits


def test_classes_share_primitives_and_differ_in_one_limb_or_phase():
    assert len(set(base_pairs())) == 12
    recipes = {a: hard_pattern(a) for a in range(1, 61)}
    motions = {frozenset(zip(r["joints"].tolist(), r["phase"].tolist())) for r in recipes.values()}
    assert len(motions) == 60                                              # no class repeats another
    for b in range(12):
        v0, v1, v2, v3, v4 = (recipes[5 * b + k] for k in (1, 2, 3, 4, 5))
        assert len(set(v0["joints"]) ^ set(v1["joints"])) == 2           # one limb swapped
        assert list(v0["joints"]) == list(v2["joints"]) == list(v4["joints"]) and list(v1["joints"]) == list(v3["joints"])
        assert v2["phase"][1] - v0["phase"][1] == pytest.approx(np.pi / 2)
        assert v4["phase"][1] - v0["phase"][1] == pytest.approx(np.pi)


def test_subjects_keep_their_bodies_and_the_corpus_prepares_cleanly(tmp_path):
    a, b = subject_traits(7, 25), subject_traits(7, 25)
    assert np.array_equal(a["bone_scale"], b["bone_scale"]) and 0.85 <= a["bone_scale"].min() <= a["bone_scale"].max() <= 1.15
    assert not np.array_equal(a["bone_scale"], subject_traits(8, 25)["bone_scale"])
    assert not np.array_equal(a["bone_scale"], subject_traits(7, 25, seed=1)["bone_scale"])   # another corpus
    corpus = synth("ntu60", tmp_path / "raw", scenes=12, seed=0, classes=60, broken=False, hard=True)
    summary = prepare("ntu60", corpus.out, tmp_path / "h.h5", workers=1, progress=False, allow_empty_splits=True)
    assert summary.written == 36 and not summary.skipped
    with Store(tmp_path / "h.h5") as st:
        P, V = st.read("poses"), st.read("views")
    # views of a scene are not rigid copies of each other: occlusion, bias and jitter differ per camera
    assert min(np.abs(P[row] - P[row[0]]).max() for row in V) > 0.01
    with pytest.raises(ValueError, match="--hard is made for ntu60 and ntu120"):
        synth("nucla", tmp_path / "n", scenes=2, hard=True)


def _hip_yaw_by_camera(raw, tmp_path, name) -> np.ndarray:
    """Per scene, the azimuth of the hip axis (first frame, body slot 0) seen by each camera minus
    the middle camera's, in degrees wrapped to (-90, 90] (an axis, so either actor will do)."""
    prepare("ntu60", raw, tmp_path / name, workers=1, progress=False, align=False, allow_empty_splits=True)
    with Store(tmp_path / name) as st:
        P, V = st.read("poses"), st.read("views")
    hips = P[:, 0, 0, 12] - P[:, 0, 0, 16]
    yaw = np.degrees(np.arctan2(hips[:, 2], hips[:, 0]))
    rel = yaw[V] - yaw[V[:, [0]]]
    return (rel + 90.0) % 180.0 - 90.0


@pytest.mark.parametrize("spacing", [0.0, 45.0])
def test_side_cameras_sit_hard_spacing_degrees_off_the_middle_one(spacing, tmp_path):
    corpus = synth("ntu60", tmp_path / "raw", scenes=16, seed=1, classes=60, broken=False, hard=True,
                   hard_spacing=spacing)
    rel = _hip_yaw_by_camera(corpus.out, tmp_path, "u.h5").mean(axis=0)
    # camera 1 is the middle one; per camera +-15 (scene) +-5 (mount) degrees: the mean over 16
    # scenes is within a few degrees
    assert rel[0] == 0 and abs(abs(rel[1]) - spacing) < 12 and abs(abs(rel[2]) - spacing) < 12
    if spacing:
        assert np.sign(rel[1]) == -np.sign(rel[2])


def test_ntu_cameras_and_replications_are_laid_out_as_ntu_s(tmp_path, shared_real):
    """Camera 1 is the middle camera; replication 1 turns toward one side camera and replication 2
    toward the other, so that camera 1 sees the hip line turned by about the same angle as in
    the genuine camera-1 R001 files, once to each side; every performance has both replications."""
    from skeltools.formats.ntu import read_ntu

    def hip_angle(path) -> float:
        raw = read_ntu(path)
        first = raw.xyz[raw.body_id == raw.body_id[0]][:10]
        h = first[:, 12] - first[:, 16]
        return float(np.degrees(np.arctan2(h[:, 2], h[:, 0])).mean() % 360)
    genuine = [hip_angle(p) for p in sorted((shared_real / "ntu").glob("*.skeleton"))]
    corpus = synth("ntu60", tmp_path / "raw", scenes=40, seed=3, rigid=True, broken=False)
    one_person = [n for n in corpus.samples if int(n[-3:]) < 50]
    by_rep = {r: [hip_angle(corpus.out / f"{n}.skeleton") for n in one_person if n[4:8] == "C001" and n[12:16] == r]
              for r in ("R001", "R002")}
    assert 150 <= np.mean(genuine) <= 160                                   # turned 20-30 degrees
    assert abs(np.mean(by_rep["R001"]) - np.mean(genuine)) < 12             # the same side as the genuine files
    assert abs((np.mean(by_rep["R001"]) - 180) + (np.mean(by_rep["R002"]) - 180)) < 8   # the other side, mirrored
    performances = {}
    for n in corpus.samples:
        performances.setdefault((n[:4], n[8:12], n[16:]), set()).add(n[12:16])
    assert all(reps == {"R001", "R002"} for reps in performances.values())
