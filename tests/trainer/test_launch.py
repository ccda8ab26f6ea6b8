"""The launch decides the engine: every shipped accelerate config parses into the launch it documents, and a
launch the trainer cannot honour is refused with the setting to change (never a silent fall-back to DDP)."""

from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml
from accelerate.state import AcceleratorState
from accelerate.utils import DistributedType

from visualthinker.errors import ConfigError
from visualthinker.models.adapter import ADAPTERS
from visualthinker.trainer import launch

LAUNCH = Path(__file__).resolve().parents[2] / "configs" / "accelerate"


def _launch_args(config_file: str, *extra: str):
    from accelerate.commands.launch import _validate_launch_command, launch_command_parser

    args = launch_command_parser().parse_args(["--config_file", str(LAUNCH / config_file), *extra,
                                               "-m", "visualthinker", "train", "run.yaml"])
    args, defaults, _ = _validate_launch_command(args)
    return args, defaults


@pytest.fixture
def clean_launch(monkeypatch):
    for name in ("ACCELERATE_USE_DEEPSPEED", "ACCELERATE_USE_FSDP", "ACCELERATE_USE_CPU", "WORLD_SIZE",
                 "LOCAL_RANK", "RANK"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ACCELERATE_TORCH_DEVICE", "cpu")
    yield monkeypatch
    AcceleratorState._reset_state(True)


def test_every_shipped_launch_config_is_tested_here_or_in_tests_distributed():
    shipped = {p.name for p in LAUNCH.glob("*.yaml")}
    run_for_real = {"cpu-2proc.yaml", "zero2.yaml", "zero3.yaml", "fsdp2.yaml"}  # tests/distributed
    parsed_here = {"ddp.yaml", "multinode-zero2.yaml"}
    assert shipped == run_for_real | parsed_here


def test_multinode_zero2_plan_is_deepspeed_stage2_on_two_machines():
    from accelerate.utils.launch import prepare_deepspeed_cmd_env

    args, defaults = _launch_args("multinode-zero2.yaml", "--machine_rank", "1", "--main_process_ip", "10.1.2.3")
    assert (args.use_deepspeed, args.num_machines, args.num_processes, args.machine_rank) == (True, 2, 16, 1)
    assert args.main_process_ip == "10.1.2.3"
    args.deepspeed_fields_from_accelerate_config = ",".join(defaults.deepspeed_config)
    _, env = prepare_deepspeed_cmd_env(args)
    assert env["ACCELERATE_USE_DEEPSPEED"] == "true" and env["ACCELERATE_DEEPSPEED_ZERO_STAGE"] == "2"


def test_ddp_plan_is_multi_gpu_data_parallel():
    args, _ = _launch_args("ddp.yaml")
    assert args.multi_gpu and not args.use_deepspeed and not args.use_fsdp and args.num_processes == 4


def test_no_shipped_config_names_wrap_classes_or_clipping():
    """The model adapter picks the FSDP units per family; max_grad_norm is the one clipping setting."""
    for path in LAUNCH.glob("*.yaml"):
        text = yaml.safe_load(path.read_text())
        assert "fsdp_transformer_layer_cls_to_wrap" not in text.get("fsdp_config", {}), path.name
        assert "gradient_clipping" not in text.get("deepspeed_config", {}), path.name


def test_both_engines_requested_is_refused(clean_launch):
    clean_launch.setenv("ACCELERATE_USE_DEEPSPEED", "true")
    clean_launch.setenv("ACCELERATE_USE_FSDP", "true")
    with pytest.raises(ConfigError, match="pick one"):
        launch.requested_engine()


def test_deepspeed_with_use_cpu_is_refused_not_dropped(clean_launch, tmp_path):
    clean_launch.setenv("ACCELERATE_USE_DEEPSPEED", "true")
    clean_launch.setenv("ACCELERATE_USE_CPU", "true")
    with pytest.raises(ConfigError, match="use_cpu"):
        launch.build_accelerator(1, "no", None, tmp_path)


def test_fsdp_on_one_cpu_process_is_refused(clean_launch, tmp_path):
    # one process: accelerate would quietly run without FSDP
    clean_launch.setenv("ACCELERATE_USE_FSDP", "true")
    clean_launch.setenv("FSDP_VERSION", "2")
    with pytest.raises(ConfigError, match="fsdp on the CPU with one process"):
        launch.build_accelerator(1, "no", None, tmp_path)


def _stub(kind: DistributedType, **state) -> SimpleNamespace:
    return SimpleNamespace(distributed_type=kind, num_processes=2, gradient_accumulation_steps=2,
                           state=SimpleNamespace(**state))


def test_deepspeed_takes_micro_batch_and_clipping_from_the_training_config():
    ds = {"train_micro_batch_size_per_gpu": "auto", "gradient_clipping": "auto"}
    acc = _stub(DistributedType.DEEPSPEED, deepspeed_plugin=SimpleNamespace(deepspeed_config=ds))
    launch.configure_engine(acc, micro_batch_size=8, max_grad_norm=0.5, wrap_classes=())
    assert ds["train_micro_batch_size_per_gpu"] == 8 and ds["train_batch_size"] == 32
    assert ds["gradient_clipping"] == 0.5
    ds["gradient_clipping"] = 1.0
    with pytest.raises(ConfigError, match="gradient_clipping"):
        launch.configure_engine(acc, micro_batch_size=8, max_grad_norm=0.5, wrap_classes=())


@pytest.mark.parametrize("family", sorted(ADAPTERS))
def test_fsdp_units_come_from_the_adapter_of_the_family(family):
    classes = ADAPTERS[family].fsdp_wrap_classes
    plugin = SimpleNamespace(fsdp_version=2, transformer_cls_names_to_wrap=None, cpu_ram_efficient_loading=False)
    launch.configure_engine(_stub(DistributedType.FSDP, fsdp_plugin=plugin), 8, 1.0, classes)
    assert plugin.transformer_cls_names_to_wrap == list(classes)
    model_class = ADAPTERS[family].model_class
    assert set(classes) <= set(model_class._no_split_modules)  # real classes of this family
    other = next(a for f, a in ADAPTERS.items() if f != family).fsdp_wrap_classes
    plugin.transformer_cls_names_to_wrap = list(other)
    with pytest.raises(ConfigError, match="fsdp_transformer_layer_cls_to_wrap"):
        launch.configure_engine(_stub(DistributedType.FSDP, fsdp_plugin=plugin), 8, 1.0, classes)
