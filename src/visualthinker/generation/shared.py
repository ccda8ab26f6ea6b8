"""Sampling with a shared prefill: each prompt (image included) runs once, its KV cache and M-RoPE position are
repeated for the G samples, then all rows decode together.

`transformers.generate` with `num_return_sequences=G` repeats the prompt and its pixels before the prefill, so
the vision tower and the prompt run G times. The decode loop here applies the same logits processors in the
same order as `generate` (repetition penalty over prompt + completion, banned ids, temperature, top-k, top-p),
so the sampling distribution is unchanged (drawn by inverting the CDF instead of `torch.multinomial`: the same
distribution, a different random stream); processors that would do nothing (temperature 1, top-k 0, top-p 1,
penalty 1) are skipped, and the output head runs on the last position only.

With the weights sharded over ranks (ZeRO-3, FSDP2: `synced_gpus`), every module call gathers weights with the
other ranks, so a rank whose rows have all stopped keeps stepping (without recording tokens or drawing random
numbers) until every rank has stopped, as `generate(synced_gpus=True)` does.
"""

from __future__ import annotations

import torch
import torch.distributed as dist
from transformers.generation.logits_process import (
    RepetitionPenaltyLogitsProcessor,
    TemperatureLogitsWarper,
    TopKLogitsWarper,
    TopPLogitsWarper,
)

from visualthinker.generation.base import ModelGenerator, Rollout, SamplingConfig
from visualthinker.grpo.objective import completion_mask_from_stops
from visualthinker.models.shared_prefix import causal_lm, encode_prompts, extend


class LogitsPipeline:
    """The logits processing of `generate` for our SamplingConfig, with no-op steps left out."""

    def __init__(self, sampling: SamplingConfig, banned_ids: list[int]) -> None:
        self.banned = torch.tensor(sorted(banned_ids), dtype=torch.long)
        self.do_sample = sampling.do_sample
        self.steps: list = []  # generate's order: penalty, suppressed tokens, then the sampling warpers
        if sampling.repetition_penalty != 1.0:
            self.steps.append(RepetitionPenaltyLogitsProcessor(sampling.repetition_penalty))
        if banned_ids:
            self.steps.append(self._ban)
        if sampling.do_sample:
            if sampling.temperature != 1.0:
                self.steps.append(TemperatureLogitsWarper(sampling.temperature))
            if sampling.top_k:
                self.steps.append(TopKLogitsWarper(sampling.top_k))
            if sampling.top_p < 1.0:
                self.steps.append(TopPLogitsWarper(sampling.top_p))

    def __call__(self, sequences: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        scores = scores.float()
        for step in self.steps:
            scores = step(sequences, scores)
        return scores

    def _ban(self, sequences: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        # generate's SuppressTokensLogitsProcessor, without building a vocabulary-sized mask every step
        scores[:, self.banned.to(scores.device)] = -float("inf")
        return scores

    def next_tokens(self, sequences: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
        scores = self(sequences, logits)
        if self.do_sample:
            return sample_categorical(torch.softmax(scores, dim=-1))
        return scores.argmax(dim=-1)


def sample_categorical(probs: torch.Tensor) -> torch.Tensor:
    """One draw per row of `probs` (N, V) by inverting the cumulative distribution, in float64.

    The same distribution as `torch.multinomial(probs, 1)`, which on CPU costs more than the output head itself
    for a 151 657-token vocabulary (measured: 164 ms vs 5 ms for 16 rows). Zero-probability tokens (banned,
    filtered by top-k / top-p) are never drawn: the first index whose cumulative sum exceeds u has p > 0.
    """
    cdf = probs.double().cumsum(dim=-1)
    u = torch.rand(probs.shape[0], 1, dtype=torch.float64, device=probs.device) * cdf[:, -1:]
    return torch.searchsorted(cdf, u, right=True).squeeze(1).clamp(max=probs.shape[1] - 1)


def last_position_logits(head: torch.nn.Module, hidden: torch.Tensor) -> torch.Tensor:
    """`head(hidden)` for the few rows (N, H) of a decode step.

    For a plain linear head the product is taken as (W @ hidden^T)^T: the same values up to rounding, and on CPU
    (MKL, one thread) the cheaper form for a vocabulary-sized W against a handful of rows (bench_step_parts.py,
    16 rows and a 151 936 x 256 head: 0.073 s against 0.084 s for `F.linear`, copy to row-major included).
    """
    if type(head) is not torch.nn.Linear:  # e.g. a LoRA-wrapped head runs its own forward
        return head(hidden)
    logits = (head.weight @ hidden.T).T.contiguous()
    return logits if head.bias is None else logits + head.bias


def every_rank_done(done: bool, synced_gpus: bool, device: torch.device) -> bool:
    """`done` on this rank, and (synced) on every other rank too."""
    if not synced_gpus:
        return done
    flag = torch.tensor(0.0 if done else 1.0, device=device)
    dist.all_reduce(flag, op=dist.ReduceOp.SUM)
    return flag.item() == 0.0


class SharedPrefixGenerator(ModelGenerator):
    """The G samples of every prompt from one prefill of that prompt; same interface as HFGenerator."""

    def __init__(self, model, adapter, processor, synced_gpus: bool = False) -> None:
        super().__init__(model, adapter, processor)
        self.synced_gpus = synced_gpus  # ZeRO-3 / FSDP2: every rank keeps stepping until all are done

    @torch.no_grad()
    def generate(self, prompt_batch: dict, num_samples: int, sampling: SamplingConfig) -> Rollout:
        device = next(self.model.parameters()).device
        inputs = {k: v.to(device) for k, v in prompt_batch.items() if k != "num_images"}
        pipeline = LogitsPipeline(sampling, self.banned_ids)
        head = causal_lm(self.model).lm_head
        prefix = encode_prompts(self.model, inputs).repeat(num_samples)
        sequences = inputs["input_ids"].repeat_interleave(num_samples, 0)  # the penalty sees prompt + completion
        N = sequences.shape[0]
        stops = torch.tensor(self.stop_ids, device=device)
        finished = torch.zeros(N, dtype=torch.bool, device=device)
        hidden = prefix.last_hidden
        generated: list[torch.Tensor] = []
        done = False  # this rank's rows have all stopped (it may still step for the other ranks)
        for t in range(sampling.max_new_tokens):
            # sharded weights (ZeRO-3, FSDP2) are gathered by the head module's own call
            logits = head(hidden) if self.synced_gpus else last_position_logits(head, hidden)
            if not done:
                token = pipeline.next_tokens(sequences, logits)
                token = torch.where(finished, torch.full_like(token, self.pad_id), token)
                generated.append(token)
                sequences = torch.cat([sequences, token.unsqueeze(1)], dim=1)
                finished |= torch.isin(token, stops)
                done = bool(finished.all())
            if t + 1 == sampling.max_new_tokens or every_rank_done(done, self.synced_gpus, device):
                break
            # generate keeps attending to every generated position (pads after a stop included); so do we
            mask = torch.ones(N, t + 1, dtype=torch.long, device=device)
            hidden = extend(self.model, prefix, token.unsqueeze(1), mask, offset=t)[:, -1]
        completion_ids = torch.stack(generated, dim=1).cpu()
        mask, done = completion_mask_from_stops(completion_ids, self.stop_ids)
        completion_ids = completion_ids.masked_fill(mask == 0, self.pad_id)
        texts = self.processor.tokenizer.batch_decode(completion_ids, skip_special_tokens=True)
        rows = [i for i in range(inputs["input_ids"].shape[0]) for _ in range(num_samples)]
        return Rollout(prompt_rows=rows, completion_ids=completion_ids, completion_mask=mask, finished=done,
                       texts=texts)
