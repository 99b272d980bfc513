"""The LaTeX reports compile with pdflatex: the golden reports as standalone documents, and each
table file \\input into a document of one's own. In CI (CI=true) pdflatex must be there."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from evalkit.report import load_results, write_reports

GOLDEN = Path(__file__).parent / "golden" / "reports"
FIXTURES = Path(__file__).parent / "fixtures" / "reports"

if shutil.which("pdflatex") is None and os.environ.get("CI") != "true":
    pytest.skip("pdflatex is not installed (scripts/setup.sh test installs it when run as root)",
                allow_module_level=True)


def pdflatex(folder: Path, name: str) -> subprocess.CompletedProcess:
    return subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", name], cwd=folder,
                          capture_output=True, text=True, timeout=120)


def pages(done: subprocess.CompletedProcess) -> int:
    """From pdflatex's last words: 'Output written on report.pdf (9 pages, ...)'."""
    found = re.search(r"Output written on \S+ \((\d+) pages?", done.stdout.replace("\n", ""))
    return int(found.group(1)) if found else 0


@pytest.mark.parametrize("golden", ["paper_suite/report.tex", "table3.tex", "table6.tex", "table8.tex",
                                    "table9.tex"])
def test_golden_reports_compile_standalone(tmp_path, golden):
    shutil.copy(GOLDEN / golden, tmp_path / "report.tex")
    done = pdflatex(tmp_path, "report.tex")
    assert done.returncode == 0, done.stdout[-3000:]
    assert pages(done) >= 1


def test_every_table_file_compiles_when_input(tmp_path):
    folders = [FIXTURES / name for name in ("paper-7M", "paper-15M", "stories260K")]
    write_reports(tmp_path, [load_results(f) for f in folders], "nearest")
    tables = sorted((tmp_path / "tables").glob("table*.tex"))
    assert len(tables) == 12
    inputs = "\n".join(rf"\input{{tables/{t.name}}}" for t in tables)
    (tmp_path / "paper.tex").write_text(
        "\\documentclass{article}\n\\usepackage{booktabs}\n\\begin{document}\nOur results.\n"
        + inputs + "\n\\end{document}\n")
    done = pdflatex(tmp_path, "paper.tex")
    assert done.returncode == 0, done.stdout[-3000:]
    assert pages(done) >= 3


def test_a_broken_document_fails(tmp_path):
    """The check can fail: an unescaped underscore stops pdflatex."""
    (tmp_path / "bad.tex").write_text("\\documentclass{article}\n\\begin{document}\nacc_char\n\\end{document}\n")
    assert pdflatex(tmp_path, "bad.tex").returncode != 0
