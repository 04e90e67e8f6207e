"""The paper's protocol end to end for one dataset, our numbers beside the paper's.

prepare (paper pre-processing) -> `focovil train` with the paper's defaults -> `focovil
eval`, on the protocol the paper reports for the dataset (UWA3D: every one of its 12
two-view protocols, then the mean). The paper's numbers are in benchmarks/paper_numbers.json.
Meant for users with the real files and a GPU; the tests run it on synthetic data at tiny
sizes only.

    python benchmarks/reproduce.py --dataset nucla --raw /data/multiview_action [--workdir bench_out/reproduce]
    python benchmarks/reproduce.py --dataset uwa3d --raw /data/ActionsSkeleton --device cuda
    python benchmarks/reproduce.py --dataset pkummd1 --raw /data/PKUMMD --split-file cross-subject.txt

PKU-MMD's own split files replace the manifest's protocols (`--split-file`, as `skel
prepare`); without them the numbers use the manifest's third-party held-out lists, which are
UNVERIFIED, and the run says so (and records it in reproduce.json).
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

PAPER = Path(__file__).with_name("paper_numbers.json")
OURS = {"linear": ("linear_acc", 100.0), "knn1": ("knn1_acc", 100.0), "gmm_purity": ("gmm_purity", 1.0)}


def protocols_of(dataset: str, store: Path) -> list[str]:
    from skeltools.store import Store
    if dataset == "uwa3d":
        with Store(store) as st:
            return [p for p in st.protocols() if p.startswith("v")]
    return [json.loads(PAPER.read_text())["datasets"][dataset]["protocol"]]


def split_warning(dataset: str, split_files: list | tuple) -> str | None:
    """The warning a PKU-MMD run without the official split files gets, else None."""
    if dataset.startswith("pkummd") and not split_files:
        return (f"warning: no --split-file: the {dataset} numbers use the manifest's held-out lists (third-party, "
                "UNVERIFIED), not PKU-MMD's official split files; pass them for numbers comparable to the paper's")
    return None


def reproduce(dataset: str, raw: Path, work: Path, device: str | None = None, epochs: int | None = None,
              hidden: int | None = None, protocols: list[str] | None = None, progress: bool = True,
              split_files: list | tuple = ()) -> dict:
    """Run the protocol; returns {metric: {"ours": value, "paper": value}} plus the per-protocol results.
    `split_files`: PKU-MMD's official split files, passed to prepare."""
    import torch

    from focovil.evaluate import evaluate
    from focovil.train import TrainConfig, train
    from skeltools.prepare import prepare

    work.mkdir(parents=True, exist_ok=True)
    store = work / f"{dataset}.h5"
    warning = split_warning(dataset, split_files)
    if warning:
        print(warning, flush=True)
    if not store.exists():
        prepare(dataset, raw, store, progress=progress, split_files=[str(f) for f in split_files])
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    settings = {k: v for k, v in (("epochs", epochs), ("hidden", hidden)) if v is not None}
    per_protocol = {}
    for proto in protocols or protocols_of(dataset, store):
        run = work / "runs" / proto
        cfg = TrainConfig(store=str(store), protocol=proto, out=str(run), device=device,
                          precision="bf16" if device.startswith("cuda") else "fp32", **settings)
        train(cfg, progress=progress, overwrite=True)
        per_protocol[proto] = evaluate(run, device=device, plots=False)
    paper = json.loads(PAPER.read_text())["datasets"][dataset]
    table = {}
    for metric, (key, factor) in OURS.items():
        if metric in paper:
            ours = float(np.mean([r[key] for r in per_protocol.values()])) * factor
            table[metric] = {"ours": ours, "paper": paper[metric]}
    return {"dataset": dataset, "protocols": list(per_protocol), "settings": settings, "metrics": table,
            "split_files": [Path(f).name for f in split_files], "split_warning": warning,
            "per_protocol": {p: {k: r[k] for k, _ in OURS.values()} for p, r in per_protocol.items()}}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", required=True, choices=sorted(json.loads(PAPER.read_text())["datasets"]))
    ap.add_argument("--raw", required=True, type=Path)
    ap.add_argument("--workdir", type=Path, default=Path("bench_out/reproduce"))
    ap.add_argument("--device", default=None)
    ap.add_argument("--epochs", type=int, default=None, help="default: focovil train's (the paper's settings)")
    ap.add_argument("--hidden", type=int, default=None, help="default: focovil train's (1024)")
    ap.add_argument("--protocols", nargs="+", default=None, help="only these (default: the paper's)")
    ap.add_argument("--split-file", dest="split_files", action="append", default=[], type=Path,
                    help="PKU-MMD's official split file (repeatable), as `skel prepare --split-file`")
    args = ap.parse_args()
    res = reproduce(args.dataset, args.raw, args.workdir / args.dataset, args.device, args.epochs, args.hidden,
                    args.protocols, split_files=args.split_files)
    (args.workdir / args.dataset / "reproduce.json").write_text(json.dumps(res, indent=1))
    print(f"{args.dataset}, {', '.join(res['protocols'])}" + (f" ({res['settings']})" if res["settings"] else ""))
    print(f"{'metric':<12} {'ours':>8} {'paper':>8}")
    for metric, v in res["metrics"].items():
        print(f"{metric:<12} {v['ours']:8.3f} {v['paper']:8.3f}")


if __name__ == "__main__":
    main()
