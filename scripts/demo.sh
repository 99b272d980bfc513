#!/usr/bin/env bash
# Set up .venv and run the demo: the paper's tables on the embedded `tiny` model (random weights),
# offline, on the example documents shipped with evalkit; reports land in out/demo/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh demo
# every table of the paper (Tables 4 and 5 up to 5 shots: the example files hold too few shots for 64);
# the local toxicity scorer and tiny as TruthfulQA's judges stand in for the paper's online judges
.venv/bin/python run_eval.py run --model tiny --examples --output-dir out/demo \
    --tasks table3,naturalquestions_0shot,naturalquestions_1shot,naturalquestions_5shot,triviaqa_0shot,triviaqa_1shot,triviaqa_5shot,table6,table7,table8,table9,table11,table12,table13,table14,truthfulqa_mc \
    --allow-code-execution --n-samples 2 --toxicity-scorer local --truth-judge llama:tiny --info-judge llama:tiny
echo "reports: out/demo/report.md out/demo/report.tex out/demo/report.html"
