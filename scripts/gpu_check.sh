#!/usr/bin/env bash
# The prepared GPU check: one command for the device tool, at most 8 minutes on an H100/H200.
#   here, once:       bash scripts/fetch_gpu_wheels.sh          (zarr and its needs, into .whl/)
#   on the device:    OUT=$OUT bash scripts/gpu_check.sh         (device call with carry [".whl"])
#   on the CPU (CI):  OUT=<dir> bash scripts/gpu_check.sh --smoke
# Writes $OUT/gpu_check.json and $OUT/gpu_check.md, stage by stage (scripts/gpu_check.py).
# The device image has torch, numpy, numba, h5py, pandas, scikit-learn, click, tqdm and
# matplotlib but not zarr: the carried wheels go to /tmp/site, and the project is used
# from this checkout through PYTHONPATH (nothing to build there).
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
export OUT=${OUT:-gpu_check_out}
mkdir -p "$OUT"
if ! "$PY" -c "import zarr" 2>/dev/null && compgen -G ".whl/*.whl" >/dev/null; then
    "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
        || { echo "gpu_check: installing the carried wheels failed" >&2; exit 2; }
    export PYTHONPATH=/tmp/site${PYTHONPATH:+:$PYTHONPATH}
fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
exec "$PY" scripts/gpu_check.py "$@"
