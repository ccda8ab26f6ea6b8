"""Where a GRPO step's time goes, on one of the --compare presets (bench/compare.py):

    python bench/bench_step_parts.py [--preset small|image-heavy|paper-shaped] [--repeats N]

Times, for the plain path and the shared-prefix path: generation prefill (1 new token) and the whole generation,
one decode step's logits processing (transformers' processors vs visualthinker's), the log-probs without
gradients (reference / old policy), the output head + log-softmax alone, and the policy forward + backward of the
GRPO loss (shared prefix: unfused, and with the fused output head + loss of grpo/fused_head.py).
Every number is the median of N repeats (wall and process CPU time), measured here.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))


def timed(fn, repeats: int) -> tuple[float, float]:
    """Median wall and process-CPU seconds (CPU time is what the work costs on a machine shared with others)."""
    wall, cpu = [], []
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return statistics.median(wall), statistics.median(cpu)


def main() -> int:
    from compare import PRESETS, build_model, records

    from visualthinker.generation.base import SamplingConfig
    from visualthinker.generation.hf import HFGenerator
    from visualthinker.generation.shared import LogitsPipeline, SharedPrefixGenerator, last_position_logits
    from visualthinker.grpo.fused_head import fused_head_grpo_loss
    from visualthinker.grpo.objective import chunked_token_logprobs, grpo_loss, token_logprobs
    from visualthinker.models import adapter as adapter_module
    from visualthinker.models.builtin import cache_root
    from visualthinker.models.shared_prefix import completion_hidden
    from visualthinker.prompts import PromptSpec
    from visualthinker.trainer.rollout import policy_logprobs, shared_prefix_logprobs

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="image-heavy", choices=sorted(PRESETS))
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    preset = PRESETS[args.preset]
    model_dir = build_model(preset, cache_root() / "bench-models" / ("real" if preset.real_tokenizer else "tiny"))
    adapter_module.STOP_TOKENS = ("<|video_pad|>",)  # full-length completions, as in --compare
    adapter = adapter_module.get_adapter(str(model_dir))
    pixels = preset.image_side ** 2
    processor = adapter.load_processor(str(model_dir), pixels, pixels)
    model = adapter.load_model(str(model_dir)).eval()
    recs = records(preset, preset.prompts)
    images = [r.load_images(pixels, pixels) for r in recs]
    texts = [adapter.render_prompt(processor, PromptSpec(), r.prompt, 1) for r in recs]
    batch = adapter.encode(processor, texts, images)
    G, L = preset.group, preset.new_tokens
    full = SamplingConfig(max_new_tokens=L)
    one = SamplingConfig(max_new_tokens=1)
    hf, shared = HFGenerator(model, adapter, processor), SharedPrefixGenerator(model, adapter, processor)
    r = args.repeats
    rows = []

    def report(name: str, seconds: tuple[float, float]) -> None:
        rows.append((name, seconds))
        print(f"{name:<68} wall {seconds[0]:8.3f} s   cpu {seconds[1]:8.3f} s", flush=True)

    print(f"preset {preset.name}: {preset.prompts} prompts x G {G}, {preset.image_side}px, {L} new tokens, "
          f"prompt length {batch['input_ids'].shape[1]}, vocab {model.lm_head.out_features}")
    report("generate (transformers): prefill + 1 token", timed(lambda: hf.generate(batch, G, one), r))
    report(f"generate (transformers): {L} tokens", timed(lambda: hf.generate(batch, G, full), r))
    report("generate (shared prefill): prefill + 1 token", timed(lambda: shared.generate(batch, G, one), r))
    report(f"generate (shared prefill): {L} tokens", timed(lambda: shared.generate(batch, G, full), r))

    N, V = preset.prompts * G, model.lm_head.out_features
    logits = torch.randn(N, V)
    seq = torch.randint(0, V, (N, batch["input_ids"].shape[1] + L))
    config = hf.generation_config(full, G)
    processors = model._get_logits_processor(generation_config=config, input_ids_seq_length=seq.shape[1],
                                             device="cpu", model_kwargs={})
    pipeline = LogitsPipeline(full, hf.banned_ids)
    hidden_last = torch.randn(N, model.lm_head.in_features)
    with torch.no_grad():
        report("one decode step: output head on the last position (F.linear)",
               timed(lambda: model.lm_head(hidden_last), 20))
        report("one decode step: output head on the last position (visualthinker)",
               timed(lambda: last_position_logits(model.lm_head, hidden_last), 20))
    report("one decode step: logits processing + sampling (transformers)",
           timed(lambda: torch.multinomial(torch.softmax(processors(seq, logits.clone()), -1), 1), 20))
    report("one decode step: logits processing + sampling (visualthinker)",
           timed(lambda: pipeline.next_tokens(seq, logits.clone()), 20))

    rollout = shared.generate(batch, G, full)
    ids, mask = rollout.completion_ids, rollout.completion_mask
    plain_inputs = adapter.with_completions(adapter.select_rows(batch, rollout.prompt_rows), ids, mask)
    prompt_inputs = {k: v for k, v in batch.items() if k != "num_images"}
    with torch.no_grad():
        report("log-probs, no grad (plain)", timed(lambda: policy_logprobs(model, plain_inputs, ids, 1.0), r))
        report("log-probs, no grad (shared prefix)",
               timed(lambda: shared_prefix_logprobs(model, prompt_inputs, ids, mask, G, 1.0), r))
        report("  of which: hidden states (shared prefix)",
               timed(lambda: completion_hidden(model, prompt_inputs, ids, mask, G), r))
        hidden = completion_hidden(model, prompt_inputs, ids, mask, G)
        ref = chunked_token_logprobs(hidden, ids, model.lm_head, V)  # reference log-probs for the loss below
        report("  of which: output head + log-softmax, chunked",
               timed(lambda: chunked_token_logprobs(hidden, ids, model.lm_head, V), r))
        report("  output head + log-softmax, all tokens at once",
               timed(lambda: token_logprobs(model.lm_head(hidden), ids), r))

    def backward(fn):
        def run():
            model.zero_grad(set_to_none=True)
            fn().backward()
        return run

    model.train()
    advantages = torch.linspace(-1.0, 1.0, N)
    report("policy forward + backward (plain)",
           timed(backward(lambda: grpo_loss(policy_logprobs(model, plain_inputs, ids, 1.0), None, ref, advantages,
                                            mask).loss), r))
    report("policy forward + backward (shared prefix, log-probs then loss)",
           timed(backward(lambda: grpo_loss(shared_prefix_logprobs(model, prompt_inputs, ids, mask, G, 1.0),
                                            None, ref, advantages, mask).loss), r))
    report("policy forward + backward (shared prefix, fused head + loss)",
           timed(backward(lambda: fused_head_grpo_loss(
               completion_hidden(model, prompt_inputs, ids, mask, G), model.lm_head.weight, model.lm_head.bias,
               ids, None, ref, advantages, mask).loss), r))
    return 0


if __name__ == "__main__":
    sys.exit(main())
