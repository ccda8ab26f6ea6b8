"""The reward plug-in of the launch tests (`rewards=[tests.distributed.small_chunks:index_reward]`), imported by
every rank when the trainer starts. Importing it also makes the log-prob passes compute the output head 4 tokens
at a time (the default chunk holds every completion token of these tiny runs), so that under every engine the
chunks are recomputed in the backward pass: ZeRO-3 must gather the head's weights then too, FSDP2 must still
hold them unsharded."""

from tests.trainer.conftest import index_reward
from visualthinker.grpo.objective import chunked_token_logprobs
from visualthinker.trainer import rollout

__all__ = ["index_reward"]

TOKENS_PER_CHUNK = 4


def four_tokens_at_a_time(features, tokens, to_logits, vocab_size, temperature=1.0):
    return chunked_token_logprobs(features, tokens, to_logits, vocab_size, temperature,
                                  max_elements=TOKENS_PER_CHUNK * vocab_size)


rollout.chunked_token_logprobs = four_tokens_at_a_time
