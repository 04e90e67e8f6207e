"""Whether the unaligned Reconst. row can be held to the ablation benchmark's floor: the same
rows, on seed 0, with the side cameras moved closer to the middle one.

The issue asks that the worst row stay above chance + 0.1. The reconstruction baseline on the
unaligned store (raw camera coordinates, as the paper's Table 8 "Reconst.") is the row most at
risk: on design v3 it stayed near chance at every spacing but 0, and was exempted. This probe
regenerates the hard corpus (now v4: NTU's layout, camera 1 in the middle) with the side
cameras 45 (NTU's), 25 and 0 degrees from the middle one, everything else equal, and runs the
unaligned baseline, its aligned twin and the best row (for the ceiling). On v4 the baseline
clears the floor at every spacing, so no row is exempt (`ablation.bounds`).

    python benchmarks/ablation_floor.py [--spacings 45 25 0] [--epochs 15] [--workdir bench_out/ablation-floor]

Writes benchmarks/results/ablation-floor.json and prints the markdown table.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from ablation import CLASSES, FLOOR_ABOVE_CHANCE, TABLES, run_one, stores

ROWS = ("Reconst. (unaligned store)", "Ali. reconst.", "CoViL w/o g")


def markdown(report: dict) -> str:
    """Cross-view 1-NN per spacing and row, with the floor the issue sets."""
    floor = 1.0 / report["classes"] + FLOOR_ABOVE_CHANCE
    lines = ["| side cameras off the middle | " + " | ".join(report["rows"]) + " |",
             "|---|" + "---|" * len(report["rows"])]
    for spacing, row in report["results"].items():
        lines.append(f"| {spacing} degrees | " + " | ".join(f"{row[r]:.3f}" for r in report["rows"]) + " |")
    lines += ["", f"`{report['command']}`, {report['date']}, {report['seconds']} s, seed {report['seed']}, "
                  f"{report['epochs']} epochs; floor = chance + {FLOOR_ABOVE_CHANCE} = {floor:.3f}."]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--spacings", type=float, nargs="+", default=[45.0, 25.0, 0.0])
    ap.add_argument("--epochs", type=int, default=15)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workdir", default="bench_out/ablation-floor")
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "ablation-floor.json"))
    args = ap.parse_args()

    start = time.time()
    results = {}
    for spacing in args.spacings:
        work = Path(args.workdir) / f"spacing-{spacing:g}"
        work.mkdir(parents=True, exist_ok=True)
        made = stores(work, args.seed, spacing)
        results[f"{spacing:g}"] = {}
        for label in ROWS:
            preset, kind, extra = TABLES["8"][label]
            res = run_one(work, made[kind], preset, args.seed, args.epochs, extra)
            results[f"{spacing:g}"][label] = res["knn1_acc"]
            print(f"{spacing:>4g} degrees  {label:<28} 1-NN {res['knn1_acc']:.3f}", flush=True)
    report = {"date": time.strftime("%Y-%m-%d"), "seconds": round(time.time() - start), "seed": args.seed,
              "epochs": args.epochs, "classes": CLASSES, "rows": list(ROWS), "results": results,
              "command": "python benchmarks/ablation_floor.py --spacings "
                         + " ".join(f"{s:g}" for s in args.spacings) + f" --epochs {args.epochs}"}
    Path(args.out).write_text(json.dumps(report, indent=1))
    print()
    print(markdown(report))


if __name__ == "__main__":
    main()
