"""Model adapter for the Qwen-VL families: everything the trainer and evaluation need to know about a model
family lives here, so that neither ever names one.

An adapter loads the policy / reference model and the processor, renders a prompt, encodes prompts with their
images into model inputs, expands prompt rows into completion rows, and names the vision tower and language
model (for freezing and LoRA) and the token ids that stop or must never be sampled.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from PIL import Image
from transformers import BatchFeature, PreTrainedModel
from transformers.models.qwen2_5_vl import Qwen2_5_VLForConditionalGeneration
from transformers.models.qwen2_vl import Qwen2VLForConditionalGeneration
from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil

from visualthinker.errors import ModelError
from visualthinker.models.processor import ImageOnlyQwen2_5_VLProcessor, ImageOnlyQwen2VLProcessor
from visualthinker.prompts import PromptSpec
from visualthinker.textfiles import read_text

VISION_PLACEHOLDER = "<|vision_start|><|image_pad|><|vision_end|>"
STOP_TOKENS = ("<|im_end|>", "<|endoftext|>")
VISION_TOKENS = ("<|vision_start|>", "<|vision_end|>", "<|vision_pad|>", "<|image_pad|>", "<|video_pad|>")
# The Qwen2-VL-Instruct chat template (ChatML with the default system turn). The original SFT rendered the base
# model's training text with it, and its evaluation copied it into the SFT checkpoint.
QWEN_CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{% if loop.first and message['role'] != 'system' %}<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
    "{% endif %}<|im_start|>{{ message['role'] }}\n{% if message['content'] is string %}{{ message['content'] }}"
    "<|im_end|>\n{% else %}{% for content in message['content'] %}"
    "{% if content['type'] == 'image' or 'image' in content or 'image_url' in content %}"
    "<|vision_start|><|image_pad|><|vision_end|>"
    "{% elif 'text' in content %}{{ content['text'] }}{% endif %}{% endfor %}<|im_end|>\n{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


@dataclass(frozen=True)
class QwenVLAdapter:
    family: str
    model_class: type[PreTrainedModel]
    processor_class: type
    # FSDP2 units: each decoder layer and each vision block is sharded as its own unit (the rest, e.g. the
    # embeddings and the vision patch embedding, stays with the root unit).
    fsdp_wrap_classes: tuple[str, ...] = ()

    # -- loading -------------------------------------------------------------------------------------------
    def load_model(self, path: str, dtype: str = "float32", attn_implementation: str | None = None) -> PreTrainedModel:
        kwargs: dict[str, Any] = {"dtype": DTYPES[dtype]}
        if attn_implementation:
            kwargs["attn_implementation"] = attn_implementation
        try:
            model = self.model_class.from_pretrained(path, **kwargs)
        except OSError as exc:
            raise ModelError(f"model {path!r} cannot be loaded ({exc}); give a local model directory or a hub id") from exc
        except (ValueError, ImportError) as exc:
            if not attn_implementation:
                raise
            reason = " ".join(str(exc).split())[:300]
            raise ModelError(f"config key 'attn_implementation': {attn_implementation!r} cannot be used here "
                             f"({reason}); use sdpa or eager, or install what it needs") from exc
        model.generation_config.pad_token_id = model.config.text_config.pad_token_id
        return model

    def load_processor(self, path: str, min_pixels: int | None = None, max_pixels: int | None = None):
        try:
            image_processor = Qwen2VLImageProcessorPil.from_pretrained(path)
            from transformers import AutoTokenizer

            tokenizer = AutoTokenizer.from_pretrained(path)
        except OSError as exc:
            raise ModelError(f"processor files in {path!r} cannot be loaded ({exc}); the directory needs the "
                             "tokenizer and preprocessor_config.json of the model") from exc
        # Pixel limits live in `size` (shortest_edge = min pixels, longest_edge = max pixels, in area).
        size = dict(image_processor.size)
        if min_pixels is not None:
            size["shortest_edge"] = min_pixels
        if max_pixels is not None:
            size["longest_edge"] = max_pixels
        image_processor.size = size
        tokenizer.padding_side = "left"  # generation needs left padding; never left to the checkpoint
        return self.processor_class(image_processor=image_processor, tokenizer=tokenizer,
                                    chat_template=tokenizer.chat_template)

    # -- module names for freezing and LoRA ----------------------------------------------------------------
    def vision_modules(self, model: PreTrainedModel) -> list[torch.nn.Module]:
        return [_inner(model).visual]

    def language_modules(self, model: PreTrainedModel) -> list[torch.nn.Module]:
        return [_inner(model).language_model, model.lm_head]

    def lora_target_modules(self, train_vision: bool) -> str:
        """A regex for peft: attention and MLP projections of the language model (and the vision tower)."""
        llm = r"language_model.*\.(q_proj|k_proj|v_proj|o_proj|gate_proj|up_proj|down_proj)"
        vision = r"visual\.blocks.*\.(qkv|proj|fc1|fc2|gate_proj|up_proj|down_proj)"
        return rf".*({llm}|{vision})" if train_vision else rf".*{llm}"

    # -- special token ids -----------------------------------------------------------------------------------
    def stop_token_ids(self, processor) -> list[int]:
        """Both <|im_end|> and <|endoftext|>: a base model often ends on the latter (the original's masking bug)."""
        return _token_ids(processor.tokenizer, STOP_TOKENS)

    def vision_token_ids(self, processor) -> list[int]:
        """The vision special tokens (start, end, pads): never a training target."""
        return _token_ids(processor.tokenizer, VISION_TOKENS)

    def never_sample_ids(self, processor) -> list[int]:
        """Vision special tokens: sampling one breaks the next forward ("image features and tokens do not match")."""
        return self.vision_token_ids(processor)

    def num_image_tokens(self, processor, width: int, height: int) -> int:
        """How many <|image_pad|> tokens an image of this size becomes (patches merged 2x2), without encoding it."""
        image_processor = processor.image_processor
        patches = image_processor.get_number_of_image_patches(height, width, {})
        return patches // (image_processor.merge_size ** 2)

    def ensure_chat_template(self, processor) -> bool:
        """Give a processor without roles in its template (the base checkpoint) the Qwen chat template, as the
        original SFT did; returns True when it was added."""
        template = getattr(processor, "chat_template", None)
        if template and "<|im_start|>" in template:
            return False
        processor.chat_template = QWEN_CHAT_TEMPLATE
        processor.tokenizer.chat_template = QWEN_CHAT_TEMPLATE
        return True

    def pad_token_id(self, processor) -> int:
        tok = processor.tokenizer
        return tok.pad_token_id if tok.pad_token_id is not None else tok.convert_tokens_to_ids("<|endoftext|>")

    # -- prompts and inputs ----------------------------------------------------------------------------------
    def render_prompt(self, processor, spec: PromptSpec, question: str, num_images: int) -> str:
        """Full prompt text with the vision placeholders, as the paper renders it.

        The base template is the flat "content parts in order" rendering of the base checkpoint (image items,
        then the text), so it is produced directly; the instruct template needs the model's chat template.
        """
        if spec.raw_text:
            return VISION_PLACEHOLDER * num_images + spec.text(question)
        template = getattr(processor, "chat_template", None)
        if not template or "<|im_start|>" not in template:
            raise ModelError("prompt template 'instruct' needs a chat template with roles in the processor; "
                             "use template=base for a base model, or a model directory with the instruct chat_template")
        return processor.apply_chat_template(spec.messages(question, num_images), tokenize=False,
                                             add_generation_prompt=True)

    def encode(self, processor, texts: list[str], images: list[list[Image.Image]]) -> BatchFeature:
        """Tokenise prompts (left padded) with their images; records how many images each row owns."""
        flat = [im for row in images for im in row]
        batch = processor(text=texts, images=flat or None, return_tensors="pt", padding=True)
        batch["num_images"] = torch.tensor([len(row) for row in images])
        return batch

    def select_rows(self, batch: BatchFeature | dict, rows: list[int]) -> dict[str, torch.Tensor]:
        """Rows of a prompt batch in the given order (repeats allowed), with each row's own images.

        Pixel patches are split per image by `image_grid_thw` instead of reshaping the flat tensor, so that rows
        with different image sizes or image counts stay aligned with their prompts.
        """
        out = {k: batch[k][rows] for k in ("input_ids", "attention_mask", "mm_token_type_ids") if k in batch}
        if "pixel_values" in batch and batch["pixel_values"] is not None:
            grid = batch["image_grid_thw"]
            per_image = torch.split(batch["pixel_values"], grid.prod(-1).tolist())
            counts = batch["num_images"].tolist()
            starts = [sum(counts[:i]) for i in range(len(counts))]
            picked = [j for r in rows for j in range(starts[r], starts[r] + counts[r])]
            out["pixel_values"] = torch.cat([per_image[j] for j in picked]) if picked else batch["pixel_values"][:0]
            out["image_grid_thw"] = grid[picked]
        return out

    def with_completions(self, prompt_rows: dict[str, torch.Tensor], completion_ids: torch.Tensor,
                         completion_mask: torch.Tensor) -> dict[str, torch.Tensor]:
        """Model inputs for prompt + completion (completion tokens are text: token type 0)."""
        out = dict(prompt_rows)
        out["input_ids"] = torch.cat([prompt_rows["input_ids"], completion_ids], dim=1)
        out["attention_mask"] = torch.cat([prompt_rows["attention_mask"], completion_mask.long()], dim=1)
        if "mm_token_type_ids" in prompt_rows:
            zeros = torch.zeros_like(completion_ids)
            out["mm_token_type_ids"] = torch.cat([prompt_rows["mm_token_type_ids"], zeros], dim=1)
        return out


def _inner(model: torch.nn.Module) -> torch.nn.Module:
    """The multimodal core (`.model`), also through a peft wrapper."""
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    return base.model


def _token_ids(tokenizer, tokens: tuple[str, ...]) -> list[int]:
    ids = []
    for token in tokens:
        idx = tokenizer.convert_tokens_to_ids(token)
        if idx is not None and idx != tokenizer.unk_token_id:
            ids.append(idx)
    return ids


ADAPTERS: dict[str, QwenVLAdapter] = {
    "qwen2_vl": QwenVLAdapter("qwen2_vl", Qwen2VLForConditionalGeneration, ImageOnlyQwen2VLProcessor,
                              ("Qwen2VLDecoderLayer", "Qwen2VLVisionBlock")),
    "qwen2_5_vl": QwenVLAdapter("qwen2_5_vl", Qwen2_5_VLForConditionalGeneration, ImageOnlyQwen2_5_VLProcessor,
                                ("Qwen2_5_VLDecoderLayer", "Qwen2_5_VLVisionBlock")),
}


def detect_family(path: str) -> str:
    """The architecture named in the model's config.json (architecture only; the prompt is never inferred)."""
    config_file = Path(path) / "config.json"
    if config_file.exists():
        try:
            loaded = json.loads(read_text(config_file, ModelError))
        except json.JSONDecodeError as exc:
            raise ModelError(f"{config_file}: not valid JSON ({exc}); the model directory is damaged") from exc
        model_type = loaded.get("model_type", "") if isinstance(loaded, dict) else ""
    else:
        try:
            from transformers import AutoConfig

            model_type = AutoConfig.from_pretrained(path).model_type
        except OSError as exc:
            raise ModelError(f"model {path!r} not found: no config.json there and not a reachable hub id; "
                             "check model_path") from exc
    if model_type not in ADAPTERS:
        raise ModelError(f"model {path!r} has model_type {model_type!r}; supported: {sorted(ADAPTERS)}")
    return model_type


def get_adapter(family_or_path: str) -> QwenVLAdapter:
    """The adapter for a family name ("qwen2_vl", "qwen2_5_vl") or for the model stored at a path."""
    if family_or_path in ADAPTERS:
        return ADAPTERS[family_or_path]
    return ADAPTERS[detect_family(family_or_path)]
