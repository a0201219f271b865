"""The bad-input corpus through the real pipeline: every malformed record is quarantined with a reason
naming its field and rule, every malformed file is refused with a reason (or all its rows quarantined),
nothing malformed reaches a curated table, and no run crashes.

The corpus (tests/reliability/corpus.py) is written into the simulated sources with their own writers:
registry rows and credit-platform records through `simulators.registry.insert_rows`, payments through
the payment system's settlement-file writer; broken files and manifests as the bytes a sender would put
in the inbox. Property-based cases (hypothesis) add records built to break at least one contract rule.
Values the credit platform's store cannot hold (numbers, booleans, objects where the contract wants a
date, an amount or a code; text with a lone UTF-16 surrogate escape) are put on the wire by a rewriting
httpx transport between the hub and the simulator.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pyarrow.compute as pc
import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from govhub.db import migrate
from govhub.pipeline import ingest_order, run_ingest
from govhub.pipeline.resources import open_resource
from schemas import load_contract
from simulators.generate import Table
from simulators.nontax import manifest_path, settlement_name, write_settlement
from simulators.registry import connect, insert_rows, reflect_table
from tests.reliability.corpus import (
    Case,
    FileCase,
    file_cases,
    fresh_key,
    marker_field,
    record_cases,
    wire_type_cases,
)
from tests.reliability.input_hub import FaultHub, open_hub, rows_lost, tune_connectors, write_settlement_day
from tests.reliability.input_properties import bad_records
from tests.reliability.ledger import long_form, record, scaled

RESOURCES = tuple(ingest_order())
# Held means kept out of curated with a reason: rejected, or pending when only a reference is missing
# (the referenced resource may publish the key later).
_QUARANTINED = ("rejected", "pending")


def _reconciles(summary: dict[str, Any]) -> bool:
    return summary["extracted"] == summary["accepted"] + summary["rejected"] + summary["pending"]


SOURCE_NAMES = {
    "person": "population registry",
    "legal_entity": "legal-entity registry",
    "credit_record": "credit platform",
    "payment": "settlement files",
}


@dataclass
class CorpusRun:
    """The hub after the corpus went through it: the cases, the run summaries, what ended where."""

    hub: FaultHub
    cases: list[Case]
    files: list[FileCase]
    summaries: dict[str, dict[str, Any]] = field(default_factory=dict)
    crashes: dict[str, str] = field(default_factory=dict)
    dropped: int = 0  # record cases the GBK settlement writer cannot write (not tried)
    good: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # source rows the cases start from
    taken: dict[str, set[str]] = field(default_factory=dict)  # keys in each source


@pytest.fixture(scope="module")
def corpus_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CorpusRun]:
    tmp = tmp_path_factory.mktemp("corpus")
    with pytest.MonkeyPatch.context() as monkeypatch:
        store = tmp / "govhub.db"
        with open_hub(tmp, monkeypatch, f"sqlite:///{store}", size=300, bad_share=0.0) as hub:
            migrate()
            run = CorpusRun(hub=hub, cases=[], files=[])
            _write_corpus(run)
            for resource in RESOURCES:
                try:
                    run.summaries[resource] = run_ingest(resource)
                except Exception as e:  # a crash is a finding: recorded, then the tests fail on it
                    run.crashes[resource] = f"{type(e).__name__}: {e}"
            yield run


# ---- writing the corpus into the sources ---------------------------------------------------------


def _good_rows(hub: FaultHub, resource: str, limit: int = 40) -> list[dict[str, Any]]:
    """Rows of a source's table as its driver returns them (text for dates and timestamps)."""
    db = {
        "person": hub.sources.population_url,
        "legal_entity": hub.sources.legal_entity_url,
        "credit_record": hub.sources.credit_url,
    }[resource]
    flag = load_contract(resource).source.deleted_flag
    with sqlite3.connect(sa.make_url(db).database) as conn:
        conn.row_factory = sqlite3.Row
        table = load_contract(resource).source.options.get("table", resource)
        rows = conn.execute(f"SELECT * FROM {table} WHERE {flag} = 0 ORDER BY rowid LIMIT {limit}").fetchall()
    return [dict(r) for r in rows]


def _insert(url: str, resource: str, records: list[dict[str, Any]], raw: list[tuple[str, str, bytes]]) -> None:
    engine = connect(url)
    try:
        insert_rows(engine, reflect_table(engine, resource), records)
    finally:
        engine.dispose()
    contract = load_contract(resource)
    table, key, cursor = contract.source.options.get("table", resource), contract.primary_key[0], contract.source.cursor
    stamps = {r[key]: r[cursor] for r in records}
    with sqlite3.connect(sa.make_url(url).database) as conn:  # bytes that are not UTF-8, as a legacy system has
        for column, k, data in raw:
            # an explicit cursor value (a microsecond on) keeps the registry's touch trigger from stamping "now"
            later = dt.datetime.fromisoformat(str(stamps[k])) + dt.timedelta(microseconds=1)
            conn.execute(
                f"UPDATE {table} SET {column} = CAST(? AS TEXT), {cursor} = ? WHERE {key} = ?",
                (data, later.isoformat(sep=" ", timespec="microseconds"), k),
            )


def _write_corpus(run: CorpusRun) -> None:
    hub = run.hub
    urls = {
        "person": hub.sources.population_url,
        "legal_entity": hub.sources.legal_entity_url,
        "credit_record": hub.sources.credit_url,
    }
    epoch = hub.sources.epoch.date()
    good_file = write_settlement_day(hub.sources, epoch + dt.timedelta(days=20), 8)  # payers: good persons
    for resource, url in urls.items():
        run.good[resource] = _good_rows(hub, resource)
        key = load_contract(resource).primary_key[0]
        run.taken[resource] = {str(r[key]) for r in _good_rows(hub, resource, limit=10**9)}
        cases = record_cases(resource, run.good[resource], taken=run.taken[resource])
        raw = [(col, c.record[key], data) for c in cases for col, data in c.raw.items()]
        _insert(url, resource, [c.record for c in cases], raw)
        run.cases += cases

    # payments: one settlement file of damaged rows, written by the payment system's writer
    payments = run.good["payment"] = _settlement_rows(good_file)
    run.taken["payment"] = {r["payment_code"] for r in payments}
    cases = record_cases("payment", payments, taken=run.taken["payment"])
    writable = [c for c in cases if _gbk_ok(c.record)]
    run.dropped = len(cases) - len(writable)
    names = load_contract("payment").field_names
    columns = {n: ["" if c.record[n] is None else str(c.record[n]) for c in writable] for n in names}
    day = epoch + dt.timedelta(days=21)
    write_settlement(hub.sources.inbox, day, Table("payment", columns, good=np.ones(len(writable), bool)), {})
    run.cases += writable

    # broken files, built from a good one (which stays, as the control: its rows must be curated)
    manifest = json.loads(manifest_path(good_file).read_text(encoding="utf-8"))
    run.files = file_cases(
        good_file.read_bytes(), manifest, lambda k: settlement_name(epoch + dt.timedelta(days=30 + k))
    )
    for fc in run.files:
        path = hub.sources.inbox / fc.name
        path.write_bytes(fc.data)
        if fc.manifest is not None:
            text = fc.manifest if isinstance(fc.manifest, str) else json.dumps(fc.manifest, ensure_ascii=False)
            manifest_path(path).write_text(text, encoding="utf-8")


def _settlement_rows(path: Path) -> list[dict[str, Any]]:
    import csv

    contract = load_contract("payment")
    lines = path.read_bytes().decode("gbk").split("\r\n")
    rows = [r for r in csv.reader([ln for ln in lines[1:] if ln])]
    return [dict(zip(contract.field_names, r, strict=True)) for r in rows]


def _gbk_ok(record: dict[str, Any]) -> bool:
    try:
        "".join(str(v) for v in record.values() if v is not None).encode("gbk")
    except UnicodeEncodeError:
        return False
    return True


# ---- judging ---------------------------------------------------------------------------------------


def _quarantined_by_token(resource: str) -> dict[str, list[dict[str, Any]]]:
    table = open_resource(resource).quarantine.read()
    found: dict[str, list[dict[str, Any]]] = defaultdict(list)
    if not table.num_rows:
        return found
    for row in table.select(["record", "reasons", "verdict"]).to_pylist():
        start = row["record"].find("CORPUS-")
        while start >= 0:
            found[row["record"][start : start + 16]].append(row)
            start = row["record"].find("CORPUS-", start + 1)
    return found


def _curated_text(resource: str) -> set[str]:
    """The case tokens in the curated table's free-text marker columns (a token and whatever follows it)."""
    contract = load_contract(resource)
    ctx = open_resource(resource)
    if not ctx.curated.exists():
        return set()
    markers = {marker_field(contract).name, *(marker_field(contract, avoid=f.name).name for f in contract.fields)}
    table = ctx.curated.read(columns=sorted(markers))
    values = (v for name in table.column_names for v in pc.unique(table.column(name)).to_pylist() if v)
    return {v[:16] for v in values if v.startswith("CORPUS-")}


def _held(case: Case, quarantined: dict[str, list[dict[str, Any]]], curated: set[str]) -> tuple[bool, bool]:
    """(held, lost): quarantined as rejected with a reason naming the field and rule, and not curated."""
    rows = [r for r in quarantined.get(case.token, []) if r["verdict"] in _QUARANTINED]
    named = any(reason["field"] == case.field and reason["rule"] in case.rules for r in rows for reason in r["reasons"])
    in_curated = case.token in curated
    return named and not in_curated, not rows and not in_curated


def test_no_run_crashes_and_counts_reconcile(corpus_run: CorpusRun) -> None:
    assert not corpus_run.crashes, corpus_run.crashes
    for resource, summary in corpus_run.summaries.items():
        assert summary["status"] == "succeeded", summary
        assert summary["extracted"] == summary["accepted"] + summary["rejected"] + summary["pending"], summary
        refused = frozenset(p["name"] for p in summary["problems"] if p["reason"].startswith("refused"))
        offered, lost = rows_lost(resource, corpus_run.hub.sources, refused=refused)
        assert offered > 0 and lost == 0, f"{resource}: {lost} of {offered} rows in neither curated nor quarantine"


def test_good_twins_are_accepted(corpus_run: CorpusRun) -> None:
    """The controls: each base record, undamaged, reaches the curated table; else the corpus proves nothing."""
    for resource in RESOURCES:
        curated = _curated_text(resource)
        controls = [c for c in corpus_run.cases if c.resource == resource and c.control]
        assert controls and all(c.token in curated for c in controls), resource


@pytest.mark.parametrize("resource", RESOURCES)
def test_every_malformed_record_is_quarantined_with_its_reason(corpus_run: CorpusRun, resource: str) -> None:
    assert resource not in corpus_run.crashes, corpus_run.crashes[resource]
    quarantined, curated = _quarantined_by_token(resource), _curated_text(resource)
    groups: dict[str, list[tuple[Case, bool, bool]]] = defaultdict(list)
    for case in corpus_run.cases:
        if case.resource == resource and not case.control:
            held, lost = _held(case, quarantined, curated)
            groups[case.category].append((case, held, lost))
    failures = []
    for category, results in sorted(groups.items()):
        held = sum(1 for _, h, _ in results if h)
        lost = sum(1 for _, _, lo in results if lo)
        fields = sorted({c.field for c, _, _ in results})
        record(
            "inputs",
            f"{SOURCE_NAMES[resource]} ({resource}): {category}",
            tried=len(results),
            held=held,
            rows_lost=lost,
            fields=",".join(fields),
        )
        failures += [f"{c.field}={c.record[c.field]!r:.60} ({category})" for c, h, _ in results if not h]
    assert sum(len(r) for r in groups.values()) > 0
    assert not failures, f"{len(failures)} {resource} cases not quarantined as expected: {failures[:10]}"


def test_every_malformed_file_is_refused_or_its_rows_quarantined(corpus_run: CorpusRun) -> None:
    assert "payment" not in corpus_run.crashes, corpus_run.crashes["payment"]
    summary = corpus_run.summaries["payment"]
    state = _taken()
    quarantine = open_resource("payment").quarantine.read().to_pylist()
    failures = []
    for fc in corpus_run.files:
        kind, _, expected = fc.expect.partition(": ")
        if kind == "refused":
            reasons = " / ".join(p["reason"] for p in summary["problems"] if p["name"] == fc.name)
            held = expected in reasons and fc.name not in state and (corpus_run.hub.sources.inbox / fc.name).exists()
            lost = 0
        else:
            rule, _, fname = expected.partition(":")
            rows = [q for q in quarantine if q["source_file"] == fc.name and q["verdict"] == "rejected"]
            lines = len([ln for ln in fc.data.split(b"\n")[1:] if ln.strip(b"\r\n\t ")])
            named = all(any(r["rule"] == rule and r["field"] == fname for r in q["reasons"]) for q in rows)
            held = fc.name in state and len(rows) == lines and named
            lost = lines - len(rows)
        record(
            "inputs",
            f"settlement files: {fc.category}",
            tried=1,
            held=1 if held else 0,
            rows_lost=max(lost, 0),
            expected=fc.expect,
        )
        if not held:
            failures.append(f"{fc.category}: expected {fc.expect}")
    assert not failures, failures


def _taken() -> dict[str, str]:
    from govhub.db import session_scope
    from govhub.models import ResourceState

    with session_scope() as session:
        state = session.get(ResourceState, "payment")
        return dict(((state.watermark if state else None) or {}).get("taken") or {})


def test_corpus_is_at_least_200_cases(corpus_run: CorpusRun) -> None:
    tried = len([c for c in corpus_run.cases if not c.control]) + len(corpus_run.files)
    assert tried >= 200, tried
    assert {c.resource for c in corpus_run.cases} == set(RESOURCES)


# ---- property-based: records built to break at least one rule ---------------------------------------

_counter = iter(range(1, 10**6))
_clock = iter(range(1, 10**9))  # seconds after the corpus: later records always come after earlier ones


@pytest.mark.parametrize("resource", RESOURCES)
def test_generated_bad_records_never_reach_curated(corpus_run: CorpusRun, resource: str) -> None:
    assert resource not in corpus_run.crashes, corpus_run.crashes[resource]
    hub = corpus_run.hub
    good = corpus_run.good[resource]
    tally = {"tried": 0, "held": 0, "lost": 0, "runs": 0}
    failures: list[str] = []

    @settings(
        max_examples=scaled(4, 60),
        deadline=None,
        derandomize=not long_form(),
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(batch=st.lists(bad_records(resource, good), min_size=1, max_size=6))
    def one_run(batch: list[tuple[dict[str, Any], tuple[str, ...]]]) -> None:
        n = next(_counter)
        contract = load_contract(resource)
        marker = marker_field(contract).name
        records, tokens = [], []
        for i, (rec, damaged) in enumerate(batch):
            out = dict(rec)
            out[marker] = token = f"CORPUS-H{n:03d}-{i:04d}"
            out[contract.primary_key[0]] = fresh_key(contract, rec, 1000 + 7 * n + i, corpus_run.taken[resource])
            if resource != "payment":
                out[contract.source.cursor] = _stamp(hub, resource)
            records.append(out)
            tokens.append((token, damaged, out))
        _write(hub, resource, records, n)
        summary = run_ingest(resource)
        tally["runs"] += 1
        assert summary["status"] == "succeeded" and _reconciles(summary)
        quarantined, curated = _quarantined_by_token(resource), _curated_text(resource)
        for token, damaged, out in tokens:
            rows = [r for r in quarantined.get(token, []) if r["verdict"] in _QUARANTINED]
            named = any(reason["field"] in damaged for r in rows for reason in r["reasons"])
            held = named and token not in curated
            tally["tried"] += 1
            tally["held"] += held
            tally["lost"] += int(not rows and token not in curated)
            if not held:
                failures.append(f"{token}: damaged {damaged}: { ({k: out[k] for k in damaged})!r:.200}")

    try:
        one_run()
    finally:
        record(
            "inputs",
            f"{SOURCE_NAMES[resource]} ({resource}): generated records breaking a rule (hypothesis)",
            tried=tally["tried"],
            held=tally["held"],
            rows_lost=tally["lost"],
            runs=tally["runs"],
        )
    assert tally["tried"] > 0 and not failures, failures[:5]


def _stamp(hub: FaultHub, resource: str) -> Any:
    when = hub.sources.epoch + dt.timedelta(days=90, seconds=next(_clock))
    return when.isoformat(sep=" ", timespec="microseconds") if resource != "credit_record" else when


def _write(hub: FaultHub, resource: str, records: list[dict[str, Any]], n: int) -> None:
    if resource == "payment":
        names = load_contract("payment").field_names
        columns = {f: ["" if r[f] is None else str(r[f]) for r in records] for f in names}
        day = hub.sources.epoch.date() + dt.timedelta(days=100 + n)
        write_settlement(hub.sources.inbox, day, Table("payment", columns, good=np.ones(len(records), bool)), {})
        return
    url = {
        "person": hub.sources.population_url,
        "legal_entity": hub.sources.legal_entity_url,
        "credit_record": hub.sources.credit_url,
    }[resource]
    _insert(url, resource, records, [])


class _WireRewriter(httpx.HTTPTransport):
    """The wire between the hub and the credit platform: records whose marker field holds a known token
    arrive with some fields replaced (values of another JSON type, text with a lone surrogate)."""

    def __init__(self, marker: str, changes: dict[str, dict[str, Any]]) -> None:
        super().__init__()
        self.marker, self.changes = marker, changes

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = super().handle_request(request)
        body = response.read()
        if response.status_code == 200:
            page = json.loads(body)
            for rec in page.get("data", []):
                rec.update(self.changes.get(rec.get(self.marker), {}))
            body = json.dumps(page).encode()  # ensure_ascii: a lone surrogate travels as the escape \\ud800
        headers = [(k, v) for k, v in response.headers.items() if k.lower() != "content-length"]
        return httpx.Response(response.status_code, headers=headers, content=body)


def test_credit_records_of_the_wrong_json_type_or_with_lone_surrogates_are_quarantined(
    corpus_run: CorpusRun, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert "credit_record" not in corpus_run.crashes, corpus_run.crashes["credit_record"]
    hub, contract = corpus_run.hub, load_contract("credit_record")
    marker = marker_field(contract).name
    cases = [
        *wire_type_cases("credit_record"),
        *[("text with a lone UTF-16 surrogate escape", marker, ("type",), None)] * 3,
    ]
    records, changes, expected = [], {}, []
    for i, (category, fname, rules, value) in enumerate(cases):
        good = corpus_run.good["credit_record"][i % len(corpus_run.good["credit_record"])]
        token = f"CORPUS-WIRE-{i:04d}"
        rec = dict(good, **{marker: token, contract.source.cursor: _stamp(hub, "credit_record")})
        rec[contract.primary_key[0]] = fresh_key(contract, good, 3000 + i, corpus_run.taken["credit_record"])
        records.append(rec)
        changes[token] = {fname: value} if value is not None else {marker: token + "\ud800"}
        expected.append((category, token, fname, rules))
    _insert(hub.sources.credit_url, "credit_record", records, [])
    tune_connectors(monkeypatch, "credit", transport=_WireRewriter(marker, changes))
    summary = run_ingest("credit_record")
    quarantined, curated = _quarantined_by_token("credit_record"), _curated_text("credit_record")
    groups: dict[str, list[tuple[bool, bool]]] = defaultdict(list)
    for category, token, fname, rules in expected:
        rows = [r for r in quarantined.get(token, []) if r["verdict"] in _QUARANTINED]
        named = any(reason["field"] == fname and reason["rule"] in rules for r in rows for reason in r["reasons"])
        groups[category].append((named and token not in curated, not rows and token not in curated))
    for category, results in sorted(groups.items()):
        record(
            "inputs",
            f"credit platform (credit_record): {category}",
            tried=len(results),
            held=sum(h for h, _ in results),
            rows_lost=sum(lo for _, lo in results),
        )
    assert summary["status"] == "succeeded" and _reconciles(summary)
    assert summary["extracted"] == len(cases)
    failed = [category for category, results in groups.items() if not all(h for h, _ in results)]
    assert not failed, failed
