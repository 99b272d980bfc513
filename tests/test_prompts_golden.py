"""Golden files of the requests built for the first three documents of each task.

A prompt change shows up here as a diff. To regenerate on purpose:
    EVALKIT_UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/test_prompts_golden.py
then review `git diff tests/golden/prompts`.
"""
import dataclasses
import json
import os
from pathlib import Path

import pytest

from evalkit.requests import GenerateRequest, RollingLoglikelihoodRequest
from evalkit.task import DataSource
from tasks import TASK_NAMES, get_task

GOLDEN_DIR = Path(__file__).parent / "golden" / "prompts"
UPDATE = os.environ.get("EVALKIT_UPDATE_GOLDEN") == "1"
# Shot counts other than the registered ones: the fixed-exemplar tasks at 0 and 5 shots (MATH has 4 exemplars).
OTHER_SHOTS = [("gsm8k", 0), ("gsm8k", 5), ("math", 0)]
# documents pinned beyond the first three: MMLU's first question with outer whitespace (kept, as the
# original code keeps it; lm-eval strips it)
EXTRA = {"mmlu": lambda doc: doc["question"] != doc["question"].strip()}


def rendered(name: str, data_dir: Path, num_fewshot: int | None = None) -> dict:
    task = get_task(name)
    if num_fewshot is not None:
        task.configure(num_fewshot=num_fewshot)
    source = DataSource(data_dir=data_dir)
    docs = list(enumerate(task.docs(source, limit=None if name in EXTRA else 3)))
    chosen = docs[:3] + ([next(d for d in docs if EXTRA[name](d[1]))] if name in EXTRA else [])
    return {"task": name, "prompt_hash": task.protocol_dict()["prompt_hash"],
            "documents": [{"doc_id": i, "requests": [as_json(r) for r in task.requests(doc, i, seed=1234)]}
                          for i, doc in chosen]}


def as_json(request):
    """[context, continuation] for scoring; [text] for a whole text; every field of a generation request."""
    if isinstance(request, GenerateRequest):
        return {**dataclasses.asdict(request), "until": list(request.until)}
    if isinstance(request, RollingLoglikelihoodRequest):
        return [request.text]
    return [request.context, request.continuation]


@pytest.mark.parametrize("name, num_fewshot", [(name, None) for name in TASK_NAMES] + OTHER_SHOTS)
def test_requests_match_golden(name, num_fewshot, data_dir):
    path = GOLDEN_DIR / (f"{name}.json" if num_fewshot is None else f"{name}_{num_fewshot}shot.json")
    actual = rendered(name, data_dir, num_fewshot)
    if UPDATE:
        path.write_text(json.dumps(actual, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    assert path.is_file(), f"no golden file {path}; set EVALKIT_UPDATE_GOLDEN=1 to write it"
    assert actual == json.loads(path.read_text(encoding="utf-8"))
