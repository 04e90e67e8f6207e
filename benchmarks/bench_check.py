"""What the content checksums cost, side by side in one process, on both backends: a
sequential read of every chunk of poses without verification (`Store(path, verify=False)`,
the baseline), the same read verified as every command reads (each chunk's crc32 compared
the first time it is read), `skel check` (structure, then every chunk re-read and digested)
and `skel check --quick` (structure only).

    python benchmarks/bench_check.py [--scenes 6000] [--workdir bench_out/check] [--json results/check.json]

With --json the medians go to a results file (the README's line on what verification costs is
generated from benchmarks/results/check.json by scripts/readme_tables.py).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenes", type=int, default=6000, help="scenes x 3 views of NTU-sized samples")
    ap.add_argument("--workdir", default="bench_out/check")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--json", default=None, help="also write the medians to this JSON file")
    args = ap.parse_args()

    from sized_store import write_sized_store

    from skeltools.store import check_store, structure_problems
    from skeltools.store import Store

    work = Path(args.workdir)
    work.mkdir(parents=True, exist_ok=True)
    results = {}
    for suffix in (".h5", ".zarr"):
        path = work / f"s{suffix}"
        if not path.exists():
            write_sized_store(path, args.scenes)

        def read_all(verify: bool) -> float:
            with Store(path, verify=verify) as st:
                n, total = len(st), 0.0
                for lo in range(0, n, 64):
                    total += float(np.asarray(st.read("poses", slice(lo, lo + 64)))[0, 0, 0, 0, 0])
            return total

        timings = {"read, --no-verify": [], "read, verified": [], "skel check": [], "skel check --quick": []}
        for _ in range(args.rounds):   # alternate, so that drifts of the machine hit all alike
            for name, fn in (("read, --no-verify", lambda: read_all(False)), ("read, verified", lambda: read_all(True)),
                             ("skel check", lambda: check_store(path)),
                             ("skel check --quick", lambda: structure_problems(path))):
                start = time.perf_counter()
                fn()
                timings[name].append(time.perf_counter() - start)
        size = sum(p.stat().st_size for p in ([path] if path.is_file() else path.rglob("*")) if p.is_file()) / 1e6
        base = float(np.median(timings["read, --no-verify"]))
        print(f"{suffix[1:]} store, {args.scenes * 3} samples, {size:.0f} MB:")
        for name, t in timings.items():
            print(f"  {name:<22}: {np.median(t):6.2f} s  = {np.median(t) / base:5.2f}x the unverified read")
        results[suffix[1:]] = {"mb": round(size), "median_s": {k: float(np.median(v)) for k, v in timings.items()}}
    if args.json:
        Path(args.json).write_text(json.dumps({
            "date": time.strftime("%Y-%m-%d"), "samples": args.scenes * 3, "rounds": args.rounds, "stores": results,
            "command": "python benchmarks/bench_check.py " + " ".join(sys.argv[1:])}, indent=1) + "\n")


if __name__ == "__main__":
    main()
