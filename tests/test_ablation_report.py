"""The ablation benchmark's generated bounds line (benchmarks/ablation.py)."""
from __future__ import annotations

import sys

from .conftest import REPO

sys.path.insert(0, str(REPO / "benchmarks"))


def _report(rows: list[tuple[str, str, float]]) -> dict:
    return {"design": {"classes": 60}, "rows": [
        {"row": label, "store": store, "summary": {"knn1_acc": {"mean": mean, "std": 0.01, "n": 3},
                                                    "gmm_purity": {"mean": 0.2, "std": 0.01, "n": 3},
                                                    "linear_acc": {"mean": 0.5, "std": 0.01, "n": 3}}}
        for label, store, mean in rows]}


def test_bounds_name_the_best_and_the_worst_row_whatever_its_store():
    from ablation import bounds
    text = bounds(_report([("raw", "unaligned", 0.20), ("a", "aligned", 0.30), ("b", "sample", 0.90)]))
    assert "best row b 0.900 < 0.95 (met)" in text
    assert "worst row raw 0.200 > chance + 0.1 = 0.117 (met)" in text
    text = bounds(_report([("raw", "unaligned", 0.05), ("a", "aligned", 0.30)]))
    assert "worst row raw 0.050 <= chance + 0.1 = 0.117 (NOT met)" in text


def test_bounds_say_when_a_table_saturates_or_sinks():
    from ablation import bounds, markdown
    text = bounds(_report([("a", "aligned", 0.10), ("b", "aligned", 0.97)]))
    assert "0.970 >= 0.95 (NOT met)" in text and "a 0.100 <= chance + 0.1 = 0.117 (NOT met)" in text
    assert markdown(_report([("a", "aligned", 0.10), ("b", "aligned", 0.97)])).endswith(text)


def _focal_report(per_seed: dict[str, list[float]]) -> dict:
    """A focal table at one epoch count: each row's 1-NN per seed, each variant compared with CoViL."""
    from ablation import compare, summarise
    rows = []
    for name, values in per_seed.items():
        at = {"row": name, "per_seed": {str(s): {"knn1_acc": v} for s, v in enumerate(values)},
              "summary": {"knn1_acc": summarise(values)}}
        rows.append({"row": name, "at": {"60": at}})
    covil = rows[0]["at"]["60"]
    for r in rows[1:]:
        r["at"]["60"]["compared"] = compare(r["at"]["60"], covil)
    return {"schedule": [60], "rows": rows}


def test_focal_verdict_needs_every_seed_not_a_higher_mean():
    from ablation import focal_verdict
    tie = focal_verdict(_focal_report({"CoViL": [0.95, 0.93, 0.97], "FoCoViL (none)": [0.95, 0.94, 0.962],
                                       "FoCoViL (pos)": [0.96, 0.93, 0.95], "FoCoViL (both)": [0.90, 0.91, 0.92]}))
    assert "does not appear" in tie and "the default is both" in tie
    win = focal_verdict(_focal_report({"CoViL": [0.90, 0.91, 0.92], "FoCoViL (pos)": [0.93, 0.945, 0.96],
                                       "FoCoViL (both)": [0.91, 0.925, 0.93]}))
    assert "appears (above CoViL in every seed)" in win and "the default is focal_grad pos" in win
