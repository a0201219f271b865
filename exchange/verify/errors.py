"""The typed refusals of the verification API: each has an HTTP status, a stable code and a message."""

from __future__ import annotations

from typing import Any

from schemas.errors import GovhubError

__all__ = ["VerificationError"]


class VerificationError(GovhubError):
    """A verification request refused or failed; `code` is stable, `message` names what to fix.

    Messages never quote stored data: only what the caller sent (field names, rule names) and the
    catalogue. `field` names the request member at fault, when there is one.
    """

    def __init__(self, status: int, code: str, message: str, *, field: str | None = None) -> None:
        self.status = status
        self.code = code
        self.message = message
        self.field = field
        super().__init__(f"{status} {code}: {message}")

    def body(self) -> dict[str, Any]:
        """The JSON error document the API returns."""
        error: dict[str, Any] = {"status": self.status, "code": self.code, "message": self.message}
        if self.field is not None:
            error["field"] = self.field
        return {"error": error}
