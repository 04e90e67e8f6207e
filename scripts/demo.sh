#!/usr/bin/env bash
# README command 1: synthetic raw NTU-60 files -> skel prepare -> focovil train -> focovil eval, under demo_out/.
# FoCoViL is compared with the two reconstruction-only baselines (aligned and unaligned store).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
PY=${PYTHON:-python3}
skel() { "$PY" -m cli.skel "$@"; }          # the commands of the interpreter that was installed into,
focovil() { "$PY" -m cli.focovil "$@"; }    # whatever is (or is not) on PATH
OUT=demo_out
EPOCHS=${DEMO_EPOCHS:-30}
rm -rf "$OUT" && mkdir -p "$OUT"
skel synth ntu60 --out "$OUT/raw" --scenes 90 --seed 0
skel prepare ntu60 --raw "$OUT/raw" --out "$OUT/ntu60_synth.h5" --quiet
skel prepare ntu60 --raw "$OUT/raw" --out "$OUT/ntu60_synth_unaligned.h5" --no-align --quiet
skel stats "$OUT/ntu60_synth.h5" --plot "$OUT/stats.png"
skel show "$OUT/ntu60_synth.h5" 0 --out "$OUT/sample.png" --raw "$OUT/raw"
common=(--protocol xview --hidden 128 --epochs "$EPOCHS" --batch 16 --lr 1e-3 --seed 0 --quiet)
focovil train --store "$OUT/ntu60_synth.h5" --out "$OUT/runs/focovil" --preset focovil "${common[@]}"
focovil train --store "$OUT/ntu60_synth.h5" --out "$OUT/runs/ali-reconst" --preset ali-reconst "${common[@]}"
focovil train --store "$OUT/ntu60_synth_unaligned.h5" --out "$OUT/runs/reconst" --preset reconst "${common[@]}"
for run in focovil ali-reconst reconst; do
    echo "== $run"
    focovil eval --run "$OUT/runs/$run"
done
"$PY" scripts/demo_summary.py "$OUT/runs" | tee "$OUT/summary.md"
echo "demo results: $OUT/ (summary.md, stats.png, sample.png; runs/*/results.json, tsne.png, confusion.png, curves.png)"
