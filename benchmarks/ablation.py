"""Table 8 on synthetic multi-view data: every ablation row with the same small configuration.

Each preset is trained with the same seeds on the same synthetic NTU-60 corpus (with its
view-specific occlusion errors), `reconst` on the --no-align store of the same files, and
evaluated on xview (train cameras 2, 3; test camera 1): cross-view 1-NN accuracy and GMM
purity, mean and spread over seeds.

    python benchmarks/ablation.py [--scenes 90] [--seeds 0 1 2] [--epochs 30] [--workdir bench_out/ablation]
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

ROWS = ["reconst", "ali-reconst", "covil-no-g", "covil-no-pos", "covil-no-neg", "covil", "focovil"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenes", type=int, default=90)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--hidden", type=int, default=128)
    ap.add_argument("--workdir", default="bench_out/ablation")
    args = ap.parse_args()

    from focovil.evaluate import evaluate
    from focovil.train import TrainConfig, train
    from skeltools.prepare import prepare
    from skeltools.synth.generate import synth

    work = Path(args.workdir)
    raw = work / "raw"
    if not raw.exists():
        synth("ntu60", raw, scenes=args.scenes, seed=0)
    stores = {True: work / "aligned.h5", False: work / "unaligned.h5"}
    for aligned, path in stores.items():
        if not path.exists():
            prepare("ntu60", raw, path, align=aligned, progress=False)
    from focovil.presets import get_preset

    print(f"{'preset':<14} {'1-NN':>14} {'GMM purity':>14}   ({len(args.seeds)} seeds, {args.epochs} epochs)")
    for row in ROWS:
        knn, pur = [], []
        for seed in args.seeds:
            cfg = TrainConfig(store=str(stores[get_preset(row).aligned]), protocol="xview",
                              out=str(work / "runs" / f"{row}-s{seed}"), preset=row, epochs=args.epochs, batch=16,
                              hidden=args.hidden, lr=1e-3, seed=seed)
            res = evaluate(train(cfg, progress=False), plots=False)
            knn.append(res["knn1_acc"])
            pur.append(res["gmm_purity"])
        print(f"{row:<14} {np.mean(knn):7.3f} ±{np.std(knn):5.3f} {np.mean(pur):7.3f} ±{np.std(pur):5.3f}", flush=True)


if __name__ == "__main__":
    main()
