"""What a user runs into (issue 24): no run succeeds with nothing in it, eval and embed refuse a
store unlike the run's, exports fit CTR-GCN's feeder and pyskl's loader as their documented
formats say, and the commands' lines say what happened."""
from __future__ import annotations

import json
import pickle

import h5py
import numpy as np
import pytest
from click.testing import CliRunner

from cli.focovil import main as focovil
from cli.skel import main as skel
from skeltools.prepare import prepare
from skeltools.store import Store, check_store
from skeltools.synth.generate import synth

from .conftest import REPO


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return synth("ntu60", tmp_path_factory.mktemp("users_raw"), scenes=12, seed=5, rigid=True)


@pytest.fixture(scope="module")
def stores(corpus, tmp_path_factory):
    out = tmp_path_factory.mktemp("users_stores")
    prepare("ntu60", corpus.out, out / "full.h5", workers=1, keep_full=True, progress=False)
    prepare("ntu60", corpus.out, out / "unaligned.h5", workers=1, align=False, progress=False)
    return out


@pytest.fixture(scope="module")
def run(stores, tmp_path_factory):
    out = tmp_path_factory.mktemp("users_run") / "run"
    r = CliRunner().invoke(focovil, ["train", "--store", str(stores / "full.h5"), "--protocol", "xview", "--out",
                                     str(out), "--epochs", "1", "--hidden", "32", "--batch", "4", "--lr", "0.002"])
    assert r.exit_code == 0, r.output
    return out


def _pickle(path, annotations, split=None):
    with open(path, "wb") as f:
        pickle.dump({"split": split or {"xsub_train": [], "xsub_val": []}, "annotations": annotations}, f)


def test_a_2d_pickle_writes_nothing_and_exits_1(tmp_path):
    rng = np.random.default_rng(0)
    annotations = [{"frame_dir": f"S001C001P00{k}R001A001", "label": 0, "total_frames": 30,
                    "keypoint": rng.normal(size=(1, 30, 17, 2)).astype(np.float32),
                    "keypoint_score": np.ones((1, 30, 17), np.float32)} for k in range(1, 4)]
    _pickle(tmp_path / "ntu60_hrnet.pkl", annotations)
    r = CliRunner().invoke(skel, ["prepare", "ntu60", "--from-mmaction", str(tmp_path / "ntu60_hrnet.pkl"),
                                  "--out", str(tmp_path / "s.h5")])
    assert r.exit_code == 1 and "2D keypoints (C = 2" in r.output and "needs 3D joints" in r.output
    assert not (tmp_path / "s.h5").exists()


def test_ntu120_names_prepared_as_ntu60_are_refused_with_a_hint(tmp_path):
    raw = synth("ntu120", tmp_path / "raw", scenes=6, seed=1, broken=False)
    moved = 0
    for f in sorted(raw.out.glob("*.skeleton")):           # ntu120's own setups and actions: outside ntu60
        f.rename(f.with_name(f"S0{18 + moved % 3}" + f.name[4:16] + f"A{61 + moved % 4:03d}.skeleton"))
        moved += 1
    r = CliRunner().invoke(skel, ["prepare", "ntu60", "--raw", str(raw.out), "--out", str(tmp_path / "s.h5")])
    assert r.exit_code == 1 and "look like ntu120: did you mean `skel prepare ntu120`?" in r.output
    assert not (tmp_path / "s.h5").exists()


def test_an_empty_protocol_part_is_a_failure_unless_allowed(corpus, tmp_path):
    r = CliRunner().invoke(skel, ["prepare", "ntu60", "--raw", str(corpus.out), "--out", str(tmp_path / "s.h5"),
                                  "--limit", "3"])
    assert r.exit_code == 1 and "empty" in r.output and not (tmp_path / "s.h5").exists()
    r = CliRunner().invoke(skel, ["prepare", "ntu60", "--raw", str(corpus.out), "--out", str(tmp_path / "s.h5"),
                                  "--limit", "3", "--allow-empty-splits", "--quiet"])
    assert r.exit_code == 0 and r.output.strip() == "" or r.output.startswith("warning")
    problems, notes = check_store(tmp_path / "s.h5")
    assert problems == [] and any("empty" in n for n in notes)
    with h5py.File(tmp_path / "s.h5", "r+") as f:                   # the same store, not made with the flag
        del f.attrs["empty_splits_allowed"]
    problems, _ = check_store(tmp_path / "s.h5")
    assert any("empty" in p for p in problems)


def test_eval_and_embed_refuse_a_store_unlike_the_run_s(run, stores, tmp_path):
    before = (run / "results.json").read_bytes() if (run / "results.json").exists() else None
    other = stores / "unaligned.h5"
    r = CliRunner().invoke(focovil, ["eval", "--run", str(run), "--store", str(other), "--no-plots"])
    assert r.exit_code == 2 and "aligned" in r.output and "--force" in r.output
    r = CliRunner().invoke(focovil, ["embed", "--run", str(run), "--store", str(other), "--out", str(tmp_path / "f.h5")])
    assert r.exit_code == 2 and "--force" in r.output and not (tmp_path / "f.h5").exists()
    r = CliRunner().invoke(focovil, ["eval", "--run", str(run), "--store", str(other), "--no-plots", "--force"])
    assert r.exit_code == 0, r.output
    assert (run / "results-unaligned.h5.json").exists()
    after = (run / "results.json").read_bytes() if (run / "results.json").exists() else None
    assert after == before


def test_config_cites_a_source_only_for_defaults(run):
    sources = json.loads((run / "config.json").read_text())["sources"]
    assert sources["lr"] == "set by the user" and sources["epochs"] == "set by the user"
    assert sources["tau"].startswith("paper Sec. 3.2")


def ctrgcn_feeder(npz_path, split: str):
    """What CTR-GCN's feeders/feeder_ntu.py does with the file (its documented format):
    x_<split> (N, T, 150) -> (N, C=3, T, V=25, M=2); labels = np.where(y_<split> > 0)[1]."""
    npz = np.load(npz_path)
    data, label = npz[f"x_{split}"], np.where(npz[f"y_{split}"] > 0)[1]
    N, T, _ = data.shape
    return data.reshape((N, T, 2, 25, 3)).transpose(0, 4, 1, 3, 2), label


def test_ctrgcn_export_in_metres_at_300_frames_fits_its_feeder(stores, tmp_path):
    store = stores / "full.h5"
    args = ["export", str(store), "--to", "ctrgcn", "--protocol", "xsub", "--metres", "--frames", "300", "--out"]
    r = CliRunner().invoke(skel, [*args, str(tmp_path / "ntu")])
    assert r.exit_code == 2 and "ending in .npz" in r.output and not (tmp_path / "ntu").exists()
    r = CliRunner().invoke(skel, [*args, str(tmp_path / "ntu.npz")])
    assert r.exit_code == 0, r.output
    assert "full-length" in r.output                                    # it says where the 300 frames came from
    data, label = ctrgcn_feeder(tmp_path / "ntu.npz", "train")
    with Store(store) as st:
        tr, labels, scale = st.split("xsub", "train"), st.read("meta/label"), st.attrs["scale"]
        full, offsets = st.read("full/poses"), st.read("full/offsets")
    assert data.dtype == np.float32 and data.shape == (len(tr), 3, 300, 25, 2)
    assert np.array_equal(label, labels[tr])
    k = int(tr[0])
    first = full[offsets[k]] * scale                     # (M, J, 3) the first stored full-length frame, metres
    assert np.allclose(data[0, :, 0].transpose(2, 1, 0), first, atol=1e-5)
    assert 0.3 < np.abs(data).max() < 3.0                 # metres: a body, not |x| <= 1 store units


def test_mmaction_export_fits_pyskl_and_comes_back_with_its_scale(stores, tmp_path):
    store = stores / "full.h5"
    r = CliRunner().invoke(skel, ["export", str(store), "--to", "mmaction", "--protocol", "xview", "--frames", "64",
                                  "--out", str(tmp_path / "ntu60_3danno.pkl")])
    assert r.exit_code == 0, r.output
    with open(tmp_path / "ntu60_3danno.pkl", "rb") as f:
        data = pickle.load(f)
    assert set(data) == {"split", "annotations"} and set(data["split"]) == {"xview_train", "xview_val"}
    with Store(store) as st:
        names, scale = list(st.read("meta/name")), st.attrs["scale"]
        assert data["split"]["xview_val"] == [names[i] for i in st.split("xview", "test")]
    for ann in data["annotations"]:          # pyskl's PoseDecode / PreNormalize3D read these
        assert isinstance(ann["frame_dir"], str) and isinstance(ann["label"], int)
        kp = ann["keypoint"]
        assert kp.dtype == np.float32 and kp.ndim == 4 and kp.shape[1:] == (64, 25, 3) and 1 <= kp.shape[0] <= 2
        assert ann["total_frames"] == 64 and ann["scale"] == pytest.approx(scale)
    # at the store's own frames, the way back keeps the scale (the peak it divides by is the same)
    r = CliRunner().invoke(skel, ["export", str(store), "--to", "mmaction", "--out", str(tmp_path / "same.pkl")])
    assert r.exit_code == 0, r.output
    r = CliRunner().invoke(skel, ["prepare", "ntu60", "--from-mmaction", str(tmp_path / "same.pkl"),
                                  "--out", str(tmp_path / "back.h5"), "--quiet"])
    assert r.exit_code == 0, r.output
    with Store(tmp_path / "back.h5") as st, Store(store) as first:
        assert st.attrs["scale"] == pytest.approx(scale, rel=1e-6)
        order = [list(st.read("meta/name")).index(n) for n in first.read("meta/name")]
        assert np.abs(st.read("poses")[order] - first.read("poses")).max() < 1e-5      # the numbers it left with


def test_prepare_lines_say_what_happened(corpus, tmp_path):
    r = CliRunner().invoke(skel, ["prepare", "ntu60", "--raw", str(corpus.out), "--out", str(tmp_path / "s.h5"),
                                  "--quiet"])
    assert r.exit_code == 0 and r.output == ""
    r = CliRunner().invoke(skel, ["prepare", "ntu60", "--raw", str(corpus.out), "--out", str(tmp_path / "s.h5")])
    text = r.output.split("\r")[-1]
    assert "compiling" not in text                         # nothing compiles on a second run
    skipped = [ln for ln in text.splitlines() if ln.startswith("     ")]
    assert skipped and all("(e.g. " in ln for ln in skipped)
    assert not any(ch.isdigit() and "ntuN" in ln for ln in skipped for ch in ln)


def test_demo_summary_keeps_the_paper_order_and_writes_its_time(tmp_path):
    import subprocess
    import sys
    runs = tmp_path / "runs"
    for k, name in enumerate(("focovil", "reconst", "ali-reconst")):
        (runs / name).mkdir(parents=True)
        (runs / name / "results.json").write_text(json.dumps(dict.fromkeys(
            ("linear_acc", "knn1_acc", "gmm_purity", "gmm_ari", "kmeans_purity"), 0.1 * k)))
    (tmp_path / "timing.txt").write_text("synth 10.5 10.0\ntrain 70.0 10.5\n")
    out = subprocess.run([sys.executable, str(REPO / "scripts" / "demo_summary.py"), str(runs),
                          str(tmp_path / "timing.txt"), str(tmp_path / "timing.json")],
                         capture_output=True, text=True, check=True).stdout
    rows = [ln.split("|")[1].strip() for ln in out.splitlines() if ln.startswith("| ") and "run" not in ln]
    assert rows == ["Reconst. (unaligned store)", "Ali. reconst.", "FoCoViL"]
    assert json.loads((tmp_path / "timing.json").read_text())["total_s"] == 60.0
