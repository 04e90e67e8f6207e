"""mmaction2/pyskl pickles in and out, CTR-GCN arrays out: read back with plain pickle and numpy."""
from __future__ import annotations

import pickle

import numpy as np
from click.testing import CliRunner

from cli.skel import main as skel
from skeltools.store import Store


def test_export_mmaction_and_ctrgcn_read_back_plainly(rigid_store, tmp_path):
    path, _ = rigid_store
    r = CliRunner().invoke(skel, ["export", str(path), "--to", "mmaction", "--out", str(tmp_path / "a.pkl")])
    assert r.exit_code == 0, r.output
    r = CliRunner().invoke(skel, ["export", str(path), "--to", "ctrgcn", "--protocol", "xview",
                                  "--out", str(tmp_path / "c.npz")])
    assert r.exit_code == 0, r.output
    with open(tmp_path / "a.pkl", "rb") as f:
        data = pickle.load(f)
    c = np.load(tmp_path / "c.npz")
    with Store(path) as st:
        P, names, labels = st.read("poses"), list(st.read("meta/name")), st.read("meta/label")
        n_classes = len(st.attrs["classes"])
        tr, te = st.split("xview", "train"), st.split("xview", "test")
        assert set(data["split"]) == {f"{p}_{part}" for p in st.protocols() for part in ("train", "val")}
    assert data["split"]["xview_val"] == [names[i] for i in te]
    for ann, p, label, name in zip(data["annotations"], P, labels, names):
        bodies = np.abs(p).reshape(len(p), -1).max(1) > 0
        assert ann["frame_dir"] == name and ann["label"] == label and ann["total_frames"] == 50
        assert ann["keypoint"].dtype == np.float32 and np.array_equal(ann["keypoint"], p[bodies])
    assert c["x_train"].shape == (len(tr), 50, 150) and c["y_test"].shape == (len(te), n_classes)
    assert np.array_equal(c["x_test"][3].reshape(50, 2, 25, 3).transpose(1, 0, 2, 3), P[te[3]])
    assert np.array_equal(c["y_train"].argmax(1), labels[tr]) and np.all(c["y_train"].sum(1) == 1)
    r = CliRunner().invoke(skel, ["export", str(path), "--to", "ctrgcn", "--out", str(tmp_path / "d.npz")])
    assert r.exit_code == 2 and "needs --protocol" in r.output


def _pickle_from_raw(corpus, spec, path, extra=()):
    """The documented pyskl dict, made here from raw files with our parser and body selection."""
    from skeltools.bodies import select_bodies
    from skeltools.formats.ntu import read_ntu
    annotations = []
    for name in corpus.samples:
        bodies = select_bodies(read_ntu(corpus.out / f"{name}.skeleton"), spec.bodies)
        keep = np.abs(bodies).reshape(len(bodies), -1).max(1) > 0      # pyskl drops absent bodies
        fields = spec.parse_file_name(f"{name}.skeleton")
        annotations.append({"frame_dir": name, "label": fields["action"] - 1, "keypoint": bodies[keep],
                            "total_frames": bodies.shape[1]})
    split = {"xsub_train": [a["frame_dir"] for a in annotations if a["frame_dir"][9:12] in ("001", "002", "004")],
             "xsub_val": [a["frame_dir"] for a in annotations if a["frame_dir"][9:12] not in ("001", "002", "004")]}
    with open(path, "wb") as f:
        pickle.dump({"split": split, "annotations": annotations + list(extra)}, f)
    return split


def test_import_from_mmaction_equals_preparing_the_raw_files(rigid_corpus, rigid_store, tmp_path):
    from skeltools.manifests import load_dataset
    spec = load_dataset("ntu60")
    good = rigid_corpus.samples[0]
    bad = [{"frame_dir": "S001C001P001R001A099", "label": 98, "keypoint": np.zeros((1, 5, 25, 3), np.float32)},
           {"frame_dir": "not_a_name", "label": 0, "keypoint": np.zeros((1, 5, 25, 3), np.float32)},
           {"frame_dir": "S001C003P008R002A001", "label": 0, "keypoint": np.zeros((1, 5, 24, 3), np.float32)},
           {"frame_dir": "S001C003P008R002A002", "label": 1, "keypoint": np.full((1, 5, 25, 3), np.nan, np.float32)},
           {"frame_dir": "S001C003P008R002A003", "label": 2, "keypoint": np.zeros((1, 0, 25, 3), np.float32)},
           {"frame_dir": "S001C003P008R002A004", "label": 7,                 # a label that is not the name's action
            "keypoint": np.random.default_rng(0).normal(0, 0.3, (1, 20, 25, 3)).astype(np.float32) + 3}]
    split = _pickle_from_raw(rigid_corpus, spec, tmp_path / "n.pkl", bad)
    r = CliRunner().invoke(skel, ["prepare", "ntu60", "--from-mmaction", str(tmp_path / "n.pkl"), "--out",
                                  str(tmp_path / "m.h5"), "--quiet"])
    assert r.exit_code == 0, r.output
    with Store(rigid_store[0]) as ref, Store(tmp_path / "m.h5") as got:
        a = dict(zip(ref.read("meta/name"), ref.read("poses")))
        names = list(got.read("meta/name"))
        b = dict(zip(names, got.read("poses")))
        assert sorted(b) == sorted(rigid_corpus.samples) and good in b
        # same transform: metres agree exactly up to the two stores' dataset-wide divisors
        assert all(np.allclose(b[n] * got.attrs["scale"], a[n] * ref.attrs["scale"], atol=1e-5) for n in b)
        assert got.attrs["source"] == "mmaction:n.pkl" and got.protocols() == ["xsub"]
        assert [names[i] for i in got.split("xsub", "test")] == [n for n in names if n in split["xsub_val"]]
        reasons = dict(zip(got.read("skipped/name"), got.read("skipped/code")))
    assert reasons == {"S001C001P001R001A099": "action N outside ntuN", "not_a_name": "unknown name",
                       "S001C003P008R002A001": "wrong keypoint shape", "S001C003P008R002A002": "non-finite coordinates",
                       "S001C003P008R002A003": "empty keypoint array",
                       "S001C003P008R002A004": "label N disagrees with the name's action AN"}
