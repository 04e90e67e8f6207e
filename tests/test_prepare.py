"""`skel prepare` end to end on synthetic raw corpora: invariance, contract, splits,
backends, determinism, failure handling."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from click.testing import CliRunner

from cli.skel import main as skel
from skeltools.formats.ntu import read_ntu
from skeltools.kernels import resample_linear
from skeltools.manifests import load_dataset
from skeltools.prepare import prepare
from skeltools.store import Store

from .conftest import REPO, SHARED


def arrays(path):
    with Store(path) as st:
        keys = ["poses", "views", "full/poses", "full/offsets", "skipped/name", "skipped/reason",
                *[f"meta/{k}" for k in st.meta()],
                *[f"splits/{p}/{part}" for p in st.protocols() for part in ("train", "test")]]
        return {k: st.read(k) for k in keys if st.has(k)}, st.attrs


def check_contract(path, notes_expected=()):
    """The project's own `skel check` (structure and checksums) always; the shared schema
    checker too where ../shared is present."""
    from skeltools.store import check_store
    problems, notes = check_store(path)
    assert problems == [] and notes == list(notes_expected), problems + notes
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

    from skeltools.store import check_store

    out = tmp_path / f"{compression}.h5"
    prepare("ntu60", rigid_corpus.out, out, workers=2, keep_full=True, progress=False, compression=compression)
    ref, _ = arrays(rigid_store[0])
    got, _ = arrays(out)
    assert all(np.array_equal(np.asarray(got[k]), np.asarray(ref[k])) for k in ref)
    with h5py.File(out) as f:
        assert f["poses"].compression == compression and f["poses"].shuffle
    assert check_store(out)[0] == []


def test_no_align_store_is_marked(rigid_corpus, tmp_path):
    s = prepare("ntu60", rigid_corpus.out, tmp_path / "na.h5", align=False, workers=1, limit=6, progress=False,
                allow_empty_splits=True)
    with Store(tmp_path / "na.h5") as st:
        assert not st.attrs["aligned"] and len(st) == s.written == 6 - len(s.skipped)
        assert np.abs(st.read("poses")[:, 0, 0, 0]).max() > 0.01   # root not at the origin


def test_strict_exit_code_and_quiet_output(rigid_corpus, tmp_path):
    """--strict exits 1 when anything was skipped; the summary groups the reasons by code, each
    with a real example; --quiet prints nothing but warnings and errors."""
    r = CliRunner().invoke(skel, ["prepare", "ntu60", "--raw", str(rigid_corpus.out), "--out", str(tmp_path / "a.h5"),
                                  "--workers", "1", "--strict"])
    assert r.exit_code == 1 and "skipped 8:" in r.stdout and "wrote 90 samples" in r.stdout
    broken = {why: name for name, why in rigid_corpus.broken.items()}
    assert f"  1  wrong joint count  (e.g. {broken['24 joints instead of 25']}: wrong joint count: 24 joints, " \
           "expected 25" in r.stdout
    assert f"  1  empty file  (e.g. {broken['empty file']})\n" in r.stdout
    r = CliRunner().invoke(skel, ["prepare", "ntu60", "--raw", str(rigid_corpus.out), "--out", str(tmp_path / "a.h5"),
                                  "--workers", "1", "--quiet"])
    assert r.exit_code == 0 and r.stdout == "" and r.stderr == ""
    r = CliRunner().invoke(skel, ["prepare", "ntu60", "--raw", str(rigid_corpus.out), "--out", str(tmp_path / "a.h5"),
                                  "--workers", "1", "--quiet", "--strict"])
    assert r.exit_code == 1 and r.stdout == "" and "8 items skipped (--strict)" in r.stderr


def test_interrupted_prepare_leaves_no_store(rigid_corpus, tmp_path, monkeypatch):
    import skeltools.prepare.stages as prep
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
    prepare("ntu60", rigid_corpus.out, out, workers=1, limit=9, progress=False, allow_empty_splits=True)
    prepare("ntu60", rigid_corpus.out, out, workers=1, limit=3, progress=False, allow_empty_splits=True)
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
    s = prepare("ntu60", shared_real / "ntu", tmp_path / "real.h5", workers=1, progress=False, allow_empty_splits=True)
    assert s.written == 5 and not s.skipped
    with Store(tmp_path / "real.h5") as st:
        m = st.meta()
        assert m["frames"].tolist() == [103, 158, 104, 99, 54] and m["label"].tolist() == [0, 1, 2, 3, 4]
        assert (m["bodies"] == 1).all() and not st.read("poses")[:, 1].any()
    check_contract(tmp_path / "real.h5", [f"protocol {p} may have an empty part (written with --allow-empty-splits)"
                                          for p in ("xsub", "xview")])


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
    s = prepare(dataset, tmp_path / "raw", tmp_path / "s.h5", workers=1, progress=False, allow_empty_splits=True)
    assert s.written == written and not s.skipped


def test_ntu_synth_scene_names_never_repeat(tmp_path):
    """A repeated name would overwrite a file: 7000 scenes of 10 classes once silently lost ~30 %."""
    from skeltools.manifests import load_dataset
    from skeltools.synth.ntu import scene_keys
    spec = load_dataset("ntu60")
    actions = list(range(1, 11))
    keys = scene_keys(spec, 7000, actions)
    assert len({spec.name_format.format(view=1, **k) for k in keys}) == 7000
    assert keys[10] == {"setup": 6, "subject": 11, "replication": 1, "action": 6}  # small corpora keep their names
    assert keys[11] == {**keys[10], "replication": 2}                   # every performance twice
    assert len({k["subject"] for k in keys[:12]}) == 6 and len({k["action"] for k in keys[:12]}) == 6
    assert len({spec.name_format.format(view=1, **k) for k in keys}) == 7000
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
    monkeypatch.setattr("skeltools.prepare.pool.start_method", lambda: "spawn")
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


def test_summary_reports_the_time_per_sample_of_workers_and_writer(rigid_corpus, tmp_path):
    summary = prepare("ntu60", rigid_corpus.out, tmp_path / "s.h5", workers=2, progress=False)
    assert summary.worker_seconds > 0 and summary.parent_cpu_seconds > 0 and summary.warm_up_seconds > 0
    assert summary.scaling_ceiling() == pytest.approx(summary.worker_seconds / summary.parent_cpu_seconds)
    assert "scaling ceiling:" in summary.text().splitlines()[-1]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.h5"]          # the hand-off folder is gone


def _square_where(x):
    import os
    return x * x, os.getpid()


def _uneven(x):
    """Uneven times (so that answers come back out of order), and item 41 broken."""
    import time
    time.sleep(0.02 * (x % 3))
    if x == 41:
        raise ValueError("item 41 is broken")
    return x * 10


def _dies_at_13(x):
    import os
    if x == 13:
        os._exit(1)        # as a crash inside a library would
    return x


def test_the_pool_yields_in_order_in_the_workers_and_serves_several_maps():
    import os

    from skeltools.prepare.pool import OrderedPool
    with OrderedPool(3) as pool:
        got = list(pool.map(_square_where, range(100)))
        assert [v for v, _ in got] == [x * x for x in range(100)]
        assert os.getpid() not in {pid for _, pid in got} and len({pid for _, pid in got}) == 3
        assert list(pool.map(_uneven, range(40))) == [x * 10 for x in range(40)]   # the same workers, a new fn
        workers = [w.process for w in pool._pool]
    assert not any(p.is_alive() for p in workers)
    with OrderedPool(1) as pool:
        assert list(pool.map(_square_where, [3])) == [(9, os.getpid())]        # one worker: this process


def test_the_pool_raises_an_item_s_own_error_at_that_item():
    from skeltools.prepare.pool import OrderedPool
    got = []
    with pytest.raises(ValueError, match="item 41"):
        with OrderedPool(3) as pool:
            for v in pool.map(_uneven, range(60)):
                got.append(v)
    assert got == [x * 10 for x in range(41)]


def test_a_worker_that_dies_ends_the_map_with_a_reason_not_a_hang():
    import time

    from skeltools.prepare.pool import OrderedPool, WorkerDied
    start = time.monotonic()
    with pytest.raises(WorkerDied, match="a worker process died while testing"):
        with OrderedPool(2) as pool:
            list(pool.map(_dies_at_13, range(200), "testing"))
    assert time.monotonic() - start < 30


def test_a_stop_request_ends_a_map_while_it_waits():
    """`stop` is called while the pool waits on its workers, so a Ctrl-C or SIGTERM flag
    ends a map within a moment even when no answer comes."""
    import time

    from skeltools.prepare.pool import OrderedPool

    asked = time.monotonic() + 0.5

    def stop():
        if time.monotonic() > asked:
            raise KeyboardInterrupt

    start = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        with OrderedPool(2, stop) as pool:
            list(pool.map(time.sleep, [30.0] * 4))
    assert time.monotonic() - start < 5


def test_a_worker_process_dies_with_its_parent(tmp_path):
    """A worker whose parent is killed (kill -9: no clean-up runs) ends too instead of
    living on blocked on its pipe."""
    import os
    import signal
    import time
    script = tmp_path / "parent.py"
    script.write_text(
        "import os, sys, time\n"
        "from skeltools.prepare.pool import OrderedPool\n"
        "with OrderedPool(2) as pool:\n"
        "    it = pool.map(time.sleep, [60.0] * 4)\n"
        "    try:\n"
        "        next(it)\n"
        "    finally:\n"
        "        pass\n")
    parent = subprocess.Popen([sys.executable, str(script)], cwd=str(REPO))
    deadline = time.monotonic() + 30
    children: list[int] = []
    while time.monotonic() < deadline and len(children) < 2:
        time.sleep(0.2)
        children = [int(p) for p in os.listdir("/proc") if p.isdigit() and _parent_of(int(p)) == parent.pid]
    assert len(children) == 2
    os.kill(parent.pid, signal.SIGKILL)
    parent.wait()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(_alive(c) for c in children):
        time.sleep(0.1)
    assert not any(_alive(c) for c in children)


def _parent_of(pid: int) -> int | None:
    try:
        return int(open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None


def _alive(pid: int) -> bool:
    try:
        state = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_a_failure_while_the_workers_make_the_chunks_leaves_nothing(rigid_corpus, tmp_path, monkeypatch):
    """Stage 4: the workers make the chunks. One that fails there (here: every one) ends the
    run like any other error: no store, no partial, no hand-off folder, no marker."""
    def broken(job, fill):
        raise OSError("disk gone while making a chunk")

    monkeypatch.setattr("skeltools.prepare.stages.make_chunk", broken)
    with pytest.raises(OSError, match="disk gone"):
        prepare("ntu60", rigid_corpus.out, tmp_path / "s.h5", workers=2, progress=False)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("suffix,compression", [(".h5", None), (".h5", "gzip"), (".h5", "lzf"), (".zarr", None)])
@pytest.mark.parametrize("keep_full", [False, True])
def test_chunks_made_by_a_pool_from_hand_off_files_equal_chunks_made_here(tmp_path, suffix, compression, keep_full):
    """The same samples written twice: chunks made in this process from arrays in memory, and
    made by a pool of workers from hand-off files (as prepare does): the same store, value
    for value and chunk checksum for chunk checksum, equal to the arrays divided by the
    scale, with full-length sequences cut across samples into chunks of their own."""
    from skeltools.prepare.handoff import new_file, write_arrays
    from skeltools.prepare.pool import OrderedPool
    from skeltools.prepare.records import Staged
    from skeltools.prepare.stages import make_staged_chunk
    from skeltools.store import CHECKSUM_KEY, StoreWriter
    from skeltools.store.schema import FULL_CHUNK_FRAMES

    rng = np.random.default_rng(3)
    lengths = rng.integers(40, 90, 150)
    poses = [rng.normal(0, 1.5, (1, 2, 50, 25, 3)).astype(np.float32) for _ in range(150)]
    full = [rng.normal(0, 1.5, (n, 2, 25, 3)).astype(np.float32) for n in lengths]
    assert sum(lengths) > FULL_CHUNK_FRAMES                  # several chunks of full/, samples across their edges
    (tmp_path / "handoff").mkdir()
    staged_poses, staged_full = [], []
    for lo in range(0, 150, 64):                            # batches in files of their own, as workers write them
        path = new_file(tmp_path / "handoff")
        write_arrays(path, [a for k in range(lo, min(lo + 64, 150)) for a in (poses[k], full[k])])
        offset = 0
        for k in range(lo, min(lo + 64, 150)):
            staged_poses.append(Staged(path, offset, poses[k].shape))
            offset += poses[k].size
            staged_full.append(Staged(path, offset, full[k].shape))
            offset += full[k].size
    stores = {}
    for how in ("here", "pool"):
        path = tmp_path / f"{how}{suffix}"
        with StoreWriter(path, bodies=2, frames=50, joints=25, keep_full=keep_full, compression=compression) as w:
            sources = (poses, full) if how == "here" else (staged_poses, staged_full)
            for k in range(150):
                w.add((f"s{k}", 0, 1, 0, 1, 1, 1, int(lengths[k]), 2, 0.0), sources[0][k], sources[1][k])
            w.write_index(views=np.arange(150), splits={}, skipped=[], scale=4.5, n_views=1)
            if how == "here":
                w.make_chunks_here(4.5)
            else:
                with OrderedPool(2) as pool:
                    for done in pool.map(make_staged_chunk, w.chunk_jobs(4.5)):
                        w.store_chunk(done)
            w.finish({"n_views": 1, "layout": "kinect_v2_25"}, 4.5)
        stores[how] = arrays(path)[0]
        with Store(path) as st:
            stores[how]["checksums"] = st.read(CHECKSUM_KEY)
    assert stores["pool"].keys() == stores["here"].keys() and len(stores["here"]["checksums"]) == 3
    for key, value in stores["here"].items():
        assert np.array_equal(np.asarray(stores["pool"][key]), np.asarray(value)), key
    assert np.array_equal(stores["here"]["poses"], np.concatenate(poses) / np.float32(4.5))
    if keep_full:
        assert np.array_equal(stores["here"]["full/poses"], np.concatenate(full) / np.float32(4.5))
        assert np.array_equal(stores["here"]["full/offsets"], np.concatenate([[0], np.cumsum(lengths)]))


def test_full_length_frames_are_cut_into_chunks_across_samples():
    from skeltools.store.writer import _frame_chunks
    chunks = _frame_chunks(["a", "b", "c", "d"], [3, 5, 0, 4], 4)
    assert chunks == [(("a", 0, 3), ("b", 0, 1)), (("b", 1, 5),), (("d", 0, 4),)]
    rows = [(s, r) for c in chunks for s, lo, hi in c for r in range(lo, hi)]
    assert rows == [("a", 0), ("a", 1), ("a", 2), *[("b", r) for r in range(5)], *[("d", r) for r in range(4)]]


@pytest.mark.parametrize("dataset", ["ntu60", "ntu120", "pkummd1", "pkummd2", "nucla", "uwa3d"])
def test_every_format_warms_up_without_a_raw_file(dataset, monkeypatch, tmp_path):
    """Each format has a built-in warm-up sample, read by its own parser and transformed like
    a real one, so that the writing process compiles the kernels and reads no raw file."""
    from skeltools.formats import reader_of
    from skeltools.prepare.plan import transform_params
    from skeltools.prepare.stages import ReadJob, warm_up

    spec = load_dataset(dataset)
    reader = reader_of(spec)

    def no_raw_file(*args, **kwargs):
        raise AssertionError("the warm-up read a raw unit")

    monkeypatch.setattr(reader, "read_unit", no_raw_file)
    warm_up(ReadJob(spec, transform_params(spec, 50, True), True, "dataset", str(tmp_path)))
    sample = reader.warm_up_sample(spec.layout.n_joints)
    assert sample.xyz.shape[1:] == (spec.layout.n_joints, 3) and len(sample.frame) >= 2


def test_hand_off_files_hold_every_array_and_a_failed_write_leaves_none(tmp_path, monkeypatch):
    """write_arrays: the arrays' float32 values one after another (empty, strided, float64);
    a write that fails leaves no file."""
    import builtins

    from skeltools.prepare.handoff import new_file, write_arrays
    arrays = [np.arange(n * 3, dtype=np.float32).reshape(n, 3) for n in (0, 1, 5, 0, 7)]
    arrays += [np.ones((2, 2)), np.arange(12, dtype=np.float32).reshape(4, 3)[:, 1]]
    want = np.concatenate([np.asarray(a, np.float32).ravel() for a in arrays])
    path = new_file(tmp_path)
    write_arrays(path, arrays)
    assert np.array_equal(np.fromfile(path, np.float32), want)

    class Full:
        def __init__(self, *a, **k):
            pass

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def write(self, data):
            raise OSError(28, "No space left on device")

    path = new_file(tmp_path)
    monkeypatch.setattr(builtins, "open", Full)
    with pytest.raises(OSError, match="No space"):
        write_arrays(path, arrays)
    monkeypatch.undo()
    assert not (tmp_path / path).exists() and len(list(tmp_path.iterdir())) == 1
