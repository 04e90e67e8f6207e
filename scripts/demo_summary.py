"""The demo's closing table: one row per run folder under RUNS, from its results.json.

    python scripts/demo_summary.py demo_out/runs > demo_out/summary.md
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

COLUMNS = ("linear_acc", "knn1_acc", "gmm_purity", "gmm_ari", "kmeans_purity")


def main() -> None:
    runs = Path(sys.argv[1])
    print("| run | preset | " + " | ".join(COLUMNS) + " |")
    print("|---|---|" + "---|" * len(COLUMNS))
    for res in sorted(runs.glob("*/results.json")):
        r = json.loads(res.read_text())
        print(f"| {res.parent.name} | {r['preset']} | " + " | ".join(f"{r[c]:.3f}" for c in COLUMNS) + " |")


if __name__ == "__main__":
    main()
