"""Evaluation decoding: fully explicit by default, or the original scripts' effective decoding on request.

`explicit` (default): greedy, no repetition penalty, whatever the checkpoint's generation_config.json says.

`paper`: what `evaluate_Qwen2_VL_CVBench*.py` effectively ran. They called `generate(max_new_tokens=1024,
do_sample=False)` with no generation config, so transformers took every other field from the checkpoint's
generation_config.json. Under greedy decoding the only one of those that still acts is `repetition_penalty`
(1.05 for Qwen2-VL-2B); temperature, top_k and top_p do nothing without sampling. A checkpoint without a
repetition penalty gets 1.0, the transformers default the original inherited then.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from visualthinker.errors import ConfigError
from visualthinker.generation import SamplingConfig

DECODINGS = ("explicit", "paper")
PAPER_MAX_NEW_TOKENS = 1024  # both evaluation scripts
DEFAULT_MAX_NEW_TOKENS = 1024


def eval_sampling(decoding: str, checkpoint_generation_config: Any | None,
                  max_new_tokens: int | None = None) -> SamplingConfig:
    """The decoding for `eval`; `checkpoint_generation_config` is the model's `generation_config` (or None)."""
    if decoding == "explicit":
        return SamplingConfig.greedy(max_new_tokens or DEFAULT_MAX_NEW_TOKENS)
    if decoding != "paper":
        raise ConfigError(f"--decoding {decoding!r} is unknown; choose one of {', '.join(DECODINGS)}")
    if max_new_tokens is not None and max_new_tokens != PAPER_MAX_NEW_TOKENS:
        raise ConfigError(f"--decoding paper generates the original scripts' {PAPER_MAX_NEW_TOKENS} new tokens; "
                          f"drop --max-new-tokens {max_new_tokens}, or use --decoding explicit")
    penalty = getattr(checkpoint_generation_config, "repetition_penalty", None)
    return dataclasses.replace(SamplingConfig.greedy(PAPER_MAX_NEW_TOKENS),
                               repetition_penalty=float(penalty) if penalty is not None else 1.0)


def decoding_record(decoding: str, sampling: SamplingConfig) -> dict[str, Any]:
    """What results.json stores under config.decoding."""
    source = {"explicit": "explicit: the checkpoint's generation_config is ignored",
              "paper": "the original scripts: repetition_penalty from the checkpoint's generation_config"}[decoding]
    return {"mode": decoding, **dataclasses.asdict(sampling), "stop": "<|im_end|> or <|endoftext|>",
            "source": source}
