"""The one error the signing layer raises: a key, a canonical form or a seal cannot be produced."""

from __future__ import annotations

from schemas.errors import GovhubError

__all__ = ["SealError"]


class SealError(GovhubError):
    """A key file, a value to canonicalise or a seal input is unusable; `where` names the file or path."""

    def __init__(self, where: str, message: str) -> None:
        self.where = where
        super().__init__(f"{where}: {message}")
