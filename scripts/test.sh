#!/usr/bin/env bash
# Install everything the tests need and run the whole suite.
# As root on Debian/Ubuntu it also installs the headless X server and Mesa OpenGL that the GUI and
# SLM-window tests draw with. Extra arguments go to pytest, e.g. `scripts/test.sh tests/optics -x`.
set -euo pipefail
cd "$(dirname "$0")/.."

debs=(xvfb xauth libgl1-mesa-dri libegl1 libxkbcommon-x11-0 libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1
      libxcb-image0 libxcb-randr0 libxcb-render-util0 libxcb-shape0 libxcb-xfixes0 libxcb-xkb1
      libfontconfig1 libdbus-1-3)
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    missing=()
    for p in "${debs[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        echo "installing ${missing[*]} ..." >&2
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    fi
elif ! command -v Xvfb >/dev/null; then
    echo "warning: Xvfb not found; GUI and SLM-window tests need it (apt-get install ${debs[*]})" >&2
fi

. scripts/_venv.sh
ensure_venv "[dev]"
# Planning FFTs with FFTW_MEASURE is for speed; tests check correctness, so plan quickly.
export HOLOSTIM_FFTW_EFFORT="${HOLOSTIM_FFTW_EFFORT:-FFTW_ESTIMATE}"
exec .venv/bin/python -m pytest "$@"
