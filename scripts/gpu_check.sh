#!/usr/bin/env bash
# The GPU checklist in one go, for the GPU machine as it is (GPU.md): send the tree with .whl/ (from
# scripts/gpu_wheels.sh) and run this from the repository root. Results go under $OUT (default ./gpu-out):
#   gpu.json          benchmarks/gpu.py --check: pytest -m gpu outcome, engine / graph / session / gray ms
#   gpu-bench.txt     its printed tables
#   gpu-tests.txt     the gpu tests' full output (pytest -m gpu, verbose), gpu-tests.xml (JUnit)
#   env.txt           nvidia-smi, python and package versions, load, return codes
# Under a timeout that fits a 10-minute call: 540 s in all, of which the tests at most 240 s (the JSON is
# written after each part, so a timeout keeps what was measured).
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-$PWD/gpu-out}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 HOLOSTIM_FFTW_EFFORT=${HOLOSTIM_FFTW_EFFORT:-FFTW_ESTIMATE}
PY=${PY:-python3}

SITE=$(mktemp -d)
if compgen -G ".whl/*.whl" > /dev/null; then
  $PY -m pip install -q --no-index --no-deps --no-compile --target "$SITE" .whl/*.whl || echo "wheel install failed" >&2
fi
export PYTHONPATH=$SITE:$PWD/src${PYTHONPATH:+:$PYTHONPATH}

{
  date -u; cat /proc/loadavg; nvidia-smi || true
  $PY -c "import sys, numpy, cupy; print(sys.version); print('numpy', numpy.__version__, 'cupy', cupy.__version__); print('gpu', cupy.cuda.is_available(), cupy.cuda.runtime.runtimeGetVersion())"
  $PY -c "import holostim.holography, holostim.backend, holostim.session; print('holostim imports without Qt')"
} > "$OUT/env.txt" 2>&1

# The gpu tests (pytest -m gpu: verbose log and JUnit report), then 512, 1024, 2048 x single, double x
# GS, WGS, RAAR, plain and CUDA-graph loop, the session's click->mask and phase->gray: one call, one JSON.
timeout 540 $PY benchmarks/gpu.py --check --check-timeout 240 --check-log "$OUT/gpu-tests.txt" \
  --check-junit "$OUT/gpu-tests.xml" --json "$OUT/gpu.json" > "$OUT/gpu-bench.txt" 2>&1
echo "benchmarks/gpu.py rc $?" | tee -a "$OUT/env.txt"
cat /proc/loadavg >> "$OUT/env.txt"
tail -n 40 "$OUT/gpu-bench.txt"
