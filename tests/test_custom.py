"""`skel prepare custom`: own recordings from an index file, in every format the index takes,
against the NTU path and the rigid-view invariance the public datasets meet."""
from __future__ import annotations

import hashlib
import json
import re
import shlex
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from cli.skel import main as skel
from skeltools.index import read_index
from skeltools.manifests import load_layout
from skeltools.prepare import prepare, prepare_custom
from skeltools.store import Store
from skeltools.synth.generate import synth

from .conftest import REPO, SHARED


def check_custom_contract(path) -> None:
    """`skel check`'s structure and checksums; and the shared schema checker's, whose one
    objection is CONTRACT's list of dataset names, written before `custom` (issue 25) existed."""
    from skeltools.store import check_store
    problems, notes = check_store(path)
    assert problems == [] and notes == [], problems + notes
    tool = SHARED / "tools" / "check_store.py"
    if tool.exists():
        out = subprocess.run([sys.executable, str(tool), str(path)], capture_output=True, text=True)
        objections = [ln for ln in out.stdout.splitlines() if ln.startswith("problem:")]
        assert objections == ["problem: attribute dataset = 'custom', expected one of ['ntu120', 'ntu60', 'nucla', "
                              "'pkummd1', 'pkummd2', 'synthetic', 'uwa3d']"], out.stdout + out.stderr


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    out = tmp_path_factory.mktemp("custom_raw")
    return synth("custom", out, scenes=12, seed=3)


@pytest.fixture(scope="module")
def mixed_store(corpus, tmp_path_factory):
    out = tmp_path_factory.mktemp("custom_store") / "mine.h5"
    r = CliRunner().invoke(skel, ["prepare", "custom", "--index", str(corpus.out / "recordings.csv"), "--layout",
                                  str(corpus.out / "my_layout.json"), "--classes", str(corpus.out / "classes.txt"),
                                  "--out", str(out), "--workers", "2", "--quiet"])
    assert r.exit_code == 0, r.output
    return out


def test_mixed_index_of_every_format_makes_a_valid_store(corpus, mixed_store):
    index = pd.read_csv(corpus.out / "recordings.csv", dtype=str, keep_default_na=False)
    suffixes = {p.rsplit(".", 1)[1] for p in index["path"]}
    assert suffixes == {"json", "npy", "npz", "csv", "skeleton"}
    check_custom_contract(mixed_store)
    assert CliRunner().invoke(skel, ["check", str(mixed_store)]).exit_code == 0
    with Store(mixed_store) as st:
        names, skipped = list(st.read("meta/name")), dict(zip(st.read("skipped/name"), st.read("skipped/reason")))
        assert sorted(names) == sorted(corpus.samples) and skipped.keys() == corpus.broken.keys()
        assert st.attrs["dataset"] == "custom" and st.attrs["index"] == "recordings.csv"
        assert st.attrs["index_sha256"] == hashlib.sha256((corpus.out / "recordings.csv").read_bytes()).hexdigest()
        assert st.attrs["classes"] == (corpus.out / "classes.txt").read_text().split("\n")[:-1]
        assert set(st.attrs["protocol_sources"]) == {"xsub", "xview"}
        assert st.read("views").shape == (12, 3) and (st.read("views") >= 0).all()
        xview_test = st.read("meta/view")[st.read("splits/xview/test")]
        assert set(xview_test) == {3}
    # every bad row names its line in the index
    for name in ("missing-1", "unknown_label-1", "outside-1", "backwards-1"):
        line = int(re.search(r"index line (\d+)", skipped[name]).group(1))
        assert index.iloc[line - 2]["scene"] == name[:-2]


def test_kinect_v2_formats_hold_the_poses_of_the_ntu_path(corpus, tmp_path):
    """.skeleton, .npy, .npz and .csv (millimetres, --units mm) of the same performances give the
    store `skel prepare ntu60` makes of their NTU files, to 1e-4 m."""
    k2 = corpus.out / "kinect_v2"
    rows = pd.read_csv(k2 / "index.csv", dtype=str)
    assert {p.rsplit(".", 1)[1] for p in rows["path"]} == {"skeleton", "npy", "npz", "csv"}
    ntu = prepare("ntu60", k2 / "ntu", tmp_path / "ntu.h5", workers=1, progress=False, allow_empty_splits=True)
    mine = prepare_custom(k2 / "index.csv", tmp_path / "mine.h5", units="mm", workers=2, progress=False)
    assert mine.written == ntu.written == len(rows) and not mine.skipped
    with Store(tmp_path / "ntu.h5") as a, Store(tmp_path / "mine.h5") as b:
        order = [list(b.read("meta/name")).index(n) for n in a.read("meta/name")]
        metres_a = a.read("poses") * a.attrs["scale"]
        metres_b = b.read("poses")[order] * b.attrs["scale"]
        assert np.abs(metres_a - metres_b).max() < 1e-4 and np.abs(metres_a).max() > 0.5
        assert sorted(a.read("meta/name")[a.read("splits/xview/test")]) == \
            sorted(b.read("meta/name")[b.read("splits/xview/test")])


def test_rigidly_moved_views_agree_after_alignment(tmp_path):
    """Azure Kinect JSON (millimetres, y down) and the other formats, as NTU's rigid views do."""
    res = synth("custom", tmp_path / "raw", scenes=6, seed=4, rigid=True, broken=False)
    summary = prepare_custom(tmp_path / "raw" / "recordings.csv", tmp_path / "r.h5", layout="azure_kinect_32",
                             workers=1, progress=False)
    assert summary.written == len(res.samples) == 18
    index = pd.read_csv(tmp_path / "raw" / "recordings.csv", dtype=str, keep_default_na=False)
    azure_scenes = {s for s, g in index.groupby("scene") if all(g["path"].str.endswith(".json"))}
    with Store(tmp_path / "r.h5") as st:
        P, V, names = st.read("poses"), st.read("views"), st.read("meta/name")
    scenes = [names[v[0]].rsplit("-", 1)[0] for v in V]
    diffs = {s: max(np.abs(P[i] - P[v[0]]).max() for i in v) for s, v in zip(scenes, V)}
    assert len(azure_scenes) == 2 and max(diffs[s] for s in azure_scenes) < 1e-4
    assert max(diffs.values()) < 1e-4 and np.abs(P).max() == pytest.approx(1.0)


def test_custom_store_trains_and_evaluates(mixed_store, tmp_path):
    from cli.focovil import main as focovil
    run = tmp_path / "run"
    r = CliRunner().invoke(focovil, ["train", "--store", str(mixed_store), "--protocol", "xview", "--out", str(run),
                                     "--epochs", "2", "--hidden", "32", "--batch", "4"])
    assert r.exit_code == 0, r.output
    r = CliRunner().invoke(focovil, ["eval", "--run", str(run), "--store", str(mixed_store), "--protocol", "xview"])
    assert r.exit_code == 0, r.output
    results = json.loads((run / "results.json").read_text())
    assert 0.0 <= results["knn1_acc"] <= 1.0 and (run / "tsne.png").stat().st_size > 0


def test_manifest_overrides_body_selection_and_bad_keys_are_named(corpus, tmp_path):
    (tmp_path / "one.json").write_text(json.dumps({"bodies": 1}))
    found = read_index(corpus.out / "recordings.csv", layout="azure_kinect_32", manifest=tmp_path / "one.json")
    assert found.spec.bodies == 1 and found.spec.extra["plausibility"]["max_joint_step_m"] == 1.5
    (tmp_path / "bad.json").write_text(json.dumps({"bodies": 1, "joints": 3}))
    with pytest.raises(ValueError, match="keys joints are not"):
        read_index(corpus.out / "recordings.csv", manifest=tmp_path / "bad.json")


def test_bad_layout_files_get_one_line_per_problem(corpus, tmp_path):
    layout = json.loads((corpus.out / "my_layout.json").read_text())
    layout["roles"] = {**layout["roles"], "right_hip": layout["roles"]["left_hip"], "spine": 0, "root": 0}
    layout["parents"][3] = 40
    (tmp_path / "bad.json").write_text(json.dumps(layout))
    with pytest.raises(ValueError) as e:
        load_layout(str(tmp_path / "bad.json"))
    lines = str(e.value).splitlines()
    assert len(lines) == 1 and "parent index" in lines[0]          # the roles are checked once the indices are
    layout["parents"][3] = 2
    (tmp_path / "bad.json").write_text(json.dumps(layout))
    r = CliRunner().invoke(skel, ["prepare", "custom", "--index", str(corpus.out / "recordings.csv"),
                                  "--layout", str(tmp_path / "bad.json"), "--out", str(tmp_path / "s.h5")])
    assert r.exit_code == 2 and "hips are one joint" in r.output and "root and spine" in r.output
    assert not (tmp_path / "s.h5").exists()


def test_index_needs_its_columns_and_the_command_its_index(corpus, tmp_path):
    (tmp_path / "i.csv").write_text("path,label\nx.npy,1\n")
    r = CliRunner().invoke(skel, ["prepare", "custom", "--index", str(tmp_path / "i.csv"), "--out",
                                  str(tmp_path / "s.h5")])
    assert r.exit_code == 2 and "missing view, scene" in r.output
    r = CliRunner().invoke(skel, ["prepare", "custom", "--raw", str(corpus.out), "--out", str(tmp_path / "s.h5")])
    assert r.exit_code == 2 and "--index" in r.output


def test_index_from_file_names(corpus, tmp_path):
    r = CliRunner().invoke(skel, ["index", "--raw", str(corpus.out / "recordings"), "--pattern",
                                  "P{subject}/{scene}_cam{view}.json", "--out", str(tmp_path / "i.csv")])
    assert r.exit_code == 0, r.output
    rows = pd.read_csv(tmp_path / "i.csv", dtype=str, keep_default_na=False)
    on_disk = sorted(p.relative_to(corpus.out / "recordings").as_posix()
                     for p in (corpus.out / "recordings").rglob("*_cam*.json"))
    assert sorted(rows["path"]) == on_disk and (rows["label"] == "").all()
    first = rows.iloc[0]
    assert first["path"] == f"P{first['subject']}/{first['scene']}_cam{first['view']}.json"
    again = CliRunner().invoke(skel, ["index", "--raw", str(corpus.out / "recordings"), "--pattern",
                                      "P{subject}/{scene}_cam{view}.json", "--out", str(tmp_path / "i.csv")])
    assert again.exit_code == 2 and "--overwrite" in again.output


def readme_commands() -> list[str]:
    """The shell commands of the README's "Your own recordings" block."""
    text = (REPO / "README.md").read_text()
    block = re.search(r"## Your own recordings.*?```(?:bash|sh)?\n(.*?)```", text, re.S).group(1)
    return [ln for ln in block.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]


@pytest.mark.slow
def test_readme_own_recordings_commands_run(tmp_path):
    commands = readme_commands()
    assert any(c.startswith("skel synth custom") for c in commands)
    for command in commands:
        args = shlex.split(command)
        tool = {"skel": "skeltools.cli.skel", "focovil": "skeltools.cli.focovil"}[args[0]]
        r = subprocess.run([sys.executable, "-m", tool, *args[1:]], cwd=tmp_path, capture_output=True, text=True)
        assert r.returncode == 0, f"{command}\n{r.stdout}\n{r.stderr}"


def test_an_interval_cuts_frames_start_to_end_inclusive():
    from skeltools.formats.custom import interval
    from skeltools.formats.raw_sample import RawSample, SampleError
    frame = np.repeat(np.arange(10, dtype=np.int32), 2)
    xyz = np.arange(20 * 4 * 3, dtype=np.float32).reshape(20, 4, 3)
    raw = RawSample(frame, np.tile([7, 8], 10).astype(np.int64), xyz, 10)
    cut = interval(raw, 3, 5)
    assert cut.n_frames == 3 and list(cut.frame) == [0, 0, 1, 1, 2, 2]
    assert np.array_equal(cut.xyz, xyz[4:10]) and list(cut.body_id) == [7, 8] * 3
    with pytest.raises(SampleError, match="outside the file's 10 frames"):
        interval(raw, 9, 11)


def test_show_draws_a_custom_scene_from_its_index(corpus, mixed_store, tmp_path):
    r = CliRunner().invoke(skel, ["show", str(mixed_store), "s004-2", "--out", str(tmp_path / "a.png"),
                                  "--raw", str(corpus.out)])
    assert r.exit_code == 0 and "s004-1, s004-2, s004-3" in r.output, r.output
    r = CliRunner().invoke(skel, ["show", str(mixed_store), "s004-2", "--out", str(tmp_path / "b.png"),
                                  "--raw", str(corpus.out / "kinect_v2")])
    assert r.exit_code == 2 and "digest" in r.output and not (tmp_path / "b.png").exists()
