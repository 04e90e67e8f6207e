"""The long fuzzing run of `skel prepare` (tests/test_fuzz.py runs a seeded subset).

Each round: a clean synthetic corpus, a copy with a share of its raw files mutated (1-3
of the mutations in skeltools/synth/mutate.py each), both prepared in their own process,
and the outcome counted (skeltools/synth/fuzz.py): mutants skipped with a reason,
accepted, crashes, hangs, and good samples changed (must be 0), plus `skel check` on the
result. Writes benchmarks/results/fuzz.json and prints the totals as a markdown table.

    python benchmarks/fuzz_prepare.py [--rounds 10] [--datasets ntu60 pkummd1 uwa3d custom] [--workdir bench_out/fuzz]
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

FIELDS = ("mutants", "skipped", "accepted", "changed", "crashes", "hangs")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=10, help="rounds per dataset (seeds 1000, 1001, ...)")
    ap.add_argument("--datasets", nargs="+", default=["ntu60", "pkummd1", "uwa3d", "custom"])
    ap.add_argument("--scenes", type=int, default=16)
    ap.add_argument("--share", type=float, default=0.6, help="share of raw files mutated per round")
    ap.add_argument("--workdir", default="bench_out/fuzz")
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "fuzz.json"))
    args = ap.parse_args()

    from skeltools.synth.fuzz import fuzz_round

    start, rounds = time.time(), []
    for dataset in args.datasets:
        for k in range(args.rounds):
            work = Path(args.workdir) / f"{dataset}-{k}"
            shutil.rmtree(work, ignore_errors=True)
            work.mkdir(parents=True)
            res = fuzz_round(dataset, work, 1000 + k, scenes=args.scenes, share=args.share)
            rounds.append(res.as_dict())
            print(f"{dataset} round {k}: " + ", ".join(f"{f} {getattr(res, f)}" for f in FIELDS)
                  + (f", check problems {len(res.check_problems)}" if res.check_problems else "")
                  + (f"  ERROR {res.error[-300:]}" if res.error else ""), flush=True)
            shutil.rmtree(work, ignore_errors=True)
    totals = {d: {f: sum(r[f] for r in rounds if r["dataset"] == d) for f in (*FIELDS, "rescaled")}
              for d in args.datasets}
    for d, t in totals.items():
        ratios = [r["scale_ratio"] for r in rounds if r["dataset"] == d and not r["error"]]
        t["scale_ratio_max"] = max(ratios, default=1.0)
    by_mutation: dict = {}
    for r in rounds:
        for name, c in r["by_mutation"].items():
            t = by_mutation.setdefault(name, {"skipped": 0, "accepted": 0})
            t["skipped"] += c["skipped"]
            t["accepted"] += c["accepted"]
    report = {"date": time.strftime("%Y-%m-%d"), "seconds": round(time.time() - start), "args": vars(args),
              "totals": totals, "by_mutation": by_mutation,
              "check_problems": sum(len(r["check_problems"]) for r in rounds), "rounds": rounds}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=1))
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
    from readme_tables import fuzz as table
    print("\n" + table(report) + f"\nwritten to {args.out}")


if __name__ == "__main__":
    main()
