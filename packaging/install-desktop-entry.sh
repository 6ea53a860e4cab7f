#!/usr/bin/env sh
# Install the desktop entry and icon for the current user (XDG locations), so holostim shows up in the
# application menu. Needs `holostim` on PATH (pip install, or the PyInstaller folder linked into PATH).
set -eu
here="$(cd "$(dirname "$0")" && pwd)"
data="${XDG_DATA_HOME:-$HOME/.local/share}"
install -Dm644 "$here/../assets/icon.png" "$data/icons/hicolor/256x256/apps/holostim.png"
install -Dm644 "$here/../assets/icon.svg" "$data/icons/hicolor/scalable/apps/holostim.svg"
install -Dm644 "$here/holostim.desktop" "$data/applications/holostim.desktop"
command -v update-desktop-database >/dev/null && update-desktop-database "$data/applications" || true
echo "installed holostim.desktop and icons under $data"
