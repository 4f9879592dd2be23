#!/usr/bin/env bash
# README command 1: set up (if needed) and run the demo DSMB report on the embedded demo trial.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
exec .venv/bin/ctcae-engine demo --out "${1:-out/demo}"
