"""Tamper evidence: every change to the exchange log, a sealed answer or a curated table's files is detected.

A hub that really ran (tamper_hub) is copied; then, seeded and systematically, one tampering at a
time: each exchange-log event field edited at the first, last and random positions, events deleted,
swapped, moved, forged in, re-hashed (in the metadata store and in archived Parquet, plus the archive
file's own bytes); one byte of a sealed answer changed; a curated Delta table's data and change-data
files byte-flipped, truncated, deleted or replaced by another valid Parquet, its log entries edited,
files planted, a commit made behind the pipeline's back. Each must be caught by the hub's own check
(`govhub log verify`, `verify_sealed` and the reference checker, `govhub lake verify`).
"""

from __future__ import annotations

import random
import shutil
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from exchange.crypto import load_or_create_signer
from exchange.log import ChainBrokenError, ChainReport, ExchangeLog
from exchange.log.archive import ARCHIVE_SCHEMA
from exchange.seal import verify_sealed
from exchange.seal_check_reference import check_sealed_answer
from exchange.verify.clients import VerificationAnswerRecord
from govhub.db import engine_for
from lake import Lake, format_integrity, verify_files
from schemas import LakeError, load_contract
from tests.reliability.ledger import record, scaled
from tests.reliability.tamper_hub import ReliabilityHub, hub_copy
from tests.reliability.tamper_log import EVENTS, Tampering, archive_row_tamperings, db_tamperings, load_rows

SEED = 20260501


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ReliabilityHub]:
    with pytest.MonkeyPatch.context() as mp:
        yield hub_copy(tmp_path_factory.mktemp("tamper") / "hub", mp)
    from govhub.settings import reset_settings

    reset_settings()


@pytest.fixture(scope="module")
def trusted(hub: ReliabilityHub) -> dict[str, str]:
    """The hub's published key, pinned as a verifier outside the hub would."""
    signer = load_or_create_signer(hub.home / "keys", algorithm="sm2")
    return {signer.key_id: signer.public_key_pem()}


def _named(report: ChainReport, t: Tampering) -> bool:
    """The report points at the tampered event (or the gap it left)."""
    gap = report.missing_seqs or (0, -1)
    return (
        (t.event_id is not None and report.first_bad_event_id == t.event_id)
        or report.first_bad_seq == t.seq
        or (t.seq is not None and gap[0] <= t.seq <= gap[1])
    )


def _text(result: Any) -> str:
    """Everything a CLI run printed, stdout and stderr, on one line (Rich wraps at the terminal width)."""
    try:
        text = result.output + result.stderr
    except ValueError:  # Click versions that mix stderr into output
        text = result.output
    return " ".join(text.split())


# -- the exchange log in the metadata store ------------------------------------------------------------


def _verify_tampered(engine: Any, t: Tampering, trusted: dict) -> ChainReport | str:
    """Apply the tampering in a transaction, verify inside it, roll back; a crash comes back as its text."""
    with engine.connect() as conn:
        trans = conn.begin()
        try:
            t.apply(conn)
            with Session(bind=conn) as session:
                return ExchangeLog(session, trusted_keys=trusted).verify()
        except Exception as e:  # any crash of verify is the finding
            return f"verify raised {type(e).__name__}: {e}"
        finally:
            trans.rollback()


def test_exchange_log_tampering_in_the_metadata_store_is_detected(hub: ReliabilityHub, trusted: dict) -> None:
    engine = engine_for(f"sqlite:///{hub.db_path}")
    with engine.connect() as conn:
        rows = load_rows(conn)
    assert ExchangeLog(engine, trusted_keys=trusted).verify().ok, "the untouched log must verify"
    tamperings = db_tamperings(rows, seed=SEED, per_field=scaled(4, 40), per_family=scaled(6, 60))
    tried: Counter[str] = Counter()
    held: Counter[str] = Counter()
    named: Counter[str] = Counter()
    missed: list[str] = []
    for t in tamperings:
        report = _verify_tampered(engine, t, trusted)
        tried[t.family] += 1
        if isinstance(report, str):  # verify crashed: not a report a data admin can act on
            missed.append(f"{t.what}: {report}")
        elif report.ok:
            missed.append(t.what)
        else:
            held[t.family] += 1
            named[t.family] += _named(report, t)
    assert ExchangeLog(engine, trusted_keys=trusted).verify().ok, "every tampering was rolled back"
    cases = {
        "edit": "exchange log: one field of one event edited (every field, first/last/random event)",
        "retype": "exchange log: a value of another type written into an event (SQLite keeps it)",
        "delete": "exchange log: events deleted (plain, renumbered, head moved back)",
        "reorder": "exchange log: events swapped or moved",
        "insert": "exchange log: forged event slipped in (hash and link computed)",
        "rehash": "exchange log: event rewritten and the chain re-hashed after it (signed checkpoint)",
    }
    for family, case in cases.items():
        record(
            "tamper",
            case,
            tried=tried[family],
            held=held[family],
            events=len(rows),
            seed=SEED,
            first_bad_event_named=named[family],
        )
    assert not missed, f"tamperings not detected: {missed}"
    assert named["edit"] >= held["edit"] - tried["edit"] // 10, "edits should name the edited event"


def test_govhub_log_verify_reports_a_tampered_log_and_exits_2(hub: ReliabilityHub, tmp_path: Path) -> None:
    from cli.main import app

    runner = CliRunner()
    assert runner.invoke(app, ["log", "verify"]).exit_code == 0
    shutil.copy(hub.db_path, tmp_path / "saved.db")
    engine = engine_for(f"sqlite:///{hub.db_path}")
    try:
        with engine.begin() as conn:
            victim = conn.execute(select(EVENTS.c.seq, EVENTS.c.event_id).where(EVENTS.c.type == "publish")).first()
            conn.execute(EVENTS.update().where(EVENTS.c.seq == victim.seq).values(rows=999_999))
        result = runner.invoke(app, ["log", "verify"])
        detected = result.exit_code == 2 and f"event seq {victim.seq} (id {victim.event_id}) was changed" in _text(
            result
        )
        record("tamper", "govhub log verify on an edited publish event", tried=1, held=int(detected))
        assert detected, result.output
    finally:
        engine.dispose()
        shutil.copy(tmp_path / "saved.db", hub.db_path)


# -- archived exchange-log events (Parquet in the lake) ------------------------------------------------


@pytest.fixture(scope="module")
def archived(hub: ReliabilityHub, tmp_path_factory: pytest.TempPathFactory, trusted: dict) -> dict[str, Any]:
    """A copy of the hub's metadata store whose older events were archived to a lake folder."""
    root = tmp_path_factory.mktemp("archive")
    shutil.copy(hub.db_path, root / "govhub.db")
    engine = engine_for(f"sqlite:///{root / 'govhub.db'}")
    with engine.connect() as conn:
        rows = load_rows(conn)
    cut = rows[len(rows) * 2 // 3]["recorded_at"]
    xlog = ExchangeLog(engine, signer=load_or_create_signer(hub.home / "keys", algorithm="sm2"), trusted_keys=trusted)
    info = xlog.archive(root / "lake", before=cut)
    assert info.events >= 10 and xlog.verify(archives=root / "lake").ok
    path = root / "lake" / info.path
    return {"xlog": xlog, "lake": root / "lake", "path": path, "original": path.read_bytes()}


def _verify_archive(archived: dict[str, Any]) -> tuple[bool, str]:
    """(detected, how): a failed report or a ChainBrokenError naming the archive file."""
    try:
        report = archived["xlog"].verify(archives=archived["lake"])
    except ChainBrokenError as e:
        return True, f"refused: {e}"
    return (not report.ok), report.problem or "ok"


def test_archived_exchange_log_tampering_is_detected(archived: dict[str, Any]) -> None:
    path, original = archived["path"], archived["original"]
    rows = pq.read_table(path).to_pylist()
    tamperings = archive_row_tamperings(rows, seed=SEED, per_field=scaled(1, 10), per_family=scaled(3, 30))
    tried, held, missed = 0, 0, []
    how: Counter[str] = Counter()
    try:
        for t in tamperings:
            data = [dict(r) for r in rows]
            t.apply(data)
            pq.write_table(pa.Table.from_pylist(data, schema=ARCHIVE_SCHEMA), path, compression="zstd")
            detected, outcome = _verify_archive(archived)
            tried += 1
            held += detected
            how[outcome.split(":")[0]] += 1
            if not detected:
                missed.append(t.what)
    finally:
        path.write_bytes(original)
    record(
        "tamper",
        "archived exchange log (Parquet): event edited, deleted, swapped or forged in",
        tried=tried,
        held=held,
        seed=SEED,
        outcomes=dict(how),
    )
    assert not missed, f"archive tamperings not detected: {missed}"


def _file_tamperings(original: bytes, other: bytes, rnd: random.Random, flips: int) -> list[tuple[str, bytes | None]]:
    """Byte flips at random offsets (header, pages, footer), truncations, deletion, a valid replacement."""
    n = len(original)
    offsets = [0, 4, n - 8, n - 1] + [rnd.randrange(n) for _ in range(max(0, flips - 4))]
    out: list[tuple[str, bytes | None]] = []
    for off in offsets[:flips]:
        byte = rnd.choice([b for b in range(256) if b != original[off]])
        out.append((f"byte {off} of {n} set to {byte:#04x}", original[:off] + bytes([byte]) + original[off + 1 :]))
    for cut in (1, rnd.randrange(1, n)):
        out.append((f"truncated by {cut} bytes", original[:-cut]))
    out.append(("deleted", None))
    out.append(("replaced by another valid Parquet", other))
    return out


def test_archive_file_bytes_changed_are_detected(archived: dict[str, Any]) -> None:
    path, original = archived["path"], archived["original"]
    recoded = pa.BufferOutputStream()  # the same events, written again without compression: other bytes
    pq.write_table(pq.read_table(path), recoded, compression="none")
    rnd = random.Random(SEED)
    tried, held, missed = 0, 0, []
    try:
        for what, data in _file_tamperings(original, recoded.getvalue().to_pybytes(), rnd, scaled(12, 200)):
            if data is None:
                path.unlink()
            else:
                path.write_bytes(data)
            detected, outcome = _verify_archive(archived)
            tried += 1
            held += detected
            if not detected:
                missed.append(f"{what}: {outcome}")
            path.write_bytes(original)
    finally:
        path.write_bytes(original)
    record(
        "tamper",
        "archived exchange log: file bytes flipped, truncated, deleted or replaced",
        tried=tried,
        held=held,
        seed=SEED,
        file_bytes=len(original),
    )
    assert not missed, f"archive file changes not detected: {missed}"


# -- sealed answers --------------------------------------------------------------------------------------


def test_one_changed_byte_of_a_sealed_answer_fails_its_seal(hub: ReliabilityHub, trusted: dict) -> None:
    (pem,) = trusted.values()
    engine = engine_for(f"sqlite:///{hub.db_path}")
    with Session(engine) as session:
        documents = [r.document.encode("utf-8") for r in session.scalars(select(VerificationAnswerRecord))]
    assert documents and all(verify_sealed(d, public_key_pem=pem).ok for d in documents)
    rnd = random.Random(SEED)
    trials, reference_every = scaled(400, 20_000), scaled(40, 400)
    tried, held, reference_tried, reference_held, missed = 0, 0, 0, 0, []
    reasons: Counter[str] = Counter()
    for i in range(trials):
        doc = rnd.choice(documents)
        at = rnd.randrange(len(doc))
        byte = rnd.choice([b for b in range(256) if b != doc[at]])
        tampered = doc[:at] + bytes([byte]) + doc[at + 1 :]
        result = verify_sealed(tampered, public_key_pem=pem)
        tried += 1
        held += not result.ok
        reasons[result.reason or "ok"] += 1
        if result.ok:
            missed.append(f"byte {at} ({doc[at : at + 1]!r} -> {byte:#04x})")
        if i % reference_every == 0:  # the copyable reference checker (pure-Python SM2: slow) on a sample
            ok, _, _ = check_sealed_answer(tampered, pem)
            reference_tried += 1
            reference_held += not ok
    record(
        "tamper",
        "sealed answer: one byte changed (hub check)",
        tried=tried,
        held=held,
        seed=SEED,
        answers=len(documents),
        reasons=dict(reasons),
    )
    record(
        "tamper",
        "sealed answer: one byte changed (reference checker)",
        tried=reference_tried,
        held=reference_held,
        seed=SEED,
    )
    assert not missed and reference_held == reference_tried, missed


# -- curated Delta tables --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def manifests(hub: ReliabilityHub) -> dict[int, dict]:
    """The manifests the pipeline recorded with the person versions (from the catalogue)."""
    from catalog import list_versions

    with Session(engine_for(f"sqlite:///{hub.db_path}")) as session:
        found = {v.version: v.files for v in list_versions(session, "person", newest_first=False)}
    assert len(found) >= 2 and all(found.values()), "every published version carries its manifest"
    return found


def _reading_fails(lake: Lake) -> bool:
    """Would a plain reader (a delivery, the serving refresh) have stumbled over it? Today's only symptom."""
    table = lake.curated(load_contract("person"))
    try:
        table.read()
        table.read(version=0)
        table.changes(after_version=0)
    except LakeError:
        return True
    return False


def _delta_tamperings(
    table_root: Path, manifests: dict[int, dict], rnd: random.Random
) -> Iterator[tuple[str, str, Callable[[Path], None]]]:
    """(target path, what, apply(table root)) for every recorded file and log entry, plus additions."""
    files = [(v, e) for v, m in sorted(manifests.items()) for e in m["files"]]
    flips = scaled(3, 40)
    for version, entry in files:
        rel = entry["path"]
        original = (table_root / rel).read_bytes()
        others = [e["path"] for _, e in files if e["path"] != rel and e["path"].endswith(".parquet")]
        other = (table_root / rnd.choice(others)).read_bytes()
        for what, data in _file_tamperings(original, other, rnd, flips):

            def apply(root: Path, rel: str = rel, data: bytes | None = data) -> None:
                (root / rel).unlink() if data is None else (root / rel).write_bytes(data)

            yield rel, f"v{version} {rel.split('/')[0] if '/' in rel else 'data file'}: {what}", apply
    for version, manifest in sorted(manifests.items()):
        rel = manifest["log"]["path"]
        text = (table_root / rel).read_text(encoding="utf-8")
        lines = text.splitlines()
        digits = [i for i, c in enumerate(text) if c.isdigit()]
        at = rnd.choice(digits)
        edits = {
            "a digit edited": text[:at] + str((int(text[at]) + 1) % 10) + text[at + 1 :],
            "an action line removed": "\n".join([*lines[:-1], ""]) if len(lines) > 1 else "",
            "numRecords statistics inflated": text.replace('\\"numRecords\\":', '\\"numRecords\\":9', 1),
            "deleted": None,
        }
        for what, data in edits.items():
            if data == text:
                continue

            def apply(root: Path, rel: str = rel, data: str | None = data) -> None:
                (root / rel).unlink() if data is None else (root / rel).write_text(data, encoding="utf-8")

            yield rel, f"v{version} log entry: {what}", apply
    some = files[0][1]["path"]
    yield (
        "part-planted.parquet",
        "a Parquet file planted",
        lambda root: shutil.copy(root / some, root / "part-planted.parquet"),
    )

    def foreign_commit(root: Path) -> None:
        table = Lake(str(root.parent.parent)).curated(load_contract("person"))
        forged = table.read().slice(0, 1)
        forged = forged.set_column(forged.schema.get_field_index("name"), "name", pa.array(["伪造"], pa.string()))
        table.commit(forged, app_id="intruder", run_seq=1, metadata={})

    yield "_delta_log", "a commit made behind the pipeline's back", foreign_commit


def test_a_changed_delta_file_is_detected(hub: ReliabilityHub, manifests: dict[int, dict], tmp_path: Path) -> None:
    lake_root = hub.home / "lake"
    table_root = lake_root / "curated" / "person"
    contract = load_contract("person")
    assert verify_files(Lake(str(lake_root)).curated(contract), manifests).ok
    rnd = random.Random(SEED)
    tried, held, named, by_reading, missed = 0, 0, 0, 0, []
    for target, what, apply in _delta_tamperings(table_root, manifests, rnd):
        work = tmp_path / f"t{tried}"
        shutil.copytree(lake_root, work)
        apply(work / "curated" / "person")
        lake = Lake(str(work))
        report = verify_files(lake.curated(contract), manifests)
        tried += 1
        held += not report.ok
        named += any(
            p.path == target or (target == "_delta_log" and p.path.startswith(("_delta_log", "_changes/_delta_log")))
            for p in report.problems
        )
        by_reading += _reading_fails(lake)
        if report.ok:
            missed.append(what)
        shutil.rmtree(work)
    record(
        "tamper",
        "curated Delta table: data/change file flipped, truncated, deleted, replaced; log entry "
        "edited; file planted; foreign commit",
        tried=tried,
        held=held,
        seed=SEED,
        files_named=named,
        caught_by_reading_alone=by_reading,
    )
    assert not missed, f"Delta tamperings not detected: {missed}"
    assert named == held, "every report names the tampered file or log entry"


def test_govhub_lake_verify_names_a_replaced_data_file(hub: ReliabilityHub, manifests: dict[int, dict]) -> None:
    from cli.main import app

    runner = CliRunner()
    clean = runner.invoke(app, ["lake", "verify", "person"])
    assert clean.exit_code == 0 and "intact" in clean.output, clean.output
    root = hub.home / "lake" / "curated" / "person"
    data = [e["path"] for e in manifests[max(manifests)]["files"] if Path(e["path"]).name.startswith("part-")]
    victim, original = root / data[0], (root / data[0]).read_bytes()
    old = next(e["path"] for e in manifests[min(manifests)]["files"] if Path(e["path"]).name.startswith("part-"))
    try:
        shutil.copy(root / old, victim)  # yesterday's valid Parquet under today's name
        result = runner.invoke(app, ["lake", "verify", "person"])
        text = _text(result)
        detected = result.exit_code == 2 and data[0] in text and f"version {max(manifests)}" in text
        record(
            "tamper",
            "govhub lake verify on a data file replaced by an older valid Parquet",
            tried=1,
            held=int(detected),
        )
        assert detected, text
        assert "TAMPERED" in format_integrity(
            verify_files(Lake(str(hub.home / "lake")).curated(load_contract("person")), manifests)
        )
    finally:
        victim.write_bytes(original)
