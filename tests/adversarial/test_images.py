"""Images in every PIL mode decode to the picture they hold (16-bit grayscale included), and images the vision
processor cannot take are rejected by `data validate`, training and evaluation with one and the same message."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from tests.adversarial.conftest import assert_problem, cli, good_row, write_records_dir
from visualthinker.data.images import MAX_ASPECT_RATIO, bound_pixels, decode_image
from visualthinker.errors import DataError


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def test_16_bit_grayscale_png_keeps_its_grey_levels():
    ramp = np.linspace(0, 65535, 64 * 64).reshape(64, 64).astype(np.uint16)
    data = _png(Image.fromarray(ramp))
    assert Image.open(io.BytesIO(data)).mode in ("I;16", "I")  # what Pillow makes of a 16-bit PNG
    rgb = np.asarray(decode_image(data, "ramp.png"))
    expected = np.round(ramp / 257.0)
    assert rgb.shape == (64, 64, 3) and np.abs(rgb[..., 0] - expected).max() <= 1
    # PIL's own convert("RGB") clips every value above 255 to white: the bug this replaces
    assert np.asarray(Image.open(io.BytesIO(data)).convert("RGB")).mean() > 250 > rgb.mean() + 100


@pytest.mark.parametrize("mode", ["I;16", "I;16B", "I"])
def test_16_bit_modes_in_memory(mode):
    dtype = {"I;16": "<u2", "I;16B": ">u2", "I": "<i4"}[mode]
    image = Image.frombytes(mode, (8, 8), np.full((8, 8), 32896, dtype=dtype).tobytes())
    assert image.mode == mode and image.getpixel((0, 0)) == 32896
    assert tuple(np.asarray(decode_image(image, "x"))[0, 0]) == (128, 128, 128)


def test_8_bit_values_in_mode_i_are_not_darkened():
    image = Image.new("L", (4, 4), 200).convert("I")
    assert tuple(np.asarray(decode_image(image, "x"))[0, 0]) == (200, 200, 200)


def test_float_image_in_unit_range():
    image = Image.fromarray(np.full((4, 4), 0.5, dtype=np.float32))
    assert image.mode == "F"
    assert tuple(np.asarray(decode_image(image, "x"))[0, 0]) == (128, 128, 128)


@pytest.mark.parametrize("mode", ["RGBA", "LA", "PA"])
def test_transparent_pixels_become_white_not_black(mode):
    image = Image.new("RGBA", (4, 4), (10, 20, 30, 0))
    image = image.convert(mode) if mode != "PA" else image.convert("P").convert("PA")
    assert tuple(np.asarray(decode_image(_png(image) if mode != "PA" else image, "x"))[0, 0]) == (255, 255, 255)


def test_palette_transparency_and_other_modes():
    p = Image.new("P", (4, 4), 0)
    p.putpalette([0, 0, 0] * 256)
    p.info["transparency"] = 0
    assert tuple(np.asarray(decode_image(p, "x"))[0, 0]) == (255, 255, 255)
    for mode, colour in [("1", (255, 255, 255)), ("L", (77, 77, 77)), ("CMYK", (255, 255, 255)),
                         ("YCbCr", None), ("HSV", None), ("LAB", None)]:
        image = Image.new("L", (4, 4), 77).convert(mode) if mode != "1" else Image.new("1", (4, 4), 1)
        if mode == "CMYK":
            image = Image.new("CMYK", (4, 4), (0, 0, 0, 0))
        out = decode_image(image, "x")
        assert out.mode == "RGB" and out.size == (4, 4)
        if colour is not None:
            assert tuple(np.asarray(out)[0, 0]) == colour


def test_extreme_aspect_ratio_same_message_from_validate_and_training(tmp_path, capsys):
    data = write_records_dir(tmp_path / "d", rows=[good_row(0)], image_size=(2, 700))
    problem = assert_problem(cli(["data", "validate", data], capsys), "records.jsonl row 0", "image 0", "2x700",
                             "aspect ratio 350:1", f"at most {MAX_ASPECT_RATIO}:1")
    from visualthinker.data import load_records

    record = load_records(data)[0]
    with pytest.raises(DataError) as caught:
        record.load_images(12544, 3136)  # what the trainer and the evaluation call
    assert f"problem: {caught.value}" == problem


def test_thin_but_legal_images_reach_the_processor(tmp_path):
    """Images at the limit (and the upscaling of tiny ones) must survive the real Qwen2-VL image processor."""
    from transformers import Qwen2VLImageProcessorPil  # the class models/adapter.py uses (no torchvision)

    processor = Qwen2VLImageProcessorPil(min_pixels=3136, max_pixels=12544)
    for size in [(1, 199), (199, 1), (3, 600), (1, 1), (200, 1)]:
        image = bound_pixels(decode_image(Image.new("RGB", size, (9, 9, 9)), "x"), 12544, 3136)
        w, h = image.size
        assert max(w, h) / min(w, h) <= MAX_ASPECT_RATIO, (size, image.size)
        processor(images=[image], return_tensors="pt")  # raises on anything it cannot take
    with pytest.raises(ValueError, match="aspect ratio"):  # ... as it does on what prepare_image rejects
        processor(images=[Image.new("RGB", (2, 700))], return_tensors="pt")


def test_corrupt_and_missing_images_are_problems(tmp_path, capsys):
    rows = [good_row(0, "images/missing.png"), good_row(1, "images/bad.png"), good_row(2, "images")]
    data = write_records_dir(tmp_path / "d", rows=rows)
    (data / "images" / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    result = cli(["data", "validate", data], capsys)
    assert_problem(result, "row 0", "does not exist")
    assert_problem(result, "row 1", "cannot be decoded")
    assert_problem(result, "row 2", "is a directory")
