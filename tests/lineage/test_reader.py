"""read_lineage: newest first, one resource's events, a limit, unreadable lines skipped, long files."""

from __future__ import annotations

import json
from pathlib import Path

from govhub.lineage import read_lineage


def _event(job: str, n: int, *, outputs: list[dict] | None = None) -> dict:
    return {"eventType": "COMPLETE", "job": {"namespace": "govhub", "name": job}, "n": n, "outputs": outputs or []}


def _write(home: Path, lines: list[str]) -> None:
    path = home / "lineage" / "events.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(line + "\n" for line in lines))


def test_newest_first_for_one_resource_with_limit(tmp_path: Path) -> None:
    events = [
        _event("ingest_person", 1),
        _event("ingest_person_extra", 2),  # another job whose name only starts alike
        _event("ingest_person.advance", 3),  # an Airflow task of the person DAG
        _event("ingest_payment", 4),
        _event("deliver_person", 5),
        _event("other", 6, outputs=[{"namespace": "govhub", "name": "department/D1/person"}]),
        _event("other", 7, outputs=[{"namespace": "elsewhere", "name": "curated/person"}]),
    ]
    _write(tmp_path, [json.dumps(e, ensure_ascii=False) for e in events])

    assert [e["n"] for e in read_lineage("person", home=tmp_path)] == [6, 5, 3, 1]
    assert [e["n"] for e in read_lineage("person", home=tmp_path, limit=2)] == [6, 5]
    assert [e["n"] for e in read_lineage("payment", home=tmp_path)] == [4]


def test_unreadable_lines_are_skipped_and_missing_file_is_empty(tmp_path: Path) -> None:
    assert read_lineage("person", home=tmp_path) == []
    broken = '{"eventType": "STA'  # a writer died mid-line
    _write(tmp_path, [json.dumps(_event("ingest_person", 1)), broken, json.dumps(_event("ingest_person", 2))])
    assert [e["n"] for e in read_lineage("person", home=tmp_path)] == [2, 1]


def test_long_file_is_read_from_the_end_across_blocks(tmp_path: Path) -> None:
    padding = "x" * 3000  # events bigger than a few lines per 64 KiB block, split at block edges
    lines = [json.dumps({**_event("ingest_person", n), "pad": padding}) for n in range(500)]
    _write(tmp_path, lines)
    got = read_lineage("person", home=tmp_path, limit=120)
    assert [e["n"] for e in got] == list(range(499, 379, -1))
    assert all(e["pad"] == padding for e in got)
