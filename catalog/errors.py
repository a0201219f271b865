"""The catalogue's errors: one class with a kind the web layer maps to an HTTP status."""

from __future__ import annotations

from typing import Literal

from schemas.errors import AccessDenied, GovhubError

__all__ = ["CatalogAccessDenied", "CatalogError", "CatalogErrorKind"]

CatalogErrorKind = Literal["not_found", "invalid", "conflict"]


class CatalogError(GovhubError):
    """A catalogue or subscription request cannot be carried out.

    `kind` says why (not_found, invalid, conflict) so the API answers 404/422/409; `message_zh`
    is the Chinese text shown to department users, the English text is the exception message.
    """

    def __init__(
        self,
        message: str,
        *,
        message_zh: str,
        kind: CatalogErrorKind = "invalid",
        resource: str | None = None,
        field: str | None = None,
        subscription_id: int | None = None,
    ) -> None:
        self.kind = kind
        self.message_zh = message_zh
        self.resource = resource
        self.field = field
        self.subscription_id = subscription_id
        super().__init__(message)


class CatalogAccessDenied(AccessDenied):
    """A department asked for something its role does not allow (deciding, revoking, applying)."""

    def __init__(self, message: str, *, message_zh: str, department: str | None = None) -> None:
        self.message_zh = message_zh
        self.department = department
        super().__init__(message)
