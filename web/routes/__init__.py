"""One APIRouter per resource of the API; `web.app` includes them."""
