"""Qwen-VL processors without the video processor.

The stock Qwen2-VL / Qwen2.5-VL processors build a video processor that needs torchvision, which has no working
CPU build here, and `AutoProcessor` then silently falls back to the bare tokenizer. These subclasses keep the
image path (the PIL image processor) and the exact tokenisation, and load and save like any HF processor.
"""

from __future__ import annotations

from transformers.models.qwen2_5_vl.processing_qwen2_5_vl import Qwen2_5_VLProcessor
from transformers.models.qwen2_vl.processing_qwen2_vl import Qwen2VLProcessor
from transformers.processing_utils import ProcessorMixin


def _init_image_only(self, image_processor, tokenizer, chat_template) -> None:
    self.image_token = getattr(tokenizer, "image_token", None) or "<|image_pad|>"
    self.video_token = getattr(tokenizer, "video_token", None) or "<|video_pad|>"
    self.image_token_id = tokenizer.convert_tokens_to_ids(self.image_token)
    self.video_token_id = tokenizer.convert_tokens_to_ids(self.video_token)
    ProcessorMixin.__init__(self, image_processor, tokenizer, chat_template=chat_template)


class ImageOnlyQwen2VLProcessor(Qwen2VLProcessor):
    def __init__(self, image_processor=None, tokenizer=None, chat_template=None, **kwargs):
        _init_image_only(self, image_processor, tokenizer, chat_template)


class ImageOnlyQwen2_5_VLProcessor(Qwen2_5_VLProcessor):  # noqa: N801 (mirrors the transformers class name)
    def __init__(self, image_processor=None, tokenizer=None, chat_template=None, **kwargs):
        _init_image_only(self, image_processor, tokenizer, chat_template)
