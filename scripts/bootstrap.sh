#!/usr/bin/env bash
# Make the machine ready: system libraries WeasyPrint needs, a virtual environment in .venv with the package
# and its dev tools. Idempotent: a second run checks and does nothing new.
set -euo pipefail
cd "$(dirname "$0")/.."

have_lib() { ldconfig -p 2>/dev/null | grep -q "$1"; }
if ! have_lib libpango-1.0.so.0 || ! have_lib libpangoft2-1.0.so.0 || ! have_lib libharfbuzz-subset.so.0 \
   || ! fc-list 2>/dev/null | grep -qi dejavu; then
  echo "[bootstrap] installing WeasyPrint system libraries and fonts (apt-get)"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
    libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz0b libharfbuzz-subset0 fontconfig fonts-dejavu-core >/dev/null
fi

PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
stamp=.venv/.ctcae-installed
want=$(cat setup.cfg pyproject.toml | sha256sum | cut -c1-16)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "[bootstrap] installing ctcae-engine and its dependencies into .venv"
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -e ".[dev]"
  echo "$want" > "$stamp"
fi
