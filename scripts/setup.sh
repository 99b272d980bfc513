#!/usr/bin/env bash
# Create .venv at the repo root and install evalkit into it (CPU torch first: a bare `torch`
# requirement would pull a multi-GB CUDA build). Pass "test" to add the test-only extras, "demo" for
# the demo's (the offline toxicity scorer).
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
  # The report tests compile LaTeX (pdflatex with booktabs) and load the HTML report in headless
  # Chromium: OS packages, installed only when running as root and missing (about 500 MB).
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    missing=()
    kpsewhich booktabs.sty >/dev/null 2>&1 || missing+=(texlive-latex-base texlive-latex-recommended)
    command -v chromium >/dev/null || missing+=(chromium)
    if [ ${#missing[@]} -gt 0 ]; then
      apt-get update -qq
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    fi
  fi
  .venv/bin/python -m pip install -q -e ".[test]"
elif [ "${1:-}" = "demo" ]; then
  .venv/bin/python -m pip install -q -e ".[toxicity]"
else
  .venv/bin/python -m pip install -q -e .
fi
