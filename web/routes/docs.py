"""The API docs (Swagger UI at /docs, ReDoc at /redoc) served from the hub's own static files.

The intranet has no internet: FastAPI's default pages load their scripts from a CDN and stay blank
there, so the app turns them off (`docs_url=None, redoc_url=None`) and these routes point the same
pages at the copies vendored under `web/static/vendor/` (swagger-ui-dist 5.35.0, redoc 2.5.4).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse

__all__ = ["REDOC_JS", "SWAGGER_CSS", "SWAGGER_JS", "router"]

router = APIRouter(include_in_schema=False)

_VENDOR = "/static/vendor"
SWAGGER_JS = f"{_VENDOR}/swagger-ui/swagger-ui-bundle.js"
SWAGGER_CSS = f"{_VENDOR}/swagger-ui/swagger-ui.css"
REDOC_JS = f"{_VENDOR}/redoc/redoc.standalone.js"
_FAVICON = f"{_VENDOR}/swagger-ui/favicon-32x32.png"
# validatorUrl None: Swagger UI would otherwise ask validator.swagger.io about the spec.
_SWAGGER_PARAMETERS = {"validatorUrl": None, "deepLinking": True, "docExpansion": "list"}


@router.get("/docs")
def swagger_ui(request: Request) -> HTMLResponse:
    """Swagger UI over the app's OpenAPI document, every asset from the hub."""
    return get_swagger_ui_html(
        openapi_url=request.app.openapi_url,
        title=f"{request.app.title} · 接口文档 API docs",
        swagger_js_url=SWAGGER_JS,
        swagger_css_url=SWAGGER_CSS,
        swagger_favicon_url=_FAVICON,
        swagger_ui_parameters=_SWAGGER_PARAMETERS,
    )


@router.get("/redoc")
def redoc(request: Request) -> HTMLResponse:
    """ReDoc over the app's OpenAPI document, without Google Fonts."""
    return get_redoc_html(
        openapi_url=request.app.openapi_url,
        title=f"{request.app.title} · 接口文档 API reference",
        redoc_js_url=REDOC_JS,
        redoc_favicon_url=_FAVICON,
        with_google_fonts=False,
    )
