#!/usr/bin/env bash
# Lint, type-check and test. Extra arguments go to pytest (e.g. --skip-slow, -k parser).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=.venv/bin
echo "== ruff"
"$VENV/ruff" check dndtune tui tests benchmarks scripts
echo "== mypy"
"$VENV/mypy"
echo "== lint-imports (layers in .importlinter)"
"$VENV/lint-imports" --no-cache
echo "== pytest"
"$VENV/pytest" -n 2 -q "$@"
