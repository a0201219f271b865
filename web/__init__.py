"""The hub's FastAPI app: REST API, verification endpoints, the monitor and catalogue pages."""

from web.app import create_app

__all__ = ["create_app"]
