"""`make run`: simulated sources -> the four ingest DAGs through Airflow -> one working day -> again."""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from cli.demo_corrections import correction_flow
from cli.report import run_table
from govhub.db import engine_for, migrate
from govhub.demo_sharing import deliver_all, delivery_table, seed_subscriptions
from govhub.pipeline import ingest_order, run_ingest
from govhub.serving_runner import refresh_serving
from govhub.settings import get_settings, set_credit_base_url, set_source_urls

__all__ = ["run_demo"]


@contextmanager
def _credit_platform(sources: Any) -> Iterator[str]:
    """Serve the simulated credit platform on a free port for the length of the demo."""
    from simulators import CreditSimulator

    with CreditSimulator(sources.credit_db, token=sources.token, rate_limit=200) as credit:
        set_credit_base_url(credit.base_url)
        yield credit.base_url


def _ingest_round(console: Console, *, use_airflow: bool, title: str) -> list[dict[str, Any]]:
    started = time.perf_counter()
    if use_airflow:
        from govhub.orchestration import run_dags

        with console.status("running the ingest DAGs through Airflow…"):
            summaries = run_dags(ingest_order(), airflow_home=get_settings().resolved_home / "airflow")
    else:
        summaries = []
        with console.status("ingesting…") as status:
            for resource in ingest_order():
                status.update(f"ingesting {resource}…")
                summaries.append(run_ingest(resource))
    console.print(run_table(summaries, title=f"{title} ({time.perf_counter() - started:.1f} s)"))
    for s in summaries:
        if not s.get("reconciled"):
            console.print(f"[red]{s['resource']}: counts do not reconcile[/]")
    return summaries


def _share(console: Console, summaries: list[dict[str, Any]], *, title: str) -> None:
    """What the asset-scheduled DAGs do after each publish: refresh serving stores, deliver changes."""
    published = [s["resource"] for s in summaries if s.get("version") is not None]
    for resource in published:
        refresh_serving(resource)
    console.print(delivery_table(deliver_all(published), title=title))


def _verification_flows(console: Console, home: Path) -> list[dict[str, Any]]:
    """The three approval services ask the hub instead of the citizen; each answer is sealed and checked."""
    from exchange.verify.demo import run_approval_flows
    from govhub.db import get_engine
    from govhub.delivery_runner import open_lake

    answers = run_approval_flows(
        home=home,
        lake=open_lake(),
        engine=get_engine(),
        algorithm=get_settings().seal_algorithm,
        keys_dir=get_settings().keys_dir,
    )
    table = Table(title="verification instead of paper proofs — 数据核验代替证明材料（签章答复）")
    for column in ("service", "case", "item", "answer", "version", "offline check"):
        table.add_column(column)
    for a in answers:
        shown = {k: v for k, v in (a.get("answer") or {}).items() if k not in ("answer_id", "case_number")}
        check = "[green]verified[/]" if a.get("offline_ok") else f"[red]{a.get('offline_message')}[/]"
        table.add_row(
            str(a["service"]),
            str(a["case_number"]),
            str(a["item"]),
            json.dumps(shown, ensure_ascii=False),
            str(a.get("version")),
            check,
        )
    console.print(table)
    console.print(f"hub public key: {get_settings().keys_dir}; check a saved answer with `govhub seal verify FILE`")
    return answers


def _access_record(console: Console, answers: list[dict[str, Any]], *, port: int) -> None:
    """One person's access record, as the 政务服务 app fetches it: an assertion from the (simulated) IdP."""
    from fastapi.testclient import TestClient

    from cli.access_demo import access_table, demo_idp
    from web.app import create_app

    person = next((a["subject"]["id_number"] for a in answers if "id_number" in (a.get("subject") or {})), None)
    if person is None:
        console.print("no person was asked about: no access record to show")
        return
    idp = demo_idp(get_settings().keys_dir)
    answer = TestClient(create_app()).get(
        "/api/access-record",
        params={"subject": person, "kind": "person"},
        headers={"Authorization": f"Bearer {idp.assertion(person)}"},
    )
    if answer.status_code != 200:
        console.print(f"[red]access record not served ({answer.status_code}): {answer.text}[/]")
        return
    record = answer.json()
    console.print(access_table(record))
    console.print(
        f"[bold]printable access record (本人数据使用记录，可打印，30 分钟内有效):[/] "
        f"http://127.0.0.1:{port}{record['print_url']}"
    )


def _fresh_start(home: Path) -> None:
    """Remove what an earlier demo left (sources, lake, hub metadata); Airflow's DB is kept (slow to migrate)."""
    engine_for.cache_clear()
    for name in ("sources", "lake", "serving", "departments"):
        shutil.rmtree(home / name, ignore_errors=True)
    for name in ("govhub.db", "govhub.db-wal", "govhub.db-shm"):
        (home / name).unlink(missing_ok=True)


def _tick_table(changes: dict[str, dict[str, int]]) -> Table:
    table = Table(title="one working day at the sources — 源系统一天的变化 (tick)")
    table.add_column("source resource")
    table.add_column("changes")
    for resource, kinds in changes.items():
        table.add_row(resource, ", ".join(f"{k} {v:,}" for k, v in kinds.items()))
    return table


def run_demo(console: Console, *, size: int, seed: int, use_airflow: bool, fresh: bool, port: int = 8700) -> None:
    """Build sources, ingest everything, tick one day, ingest again; print what moved."""
    from simulators import build_all, tick_all

    home = get_settings().resolved_home
    if fresh:
        _fresh_start(home)
    with console.status(f"building the four simulated source systems ({size:,} persons)…"):
        sources = build_all(home / "sources", size=size, seed=seed)
    set_source_urls(sources.population_url, sources.legal_entity_url, sources.inbox)
    console.print(f"sources built in {home / 'sources'}: {sources.counts}")
    migrate()
    applications = seed_subscriptions(home)
    console.print(
        "subscriptions (共享申请): "
        + "; ".join(f"{a['department']} → {a['resource']} ({a['mode']}): {a['status']}" for a in applications)
    )
    with _credit_platform(sources) as credit_url:
        console.print(f"credit platform simulator serving at {credit_url}")
        first = _ingest_round(console, use_airflow=use_airflow, title="first ingest — 首次采集")
        _share(console, first, title="deliveries after the first ingest — 首次交付（全量快照）")
        tick = tick_all(sources.root, day=1)
        console.print(_tick_table(tick.changes))
        second = _ingest_round(console, use_airflow=use_airflow, title="after one day — 增量采集")
        _share(console, second, title="deliveries after one day — 增量交付（变更数据）")
    correction_flow(console, sources)
    answers = _verification_flows(console, home)
    _access_record(console, answers, port=port)
    moved = sum(s.get("extracted") or 0 for s in second)
    total = sum(s.get("extracted") or 0 for s in first)
    console.print(
        f"[bold]only the changes moved:[/] {moved:,} rows in the second round against {total:,} in the first. "
        f"Lake: {get_settings().lake_root} · metadata: {get_settings().metadata_url}"
    )
    console.print("next: `.venv/bin/govhub status`, `.venv/bin/govhub ingest person`, see README.md")


def write_demo_keys() -> Path:
    """Issue fresh keys for every department and the demo's approval systems; write them to one 0600 file.

    Departments call the API with `X-API-Key`, approval systems with `X-Client-Key`. Issuing replaces
    the old keys, so the file always holds the keys that work now.
    """
    from sqlalchemy import select

    from catalog import Department, issue_api_key
    from exchange.verify import seed_demo_clients
    from govhub.db import session_scope

    lines = ["# govhub demo keys (shown once; re-run `make run` or `govhub catalog issue-key NAME` for new ones)"]
    with session_scope() as session:
        lines.append("# departments — header X-API-Key")
        for d in session.scalars(select(Department).order_by(Department.kind, Department.code)):
            lines.append(f"{d.name}\t{d.code}\t{issue_api_key(session, d.code)}")
        lines.append("# approval systems (verification clients) — header X-Client-Key")
        lines += [f"{client}\t{key}" for client, key in seed_demo_clients(session).items()]
    path = get_settings().keys_dir / "demo-keys.txt"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600)
    path.chmod(0o600)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def serve_monitor(console: Console, *, port: int, serve: bool) -> None:
    """Give the demo an administrator and serve the web app; print where to sign in."""
    import secrets

    from web.monitor.auth import create_admin

    password = secrets.token_urlsafe(9)
    create_admin(get_settings().keys_dir, "admin", password)
    url = f"http://127.0.0.1:{port}/monitor"
    console.print(f"[bold]monitor (数据管理员):[/] {url} — sign in as [bold]admin[/] / [bold]{password}[/]")
    keys = write_demo_keys()
    console.print(
        f"[bold]department and client keys (部门与核验客户端密钥):[/] {keys} — departments sign in to the monitor "
        f"or call the API with X-API-Key, approval systems call /api/verify with X-Client-Key; "
        f"`govhub department list` lists departments, `govhub catalog issue-key 市人社局` issues a new key"
    )
    if not serve:
        return
    import uvicorn

    console.print("serving the monitor and the API (/docs); Ctrl-C to stop")
    uvicorn.run("web.app:create_app", factory=True, host="127.0.0.1", port=port, log_level="warning")
