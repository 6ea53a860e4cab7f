#!/usr/bin/env bash
# Install holostim into ./.venv (first run only) and start it on the simulation session.
# Extra arguments go to the `holostim` command, e.g. `scripts/run.sh gui --config config/rig.yaml`.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/_venv.sh
ensure_venv ""
exec .venv/bin/holostim "$@"
