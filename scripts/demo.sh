#!/usr/bin/env bash
# The main job end to end on the built-in demo recipe, as far as the pipeline reaches today.
set -euo pipefail
cd "$(dirname "$0")/.."
exec .venv/bin/dndtune --recipe recipes/demo-cpu.yaml "$@"
