import pytest

from visualthinker.config import load_config
from visualthinker.errors import ConfigError


def test_yaml_and_overrides(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("model_path: m\nbeta: 0.0\nrewards: [accuracy]\n")
    config = load_config(path, ["beta=0.04", "learning_rate=1e-6", "rewards=[accuracy,format]", "resume=true"])
    assert config.beta == 0.04 and config.learning_rate == 1e-6 and config.resume is True
    assert config.rewards == ["accuracy", "format"]


@pytest.mark.parametrize("override,message", [
    ("lr=1", "unknown config key 'lr'; did you mean 'learning_rate'"),
    ("beta=-1", "'beta': must be >= 0"),
    ("temperature=hot", "'temperature': expected a number"),
    ("template=chat", "'template': 'chat' is not one of"),
    ("max_steps=1.5", "'max_steps': expected an integer"),
    ("num_generations=1", "'num_generations'"),
    ("resume=maybe", "'resume': expected true or false"),
    ("reward_weights=[1.0]", "'reward_weights': has 1 entries for 2 rewards"),
    ("reward_options={length: {cap: 3}}", "'reward_options': names 'length'"),
    ("loss_aggregation=sum", "'loss_aggregation'"),
    ("noequals", "not of the form key=value"),
])
def test_bad_values_name_the_key(override, message):
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("(", r"\(")):
        load_config(None, ["model_path=m", override])


def test_missing_file_and_model(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.yaml")
    with pytest.raises(ConfigError, match="model_path"):
        load_config(None, [])


def test_shipped_configs_are_valid():
    from pathlib import Path

    root = Path(__file__).resolve().parents[2] / "configs"
    files = sorted(root.glob("*.yaml")) + sorted((root / "paper").glob("*.yaml"))
    assert files
    for path in files:
        if path.name.startswith("sft-"):  # SFTConfig files: validated in tests/sft/test_paper_configs.py
            continue
        load_config(path)
