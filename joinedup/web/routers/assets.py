"""Static files (the stylesheet and the small script), served by a governed route.

Invariants: only files present in ``joinedup/web/static`` when the module loads can be served,
looked up by exact name (no paths, so no traversal); nothing is fetched from elsewhere.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from starlette.exceptions import HTTPException
from starlette.responses import FileResponse, Response

from joinedup.govern import Action, ResourceKind
from joinedup.web.governance import Granted, require
from joinedup.web.pages import STATIC_DIR, PageLink

router = APIRouter()
LINKS: tuple[PageLink, ...] = ()

MEDIA_TYPES = {".css": "text/css", ".js": "text/javascript", ".svg": "image/svg+xml"}
FILES = {
    path.name: path
    for path in STATIC_DIR.iterdir()
    if path.is_file() and path.suffix in MEDIA_TYPES
}


@router.get("/static/{name}")
async def static_file(
    name: str, granted: Annotated[Granted, Depends(require(Action.READ_PUBLIC, ResourceKind.NODE))]
) -> Response:
    path = FILES.get(name)
    if path is None:
        raise HTTPException(status_code=404)
    return FileResponse(path, media_type=MEDIA_TYPES[path.suffix])
