"""Shared-prefix forward passes for the Qwen-VL families: each prompt (its image included) is computed once per
group, and the group's G completions attend to that prompt's keys and values.

A GRPO group is one prompt with G sampled completions. The plain path runs prompt + completion for each of the
G rows, so the vision tower and the prompt run G times. Here the prompt rows run once with a KV cache, the cache
is repeated G times along the batch (a differentiable copy: gradients from the G completions reach the prompt
once, summed over the group), and the completions run on top of it with the M-RoPE positions the full sequence
would have given them. Only the language-model hidden states are returned: the output head is applied by the
caller in bounded chunks (`grpo.objective.chunked_token_logprobs`).

Limits (the trainer checks them and falls back to the plain path with a logged message):
- the modules are called directly, not through a DDP / FSDP / DeepSpeed wrapper, so it is for one process;
- gradient checkpointing drops the KV cache in training mode, so the path with gradients needs it off.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

PROMPT_KEYS = ("input_ids", "attention_mask", "pixel_values", "image_grid_thw", "mm_token_type_ids")


def causal_lm(model: torch.nn.Module) -> torch.nn.Module:
    """The *ForConditionalGeneration module (through a peft wrapper, whose LoRA layers live inside it)."""
    return model.get_base_model() if hasattr(model, "get_base_model") else model


@dataclass
class Prefix:
    """The prompts after one forward: their KV cache, the last prompt position's hidden state (it predicts the
    first completion token), the M-RoPE position of the first completion token and the prompt padding mask."""

    cache: object
    last_hidden: torch.Tensor  # (P, H)
    next_position: torch.Tensor  # (P,)
    attention_mask: torch.Tensor  # (P, L)

    def repeat(self, group_size: int) -> Prefix:
        """Every prompt row repeated `group_size` times (row i*G + g is sample g of prompt i)."""
        self.cache.batch_repeat_interleave(group_size)
        return Prefix(self.cache, self.last_hidden.repeat_interleave(group_size, 0),
                      self.next_position.repeat_interleave(group_size, 0),
                      self.attention_mask.repeat_interleave(group_size, 0))


def encode_prompts(model: torch.nn.Module, prompt_inputs: dict[str, torch.Tensor]) -> Prefix:
    """Run the prompt rows (left padded, with their images) once and keep their KV cache."""
    core = causal_lm(model).model
    inputs = {k: prompt_inputs[k] for k in PROMPT_KEYS if prompt_inputs.get(k) is not None}
    ids, mask = inputs["input_ids"], inputs["attention_mask"]
    if "image_grid_thw" in inputs:
        positions, _ = core.get_rope_index(ids, mm_token_type_ids=inputs["mm_token_type_ids"],
                                           image_grid_thw=inputs["image_grid_thw"], attention_mask=mask)
    else:  # text only: positions count the real tokens
        positions = (mask.long().cumsum(-1) - 1).clamp(min=0).unsqueeze(0).expand(3, -1, -1)
    out = core(**inputs, position_ids=positions, use_cache=True)
    # Pads get position 0, so the largest position of a row is that of its last real prompt token.
    return Prefix(out.cache, out.last_hidden_state[:, -1], positions.amax(dim=(0, 2)) + 1, mask)


def extend(model: torch.nn.Module, prefix: Prefix, token_ids: torch.Tensor, token_mask: torch.Tensor,
           offset: int = 0) -> torch.Tensor:
    """Hidden states of `token_ids` (N, T) appended to the (already repeated) prefix rows, tokens `offset..`
    of the continuation. `token_mask` is the attention mask of every continuation token so far (N, offset + T).
    The cache grows by T tokens."""
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
    prompt + completion sequence; the prompts run once, not `group_size` times."""
    prefix = encode_prompts(model, prompt_inputs).repeat(group_size)
    hidden = extend(model, prefix, completion_ids, completion_mask)
    return torch.cat([prefix.last_hidden.unsqueeze(1), hidden[:, :-1]], dim=1)
