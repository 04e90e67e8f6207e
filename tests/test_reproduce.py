"""benchmarks/reproduce.py end to end on synthetic data at tiny sizes (the real run needs the files and a GPU)."""
from __future__ import annotations

import json
import sys

import pytest

from skeltools.synth.generate import synth

from .conftest import REPO

sys.path.insert(0, str(REPO / "benchmarks"))


@pytest.mark.slow
@pytest.mark.parametrize("dataset,protocols", [("nucla", None), ("uwa3d", ["v12-v3", "v34-v1"])])
def test_reproduce_prints_ours_beside_the_paper(dataset, protocols, tmp_path):
    from reproduce import PAPER, reproduce
    corpus = synth(dataset, tmp_path / "raw", scenes=8, seed=3, broken=False)
    res = reproduce(dataset, corpus.out, tmp_path / "work", device="cpu", epochs=1, hidden=16, protocols=protocols,
                    progress=False)
    paper = json.loads(PAPER.read_text())["datasets"][dataset]
    assert res["protocols"] == (protocols or ["xview"])
    assert set(res["metrics"]) == {m for m in ("linear", "knn1", "gmm_purity") if m in paper}
    for metric, v in res["metrics"].items():
        assert v["paper"] == paper[metric] and 0.0 <= v["ours"] <= (100.0 if metric != "gmm_purity" else 1.0)
    knn = [r["knn1_acc"] for r in res["per_protocol"].values()]
    assert res["metrics"]["knn1"]["ours"] == pytest.approx(100 * sum(knn) / len(knn))   # the mean over protocols


@pytest.mark.slow
def test_reproduce_passes_pku_split_files_and_warns_without_them(tmp_path, capsys):
    from reproduce import reproduce
    from skeltools.store import Store
    corpus = synth("pkummd1", tmp_path / "raw", scenes=8, seed=1, rigid=True, broken=False)
    split = tmp_path / "cross-subject.txt"
    split.write_text("Training videos: \n0002-L, 0291-L, 0291-M\nValidataion videos: \n0002-M, 0002-R, 0291-R\n")
    res = reproduce("pkummd1", corpus.out, tmp_path / "with", device="cpu", epochs=1, hidden=16, progress=False,
                    split_files=[split])
    assert res["split_warning"] is None and res["split_files"] == ["cross-subject.txt"]
    assert "UNVERIFIED" not in capsys.readouterr().out
    with Store(tmp_path / "with" / "pkummd1.h5") as st:
        assert "cross-subject.txt" in st.attrs["protocol_sources"]["xsub"]
    res = reproduce("pkummd1", corpus.out, tmp_path / "without", device="cpu", epochs=1, hidden=16, progress=False)
    assert "UNVERIFIED" in res["split_warning"] and res["split_warning"] in capsys.readouterr().out
