"""A persistent response cache in SQLite (OUT/cache.sqlite), so an interrupted run resumes where it stopped.

Rows are keyed by (model, request, sample):
- model: the backend's fingerprint (its model and every setting that changes answers);
- request: a sha256 of the request's type and fields (`request_key`), minus `n` for generation;
- sample: the sample index of a generation (0 for scoring requests), so n=16 stores 16 rows and a
  later n=32 finds the first 16 already there.

Each `put` is one transaction in WAL mode: a process killed with SIGKILL at any moment leaves every
chunk either fully written or absent. Several processes (data-parallel ranks) may share one file;
SQLite serialises their writers. Idea from lm-evaluation-harness's SqliteDict cache, made exact.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import sqlite3
from pathlib import Path

from evalkit.requests import (GenerateRequest, GenerateResult, LoglikelihoodRequest, LoglikelihoodResult, Request,
                              Result, RollingLoglikelihoodRequest, RollingLoglikelihoodResult)


RESULT_TYPES = {LoglikelihoodRequest: LoglikelihoodResult, RollingLoglikelihoodRequest: RollingLoglikelihoodResult}

SCHEMA = """CREATE TABLE IF NOT EXISTS responses (
    model TEXT NOT NULL, request TEXT NOT NULL, sample INTEGER NOT NULL, result TEXT NOT NULL,
    PRIMARY KEY (model, request, sample)) WITHOUT ROWID"""


def request_key(request: Request) -> str:
    """A stable hash of the request's type and fields; `n` is left out so samples of any n share rows."""
    fields = dataclasses.asdict(request)
    if isinstance(request, GenerateRequest):
        del fields["n"]
    text = json.dumps([type(request).__name__, fields], sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


class ResponseCache:
    """Results stored by (model key, request, sample index); `get` and `put` work on whole lists."""

    def __init__(self, path: str | Path, model_key: str):
        self.path = Path(path)
        self.model_key = model_key
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # isolation_level=None: we open transactions ourselves; timeout waits for other ranks' writes
        self.db = sqlite3.connect(self.path, timeout=120, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL survives a killed process (not power loss)
        self.db.execute(SCHEMA)

    def get(self, requests: list[Request]) -> dict[Request, Result]:
        """Stored results of those requests that have any. A generation's result holds the samples
        stored so far (indices 0..k-1, as `put` writes whole results): possibly fewer than its n."""
        found: dict[Request, Result] = {}
        for request in requests:
            rows = self.db.execute("SELECT sample, result FROM responses WHERE model = ? AND request = ? "
                                   "ORDER BY sample", (self.model_key, request_key(request))).fetchall()
            if not rows:
                continue
            if isinstance(request, GenerateRequest):
                found[request] = GenerateResult(tuple(json.loads(text) for _, text in rows[:request.n]))
            else:
                found[request] = RESULT_TYPES[type(request)](**json.loads(rows[0][1]))
        return found

    def put(self, pairs: list[tuple[Request, Result]]) -> None:
        """Store a chunk of results in one transaction. Rows already present are kept as they are, so
        a sample once reported never changes and a repeated chunk adds nothing."""
        rows = []
        for request, result in pairs:
            key = request_key(request)
            if isinstance(request, GenerateRequest):
                rows += [(self.model_key, key, i, json.dumps(text)) for i, text in enumerate(result.texts)]
            else:
                rows.append((self.model_key, key, 0, json.dumps(dataclasses.asdict(result))))
        self.db.execute("BEGIN IMMEDIATE")
        try:
            self.db.executemany("INSERT OR IGNORE INTO responses VALUES (?, ?, ?, ?)", rows)
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    def __len__(self) -> int:
        """Rows stored for this model key (one per scoring request, one per generated sample)."""
        return self.db.execute("SELECT COUNT(*) FROM responses WHERE model = ?", (self.model_key,)).fetchone()[0]

    def close(self) -> None:
        self.db.close()
