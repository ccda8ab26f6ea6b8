"""Decoding of the image shapes found in the wild: raw bytes, {bytes, path} dicts, PIL images, file paths."""

from __future__ import annotations

import io
import math
from pathlib import Path
from typing import Any

from PIL import Image, UnidentifiedImageError

from visualthinker.errors import DataError

ImageSource = bytes | dict | Image.Image | str | Path


def decode_image(value: Any, where: str, base_dir: Path | None = None) -> Image.Image:
    """Return an RGB PIL image; `where` names the file/row/field for the error message."""
    try:
        if isinstance(value, Image.Image):
            image = value
        elif isinstance(value, (bytes, bytearray, memoryview)):
            image = Image.open(io.BytesIO(bytes(value)))
        elif isinstance(value, dict):
            if value.get("bytes"):
                image = Image.open(io.BytesIO(value["bytes"]))
            elif value.get("path"):
                return decode_image(value["path"], where, base_dir)
            else:
                raise DataError(f"{where}: image dict has neither 'bytes' nor 'path'; re-export the dataset with images embedded")
        elif isinstance(value, (str, Path)):
            path = Path(value)
            if not path.is_absolute() and base_dir is not None:
                path = base_dir / path
            if not path.exists():
                raise DataError(f"{where}: image file {path} does not exist; check the image folder option")
            image = Image.open(path)
        elif value is None:
            raise DataError(f"{where}: image is missing (null); drop the row or supply the image")
        else:
            raise DataError(f"{where}: unsupported image value of type {type(value).__name__}")
        image.load()
    except Image.DecompressionBombError as exc:
        raise DataError(f"{where}: image is too large to decode safely ({exc}); downscale it first") from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise DataError(f"{where}: image cannot be decoded ({exc}); the file is corrupt or truncated") from exc
    return image.convert("RGB") if image.mode != "RGB" else image


def bound_pixels(image: Image.Image, max_pixels: int | None, min_pixels: int | None = None) -> Image.Image:
    """Downscale (or upscale) keeping the aspect ratio so that width*height lies within the processor's limits.

    The processor would resize anyway; doing it here first keeps very large images from being held in memory
    at full size through the whole batch.
    """
    w, h = image.size
    area = w * h
    if max_pixels and area > max_pixels:
        scale = math.sqrt(max_pixels / area)
    elif min_pixels and area < min_pixels:
        scale = math.sqrt(min_pixels / area)
    else:
        return image
    size = (max(1, int(w * scale)), max(1, int(h * scale)))
    return image.resize(size, Image.Resampling.BICUBIC)
