"""Tiny, fully offline Qwen-VL models: real transformers classes with small configs, saved as ordinary Hugging
Face directories that `from_pretrained` loads. Used by tests and by the CPU demo.

Two kinds:
- `build_tiny_model`: a byte-level BPE tokenizer trained here on a small corpus (with the Qwen special tokens
  spelled exactly as in Qwen), so that vocabulary and embedding stay small.
- `build_reduced_real_model`: the real Qwen2-VL-2B files from a local directory (no weights needed) - config
  with only the sizes shrunk, generation_config.json, tokenizer, chat template, image-processor settings - with a
  narrow, shallow random model, so that prompt token ids, image grids, dtype and decoding defaults are exactly
  those of a real run.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterable
from pathlib import Path

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import AutoTokenizer, PreTrainedTokenizerFast
from transformers.models.qwen2_5_vl import Qwen2_5_VLConfig
from transformers.models.qwen2_vl import Qwen2VLConfig
from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil

from visualthinker.models.adapter import get_adapter
from visualthinker.prompts import BASE_TEMPLATE, DIRECT_TEMPLATE

QWEN_SPECIAL_TOKENS = [
    "<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|object_ref_start|>", "<|object_ref_end|>", "<|box_start|>",
    "<|box_end|>", "<|quad_start|>", "<|quad_end|>", "<|vision_start|>", "<|vision_end|>", "<|vision_pad|>",
    "<|image_pad|>", "<|video_pad|>",
]
# The base checkpoint's template: content parts in order, images as vision placeholders, no roles.
FLAT_CHAT_TEMPLATE = (
    "{% if messages is string %}{{ messages }}{% else %}{% for content in messages %}"
    "{% if content['type'] == 'image' or 'image' in content %}<|vision_start|><|image_pad|><|vision_end|>"
    "{% elif content['type'] == 'text' %}{{ content['text'] }}{% endif %}{% endfor %}{% endif %}"
)
DEFAULT_CORPUS = [
    BASE_TEMPLATE, DIRECT_TEMPLATE, "<think> </think> <answer> </answer>",
    "How many objects are in the image? Which object is closer to the camera? Is it left or right, above or "
    "below? Answer in natural language. Choose between the following options: red, green, blue or yellow. "
    "circle square triangle 0 1 2 3 4 5 6 7 8 9 wait, let me check again. Therefore the answer is",
]


def train_tokenizer(corpus: Iterable[str], vocab_size: int = 1024) -> PreTrainedTokenizerFast:
    """A byte-level BPE tokenizer (any text encodes) with the Qwen special tokens as single tokens."""
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=QWEN_SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False,
    )
    tok.train_from_iterator(list(corpus), trainer=trainer)
    wrapped = PreTrainedTokenizerFast(
        tokenizer_object=tok, eos_token="<|endoftext|>", pad_token="<|endoftext|>", padding_side="left",
    )
    wrapped.chat_template = FLAT_CHAT_TEMPLATE
    return wrapped


def _text_config(tokenizer, hidden: int, layers: int, heads: int, kv_heads: int) -> dict:
    head_dim = hidden // heads
    half = head_dim // 2  # mrope sections must sum to head_dim / 2
    section = [half - 2 * (half // 3), half // 3, half // 3]
    pad = tokenizer.convert_tokens_to_ids("<|endoftext|>")
    return dict(
        vocab_size=len(tokenizer), hidden_size=hidden, intermediate_size=hidden * 2, num_hidden_layers=layers,
        num_attention_heads=heads, num_key_value_heads=kv_heads, max_position_embeddings=4096,
        rope_scaling={"type": "mrope", "mrope_section": section}, bos_token_id=pad, pad_token_id=pad,
        eos_token_id=tokenizer.convert_tokens_to_ids("<|im_end|>"),
    )


def _vision_ids(tokenizer) -> dict:
    ids = tokenizer.convert_tokens_to_ids
    return dict(
        image_token_id=ids("<|image_pad|>"), video_token_id=ids("<|video_pad|>"),
        vision_start_token_id=ids("<|vision_start|>"), vision_end_token_id=ids("<|vision_end|>"),
    )


def make_config(family: str, tokenizer, hidden: int = 64, layers: int = 2, heads: int = 4, kv_heads: int = 2,
                vision_depth: int = 2, vision_dim: int = 32, vision_heads: int = 2, tie_embeddings: bool = False):
    text = _text_config(tokenizer, hidden, layers, heads, kv_heads)
    if family == "qwen2_vl":
        vision = dict(depth=vision_depth, embed_dim=vision_dim, hidden_size=hidden, num_heads=vision_heads,
                      mlp_ratio=2, patch_size=14, spatial_merge_size=2, temporal_patch_size=2)
        config = Qwen2VLConfig(text_config=text, vision_config=vision, **_vision_ids(tokenizer))
    elif family == "qwen2_5_vl":
        vision = dict(depth=vision_depth, hidden_size=vision_dim, intermediate_size=vision_dim * 2,
                      num_heads=vision_heads, out_hidden_size=hidden, patch_size=14, spatial_merge_size=2,
                      temporal_patch_size=2, window_size=56, fullatt_block_indexes=[vision_depth - 1])
        config = Qwen2_5_VLConfig(text_config=text, vision_config=vision, **_vision_ids(tokenizer))
    else:
        raise ValueError(f"unknown family {family!r}; choose qwen2_vl or qwen2_5_vl")
    # Qwen2-VL-2B ties its output head to the embedding; tying also lets a tiny model learn in-context copying
    # several times faster (bench/bench_copy_synthetic.py --tie), which the demo's base model needs.
    config.tie_word_embeddings = tie_embeddings
    return config


def _save(out_dir: Path, family: str, config, tokenizer, min_pixels: int, max_pixels: int, seed: int) -> Path:
    torch.manual_seed(seed)
    adapter = get_adapter(family)
    model = adapter.model_class(config)
    model.generation_config.pad_token_id = config.text_config.pad_token_id
    model.generation_config.eos_token_id = adapter.stop_token_ids(_HasTokenizer(tokenizer))
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out_dir)
    image_processor = Qwen2VLImageProcessorPil(min_pixels=min_pixels, max_pixels=max_pixels)
    return _save_processor(out_dir, adapter, image_processor, tokenizer)


def _save_processor(out_dir: Path, adapter, image_processor, tokenizer) -> Path:
    """The processor, image processor and tokenizer files `load_processor` reads back from a model directory."""
    processor = adapter.processor_class(image_processor=image_processor, tokenizer=tokenizer,
                                        chat_template=tokenizer.chat_template)
    processor.save_pretrained(out_dir)
    image_processor.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    return out_dir


class _HasTokenizer:
    def __init__(self, tokenizer) -> None:
        self.tokenizer = tokenizer


def build_tiny_model(out_dir: str | Path, family: str = "qwen2_vl", corpus: Iterable[str] | None = None,
                     vocab_size: int = 1024, hidden: int = 64, layers: int = 2, heads: int = 4, kv_heads: int = 2,
                     vision_depth: int = 2, vision_dim: int = 32, min_pixels: int = 56 * 56,
                     max_pixels: int = 112 * 112, seed: int = 0, tie_embeddings: bool = False) -> Path:
    """Build and save a random-weight tiny model with a tokenizer trained on `corpus`; returns the directory."""
    tokenizer = train_tokenizer(corpus if corpus is not None else DEFAULT_CORPUS, vocab_size)
    config = make_config(family, tokenizer, hidden, layers, heads, kv_heads, vision_depth, vision_dim,
                         tie_embeddings=tie_embeddings)
    return _save(Path(out_dir), family, config, tokenizer, min_pixels, max_pixels, seed)


# Files of the real checkpoint copied verbatim: each one changes what a run does (decoding defaults, licence).
REAL_FILES_COPIED = ("generation_config.json", "LICENSE", "NOTICE.md")


def reduced_real_config(real_dir: str | Path, hidden: int = 128, layers: int = 2, kv_heads: int = 1,
                        vision_depth: int = 1, vision_heads: int = 2) -> dict:
    """The real config.json with only the sizes shrunk.

    Everything else stays as the checkpoint has it: vocabulary, special-token ids, dtype (bfloat16),
    tie_word_embeddings, rope_theta and the mrope sections. The head sizes stay real too (text head_dim =
    hidden / heads = 128, whose half the mrope sections [16, 24, 24] must fill; vision head_dim 80), so the
    widths shrink by dropping heads, not by narrowing them.
    """
    raw = json.loads((Path(real_dir) / "config.json").read_text())
    text_head_dim = raw["hidden_size"] // raw["num_attention_heads"]
    vision = raw["vision_config"]
    vision_head_dim = vision["embed_dim"] // vision["num_heads"]
    heads = hidden // text_head_dim
    if heads < 1 or hidden % text_head_dim or heads % kv_heads:
        raise ValueError(f"hidden {hidden} must be a multiple of the real head_dim {text_head_dim} "
                         f"with a head count divisible by kv_heads {kv_heads}")
    raw.update(hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=heads,
               num_key_value_heads=kv_heads, intermediate_size=2 * hidden,
               max_window_layers=min(raw.get("max_window_layers", layers), layers))
    raw["vision_config"] = {**vision, "depth": vision_depth, "num_heads": vision_heads,
                            "embed_dim": vision_heads * vision_head_dim, "hidden_size": hidden}
    return raw


def build_reduced_real_model(real_dir: str | Path, out_dir: str | Path, hidden: int = 128, layers: int = 2,
                             vision_depth: int = 1, max_pixels: int | None = None, seed: int = 0) -> Path:
    """A random-weight model built from the real Qwen2-VL checkpoint's files with the sizes shrunk.

    It carries every real file that changes behaviour: config.json (shrunk as `reduced_real_config` says; the
    weights are saved in its dtype, bfloat16), generation_config.json verbatim (top_k 1, top_p 0.001,
    temperature 0.1, repetition_penalty 1.05 for Qwen2-VL-2B), the real tokenizer and chat template, and the
    image processor's settings (pixel limits, patch and merge sizes, mean and std). `max_pixels` overrides the
    processor's pixel limit only.
    """
    raw = reduced_real_config(real_dir, hidden=hidden, layers=layers, vision_depth=vision_depth)
    return _build_from_real_files(Path(real_dir), Path(out_dir), raw, max_pixels, seed, "cpu")


def build_real_size_model(real_dir: str | Path, out_dir: str | Path, max_pixels: int | None = None, seed: int = 0,
                          device: str = "cpu") -> Path:
    """The real architecture at its real size (Qwen2-VL-2B: 2.2 B parameters) with random weights and the real
    files - no download. Initialising on a GPU (`device="cuda"`) takes seconds instead of minutes."""
    raw = json.loads((Path(real_dir) / "config.json").read_text())
    return _build_from_real_files(Path(real_dir), Path(out_dir), raw, max_pixels, seed, device)


def _build_from_real_files(real_dir: Path, out_dir: Path, raw: dict, max_pixels: int | None, seed: int,
                           device: str) -> Path:
    from transformers import AutoConfig

    adapter = get_adapter(raw["model_type"])
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "config.json").write_text(json.dumps(raw, indent=2))
    config = AutoConfig.from_pretrained(out_dir)
    torch.manual_seed(seed)
    with torch.device(device):
        model = adapter.model_class(config)  # fp32 initialisation, then stored in the checkpoint's dtype
    model.to(config.dtype if isinstance(config.dtype, torch.dtype) else getattr(torch, str(config.dtype)))
    model.save_pretrained(out_dir)
    del model
    for name in REAL_FILES_COPIED:
        if (real_dir / name).exists():
            shutil.copyfile(real_dir / name, out_dir / name)  # overwrites the generation_config save_pretrained wrote

    tokenizer = AutoTokenizer.from_pretrained(real_dir)
    template_file = real_dir / "chat_template.json"
    if template_file.exists():
        tokenizer.chat_template = json.loads(template_file.read_text())["chat_template"]
    real_ip = json.loads((real_dir / "preprocessor_config.json").read_text())
    keys = ("patch_size", "temporal_patch_size", "merge_size", "image_mean", "image_std")
    image_processor = Qwen2VLImageProcessorPil(min_pixels=real_ip["min_pixels"],
                                               max_pixels=max_pixels or real_ip["max_pixels"],
                                               **{k: real_ip[k] for k in keys if k in real_ip})
    return _save_processor(out_dir, adapter, image_processor, tokenizer)
