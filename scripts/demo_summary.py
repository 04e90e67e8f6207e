"""The demo's closing table, one row per run in the paper's order (Reconst., Ali. reconst.,
FoCoViL), from each run's results.json; and the demo's wall time per step as JSON.

    python scripts/demo_summary.py demo_out/runs demo_out/timing.txt demo_out/timing.json > demo_out/summary.md
"""
from __future__ import annotations

import json
import os
import platform
import sys
import time
from pathlib import Path

COLUMNS = ("linear_acc", "knn1_acc", "gmm_purity", "gmm_ari", "kmeans_purity")
ORDER = ("reconst", "ali-reconst", "focovil")   # Table 8's order: Reconst. < Ali. reconst. < FoCoViL
NAMES = {"reconst": "Reconst. (unaligned store)", "ali-reconst": "Ali. reconst.", "focovil": "FoCoViL"}


def timing(log: Path) -> dict:
    """Each step's wall seconds from the demo's log (`name end start` per line), and the total."""
    steps = {}
    for line in log.read_text().splitlines():
        name, end, start = line.split()
        steps[name] = round(float(end) - float(start), 1)
    return {"steps": steps, "total_s": round(sum(steps.values()), 1), "date": time.strftime("%Y-%m-%d"),
            "cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
            "machine": platform.machine(), "command": "bash scripts/demo.sh"}


def main() -> None:
    runs = Path(sys.argv[1])
    print("| run | " + " | ".join(COLUMNS) + " |")
    print("|---|" + "---|" * len(COLUMNS))
    for name in sorted({p.parent.name for p in runs.glob("*/results.json")},
                       key=lambda n: (ORDER.index(n) if n in ORDER else len(ORDER), n)):
        r = json.loads((runs / name / "results.json").read_text())
        print(f"| {NAMES.get(name, name)} | " + " | ".join(f"{r[c]:.3f}" for c in COLUMNS) + " |")
    if len(sys.argv) > 3:
        t = timing(Path(sys.argv[2]))
        Path(sys.argv[3]).write_text(json.dumps(t, indent=1))
        print(f"\nwall time: {t['total_s']:.0f} s on {t['cores']} cores (" +
              ", ".join(f"{k} {v:.0f} s" for k, v in t["steps"].items()) + ")")


if __name__ == "__main__":
    main()
