"""Media uploads: decoded by Pillow, size and pixel limits, EXIF stripped, variants, long caching."""

from __future__ import annotations

import io
import struct
import zlib

from PIL import Image


def jpeg_with_exif(width: int = 400, height: int = 200) -> bytes:
    exif = Image.Exif()
    exif[0x010F] = "SpyCam Inc."  # Make
    exif[0x0110] = "Model X"  # Model
    exif[0x0112] = 6  # Orientation: rotate 90 degrees clockwise to display
    out = io.BytesIO()
    Image.new("RGB", (width, height), (200, 30, 30)).save(out, "JPEG", exif=exif.tobytes())
    return out.getvalue()


def png_header_only(width: int, height: int) -> bytes:
    """A PNG that claims huge dimensions in a few bytes: what a decompression bomb looks like."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")
    )


async def upload(catalog, content: bytes, name: str = "photo.jpg", **data):
    files = {"file": (name, content, "application/octet-stream")}
    return await catalog.client.post("/api/v1/admin/media", files=files, data=data, headers=catalog.staff)


async def test_upload_strips_exif_applies_orientation_and_makes_variants(catalog):
    response = await upload(catalog, jpeg_with_exif(), alt_text="A red square")
    assert response.status_code == 201, response.text
    media = response.json()["data"]
    assert media["content_type"] == "image/jpeg"
    assert (media["width"], media["height"]) == (200, 400)  # rotated by its orientation tag
    assert media["alt_text"] == "A red square" and media["original_filename"] == "photo.jpg"
    assert set(media["variants"]) == {"thumb", "medium", "large"}

    original = await catalog.client.get(media["url"])
    assert original.status_code == 200 and original.headers["content-type"] == "image/jpeg"
    assert original.headers["cache-control"] == "public, max-age=31536000, immutable"
    image = Image.open(io.BytesIO(original.content))
    assert len(image.getexif()) == 0
    assert b"SpyCam" not in original.content

    thumb = await catalog.client.get(media["variants"]["thumb"])
    assert thumb.status_code == 200
    assert max(Image.open(io.BytesIO(thumb.content)).size) <= 320
    assert b"SpyCam" not in thumb.content
    not_modified = await catalog.client.get(media["url"], headers={"If-None-Match": original.headers["etag"]})
    assert not_modified.status_code == 304 and not_modified.content == b""
    assert (await catalog.client.get(f"{media['url']}/huge")).status_code == 404
    assert (await catalog.client.get("/api/v1/media/99999999")).status_code == 404


async def test_png_with_transparency_stays_png(catalog):
    out = io.BytesIO()
    Image.new("RGBA", (50, 50), (0, 0, 0, 0)).save(out, "PNG")
    response = await upload(catalog, out.getvalue(), name="logo.png")
    assert response.status_code == 201
    assert response.json()["data"]["content_type"] == "image/png"


async def test_not_an_image_is_415(catalog):
    response = await upload(catalog, b"<?php system($_GET['c']); ?>", name="shell.jpg")
    assert response.status_code == 415
    assert response.json()["success"] is False and "file" in response.json()["errors"]
    as_json = await catalog.client.post("/api/v1/admin/media", json={"file": "x"}, headers=catalog.staff)
    assert as_json.status_code == 415


async def test_truncated_image_is_422(catalog):
    data = jpeg_with_exif(800, 800)
    response = await upload(catalog, data[: len(data) // 2])
    assert response.status_code == 422
    assert response.json()["error"] == "Image data is damaged or truncated"


async def test_decompression_bombs_are_413(catalog):
    # Above our own pixel limit (40 Mpx by default) but below Pillow's warning threshold...
    response = await upload(catalog, png_header_only(8000, 8000), name="big.png")
    assert response.status_code == 413 and "too many pixels" in response.json()["error"]
    # ...and far above Pillow's own limit.
    response = await upload(catalog, png_header_only(100_000, 100_000), name="bomb.png")
    assert response.status_code == 413


async def test_byte_limit_is_413(catalog):
    response = await upload(catalog, b"\0" * (catalog.app.state.settings.catalog_media_max_bytes + 100_000))
    assert response.status_code == 413
    assert response.json()["success"] is False


async def test_form_errors(catalog):
    no_file = await catalog.client.post(
        "/api/v1/admin/media", data={"alt_text": "x"}, files={"other": ("a.txt", b"a")}, headers=catalog.staff
    )
    assert no_file.status_code == 422
    extra = await upload(catalog, jpeg_with_exif(), owner="someone")
    assert extra.status_code == 422 and extra.json()["errors"] == {"owner": ["unknown field"]}
    anonymous = await catalog.client.post("/api/v1/admin/media", files={"file": ("a.jpg", jpeg_with_exif())})
    assert anonymous.status_code == 401
    plain = await catalog.client.post(
        "/api/v1/admin/media", files={"file": ("a.jpg", jpeg_with_exif())}, headers=catalog.user
    )
    assert plain.status_code == 403


async def test_media_used_by_a_location_and_deleted(catalog):
    media = (await upload(catalog, jpeg_with_exif())).json()["data"]
    body = {"slug": f"pic-{media['id']}", "name": "Pictured", "mood_category": "hybrid", "image_media_id": media["id"]}
    location = (await catalog.client.post("/api/v1/admin/locations", json=body, headers=catalog.staff)).json()["data"]
    public = (await catalog.client.get(f"/api/v1/locations/{location['slug']}")).json()["data"]
    assert public["image"]["url"] == media["url"]
    assert (await catalog.client.delete(f"/api/v1/admin/media/{media['id']}", headers=catalog.staff)).status_code == 204
    assert (await catalog.client.get(media["url"])).status_code == 404
    public = (await catalog.client.get(f"/api/v1/locations/{location['slug']}")).json()["data"]
    assert public["image"] is None
    listed = (await catalog.client.get("/api/v1/admin/media", headers=catalog.staff)).json()
    assert media["id"] not in [m["id"] for m in listed["data"]]
