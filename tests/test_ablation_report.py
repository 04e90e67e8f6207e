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


def test_bounds_name_the_best_and_the_worst_aligned_row():
    from ablation import bounds
    text = bounds(_report([("raw", "unaligned", 0.05), ("a", "aligned", 0.30), ("b", "sample", 0.90)]))
    assert "best row b 0.900 < 0.95 (met)" in text
    assert "worst row on an aligned store a 0.300 > chance + 0.1 = 0.117 (met)" in text
    assert "Unaligned baseline raw: 0.050 (not held to the floor)" in text


def test_bounds_say_when_a_table_saturates_or_sinks():
    from ablation import bounds, markdown
    text = bounds(_report([("a", "aligned", 0.10), ("b", "aligned", 0.97)]))
    assert "0.970 >= 0.95 (NOT met)" in text and "a 0.100 <= chance + 0.1 = 0.117 (NOT met)" in text
    assert markdown(_report([("a", "aligned", 0.10), ("b", "aligned", 0.97)])).endswith(text)
