"""`python -m web.monitor create-admin NAME`: add a monitor administrator (or set a new password)."""

from __future__ import annotations

from typing import Annotated

import typer

from govhub.settings import get_settings
from web.monitor.auth import admin_store_path, create_admin

__all__ = ["app"]

app = typer.Typer(help="The monitor (监控) web pages: administrators who may sign in.", no_args_is_help=True)


@app.command("create-admin")
def create_admin_command(
    username: Annotated[str, typer.Argument(help="The administrator's user name.")],
    password: Annotated[
        str,
        typer.Option(
            prompt=True,
            confirmation_prompt=True,
            hide_input=True,
            envvar="GOVHUB_MONITOR_PASSWORD",
            help="At least 8 characters; asked for when not given.",
        ),
    ],
    may_see_pii: Annotated[
        bool, typer.Option("--may-see-pii", help="Role pii_viewer: may see personal data in clear (each view logged).")
    ] = False,
) -> None:
    """Store the administrator's Argon2id hash (and role) in <GOVHUB_HOME>/keys/monitor-admins.json."""
    keys = get_settings().keys_dir
    create_admin(keys, username, password, may_see_pii=may_see_pii)
    typer.echo(f"administrator {username} can sign in at /monitor/login ({admin_store_path(keys)})")


@app.command("list-admins")
def list_admins() -> None:
    """The administrators' user names (never their hashes)."""
    import json

    path = admin_store_path(get_settings().keys_dir)
    names = sorted(json.loads(path.read_text(encoding="utf-8"))) if path.exists() else []
    typer.echo("\n".join(names) if names else "no administrators yet: run create-admin")


@app.command("data-docs")
def data_docs_command() -> None:
    """Build GX's Data Docs from every version's stored suite results (the monitor also builds them on view)."""
    from sqlalchemy.orm import Session

    from govhub.db import get_engine
    from web.monitor.data_docs import ensure_built

    with Session(get_engine()) as session:
        site = ensure_built(session)
    typer.echo(f"GX Data Docs in {site}: open /monitor/data-docs (administrators)")
