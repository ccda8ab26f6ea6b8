"""Everything that depends on how a run was launched, in one place for `train` and `sft`: building the
Accelerator (DDP, DeepSpeed ZeRO or FSDP2, on GPUs or on the CPU), preparing the policy and the frozen reference
for that engine, saving a plain Hugging Face model directory from whatever engine wraps the policy, and checking
that the ranks agree.

The engine comes from the launch (`accelerate launch --config_file configs/accelerate/X.yaml`, which sets
ACCELERATE_USE_DEEPSPEED / ACCELERATE_USE_FSDP and their settings); the run either gets the engine it asked for or
refuses to start. On a machine without a GPU (or with ACCELERATE_TORCH_DEVICE=cpu) every engine runs on the CPU
with the gloo backend: DeepSpeed through its CPU accelerator (DS_ACCELERATOR=cpu), FSDP2 on CPU tensors.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

import torch
from accelerate import Accelerator, PartialState
from accelerate.utils import DistributedType, InitProcessGroupKwargs

from visualthinker.errors import ConfigError

ENGINES = ("ddp", "deepspeed", "fsdp")


def has_accelerator_device() -> bool:
    return torch.cuda.is_available() or (hasattr(torch, "xpu") and torch.xpu.is_available())


def _flag(name: str) -> bool:
    return os.environ.get(name, "false").strip().lower() in ("1", "true", "yes")


def requested_engine() -> str:
    """The engine the launch asks for: "deepspeed", "fsdp" or "ddp" (plain data parallel, or one process)."""
    deepspeed, fsdp = _flag("ACCELERATE_USE_DEEPSPEED"), _flag("ACCELERATE_USE_FSDP")
    if deepspeed and fsdp:
        raise ConfigError("the launch sets both ACCELERATE_USE_DEEPSPEED and ACCELERATE_USE_FSDP; pick one "
                          "distributed_type in the accelerate config")
    return "deepspeed" if deepspeed else "fsdp" if fsdp else "ddp"


def runs_on_cpu() -> bool:
    """No GPU here, or the launch points accelerate at the CPU (ACCELERATE_TORCH_DEVICE=cpu)."""
    return os.environ.get("ACCELERATE_TORCH_DEVICE", "").lower() == "cpu" or not has_accelerator_device()


def _check_cpu_launch(engine: str) -> None:
    if engine != "ddp" and _flag("ACCELERATE_USE_CPU"):
        raise ConfigError(f"the launch asks for {engine} together with use_cpu/--cpu, which makes accelerate drop "
                          f"{engine} silently; remove use_cpu (the trainer runs {engine} on the CPU by itself when "
                          "no GPU is present, or with ACCELERATE_TORCH_DEVICE=cpu)")
    if engine == "deepspeed":
        # DeepSpeed picks its accelerator when first imported; on a CPU machine it must be its CPU accelerator.
        os.environ.setdefault("DS_ACCELERATOR", "cpu")
        from deepspeed.accelerator import get_accelerator

        name = get_accelerator().device_name()
        if name != "cpu":
            raise ConfigError(f"DeepSpeed on the CPU needs its CPU accelerator but selected {name!r}; "
                              "set DS_ACCELERATOR=cpu in the launch environment")


def _cpu_process_state(engine: str) -> None:
    """Set up the gloo process group on the CPU before the Accelerator exists (PartialState is a singleton).

    accelerate only pairs FSDP with a GPU-type launch, so for FSDP the CPU launch is declared as multi-device
    data parallel on the CPU device; the device stays the CPU (ACCELERATE_TORCH_DEVICE=cpu).
    """
    if PartialState._shared_state:
        return
    if engine == "fsdp":
        os.environ["ACCELERATE_TORCH_DEVICE"] = "cpu"
    state = PartialState(cpu=False, backend="gloo")
    if engine == "fsdp" and state.distributed_type == DistributedType.NO:
        PartialState._shared_state["distributed_type"] = DistributedType.MULTI_GPU


def build_accelerator(gradient_accumulation_steps: int, mixed_precision: str, report_to: list[str] | None,
                      output_dir: Path) -> Accelerator:
    engine = requested_engine()
    cpu = runs_on_cpu()
    kwargs = {}
    if cpu:
        _check_cpu_launch(engine)
        if engine == "ddp":
            # Without cpu=True, accelerate ignores a torchrun launch on a machine with no GPU and runs every
            # process as an independent "main" process.
            kwargs["cpu"] = True
        else:
            if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
                raise ConfigError(f"the launch asks for {engine} on the CPU with one process; start at least two "
                                  "(accelerate launch --num_processes 2 ...) or launch without the "
                                  f"{engine} config")
            _cpu_process_state(engine)
            kwargs["kwargs_handlers"] = [InitProcessGroupKwargs(backend="gloo")]
    accelerator = Accelerator(
        gradient_accumulation_steps=gradient_accumulation_steps,
        mixed_precision=mixed_precision,
        log_with=report_to or None,
        project_dir=str(output_dir),
        **kwargs,
    )
    launched = int(os.environ.get("WORLD_SIZE", "1"))
    if launched != accelerator.num_processes:
        raise ConfigError(f"launched with WORLD_SIZE={launched} but accelerate set up "
                          f"{accelerator.num_processes} process(es); check the launcher configuration")
    got = engine_of(accelerator)
    if got != engine:
        raise ConfigError(f"the launch asks for {engine} but accelerate set up {accelerator.distributed_type}; "
                          "check the accelerate config's distributed_type and that the launch started "
                          "more than one process (or install the engine: pip install 'visualthinker[deepspeed]')")
    return accelerator


def engine_of(accelerator: Accelerator) -> str:
    kind = accelerator.distributed_type
    return "deepspeed" if kind == DistributedType.DEEPSPEED else "fsdp" if kind == DistributedType.FSDP else "ddp"


def zero_stage(accelerator: Accelerator) -> int:
    if engine_of(accelerator) != "deepspeed":
        return 0
    return int(accelerator.state.deepspeed_plugin.zero_stage)


def is_sharded(accelerator: Accelerator) -> bool:
    """Parameters are split over ranks (ZeRO-3, FSDP): generation must run with synced_gpus."""
    return accelerator.num_processes > 1 and (zero_stage(accelerator) == 3 or engine_of(accelerator) == "fsdp")


# -- preparing the models ------------------------------------------------------------------------------------

def configure_engine(accelerator: Accelerator, micro_batch_size: int, max_grad_norm: float,
                     wrap_classes: tuple[str, ...]) -> None:
    """Settings the engine takes from the training config rather than the launch file.

    DeepSpeed: the micro-batch (completions per backward; there is no DataLoader to take it from) and gradient
    clipping (max_grad_norm; a launch file value that disagrees is refused). FSDP2: the wrap units, named per
    model family by the adapter.
    """
    engine = engine_of(accelerator)
    if engine == "deepspeed":
        ds = accelerator.state.deepspeed_plugin.deepspeed_config
        ds["train_micro_batch_size_per_gpu"] = micro_batch_size
        ds["train_batch_size"] = micro_batch_size * accelerator.gradient_accumulation_steps * accelerator.num_processes
        launched = ds.get("gradient_clipping", "auto")
        if launched not in ("auto", None) and abs(float(launched) - max_grad_norm) > 1e-12:
            raise ConfigError(f"the DeepSpeed launch config sets gradient_clipping={launched} but the training config "
                              f"has max_grad_norm={max_grad_norm}; remove gradient_clipping from the accelerate "
                              "config (max_grad_norm is the one setting)")
        ds["gradient_clipping"] = max_grad_norm
    elif engine == "fsdp":
        plugin = accelerator.state.fsdp_plugin
        if int(getattr(plugin, "fsdp_version", 1)) != 2:
            raise ConfigError("the FSDP launch must set fsdp_version: 2 (FSDP1 is not supported)")
        launched = plugin.transformer_cls_names_to_wrap
        if launched and set(launched) != set(wrap_classes):
            raise ConfigError(f"the FSDP launch config names wrap classes {launched}, but this model needs "
                              f"{list(wrap_classes)}; remove fsdp_transformer_layer_cls_to_wrap from the accelerate "
                              "config (the model adapter chooses the units per family)")
        if plugin.cpu_ram_efficient_loading:
            raise ConfigError("fsdp_cpu_ram_efficient_loading: true is not supported (the frozen reference model "
                              "is loaded on every rank); set it to false in the accelerate config")
        plugin.transformer_cls_names_to_wrap = list(wrap_classes)


def prepare_policy(accelerator: Accelerator, model: torch.nn.Module, optimizer: torch.optim.Optimizer,
                   scheduler, micro_batch_size: int, max_grad_norm: float,
                   wrap_classes: tuple[str, ...]) -> tuple[torch.nn.Module, torch.optim.Optimizer]:
    """The trained model and its optimizer wrapped for the launch's engine (`train` and `sft` alike).

    `micro_batch_size` is what one backward sees per rank (DeepSpeed needs it: no DataLoader is prepared). The
    scheduler is stepped by hand after each optimizer step (accelerate's wrapper would step it once per
    process) and is registered so that checkpoints save and restore it.
    """
    configure_engine(accelerator, micro_batch_size, max_grad_norm, wrap_classes)
    model, optimizer = accelerator.prepare(model, optimizer)
    accelerator.register_for_checkpointing(scheduler)
    return model, optimizer


def prepare_reference(accelerator: Accelerator, ref: torch.nn.Module,
                      wrap_classes: tuple[str, ...]) -> torch.nn.Module:
    """The frozen reference for forward passes only, laid out like the policy but never registered with the
    Accelerator: it is not saved in checkpoints (it is rebuilt from model_path) and never becomes a training
    engine."""
    engine = engine_of(accelerator)
    if engine == "deepspeed" and zero_stage(accelerator) == 3:
        import copy

        import deepspeed

        ds = copy.deepcopy(accelerator.state.deepspeed_plugin.deepspeed_config)
        for key in ("optimizer", "scheduler", "gradient_clipping"):
            ds.pop(key, None)
        ds["zero_optimization"] = {"stage": 3, "stage3_param_persistence_threshold": 0}
        engine_, *_ = deepspeed.initialize(model=ref, config=ds)
        engine_.eval()
        return engine_
    if engine == "fsdp" and accelerator.num_processes > 1:
        from torch.distributed.fsdp import fully_shard

        for module in ref.modules():
            if type(module).__name__ in wrap_classes:
                fully_shard(module)
        fully_shard(ref)
        return ref.eval()
    return ref.to(accelerator.device).eval()


def generation_model(accelerator: Accelerator, model: torch.nn.Module) -> torch.nn.Module:
    """The module that `generate` is called on: the policy itself (sharded under ZeRO-3 and FSDP2, where the
    engines gather each layer's weights as it runs)."""
    model = accelerator.unwrap_model(model)
    if engine_of(accelerator) == "fsdp" and hasattr(model, "_get_fsdp_state"):
        # FSDP2 decides which unit is the root at the first forward. `generate` runs the vision tower before the
        # model's own forward, which would make the first vision block a root of its own; settle it now.
        model._get_fsdp_state()._lazy_init()
    return model


@contextlib.contextmanager
def generation_weights(accelerator: Accelerator, model: torch.nn.Module) -> Iterator[None]:
    """Around `generate`: under FSDP2 the root unit's weights (embeddings, vision patch embedding and merger,
    head) are gathered for the whole call, because `generate` runs the vision tower outside the model's forward,
    where FSDP would not gather them. Layers keep gathering and freeing their own weights as they run."""
    model = accelerator.unwrap_model(model)
    if engine_of(accelerator) != "fsdp" or not hasattr(model, "unshard"):
        yield
        return
    model.unshard()
    try:
        yield
    finally:
        model.reshard()


# -- saving and checking -------------------------------------------------------------------------------------

def full_state_dict(accelerator: Accelerator, model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """The model's whole state dict at full size on every rank, under its Hugging Face names (every rank must
    call it: the ZeRO-3 / FSDP2 shards are gathered)."""
    unwrapped = accelerator.unwrap_model(model)
    if zero_stage(accelerator) == 3:
        import deepspeed

        with deepspeed.zero.GatheredParameters(list(unwrapped.parameters()), modifier_rank=None):
            return {name: t.detach().cpu().clone() for name, t in unwrapped.state_dict().items()}
    out = {}
    for name, tensor in unwrapped.state_dict().items():
        if hasattr(tensor, "full_tensor"):  # a DTensor shard under FSDP2
            tensor = tensor.full_tensor()
        out[name] = tensor.detach().cpu()
    return out


def save_model(accelerator: Accelerator, model: torch.nn.Module, processor, directory: Path) -> None:
    """A plain Hugging Face model directory (`from_pretrained` loads it), whatever engine wraps the model: the
    full weights are gathered from the shards (every rank takes part; the main process writes)."""
    state_dict = full_state_dict(accelerator, model)
    unwrapped = accelerator.unwrap_model(model)
    if zero_stage(accelerator) == 3 and "_weight_conversions" in vars(unwrapped):
        # transformers' ZeRO-3 loading keeps its whole renaming table (not only the renamings the checkpoint
        # used); reverting all of it writes wrongly prefixed names. Without it, save_pretrained reverts the
        # family's default renamings, as for a model loaded without DeepSpeed.
        del unwrapped._weight_conversions
    if accelerator.is_main_process:
        unwrapped.save_pretrained(directory, state_dict=state_dict)
        processor.save_pretrained(directory)
    accelerator.wait_for_everyone()


def parameter_checksum(accelerator: Accelerator, model: torch.nn.Module) -> str:
    """A hash of the full parameters as this rank sees them; equal on every rank when the replicas agree."""
    params = full_state_dict(accelerator, model)
    if not params:
        raise RuntimeError("parameter_checksum: the model has no parameters on this rank")
    digest = hashlib.sha256()
    for name, tensor in sorted(params.items()):
        digest.update(name.encode())
        digest.update(tensor.float().numpy().tobytes())
    return digest.hexdigest()[:16]
