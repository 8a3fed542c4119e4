"""The front-end files, served by jianyi itself (no CDN): the npm packages' built files by name
(package-lock.json pins them; only the files listed here are served, not node_modules), and the
pages' own CSS and scripts from jianyi/web/static."""

from __future__ import annotations

from pathlib import Path
from typing import Final

from fastapi import APIRouter
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

from jianyi.errors import NotFound
from jianyi.settings import get_settings

OWN = Path(__file__).resolve().parent / "static"

# /static/vendor/<name> → the file under node_modules.
VENDOR: Final[dict[str, str]] = {
    "htmx.min.js": "htmx.org/dist/htmx.min.js",
    "echarts.min.js": "echarts/dist/echarts.common.min.js",  # with the SVG renderer
    "pico.min.css": "@picocss/pico/css/pico.min.css",
    "swagger-ui.css": "swagger-ui-dist/swagger-ui.css",
    "swagger-ui-bundle.js": "swagger-ui-dist/swagger-ui-bundle.js",
    "redoc.standalone.js": "redoc/bundles/redoc.standalone.js",
}
_LONG_CACHE = {"cache-control": "public, max-age=86400"}

router = APIRouter(include_in_schema=False)


@router.get("/static/vendor/{name}")
def vendor(name: str) -> FileResponse:
    relative = VENDOR.get(name)
    if relative is None:
        raise NotFound(f"no front-end file {name!r}")
    path = get_settings().node_modules / relative
    if not path.is_file():
        raise NotFound(f"{name} is not installed: run `make` (npm ci)")
    return FileResponse(path, headers=_LONG_CACHE)


def own_files() -> StaticFiles:
    return StaticFiles(directory=OWN)
