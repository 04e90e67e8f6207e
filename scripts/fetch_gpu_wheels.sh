#!/usr/bin/env bash
# Download here the wheels the GPU image lacks (zarr v3 and its needs) into .whl/ (git-ignored),
# for the device tool's `carry: [".whl"]`; scripts/gpu_check.sh installs them there.
# Versions: the ones installed here, so both machines run the same zarr.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
mkdir -p .whl
platforms=()
for p in manylinux_2_28_x86_64 manylinux_2_27_x86_64 manylinux_2_24_x86_64 manylinux_2_17_x86_64 manylinux2014_x86_64 \
         manylinux1_x86_64; do
    platforms+=(--platform "$p")
done
for name in zarr numcodecs donfig google-crc32c; do
    version=$("$PY" -c "import importlib.metadata as m; print(m.version('$name'))")
    "$PY" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
        "${platforms[@]}" -d .whl "$name==$version"
done
ls -la .whl
