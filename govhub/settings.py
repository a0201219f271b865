"""The hub's settings now live in `core.settings`; this module keeps the old import path working."""

from core.settings import (
    DEV_CREDIT_TOKEN,
    Settings,
    get_settings,
    reset_settings,
    set_credit_base_url,
    set_home,
    set_source_urls,
)

__all__ = [
    "DEV_CREDIT_TOKEN",
    "Settings",
    "get_settings",
    "reset_settings",
    "set_credit_base_url",
    "set_home",
    "set_source_urls",
]
