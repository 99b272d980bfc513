#!/usr/bin/env bash
# Set up .venv and run the demo: the implemented paper tables on the embedded `tiny` model,
# offline, on the example documents shipped with evalkit; reports land in out/demo/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/python run_eval.py run --model tiny --suite table3,table6,table8,table9 --examples \
    --allow-code-execution --n-samples 2 --output-dir out/demo
echo "reports: out/demo/report.md out/demo/report.tex out/demo/report.html"
