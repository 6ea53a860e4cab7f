# Shared by run.sh and test.sh: make ./.venv and install holostim into it, once per pyproject change.
# Usage: ensure_venv EXTRAS   (EXTRAS like "" or "[dev]")
ensure_venv() {
    local extras="$1"
    local py="${PYTHON:-python3}"
    if ! "$py" -c 'import sys; sys.exit(sys.version_info < (3, 10))' 2>/dev/null; then
        echo "holostim needs Python 3.10 or newer; set PYTHON=/path/to/python3.x" >&2
        exit 1
    fi
    if [ ! -x .venv/bin/python ]; then
        "$py" -m venv .venv
        .venv/bin/python -m pip install --quiet --upgrade pip
    fi
    local stamp=".venv/.holostim-installed${extras}"
    local want
    want="$(cat pyproject.toml | sha256sum | cut -c1-16)"
    if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
        echo "installing holostim${extras} into .venv ..." >&2
        .venv/bin/python -m pip install --quiet -e ".${extras}"
        echo "$want" > "$stamp"
    fi
}
