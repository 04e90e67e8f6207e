"""The compiled body selection equals the readable reference (tests/reference_bodies.py) on
every raw sample of the four synthetic formats, the genuine files and adversarial records."""
from __future__ import annotations

import numpy as np
import pytest

from skeltools.bodies import DenoiseParams, select_bodies
from skeltools.formats.ntu import read_ntu
from skeltools.formats.raw_sample import RawSample, SampleError, Skipped
from skeltools.manifests import load_dataset
from skeltools.formats import find_units, reader_of
from skeltools.synth.generate import synth

from .reference_bodies import reference_select_bodies


def _same(raw: RawSample, slots: int, params: DenoiseParams = DenoiseParams()) -> str:
    """Assert both give the same array or the same error; returns which it was."""
    try:
        want = reference_select_bodies(raw, slots, params)
    except SampleError as e:
        with pytest.raises(SampleError) as got:
            select_bodies(raw, slots, params)
        assert str(got.value) == str(e)
        return "error"
    got = select_bodies(raw, slots, params)
    assert got.dtype == want.dtype and np.array_equal(got, want)
    return "array"


@pytest.mark.parametrize("dataset", ["ntu60", "nucla", "pkummd1", "uwa3d"])
def test_every_synthetic_sample_selects_as_the_reference(dataset, tmp_path):
    corpus = synth(dataset, tmp_path / "raw", scenes=6, seed=2)
    spec = load_dataset(dataset)
    units, _ = find_units(corpus.out, spec)
    seen = 0
    for unit in units:
        try:
            items = reader_of(spec).read_unit(unit, spec)
        except SampleError:
            continue
        for _, _, raw in items:
            if not isinstance(raw, Skipped):
                _same(raw, spec.bodies)
                seen += 1
    assert seen >= 12


def test_genuine_files_select_as_the_reference(shared_real):
    for path in sorted((shared_real / "ntu").glob("*.skeleton")):
        assert _same(read_ntu(path), 2) == "array"


def _records(rng: np.random.Generator) -> RawSample:
    """Tracks of random lengths, IDs and spreads, some frames shared, records shuffled and
    duplicated, sometimes identical tracks (ties in motion) or a NaN."""
    frames, ids, xyz = [], [], []
    base = rng.normal(0, 1, (25, 3)) * [0.3, 3.0, 0.3]
    twin = None
    for _ in range(int(rng.integers(1, 6))):
        start, length = int(rng.integers(0, 30)), int(rng.integers(1, 40))
        body = int(rng.integers(1, 1 << 62))
        track = base + rng.normal(0, rng.choice([0.01, 0.3, 3.0]), (length, 25, 3))
        if rng.random() < 0.3:
            track[..., 0] *= 20                                   # wider than tall: the spread filter
        if twin is not None and rng.random() < 0.3:
            track, start = -twin[0], twin[1] + int(rng.integers(0, 2))   # the same motion, bit for bit
        twin = (track, start)
        frames += list(range(start, start + len(track)))
        ids += [body] * len(track)
        xyz += list(track)
    frames, ids, xyz = np.array(frames, np.int32), np.array(ids, np.int64), np.array(xyz, np.float32)
    if rng.random() < 0.3:                                        # a repeated record of one (frame, body)
        k = int(rng.integers(0, len(frames)))
        frames, ids = np.append(frames, frames[k]), np.append(ids, ids[k])
        xyz = np.concatenate([xyz, xyz[k:k + 1] + 1.0])
    order = rng.permutation(len(frames)) if rng.random() < 0.5 else np.argsort(frames, kind="stable")
    xyz = xyz[order]
    if rng.random() < 0.05:
        xyz[int(rng.integers(0, len(xyz))), 3, 1] = np.nan
    return RawSample(frame=frames[order], body_id=ids[order], xyz=xyz, n_frames=int(frames.max()) + 3)


def test_adversarial_records_select_as_the_reference():
    rng = np.random.default_rng(11)
    kinds = [_same(_records(rng), int(rng.integers(1, 3)), DenoiseParams(max_short_frames=int(rng.integers(0, 15))))
             for _ in range(400)]
    assert kinds.count("error") >= 5 and kinds.count("array") >= 300
    empty = RawSample(frame=np.zeros(0, np.int32), body_id=np.zeros(0, np.int64), xyz=np.zeros((0, 25, 3), np.float32),
                      n_frames=4)
    assert _same(empty, 2) == "error"


def _motion_by_axis(xyz: np.ndarray) -> float:
    """The motion score as SGN defines it, one axis at a time in plain Python (float64, the
    additions in frame-then-joint order): the order the compiled kernel must keep."""
    flat = [[float(v) for v in xyz[:, :, a].reshape(-1)] for a in range(3)]
    total = 0.0
    for values in flat:
        mean = 0.0
        for v in values:
            mean += v
        mean /= len(values)
        var = 0.0
        for v in values:
            var += (v - mean) * (v - mean)
        total += var / len(values)
    return total


@pytest.mark.parametrize("frames", [1, 7, 60])
def test_motion_is_the_summed_variance_of_each_axis(frames):
    """kernels.motion against numpy's variance and, exactly, against the axis-by-axis sums
    (the ranking of bodies depends on it)."""
    from skeltools.kernels import motion
    rng = np.random.default_rng(frames)
    xyz = (rng.normal(0, 0.4, (frames, 25, 3)) + [0.1, 0.9, 3.0]).astype(np.float32)
    got = motion(xyz)
    assert got == _motion_by_axis(xyz)
    assert got == pytest.approx(xyz.astype(np.float64).reshape(-1, 3).var(axis=0).sum(), rel=1e-12)
    assert motion(xyz[:0]) == 0.0
