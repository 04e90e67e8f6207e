"""Regenerate the README's result tables from the results files; tables are never typed by hand.

Each table sits between `<!-- table:NAME -->` and `<!-- /table:NAME -->` in README.md and is
rebuilt from benchmarks/results/NAME.json by the function of that name below.

    python scripts/readme_tables.py            # rewrite README.md
    python scripts/readme_tables.py --check    # exit 1 if README.md is not what the results give
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"


def fuzz(r: dict) -> str:
    rows = ["| dataset | rounds | mutated files | skipped with a reason | accepted | good samples changed | crashes "
            "| hangs | largest scale change (mutated / clean) |", "|---|---|---|---|---|---|---|---|---|"]
    rounds = r["args"]["rounds"]
    for d, t in r["totals"].items():
        rows.append(f"| {d} | {rounds} | {t['mutants']} | {t['skipped']} | {t['accepted']} | {t['changed']} | "
                    f"{t['crashes']} | {t['hangs']} | "
                    + (f"{t['scale_ratio_max']:.3f} |" if "scale_ratio_max" in t else "not measured |"))
    by = r.get("by_mutation", {})
    if by:
        rows.append("")
        rows.append("Per mutation (a file may carry several): " + ", ".join(
            f"{name} {c['skipped']} skipped / {c['accepted']} accepted" for name, c in sorted(by.items())) + ".")
    rows.append("")
    rows.append(f"`python benchmarks/fuzz_prepare.py --rounds {rounds}` ({r['date']}, {r['seconds']} s, "
                f"{r['args']['scenes']} scenes a round, {r['args']['share']:.0%} of the files mutated); `skel check` "
                f"problems on the mutated stores: {r['check_problems']}.")
    return "\n".join(rows)


def _ablation_block(r: dict, render: str) -> str:
    """A table benchmarks/ablation.py lays out (`render`: its function), under a line of provenance."""
    sys.path.insert(0, str(REPO / "benchmarks"))
    import ablation as layout
    d = r["design"]
    return (f"**{r['title']}** (`{r['command']}`, {r['date']}, {r['machine']}, {r['seconds']} s; "
            f"{d['test_samples']} test samples, {d['classes']} classes, chance {1 / d['classes']:.3f}):\n\n"
            + getattr(layout, render)(r))


def ablation(r: dict) -> str:
    """One ablation table (Tables 8, 9, 10)."""
    return _ablation_block(r, "markdown")


def ablation_focal(r: dict) -> str:
    """The focal question at a longer schedule."""
    return _ablation_block(r, "focal_markdown")


def ablation_floor(r: dict) -> str:
    """The camera-spacing probe (benchmarks/ablation_floor.py owns its layout)."""
    sys.path.insert(0, str(REPO / "benchmarks"))
    from ablation_floor import markdown
    return markdown(r)


def prepare(r: dict) -> str:
    rows = ["| | MB/s | vs (a) |", "|---|---|---|",
            f"| (a) pure-Python readline/split/float reader | {r['python_mb_s']:.1f} | 1x |",
            f"| (b) compiled parser, one process | {r['parser_mb_s']:.0f} | {r['parser_mb_s'] / r['python_mb_s']:.1f}x |"]
    if "parser_in_memory_mb_s" in r:
        rows.append(f"| (b) the parser alone, on bytes already in memory | {r['parser_in_memory_mb_s']:.0f} | "
                    f"{r['parser_in_memory_mb_s'] / r['python_mb_s']:.1f}x |")
    for w, p in r["prepare"].items():
        ceiling = (f"; per sample: workers {p['worker_us']} us, writer {p['writer_us']} us, scaling ceiling "
                   f"{p['ceiling']} workers" if "ceiling" in p else "")
        if "ceiling_at_scale" in p:
            ceiling += (f" (writer {p['writer_marginal_us']:.0f} us a sample beyond its fixed costs: "
                        f"{p['ceiling_at_scale']} workers at scale)")
        rows.append(f"| (c) whole `prepare`, {w} worker{'s' if int(w) > 1 else ''}{ceiling} | {p['mb_s']:.0f} | "
                    f"{p['mb_s'] / r['python_mb_s']:.1f}x |")
    peak = max(p["peak_rss_mb"] for p in r["prepare"].values())
    rows += ["", f"`{r['command']}`, {r['date']}, {r['cores']} cores: {r['files']} files, {r['mb']:.0f} MB, peak RSS "
                 f"{peak:.0f} MB."]
    return "\n".join(rows)


def demo(r: dict) -> str:
    """The demo's measured wall time (scripts/demo.sh writes demo_out/timing.json; a copy is kept
    in benchmarks/results/demo.json)."""
    steps = ", ".join(f"{k} {v:.0f} s" for k, v in r["steps"].items())
    return (f"Measured: **{r['total_s'] / 60:.1f} minutes** wall for `{r['command']}` on {r['cores']} CPU cores "
            f"({r['date']}, {r['machine']}): {steps}.")


def check(r: dict) -> str:
    """What verifying each chunk's crc32 costs a read of every chunk (benchmarks/bench_check.py)."""
    def ratio(store: str) -> str:
        m = r["stores"][store]["median_s"]
        return f"{m['read, verified'] / m['read, --no-verify']:.1f}x"
    h5 = r["stores"]["h5"]
    extra = h5["median_s"]["read, verified"] - h5["median_s"]["read, --no-verify"]
    return (f"Measured (`{r['command']}`, {r['date']}): a verified read of every chunk costs {ratio('h5')} an "
            f"unverified one on HDF5 from the page cache ({extra:.2f} s more for {h5['mb']} MB) and {ratio('zarr')} "
            f"on Zarr, where decoding dominates.")


TABLES = {"check": check, "demo": demo, "fuzz": fuzz, "prepare": prepare, "ablation-8": ablation, "ablation-9": ablation, "ablation-10": ablation,
          "ablation-focal": ablation_focal, "ablation-floor": ablation_floor}


def render(text: str) -> str:
    for name, build in TABLES.items():
        path = RESULTS / f"{name}.json"
        if not path.exists():
            continue
        table = build(json.loads(path.read_text()))
        text = re.sub(rf"(<!-- table:{name} -->\n).*?(<!-- /table:{name} -->)",
                      lambda m: m.group(1) + table + "\n" + m.group(2), text, flags=re.S)
    return text


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true")
    args = ap.parse_args()
    readme = REPO / "README.md"
    old = readme.read_text()
    new = render(old)
    if args.check:
        if new != old:
            print("README.md tables differ from benchmarks/results: run python scripts/readme_tables.py")
            return 1
        return 0
    readme.write_text(new)
    return 0


if __name__ == "__main__":
    sys.exit(main())
