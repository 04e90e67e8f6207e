"""The NTU-60 corpus a benchmark runs on: one given with --raw, or one synthesised in its workdir
(shared by bench_prepare.py and bench_store.py, which are run as scripts from this folder)."""
from __future__ import annotations

import argparse
from pathlib import Path


def add_corpus_options(ap: argparse.ArgumentParser, scenes: int, workdir: str) -> None:
    ap.add_argument("--scenes", type=int, default=scenes, help="scenes to synthesise when no --raw is given")
    ap.add_argument("--workdir", default=workdir)
    ap.add_argument("--raw", default=None, help="an existing NTU-format corpus to use (default: synthesise one)")


def ntu60_corpus(args: argparse.Namespace, name: str) -> tuple[Path, Path]:
    """(workdir, raw folder), creating the workdir and synthesising the corpus if needed."""
    from skeltools.synth.generate import synth
    work = Path(args.workdir)
    work.mkdir(parents=True, exist_ok=True)
    raw = Path(args.raw) if args.raw else work / name
    if not raw.exists():
        synth("ntu60", raw, scenes=args.scenes, seed=0)
    return work, raw
