"""`python -m simulators ...`: build, tick, serve the credit API, build one registry."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import typer
import uvicorn

app = typer.Typer(help="govhub source-system simulators", no_args_is_help=True)
credit_app = typer.Typer(help="the credit platform", no_args_is_help=True)
population_app = typer.Typer(help="the population registry", no_args_is_help=True)
app.add_typer(credit_app, name="credit")
app.add_typer(population_app, name="population")


@app.command()
def build(
    home: Annotated[Path, typer.Option(help="folder for the four systems")],
    size: Annotated[
        int, typer.Option(help="persons; entities size/10, credit size/20, payments size/200 a day")
    ] = 10_000,
    seed: int = 7,
    bad_share: float = 0.02,
) -> None:
    """Build all four source systems in HOME."""
    from simulators.home import build_all

    h = build_all(home, size=size, seed=seed, bad_share=bad_share)
    print(f"built {h.root}: {h.counts}; {len(h.bad_records)} bad records (bad_records.json)")


@app.command()
def tick(
    home: Annotated[Path, typer.Option()], day: Annotated[int, typer.Option()], change_share: float = 0.01
) -> None:
    """Run simulated working day DAY in every system of HOME."""
    from simulators.tick import tick_all

    summary = tick_all(home, day=day, change_share=change_share)
    print(f"day {day}: {summary.changes}; wrote {summary.settlement_file}")


@credit_app.command("serve")
def credit_serve(
    port: int = 8701,
    host: str = "127.0.0.1",
    home: Annotated[Path | None, typer.Option(help="simulator home (uses its credit.sqlite)")] = None,
    db: Annotated[str | None, typer.Option(help="credit database path or URL (instead of --home)")] = None,
    token: str = "govhub-dev-token",
    admin_token: str = "admin",
    rate_limit: float = 50.0,
) -> None:
    """Serve the credit platform API in the foreground."""
    from simulators.credit import CreditSimulator

    target = db or str((home or Path(".")) / "credit.sqlite")
    sim = CreditSimulator(target, token=token, admin_token=admin_token, rate_limit=rate_limit, host=host, port=port)
    logging.basicConfig(level=logging.INFO)
    print(f"credit platform on http://{host}:{port} (token {token!r})")
    uvicorn.run(sim.app, host=host, port=port, log_level="info")


@population_app.command("build")
def population_build(
    url: Annotated[str, typer.Option()], size: int = 10_000, seed: int = 7, bad_share: float = 0.02
) -> None:
    """Build only the population registry at URL (SQLAlchemy URL or SQLite path)."""
    from simulators.home import build_population

    persons = build_population(url, size=size, seed=seed, bad_share=bad_share)
    print(f"loaded {len(persons)} persons ({len(persons.bad)} bad) into {url}")


if __name__ == "__main__":
    app()
