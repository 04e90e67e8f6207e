#!/usr/bin/env bash
# Install the project and its test tools into the current Python.
# PyTorch: where none is installed, take the pinned CPU wheel (a plain `torch` would pull a multi-GB CUDA build).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if ! "$PY" -c "import torch" >/dev/null 2>&1; then
    "$PY" -m pip install --quiet "torch==2.13.0"
fi
"$PY" -m pip install --quiet -e ".[train,test]"
