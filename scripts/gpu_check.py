"""The GPU check, stage by stage: each stage is a command with its own time limit, so one
that fails or hangs never eats the others' budget. Writes $OUT/gpu_check.json and a
readable $OUT/gpu_check.md. Run through scripts/gpu_check.sh, which sets up the imports.

    OUT=<dir> python scripts/gpu_check.py            # on a lent GPU (the full sizes, ~8 minutes)
    OUT=<dir> python scripts/gpu_check.py --smoke    # on the CPU at tiny sizes (CI runs this)
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TOTAL_BUDGET_S = 8 * 60 - 40  # the 8 minutes, less what gpu_check.sh spends installing
TAIL = 2500                   # characters of each stage's output kept in the report


@dataclass
class Stage:
    """One command; `full` / `smoke` are its argument lists (None: not run at that size)."""

    name: str
    what: str
    full: list[str] | None
    smoke: list[str] | None
    limit_s: int
    smoke_limit_s: int = 120
    needs_cuda: bool = False
    json_out: str | None = None   # a file the command writes its figures to (under the work folder)
    env: dict = field(default_factory=dict)


def python(*args: str) -> list[str]:
    return [sys.executable, *args]


def stages(work: Path) -> list[Stage]:
    fv = python("-m", "cli.focovil")
    store, small = str(work / "ntu60_sized.h5"), str(work / "small.h5")
    train_full = ["train", "--store", store, "--protocol", "xview", "--epochs", "1", "--batch", "128", "--quiet",
                  "--device", "cuda"]
    train_smoke = ["train", "--store", small, "--protocol", "xview", "--epochs", "1", "--quiet", "--device", "cpu",
                   "--hidden", "32", "--batch", "8"]
    return [
        Stage("environment", "versions, the GPU, the imports this project needs",
              python("-c", ENV_PROBE), python("-c", ENV_PROBE), 60, 60),
        Stage("cuda_tests", "pytest -m cuda: graph == eager, bf16 step, --stream on CUDA, train + eval end to end",
              python("-m", "pytest", "-m", "cuda", "-q", "-p", "no:cacheprovider", "tests"),
              python("-m", "pytest", "-m", "cuda", "-q", "-p", "no:cacheprovider", "tests"), 180, needs_cuda=True),
        Stage("bench_train_bf16", "bench_train at 128 scenes, bf16: naive fp32 / ceiling / ours, eager and CUDA graph, "
              "--stream from HDF5 and Zarr",
              python("benchmarks/bench_train.py", "--scenes", "128", "--precision", "bf16", "--rounds", "2",
                     "--json", str(work / "bench_train_bf16.json")),
              python("benchmarks/bench_train.py", "--device", "cpu", "--hidden", "32", "--scenes", "8", "--steps", "2",
                     "--warmup", "1", "--rounds", "1", "--json", str(work / "bench_train_bf16.json")),
              100, json_out="bench_train_bf16.json"),
        Stage("sized_store", "an NTU-60-sized store (18,960 scenes x 3 views) for the training stages",
              python("benchmarks/sized_store.py", "--out", store, "--scenes", "18960"),
              python("benchmarks/sized_store.py", "--out", small, "--scenes", "40"), 60),
        Stage("train_resident", "focovil train, NTU-60 size, xview, one epoch, split on the device",
              fv + train_full + ["--out", str(work / "run_resident")],
              fv + train_smoke + ["--out", str(work / "run_resident")], 75, json_out="run_resident/metrics.csv"),
        Stage("train_stream", "the same epoch with --stream from the HDF5 store",
              fv + train_full + ["--stream", "--out", str(work / "run_stream")],
              fv + train_smoke + ["--stream", "--out", str(work / "run_stream")], 75,
              json_out="run_stream/metrics.csv"),
        Stage("bench_train_fp32", "bench_train at 128 scenes, fp32, eager and CUDA graph",
              python("benchmarks/bench_train.py", "--scenes", "128", "--precision", "fp32", "--no-stream",
                     "--json", str(work / "bench_train_fp32.json")),
              python("benchmarks/bench_train.py", "--device", "cpu", "--precision", "fp32", "--hidden", "32", "--scenes",
                     "8", "--steps", "2", "--warmup", "1", "--no-stream", "--json", str(work / "bench_train_fp32.json")),
              50, json_out="bench_train_fp32.json"),
        Stage("bench_encode", "f_e on 114,480 clips, batch-1 latency (Table 4), 1-NN, KMeans, GMM",
              python("benchmarks/bench_encode.py", "--json", str(work / "bench_encode.json")),
              python("benchmarks/bench_encode.py", "--device", "cpu", "--clips", "200", "--train", "300", "--test",
                     "200", "--hidden", "32", "--classes", "5", "--latency-runs", "5",
                     "--json", str(work / "bench_encode.json")),
              90, json_out="bench_encode.json"),
        Stage("prepare_workers", "skel prepare of a synthetic NTU-60 corpus with 1, 2, 4, 8, 16 workers",
              python("benchmarks/bench_prepare.py", "--workdir", str(work / "prepare"), "--scenes", "600",
                     "--python-files", "60", "--workers", "1", "2", "4", "8", "16",
                     "--json", str(work / "prepare_workers.json")),
              python("benchmarks/bench_prepare.py", "--workdir", str(work / "prepare"), "--scenes", "4",
                     "--python-files", "3", "--workers", "1", "2", "--json", str(work / "prepare_workers.json")),
              100, json_out="prepare_workers.json"),
        Stage("bench_train_compile", "bench_train at 128 scenes, bf16, with the loss under torch.compile",
              python("benchmarks/bench_train.py", "--scenes", "128", "--precision", "bf16", "--compile", "--no-stream",
                     "--json", str(work / "bench_train_compile.json")),
              None, 90, json_out="bench_train_compile.json"),
    ]


ENV_PROBE = """
import json, platform, os, torch, numpy, numba, h5py, click, sklearn
out = {"python": platform.python_version(), "torch": torch.__version__, "cuda": torch.cuda.is_available(),
       "cpus": len(os.sched_getaffinity(0)), "numpy": numpy.__version__, "numba": numba.__version__,
       "h5py": h5py.__version__, "sklearn": sklearn.__version__}
try:
    import zarr; out["zarr"] = zarr.__version__
except ImportError as e:
    out["zarr"] = f"missing: {e}"
if torch.cuda.is_available():
    p = torch.cuda.get_device_properties(0)
    out.update(gpu=p.name, gpu_memory_gb=round(p.total_memory / 2**30, 1), capability=f"{p.major}.{p.minor}",
               cuda_version=torch.version.cuda, cudnn=torch.backends.cudnn.version())
print(json.dumps(out))
"""


def run_stage(stage: Stage, smoke: bool, cuda: bool, work: Path, deadline: float) -> dict:
    cmd = stage.smoke if smoke else stage.full
    if cmd is None:
        return {"status": "skipped", "why": "not run at smoke sizes (torch.compile on the CPU takes minutes)"
                if smoke else "no full-size command"}
    if stage.needs_cuda and not cuda:
        return {"status": "skipped", "why": "no CUDA"}
    limit = min(stage.smoke_limit_s if smoke else stage.limit_s, deadline - time.monotonic())
    if limit < 5:
        return {"status": "skipped", "why": "the total budget is spent"}
    start = time.monotonic()
    env = {**os.environ, "PYTHONUNBUFFERED": "1", **stage.env}
    try:
        proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=limit)
        status, out, rc = ("ok" if proc.returncode == 0 else "failed"), proc.stdout + proc.stderr, proc.returncode
    except subprocess.TimeoutExpired as e:
        text = (e.stdout or b"") + (e.stderr or b"")
        status, out, rc = "timeout", text.decode(errors="replace") if isinstance(text, bytes) else text, None
    result = {"status": status, "seconds": round(time.monotonic() - start, 1), "limit_s": round(limit),
              "returncode": rc, "command": " ".join("python" if c == sys.executable else c for c in cmd)
              if stage.name != "environment" else "python -c ENV_PROBE (scripts/gpu_check.py)",
              "output_tail": out[-TAIL:]}
    if stage.json_out and (work / stage.json_out).exists():
        result["figures"] = read_figures(work / stage.json_out)
    if stage.name == "environment" and status == "ok":
        result["figures"] = json.loads(out.strip().splitlines()[-1])
    return result


def read_figures(path: Path) -> object:
    if path.suffix == ".csv":
        import csv
        with open(path) as f:
            return list(csv.DictReader(f))
    return json.loads(path.read_text())


def write_markdown(report: dict, path: Path) -> None:
    lines = [f"# GPU check ({'smoke, CPU' if report['smoke'] else 'full'})", "",
             f"Date: {report['date']}. Device: {report['device']}. Total {report['seconds']} s.", "",
             "| stage | status | seconds | what |", "|---|---|---|---|"]
    for name, r in report["stages"].items():
        lines.append(f"| {name} | {r['status']}{': ' + r['why'] if 'why' in r else ''} | {r.get('seconds', '')} "
                     f"| {r['what']} |")
    for name, r in report["stages"].items():
        if "figures" in r or r["status"] in ("failed", "timeout"):
            lines += ["", f"## {name}", "", f"`{r.get('command', '')}`", ""]
            if "figures" in r:
                lines += ["```json", json.dumps(r["figures"], indent=1)[:6000], "```"]
            if r["status"] in ("failed", "timeout"):
                lines += ["Output (tail):", "", "```", r["output_tail"], "```"]
    path.write_text("\n".join(lines) + "\n")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--smoke", action="store_true", help="CPU, tiny sizes; CUDA stages report 'skipped: no CUDA'")
    ap.add_argument("--only", nargs="+", default=None, help="run these stages alone (by name)")
    args = ap.parse_args()
    out = Path(os.environ.get("OUT") or "gpu_check_out")
    out.mkdir(parents=True, exist_ok=True)
    work = Path(os.environ.get("GPU_CHECK_WORK") or out / "work")
    work.mkdir(parents=True, exist_ok=True)

    import torch
    cuda = torch.cuda.is_available() and not args.smoke
    start = time.monotonic()
    deadline = start + TOTAL_BUDGET_S
    report = {"smoke": args.smoke, "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
              "device": torch.cuda.get_device_name(0) if cuda else "CPU", "stages": {}}
    for stage in stages(work):
        if args.only and stage.name not in args.only:
            continue
        print(f"[gpu_check] {stage.name}: {stage.what}", flush=True)
        result = run_stage(stage, args.smoke, cuda, work, deadline)
        report["stages"][stage.name] = {"what": stage.what, **result}
        print(f"[gpu_check] {stage.name}: {result['status']} {result.get('why', '')} "
              f"({result.get('seconds', 0)} s)", flush=True)
        if result["status"] in ("failed", "timeout"):
            print(result["output_tail"][-1500:], flush=True)
        report["seconds"] = round(time.monotonic() - start, 1)
        (out / "gpu_check.json").write_text(json.dumps(report, indent=1))   # after every stage: a kill keeps it
        write_markdown(report, out / "gpu_check.md")
    failed = [n for n, r in report["stages"].items() if r["status"] in ("failed", "timeout")]
    print(f"[gpu_check] done in {report['seconds']} s; {out / 'gpu_check.json'}, {out / 'gpu_check.md'}"
          + (f"; failed: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
