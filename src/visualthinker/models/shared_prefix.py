"""Shared-prefix forward passes for the Qwen-VL families: each prompt (its image included) is computed once per
group, and the group's G completions attend to that prompt's keys and values.

A GRPO group is one prompt with G sampled completions. The plain path runs prompt + completion for each of the
G rows, so the vision tower and the prompt run G times. Here the prompt rows run once with a KV cache, the cache
is repeated G times along the batch (a differentiable copy: gradients from the G completions reach the prompt
once, summed over the group), and the completions run on top of it with the M-RoPE positions the full sequence
would have given them. Only the language-model hidden states are returned: the output head is applied by the
caller in bounded chunks (`grpo.objective.chunked_token_logprobs`).

Under a launcher (DDP, a DeepSpeed engine, FSDP2) the log-prob passes run as the wrapped model's forward
(`call_as_forward`): the wrapper sees one ordinary call, so DDP syncs the gradients and ZeRO-3 / FSDP2 gather the
weights of every module the pass uses, output head included. Under gradient checkpointing the decoder layers keep
the cache in training mode, because the prompt pass stores its states (a recomputation stores the same ones
again) and the completion pass only reads them (`PromptStates`, `ReadOnlyPrefix`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import torch
from transformers.cache_utils import Cache, DynamicLayer
from transformers.modeling_layers import GradientCheckpointingLayer

PROMPT_KEYS = ("input_ids", "attention_mask", "pixel_values", "image_grid_thw", "mm_token_type_ids")


def causal_lm(model: torch.nn.Module) -> torch.nn.Module:
    """The *ForConditionalGeneration module (through a peft wrapper, whose LoRA layers live inside it)."""
    return model.get_base_model() if hasattr(model, "get_base_model") else model


def unwrap_launcher(model: torch.nn.Module) -> torch.nn.Module:
    """The module inside a DDP wrapper or a DeepSpeed engine (both keep it as `.module`); FSDP2 and peft
    wrap in place and are returned as they are."""
    while isinstance(getattr(model, "module", None), torch.nn.Module):
        model = model.module
    return model


def call_as_forward(model: torch.nn.Module, fn: Callable[..., torch.Tensor],
                    **tensors: torch.Tensor) -> torch.Tensor:
    """`fn(hf_model, **tensors)`, run as the forward of the Hugging Face model inside `model` while `model` is
    called with `tensors` as keyword arguments.

    Whatever wraps the model sees one ordinary call: DDP prepares its gradient all-reduce, a DeepSpeed engine
    (ZeRO-3: the root hooks, parameters used outside their own module) and FSDP2's root unit (embeddings, output
    head, vision merger: unsharded for the call and, for training, until the backward pass) do what they do for
    the model's own forward, and peft passes the call through. The tensors `fn` gets are the ones the wrappers
    pass on (moved or cast as they move or cast the model's inputs).
    """
    inner = causal_lm(unwrap_launcher(model))
    previous = inner.__dict__.get("forward")  # accelerate may have set one (its autocast wrapper)

    def forward(*_args, **kwargs):
        return fn(inner, **{k: kwargs[k] for k in tensors})

    inner.forward = forward
    try:
        return model(**tensors)
    finally:
        if previous is None:
            del inner.forward
        else:
            inner.forward = previous


class PromptStates(DynamicLayer):
    """A layer's prompt keys and values, stored as given rather than appended: a checkpointed layer recomputed
    in the backward pass stores the same states again instead of doubling them."""

    def update(self, key_states: torch.Tensor, value_states: torch.Tensor, *args, **kwargs):
        if not self.is_initialized:
            self.lazy_initialization(key_states, value_states)
        self.keys, self.values = key_states, value_states
        return key_states, value_states


class ReadOnlyPrefix(DynamicLayer):
    """A layer's (repeated) prompt keys and values under a continuation: read, never extended, so that a
    recomputed checkpointed layer sees the same prefix as the first run."""

    def __init__(self, keys: torch.Tensor, values: torch.Tensor) -> None:
        super().__init__()
        self.lazy_initialization(keys, values)
        self.keys, self.values = keys, values

    def update(self, key_states: torch.Tensor, value_states: torch.Tensor, *args, **kwargs):
        return torch.cat([self.keys, key_states], dim=-2), torch.cat([self.values, value_states], dim=-2)


@contextlib.contextmanager
def layers_keep_cache(model: torch.nn.Module) -> Iterator[None]:
    """Checkpointed Hugging Face layers drop the cache in training mode (a recomputation would append to it a
    second time). With `PromptStates` / `ReadOnlyPrefix` a recomputation writes or reads the same states, so the
    layers may keep it. Needs the non-reentrant checkpoint: the reentrant one would not pass gradients to the
    prefix states the layers read from the cache."""
    layers = [m for m in model.modules() if isinstance(m, GradientCheckpointingLayer) and m.gradient_checkpointing]
    for layer in layers:
        func = getattr(layer, "_gradient_checkpointing_func", None)
        if getattr(func, "keywords", {}).get("use_reentrant", True):
            raise RuntimeError("the shared-prefix pass under gradient checkpointing needs the non-reentrant "
                               "checkpoint: enable it with gradient_checkpointing_kwargs={'use_reentrant': False}")
        layer._can_checkpoint_with_cache = True
    try:
        yield
    finally:
        for layer in layers:
            del layer._can_checkpoint_with_cache


@dataclass
class Prefix:
    """The prompts after one forward: their KV cache, the last prompt position's hidden state (it predicts the
    first completion token), the M-RoPE position of the first completion token and the prompt padding mask."""

    cache: object
    last_hidden: torch.Tensor  # (P, H)
    next_position: torch.Tensor  # (P,)
    attention_mask: torch.Tensor  # (P, L)

    def repeat(self, group_size: int, read_only: bool = False) -> Prefix:
        """Every prompt row repeated `group_size` times (row i*G + g is sample g of prompt i). `read_only`: a new
        cache of `ReadOnlyPrefix` layers (for one continuation pass); otherwise the cache is repeated in place
        and grows with each `extend` (decoding)."""
        if read_only:
            cache = Cache(layers=[ReadOnlyPrefix(layer.keys.repeat_interleave(group_size, 0),
                                                 layer.values.repeat_interleave(group_size, 0))
                                  for layer in self.cache.layers])
        else:
            cache = self.cache
            cache.batch_repeat_interleave(group_size)
        return Prefix(cache, self.last_hidden.repeat_interleave(group_size, 0),
                      self.next_position.repeat_interleave(group_size, 0),
                      self.attention_mask.repeat_interleave(group_size, 0))


def encode_prompts(model: torch.nn.Module, prompt_inputs: dict[str, torch.Tensor], cache: Cache | None = None) -> Prefix:
    """Run the prompt rows (left padded, with their images) once and keep their KV cache (`cache`, or a new
    DynamicCache)."""
    core = causal_lm(model).model
    inputs = {k: prompt_inputs[k] for k in PROMPT_KEYS if prompt_inputs.get(k) is not None}
    ids, mask = inputs["input_ids"], inputs["attention_mask"]
    if "image_grid_thw" in inputs:
        positions, _ = core.get_rope_index(ids, mm_token_type_ids=inputs["mm_token_type_ids"],
                                           image_grid_thw=inputs["image_grid_thw"], attention_mask=mask)
    else:  # text only: positions count the real tokens
        positions = (mask.long().cumsum(-1) - 1).clamp(min=0).unsqueeze(0).expand(3, -1, -1)
    out = core(**inputs, position_ids=positions, cache=cache, use_cache=True)
    # Pads get position 0, so the largest position of a row is that of its last real prompt token.
    return Prefix(out.cache if cache is None else cache, out.last_hidden_state[:, -1], positions.amax(dim=(0, 2)) + 1, mask)


def extend(model: torch.nn.Module, prefix: Prefix, token_ids: torch.Tensor, token_mask: torch.Tensor,
           offset: int = 0) -> torch.Tensor:
    """Hidden states of `token_ids` (N, T) appended to the (already repeated) prefix rows, tokens `offset..`
    of the continuation. `token_mask` is the attention mask of every continuation token so far (N, offset + T).
    A DynamicCache grows by T tokens; a `ReadOnlyPrefix` one stays as it is."""
    core = causal_lm(model).model
    N, T = token_ids.shape
    steps = torch.arange(offset, offset + T, device=token_ids.device)
    positions = (prefix.next_position.unsqueeze(1) + steps).unsqueeze(0).expand(3, N, T)
    mask = torch.cat([prefix.attention_mask, token_mask.to(prefix.attention_mask.dtype)], dim=1)
    out = core(input_ids=token_ids, attention_mask=mask, position_ids=positions, cache=prefix.cache, use_cache=True)
    return out.last_hidden_state


def completion_hidden(model: torch.nn.Module, prompt_inputs: dict[str, torch.Tensor], completion_ids: torch.Tensor,
                      completion_mask: torch.Tensor, group_size: int) -> torch.Tensor:
    """(N, T, H) hidden states aligned so that [:, t] predicts completion_ids[:, t], equal to those of the full
    prompt + completion sequence; the prompts run once, not `group_size` times. Works with gradient checkpointing
    on (see `layers_keep_cache`)."""
    with layers_keep_cache(model):
        prompts = encode_prompts(model, prompt_inputs, Cache(layer_class_to_replicate=PromptStates))
        prefix = prompts.repeat(group_size, read_only=True)
        hidden = extend(model, prefix, completion_ids, completion_mask)
    return torch.cat([prefix.last_hidden.unsqueeze(1), hidden[:, :-1]], dim=1)
