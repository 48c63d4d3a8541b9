"""Malformed uploads of every accepted type: always 413/415/422 in the envelope, never a 500.

The three files a black-box probe found (a PNG whose zTXt chunk inflates past Pillow's text
limit, a 62-byte BMP with an unknown header size, a 34-byte WebP), then truncated and bit-flipped
copies of small valid JPEG, PNG, WebP and GIF files (seeded, so a failure replays).
"""

from __future__ import annotations

import io
import random
import struct
import zlib

import pytest
from PIL import Image
from test_media import upload

REFUSALS = {413, 415, 422}


def chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png_with_ztxt_bomb() -> bytes:
    header = struct.pack(">IIBBBBB", 4, 4, 8, 2, 0, 0, 0)
    text = b"Comment\0\0" + zlib.compress(b"a" * (4 * 1024 * 1024))  # inflates past MAX_TEXT_CHUNK (1 MB)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"zTXt", text)
        + chunk(b"IDAT", zlib.compress(b"\0" * 52))
        + chunk(b"IEND", b"")
    )


def bmp_with_unknown_header() -> bytes:
    body = b"BM" + struct.pack("<IHHI", 62, 0, 0, 54) + struct.pack("<I", 99)  # header size 99: no such BMP
    return body + b"\0" * (62 - len(body))


def tiny_webp() -> bytes:
    payload = b"VP8 " + struct.pack("<I", 14) + b"\x00" * 14
    return (b"RIFF" + struct.pack("<I", 4 + len(payload)) + b"WEBP" + payload)[:34]


def sample(fmt: str) -> bytes:
    out = io.BytesIO()
    image = Image.new("RGB", (48, 32), (10, 120, 200))
    for x in range(48):
        image.putpixel((x, x % 32), (x * 5, 0, 255 - x * 5))
    image.save(out, fmt)
    return out.getvalue()


def mutations(data: bytes, seed: int) -> list[bytes]:
    rng = random.Random(seed)
    cut = [data[: max(1, len(data) * n // 10)] for n in range(1, 10)] + [data[:8], data[:16]]
    flipped = []
    for _ in range(14):
        damaged = bytearray(data)
        for _ in range(rng.randint(1, 6)):
            position = rng.randrange(len(damaged))
            damaged[position] ^= 1 << rng.randrange(8)
        flipped.append(bytes(damaged))
    return cut + flipped


@pytest.mark.parametrize(
    ("name", "content"),
    [("text.png", png_with_ztxt_bomb()), ("odd.bmp", bmp_with_unknown_header()), ("tiny.webp", tiny_webp())],
)
async def test_the_probe_files_are_refused_in_the_envelope(catalog, name: str, content: bytes):
    response = await upload(catalog, content, name=name)
    assert response.status_code in (415, 422), response.text
    assert response.json()["success"] is False and response.json()["error"]


@pytest.mark.parametrize(("fmt", "seed"), [("JPEG", 1), ("PNG", 2), ("WEBP", 3), ("GIF", 4)])
async def test_truncated_and_bit_flipped_files_never_500(catalog, fmt: str, seed: int):
    statuses = []
    for content in mutations(sample(fmt), seed):
        response = await upload(catalog, content, name=f"fuzz.{fmt.lower()}")
        assert response.status_code in REFUSALS | {201}, (fmt, response.status_code, response.text)
        if response.status_code != 201:
            assert response.json()["success"] is False
        statuses.append(response.status_code)
    assert set(statuses) & REFUSALS, "no mutation was refused: the fuzzing does not reach the decoder"
