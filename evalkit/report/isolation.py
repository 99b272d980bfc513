"""The note under a table of executed code (Table 8): the containment its programs ran under, as each
run's results.json records it (scorers.<task>.code_execution.isolation), so an uncontained run is never passed off."""
from __future__ import annotations

from evalkit.report.paper import PaperTable


def isolation_notes(table: PaperTable, result_dicts: list[dict]) -> list[str]:
    notes = []
    for result in result_dicts:
        for task in dict.fromkeys(column.task for column in table.columns):
            isolation = result.get("scorers", {}).get(task, {}).get("code_execution", {}).get("isolation")
            note = f"{result['model']['name']}, {task}: {'; '.join(isolation)}" if isolation else None
            if note and note not in notes:
                notes.append(note)
    return notes
