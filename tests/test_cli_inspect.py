"""`skel stats` and `skel show` on real stores, and their errors on bad paths."""
from __future__ import annotations

import json

import h5py
import numpy as np
import pytest

from skeltools.store import Store
from click.testing import CliRunner

from cli.skel import main as skel

from .conftest import REPO


def test_stats_json_and_plot(rigid_store, tmp_path):
    path, summary = rigid_store
    r = CliRunner().invoke(skel, ["stats", str(path), "--json", "--plot", str(tmp_path / "s.png")])
    assert r.exit_code == 0, r.output
    s = json.loads(r.output)
    assert s["samples"] == 90 and s["scenes"] == 30 and s["classes"] == 10
    assert s["per_view"] == {"1": 30, "2": 30, "3": 30}
    assert s["splits"]["xview"] == {"train": 60, "test": 30}
    assert s["skipped"] == 8 and 0.9 < s["abs_max"] <= 1.0   # the store keeps raw: its max may lie there
    assert 50 <= s["frames"]["min"] <= s["frames"]["mean"] <= s["frames"]["max"] <= 110
    assert (tmp_path / "s.png").stat().st_size > 10_000


def test_stats_table_is_readable(rigid_store):
    r = CliRunner().invoke(skel, ["stats", str(rigid_store[0])])
    assert r.exit_code == 0
    assert "samples            90" in r.output and "xview            train      60  test      30" in r.output


def test_stats_errors_are_one_line_exit_2(tmp_path):
    (tmp_path / "junk.h5").write_text("not hdf5")
    with h5py.File(tmp_path / "foreign.h5", "w") as f:
        f["x"] = [1, 2]
    for p in ("missing.h5", "junk.h5", "foreign.h5", "store.txt"):
        r = CliRunner().invoke(skel, ["stats", str(tmp_path / p)])
        assert r.exit_code == 2, (p, r.output)
        assert r.output.startswith("error: ") and r.output.count("\n") == 1 and "Traceback" not in r.output


def test_show_draws_every_view_of_the_scene(rigid_store, tmp_path):
    r = CliRunner().invoke(skel, ["show", str(rigid_store[0]), "S001C002P001R001A001", "--out", str(tmp_path / "x.png")])
    assert r.exit_code == 0, r.output
    assert "S001C001P001R001A001, S001C002P001R001A001, S001C003P001R001A001" in r.output
    assert (tmp_path / "x.png").stat().st_size > 10_000
    r = CliRunner().invoke(skel, ["show", str(rigid_store[0]), "S999C001P001R001A001", "--out", str(tmp_path / "y.png")])
    assert r.exit_code == 2 and "no sample named" in r.output


def test_plots_leave_pyplot_and_the_backend_alone(rigid_store, tmp_path):
    """Library plotting draws on Figure objects: a notebook user's backend is not switched."""
    import subprocess
    import sys
    code = ("import sys, matplotlib; matplotlib.use('svg'); from skeltools.stats import plot_stats, store_stats; "
            "from skeltools.show import show_sample; import numpy as np; "
            f"s = store_stats({str(rigid_store[0])!r}); plot_stats(s, {str(tmp_path / 'a.png')!r}, np.arange(9)); "
            f"show_sample({str(rigid_store[0])!r}, '0', {str(tmp_path / 'b.png')!r}); "
            "assert matplotlib.get_backend() == 'svg', matplotlib.get_backend(); "
            "assert 'matplotlib.pyplot' not in sys.modules")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "a.png").stat().st_size > 0 and (tmp_path / "b.png").stat().st_size > 0


def test_skel_works_without_torch_and_focovil_says_how_to_get_it(rigid_corpus, tmp_path):
    import subprocess
    import sys
    block = "import sys; sys.modules['torch'] = None; "   # `import torch` now fails, as with no torch installed
    store = tmp_path / "s.h5"
    for args in (["prepare", "ntu60", "--raw", str(rigid_corpus.out), "--out", str(store), "--quiet"],
                 ["check", str(store)], ["stats", str(store)],
                 ["export", str(store), "--to", "ctrgcn", "--protocol", "xsub", "--out", str(tmp_path / "c.npz")]):
        out = subprocess.run([sys.executable, "-c", block + f"from cli.skel import main; main({args!r})"],
                             capture_output=True, text=True, cwd=REPO)
        assert out.returncode == 0, (args, out.stderr)
    out = subprocess.run([sys.executable, "-c", block + "from cli.focovil import main; main(['train', '--store', "
                          f"{str(store)!r}, '--protocol', 'xsub', '--out', {str(tmp_path / 'r')!r}])"],
                         capture_output=True, text=True, cwd=REPO)
    assert out.returncode == 2 and out.stderr.strip() == \
        "error: focovil needs PyTorch: pip install 'skeltools-focovil[train]' (or any torch>=2.3)"


@pytest.mark.slow
def test_the_wheel_installs_only_the_project_namespace(tmp_path):
    """cli/ and data_manifests/ go in as skeltools.cli and skeltools.data_manifests: no top-level `cli`."""
    import subprocess
    import sys
    import zipfile
    out = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w",
                          str(tmp_path), str(REPO)], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    wheel = next(tmp_path.glob("*.whl"))
    with zipfile.ZipFile(wheel) as z:
        names = z.namelist()
        top = z.read(next(n for n in names if n.endswith("top_level.txt"))).decode().split()
        entry = z.read(next(n for n in names if n.endswith("entry_points.txt"))).decode()
    assert sorted(top) == ["focovil", "skeltools"]
    assert "skeltools/data_manifests/datasets/ntu60.json" in names and "skeltools/cli/skel.py" in names
    assert "skel = skeltools.cli.skel:main" in entry


def test_show_draws_every_view_before_and_after_alignment(rigid_corpus, rigid_store, tmp_path):
    from skeltools.show import camera_sequences
    path, _ = rigid_store
    r = CliRunner().invoke(skel, ["show", str(path), "0", "--out", str(tmp_path / "s.png"), "--raw",
                                  str(rigid_corpus.out)])
    assert r.exit_code == 0 and r.output.count("S0") == 3, r.output
    assert (tmp_path / "s.png").stat().st_size > 10_000
    with Store(path) as st:
        members = st.read("views")[0]
        names = list(st.read("meta/name")[members])
        frames = dict(zip(names, st.read("meta/frames")[members].tolist()))
    before = camera_sequences(rigid_corpus.out, {"dataset": "ntu60"}, frames, 50)
    assert sorted(before) == sorted(names) and all(b.shape == (2, 50, 25, 3) for b in before.values())
    # before alignment the cameras disagree; the store's aligned views agree (rigid corpus)
    a, b = before[names[0]], before[names[1]]
    assert np.abs(a - b).max() > 0.3


def test_show_refuses_the_raw_files_of_another_recording(rigid_corpus, rigid_store, tmp_path):
    """`--raw` with a folder whose file of that name holds another recording (here: fewer frames)
    is refused in one line instead of drawing it."""
    import shutil
    path, _ = rigid_store
    other = tmp_path / "other"
    shutil.copytree(rigid_corpus.out, other)
    with Store(path) as st:
        name = str(st.read("meta/name")[0])
    f = other / f"{name}.skeleton"
    lines = f.read_text().splitlines()
    frames = int(lines[0])
    f.write_text("\n".join([str(frames - 1)] + _without_last_frame(lines[1:])) + "\n")
    r = CliRunner().invoke(skel, ["show", str(path), "0", "--out", str(tmp_path / "s.png"), "--raw", str(other)])
    assert r.exit_code == 2 and "not the folder this store was prepared from" in r.output, r.output
    assert len(r.output.strip().splitlines()) == 1 and not (tmp_path / "s.png").exists()


def _without_last_frame(lines: list[str]) -> list[str]:
    """The body of a .skeleton text (after the frame count) without its last frame that holds a body."""
    out, k = [], 0
    frames = []
    while k < len(lines):
        bodies = int(lines[k])
        block, j = [lines[k]], k + 1
        for _ in range(bodies):
            joints = int(lines[j + 1])
            block += lines[j:j + 2 + joints]
            j += 2 + joints
        frames.append(block)
        k = j
    last = max(k for k, block in enumerate(frames) if int(block[0]) > 0)
    for block in frames[:last] + frames[last + 1:]:
        out += block
    return out
