"""/api/v1/media/{id}[/{variant}] (public, cached for a year) and /api/v1/admin/media (staff uploads).

A media id always names the same bytes (an upload is never edited in place), so its answers
are `immutable`. Files are written under `catalog_media_dir/<storage_key>/` before the row
commits, and removed again if it does not.
"""

from __future__ import annotations

import asyncio
import shutil
import uuid
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, JSONResponse, Response
from starlette.datastructures import UploadFile

from tdc_shared.auth import StaffUser
from tdc_shared.cache import etag_matches
from tdc_shared.envelope import ApiError, NotFound, Unprocessable, created, no_content
from tdc_shared.events import publish
from tdc_shared.pagination import Pagination, paginated

from ..deps import Db, invalidate_on_commit
from ..images import ImageRejected, process
from ..queries import media as queries
from ..queries.common import MEDIA_VARIANTS

router = APIRouter(prefix="/api/v1/media", tags=["media"])
admin_router = APIRouter(prefix="/api/v1/admin/media", tags=["admin: media"])

IMMUTABLE = "public, max-age=31536000, immutable"
# Room for the multipart boundaries and the small text fields next to the file.
MULTIPART_OVERHEAD = 64 * 1024

UPLOAD_SCHEMA = {
    "requestBody": {
        "required": True,
        "description": "A JPEG, PNG or WebP image (up to the service's upload limit), and its alt text.",
        "content": {
            "multipart/form-data": {
                "example": {"file": "(the image's bytes)", "alt_text": "The Nebula Dome at night"},
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {"type": "string", "format": "binary"},
                        "alt_text": {"type": "string", "maxLength": 255},
                    },
                },
            }
        },
    }
}


def _media_dir(request: Request) -> Path:
    return Path(request.app.state.settings.catalog_media_dir)


async def _serve(request: Request, db, media_id: int, variant: str) -> Response:
    async with db.session() as s:
        row = await queries.find(s, media_id)
    if row is None:
        raise NotFound("Media not found")
    etag = f'"{row["storage_key"]}-{variant}"'
    headers = {"Cache-Control": IMMUTABLE, "ETag": etag}
    if etag_matches(request.headers.get("if-none-match", "").encode("latin-1"), etag.encode()):
        return Response(status_code=304, headers=headers)
    path = _media_dir(request) / row["storage_key"] / f"{variant}.{row['extension']}"
    if not path.is_file():
        raise NotFound("Media file is missing")
    return FileResponse(path, media_type=row["content_type"], headers=headers)


@router.get("/{media_id}", summary="An uploaded image (EXIF removed)", response_class=Response)
async def get_media(media_id: int, request: Request, db: Db) -> Response:
    return await _serve(request, db, media_id, "original")


@router.get("/{media_id}/{variant}", summary="A resized variant: thumb, medium or large", response_class=Response)
async def get_variant(media_id: int, variant: str, request: Request, db: Db) -> Response:
    if variant not in MEDIA_VARIANTS:
        raise NotFound(f"No variant '{variant}'; use one of {', '.join(MEDIA_VARIANTS)}")
    return await _serve(request, db, media_id, variant)


@admin_router.get("", summary="Uploaded media, newest first")
async def admin_list(db: Db, page: Pagination, _: StaffUser) -> JSONResponse:
    async with db.session() as s:
        items, total = await queries.list_page(s, page.limit, page.offset)
    return paginated(items, page, total)


async def _read_upload(request: Request, max_bytes: int) -> tuple[UploadFile, bytes, str | None]:
    length = request.headers.get("content-length")
    if length is None or not length.isdigit():
        raise ApiError("Content-Length is required for uploads", status=411)
    if int(length) > max_bytes + MULTIPART_OVERHEAD:
        raise ApiError(f"Upload larger than {max_bytes} bytes", status=413)
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise ApiError("Send the image as multipart/form-data with a 'file' field", status=415)
    form = await request.form(max_files=1, max_fields=4)
    upload = form.get("file")
    if not isinstance(upload, UploadFile):
        raise Unprocessable(errors={"file": ["an image file is required"]})
    unknown = [name for name in form if name not in ("file", "alt_text")]
    if unknown:
        raise Unprocessable(errors={name: ["unknown field"] for name in unknown})
    alt_text = form.get("alt_text")
    if alt_text is not None and (not isinstance(alt_text, str) or len(alt_text) > 255):
        raise Unprocessable(errors={"alt_text": ["at most 255 characters of text"]})
    data = await upload.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise ApiError(f"Upload larger than {max_bytes} bytes", status=413)
    if not data:
        raise Unprocessable(errors={"file": ["the file is empty"]})
    return upload, data, alt_text


def _write(directory: Path, files: dict[str, bytes], extension: str) -> None:
    directory.mkdir(parents=True, exist_ok=False)
    for name, content in files.items():
        (directory / f"{name}.{extension}").write_bytes(content)


@admin_router.post("", status_code=201, summary="Upload an image", openapi_extra=UPLOAD_SCHEMA)
async def upload_media(request: Request, db: Db, user: StaffUser) -> JSONResponse:
    settings = request.app.state.settings
    upload, data, alt_text = await _read_upload(request, settings.catalog_media_max_bytes)
    try:
        # Decoding and resizing are CPU work: keep them off the event loop.
        async with request.app.state.decode_slots:
            image = await asyncio.to_thread(process, data, settings.catalog_media_max_pixels)
    except ImageRejected as exc:
        raise ApiError(exc.message, status=exc.status, errors={"file": [exc.message]}) from exc
    storage_key = uuid.uuid4().hex
    directory = _media_dir(request) / storage_key
    await asyncio.to_thread(_write, directory, image.files, image.extension)
    try:
        async with db.transaction() as tx:
            media_id = await queries.create(
                tx,
                {
                    "storage_key": storage_key,
                    "original_filename": (upload.filename or "")[:255] or None,
                    "content_type": image.content_type,
                    "extension": image.extension,
                    "width": image.width,
                    "height": image.height,
                    "bytes": len(image.files["original"]),
                    "variants": image.sizes,
                    "alt_text": alt_text,
                    "uploaded_by": user.sub,
                },
            )
            row = await queries.find(tx, media_id)
    except BaseException:
        await asyncio.to_thread(shutil.rmtree, directory, True)
        raise
    assert row is not None
    return created(queries.to_admin(row))


@admin_router.delete("/{media_id}", status_code=204, summary="Delete an image (pictures using it are unset)")
async def delete_media(media_id: int, request: Request, db: Db, _: StaffUser) -> Response:
    async with db.transaction() as tx:
        row = await queries.find(tx, media_id)
        if row is None:
            raise NotFound("Media not found")
        await queries.delete(tx, media_id)
        await publish(tx, "catalog.media.deleted", {"id": media_id}, source="catalog")
        invalidate_on_commit(request, tx)
    await asyncio.to_thread(shutil.rmtree, _media_dir(request) / row["storage_key"], True)
    return no_content()
