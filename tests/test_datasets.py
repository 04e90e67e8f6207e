"""N-UCLA, PKU-MMD (phase 1 and 2) and UWA3D II: readers on hand-written files, and
synth -> prepare end to end (contract, rigid invariance, splits, skipped files)."""
from __future__ import annotations

import json

import h5py
import numpy as np
import pytest
from click.testing import CliRunner

from cli.skel import main as skel
from skeltools.formats.nucla import parse_frame
from skeltools.formats.pkummd import read_labels, read_skeleton_rows
from skeltools.formats.raw_sample import SampleError
from skeltools.formats.text_kernels import ERR_TRUNCATED, OK, pow10_table
from skeltools.formats.units import RawUnit
from skeltools.formats.uwa3d import read_matrix
from skeltools.manifests import load_dataset
from skeltools.formats.raw_sample import reason_kind
from skeltools.prepare import prepare
from skeltools.store import Store
from skeltools.synth.generate import synth

from .test_prepare import check_contract


def frame_bytes(text: str) -> np.ndarray:
    return np.frombuffer(text.replace(",", " ").encode(), np.uint8)


def test_nucla_frame_blocks_and_short_files():
    block = lambda z: "60\r\n" + "".join(f"0.{j},1.{j},{z},2\r\n" for j in range(20))  # noqa: E731
    err, _, k, xyz = parse_frame(frame_bytes(block(3.3) + block(2.1)), 20, pow10_table())
    assert err == OK and k == 2 and xyz[1, 5].tolist() == pytest.approx([0.5, 1.5, 2.1])
    err, _, k, _ = parse_frame(frame_bytes(block(3.3)[:200]), 20, pow10_table())
    assert err == ERR_TRUNCATED and k == 0
    assert parse_frame(frame_bytes(""), 20, pow10_table())[2] == 0


def test_nucla_reader_keeps_nearest_skeleton_in_numeric_frame_order(tmp_path):
    spec = load_dataset("nucla")
    seq = tmp_path / "view_2" / "a08_s03_e01"
    seq.mkdir(parents=True)
    for n in (1, 2, 10):          # glob order would put 10 before 2
        near = "".join(f"{n}.0,{j}.0,2.0,2\n" for j in range(20))
        far = "".join(f"9.0,{j}.0,4.0,2\n" for j in range(20))
        (seq / f"frame_{n}_tc_{100 + n}_skeletons.txt").write_text(f"1\n{far}2\n{near}")
    (seq / "frame_3_tc_103_skeletons.txt").write_text("")
    from skeltools.formats.nucla import find_units, read_unit
    units, _ = find_units(tmp_path, spec)
    assert [u.name for u in units] == ["a08_s03_e01_v02"] and units[0].fields["action"] == 7
    (name, fields, raw), = read_unit(units[0], spec)
    assert raw.n_frames == 4 and raw.frame.tolist() == [0, 1, 3]
    assert raw.xyz[:, 0, 0].tolist() == [1.0, 2.0, 10.0] and (raw.xyz[..., 2] == 2.0).all()


def test_pkummd_rows_and_labels(shared_real, tmp_path):
    rows = read_skeleton_rows(shared_real / "pkummd2" / "A10N08-L.txt", 150)
    assert rows.shape == (1040, 150)
    ref = np.loadtxt(shared_real / "pkummd2" / "A10N08-L.txt", dtype=np.float64)
    np.testing.assert_allclose(rows, ref.astype(np.float32), rtol=1e-6)
    (tmp_path / "l.txt").write_text("3,10,50,1\n\n7,60,90,2\nbad,line\n")
    labels = read_labels(tmp_path / "l.txt", load_dataset("pkummd1"))
    assert labels[:2] == [(1, (3, 10, 50)), (3, (7, 60, 90))] and labels[2][0] == 4
    assert labels[2][1].code == "bad label line"
    assert labels[2][1].detail == "label file line 4: too few fields, expected label,start,end,confidence"
    (tmp_path / "s.txt").write_text("1 2 3\n")
    with pytest.raises(SampleError, match="too few values on a line: skeleton file line 1 holds fewer than the 150"):
        read_skeleton_rows(tmp_path / "s.txt", 150)


def test_uwa3d_mat_matrix(tmp_path):
    with h5py.File(tmp_path / "t.mat", "w") as f:
        f["A"] = np.arange(45 * 7, dtype=np.float64).reshape(45, 7)   # MATLAB's transposed layout
    assert read_matrix(tmp_path / "t.mat", "A").shape == (7, 45)
    with pytest.raises(SampleError, match="no dataset 'A'"):
        read_matrix(_mat(tmp_path, "B"), "A")
    (tmp_path / "v5.mat").write_bytes(b"MATLAB 5.0 MAT-file" + bytes(200))
    with pytest.raises(SampleError, match="not a MATLAB v7.3"):
        read_matrix(tmp_path / "v5.mat", "A")


def _mat(tmp_path, key):
    with h5py.File(tmp_path / "k.mat", "w") as f:
        f[key] = np.ones((4, 45))
    return tmp_path / "k.mat"


EXPECTED = {  # dataset: (scenes, views, samples per scene-view, skipped reasons)
    "nucla": (9, 3, 1, {"all frames empty", "non-numeric value in frame_2_tc_1066_skeletons.txt",
                        "action a07 is not one of N-UCLA's 10 classes"}),
    "pkummd1": (9, 3, 1, {"too few values on a line", "bad label line",
                          "label interval outside the skeleton file", "no label file"}),
    "pkummd2": (9, 3, 1, {"too few values on a line", "bad label line",
                          "label interval outside the skeleton file", "no label file"}),
    "uwa3d": (9, 4, 1, {"not a MATLAB v7.3 (HDF5) .mat file", "no dataset 'A' in the .mat file",
                        "wrong joint count: 20 joints"}),
}


@pytest.mark.parametrize("dataset", sorted(EXPECTED))
def test_synth_prepare_end_to_end(dataset, tmp_path):
    scenes, views, _, reasons = EXPECTED[dataset]
    corpus = synth(dataset, tmp_path / "raw", scenes=scenes, seed=5, rigid=True)
    summary = prepare(dataset, corpus.out, tmp_path / "s.h5", workers=2, progress=False)
    check_contract(tmp_path / "s.h5")
    assert {r.code for _, r in summary.skipped} == {reason_kind(r) for r in reasons}
    with Store(tmp_path / "s.h5") as st:
        assert sorted(st.read("skipped/code")) == sorted(r.code for _, r in summary.skipped)
    assert sorted(n for n, _ in summary.skipped) == sorted(corpus.broken)
    assert summary.ignored == len(corpus.ignored)
    spec = load_dataset(dataset)
    with Store(tmp_path / "s.h5") as st:
        P, V, names = st.read("poses"), st.read("views"), st.read("meta/name")
        assert sorted(names) == sorted(corpus.samples)
        assert st.attrs["n_views"] == views and V.shape[1] == views
        full = V[(V >= 0).all(axis=1)]
        assert len(full) == scenes
        assert max(np.abs(P[row] - P[row[0]]).max() for row in full) < 1e-4   # rigid invariance
        for proto in spec.protocols:
            tr, te = st.split(proto.name, "train"), st.split(proto.name, "test")
            assert len(tr) and len(te) and not np.intersect1d(tr, te).size
    r = CliRunner().invoke(skel, ["stats", str(tmp_path / "s.h5"), "--json"])
    assert r.exit_code == 0 and json.loads(r.output)["samples"] == len(corpus.samples)


def test_pkummd_two_person_instances_fill_the_second_slot(tmp_path):
    corpus = synth("pkummd1", tmp_path / "raw", scenes=8, seed=1, rigid=True, broken=False)
    prepare("pkummd1", corpus.out, tmp_path / "s.zarr", workers=1, progress=False)
    spec = load_dataset("pkummd1")
    with Store(tmp_path / "s.zarr") as st:
        labels, bodies = st.read("meta/label") + 1, st.read("meta/bodies")
    two = np.isin(labels, spec.two_person_actions)
    assert two.any() and (bodies[two] == 2).all() and (bodies[~two] == 1).all()


@pytest.mark.parametrize("workers,tasks_per_worker", [("1", 8), ("1", 1), ("2", 1)])
def test_pkummd_official_split_file_replaces_the_manifest_protocol(tmp_path, monkeypatch, workers, tasks_per_worker):
    """The split file names videos (units); each sample goes with the video it was cut from,
    however many samples a video has and however the 6 videos fall into tasks (1, 6 or 3 a task)."""
    monkeypatch.setattr("skeltools.prepare.run.MIN_BATCHES_PER_WORKER", tasks_per_worker)
    corpus = synth("pkummd1", tmp_path / "raw", scenes=8, seed=1, rigid=True, broken=False)
    split = tmp_path / "cross-subject.txt"
    split.write_text("Training videos: \n0002-L, 0291-L, 0291-M\nValidataion videos: \n0002-M, 0002-R, 0291-R\n")
    r = CliRunner().invoke(skel, ["prepare", "pkummd1", "--raw", str(corpus.out), "--out", str(tmp_path / "s.h5"),
                                  "--workers", workers, "--quiet", "--split-file", str(split)])
    assert r.exit_code == 0, r.output
    with Store(tmp_path / "s.h5") as st:
        names = st.read("meta/name")
        train, test = names[st.split("xsub", "train")], names[st.split("xsub", "test")]
    video = [n.split("_")[0] for n in names]
    assert len(train) == 12 and list(train) == [n for n, v in zip(names, video) if v in ("0002-L", "0291-L", "0291-M")]
    assert len(test) == 12 and list(test) == [n for n, v in zip(names, video) if v in ("0002-M", "0002-R", "0291-R")]


def test_nucla_needs_its_folder_layout(tmp_path):
    (tmp_path / "raw").mkdir()
    (tmp_path / "raw" / "a01_s01_e00.txt").write_text("x")
    with pytest.raises(FileNotFoundError, match="no nucla sample files found"):
        prepare("nucla", tmp_path / "raw", tmp_path / "s.h5", progress=False)


def test_unit_with_unmapped_action_is_skipped_with_reason(tmp_path):
    from skeltools.formats.nucla import read_unit
    unit = RawUnit(tmp_path, "a07_s01_e00_v01", {"action_id": 7, "view": 1, "subject": 1, "replication": 0})
    with pytest.raises(SampleError, match="a07 is not one of N-UCLA's 10 classes"):
        read_unit(unit, load_dataset("nucla"))
