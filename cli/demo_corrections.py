"""The demo's data correction (校核纠错): a user flags a wrong name, the provider confirms, the source is
fixed, and the next published version closes the flag — each step printed."""

from __future__ import annotations

from typing import Any

from rich.console import Console

__all__ = ["correction_flow"]

USER = "市人社局"  # receives person (name, status) through its granted subscription
PROVIDER = "市公安局"  # provides person


def _published_person(user_code: str) -> tuple[str, str]:
    """A person the user receives: (id_number, name) of the first published row."""
    from govhub.delivery_runner import open_lake
    from schemas import load_contract

    for batch in open_lake().curated(load_contract("person")).scan(columns=["id_number", "name"]):
        return str(batch.column(0)[0]), str(batch.column(1)[0])
    raise RuntimeError(f"no published person for {user_code} to flag: run the ingest first")


def _ask_alive(console: Console, id_number: str, case_number: str) -> None:
    """不动产登记 asks whether the person is alive: the sealed answer says whether the record is under correction."""
    import json

    from sqlalchemy.orm import Session

    from exchange.crypto import load_or_create_signer
    from exchange.seal import verify_sealed
    from exchange.verify import ServingStore, VerificationService, build_request, seed_demo_clients
    from govhub.db import get_engine
    from govhub.settings import get_settings

    settings = get_settings()
    keys_dir = settings.keys_dir or settings.resolved_home / "keys"  # set by the settings' validator
    signer = load_or_create_signer(keys_dir, algorithm=settings.seal_algorithm)
    service = VerificationService(store=ServingStore(settings.resolved_home), signer=signer, engine=get_engine())
    try:
        with Session(get_engine()) as session:
            key = seed_demo_clients(session)["bdc-yiyang"]
            session.commit()
        body = {"case_number": case_number, "purpose": "不动产转移登记", "subject": {"id_number": id_number}}
        status, document = service.ask("person_alive", client_key=key, body=body)
        check = verify_sealed(
            document, public_key_pem=signer.public_key_pem(), request=build_request("person_alive", body)
        )
        shown = {k: v for k, v in document.get("answer", {}).items() if k not in ("answer_id", "case_number")}
        console.print(
            f"     不动产登记 asks person_alive 生存状态核验: {json.dumps(shown, ensure_ascii=False)} "
            f"(HTTP {status}) → offline seal check: {'verified' if check.ok else check.message}"
        )
    finally:
        service.writer.close()


def _step(console: Console, number: int, text: str, flag: Any) -> None:
    console.print(f"  [bold]{number}.[/] {text} — 纠错 #{flag.id}: [cyan]{flag.status}[/]")


def correction_flow(console: Console, sources: Any) -> None:
    """Flag → confirm → source fix → the next version closes it; prints each step."""
    import sqlalchemy as sa

    from catalog import Reporter, get_department, get_flag
    from govhub.corrections import decide_logged, flag_logged
    from govhub.db import session_scope
    from govhub.pipeline import run_ingest
    from govhub.serving_runner import refresh_serving
    from simulators import connect

    console.print("[bold]data correction — 校核纠错（《政务数据共享条例》）[/]")
    with session_scope() as session:
        user = get_department(session, USER).code
        provider = get_department(session, PROVIDER).code
    id_number, name = _published_person(user)
    corrected = name[:-1] + ("琳" if name[-1] != "琳" else "霖")
    with session_scope() as session:
        flag = flag_logged(
            session,
            reporter=Reporter("department", user),
            resource="person",
            record_key=id_number,
            field="name",
            problem=f"姓名“{name}”与当事人户口簿记载“{corrected}”不一致",
            evidence_text="社保待遇资格认证时当事人出示户口簿原件",
            evidence_ref="户口簿页 No.DEMO-0001",
        )
        flag_id = flag.id
        _step(console, 1, f"{USER} flags person {id_number[:6]}…{id_number[-2:]} name 姓名 (value {name!r})", flag)
    with session_scope() as session:
        flag = decide_logged(
            session, flag_id, actor_department=provider, confirm=True, reason="核对户籍档案属实，已在人口库更正"
        )
        _step(console, 2, f"{PROVIDER} confirms 确认 (reporter notified 已通知提出方)", flag)
    _ask_alive(console, id_number, "YY-BDC-2026-900001")  # under correction: said inside the seal
    engine = connect(sources.population_url)
    try:
        with engine.begin() as connection:  # the registry's trigger stamps updated_at: the next extract sees it
            connection.execute(
                sa.text("UPDATE person SET name = :name WHERE id_number = :id"), {"name": corrected, "id": id_number}
            )
    finally:
        engine.dispose()
    console.print(f"  [bold]3.[/] the population registry corrects the source 源系统更正: {name!r} → {corrected!r}")
    summary = run_ingest("person")
    refresh_serving("person")
    with session_scope() as session:
        flag = get_flag(session, flag_id)
        _step(
            console,
            4,
            f"the next version {summary.get('version')} carries {corrected!r}: the hub closes it 自动关闭 "
            f"(closed at version {flag.closed_version}; reporter notified)",
            flag,
        )
    _ask_alive(console, id_number, "YY-BDC-2026-900002")  # closed: the answer carries no mark any more
    console.print(
        f"  follow it: `.venv/bin/govhub correction show {flag_id}`, GET /api/corrections, /monitor/corrections"
    )
