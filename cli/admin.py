"""`govhub admin ...`: API keys of the sharing authority (the hub's administrators), e.g. to decide disputes."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from cli.catalog import catalog_session
from cli.support import BEIJING_COLUMN, beijing, bilingual, console

__all__ = ["admin_app"]

admin_app = typer.Typer(
    help="共享主管部门 — the sharing authority's API keys (header X-Admin-Key).", no_args_is_help=True
)


@admin_app.command("issue-key")
@bilingual
def issue_key(name: Annotated[str, typer.Argument(help="Whose key: letters, digits, - or _ (zhang-wei).")]) -> None:
    """Issue a new admin API key (the old key of that name stops working); printed once, stored hashed."""
    from catalog import issue_admin_key

    with catalog_session() as session:
        key = issue_admin_key(session, name)
    console.print(key, highlight=False)


@admin_app.command("revoke-key")
@bilingual
def revoke_key(name: Annotated[str, typer.Argument(help="The key's name.")]) -> None:
    """Stop an admin API key from working."""
    from catalog import revoke_admin_key

    with catalog_session() as session:
        revoke_admin_key(session, name)
    console.print(f"已作废 revoked: {name}")


@admin_app.command("list-keys")
@bilingual
def list_keys() -> None:
    """The admin API keys: name, issued, active (never the key)."""
    from catalog import list_admin_keys

    with catalog_session() as session:
        table = Table(title="admin API keys 管理员密钥")
        for column in ("name 名称", "issued 签发时间" + BEIJING_COLUMN, "active 有效"):
            table.add_column(column)
        for key in list_admin_keys(session):
            table.add_row(key.name, beijing(key.issued_at), "有效 yes" if key.active else "已作废 no")
    console.print(table)
