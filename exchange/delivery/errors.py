"""Errors of the delivery room: one class naming the subscription, department and what to do."""

from __future__ import annotations

from schemas.errors import GovhubError

__all__ = ["DeliveryError"]


class DeliveryError(GovhubError):
    """A delivery could not be made; the hub records it failed and retries it on the next run.

    `code` is the short error code written to the exchange log (`target_unreachable`,
    `target_write_failed`, `lake_write_failed`, `feed_failed`, `not_granted`, `bad_page_token`,
    `after_version_ahead`); `current_version` is the resource's version when the caller's is beyond it.
    """

    def __init__(
        self,
        message: str,
        *,
        code: str,
        subscription_id: int | None = None,
        department: str | None = None,
        current_version: int | None = None,
    ):
        self.code = code
        self.subscription_id = subscription_id
        self.department = department
        self.current_version = current_version
        super().__init__(message)
