"""render_reports: the paper's rows, then one row per evaluated model, from the right metric."""
from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import pytest

from evalkit.errors import DataError
from evalkit.report import render_reports, write_reports
from evalkit.report.cells import format_params
from evalkit.report.markdown import markdown_table
from evalkit.report.paper import load_tables
from evalkit.report.table import build_view
from report_fixtures import COMMONSENSE, full_result, only, partial_result

GOLDEN = Path(__file__).parent / "golden" / "reports"
TABLE_TASKS = {3: COMMONSENSE, 6: ["race_middle", "race_high"], 8: ["humaneval", "mbpp"], 9: ["mmlu"]}


def row_of(markdown: str, model: str) -> list[str]:
    """The cells of `model`'s row in the first markdown table that has one."""
    line = next(line for line in markdown.splitlines() if line.startswith(f"| {model} "))
    return [cell.strip() for cell in line.strip("|").split("|")]


@pytest.mark.parametrize("number", sorted(TABLE_TASKS))
def test_golden(number):
    results = [only(full_result(), TABLE_TASKS[number]), only(partial_result(), TABLE_TASKS[number])]
    markdown, latex = render_reports(results)
    for text, suffix in ((markdown, "md"), (latex, "tex")):
        path = GOLDEN / f"table{number}.{suffix}"
        if os.environ.get("EVALKIT_UPDATE_GOLDEN"):
            path.write_text(text)
        assert text == path.read_text(), f"{path} differs; rerun with EVALKIT_UPDATE_GOLDEN=1 if intended"


def test_only_tables_with_an_evaluated_cell_are_rendered():
    markdown, latex = render_reports([only(full_result(), ["race_high"])])
    assert [l for l in markdown.splitlines() if l.startswith("## ")] == [
        "## Table 6: Reading Comprehension. Zero-shot accuracy."]
    assert latex.count(r"\begin{table}") == 1


def test_headline_metric_picks_the_cell():
    result = only(full_result(), ["boolq", "piqa"])
    # boolq: acc 0.30, acc_char 0.31, acc_answer 0.32; piqa: acc 0.35, acc_char 0.36, acc_answer 0.37
    assert row_of(render_reports([result])[0], "tiny-7M")[2:4] == ["32.0", "36.0"]
    result["protocol"]["boolq"]["headline_metric"] = "acc"
    assert row_of(render_reports([result])[0], "tiny-7M")[2:4] == ["30.0", "36.0"]


def test_cells_not_run_are_dashes():
    cells = row_of(render_reports([only(partial_result(), COMMONSENSE)])[0], "tiny-15M")
    assert cells == ["tiny-15M", "15M", "62.0", "56.0", "–", "–", "–", "–", "–", "–"]
    latex = render_reports([only(partial_result(), COMMONSENSE)])[1]
    assert r"tiny-15M & 15M & 62.0 & 56.0 & -- & -- & -- & -- & -- & -- \\" in latex


def test_two_results_give_two_rows_in_order():
    markdown, _ = render_reports([only(full_result(), ["mmlu"]), only(partial_result(), ["mmlu"])])
    table9 = markdown.split("## Table 9")[1].split("## Table 10")[0]
    rows = [line.split("|")[1].strip() for line in table9.splitlines() if line.startswith("| tiny")]
    assert rows == ["tiny-7M", "tiny-15M"]
    assert row_of(table9, "tiny-7M")[-1] == "25.5" and row_of(table9, "tiny-15M")[-1] == "26.2"


def test_a_missing_headline_metric_is_a_data_error():
    result = only(full_result(), ["boolq"])
    del result["protocol"]["boolq"]["headline_metric"]
    with pytest.raises(DataError, match="tiny-7M: protocol.boolq.headline_metric"):
        render_reports([result])


def test_a_result_without_model_name_is_a_data_error():
    result = full_result()
    del result["model"]["name"]
    with pytest.raises(DataError, match="result 1: field 'model.name'"):
        render_reports([result])


def test_a_non_numeric_metric_is_a_data_error():
    result = only(full_result(), ["race_high"])
    result["results"]["race_high"]["acc"] = "0.3"
    with pytest.raises(DataError, match="results.race_high.acc is not a number"):
        render_reports([result])


def test_fraction_tables_keep_the_papers_decimals():
    result = {"results": {"truthfulqa_gen": {"truthful": 0.3141, "truthful_informative": 0.2}},
              "model": {"name": "tiny-7M", "params": 7_000_000}}
    assert row_of(render_reports([result])[0], "tiny-7M") == ["tiny-7M", "7M", "0.31", "0.20"]


def test_transposed_tables_get_a_column_per_model():
    result = {"results": {"crows_pairs": {"bias_gender": 0.5312, "bias": 0.55}},
              "model": {"name": "tiny-7M", "params": 7_000_000}}
    markdown = render_reports([result])[0]
    header = next(line for line in markdown.splitlines() if line.startswith("|"))
    assert [cell.strip() for cell in header.strip("|").split("|")] == [
        "", "LLaMA 65B", "GPT3 175B", "OPT 175B", "tiny-7M 7M"]
    assert row_of(markdown, "Gender")[1:] == ["70.6", "62.6", "65.7", "53.1"]
    assert row_of(markdown, "Religion")[1:] == ["79.0", "73.3", "68.6", "–"]


def test_standard_errors_are_noted_under_the_table():
    markdown = render_reports([only(full_result(), ["race_middle", "race_high"])])[0]
    assert "- tiny-7M: RACE-middle ±1.0 (n = 1436), RACE-high ±0.8 (n = 3498)" in markdown


def test_an_unverified_table_says_so():
    table = next(t for t in load_tables() if t.number == 6)
    view = build_view(replace(table, verified=False), [only(full_result(), ["race_high"])])
    heading = markdown_table(view).splitlines()[0]
    assert heading.endswith("(paper numbers not verified)")


@pytest.mark.parametrize("params, printed", [
    (6_738_415_616, "6.7B"), (65_000_000_000, "65B"), (15_200_000, "15M"), (260_000, "260K"), (None, "")])
def test_format_params(params, printed):
    assert format_params(params) == printed


def test_write_reports(tmp_path):
    md_path, tex_path, html_path = write_reports(tmp_path / "out", [full_result()])
    assert md_path.read_text().startswith("# LLaMA paper tables")
    assert tex_path.read_text().count(r"\begin{table}") == 5  # Tables 3, 6, 8, 9 and 10
    assert sorted(p.name for p in (tmp_path / "out" / "tables").iterdir()) == [
        "table10.tex", "table3.tex", "table6.tex", "table8.tex", "table9.tex"]
    assert html_path.read_text().count('<section class="table-section"') == 5
