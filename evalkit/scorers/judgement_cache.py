"""OUT/judgements.sqlite: scorers' judgements keyed by (scorer, version, input), so a resumed run never
re-executes a program or re-queries a service. The one reader and writer of that file.

A row's judgement is the JSON of the scorer's judgement dataclass. Each `put` is one transaction in
WAL mode, like the response cache, so a killed run keeps every batch it finished.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import sqlite3
from pathlib import Path
from typing import Any

SCHEMA = """CREATE TABLE IF NOT EXISTS judgements (
    scorer TEXT NOT NULL, version TEXT NOT NULL, input TEXT NOT NULL, judgement TEXT NOT NULL,
    PRIMARY KEY (scorer, version, input)) WITHOUT ROWID"""


def input_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class JudgementCache:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(self.path, timeout=120, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.execute(SCHEMA)

    def get(self, scorer, keys: list[str]) -> dict[str, Any]:
        """input key -> stored judgement, for the keys that have one (rows that no longer fit the
        scorer's judgement type read as absent)."""
        found = {}
        for key in keys:
            row = self.db.execute("SELECT judgement FROM judgements WHERE scorer = ? AND version = ? AND input = ?",
                                  (scorer.name, scorer.version, input_hash(key))).fetchone()
            if row is None:
                continue
            try:
                found[key] = scorer.judgement_type(**json.loads(row[0]))
            except TypeError:
                continue
        return found

    def put(self, scorer, pairs: list[tuple[str, Any]]) -> None:
        rows = [(scorer.name, scorer.version, input_hash(key), json.dumps(dataclasses.asdict(judgement)))
                for key, judgement in pairs]
        self.db.execute("BEGIN IMMEDIATE")
        try:
            self.db.executemany("INSERT OR IGNORE INTO judgements VALUES (?, ?, ?, ?)", rows)
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    def close(self) -> None:
        self.db.close()
