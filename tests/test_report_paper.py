"""The paper's tables in reports/: complete, as published, and consistent with their column specs."""
from __future__ import annotations

import json
import shutil

import pytest

from evalkit.errors import DataError
from evalkit.report.paper import HEADLINE, REPORTS_DIR, load_tables


@pytest.fixture(scope="module")
def tables():
    return {table.number: table for table in load_tables()}


def cell(table, model, params, label):
    row = next(r for r in table.rows if (r.model, r.params) == (model, params))
    return row.cells[[c.label for c in table.columns].index(label)]


def test_tables_3_to_14_with_the_papers_columns(tables):
    assert sorted(tables) == list(range(3, 15))
    assert [c.label for c in tables[3].columns] == [
        "BoolQ", "PIQA", "SIQA", "HellaSwag", "WinoGrande", "ARC-e", "ARC-c", "OBQA"]
    assert [c.label for c in tables[4].columns] == ["0-shot", "1-shot", "5-shot", "64-shot"]
    assert [c.label for c in tables[6].columns] == ["RACE-middle", "RACE-high"]
    assert [c.label for c in tables[7].columns] == ["MATH", "+maj1@k", "GSM8k", "+maj1@k"]
    assert [c.label for c in tables[9].columns] == ["Humanities", "STEM", "Social Sciences", "Other", "Average"]
    assert [c.label for c in tables[14].columns] == ["Truthful", "Truthful*Inf"]
    assert all(table.verified for table in tables.values())


def test_every_table_prints_the_four_llama_sizes_or_the_65b(tables):
    for number, table in tables.items():
        llama = [r.params for r in table.rows if r.model == "LLaMA"]
        assert llama == (["65B"] if number in (10, 12) else ["7B", "13B", "33B", "65B"]), number


def test_cells_are_numbers_as_printed(tables):
    for table in tables.values():
        for row in table.rows:
            for value in row.cells:
                if value is not None:
                    float(value.removesuffix("*"))  # raises on anything but a printed number


@pytest.mark.parametrize("number, model, params, label, printed", [
    (3, "LLaMA", "65B", "BoolQ", "85.3"),
    (3, "GPT-3", "175B", "SIQA", None),
    (4, "LLaMA", "65B", "64-shot", "39.9"),
    (5, "LLaMA", "65B", "0-shot", "68.2"),
    (6, "LLaMA", "65B", "RACE-high", "51.6"),
    (7, "LLaMA", "65B", "GSM8k", "50.9"),
    (8, "PaLM", "8B", "HumanEval @1", "3.6*"),
    (8, "LLaMA", "65B", "MBPP @80", "76.8"),
    (9, "LLaMA", "65B", "Average", "63.4"),
    (9, "Chinchilla", "70B", "Average", "67.5"),
    (10, "LLaMA-I", "65B", "MMLU", "68.9"),
    (11, "LLaMA", "65B", "Respectful", "0.141"),
    (12, "LLaMA", "65B", "Religion", "79.0"),
    (13, "LLaMA", "65B", "his/him/he (gotcha)", "63.3"),
    (14, "LLaMA", "65B", "Truthful*Inf", "0.53"),
])
def test_known_values(tables, number, model, params, label, printed):
    assert cell(tables[number], model, params, label) == printed


def test_specs_name_the_runner_tasks_and_metrics(tables):
    assert {c.task for c in tables[3].columns} == {
        "boolq", "piqa", "siqa", "hellaswag", "winogrande", "arc_easy", "arc_challenge", "openbookqa"}
    assert all(c.metric == HEADLINE for c in tables[3].columns)
    assert [(c.task, c.metric) for c in tables[8].columns] == [
        ("humaneval", "pass@1"), ("humaneval", "pass@100"), ("mbpp", "pass@1"), ("mbpp", "pass@80")]
    assert [c.task for c in tables[4].columns] == [
        "naturalquestions_0shot", "naturalquestions_1shot", "naturalquestions_5shot", "naturalquestions_64shot"]
    assert (tables[14].scale, tables[14].decimals) == ("fraction", 2)


def test_a_spec_that_disagrees_with_the_paper_is_a_data_error(tmp_path):
    for name in ("paper_results.json", "table_specs.json"):
        shutil.copy(REPORTS_DIR / name, tmp_path / name)
    specs = json.loads((tmp_path / "table_specs.json").read_text())
    specs["tables"][0]["columns"][0]["label"] = "Bool-Q"
    (tmp_path / "table_specs.json").write_text(json.dumps(specs))
    with pytest.raises(DataError, match="table_specs.json: Table 3 columns"):
        load_tables(tmp_path)
