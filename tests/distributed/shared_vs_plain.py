"""Launched by tests/distributed/test_launch_paths.py on 2 CPU processes (DDP): one GRPO micro-batch per rank
(different prompts on each rank), and the loss gradients of the prepared DDP policy by the plain path and by the
shared-prefix path, which must be equal (rtol 1e-5) — so the shared path's gradients are all-reduced like the
plain path's. The output head runs 4 tokens at a time (small_chunks.py), so its chunks are recomputed in the
backward pass. Rank 0 writes the largest differences to OUT/shared_vs_plain.json.

    accelerate launch --config_file configs/accelerate/cpu-2proc.yaml -m tests.distributed.shared_vs_plain OUT \
        [key=value ...]   (training config overrides, e.g. lora_rank=4 gradient_checkpointing=true)
"""

import json
import sys
from pathlib import Path

import torch

from tests.trainer.conftest import make_records
from visualthinker.config import load_config
from visualthinker.grpo.objective import grpo_loss
from visualthinker.models.builtin import resolve_model_path
from visualthinker.trainer.launch import generation_weights
from visualthinker.trainer.loop import GRPOTrainer, SharedPrefixPlan
from visualthinker.trainer.rollout import experience_logprobs

OVERRIDES = ["num_generations=3", "per_device_prompts=2",
             "gradient_accumulation_steps=1", "max_completion_length=6", "report_to=[]", "progress_bar=false",
             "min_pixels=3136", "max_pixels=12544", "eval_every=0", "rewards=[tests.distributed.small_chunks:index_reward]"]


def gradients(trainer: GRPOTrainer, exp, shared: bool) -> dict[str, torch.Tensor]:
    """Reference log-probs and the policy's loss gradients (all-reduced by DDP) by one path."""
    exp.ref_logp = exp.old_logp = None
    trainer.shared = SharedPrefixPlan(shared, shared)
    trainer.model.eval()
    trainer._reference_logprobs(exp)
    trainer.model.train()
    head = trainer.accelerator.unwrap_model(trainer.model).lm_head
    calls = []
    handle = head.register_forward_hook(lambda *_: calls.append(1))
    logp = experience_logprobs(trainer.model, exp, trainer.config.temperature, shared)
    in_forward = len(calls)
    out = grpo_loss(logp, None, exp.ref_logp, exp.advantages, exp.completion_mask, beta=trainer.config.beta)
    trainer.accelerator.backward(out.loss)
    handle.remove()
    if shared:  # the head ran chunk by chunk, and every chunk again in the backward pass
        assert in_forward > 1 and len(calls) == 2 * in_forward, (in_forward, len(calls))
    grads = {n: p.grad.clone() for n, p in trainer.model.named_parameters() if p.grad is not None}
    trainer.optimizer.zero_grad(set_to_none=True)
    return grads


def main(out: Path, overrides: list[str]) -> None:
    model = resolve_model_path("builtin:tiny-qwen2-vl")  # built once into VISUALTHINKER_CACHE
    config = load_config(None, [f"model_path={model}", f"output_dir={out / 'run'}", *OVERRIDES, *overrides])
    trainer = GRPOTrainer(config, make_records(4))
    acc = trainer.accelerator
    assert isinstance(trainer.model, torch.nn.parallel.DistributedDataParallel), type(trainer.model)
    records = make_records(4)[2 * acc.process_index:2 * acc.process_index + 2]  # other prompts on each rank
    with generation_weights(acc, trainer.model), acc.autocast():
        exp = trainer.maker.make(records, acc.device)
    plain, shared = gradients(trainer, exp, shared=False), gradients(trainer, exp, shared=True)
    assert plain.keys() == shared.keys() and plain
    worst = {}
    for name, g in plain.items():
        torch.testing.assert_close(shared[name], g, rtol=1e-5, atol=1e-7, msg=f"gradient of {name}")
        worst[name] = ((shared[name] - g).abs().max() / g.abs().max().clamp(min=1e-30)).item()
    # both ranks hold the same (all-reduced) gradients, though their micro-batches differ
    local = torch.stack([plain[n].flatten()[:4] for n in sorted(plain)]).flatten()
    everyone = acc.gather(local.unsqueeze(0))
    assert torch.equal(everyone[0], everyone[1]), "the ranks' gradients differ: not all-reduced"
    if acc.is_main_process:
        (out / "shared_vs_plain.json").write_text(json.dumps({
            "max_relative_difference": max(worst.values()), "parameters": len(worst),
            "trainable": sum(p.requires_grad for p in trainer.model.parameters()),
            "max_gradient": max(g.abs().max().item() for g in plain.values())}, indent=1))
    acc.wait_for_everyone()
    acc.end_training()


if __name__ == "__main__":
    main(Path(sys.argv[1]), sys.argv[2:])
