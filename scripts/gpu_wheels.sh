#!/usr/bin/env bash
# Download the wheels the GPU machine lacks into .whl/ (ignored by git), for its Python 3.12 (GPU.md).
#
# The GPU machine has cupy, numpy, scipy, numba, pyyaml, pytest, tifffile, pillow, but not these, which
# holostim's core (engine, backend, session, config) and its gpu tests import. Qt (PyQt6, pyqtgraph,
# PyOpenGL) is deliberately left out: the core imports without it (tests/test_import_without_qt.py) and
# the GUI tests do not run there. Versions are the ones the project's environment is tested with.
#
#   scripts/gpu_wheels.sh            # needs network to PyPI; then send .whl/ with the tree
#   PIP="python3 -m pip" scripts/gpu_wheels.sh
set -euo pipefail
cd "$(dirname "$0")/.."
PIP=${PIP:-python3 -m pip}
DEST=.whl
mkdir -p "$DEST"

# compiled: a manylinux wheel for CPython 3.12 on x86-64
BINARY=(
  "pydantic-core==2.50.5"   # pydantic's validator (config schema)
  "pyFFTW==0.15.1"          # the CPU engine's FFTs (the numpy-backend side of the GPU comparisons)
)
# pure Python
PURE=(
  "pydantic==2.14.4"        # session config schema
  "annotated-types==0.8.0"  # pydantic dependency
  "typing-inspection==0.4.5" # pydantic dependency
  "typing-extensions==4.16.0" # pydantic dependency (newer than the machine may have)
  "array-api-compat==1.16.0" # backend namespace helpers
  "array-api-strict==2.6.1" # the optics core's strict-namespace tests
)

for spec in "${BINARY[@]}"; do
  $PIP download --quiet --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
    -d "$DEST" "$spec"
done
for spec in "${PURE[@]}"; do
  $PIP download --quiet --no-deps --only-binary=:all: -d "$DEST" "$spec"
done

ls -l "$DEST"
du -sh "$DEST"
