"""Issue 11: no input file crashes, hangs, rescales or quietly changes a sample.

Each case makes its input with the generators (or by mutating generated files here) and
asserts the outcome: skipped with its reason, one line and an exit code, nothing lost.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import signal
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
from skeltools.store import Store
from skeltools.synth.generate import synth
from skeltools.synth.uwa3d import write_mat

REPO = Path(__file__).resolve().parents[1]


def poses_by_name(path) -> dict[str, np.ndarray]:
    with Store(path) as st:
        return dict(zip(st.read("meta/name"), st.read("poses")))


def skipped(path) -> dict[str, str]:
    with Store(path) as st:
        return dict(zip(st.read("skipped/name"), st.read("skipped/reason")))


@pytest.fixture(scope="module")
def ntu(tmp_path_factory):
    """A small clean NTU corpus and its store (the reference every mutant is compared with)."""
    root = tmp_path_factory.mktemp("rel")
    corpus = synth("ntu60", root / "raw", scenes=12, seed=4, rigid=True, broken=False)
    prepare("ntu60", corpus.out, root / "clean.h5", workers=1, progress=False)
    return corpus, root


def mutated_copy(corpus, dest: Path, name: str, edit) -> Path:
    shutil.copytree(corpus.out, dest)
    path = dest / f"{name}.skeleton"
    path.write_text(edit(path.read_text()))
    return dest


def first_coordinate(text: str, replace) -> str:
    """Apply `replace` to the first x of the first joint line (12 fields) of a .skeleton text."""
    lines = text.split("\n")
    k = next(i for i, ln in enumerate(lines) if len(ln.split()) == 12)
    fields = lines[k].split()
    fields[0] = replace(fields[0])
    lines[k] = " ".join(fields)
    return "\n".join(lines)


@pytest.mark.parametrize("mutation", ["lost decimal point", "1e30"])
def test_one_implausible_value_never_rescales_the_other_samples(ntu, tmp_path, mutation):
    corpus, root = ntu
    victim = sorted(corpus.samples)[5]
    edit = {"lost decimal point": lambda v: ("-" if v.startswith("-") else "") + "9" + v.lstrip("-").replace(".", ""),
            "1e30": lambda v: "1e30"}[mutation]
    raw = mutated_copy(corpus, tmp_path / "raw", victim, lambda t: first_coordinate(t, edit))
    summary = prepare("ntu60", raw, tmp_path / "m.h5", workers=1, progress=False)
    why = skipped(tmp_path / "m.h5")
    assert set(why) == {victim} and why[victim].startswith("implausible coordinates")
    # the reference: the same corpus without that file
    (raw / f"{victim}.skeleton").unlink()
    prepare("ntu60", raw, tmp_path / "ref.h5", workers=1, progress=False)
    got, ref = poses_by_name(tmp_path / "m.h5"), poses_by_name(tmp_path / "ref.h5")
    assert summary.written == len(ref) == len(corpus.samples) - 1
    assert all(np.array_equal(got[n], ref[n]) for n in ref)
    with Store(tmp_path / "m.h5") as st:
        assert st.attrs["plausibility"] == {"max_distance_m": 10.0, "max_body_extent_m": 3.0, "max_joint_step_m": 1.5}
        assert st.attrs["denoise"]["max_short_frames"] == 11 and st.attrs["min_norm"] == 1e-4


def test_millimetres_in_one_uwa3d_file_are_skipped(tmp_path):
    corpus = synth("uwa3d", tmp_path / "raw", scenes=3, seed=2, rigid=True, broken=False)
    victim = sorted(corpus.samples)[0]
    path = next(corpus.out.rglob(f"{victim}.mat"))
    with h5py.File(path, "r") as f:
        a = f["A"][()]
    write_mat(path, "A", a * 1000)
    prepare("uwa3d", corpus.out, tmp_path / "u.h5", workers=1, progress=False, allow_empty_splits=True)
    why = skipped(tmp_path / "u.h5")
    assert list(why) == [victim] and "implausible coordinates" in why[victim] and "metres" in why[victim]


def test_nan_frames_skip_the_sample_in_every_reader(tmp_path):
    pk = synth("pkummd1", tmp_path / "pk", scenes=2, seed=3, rigid=True, broken=False)
    skel_file = next(p for p in pk.out.rglob("0002-L.txt") if "Skeleton" in str(p.parent))
    labels = (pk.out / "Train_Label_PKU_final" / "0002-L.txt").read_text().split()
    _, start, end, _ = labels[0].split(",")
    lines = skel_file.read_text().split("\n")
    row = int(start) + 2                                    # a frame inside instance 1
    lines[row - 1] = " ".join(["nan"] + lines[row - 1].split()[1:])
    skel_file.write_text("\n".join(lines))
    prepare("pkummd1", pk.out, tmp_path / "p.h5", workers=1, progress=False, allow_empty_splits=True)
    why = skipped(tmp_path / "p.h5")
    assert list(why) == ["0002-L_001"] and why["0002-L_001"].startswith(f"non-finite coordinates (NaN or inf) in "
                                                                        f"frame {row}")
    assert len(poses_by_name(tmp_path / "p.h5")) == len(pk.samples) - 1

    uw = synth("uwa3d", tmp_path / "uw", scenes=2, seed=3, rigid=True, broken=False)
    victim = sorted(uw.samples)[1]
    path = next(uw.out.rglob(f"{victim}.mat"))
    with h5py.File(path, "r") as f:
        a = f["A"][()]
    a[4, 7] = np.nan
    write_mat(path, "A", a)
    prepare("uwa3d", uw.out, tmp_path / "u.h5", workers=1, progress=False, allow_empty_splits=True)
    assert skipped(tmp_path / "u.h5") == {victim: "non-finite coordinates (NaN or inf) in frame 5"}


def test_pku_line_with_the_wrong_count_of_values_skips_the_file(tmp_path):
    pk = synth("pkummd1", tmp_path / "pk", scenes=2, seed=3, rigid=True, broken=False)
    skel_file = next(p for p in pk.out.rglob("0002-M.txt") if "Skeleton" in str(p.parent))
    lines = skel_file.read_text().split("\n")
    lines[9] = lines[9] + " " + lines[10]                    # a lost newline: 300 values on line 10
    del lines[10]
    skel_file.write_text("\n".join(lines))
    prepare("pkummd1", pk.out, tmp_path / "p.h5", workers=1, progress=False, allow_empty_splits=True)
    why = skipped(tmp_path / "p.h5")
    assert set(why) == {"0002-M"}
    assert why["0002-M"] == "too many values on a line: skeleton file line 10 holds more than the 150 values of a frame"


@pytest.mark.parametrize("bad", ["1.9", "inf", "1e400", "-", "nan"])
def test_pku_labels_that_are_not_integers_skip_their_line(tmp_path, bad):
    pk = synth("pkummd1", tmp_path / "pk", scenes=2, seed=3, rigid=True, broken=False)
    label = pk.out / "Train_Label_PKU_final" / "0002-R.txt"
    lines = label.read_text().split("\n")
    fields = lines[1].split(",")
    fields[0] = bad
    lines[1] = ",".join(fields)
    label.write_text("\n".join(lines))
    summary = prepare("pkummd1", pk.out, tmp_path / "p.h5", workers=1, progress=False, allow_empty_splits=True)
    assert skipped(tmp_path / "p.h5") == {"0002-R_002": f"label file line 2: not an integer: label {bad!r}"}
    assert summary.written == len(pk.samples) - 1


def test_uwa3d_layout_follows_the_majority_of_files(tmp_path):
    uw = synth("uwa3d", tmp_path / "uw", scenes=3, seed=3, rigid=True, broken=False)
    odd = tmp_path / "uw" / "ActionsSkeleton" / "view_1" / "a01_s01_e00_v01.mat"   # sorts first
    write_mat(odd, "A", np.ones((30, 60)))
    prepare("uwa3d", uw.out, tmp_path / "u.h5", workers=1, progress=False, allow_empty_splits=True)
    with Store(tmp_path / "u.h5") as st:
        assert st.attrs["layout"] == "openni_15" and len(st) == len(uw.samples)
    assert list(skipped(tmp_path / "u.h5")) == ["a01_s01_e00_v01"]


@pytest.mark.parametrize("workers,index", [(2, 2), (2, 3), (1, 5)])
def test_the_same_sample_under_two_folders_is_written_once(ntu, tmp_path, workers, index):
    """The second copy is skipped as a duplicate of the first, and the other samples are the
    clean store's. With 2 workers the tasks hold 2 files, so the two copies of sample 2 come in
    one task and those of sample 3 in two (a task is filed whole only when none of its names is
    written); with 1 worker, 4 files, the file before sample 5 broken: a task of a skipped file,
    a sample and its copy, whose reasons keep the files' order."""
    corpus, root = ntu
    raw = tmp_path / "raw"
    shutil.copytree(corpus.out, raw)
    (raw / "copy").mkdir()
    names = sorted(corpus.samples)
    name, broken = names[index], (names[index - 1] if workers == 1 else None)
    shutil.copy(raw / f"{name}.skeleton", raw / "copy" / f"{name}.skeleton")
    if broken:
        (raw / f"{broken}.skeleton").write_text("not a skeleton file\n")
    prepare("ntu60", raw, tmp_path / "d.h5", workers=workers, progress=False)
    with Store(tmp_path / "d.h5") as st, Store(root / "clean.h5") as clean:
        kept = np.flatnonzero(clean.read("meta/name") != broken)
        assert list(st.read("meta/name")) == [n for n in names if n != broken]
        assert st.attrs["scale"] == clean.attrs["scale"]     # the broken file is not the largest sample
        assert np.array_equal(st.read("poses"), clean.read("poses")[kept])
        assert all(np.array_equal(st.read(f"meta/{k}"), clean.read(f"meta/{k}")[kept]) for k in st.meta()
                   if k != "scene")
    why = skipped(tmp_path / "d.h5")
    assert list(why) == ([broken] if broken else []) + [name]
    assert why[name] == f"duplicate of {raw / name}.skeleton (same sample name)"


@pytest.mark.parametrize("kind", ["folder", "file"])
def test_out_that_is_not_a_store_is_refused_and_kept(ntu, tmp_path, kind):
    corpus, _ = ntu
    out = tmp_path / "x.h5"
    if kind == "folder":
        out.mkdir()
        (out / "thesis.tex").write_text("precious")
    else:
        out.write_text("precious")
    r = CliRunner().invoke(skel, ["prepare", "ntu60", "--raw", str(corpus.out), "--out", str(out), "--quiet"])
    assert r.exit_code == 2 and len(r.output.strip().splitlines()) == 1 and "not a store written by skel" in r.output
    assert (out / "thesis.tex" if kind == "folder" else out).read_text() == "precious"


def test_an_existing_store_is_replaced(ntu, tmp_path):
    corpus, root = ntu
    out = tmp_path / "s.h5"
    shutil.copy(root / "clean.h5", out)
    r = CliRunner().invoke(skel, ["prepare", "ntu60", "--raw", str(corpus.out), "--out", str(out), "--quiet",
                                  "--limit", "3", "--allow-empty-splits"])
    assert r.exit_code == 0, r.output
    with Store(out) as st:
        assert len(st) == 3


def _mat_with(path: Path, build) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(path, "w") as f:
        build(f)


MAT_FAULTS = {
    "group": lambda f: f.create_group("A"),
    "compound": lambda f: f.create_dataset("A", data=np.zeros(4, dtype=[("x", "f8"), ("y", "i4")])),
    "string": lambda f: f.create_dataset("A", data=np.array([b"abc", b"def"])),
    "dangling soft link": lambda f: f.__setitem__("A", h5py.SoftLink("/nowhere")),
    "missing external link": lambda f: f.__setitem__("A", h5py.ExternalLink("absent.h5", "/A")),
}


def test_broken_mat_files_are_skipped_and_the_run_goes_on(tmp_path):
    uw = synth("uwa3d", tmp_path / "uw", scenes=2, seed=3, rigid=True, broken=False)
    names = []
    for k, (fault, build) in enumerate(MAT_FAULTS.items()):
        name = f"a29_s0{k + 1}_e01_v01"
        _mat_with(uw.out / "ActionsSkeleton" / "view_1" / f"{name}.mat", build)
        names.append(name)
    summary = prepare("uwa3d", uw.out, tmp_path / "u.h5", workers=2, progress=False, allow_empty_splits=True)
    why = skipped(tmp_path / "u.h5")
    assert sorted(why) == sorted(names) and summary.written == len(uw.samples)
    assert all(r for r in why.values())


def test_a_fifo_named_like_a_sample_does_not_block(ntu, tmp_path):
    corpus, _ = ntu
    raw = tmp_path / "raw"
    shutil.copytree(corpus.out, raw)
    os.mkfifo(raw / "S017C003P040R002A059.skeleton")
    out = subprocess.run([sys.executable, "-m", "cli.skel", "prepare", "ntu60", "--raw", str(raw), "--out",
                          str(tmp_path / "f.h5"), "--quiet", "--workers", "1"], capture_output=True, text=True,
                         timeout=120, cwd=REPO)
    assert out.returncode == 0, out.stderr
    with Store(tmp_path / "f.h5") as st:
        assert len(st) == len(corpus.samples)


def test_the_raw_folder_walk_is_os_walk_s(tmp_path):
    """walk_files (one scandir a folder) finds what os.walk + isfile finds, in the same order:
    nested and hidden folders, a linked file (followed), a linked folder (not entered), a FIFO."""
    from skeltools.formats.units import walk_files

    raw = tmp_path / "raw"
    for rel in ("b/2.txt", "b/a/1.txt", "a/3.txt", ".hidden/4.txt", "0.txt", "b/.5.txt"):
        (raw / rel).parent.mkdir(parents=True, exist_ok=True)
        (raw / rel).write_text("x")
    (raw / "linked").symlink_to(raw / "b", target_is_directory=True)
    (raw / "a" / "file_link.txt").symlink_to(raw / "0.txt")
    os.mkfifo(raw / "b" / "pipe.txt")

    def reference():
        for root, dirs, files in os.walk(raw):
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            for fn in sorted(files):
                if os.path.isfile(os.path.join(root, fn)):
                    yield Path(root), fn

    got = list(walk_files(raw))
    assert got == list(reference())
    assert [str((f / n).relative_to(raw)) for f, n in got] == ["0.txt", "a/3.txt", "a/file_link.txt", "b/.5.txt",
                                                               "b/2.txt", "b/a/1.txt"]


def test_stale_partial_stores_of_dead_processes_are_removed_when_they_are_ours(ntu, tmp_path):
    """What a killed run left (its partial store, its hand-off folder, a replaced store that the
    rename had moved aside) is removed by the next run to that --out; a file of the same name
    that this tool did not make (no marker; an `.old` that is not a skeltools store), and the
    work of a running process, are kept."""
    corpus, _ = ntu
    dead = 2 ** 22 + 12345                                   # above pid_max: no such process
    partial, handoff = tmp_path / f".s.partial-{dead}.h5", tmp_path / f".s.handoff-{dead}.h5"
    partial.write_bytes(b"left by a SIGKILL")
    handoff.mkdir()
    (handoff / "task.f32").write_bytes(b"1234")
    for entry in (partial, handoff):
        (tmp_path / (entry.name + ".skeltools")).write_text("marker")
    old = tmp_path / f".s.old-{dead}.h5"
    prepare("ntu60", corpus.out, old, workers=1, progress=False, limit=2, allow_empty_splits=True)      # a store this tool wrote
    foreign = [tmp_path / f".s.partial-{dead + 1}.h5", tmp_path / f".s.old-{dead + 1}.h5",
               tmp_path / f".s.handoff-{dead + 1}.h5"]
    foreign[0].write_bytes(b"a user's file")
    foreign[1].write_bytes(b"a user's file")
    foreign[2].mkdir()
    (tmp_path / f".s.partial-{dead}.zarr").mkdir()              # another store's name: not ours to judge
    alive = tmp_path / ".s.partial-1.h5"                          # pid 1 runs: its partial is someone's work
    alive.write_bytes(b"in progress")
    (tmp_path / ".s.partial-1.h5.skeltools").write_text("marker")
    prepare("ntu60", corpus.out, tmp_path / "s.h5", workers=1, progress=False, limit=2, allow_empty_splits=True)
    assert not partial.exists() and not handoff.exists() and not old.exists()
    assert not (tmp_path / (partial.name + ".skeltools")).exists() and not (tmp_path / (handoff.name + ".skeltools")).exists()
    assert all(p.exists() for p in foreign) and (tmp_path / f".s.partial-{dead}.zarr").exists() and alive.exists()


def test_blank_lines_cost_no_memory(tmp_path):
    """A PKU skeleton file of 3 million blank lines and one frame: the row buffer holds one row.
    Measured in a child as the growth of its peak RSS over a warm-up read (kernels compiled)."""
    from skeltools.formats.pkummd import read_skeleton_rows
    frame = b" ".join([b"0.5"] * 150) + b"\n"
    (tmp_path / "small.txt").write_bytes(frame)
    path = tmp_path / "blank.txt"
    path.write_bytes(b"\n" * 3_000_000 + frame)
    code = ("import resource; from pathlib import Path; from skeltools.formats.pkummd import read_skeleton_rows\n"
            "peak = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024\n"
            f"read_skeleton_rows(Path({str(tmp_path / 'small.txt')!r}), 150); before = peak()\n"
            f"rows = read_skeleton_rows(Path({str(path)!r}), 150); assert rows.shape == (1, 150)\n"
            "print(peak() - before)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert out.returncode == 0, out.stderr
    assert int(out.stdout.strip()) < 50   # MB over the warm-up; a buffer per line was 3M x 600 bytes = 1.8 GB
    assert read_skeleton_rows(path, 150).shape == (1, 150)


def test_cr_only_line_ends_get_a_clear_reason(ntu, tmp_path):
    corpus, _ = ntu
    name = sorted(corpus.samples)[0]
    raw = mutated_copy(corpus, tmp_path / "raw", name, lambda t: t.replace("\n", "\r"))
    prepare("ntu60", raw, tmp_path / "c.h5", workers=1, progress=False)
    assert skipped(tmp_path / "c.h5")[name].startswith("line ends are CR only")


def _mount_tmpfs(path: Path, size: str, options: str = "") -> None:
    path.mkdir()
    try:
        subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}{options}", "tmpfs", str(path)], check=True,
                       capture_output=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        pytest.skip("cannot mount a small tmpfs here (needs root)")


@pytest.fixture
def small_disk(tmp_path):
    disk = tmp_path / "disk"
    _mount_tmpfs(disk, "12m")
    yield disk
    subprocess.run(["umount", str(disk)], capture_output=True)


@pytest.mark.parametrize("suffix,workers", [(".h5", 1), (".h5", 2), (".zarr", 1), (".zarr", 2)])
def test_a_full_disk_is_one_line_and_leaves_nothing(tmp_path, small_disk, suffix, workers):
    """Every way poses reach the disk: HDF5 in place (one worker), hand-off files then chunks
    written by the workers (a pool, and Zarr with one worker)."""
    corpus = synth("ntu60", tmp_path / "raw", scenes=110, seed=1, rigid=True, broken=False)
    out = subprocess.run([sys.executable, "-m", "cli.skel", "prepare", "ntu60", "--raw", str(corpus.out), "--out",
                          str(small_disk / f"s{suffix}"), "--quiet", "--compression", "none",
                          "--workers", str(workers)],
                         capture_output=True, text=True, timeout=300, cwd=REPO)
    assert out.returncode == 2, out.stdout + out.stderr
    assert out.stderr.strip().splitlines() == [f"error: no space left on {small_disk} (nothing written; the partial "
                                               "store was removed)"] and not out.stdout
    assert list(small_disk.iterdir()) == []


def test_out_on_a_read_only_file_system_is_one_line(ntu, tmp_path):
    corpus, _ = ntu
    ro = tmp_path / "ro"
    _mount_tmpfs(ro, "1m", ",ro")
    try:
        r = CliRunner().invoke(skel, ["prepare", "ntu60", "--raw", str(corpus.out), "--out", str(ro / "s.h5")])
        assert r.exit_code == 2 and r.output.strip() == f"error: {ro}: cannot write there (read-only or no permission)"
    finally:
        subprocess.run(["umount", str(ro)], capture_output=True)


def _children(pid: int) -> list[int]:
    out = []
    for p in os.listdir("/proc"):
        try:
            if p.isdigit() and int(open(f"/proc/{p}/stat").read().rsplit(")", 1)[1].split()[1]) == pid:
                out.append(int(p))
        except (OSError, IndexError, ValueError):
            pass
    return out


@pytest.mark.slow
@pytest.mark.parametrize("how", ["Ctrl-C", "SIGTERM"])
def test_a_signal_ends_prepare_promptly_and_leaves_nothing(tmp_path, how):
    """Ctrl-C (SIGINT to the whole process group, as a terminal sends it) or a plain `kill`
    (SIGTERM to the parent alone), at three moments of a run: the run ends within seconds with
    128 + the signal's number, no store, no partial, no hand-off folder, and no worker left.
    The run is frozen (SIGSTOP) while the signal is sent, so it cannot finish first."""
    corpus = synth("ntu60", tmp_path / "raw", scenes=260, seed=1, rigid=True, broken=False)
    sig = signal.SIGINT if how == "Ctrl-C" else signal.SIGTERM
    for attempt, moment in enumerate(("the store is begun", "a batch is staged", "most batches are staged")):
        out = tmp_path / f"s{attempt}.h5"
        proc = subprocess.Popen([sys.executable, "-m", "cli.skel", "prepare", "ntu60", "--raw", str(corpus.out),
                                 "--out", str(out), "--quiet", "--workers", "2"], cwd=REPO, start_new_session=True,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 60

        def reached() -> bool:
            handoff = list(tmp_path.glob(f".s{attempt}.handoff-*.h5"))
            staged = len(list(handoff[0].glob("*.f32"))) if handoff else 0
            return {"the store is begun": bool(list(tmp_path.glob(f".s{attempt}.partial-*.h5"))),
                    "a batch is staged": staged >= 1, "most batches are staged": staged >= 12}[moment]
        while not reached() and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.005)
        os.killpg(proc.pid, signal.SIGSTOP)
        assert not out.exists(), f"the run ended before {moment}"
        workers = _children(proc.pid)
        os.killpg(proc.pid, sig) if how == "Ctrl-C" else os.kill(proc.pid, sig)
        sent = time.monotonic()
        os.killpg(proc.pid, signal.SIGCONT)
        _, err = proc.communicate(timeout=20)
        assert proc.returncode == 128 + sig and time.monotonic() - sent < 5, (moment, proc.returncode, err)
        assert "interrupted" in err and not out.exists() and not list(tmp_path.glob(f".s{attempt}.*")), moment
        time.sleep(0.5)
        assert workers or moment == "the store is begun"          # the pool starts with the first batch
        assert not [w for w in workers if os.path.exists(f"/proc/{w}") and
                    open(f"/proc/{w}/stat").read().rsplit(")", 1)[1].split()[0] != "Z"], moment


# ---- stores, checkpoints and commands that must fail with one line ----

@pytest.fixture(scope="module")
def store(ntu):
    return ntu[1] / "clean.h5"


def _store_with(store: Path, dest: Path, edit) -> Path:
    shutil.copy(store, dest)
    with h5py.File(dest, "r+") as f:
        edit(f)
    return dest


STORE_FAULTS = {
    "missing attribute": (lambda f: f.attrs.__delitem__("classes"), "attribute 'classes' is missing"),
    "missing array": (lambda f: f.__delitem__("meta/label"), "array meta/label is missing"),
    "split past the end": (lambda f: f["splits/xsub/test"].__setitem__(-1, 10_000), "splits/xsub/test: indices past"),
    "short meta": (lambda f: f["meta/view"].resize((5,)), "meta/view has shape (5,), expected"),
    "label out of range": (lambda f: f["meta/label"].__setitem__(0, 99), "meta/label: 1 labels outside 0..59"),
    "no version": (lambda f: f.attrs.__delitem__("version"), "no version attribute"),
    "version 0": (lambda f: f.attrs.__setitem__("version", 0), "version attribute 0 is not a store version"),
    "version abc": (lambda f: f.attrs.__setitem__("version", "abc"), "version attribute 'abc' is not a store version"),
    "newer version": (lambda f: f.attrs.__setitem__("version", 99), "store version 99 is newer than this tool"),
}


@pytest.mark.parametrize("fault", list(STORE_FAULTS))
def test_store_faults_are_one_line_in_every_command(store, tmp_path, fault):
    edit, message = STORE_FAULTS[fault]
    bad = _store_with(store, tmp_path / "bad.h5", edit)
    run = tmp_path / "run"
    for cli, args, code in [
        (skel, ["check", str(bad)], 1),
        (skel, ["stats", str(bad)], 2),
        (focovil, ["train", "--store", str(bad), "--protocol", "xsub", "--out", str(run), "--hidden", "8"], 2),
    ]:
        r = CliRunner().invoke(cli, args)
        assert r.exit_code == code, (args, r.output)
        lines = r.output.strip().splitlines()
        assert len(lines) == 1 and str(bad) in lines[0] and message in lines[0], (args, r.output)
    assert not run.exists()                                  # a failed train leaves no folder behind


def test_eval_of_a_good_run_on_a_faulty_store_is_one_line(store, tmp_path):
    run = tmp_path / "run"
    r = CliRunner().invoke(focovil, ["train", "--store", str(store), "--protocol", "xsub", "--out", str(run),
                                     "--hidden", "8", "--epochs", "1", "--batch", "4", "--quiet"])
    assert r.exit_code == 0, r.output
    bad = _store_with(store, tmp_path / "bad.h5", STORE_FAULTS["label out of range"][0])
    r = CliRunner().invoke(focovil, ["eval", "--run", str(run), "--store", str(bad), "--no-plots"])
    assert r.exit_code == 2 and len(r.output.strip().splitlines()) == 1 and "labels outside" in r.output
    cfg = json.loads((run / "config.json").read_text())
    assert Path(cfg["store"]).is_absolute()                   # eval works from any folder


@pytest.fixture(scope="module")
def trained(store, tmp_path_factory):
    run = tmp_path_factory.mktemp("ck") / "run"
    r = CliRunner().invoke(focovil, ["train", "--store", str(store), "--protocol", "xsub", "--out", str(run),
                                     "--hidden", "8", "--epochs", "1", "--batch", "4", "--quiet"])
    assert r.exit_code == 0, r.output
    return run


CHECKPOINT_FAULTS = {
    "truncated": (lambda b: b[: len(b) // 2], "not a readable checkpoint"),
    "empty": (lambda b: b"", "empty file"),
    "random": (lambda b: np.random.default_rng(0).bytes(4096), "not a readable checkpoint"),
}


@pytest.mark.parametrize("fault", list(CHECKPOINT_FAULTS) + ["wrong shape"])
def test_bad_checkpoints_are_one_line_in_eval_and_resume(trained, tmp_path, fault):
    import torch
    run = tmp_path / "run"
    shutil.copytree(trained, run)
    ck = run / "checkpoint.pt"
    if fault == "wrong shape":
        state = torch.load(ck, weights_only=False)
        state["model"]["readout.weight"] = torch.zeros(3, 3)
        torch.save(state, ck)
        message = "does not fit this run's sizes"
    else:
        edit, message = CHECKPOINT_FAULTS[fault]
        ck.write_bytes(edit(ck.read_bytes()))
    cfg = json.loads((run / "config.json").read_text())
    for args in (["eval", "--run", str(run), "--no-plots"],
                 ["train", "--store", cfg["store"], "--protocol", "xsub", "--out", str(run), "--hidden", "8",
                  "--epochs", "2", "--batch", "4", "--resume", "--quiet"]):
        r = CliRunner().invoke(focovil, args)
        assert r.exit_code == 2 and len(r.output.strip().splitlines()) == 1 and message in r.output, (args, r.output)


def test_resume_with_other_sizes_is_one_line(trained, tmp_path, store):
    run = tmp_path / "run"
    shutil.copytree(trained, run)
    r = CliRunner().invoke(focovil, ["train", "--store", str(store), "--protocol", "xsub", "--out", str(run),
                                     "--hidden", "16", "--epochs", "2", "--batch", "4", "--resume", "--quiet"])
    assert r.exit_code == 2 and len(r.output.strip().splitlines()) == 1 and "--hidden" in r.output, r.output


def test_checkpoints_are_written_atomically(trained, monkeypatch):
    """A save that dies half-way leaves the previous checkpoint whole."""
    import torch
    from focovil import checkpoint
    path = trained / "checkpoint.pt"
    before = path.read_bytes()

    def dying_save(obj, f):
        Path(f).write_bytes(b"half")
        raise KeyboardInterrupt
    monkeypatch.setattr(torch, "save", dying_save)
    with pytest.raises(KeyboardInterrupt):
        checkpoint.save_atomic({"x": 1}, path)
    assert path.read_bytes() == before and not list(trained.glob(".checkpoint.pt.tmp-*"))


def test_run_folder_rules(trained, tmp_path, store):
    common = ["--store", str(store), "--protocol", "xsub", "--hidden", "8", "--epochs", "1", "--batch", "4", "--quiet"]
    r = CliRunner().invoke(focovil, ["train", *common, "--out", str(trained)])
    assert r.exit_code == 2 and "already holds a run" in r.output and "--overwrite" in r.output
    r = CliRunner().invoke(focovil, ["train", *common, "--out", str(tmp_path / "none"), "--resume"])
    assert r.exit_code == 2 and "nothing to resume" in r.output and not (tmp_path / "none").exists()
    fresh = tmp_path / "again"
    shutil.copytree(trained, fresh)
    (fresh / "notes.txt").write_text("mine")
    r = CliRunner().invoke(focovil, ["train", *common, "--out", str(fresh), "--overwrite"])
    assert r.exit_code == 0, r.output
    assert (fresh / "notes.txt").read_text() == "mine" and (fresh / "checkpoint.pt").exists()


@pytest.mark.parametrize("device,message", [("gpu", "use cpu, cuda or cuda:N"), ("cuda", "use --device cpu")])
def test_device_errors_are_one_line(store, tmp_path, device, message):
    import torch
    if device == "cuda" and torch.cuda.is_available():
        pytest.skip("CUDA is available here")
    r = CliRunner().invoke(focovil, ["train", "--store", str(store), "--protocol", "xsub", "--out",
                                     str(tmp_path / "r"), "--device", device, "--hidden", "8"])
    assert r.exit_code == 2 and len(r.output.strip().splitlines()) == 1 and message in r.output, r.output
    assert not (tmp_path / "r").exists()


# ---- skel check ----

def test_check_passes_good_stores_of_both_backends(ntu, tmp_path):
    corpus, root = ntu
    prepare("ntu60", corpus.out, tmp_path / "s.zarr", workers=1, progress=False)
    for path in (root / "clean.h5", tmp_path / "s.zarr"):
        r = CliRunner().invoke(skel, ["check", str(path)])
        assert r.exit_code == 0 and r.output.strip() == f"{path}: valid store", r.output


def test_check_catches_a_lost_zarr_chunk(ntu, tmp_path):
    corpus, _ = ntu
    prepare("ntu60", corpus.out, tmp_path / "s.zarr", workers=1, progress=False)
    chunk = next(p for p in (tmp_path / "s.zarr" / "poses" / "c").rglob("*") if p.is_file())
    chunk.unlink()
    r = CliRunner().invoke(skel, ["check", str(tmp_path / "s.zarr")])
    assert r.exit_code == 1 and "chunks are missing" in r.output
    r = CliRunner().invoke(focovil, ["train", "--store", str(tmp_path / "s.zarr"), "--protocol", "xsub", "--out",
                                     str(tmp_path / "r"), "--hidden", "8"])
    assert r.exit_code == 2 and "chunks are missing" in r.output   # train runs the cheap check first


def test_check_catches_flipped_bytes_in_hdf5(store, tmp_path):
    bad = tmp_path / "flip.h5"
    shutil.copy(store, bad)
    with h5py.File(bad, "r") as f:
        offset = f["poses"].id.get_chunk_info(0).byte_offset
    data = bytearray(bad.read_bytes())
    data[offset + 5000] ^= 0x40
    bad.write_bytes(bytes(data))
    r = CliRunner().invoke(skel, ["check", str(bad)])
    assert r.exit_code == 1 and re.search(r"poses rows 0-\d+: content differs from its checksum", r.output), r.output
    r = CliRunner().invoke(skel, ["check", "--quick", str(bad)])
    assert r.exit_code == 0


def test_check_reports_every_problem_on_its_own_line(store, tmp_path):
    def edit(f):
        f["meta/label"][0] = 99
        f["splits/xsub/test"][-1] = 10_000
    bad = _store_with(store, tmp_path / "two.h5", edit)
    r = CliRunner().invoke(skel, ["check", str(bad)])
    lines = r.output.strip().splitlines()
    assert r.exit_code == 1 and len(lines) == 2 and all(ln.startswith(f"{bad}: ") for ln in lines)


def test_check_catches_a_small_array_written_wrong(ntu, tmp_path, monkeypatch):
    """The small arrays' digests are of the values meant to be written, so a write that
    stores something else is caught by `skel check` (a digest of the re-read file would not)."""
    from skeltools.store.backends import H5Backend
    corpus, _ = ntu
    real_create = H5Backend.create_with

    def wrong_frame_counts(self, key, data, *args):
        real_create(self, key, data + 1 if key == "meta/frames" else data, *args)   # still plausible counts

    monkeypatch.setattr(H5Backend, "create_with", wrong_frame_counts)
    prepare("ntu60", corpus.out, tmp_path / "s.h5", workers=1, progress=False)
    r = CliRunner().invoke(skel, ["check", str(tmp_path / "s.h5")])
    assert r.exit_code == 1 and "meta/frames: content differs from its checksum" in r.output, r.output
