#!/usr/bin/env bash
# Print the path of a working Python >= 3.12, or explain what to install and exit 1.
# Candidates are tried in order; a pyenv shim that is not selected fails its
# version probe and is skipped, so versions installed under pyenv are also
# looked up directly in their install folders.
set -u
want_major=3
want_minor=12

probe() {
    "$1" -c "import sys, venv; raise SystemExit(0 if sys.version_info >= ($want_major, $want_minor) else 1)" >/dev/null 2>&1
}

candidates=()
[ -n "${PYTHON:-}" ] && candidates+=("$PYTHON")
candidates+=(python3.13 python3.12 python3.14 python3)
pyenv_root="$(pyenv root 2>/dev/null || echo "${PYENV_ROOT:-$HOME/.pyenv}")"
for dir in "$pyenv_root"/versions/3.13* "$pyenv_root"/versions/3.12* "$pyenv_root"/versions/3.14*; do
    [ -x "$dir/bin/python3" ] && candidates+=("$dir/bin/python3")
done
for prefix in /usr/local/bin /usr/bin /opt/homebrew/bin "$HOME/.local/bin"; do
    for minor in 13 12 14; do
        candidates+=("$prefix/python3.$minor")
    done
done

for candidate in "${candidates[@]}"; do
    if probe "$candidate"; then
        command -v "$candidate" 2>/dev/null || echo "$candidate"
        exit 0
    fi
done

cat >&2 <<MSG
error: syriaforecast needs Python >= $want_major.$want_minor with the venv module, and none was found.
Tried: ${candidates[*]}
Install one, for example:
  Debian/Ubuntu:  sudo apt-get install python3.12 python3.12-venv
  macOS:          brew install python@3.12
  pyenv:          pyenv install 3.12
or point the Makefile at one:  make test PYTHON=/path/to/python3.12
MSG
exit 1
