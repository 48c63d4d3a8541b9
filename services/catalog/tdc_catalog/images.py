"""Decoding uploads with Pillow: what the file really is, how big it opens, and its variants.

The pixel count is checked from the header before any pixel is decoded, so a small file that
would inflate to gigabytes (a decompression bomb) is refused without being expanded. Saving a
fresh encode without the `exif` (and XMP) data strips camera metadata, GPS included, after
`exif_transpose` has applied the orientation it carried.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass, field

from PIL import Image, ImageOps, UnidentifiedImageError

# Output format per input format: what browsers show, and lossless where the source was.
FORMATS = {"JPEG": "JPEG", "PNG": "PNG", "WEBP": "WEBP", "GIF": "PNG"}
CONTENT_TYPES = {"JPEG": ("image/jpeg", "jpg"), "PNG": ("image/png", "png"), "WEBP": ("image/webp", "webp")}
VARIANT_SIZES = {"thumb": 320, "medium": 800, "large": 1600}
_STRIPPED_INFO = ("exif", "xmp", "XML:com.adobe.xmp", "comment", "photoshop")


class ImageRejected(Exception):
    def __init__(self, status: int, message: str) -> None:
        self.status = status
        self.message = message
        super().__init__(message)


@dataclass
class Processed:
    content_type: str
    extension: str
    width: int
    height: int
    files: dict[str, bytes] = field(default_factory=dict)
    sizes: dict[str, tuple[int, int]] = field(default_factory=dict)


def _encode(image: Image.Image, fmt: str) -> bytes:
    out = io.BytesIO()
    if fmt == "JPEG":
        image.save(out, "JPEG", quality=86, optimize=True, progressive=True)
    elif fmt == "WEBP":
        image.save(out, "WEBP", quality=86)
    else:
        image.save(out, "PNG", optimize=True)
    return out.getvalue()


def process(data: bytes, max_pixels: int) -> Processed:
    """The upload decoded and re-encoded, or ImageRejected: every decoder error has one mapping.

    Pillow's decoders fail on malformed input with many exception types (OSError, ValueError,
    SyntaxError, struct.error, EOFError, IndexError, ...), when opening, loading or converting:
    whatever escapes is damaged input (422), never a server error.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            return _process(data, max_pixels)
        except ImageRejected:
            raise
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise ImageRejected(413, "Image has too many pixels") from exc
        except UnidentifiedImageError as exc:
            raise ImageRejected(415, "Not an image (JPEG, PNG, WebP or GIF expected)") from exc
        except Exception as exc:  # untrusted bytes: any decoder failure is damaged input (see above)
            raise ImageRejected(422, "Image data is damaged or truncated") from exc


def _process(data: bytes, max_pixels: int) -> Processed:
    image = Image.open(io.BytesIO(data))
    source_format = image.format or ""
    if source_format not in FORMATS:
        raise ImageRejected(415, f"Image format {source_format} is not accepted (JPEG, PNG, WebP or GIF)")
    width, height = image.size
    if width * height > max_pixels:
        raise ImageRejected(413, f"Image has too many pixels ({width}x{height}; at most {max_pixels} in all)")
    image.seek(0)  # the first frame of an animation
    image.load()
    image = ImageOps.exif_transpose(image)
    fmt = FORMATS[source_format]
    has_alpha = image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info)
    if fmt == "JPEG" and has_alpha:
        fmt = "PNG"
    if fmt == "JPEG":
        image = image.convert("RGB")
    elif image.mode not in ("RGB", "RGBA"):
        image = image.convert("RGBA" if has_alpha else "RGB")
    for key in _STRIPPED_INFO:
        image.info.pop(key, None)
    content_type, extension = CONTENT_TYPES[fmt]
    result = Processed(content_type, extension, image.width, image.height)
    result.files["original"] = _encode(image, fmt)
    result.sizes["original"] = image.size
    for name, edge in VARIANT_SIZES.items():
        variant = image.copy()
        variant.thumbnail((edge, edge), Image.Resampling.LANCZOS)
        result.files[name] = _encode(variant, fmt)
        result.sizes[name] = variant.size
    return result
