"""A rendered document (a report's or a digest's HTML or PDF) served inline, or 404 until it is rendered."""

from __future__ import annotations

from pathlib import Path

from fastapi.responses import FileResponse

from jianyi.errors import NotFound

MEDIA = {"pdf": "application/pdf", "html": "text/html; charset=utf-8"}


def document(path: str | None, *, what: str, suffix: str, filename: str) -> FileResponse:
    if not path or not Path(path).is_file():
        raise NotFound(f"{what} has no {suffix.upper()} file (not rendered yet)")
    return FileResponse(path, media_type=MEDIA[suffix], filename=filename, content_disposition_type="inline")
