#!/usr/bin/env bash
# README command 1: synthetic raw NTU-60 files -> skel prepare -> stats -> show, all under demo_out/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
OUT=demo_out
rm -rf "$OUT" && mkdir -p "$OUT"
skel synth ntu60 --out "$OUT/raw" --scenes 60 --seed 0
skel prepare ntu60 --raw "$OUT/raw" --out "$OUT/ntu60_synth.h5" --quiet
skel stats "$OUT/ntu60_synth.h5" --plot "$OUT/stats.png"
skel show "$OUT/ntu60_synth.h5" 0 --out "$OUT/sample.png"
echo "demo results: $OUT/ (store ntu60_synth.h5, stats.png, sample.png)"
