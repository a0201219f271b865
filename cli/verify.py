"""`govhub verify ...` (ask, items, refresh, seed-clients, demo) and `govhub seal verify FILE` (offline check)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from cli.support import console, deprecated_alias, err, friendly

__all__ = ["seal_app", "verify_app"]

verify_app = typer.Typer(help="数据核验 — verification questions with sealed answers.", no_args_is_help=True)
seal_app = typer.Typer(help="电子签章 — check sealed answers offline.", no_args_is_help=True)


def _pairs(values: list[str] | None, what: str, *, numbers: bool = True) -> dict[str, Any]:
    """key=value arguments; with `numbers`, a value that parses as a JSON number stays a number (params such
    as years=3). Subject fields are always text: an all-digit ID number must not become an integer."""
    out: dict[str, Any] = {}
    for pair in values or []:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise typer.BadParameter(f"{what} '{pair}' must be key=value")
        if not numbers:
            out[key] = value
            continue
        try:
            parsed = json.loads(value)
            out[key] = parsed if isinstance(parsed, int | float) and not isinstance(parsed, bool) else value
        except ValueError:
            out[key] = value
    return out


def _algorithm(chosen: str | None) -> str:
    """The seal algorithm: the option when given, else GOVHUB_SEAL_ALGORITHM."""
    from govhub.settings import get_settings

    if chosen is not None and chosen not in ("sm2", "ed25519"):
        raise typer.BadParameter(f"--algorithm must be sm2 or ed25519, got {chosen!r}")
    return chosen or get_settings().seal_algorithm


def _service(algorithm: str | None) -> Any:
    from exchange.crypto import load_or_create_signer
    from exchange.verify import ServingStore, VerificationService
    from govhub.db import get_engine, migrate
    from govhub.hub_secrets import hub_secret
    from govhub.settings import get_settings

    migrate()
    settings = get_settings()
    home = settings.resolved_home
    signer = load_or_create_signer(settings.keys_dir, algorithm=_algorithm(algorithm))  # type: ignore[arg-type]
    link_secret = hub_secret("answer-link", home=home, keys_dir=settings.keys_dir)
    return VerificationService(store=ServingStore(home), signer=signer, engine=get_engine(), link_secret=link_secret)


@verify_app.command("ask")
@friendly
def ask(
    item: Annotated[str, typer.Argument(help="Item code, e.g. identity_matches (see `govhub verify items`).")],
    client_key: Annotated[str, typer.Option("--client-key", help="The approval system's key.")],
    purpose: Annotated[str, typer.Option("--purpose", help="用途 — why the question is asked.")],
    subject: Annotated[list[str], typer.Option("--subject", help="Subject field key=value (repeat).")],
    param: Annotated[list[str] | None, typer.Option("--param", help="Parameter key=value (repeat).")] = None,
    case_number: Annotated[
        str | None, typer.Option("--case-number", help="办件编号 — the case number (required).")
    ] = None,
    url: Annotated[str | None, typer.Option(help="Ask a running hub (http://host:port) instead of in-process.")] = None,
    out: Annotated[Path | None, typer.Option(help="Save the sealed answer to this file.")] = None,
    algorithm: Annotated[
        str | None, typer.Option(help="In-process only: seal algorithm (default GOVHUB_SEAL_ALGORITHM).")
    ] = None,
    case: Annotated[str | None, typer.Option("--case", hidden=True, help="Deprecated: --case-number.")] = None,
) -> None:
    """Ask one verification question (in-process or over HTTP) and print the sealed answer."""
    case_number = deprecated_alias(case_number, case, name="--case-number", old="--case", default=None)
    if not case_number:
        raise typer.BadParameter("--case-number is required — 缺少办件编号 --case-number")
    body = {"case_number": case_number, "purpose": purpose, "subject": _pairs(subject, "--subject", numbers=False)}
    if param:
        body["params"] = _pairs(param, "--param")
    if url:
        import httpx

        response = httpx.post(f"{url.rstrip('/')}/api/verify/{item}", json=body, headers={"X-Client-Key": client_key})
        status, document = response.status_code, response.json()
    else:
        status, document = _service(algorithm).ask(item, client_key=client_key, body=body)
    text = json.dumps(document, ensure_ascii=False, indent=2)
    if status != 200:  # a problem document over HTTP, the service's {"error": ...} in-process: same members
        problem = document if "code" in document else document.get("error", {})
        line = f"{problem.get('message_zh', '')} — {problem.get('message', '')} ({problem.get('code', status)})"
        err.print(f"[bold red]error:[/] {line}", highlight=False)
        err.print(text, highlight=False)
        raise typer.Exit(1)
    if out is not None:
        out.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
    console.print_json(text)


@verify_app.command("items")
def items() -> None:
    """List the verification items: code, name, the proofs they replace, subject fields."""
    from rich.table import Table

    from exchange.verify import load_items

    table = Table(title="核验事项 — verification items")
    for column in ("code", "名称", "replaces 替代证明", "resource", "subject", "params"):
        table.add_column(column)
    for i in load_items().values():
        table.add_row(
            i.code, i.name, "、".join(i.replaces), i.resource, ", ".join(i.subject), ", ".join(p.name for p in i.params)
        )
    console.print(table)


@verify_app.command("refresh")
@friendly
def refresh(resources: Annotated[list[str] | None, typer.Argument(help="Resources (default: all).")] = None) -> None:
    """Rebuild the serving stores from the curated tables' current versions."""
    from exchange.verify import refresh_serving_store
    from govhub.settings import get_settings
    from lake import Lake
    from schemas import load_all

    settings = get_settings()
    lake = Lake(settings.lake_root, storage_options=settings.lake_storage_options)
    contracts = load_all()
    for name in resources or sorted(contracts):
        version = refresh_serving_store(lake, contracts[name], home=settings.resolved_home)
        console.print(f"{name}: serving version {version}")


@verify_app.command("seed-clients")
@friendly
def seed_clients() -> None:
    """Register (or re-key) the three demo approval systems and print their new keys once."""
    from sqlalchemy.orm import Session

    from exchange.verify import seed_demo_clients
    from govhub.db import get_engine, migrate

    migrate()
    with Session(get_engine()) as session:
        keys = seed_demo_clients(session)
        session.commit()
    for client_id, key in keys.items():
        console.print(f"{client_id}: {key}")


@verify_app.command("demo")
@friendly
def demo(
    algorithm: Annotated[str | None, typer.Option(help="sm2 or ed25519 (default GOVHUB_SEAL_ALGORITHM)")] = None,
) -> None:
    """Run the three scripted approval flows over the current lake (after `govhub ingest`)."""
    from exchange.verify.demo import run_approval_flows
    from govhub.db import get_engine, migrate
    from govhub.settings import get_settings
    from lake import Lake

    migrate()
    settings = get_settings()
    lake = Lake(settings.lake_root, storage_options=settings.lake_storage_options)
    results = run_approval_flows(
        home=settings.resolved_home,
        lake=lake,
        engine=get_engine(),
        algorithm=_algorithm(algorithm),  # type: ignore[arg-type]
        echo=console.print,
        keys_dir=settings.keys_dir,
    )
    if not all(r["offline_ok"] for r in results):
        raise typer.Exit(1)


@seal_app.command("verify")
def seal_verify(
    file: Annotated[Path, typer.Argument(help="A saved sealed answer (JSON).")],
    public_key: Annotated[
        Path | None, typer.Option("--public-key", help="PEM file (default: the hub key under GOVHUB_HOME/keys).")
    ] = None,
    request: Annotated[
        Path | None,
        typer.Option(
            help="JSON file of the request body you sent (checks the binding; item and params are filled in)."
        ),
    ] = None,
) -> None:
    """Check a sealed answer offline; exit 0 when valid, 1 (with the reason) when not."""
    from exchange.seal import verify_file

    pem_path = public_key or _default_public_key(file)
    if pem_path is None or not pem_path.exists():
        err.print("[bold red]error:[/] no public key: pass --public-key hub.pub (GET /api/verify/public-key)")
        raise typer.Exit(2)
    request_obj = json.loads(request.read_text(encoding="utf-8")) if request else None
    result = verify_file(file, public_key_pem=pem_path.read_text(encoding="ascii"), request=request_obj)
    if result.ok:
        console.print(f"[green]verified[/] {result.message}")
        return
    err.print(f"[bold red]not verified[/] ({result.reason}): {result.message}")
    raise typer.Exit(1)


def _default_public_key(file: Path) -> Path | None:
    """The hub's own public key file for the answer's algorithm, under GOVHUB_HOME/keys."""
    from govhub.settings import get_settings

    try:
        algorithm = json.loads(file.read_text(encoding="utf-8-sig"))["seal"]["algorithm"]
    except (OSError, ValueError, KeyError, TypeError):
        algorithm = "sm2"
    if algorithm not in ("sm2", "ed25519"):
        return None
    return get_settings().keys_dir / f"hub-{algorithm}.pub"
