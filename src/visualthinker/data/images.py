"""Decoding of the image shapes found in the wild (raw bytes, {bytes, path} dicts, PIL images, file paths) to RGB,
and the one check of what the vision processor can take. Training, evaluation and `data validate` all go through
`prepare_image`, so validate finds exactly the images the others would fail on.

Modes are converted deliberately, not by PIL's clipping defaults: 16-bit grayscale ("I;16*", and "I" holding
values above 255) is scaled by 255/65535; float "F" images with every value in [0, 1] are scaled by 255 (others
clipped to 0..255); transparent images (RGBA, LA, PA, P with transparency) are composited on white, as
transformers' `convert_to_rgb` does when the processor is handed such an image.
"""

from __future__ import annotations

import io
import math
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, UnidentifiedImageError

from visualthinker.errors import DataError

ImageSource = bytes | dict | Image.Image | str | Path

# Qwen2-VL's (and Qwen2.5-VL's) smart_resize refuses a longer/shorter side ratio above this.
MAX_ASPECT_RATIO = 200
_SIXTEEN_BIT = ("I;16", "I;16L", "I;16B", "I;16N")
_ALPHA = ("RGBA", "LA", "PA", "RGBa", "La")


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
            if path.is_dir():
                raise DataError(f"{where}: image path {path} is a directory, not an image file")
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
    try:
        return to_rgb(image)
    except (OSError, ValueError) as exc:
        raise DataError(f"{where}: image mode {image.mode!r} cannot be converted to RGB ({exc}); "
                        "re-save it as an 8-bit RGB PNG or JPEG") from exc


def to_rgb(image: Image.Image) -> Image.Image:
    """Every PIL mode to 8-bit RGB, keeping the picture (see the module docstring for the choices)."""
    mode = image.mode
    if mode == "RGB":
        return image
    if mode in _SIXTEEN_BIT or mode == "I":
        values = np.asarray(image).astype(np.float64)
        if mode in _SIXTEEN_BIT or values.size and values.max() > 255:
            values = values * (255.0 / 65535.0)
        return Image.fromarray(np.clip(values, 0, 255).round().astype(np.uint8), "L").convert("RGB")
    if mode == "F":
        values = np.asarray(image).astype(np.float64)
        finite = values[np.isfinite(values)]
        if finite.size and finite.min() >= 0 and finite.max() <= 1:
            values = values * 255.0
        values = np.nan_to_num(values, nan=0.0, posinf=255.0, neginf=0.0)
        return Image.fromarray(np.clip(values, 0, 255).round().astype(np.uint8), "L").convert("RGB")
    if mode in _ALPHA or (mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA") if mode != "La" else image.convert("LA").convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB")


def check_processable(image: Image.Image, where: str) -> Image.Image:
    """Reject what the vision processor would crash on, with the fix; returns the image."""
    w, h = image.size
    if min(w, h) < 1:
        raise DataError(f"{where}: image is {w}x{h}, which has no pixels; drop the record or fix the image")
    ratio = max(w, h) / min(w, h)
    if ratio > MAX_ASPECT_RATIO:
        raise DataError(f"{where}: image is {w}x{h} (aspect ratio {ratio:.0f}:1); the vision processor takes at "
                        f"most {MAX_ASPECT_RATIO}:1, so crop or pad it, or drop the record")
    return image


def prepare_image(value: Any, where: str, base_dir: Path | None = None, max_pixels: int | None = None,
                  min_pixels: int | None = None) -> Image.Image:
    """Decode, check and bound one image exactly as training and evaluation hand it to the processor."""
    image = check_processable(decode_image(value, where, base_dir), where)
    return bound_pixels(image, max_pixels, min_pixels)


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
    new_w, new_h = max(1, int(w * scale)), max(1, int(h * scale))
    # Rounding a side of a few pixels can push the aspect ratio past the processor's limit: widen the short side.
    if new_w >= new_h:
        new_h = max(new_h, math.ceil(new_w / MAX_ASPECT_RATIO))
    else:
        new_w = max(new_w, math.ceil(new_h / MAX_ASPECT_RATIO))
    return image.resize((new_w, new_h), Image.Resampling.BICUBIC)
