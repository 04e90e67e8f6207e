"""Prepare throughput, measured side by side in one run on one synthetic corpus.

(a) the widely copied pure-Python reader (readline, split, float per value) and
(b) our compiled parser, single process, same files: MB/s and the ratio;
(c) the whole `skel prepare` (parse, select, align, resample, write) with 1 and 2
workers (or --workers N ...), each in its own process: MB/s (kernel loading left out, as
prepare reports it), ratio to (a) and to 1 worker, peak RSS of the largest process, and
the time per sample of the workers and of the writing process with their ratio, the
"scaling ceiling": how many workers the writer could keep busy.

    python benchmarks/bench_prepare.py [--scenes 300] [--workdir bench_out] [--raw FOLDER] [--keep]
                                       [--workers 1 2 4 8 16] [--json FILE]
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

from corpus import add_corpus_options, ntu60_corpus


def pure_python_read(path: Path) -> int:
    """The reader the public pipelines copy: one readline/split/float at a time."""
    with open(path) as f:
        n_frames = int(f.readline())
        kept = 0
        for _ in range(n_frames):
            for _ in range(int(f.readline())):
                f.readline().split()
                for _ in range(int(f.readline())):
                    vals = [float(v) for v in f.readline().split()]
                    kept += len(vals[:3])
    return kept


def timed(fn, files) -> float:
    start = time.perf_counter()
    for p in files:
        try:
            fn(p)
        except Exception:
            pass
    return time.perf_counter() - start


# Runs the prepare command and prints the peak RSS of its process tree. A launcher is needed:
# Linux carries a process's peak RSS across exec, so a child started from this (large,
# numba-loaded) process would report this process's size instead of its own.
_LAUNCH = ("import resource, subprocess, sys\n"
           "done = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
           "sys.stdout.write(done.stdout)\nsys.stderr.write(done.stderr)\n"
           "print('peak_rss_kb', resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
           "sys.exit(done.returncode)\n")


def _options(limit: int | None) -> dict:
    """prepare's options for a run on part of the corpus (whose protocols may lack a part)."""
    import inspect

    from skeltools.prepare import prepare
    return {"allow_empty_splits": True} if limit and "allow_empty_splits" in inspect.signature(prepare).parameters \
        else {}


def prepare_in_child(raw: Path, out: Path, workers: int, limit: int | None = None
                     ) -> tuple[float, float, float, dict]:
    """One `skel prepare` run in its own process: (wall seconds including interpreter start-up,
    prepare's own seconds from its summary, peak RSS in MB of the largest process of its tree,
    and the summary's figures: MB/s, workers' and writer's microseconds per sample, scaling
    ceiling, units read)."""
    start = time.perf_counter()
    run = (f"from skeltools.prepare import prepare; print(prepare('ntu60', {str(raw)!r}, {str(out)!r}, "
           f"workers={workers}, limit={limit!r}, progress=False, **{_options(limit)!r}).text())")
    done = subprocess.run([sys.executable, "-c", _LAUNCH, sys.executable, "-c", run], check=True, capture_output=True,
                          text=True)
    wall = time.perf_counter() - start
    peak = int(re.search(r"peak_rss_kb ([0-9]+)", done.stdout).group(1))
    own = float(re.search(r"([0-9.]+) s, [0-9.]+ MB read", done.stdout).group(1))
    rate = float(re.search(r"MB read, ([0-9.]+) MB/s", done.stdout).group(1))
    per = re.search(r"per sample: workers ([0-9]+) us, writer ([0-9]+) us", done.stdout)
    units = int(re.search(r"wrote ([0-9]+) samples", done.stdout).group(1)) + \
        int(re.search(r"skipped ([0-9]+)", done.stdout).group(1))
    worker_us, writer_us = int(per.group(1)), int(per.group(2))
    figures = {"mb_s": rate, "worker_us": worker_us, "writer_us": writer_us,          # the summary's own ratio
               "ceiling": round(worker_us / max(writer_us, 1)), "units": units}
    return wall, own, peak / 1024, figures


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_corpus_options(ap, scenes=300, workdir="bench_out")
    ap.add_argument("--python-files", type=int, default=150, help="files timed with the slow pure-Python reader")
    ap.add_argument("--keep", action="store_true", help="keep the synthesised corpus")
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2], help="worker counts of (c)")
    ap.add_argument("--json", default=None, help="also write the figures to this JSON file")
    args = ap.parse_args()

    from skeltools.formats.ntu import parse_ntu_bytes, read_ntu

    work, raw = ntu60_corpus(args, "raw_ntu60")
    files = sorted(raw.glob("S*.skeleton"))
    mb = sum(p.stat().st_size for p in files) / 1e6
    print(f"corpus: {len(files)} files, {mb:.1f} MB ({raw})")

    sub = files[: args.python_files]
    sub_mb = sum(p.stat().st_size for p in sub) / 1e6
    read_ntu(files[0])  # compile / load the kernel cache outside the timing
    t_py = timed(pure_python_read, sub)
    t_nb = timed(read_ntu, sub)
    t_nb_all = timed(read_ntu, files)
    py_rate, nb_rate = sub_mb / t_py, sub_mb / t_nb
    print(f"(a) pure-Python reader : {py_rate:8.1f} MB/s  ({len(sub)} files)")
    print(f"(b) compiled parser    : {nb_rate:8.1f} MB/s  (same files, read from disk; "
          f"{mb / t_nb_all:.1f} MB/s on all)")
    print(f"    ratio (b)/(a)      : {nb_rate / py_rate:8.1f}x")
    from skeltools.prepare import prepare
    prepare("ntu60", raw, work / "warm.h5", workers=1, limit=3, progress=False, **_options(3))  # fill the kernel cache untimed
    (work / "warm.h5").unlink()
    report = {"files": len(files), "mb": mb, "python_mb_s": py_rate, "parser_mb_s": nb_rate, "prepare": {},
              "date": time.strftime("%Y-%m-%d"), "cores": len(os.sched_getaffinity(0)),
              "command": "python benchmarks/bench_prepare.py " + " ".join(sys.argv[1:])}
    for workers in args.workers:
        out = work / f"bench_w{workers}.h5"
        wall, own, rss, fig = prepare_in_child(raw, out, workers)
        rate = fig["mb_s"]
        report["prepare"][workers] = {**fig, "seconds": own, "wall_s": wall, "peak_rss_mb": rss}
        one = report["prepare"].get(args.workers[0], {}).get("mb_s", rate)
        print(f"(c) prepare, {workers:2d} worker{'s' if workers > 1 else ' '}: {rate:8.1f} MB/s  ratio to (a) "
              f"{rate / py_rate:6.1f}x, to {args.workers[0]} worker(s) {rate / one:5.2f}x  "
              f"({own:.2f} s in prepare, {wall:.1f} s with interpreter start-up)  "
              f"peak RSS {rss:5.0f} MB  store {out.stat().st_size / 1e6:.0f} MB  "
              f"(5.8 GB NTU-60 at this rate: {5800 / rate:4.0f} s)")
        print(f"    per sample: workers {fig['worker_us']} us, writer {fig['writer_us']} us: "
              f"scaling ceiling: {fig['ceiling']} workers (target >= 16)")
        out.unlink()
        if workers > 1:   # the writer's fixed costs (pool start, store set-up, commit) out: a run on a quarter
            _, _, _, part = prepare_in_child(raw, out, workers, limit=len(files) // 4)
            out.unlink()
            extra = ((fig["writer_us"] * fig["units"] - part["writer_us"] * part["units"])
                     / max(fig["units"] - part["units"], 1))
            report["prepare"][workers].update(writer_marginal_us=round(extra, 1),
                                              ceiling_at_scale=int(fig["worker_us"] / max(extra, 1e-9)))
            print(f"    the writer's cost of one more sample: {extra:.1f} us (from a run on {part['units']} "
                  f"files): scaling ceiling at scale {report['prepare'][workers]['ceiling_at_scale']} workers")
    in_memory = [p.read_bytes() for p in sub]
    t_mem = min(timed(parse_ntu_bytes, in_memory) for _ in range(3))   # the parser alone, one core
    report["parser_in_memory_mb_s"] = sub_mb / t_mem
    print(f"(b) parser on bytes    : {sub_mb / t_mem:8.1f} MB/s  (the files of (a) already in memory, best of 3; "
          f"target >= 1000)")
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1))
    if not (args.keep or args.raw):
        shutil.rmtree(raw)


if __name__ == "__main__":
    main()
