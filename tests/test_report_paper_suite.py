"""The full paper suite from committed result folders (no model): every table the paper prints, shaped
as printed, with dashes and their reasons, standard errors, protocol footnotes and delta rows;
golden markdown, LaTeX and HTML."""
from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from evalkit.report import build_report, load_results, write_reports

FIXTURES = Path(__file__).parent / "fixtures" / "reports"
GOLDEN = Path(__file__).parent / "golden" / "reports" / "paper_suite"
RUNS = ["paper-7M", "paper-15M", "stories260K"]


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    out = tmp_path_factory.mktemp("paper_suite")
    folders = [FIXTURES / name for name in RUNS]
    write_reports(out, [load_results(f) for f in folders], "nearest", folders)
    return out


@pytest.fixture(scope="module")
def markdown(written):
    return (written / "report.md").read_text()


def section(markdown: str, number: int) -> str:
    return markdown.split(f"## Table {number}:")[1].split("\n## ")[0]


def row(text: str, label: str) -> list[str]:
    line = next(line for line in text.splitlines() if line.startswith(f"| {label} "))
    return [cell.strip() for cell in line.strip("|").split("|")]


@pytest.mark.parametrize("name", ["report.md", "report.tex", "report.html", "tables/table7.tex"])
def test_golden(written, name):
    text = (written / name).read_text()
    path = GOLDEN / name
    if os.environ.get("EVALKIT_UPDATE_GOLDEN"):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    assert text == path.read_text(), f"{path} differs; rerun with EVALKIT_UPDATE_GOLDEN=1 if intended"


def test_every_table_of_the_paper_is_rendered_in_order(markdown):
    assert re.findall(r"^## Table (\d+):", markdown, re.M) == [str(n) for n in range(3, 15)]


def test_table_10_keeps_the_papers_rows_and_adds_the_models_mmlu(markdown):
    table = section(markdown, 10)
    assert row(table, "LLaMA-I") == ["LLaMA-I", "65B", "68.9"]
    assert row(table, "tiny-7M") == ["tiny-7M", "7M", "25.5"]
    assert row(table, "stories260K (first 20 docs)")[2] == "20.0†"


def test_dashes_say_why(markdown):
    table8 = section(markdown, 8)
    assert row(table8, "tiny-15M (10 samples per problem, first 100 docs)")[2:] == ["3.6†", "–", "–", "–"]
    assert ("- tiny-15M (10 samples per problem, first 100 docs): HumanEval @1 partial: first 100 documents; HumanEval @100 partial: "
            "no pass@100 in the results; MBPP @1, MBPP @80 not run") in table8
    table11 = section(markdown, 11)
    assert row(table11, "tiny-15M (first 100 docs, scorer local_roberta_toxicity)")[2:] == ["–", "–"]
    assert ("Basic scorer not comparable: local_roberta_toxicity, the paper's is perspective_api; "
            "measured 0.111 ±0.001") in table11


def test_standard_errors_and_documents_under_each_table(markdown):
    assert "- tiny-7M: RACE-middle ±1.0 (n = 1436), RACE-high ±0.8 (n = 3498)" in section(markdown, 6)


def test_footnotes_give_the_prompt_hash_and_what_differs_from_the_paper(markdown):
    table9 = section(markdown, 9)
    assert ("tiny-15M (first 100 docs): prompt mmlu.jinja sha256:7b964e0bb4ae, differs from the paper: "
            "first 100 documents, shots 3 (paper: 5)") in table9
    assert "tiny-7M: prompt mmlu.jinja sha256:7b964e0bb4ae, settings as in the paper" in table9
    assert "10 samples per problem (--n-samples)" in section(markdown, 8)


def test_delta_rows_against_the_nearest_llama(markdown):
    table3 = section(markdown, 3)
    lines = table3.splitlines()
    evaluated = lines.index(next(l for l in lines if l.startswith("| tiny-7M ")))
    # tiny-7M BoolQ 32.0 - LLaMA 7B 76.5; ARC-c 61.0 - 47.6
    delta = [c.strip() for c in lines[evaluated + 1].strip("|").split("|")]
    assert delta[0] == "Δ vs LLaMA 7B" and delta[2] == "-44.5" and delta[8] == "+13.4"
    table12 = section(markdown, 12)  # transposed, only the 65B printed: a delta column
    assert row(table12, "Gender")[-2:] == ["50.0", "-20.6"]


def test_compare_to_a_named_size():
    report = build_report([load_results(FIXTURES / "paper-7M")], "65B")
    assert row(section(report.markdown, 6), "Δ vs LLaMA 65B")[2:] == ["-33.8", "-22.0"]


def test_latex_and_markdown_show_the_same_cells():
    report = build_report([load_results(FIXTURES / name) for name in RUNS], "nearest")
    for view in report.views:
        latex = report.latex_tables[view.table.number]
        for cells in view.frame.itertuples(index=False):
            shown = [c for c in cells if c is not None and c.replace(".", "").lstrip("+-").isdigit()]
            line = next(l for l in latex.splitlines() if l.endswith(r"\\") and all(c in l for c in shown))
            assert line


def test_html_links_each_tasks_samples(written):
    html = (written / "report.html").read_text()
    assert 'href="browse/2/piqa.html"' in html and "browse samples (20 documents)" in html
    page = (written / "browse" / "2" / "piqa.html").read_text()
    assert page.count("<article") == 20
    assert "log-likelihood" in page and "prediction" in page and "target" in page
    assert not re.search(r"""(src|href)=["']https?:""", html + page)  # nothing from the network


def test_results_samples_and_paper_rows_as_frames():
    from evalkit.report import load_tables, paper_frame, results_frame, samples_frame
    runs = [load_results(FIXTURES / name) for name in RUNS]
    frame = results_frame(runs)
    boolq = frame[(frame.task == "boolq") & (frame.metric == "acc_answer")]
    assert list(boolq.run) == [0, 1, 2] and list(boolq.n) == [3270, 100, 20]
    samples = samples_frame(FIXTURES / "stories260K", "piqa")
    assert samples.index.name == "doc_id" and len(samples) == 20
    assert samples["metric:acc_char"].mean() == pytest.approx(runs[2]["results"]["piqa"]["acc_char"])
    paper = paper_frame(load_tables())
    assert paper[(paper.table == 3) & (paper.model == "LLaMA") & (paper.params == "65B")
                 & (paper.column == "BoolQ")].value.item() == 85.3
