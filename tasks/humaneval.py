"""HumanEval (Chen et al. 2021): LLaMA Table 8, zero-shot code generation scored by execution.

The prompt is the problem's own prompt (signature and docstring); generation stops where a new
top-level statement would begin, as in Chen et al. The program run in the box is prompt +
completion, then the problem's tests and `check(entry_point)`.
"""
from __future__ import annotations


from evalkit.data import field
from evalkit.execution.box import Program
from evalkit.protocol import HubSource
from evalkit.task_kinds.code import CodeProtocol, CodeTask


class HumanEval(CodeTask):
    name = "humaneval"
    protocol = CodeProtocol(
        hub=HubSource("openai_humaneval", None, "test"),
        local=("humaneval/HumanEval.jsonl.gz",),
        template="humaneval.jinja",
        answer="the completion is executed against the problem's tests",
        normalizer="pass@1", rules=("pass@1", "pass@100"), k=100,
        until=("\ndef", "\nclass", "\nif", "\nprint", "\n#"),
        paper_table="Table 8", paper_column="HumanEval")

    @staticmethod
    def parse_doc(where: str, record: dict) -> dict:
        return {key: field(record, key, where)
                for key in ("task_id", "prompt", "canonical_solution", "test", "entry_point")}

    def context(self, doc: dict, doc_id: int, seed: int) -> str:
        return self.prompt.render(prompt=doc["prompt"])

    def program(self, doc: dict, completion: str) -> Program:
        return Program(code=doc["prompt"] + completion, test=f"{doc['test']}\ncheck({doc['entry_point']})\n")

    def reference(self, doc: dict) -> str:
        return doc["canonical_solution"]
