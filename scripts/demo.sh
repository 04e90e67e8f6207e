#!/usr/bin/env bash
# README command 1: synthetic raw NTU-60 files -> skel prepare -> focovil train -> focovil eval, under demo_out/.
# FoCoViL is compared with the two reconstruction-only baselines (aligned and unaligned store). Each step's wall
# time goes to demo_out/timing.json (scripts/readme_tables.py puts the measured total into the README from a copy
# in benchmarks/results/demo.json).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=demo_out
rm -rf "$OUT" && mkdir -p "$OUT"
TIMES="$OUT/timing.txt"
step() {   # step NAME COMMAND...: run it and log its wall time
    local name=$1 t0
    shift
    t0=$(date +%s.%N)
    "$@"
    echo "$name $(date +%s.%N) $t0" >> "$TIMES"
}
step install bash scripts/install.sh
PY=${PYTHON:-python3}
skel() { "$PY" -m cli.skel "$@"; }          # the commands of the interpreter that was installed into,
focovil() { "$PY" -m cli.focovil "$@"; }    # whatever is (or is not) on PATH
EPOCHS=${DEMO_EPOCHS:-30}
THREADS=${DEMO_THREADS:-$("$PY" -c "import os; print(len(os.sched_getaffinity(0)))")}
step synth skel synth ntu60 --out "$OUT/raw" --scenes 90 --seed 0
step prepare skel prepare ntu60 --raw "$OUT/raw" --out "$OUT/ntu60_synth.h5" --quiet
step prepare-unaligned skel prepare ntu60 --raw "$OUT/raw" --out "$OUT/ntu60_synth_unaligned.h5" --no-align --quiet
step stats skel stats "$OUT/ntu60_synth.h5" --plot "$OUT/stats.png"
step show skel show "$OUT/ntu60_synth.h5" 0 --out "$OUT/sample.png" --raw "$OUT/raw"
common=(--protocol xview --hidden 128 --epochs "$EPOCHS" --batch 16 --lr 1e-3 --seed 0 --threads "$THREADS" --quiet)
step train-reconst focovil train --store "$OUT/ntu60_synth_unaligned.h5" --out "$OUT/runs/reconst" --preset reconst "${common[@]}"
step train-ali-reconst focovil train --store "$OUT/ntu60_synth.h5" --out "$OUT/runs/ali-reconst" --preset ali-reconst "${common[@]}"
step train-focovil focovil train --store "$OUT/ntu60_synth.h5" --out "$OUT/runs/focovil" --preset focovil "${common[@]}"
for run in reconst ali-reconst focovil; do
    echo "== $run"
    step "eval-$run" focovil eval --run "$OUT/runs/$run" --threads "$THREADS"
done
"$PY" scripts/demo_summary.py "$OUT/runs" "$TIMES" "$OUT/timing.json" | tee "$OUT/summary.md"
echo "demo results: $OUT/ (summary.md, timing.json, stats.png, sample.png; runs/*/results.json, tsne.png, confusion.png, curves.png)"
