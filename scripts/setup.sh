#!/usr/bin/env bash
# Create .venv at the repo root and install evalkit into it (CPU torch first: a bare `torch`
# requirement would pull a multi-GB CUDA build). Pass "test" to add the test-only extras.
set -euo pipefail
cd "$(dirname "$0")/.."
# The code box (HumanEval, MBPP) runs generated programs under bubblewrap; without it nothing is
# executed unless --unsafe-execution is passed. Install it where we can (CI runs as root).
if ! command -v bwrap >/dev/null && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  apt-get update -qq >/dev/null && apt-get install -y -qq bubblewrap >/dev/null
fi
PYTHON=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip >/dev/null
.venv/bin/python -m pip install -q "torch==2.13.0"
if [ "${1:-}" = "test" ]; then
  .venv/bin/python -m pip install -q -e ".[test]"
else
  .venv/bin/python -m pip install -q -e .
fi
