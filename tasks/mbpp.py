"""MBPP (Austin et al. 2021): LLaMA Table 8, 3-shot code generation scored by execution.

As in the MBPP README: the test split is task ids 11-510 and the shots are the prompts of task ids
2, 3 and 4, each "You are an expert Python programmer, and here is your task: {text} Your code
should pass these tests:\\n\\n{tests}\\n[BEGIN]\\n{code}\\n[DONE]". Generation stops at "[DONE]".
The candidate's box runs the completion; the test's box runs `test_setup_code` and the three asserts,
calling the functions the reference solution defines (and the asserts name) with plain data.
The authors' file has CRLF line endings and CRLF inside `code`; both become LF.
"""
from __future__ import annotations

import ast
import re
import warnings

from evalkit.data import field
from evalkit.errors import DataError
from evalkit.execution.box import Program
from evalkit.protocol import HubSource
from evalkit.task_kinds.code import CodeProtocol, CodeTask

TEST_IDS = range(11, 511)
TASK_INTRO = "You are an expert Python programmer, and here is your task:"
SHOT_IDS = (2, 3, 4)


def called_names(reference: str, test: str) -> tuple[str, ...]:
    """The top-level functions and classes of the reference solution that the test names."""
    with warnings.catch_warnings():  # some references have invalid escapes ("\w") in plain strings
        warnings.simplefilter("ignore")
        tree = ast.parse(reference)
    defined = [node.name for node in tree.body if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))]
    named = {node.id for node in ast.walk(ast.parse(test)) if isinstance(node, ast.Name)}
    return tuple(name for name in defined if name in named)


class MBPP(CodeTask):
    name = "mbpp"
    protocol = CodeProtocol(
        hub=HubSource("mbpp", "full", "test"),
        local=("mbpp/mbpp.jsonl",),
        template="mbpp.jinja",
        answer="the completion is executed against the problem's three asserts",
        normalizer="pass@1", rules=("pass@1", "pass@80"), k=80,
        num_fewshot=3, fewshot_hub=HubSource("mbpp", "full", "prompt"), fewshot_local=("mbpp/mbpp.jsonl",),
        fewshot_sampler="fixed: task ids 2, 3, 4",
        until=("[DONE]",),
        paper_table="Table 8", paper_column="MBPP")

    def docs(self, source, limit=None):
        docs = [doc for doc in super().docs(source) if doc["task_id"] in TEST_IDS]
        return docs[:limit] if limit is not None else docs

    @staticmethod
    def parse_doc(where: str, record: dict) -> dict:
        lf = lambda text: text.replace("\r\n", "\n")  # noqa: E731
        return {"task_id": field(record, "task_id", where, int), "text": field(record, "text", where),
                "code": lf(field(record, "code", where)), "test_setup_code": lf(field(record, "test_setup_code", where)),
                "test_list": [lf(t) for t in field(record, "test_list", where, list)]}

    def shots(self) -> list[dict]:
        by_id = {doc["task_id"]: doc for doc in self.fewshot_pool()}
        missing = [i for i in SHOT_IDS if i not in by_id]
        if missing:
            raise DataError(f"mbpp: the prompt problems {missing} are missing from the few-shot source")
        return [by_id[i] for i in SHOT_IDS]

    def context(self, doc: dict, doc_id: int, seed: int) -> str:
        shots = [{"text": s["text"], "tests": "\n".join(s["test_list"]), "code": s["code"]} for s in self.shots()]
        return self.prompt.render(shots=shots, text=doc["text"], tests="\n".join(doc["test_list"]))

    def shot_starts(self, prompt: str) -> list[int]:
        """Each shot, as the problem itself, begins with TASK_INTRO (prompts/mbpp.jinja); the last is the problem's."""
        return [m.start() for m in re.finditer(re.escape(TASK_INTRO), prompt)][:-1]

    def program(self, doc: dict, completion: str) -> Program:
        test = doc["test_setup_code"] + "\n" + "\n".join(doc["test_list"]) + "\n"
        return Program(code=completion, test=test, entry_points=called_names(doc["code"], test), reference=doc["code"])

    def reference(self, doc: dict) -> str:
        return doc["code"]
