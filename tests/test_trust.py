"""Issue 23: no file runs code, no command destroys its input, no corrupt byte reaches
training, export or evaluation, and no bad input stops or damages a whole run.

Each test makes its input here (with the generators, or by editing what they made) and
asserts the outcome: refused or skipped with its reason, one line and an exit code, the
input intact, nothing left behind.
"""
from __future__ import annotations

import hashlib
import json
import os
import pickle
import shutil
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pytest
from click.testing import CliRunner

from cli.focovil import main as focovil
from cli.skel import main as skel
from skeltools.prepare import prepare
from skeltools.store import Store, StoreError
from skeltools.synth.generate import synth

REPO = Path(__file__).resolve().parents[1]


def one_line(r, code: int, *needles: str) -> None:
    """The command failed with exit `code` and said why in one line holding every needle."""
    lines = r.output.strip().splitlines()
    assert r.exit_code == code and len(lines) == 1 and all(n in lines[0] for n in needles), (r.exit_code, r.output)


def digest(path: Path) -> str:
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    return hashlib.sha1(b"".join(p.read_bytes() for p in files)).hexdigest()


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("trust")
    return synth("ntu60", root / "raw", scenes=12, seed=4, rigid=True, broken=False)


@pytest.fixture(scope="module")
def stores(corpus, tmp_path_factory):
    """The corpus prepared into both backends (the tests copy them before they damage them)."""
    root = tmp_path_factory.mktemp("stores")
    for name in ("s.h5", "s.zarr"):
        prepare("ntu60", corpus.out, root / name, workers=1, progress=False)
    return root


@pytest.fixture(scope="module")
def run(stores, tmp_path_factory):
    """A tiny trained run on the HDF5 store."""
    out = tmp_path_factory.mktemp("run") / "run"
    r = CliRunner().invoke(focovil, ["train", "--store", str(stores / "s.h5"), "--protocol", "xsub", "--out", str(out),
                                     "--hidden", "8", "--epochs", "1", "--batch", "4", "--quiet"])
    assert r.exit_code == 0, r.output
    return out


def copy_of(src: Path, dest: Path) -> Path:
    (shutil.copytree if src.is_dir() else shutil.copy)(src, dest)
    return dest


class Payload:
    """What an attacker pickles: unpickling it runs a command (here: touches a marker file)."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


# ---- loading a file never runs code ----

def test_a_checkpoint_that_would_run_code_is_refused_everywhere(run, stores, tmp_path):
    import torch

    import focovil as fv
    bad = copy_of(run, tmp_path / "bad")
    marker = tmp_path / "ran"
    ck = torch.load(bad / "checkpoint.pt", weights_only=True)
    ck["metrics"] = [Payload(marker)]
    torch.save(ck, bad / "checkpoint.pt")
    store = str(stores / "s.h5")
    for args in (["eval", "--run", str(bad), "--no-plots"],
                 ["embed", "--run", str(bad), "--store", store, "--out", str(tmp_path / "f.h5")],
                 ["train", "--out", str(bad), "--resume", "--epochs", "2", "--quiet"]):
        one_line(CliRunner().invoke(focovil, args), 2, str(bad / "checkpoint.pt"), "refused")
    with pytest.raises(ValueError, match="refused"):
        fv.load_encoder(bad)
    assert not marker.exists()


def test_a_genuine_checkpoint_holds_no_numpy_object_and_loads_weights_only(run):
    import torch
    ck = torch.load(run / "checkpoint.pt", weights_only=True)            # torch's own allowlist, nothing added
    assert isinstance(ck["rng"]["numpy"][1], list)


def pyskl_pickle(path: Path, protocol: int, annotations: list, split: dict) -> Path:
    """An annotation pickle as pyskl's ntu_preproc writes it (mmcv dumps with protocol 2)."""
    with open(path, "wb") as f:
        pickle.dump({"split": split, "annotations": annotations}, f, protocol=protocol)
    return path


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_annotation_pickles_load_without_running_code(corpus, stores, tmp_path, protocol):
    from skeltools.formats.ntu import read_ntu
    names = corpus.samples[:6]
    annotations = []
    for name in names:
        raw = read_ntu(corpus.out / f"{name}.skeleton")
        kp = np.zeros((1, raw.n_frames, 25, 3), np.float32)
        kp[0, raw.frame] = raw.xyz
        annotations.append({"frame_dir": name, "label": np.int64(int(name[-3:]) - 1), "keypoint": kp,
                            "total_frames": np.int32(raw.n_frames), "img_shape": (1080, 1920)})
    split = {"xsub_train": names[:3], "xsub_val": names[3:]}
    good = pyskl_pickle(tmp_path / "good.pkl", protocol, annotations, split)
    r = CliRunner().invoke(skel, ["prepare", "ntu60", "--from-mmaction", str(good), "--out", str(tmp_path / "m.h5"),
                                  "--quiet", "--allow-empty-splits"])
    assert r.exit_code == 0, r.output
    marker = tmp_path / "ran"
    evil = pyskl_pickle(tmp_path / "evil.pkl", protocol, annotations[:1] + [Payload(marker)], split)
    r = CliRunner().invoke(skel, ["prepare", "ntu60", "--from-mmaction", str(evil), "--out", str(tmp_path / "e.h5")])
    one_line(r, 2, "evil.pkl: refused", "system")
    assert not marker.exists() and not (tmp_path / "e.h5").exists()


def test_a_store_that_points_outside_itself_is_refused(stores, tmp_path):
    for how in ("external link", "external storage", "virtual dataset"):
        bad = copy_of(stores / "s.h5", tmp_path / f"{how.replace(' ', '_')}.h5")
        with h5py.File(bad, "r+") as f:
            if how == "external link":
                f["meta/extra"] = h5py.ExternalLink(str(stores / "s.h5"), "/meta/label")
            elif how == "external storage":
                f.create_dataset("notes", shape=(4,), dtype="f4", external=[("/dev/zero", 0, 16)])
            else:
                layout = h5py.VirtualLayout(shape=(3,), dtype="i2")
                layout[:] = h5py.VirtualSource(str(stores / "s.h5"), "meta/label", shape=(3,))
                f.create_virtual_dataset("virtual", layout)
        for args in (["check", str(bad)], ["stats", str(bad)]):
            r = CliRunner().invoke(skel, args)
            assert r.exit_code in (1, 2) and "points outside itself" in r.output and how in r.output, r.output
        r = CliRunner().invoke(focovil, ["train", "--store", str(bad), "--protocol", "xsub", "--out",
                                         str(tmp_path / "r"), "--hidden", "8", "--epochs", "1", "--quiet"])
        one_line(r, 2, "points outside itself")


def test_a_mat_file_that_points_at_a_fifo_is_skipped_not_waited_for(tmp_path):
    uw = synth("uwa3d", tmp_path / "raw", scenes=4, seed=0, rigid=True, broken=False)
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    bad = next(uw.out.rglob("*_v01.mat"))
    with h5py.File(bad, "w") as f:
        f.create_dataset("A", shape=(20, 45), dtype="f8", external=[(str(fifo), 0, 20 * 45 * 8)])
    script = ("from skeltools.prepare import prepare; import sys; "
              f"s = prepare('uwa3d', {str(uw.out)!r}, {str(tmp_path / 'u.h5')!r}, workers=1, progress=False, "
              f"allow_empty_splits=True); print(dict(s.skipped)[{bad.stem!r}])")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, cwd=REPO)
    assert done.returncode == 0 and "points outside itself" in done.stdout and "external storage" in done.stdout, \
        done.stderr


# ---- no command destroys its input ----

@pytest.mark.parametrize("command", ["export mmaction", "export ctrgcn", "embed"])
def test_exports_never_replace_their_input_or_a_store(stores, run, tmp_path, command):
    store = copy_of(stores / "s.h5", tmp_path / "a.h5")
    other = copy_of(stores / "s.zarr", tmp_path / "b.zarr")
    before = digest(store), digest(other)
    suffix = {"export mmaction": ".pkl", "export ctrgcn": ".npz", "embed": ".h5"}[command]

    def invoke(out: Path, *more: str):
        if command == "embed":
            return CliRunner().invoke(focovil, ["embed", "--run", str(run), "--store", str(store), "--out", str(out),
                                                *more])
        target = command.split()[1]
        return CliRunner().invoke(skel, ["export", str(store), "--to", target, "--protocol", "xsub", "--out", str(out),
                                         *more])
    if suffix == ".h5":
        one_line(invoke(store), 2, "is the input", "destroy")
        one_line(invoke(store, "--overwrite"), 2, "is the input")
        link = tmp_path / "link.h5"
        link.symlink_to(store)
        one_line(invoke(link), 2, "is the input")
    one_line(invoke(other if suffix != ".h5" else copy_of(stores / "s.h5", tmp_path / "c.h5")), 2)
    existing = tmp_path / f"mine{suffix}"
    existing.write_bytes(b"precious")
    one_line(invoke(existing), 2, "exists", "--overwrite")
    assert existing.read_bytes() == b"precious"
    r = invoke(existing, "--overwrite")
    assert r.exit_code == 0 and existing.read_bytes() != b"precious", r.output
    assert (digest(store), digest(other)) == before
    assert not list(tmp_path.glob(".*partial*"))


def test_out_through_a_link_replaces_the_linked_store(corpus, tmp_path):
    real = tmp_path / "real.zarr"
    prepare("ntu60", corpus.out, real, workers=1, progress=False, limit=12, allow_empty_splits=True)
    link = tmp_path / "link.zarr"
    link.symlink_to(real)
    for _ in range(2):                                    # and again: nothing left behind blocks a second run
        r = CliRunner().invoke(skel, ["prepare", "ntu60", "--raw", str(corpus.out), "--out", str(link), "--quiet"])
        assert r.exit_code == 0, r.output
    assert link.is_symlink() and Path(os.readlink(link)) == real
    with Store(link) as st:
        assert len(st) == 36
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link.zarr", "real.zarr"]


# ---- corrupt bytes never reach training, export or evaluation ----

def damaged(stores: Path, dest: Path, edit) -> Path:
    path = copy_of(stores / "s.h5", dest)
    with h5py.File(path, "r+") as f:
        edit(f)
    return path


def test_a_flipped_bit_stops_every_reader(stores, run, tmp_path):
    from skeltools.dataset import StoreDataset

    def flip(f):
        value = f["poses"][1, 0, 3, 5, 0:1].view(np.uint32)
        f["poses"][1, 0, 3, 5, 0:1] = (value ^ np.uint32(1 << 30)).view(np.float32)   # an exponent bit: 5e37-ish
    bad = damaged(stores, tmp_path / "bad.h5", flip)
    for cli, args in ((focovil, ["train", "--store", str(bad), "--protocol", "xsub", "--out", str(tmp_path / "r"),
                                 "--hidden", "8", "--epochs", "1", "--batch", "4", "--quiet"]),
                      (focovil, ["eval", "--run", str(run), "--store", str(bad), "--no-plots"]),
                      (focovil, ["embed", "--run", str(run), "--store", str(bad), "--out", str(tmp_path / "f.h5")]),
                      (skel, ["export", str(bad), "--to", "ctrgcn", "--protocol", "xsub", "--out", str(tmp_path / "x.npz")]),
                      (skel, ["stats", str(bad)])):
        one_line(CliRunner().invoke(cli, args), 2, "poses rows 0-35 differ from their checksum")
    assert not (tmp_path / "r").exists() and not (tmp_path / "x.npz").exists() and not (tmp_path / "f.h5").exists()
    ds = StoreDataset(bad)
    with pytest.raises(StoreError, match="differ from their checksum"):
        ds[int(np.flatnonzero(ds.index == 1)[0])] if 1 in ds.index else StoreDataset(bad)[1]
    r = CliRunner().invoke(focovil, ["train", "--store", str(bad), "--protocol", "xsub", "--out", str(tmp_path / "r"),
                                     "--hidden", "8", "--epochs", "3", "--batch", "4", "--quiet", "--no-verify"])
    one_line(r, 2, "the loss became NaN or infinite at epoch", "training stopped")
    if (tmp_path / "r" / "checkpoint.pt").exists():            # an epoch before the bad sample's batch ran
        import torch
        ck = torch.load(tmp_path / "r" / "checkpoint.pt", weights_only=True)
        assert all(np.isfinite(row["loss"]) for row in ck["metrics"]) and "is kept" in r.output


def test_a_zeroed_chunk_and_a_lost_label_chunk_are_caught(stores, run, tmp_path):
    zeroed = damaged(stores, tmp_path / "z.h5", lambda f: f["poses"].__setitem__(slice(0, 36), 0.0))
    one_line(CliRunner().invoke(focovil, ["eval", "--run", str(run), "--store", str(zeroed), "--no-plots"]), 2,
             "differ from their checksum")
    lost = copy_of(stores / "s.zarr", tmp_path / "l.zarr")
    for chunk in (lost / "meta" / "label" / "c").iterdir():
        chunk.unlink()
    r = CliRunner().invoke(focovil, ["train", "--store", str(lost), "--protocol", "xsub", "--out", str(tmp_path / "r"),
                                     "--hidden", "8", "--epochs", "1", "--quiet"])
    one_line(r, 2, "meta/label: content differs from its checksum")


def test_a_version_2_store_without_its_checksums_is_a_problem(stores, tmp_path):
    bad = damaged(stores, tmp_path / "n.h5", lambda f: f.__delitem__("checksums/poses"))
    r = CliRunner().invoke(skel, ["check", str(bad)])
    assert r.exit_code == 1 and "checksums/poses is missing" in r.output, r.output


@pytest.mark.parametrize("attr,value,problem", [("checksum_chunk_samples", 0, "not a chunk size"),
                                                ("checksum_chunk_samples", "abc", "not a chunk size"),
                                                ("array_checksums", {"meta/label": "x"}, "not a crc32")])
def test_check_reports_bad_digest_attributes_as_problems(stores, tmp_path, attr, value, problem):
    bad = damaged(stores, tmp_path / "d.h5",
                  lambda f: f.attrs.__setitem__(attr, json.dumps(value) if isinstance(value, dict) else value))
    r = CliRunner().invoke(skel, ["check", str(bad)])
    assert r.exit_code == 1 and problem in r.output and "Traceback" not in r.output, r.output


def test_a_truncated_zarr_chunk_is_one_line_in_every_command(stores, run, tmp_path):
    bad = copy_of(stores / "s.zarr", tmp_path / "t.zarr")
    chunk = next(p for p in sorted((bad / "poses" / "c").rglob("*")) if p.is_file())
    chunk.write_bytes(chunk.read_bytes()[:100])
    for cli, args in ((skel, ["stats", str(bad)]), (skel, ["show", str(bad), "0", "--out", str(tmp_path / "s.png")]),
                      (skel, ["export", str(bad), "--to", "mmaction", "--out", str(tmp_path / "m.pkl")]),
                      (focovil, ["train", "--store", str(bad), "--protocol", "xsub", "--out", str(tmp_path / "r"),
                                 "--hidden", "8", "--epochs", "1", "--quiet"]),
                      (focovil, ["eval", "--run", str(run), "--store", str(bad), "--no-plots", "--force"]),
                      (focovil, ["embed", "--run", str(run), "--store", str(bad), "--out", str(tmp_path / "f.h5"),
                                 "--force"])):
        one_line(CliRunner().invoke(cli, args), 2, "poses")


# ---- bad input that once stopped or damaged a whole run ----

def test_values_that_do_not_fit_a_column_skip_their_sample(tmp_path):
    pk = synth("pkummd2", tmp_path / "raw", scenes=6, seed=1, rigid=True, broken=False)
    first = sorted((pk.out / "skeleton").iterdir())[0]
    shutil.copy(first, pk.out / "skeleton" / "A40000N01-L.txt")
    shutil.copy(pk.out / "label" / first.name, pk.out / "label" / "A40000N01-L.txt")
    s = prepare("pkummd2", pk.out, tmp_path / "p.h5", workers=1, progress=False, allow_empty_splits=True)
    codes = {name: why.code for name, why in s.skipped}
    assert codes and all(c == "value out of range" for n, c in codes.items() if n.startswith("A40000N01")), codes
    assert s.written == len(pk.samples)


def test_tiny_inputs_cannot_cost_gigabytes(corpus, tmp_path):
    raw = copy_of(corpus.out, tmp_path / "raw")
    with open(raw / "S001C001P001R002A001.skeleton", "wb") as f:      # a 2 GB sparse file: no disk, all zeros
        f.write(b"100\n")
        f.truncate(2 * 1024 ** 3)
    start = time.monotonic()
    s = prepare("ntu60", raw, tmp_path / "n.h5", workers=1, progress=False)
    assert dict(s.skipped)["S001C001P001R002A001"].code == "file too large" and time.monotonic() - start < 60

    pk = synth("pkummd1", tmp_path / "pk", scenes=3, seed=1, rigid=True, broken=False)
    label = next((pk.out / "Train_Label_PKU_final").iterdir())
    label.write_text("".join(f"1,1,10,1\n" for _ in range(20000)))
    s = prepare("pkummd1", pk.out, tmp_path / "p.h5", workers=1, progress=False, allow_empty_splits=True)
    assert dict(s.skipped)[label.stem].code == "too many label lines"

    uw = synth("uwa3d", tmp_path / "uw", scenes=3, seed=1, rigid=True, broken=False)
    big = next(uw.out.rglob("*_v01.mat"))
    with h5py.File(big, "w") as f:                       # declares 5,000,000 frames in a file of a few KB
        f.create_dataset("A", shape=(5_000_000, 45), dtype="f8", chunks=(1000, 45), fillvalue=1.0)
    assert big.stat().st_size < 100_000
    s = prepare("uwa3d", uw.out, tmp_path / "u.h5", workers=1, progress=False, allow_empty_splits=True)
    assert dict(s.skipped)[big.stem].code == "too many frames"


def test_pku_duplicates_and_strays_are_reasons(tmp_path):
    pk = synth("pkummd2", tmp_path / "raw", scenes=3, seed=1, rigid=True, broken=False)
    videos = sorted(p.stem for p in (pk.out / "skeleton").iterdir())
    clean = prepare("pkummd2", pk.out, tmp_path / "clean.h5", workers=1, progress=False, allow_empty_splits=True)
    (pk.out / "more").mkdir()
    shutil.copy(pk.out / "skeleton" / f"{videos[0]}.txt", pk.out / "more" / f"{videos[0]}.txt")      # a second copy
    (pk.out / "zz" / "labels").mkdir(parents=True)
    shutil.copy(pk.out / "label" / f"{videos[1]}.txt", pk.out / "zz" / "labels" / f"{videos[1]}.txt")  # a stray label
    a, n, view = videos[2][1:].split("N")[0], videos[2].split("N")[1].split("-")[0], videos[2][-1]
    respelled = f"A{int(a)}N{int(n)}-{view}"                                                   # A1N1-L beside A01N01-L
    shutil.copy(pk.out / "skeleton" / f"{videos[2]}.txt", pk.out / "skeleton" / f"{respelled}.txt")
    shutil.copy(pk.out / "label" / f"{videos[2]}.txt", pk.out / "label" / f"{respelled}.txt")
    s = prepare("pkummd2", pk.out, tmp_path / "p.h5", workers=1, progress=False, allow_empty_splits=True)
    reasons = dict(s.skipped)
    assert "another copy of video" in reasons[videos[0]].detail and "more" in str(reasons[videos[0]])
    assert "two label files" in reasons[videos[1]].detail and "zz/labels" in reasons[videos[1]].detail
    assert "another copy of video" in reasons[respelled].detail and videos[2] not in reasons
    with Store(tmp_path / "clean.h5") as st:
        clean_names = set(st.read("meta/name"))
    with Store(tmp_path / "p.h5") as st:
        names = set(st.read("meta/name"))
    assert clean.written and names == {n for n in clean_names if not n.startswith(f"{videos[1]}_")}


def test_nucla_picks_the_genuine_folder_and_a_skeleton_in_front_of_the_camera(tmp_path):
    nu = synth("nucla", tmp_path / "raw", scenes=3, seed=1, rigid=True, broken=False)
    genuine = next(p for p in sorted(nu.out.rglob("a*_s*_e*")) if p.is_dir())
    reference = prepare("nucla", nu.out, tmp_path / "ref.h5", workers=1, progress=False, allow_empty_splits=True)
    stray = nu.out / "aaa_copies" / "old" / genuine.parent.name / genuine.name   # sorts first by path, deeper
    shutil.copytree(genuine, stray)
    sorted(stray.iterdir())[-1].unlink()                                         # and differs: a frame fewer
    frame = sorted(genuine.iterdir())[3]                                         # an extra skeleton behind the camera
    text = frame.read_text()
    lines = text.strip().splitlines()
    behind = [lines[0]] + [",".join([*ln.split(",")[:2], "-5.0", ln.split(",")[3]]) for ln in lines[1:21]]
    frame.write_text(text + "\n".join(behind) + "\n")
    s = prepare("nucla", nu.out, tmp_path / "n.h5", workers=1, progress=False, allow_empty_splits=True)
    new = [(name, why) for name, why in s.skipped if (name, why) not in reference.skipped]
    assert [why.code for _, why in new] == ["duplicate"] and str(genuine) in new[0][1].detail
    with Store(tmp_path / "ref.h5") as a, Store(tmp_path / "n.h5") as b:
        assert np.array_equal(a.read("poses"), b.read("poses")) and reference.written == s.written


def test_a_folder_that_cannot_be_listed_is_named(corpus, tmp_path, monkeypatch):
    raw = copy_of(corpus.out, tmp_path / "raw")
    (raw / "locked").mkdir()
    shutil.copy(raw / f"{corpus.samples[0]}.skeleton", raw / "locked" / "S009C001P001R001A001.skeleton")
    real = os.scandir

    def scandir(path="."):
        if isinstance(path, (str, os.PathLike)) and Path(path).name == "locked":
            raise PermissionError(13, "Permission denied", str(path))
        return real(path)
    monkeypatch.setattr(os, "scandir", scandir)
    s = prepare("ntu60", raw, tmp_path / "s.h5", workers=1, progress=False)
    assert [(Path(n).name, why.code, why.detail) for n, why in s.skipped] == \
        [("locked", "unreadable folder", "unreadable folder: Permission denied")]
    assert "unreadable folder" in s.text()
    with Store(tmp_path / "s.h5") as st:
        assert list(st.read("skipped/code")) == ["unreadable folder"]


# ---- settings that lied ----

def test_resume_refuses_a_changed_setting_and_takes_the_run_s_own(run, stores, tmp_path):
    again = copy_of(run, tmp_path / "again")
    for option, value in (("--lr", "0.5"), ("--store", str(stores / "s.zarr")), ("--protocol", "xview"),
                          ("--hidden", "16")):
        one_line(CliRunner().invoke(focovil, ["train", "--out", str(again), "--resume", option, value, "--quiet"]), 2,
                 option, "differs from the run's")
    r = CliRunner().invoke(focovil, ["train", "--out", str(again), "--resume", "--epochs", "2", "--quiet"])
    assert r.exit_code == 0, r.output
    saved = json.loads((again / "config.json").read_text())
    assert saved["epochs"] == 2 and saved["hidden"] == 8 and saved["lr"] == 1e-4


@pytest.mark.parametrize("field,value", [("tau", 0), ("beta", "NaN"), ("lr_decay_every", 0), ("hidden", "16"),
                                         ("epochs", 0)])
def test_a_config_file_is_checked_like_the_command_line(run, tmp_path, field, value):
    config = json.loads((run / "config.json").read_text())
    config[field] = float("nan") if value == "NaN" else value
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    r = CliRunner().invoke(focovil, ["train", "--config", str(path), "--out", str(tmp_path / "r"), "--quiet"])
    one_line(r, 2, f"{field} = ")
    assert not (tmp_path / "r").exists()


def test_a_run_interrupted_before_its_first_checkpoint_leaves_a_reusable_folder(stores, tmp_path):
    out = tmp_path / "r"
    out.mkdir()
    (out / "config.json").write_text("{}")              # what a kill before the first checkpoint once left
    args = ["train", "--store", str(stores / "s.h5"), "--protocol", "xsub", "--out", str(out), "--hidden", "8",
            "--epochs", "1", "--batch", "4", "--quiet"]
    one_line(CliRunner().invoke(focovil, args + ["--resume"]), 2, "nothing to resume")
    assert CliRunner().invoke(focovil, args).exit_code == 0 and (out / "checkpoint.pt").exists()


@pytest.mark.parametrize("split,problem", [({"xsub_train": ["A"], "xsub_val": ["A"]}, "names in both"),
                                           ({"a/b_train": []}, "not a protocol name"),
                                           ({"xsub_train": 5}, "expected a list")])
def test_a_pickle_whose_splits_would_make_a_bad_store_is_refused(corpus, tmp_path, split, problem):
    split = {k: [corpus.samples[0]] if v == ["A"] else v for k, v in split.items()}
    path = pyskl_pickle(tmp_path / "p.pkl", 4, [], split)
    r = CliRunner().invoke(skel, ["prepare", "ntu60", "--from-mmaction", str(path), "--out", str(tmp_path / "m.h5")])
    one_line(r, 2, problem)
    assert not (tmp_path / "m.h5").exists()


def test_an_unknown_split_name_is_a_warning_and_a_fractional_label_a_reason(corpus, tmp_path):
    from skeltools.formats.ntu import read_ntu
    annotations = []
    for k, name in enumerate(corpus.samples[:6]):
        raw = read_ntu(corpus.out / f"{name}.skeleton")
        kp = np.zeros((1, raw.n_frames, 25, 3), np.float32)
        kp[0, raw.frame] = raw.xyz
        annotations.append({"frame_dir": name, "label": int(name[-3:]) - 1 + (0.7 if k == 0 else 0), "keypoint": kp,
                            "total_frames": raw.n_frames})
    names = [a["frame_dir"] for a in annotations]
    path = pyskl_pickle(tmp_path / "p.pkl", 4, annotations, {"xsub_train": names[:3], "xsub_val": names[3:],
                                                             "extra": names})
    r = CliRunner().invoke(skel, ["prepare", "ntu60", "--from-mmaction", str(path), "--out", str(tmp_path / "m.h5")])
    assert r.exit_code == 0 and "warning: split 'extra' is neither" in r.stderr, r.output
    with Store(tmp_path / "m.h5") as st:
        reasons = dict(zip(st.read("skipped/name"), st.read("skipped/reason")))
    assert reasons == {names[0]: f"label {int(names[0][-3:]) - 1 + 0.7!r} is not an integer class index"}


# ---- smaller ----

def test_small_things(stores, corpus, tmp_path):
    one_line(CliRunner().invoke(skel, ["stats", str(stores / "s.h5"), "--plot", str(tmp_path / "x.h5")]), 2,
             "give an image file")
    start = time.monotonic()
    r = CliRunner().invoke(skel, ["show", str(stores / "s.h5"), "0", "--out", str(tmp_path / "s.png"), "--frames", "1000"])
    assert r.exit_code == 0 and "12 frames per panel" in r.output and time.monotonic() - start < 60, r.output
    s = prepare("ntu60", corpus.out, tmp_path / "w.h5", workers=1000, progress=False)
    assert any("--workers 1000" in n for n in s.notes)
