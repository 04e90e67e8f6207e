"""`skel prepare` end to end on synthetic raw corpora: invariance, contract, splits,
backends, determinism, failure handling."""
from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass

import numpy as np
import pytest
from click.testing import CliRunner

from cli.skel import main as skel
from skeltools.formats.ntu import read_ntu
from skeltools.kernels import resample_linear
from skeltools.manifests import load_dataset
from skeltools.prepare import prepare
from skeltools.store import Store

from .conftest import SHARED


def arrays(path):
    with Store(path) as st:
        keys = ["poses", "views", "full/poses", "full/offsets", "skipped/name", "skipped/reason",
                *[f"meta/{k}" for k in st.meta()],
                *[f"splits/{p}/{part}" for p in st.protocols() for part in ("train", "test")]]
        return {k: st.read(k) for k in keys if st.has(k)}, st.attrs


def check_contract(path):
    """The project's own `skel check` (structure and checksums) always; the shared schema
    checker too where ../shared is present."""
    from skeltools.check import check_store
    problems, notes = check_store(path)
    assert problems == [] and notes == [], problems + notes
    tool = SHARED / "tools" / "check_store.py"
    if tool.exists():
        out = subprocess.run([sys.executable, str(tool), str(path)], capture_output=True, text=True)
        assert out.returncode == 0, out.stdout + out.stderr
        assert "0 problems" in out.stdout


def test_rigid_views_agree_after_prepare(rigid_corpus, rigid_store):
    path, summary = rigid_store
    with Store(path) as st:
        P, V = st.read("poses"), st.read("views")
        names = st.read("meta/name")
    assert summary.written == 90 and V.shape == (30, 3) and (V >= 0).all()
    diffs = np.array([[np.abs(P[s, :] - P[s[0]]).max() for s in [V[k]]] for k in range(len(V))]).ravel()
    assert diffs.max() < 1e-4
    # the corpus really had noise bodies and empty frames in files whose scenes agree
    noisy = empty = 0
    for n in names:
        raw = read_ntu(rigid_corpus.out / f"{n}.skeleton")
        noisy += len(np.unique(raw.body_id)) > (2 if P[list(names).index(n), 1].any() else 1)
        empty += len(np.unique(raw.frame)) < raw.n_frames
    assert noisy >= 5 and empty >= 30


def test_store_meets_contract_and_frame_zero_geometry(rigid_store):
    path, _ = rigid_store
    check_contract(path)
    with Store(path) as st:
        P = st.read("poses")
        peak = max(np.abs(P).max(), np.abs(st.read("full/poses")).max())
        assert st.attrs["aligned"] and 0 < st.attrs["scale"] and peak == pytest.approx(1.0)
    f0 = P[:, 0, 0]                                   # body 0, frame 0 (the reference frame)
    assert np.abs(f0[:, 0]).max() < 1e-6              # root at the origin
    assert (f0[:, 1, 0] > 0).all() and np.abs(f0[:, 1, 1:]).max() < 1e-6
    assert np.abs(f0[:, 12, 2] - f0[:, 16, 2]).max() < 1e-6


def test_skipped_and_ignored_files_are_listed(rigid_corpus, rigid_store):
    _, summary = rigid_store
    assert dict(summary.skipped).keys() == rigid_corpus.broken.keys()
    assert summary.ignored == len(rigid_corpus.ignored) == 2
    reasons = dict(summary.skipped)
    listed = sorted(load_dataset("ntu60").missing)[0]
    assert str(reasons[listed]) == "listed by the dataset as a sample with missing skeletons"
    with Store(rigid_store[0]) as st:
        assert sorted(st.read("skipped/name")) == sorted(rigid_corpus.broken)


def test_splits_follow_the_official_rules(rigid_store):
    a, _ = arrays(rigid_store[0])
    xsub_train = set(load_dataset("ntu60").protocols[0].train)
    subj, view = a["meta/subject"], a["meta/view"]
    tr, te = a["splits/xsub/train"], a["splits/xsub/test"]
    assert len(tr) + len(te) == len(subj) and len(te) > 0
    assert all(s in xsub_train for s in subj[tr]) and not any(s in xsub_train for s in subj[te])
    assert set(view[a["splits/xview/train"]]) == {2, 3} and set(view[a["splits/xview/test"]]) == {1}


def test_keep_full_sequences_resample_to_poses(rigid_store):
    with Store(rigid_store[0]) as st:
        frames = st.read("meta/frames")
        offsets = st.read("full/offsets")
        assert np.array_equal(np.diff(offsets), frames)
        for i in (0, 7, 41):
            full = st.full_sequence(i)
            assert full.shape[1] == frames[i]
            np.testing.assert_allclose(resample_linear(full, 50), st.read("poses", slice(i, i + 1))[0], atol=1e-6)


def test_zarr_equals_hdf5_and_workers_do_not_change_output(rigid_corpus, rigid_store, tmp_path):
    ref, ref_attrs = arrays(rigid_store[0])
    prepare("ntu60", rigid_corpus.out, tmp_path / "one.zarr", workers=1, keep_full=True, progress=False)
    check_contract(tmp_path / "one.zarr")
    got, attrs = arrays(tmp_path / "one.zarr")
    assert got.keys() == ref.keys() and attrs == ref_attrs
    for k in ref:
        assert np.array_equal(np.asarray(got[k]), np.asarray(ref[k])), k


@pytest.mark.parametrize("compression", ["gzip", "lzf"])
def test_compressed_hdf5_from_a_pool_equals_the_uncompressed_store(rigid_corpus, rigid_store, tmp_path, compression):
    """With a pool, compressed chunks are encoded by the workers (HDF5's own filters on a
    one-chunk file in memory) and stored as they are: the store reads back the same values
    as the uncompressed one, declares its filters, and passes `skel check`."""
    import h5py

    from skeltools.check import check_store

    out = tmp_path / f"{compression}.h5"
    prepare("ntu60", rigid_corpus.out, out, workers=2, keep_full=True, progress=False, compression=compression)
    ref, _ = arrays(rigid_store[0])
    got, _ = arrays(out)
    assert all(np.array_equal(np.asarray(got[k]), np.asarray(ref[k])) for k in ref)
    with h5py.File(out) as f:
        assert f["poses"].compression == compression and f["poses"].shuffle
    assert check_store(out)[0] == []


def test_no_align_store_is_marked(rigid_corpus, tmp_path):
    s = prepare("ntu60", rigid_corpus.out, tmp_path / "na.h5", align=False, workers=1, limit=6, progress=False)
    with Store(tmp_path / "na.h5") as st:
        assert not st.attrs["aligned"] and len(st) == s.written == 6
        assert np.abs(st.read("poses")[:, 0, 0, 0]).max() > 0.01   # root not at the origin


def test_strict_exit_code(rigid_corpus, tmp_path):
    r = CliRunner().invoke(skel, ["prepare", "ntu60", "--raw", str(rigid_corpus.out), "--out", str(tmp_path / "a.h5"),
                                  "--workers", "1", "--quiet", "--strict"])
    assert r.exit_code == 1 and "skipped 8 files" in r.output
    r = CliRunner().invoke(skel, ["prepare", "ntu60", "--raw", str(rigid_corpus.out), "--out", str(tmp_path / "a.h5"),
                                  "--workers", "1", "--quiet"])
    assert r.exit_code == 0 and "wrote 90 samples" in r.output


def test_interrupted_prepare_leaves_no_store(rigid_corpus, tmp_path, monkeypatch):
    import skeltools.prepare as prep
    calls = {"n": 0}
    real = prep.transform_sample

    def boom(*a, **k):
        calls["n"] += 1
        if calls["n"] == 20:
            raise KeyboardInterrupt
        return real(*a, **k)

    monkeypatch.setattr(prep, "transform_sample", boom)
    with pytest.raises(KeyboardInterrupt):
        prepare("ntu60", rigid_corpus.out, tmp_path / "x.h5", workers=1, progress=False)
    assert list(tmp_path.iterdir()) == []


def test_existing_store_is_replaced_whole(rigid_corpus, tmp_path):
    out = tmp_path / "s.zarr"
    prepare("ntu60", rigid_corpus.out, out, workers=1, limit=9, progress=False)
    prepare("ntu60", rigid_corpus.out, out, workers=1, limit=3, progress=False)
    with Store(out) as st:
        assert len(st) == 3
    assert [p.name for p in tmp_path.iterdir()] == ["s.zarr"]


def test_occluded_views_differ_but_scenes_line_up(occluded_corpus, tmp_path):
    out = tmp_path / "occ.h5"
    prepare("ntu60", occluded_corpus.out, out, workers=2, progress=False)
    text = (occluded_corpus.out / f"{occluded_corpus.samples[1]}.skeleton").read_text()
    assert any(line.endswith(" 1") for line in text.splitlines()[:4000])   # inferred joints present
    with Store(out) as st:
        P, V = st.read("poses"), st.read("views")
    assert V.shape == (12, 3) and (V >= 0).all()
    diffs = np.array([np.abs(P[V[k, 1]] - P[V[k, 0]]).max() for k in range(len(V))])
    assert diffs.max() > 1e-2
    same = np.mean([np.abs(P[V[k, 1]] - P[V[k, 0]]).mean() for k in range(len(V))])
    other = np.mean([np.abs(P[V[k, 1]] - P[V[(k + 1) % len(V), 0]]).mean() for k in range(len(V))])
    assert same < other / 2


def test_synth_is_deterministic(tmp_path):
    from skeltools.synth.generate import synth
    a = synth("ntu120", tmp_path / "a", scenes=4, seed=3)
    b = synth("ntu120", tmp_path / "b", scenes=4, seed=3)
    c = synth("ntu120", tmp_path / "c", scenes=4, seed=4)
    name = a.samples[0] + ".skeleton"
    assert (a.out / name).read_bytes() == (b.out / name).read_bytes() != (c.out / name).read_bytes()


def test_genuine_files_prepare(shared_real, tmp_path):
    s = prepare("ntu60", shared_real / "ntu", tmp_path / "real.h5", workers=1, progress=False)
    assert s.written == 5 and not s.skipped
    with Store(tmp_path / "real.h5") as st:
        m = st.meta()
        assert m["frames"].tolist() == [103, 158, 104, 99, 54] and m["label"].tolist() == [0, 1, 2, 3, 4]
        assert (m["bodies"] == 1).all() and not st.read("poses")[:, 1].any()
    check_contract(tmp_path / "real.h5")


def test_folder_without_samples_is_a_clear_error(tmp_path):
    (tmp_path / "raw").mkdir()
    (tmp_path / "raw" / "notes.txt").write_text("x")
    r = CliRunner().invoke(skel, ["prepare", "ntu60", "--raw", str(tmp_path / "raw"), "--out", str(tmp_path / "a.h5")])
    assert r.exit_code == 2 and "no ntu60 sample files found (1 other files ignored)" in r.output
    assert "S001C001P001R001A001.skeleton" in r.output and not (tmp_path / "a.h5").exists()


def test_compression_changes_bytes_not_values(rigid_corpus, rigid_store, tmp_path):
    with Store(rigid_store[0]) as st:
        ref = st.read("poses")
    for name, comp in (("a.h5", "lzf"), ("b.zarr", "zstd"), ("c.zarr", "none")):
        prepare("ntu60", rigid_corpus.out, tmp_path / name, workers=1, compression=comp, keep_full=True, progress=False)
        with Store(tmp_path / name) as st:
            assert np.array_equal(st.read("poses"), ref), name
    r = CliRunner().invoke(skel, ["prepare", "ntu60", "--raw", str(rigid_corpus.out), "--out", str(tmp_path / "d.zarr"),
                                  "--compression", "lzf", "--quiet"])
    assert r.exit_code == 2 and "not available for zarr" in r.output and not (tmp_path / "d.zarr").exists()


@pytest.mark.parametrize("dataset", ["ntu120", "nucla", "pkummd1", "pkummd2", "uwa3d"])
def test_synth_cli_for_every_dataset(dataset, tmp_path):
    r = CliRunner().invoke(skel, ["synth", dataset, "--out", str(tmp_path / "raw"), "--scenes", "3", "--no-broken"])
    assert r.exit_code == 0, r.output
    written = int(r.output.split()[1])
    s = prepare(dataset, tmp_path / "raw", tmp_path / "s.h5", workers=1, progress=False)
    assert s.written == written and not s.skipped


def test_ntu_synth_scene_names_never_repeat(tmp_path):
    """A repeated name would overwrite a file: 7000 scenes of 10 classes once silently lost ~30 %."""
    from skeltools.manifests import load_dataset
    from skeltools.synth.ntu import scene_keys
    spec = load_dataset("ntu60")
    actions = list(range(1, 11))
    keys = scene_keys(spec, 7000, actions)
    assert len({spec.name_format.format(view=1, **k) for k in keys}) == 7000
    assert keys[11] == {"setup": 2, "subject": 3, "replication": 1, "action": 2}  # small corpora keep their names
    with pytest.raises(ValueError, match="allow"):
        scene_keys(spec, 17 * 40 * 2 * 2 + 1, [1, 2])
    r = CliRunner().invoke(skel, ["synth", "ntu60", "--out", str(tmp_path / "raw"), "--scenes", "2000",
                                  "--classes", "1"])
    assert r.exit_code == 2 and "ask for fewer --scenes or more --classes" in r.output


def test_read_rows_equals_fancy_indexing_for_every_backend(rigid_corpus, tmp_path):
    """Streamed training reads rows this way: single rows, runs across chunk borders, compressed or not."""
    idx = np.array([0, 1, 2, 5, 63, 64, 65, 70, 71, 89])
    for name, comp in (("a.h5", "none"), ("b.h5", "lzf"), ("c.zarr", "blosc-lz4")):
        prepare("ntu60", rigid_corpus.out, tmp_path / name, workers=1, compression=comp, progress=False)
        with Store(tmp_path / name) as st:
            assert len(st) > idx.max()
            assert np.array_equal(st.read_rows("poses", idx), st.read("poses")[idx]), name


def test_spawn_workers_write_the_same_store(rigid_corpus, rigid_store, tmp_path, monkeypatch):
    """Where only `spawn` exists, the workers load the kernels themselves; the store is the same."""
    import skeltools.workers as workers
    monkeypatch.setattr(workers, "_start_method", lambda: "spawn")
    prepare("ntu60", rigid_corpus.out, tmp_path / "s.h5", workers=2, keep_full=True, progress=False)
    a, _ = arrays(rigid_store[0])
    b, _ = arrays(tmp_path / "s.h5")
    assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)


def test_per_sample_scaling_keeps_the_metres(rigid_corpus, rigid_store, tmp_path):
    """--scale sample: each sample spans [-1, 1] by itself, and poses x meta/scale are the same
    metres as the dataset-scaled store's poses x its scale."""
    path, _ = rigid_store
    prepare("ntu60", rigid_corpus.out, tmp_path / "s.h5", workers=2, progress=False, scaling="sample")
    with Store(path) as a, Store(tmp_path / "s.h5") as b:
        Pa, Pb, per = a.read("poses"), b.read("poses"), b.read("meta/scale")
        assert b.attrs["scaling"] == "sample" and b.attrs["scale"] == 1.0 and a.attrs["scaling"] == "dataset"
        assert np.allclose(np.abs(Pb).reshape(len(Pb), -1).max(1), 1.0)
        assert np.allclose(Pb * per[:, None, None, None, None], Pa * a.attrs["scale"], atol=1e-5)
        assert np.all(a.read("meta/scale") == np.float32(a.attrs["scale"]))
    check_contract(tmp_path / "s.h5")


@pytest.mark.parametrize("suffix,engine", [(".h5", "h5netcdf"), (".zarr", "zarr")])
def test_xarray_opens_both_backends_with_named_dimensions(rigid_corpus, tmp_path, suffix, engine):
    xr = pytest.importorskip("xarray")
    path = tmp_path / f"s{suffix}"
    prepare("ntu60", rigid_corpus.out, path, workers=1, progress=False)
    ds = xr.open_dataset(path, engine=engine)
    assert ds["poses"].dims == ("sample", "body", "frame", "joint", "xyz") and ds["views"].dims == ("scene", "view")
    assert dict(ds.sizes) == {"sample": 90, "body": 2, "frame": 50, "joint": 25, "xyz": 3, "scene": 30, "view": 3}
    assert list(ds["poses"].attrs["joint_names"])[:2] == ["SpineBase", "SpineMid"] and "metres" in ds["poses"].attrs["units"]
    meta = xr.open_dataset(path, engine=engine, group="meta")
    assert meta["label"].dims == ("sample",)
    with Store(path) as st:
        assert np.array_equal(ds["poses"].values, st.read("poses"))
    check_contract(path)


def test_version_1_stores_with_raw_sequences_still_open(rigid_store, tmp_path):
    """Version 2 renamed the --keep-full arrays from raw/ to full/; a version 1 store still reads."""
    import h5py
    import shutil
    old = tmp_path / "v1.h5"
    shutil.copy(rigid_store[0], old)
    with h5py.File(old, "r+") as f:
        f.move("full", "raw")
        f.attrs["version"] = 1
    with Store(rigid_store[0]) as new, Store(old) as st:
        assert new.attrs["version"] == 2 and st.attrs["version"] == 1
        assert np.array_equal(st.full_sequence(3), new.full_sequence(3))
    r = CliRunner().invoke(skel, ["stats", str(old)])
    assert r.exit_code == 0, r.output


class _PidJob:
    """A stand-in job that says which process handled each unit."""

    def __init__(self, warm: bool):
        self.warm, self.warmed_in = warm, None

    def warm_up(self) -> bool:
        import os
        self.warmed_in = os.getpid()
        return self.warm

    def __call__(self, unit):
        import os
        return os.getpid()

    def batch(self, units, first):
        return [self(u) for u in units]


@pytest.mark.parametrize("warm", [True, False])
def test_with_a_warm_up_the_writing_process_reads_no_unit(warm):
    import os

    from skeltools.workers import Workers
    pool, job = Workers(2), _PidJob(warm)
    try:
        pids = [pid for answer in pool.results(job, list(range(40))) for pid in answer]
    finally:
        pool.close()
    assert len(pids) == 40 and job.warmed_in == os.getpid()
    assert pids.count(os.getpid()) == (0 if warm else 1)     # a format without a warm-up: its first unit only


def test_summary_reports_the_time_per_sample_of_workers_and_writer(rigid_corpus, tmp_path):
    summary = prepare("ntu60", rigid_corpus.out, tmp_path / "s.h5", workers=2, progress=False)
    assert summary.worker_seconds > 0 and summary.parent_cpu_seconds > 0 and summary.warm_up_seconds > 0
    assert summary.scaling_ceiling() == pytest.approx(summary.worker_seconds / summary.parent_cpu_seconds)
    assert "scaling ceiling:" in summary.text().splitlines()[-1]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.h5"]          # the hand-off folder is gone


def test_arrays_take_the_pipe_when_the_hand_off_folder_cannot_be_written(rigid_corpus, rigid_store, tmp_path,
                                                                         monkeypatch):
    import skeltools.prepare as prep
    import skeltools.workers as workers
    from skeltools.answers import collect
    from skeltools.store import meta_row

    made = workers.handoff_folder

    def vanishing(out):
        folder = made(out)
        folder.rmdir()                                       # every worker's file write now fails
        return folder

    row = meta_row({"name": "a", "label": 0, "view": 1, "scene": 0, "subject": 1, "setup": 1, "replication": 1,
                    "frames": 50, "bodies": 1})
    results = [(1, 0.0, [("a", {}, prep.Ready(np.ones((2, 3), np.float32), None, row, 1.0))])]
    answer = collect(0, results, str(tmp_path / "missing"))
    assert isinstance(answer.poses[0], np.ndarray) and answer.poses[0].shape == (2, 3) and answer.names == ("a",)
    monkeypatch.setattr(workers, "handoff_folder", vanishing)
    prepare("ntu60", rigid_corpus.out, tmp_path / "p.h5", workers=2, keep_full=True, progress=False)
    ref, _ = arrays(rigid_store[0])
    got, _ = arrays(tmp_path / "p.h5")
    assert all(np.array_equal(np.asarray(got[k]), np.asarray(ref[k])) for k in ref)


@dataclass(frozen=True)
class _StandInJob:
    """What Workers needs of a job, for the stand-ins below (their `batch` says what they do)."""

    handoff: str | None = None

    def warm_up(self) -> bool:
        return True


@dataclass(frozen=True)
class _DyingJob(_StandInJob):
    """A job whose worker dies (as of a crash inside a library) on unit 13."""

    def batch(self, units, first):
        import os
        if 13 in units:
            os._exit(1)
        return list(units)


def test_a_worker_that_dies_stops_the_run_with_a_reason_not_a_hang(tmp_path):
    import time

    from skeltools.store import StoreError
    from skeltools.workers import Workers
    pool = Workers(2, out=tmp_path / "s.h5")
    start = time.monotonic()
    with pytest.raises(StoreError, match="a worker process died"):
        try:
            list(pool.results(_DyingJob(), list(range(200))))
        finally:
            pool.close()
    assert time.monotonic() - start < 30 and list(tmp_path.iterdir()) == []   # the hand-off folder is gone too


def test_a_failure_while_the_workers_make_the_chunks_leaves_nothing(rigid_corpus, tmp_path, monkeypatch):
    """Commit with a pool: the workers scale the chunks. One that fails there (here: every one)
    ends the run like any other error: no store, no partial, no hand-off folder."""
    import skeltools.store as store

    def broken(refs, scale, reader):
        raise OSError("disk gone while making a chunk")

    monkeypatch.setattr(store, "scaled_block", broken)
    monkeypatch.setattr("skeltools.workers.scaled_block", broken)
    with pytest.raises(OSError, match="disk gone"):
        prepare("ntu60", rigid_corpus.out, tmp_path / "s.h5", workers=2, progress=False)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("suffix,compression", [(".h5", None), (".h5", "gzip"), (".h5", "lzf"), (".zarr", None)])
def test_a_deferring_writer_stores_what_the_plain_writer_stores(tmp_path, suffix, compression):
    """StoreWriter(defer_to=...): poses spilled to files and written once at commit, scaled
    (uncompressed HDF5 and Zarr: written in place through skeltools/chunk_targets.py, the
    last chunk partial), equal to writing them, reading them back and rescaling (values and
    chunk checksums)."""
    from skeltools.store import CHECKSUM_KEY, StoreWriter

    rng = np.random.default_rng(3)
    samples = [rng.normal(0, 1.5, (2, 50, 25, 3)).astype(np.float32) for _ in range(150)]
    meta = {"name": "x", "label": 0, "view": 1, "scene": 0, "subject": 1, "setup": 1, "replication": 1,
            "frames": 50, "bodies": 2}
    (tmp_path / "handoff").mkdir()
    stores = {}
    for name, defer in (("plain", None), ("deferred", tmp_path / "handoff")):
        with StoreWriter(tmp_path / f"{name}{suffix}", bodies=2, frames=50, joints=25, defer_to=defer,
                         compression=compression) as w:
            for k, poses in enumerate(samples):
                w.append(poses, {**meta, "name": f"s{k}"})
            w.commit(attrs={"n_views": 1, "layout": "kinect_v2_25"}, views=np.arange(150), splits={}, skipped=[],
                     scale=4.5)
        stores[name] = arrays(tmp_path / f"{name}{suffix}")[0]
        with Store(tmp_path / f"{name}{suffix}") as st:
            stores[name]["checksums"] = st.read(CHECKSUM_KEY)
    assert stores["deferred"].keys() == stores["plain"].keys() and len(stores["plain"]["checksums"]) == 3
    for key, value in stores["plain"].items():
        assert np.array_equal(np.asarray(stores["deferred"][key]), np.asarray(value)), key
    assert np.array_equal(stores["plain"]["poses"], np.stack(samples) / np.float32(4.5))
    assert list((tmp_path / "handoff").iterdir()) == []          # every spilled file was read and removed


@dataclass(frozen=True)
class _UnevenJob(_StandInJob):
    """A job whose tasks take uneven times (so that answers come back out of order)."""

    def batch(self, units, first):
        import time
        assert units[0] == first
        time.sleep(0.02 * (units[0] % 3))
        if 41 in units:
            raise ValueError("unit 41 is broken")
        return [u * 10 for u in units]


def test_the_pool_yields_in_unit_order_and_raises_a_task_s_own_error(tmp_path):
    from skeltools.workers import Workers
    pool = Workers(3, out=tmp_path / "s.h5")
    pool.CHUNK = 1
    try:
        assert [v for answer in pool.results(_UnevenJob(), list(range(40))) for v in answer] == \
            [u * 10 for u in range(40)]
    finally:
        pool.close()
    pool = Workers(3, out=tmp_path / "s.h5")
    pool.CHUNK = 1
    got = []
    with pytest.raises(ValueError, match="unit 41"):
        try:
            for answer in pool.results(_UnevenJob(), list(range(60))):
                got.extend(answer)
        finally:
            pool.close()
    assert got == [u * 10 for u in range(41)] and list(tmp_path.iterdir()) == []


def test_hand_off_runs_cut_into_chunks_read_back_the_samples_they_name(tmp_path):
    """Store chunks name their samples as runs (consecutive samples of one hand-off file): cut
    into chunks, runs that follow one another merged, a run split where a chunk ends, and read
    through them, the samples are the ones filed, in order, however the files and gaps fall (a
    sample from another file, a skipped one, a file's end, a task's run of several)."""
    from skeltools.handoff import ShardReader, ShardRun, chunks_of, sample_of, write_floats

    rng = np.random.default_rng(5)
    shape = (2, 4, 3, 3)
    files = [[rng.normal(size=shape).astype(np.float32) for _ in range(5)] for _ in range(3)]
    paths = [write_floats(tmp_path, f) for f in files]
    size = 2 * 4 * 3 * 3
    picked = [(0, 0), (0, 1), (0, 2), (1, 0), (0, 4), (2, 0), (2, 1), (2, 3), (2, 4), (1, 4)]   # (2, 2) skipped
    runs = [ShardRun(paths[f], i * size, 1, shape) for f, i in picked] + [ShardRun(paths[1], size, 3, shape)]
    picked += [(1, 1), (1, 2), (1, 3)]
    chunks = chunks_of(runs, 4)
    assert [[(paths.index(r.path), r.offset // size, r.count) for r in c] for c in chunks] == \
        [[(0, 0, 3), (1, 0, 1)], [(0, 4, 1), (2, 0, 2), (2, 3, 1)], [(2, 4, 1), (1, 4, 1), (1, 1, 2)], [(1, 3, 1)]]
    got = np.concatenate([ShardReader(remove=False).read(r) for c in chunks for r in c])
    assert np.array_equal(got, np.stack([files[f][i] for f, i in picked]))
    one = sample_of(runs, 12)
    assert one.count == 1 and np.array_equal(ShardReader(remove=False).read(one)[0], files[1][3])


def _square_where(x):
    import os
    return x * x, os.getpid()


def test_pool_map_runs_in_the_workers_in_order(tmp_path):
    """Workers.map (prepare's layout probe) spreads per-unit work over the pool: results in
    order, none computed in the writing process, the pool ended afterwards."""
    import os

    from skeltools.workers import Workers
    pool = Workers(2, out=tmp_path / "s.h5")
    got = pool.map(_square_where, list(range(100)))
    assert [v for v, _ in got] == [x * x for x in range(100)]
    assert os.getpid() not in {pid for _, pid in got} and pool.pool is None
    assert Workers(1).map(_square_where, [3]) == [(9, os.getpid())]


@pytest.mark.parametrize("dataset", ["ntu60", "ntu120", "pkummd1", "pkummd2", "nucla", "uwa3d"])
def test_every_format_warms_up_without_a_raw_file(dataset, monkeypatch):
    """Each format has a built-in warm-up sample, read by its own parser and transformed like
    a real one, so that the writing process compiles the kernels and reads no raw file."""
    import skeltools.prepare as prep
    from skeltools.transform import TransformParams

    spec = load_dataset(dataset)
    reader = prep.format_module(spec)

    def no_raw_file(*args, **kwargs):
        raise AssertionError("the warm-up read a raw unit")

    monkeypatch.setattr(reader, "read_unit", no_raw_file)
    job = prep._Job(spec, TransformParams(bounds=prep.dataset_bounds(spec)), keep_full=True)
    sample = reader.warm_up_sample(spec.layout.n_joints)
    assert job.warm_up() is True and sample.xyz.shape[1:] == (spec.layout.n_joints, 3) and len(sample.frame) >= 2


@pytest.mark.parametrize("step", [1, 3, 4])
def test_hand_off_files_go_after_their_last_chunk_and_by_the_worker_only_within_its_task(step):
    """The commit's removal plan: every hand-off file removed exactly once, never before the
    last chunk that reads it is made, and by a task's own worker only when no chunk of another
    task reads it (that one may still be running in another worker)."""
    from skeltools.handoff import ShardRun, chunks_of
    from skeltools.workers import removal_plan

    rng = np.random.default_rng(step)
    runs = [ShardRun(f"f{i}", 0, int(n), (2,)) for i, n in enumerate(rng.integers(1, 150, 40))]
    chunks = chunks_of(runs, 64)
    own, shared = removal_plan(chunks, step)
    readers = {}
    for k, c in enumerate(chunks):
        for run in c:
            readers.setdefault(run.path, []).append(k)
    removed = [(k, p, "own") for k, ps in own.items() for p in ps] + [(k, p, "shared") for k, ps in shared.items()
                                                                       for p in ps]
    assert sorted(p for _, p, _ in removed) == sorted(readers)
    for k, path, how in removed:
        assert k == max(readers[path])
        assert (how == "own") == (min(readers[path]) // step == k // step)
    assert own and shared                   # both kinds occur


@pytest.mark.parametrize("how", ["writev", "short writes", "no writev"])
def test_hand_off_files_hold_every_array_whatever_the_writes_take(tmp_path, monkeypatch, how):
    """write_floats: the arrays' float32 values one after another (empty, strided, float64
    and more arrays than one writev takes), also when writev writes less than asked or is
    missing (Windows); a write that fails leaves no file."""
    import os

    from skeltools.handoff import IOV_MAX, write_floats
    arrays = [np.arange(n * 3, dtype=np.float32).reshape(n, 3) for n in (0, 1, 5, 0, 7)]
    arrays += [np.ones((2, 2)), np.arange(12, dtype=np.float32).reshape(4, 3)[:, 1]]
    arrays += [np.full(3, i, np.float32) for i in range(IOV_MAX + 300)]
    want = np.concatenate([np.asarray(a, np.float32).ravel() for a in arrays])
    if how == "short writes":
        real, calls = os.writev, []

        def short(fd, bufs):                  # 5 bytes a call, and no endless loop if one never advances
            calls.append(1)
            assert len(calls) < 10_000, "write_floats does not advance past a short write"
            return real(fd, [bytes(bufs[0])[:5]])
        monkeypatch.setattr(os, "writev", short)
    elif how == "no writev":
        monkeypatch.delattr(os, "writev")
    assert np.array_equal(np.fromfile(write_floats(tmp_path, arrays), np.float32), want)

    def failing(fd, bufs):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(os, "writev", failing, raising=False)
    monkeypatch.setattr(os, "write", failing)
    files = set(tmp_path.iterdir())
    with pytest.raises(OSError, match="No space"):
        write_floats(tmp_path, arrays)
    assert set(tmp_path.iterdir()) == files
