"""Configs a user gets wrong: each is refused before anything loads, one line per problem naming the key, the
value and the fix (`visualthinker train`, in process; the model path does not exist, so reaching the model
would be a different error)."""

from __future__ import annotations

import pytest

from tests.adversarial.conftest import assert_clear_error, cli

NO_MODEL = "/nonexistent/model"


def _train(tmp_path, capsys, *overrides: str):
    config = tmp_path / "c.yaml"
    config.write_text(f"model_path: {NO_MODEL}\noutput_dir: {tmp_path / 'run'}\n")
    return cli(["train", config, *overrides], capsys)


# (override, text the one error line must contain besides the key): every value the issue found training silently
# wrong or crashing inside torch/transformers, and their neighbours.
BAD_VALUES = [
    ("advantage_eps=0", "must be > 0, got 0.0"),
    ("advantage_eps=-1e-4", "must be > 0"),
    ("reward_weights=[.inf,1.0]", "must be a finite number, got inf"),
    ("reward_weights=[.nan,1.0]", "must be a finite number, got nan"),
    ("learning_rate=.inf", "finite"),
    ("temperature=.nan", "finite"),
    ("max_grad_norm=-1", "must be > 0, got -1.0"),
    ("max_grad_norm=0", "must be > 0"),
    ("warmup_steps=-5", "must be >= 0, got -5"),
    ("train_limit=-1", "must be >= 1, got -1"),
    ("train_limit=0", "must be >= 1, got 0"),
    ("eval_limit=-3", "must be >= 1"),
    ("keep_checkpoints=-1", "must be >= 1, got -1"),
    ("keep_checkpoints=0", "null = keep all"),
    ("num_generations=1", "a group of one learns nothing"),
    ("weight_decay=-0.1", "must be >= 0, got -0.1"),
    ("repetition_penalty=0", "must be > 0, got 0.0"),
    ("top_p=1.5", "<= 1"),
    ("adam_beta2=1.0", "< 1"),
    ("lora_dropout=1.0", "< 1"),
    ("seed=-1", ">= 0"),
    ("save_every=-1", ">= 0"),
    ("epsilon_low=-0.2", ">= 0"),
    ("top_k=1", "every advantage is 0"),
    ("reward_weights=[0,0.0]", "are all 0"),
]


@pytest.mark.parametrize("override,text", BAD_VALUES, ids=[o for o, _ in BAD_VALUES])
def test_bad_value_is_one_line_naming_key_value_and_range(tmp_path, capsys, override, text):
    key = override.split("=")[0]
    assert_clear_error(_train(tmp_path, capsys, override), f"'{key}", text)


PLUGINS = [
    ("tests.adversarial.plugins:NOT_CALLABLE", "is a int, not a function"),
    ("tests.adversarial.plugins:no_columns", "does not take the reward arguments"),
    ("os:getcwd", "does not take the reward arguments"),
    ("tests.adversarial.plugins:missing", "cannot import"),
    ("no_such_module_xyz:f", "cannot import"),
    ("typo", "unknown reward 'typo'"),
]


@pytest.mark.parametrize("spec,text", PLUGINS, ids=[s for s, _ in PLUGINS])
def test_reward_that_is_not_a_reward_is_refused_at_config_time(tmp_path, capsys, spec, text):
    assert_clear_error(_train(tmp_path, capsys, f"rewards=[{spec}]"), spec, text)


def test_reward_option_the_reward_does_not_take(tmp_path, capsys):
    result = _train(tmp_path, capsys, "rewards=[tests.adversarial.plugins:no_columns]",
                    "reward_options={no_columns: {cap: 3}}")
    assert_clear_error(result, "no_columns", "cap")


def test_every_problem_is_reported_one_line_each(tmp_path, capsys):
    result = _train(tmp_path, capsys, "advantage_eps=0", "max_grad_norm=-1", "warmup_steps=-2")
    assert result.code == 2 and "Traceback" not in result.err
    lines = result.lines()
    assert len(lines) == 3 and all(line.startswith("error: config key '") for line in lines), lines
    assert [line.split("'")[1] for line in lines] == ["advantage_eps", "warmup_steps", "max_grad_norm"]


def test_config_file_not_utf8_names_line_and_byte(tmp_path, capsys):
    config = tmp_path / "c.yaml"
    config.write_bytes(b"model_path: m\nrun_name: caf\xe9\n")
    assert_clear_error(cli(["train", config], capsys), str(config), "line 2", "byte 27", "not UTF-8")


def test_config_that_is_a_directory(tmp_path, capsys):
    assert_clear_error(cli(["train", tmp_path], capsys), str(tmp_path), "is a directory")


def test_config_that_is_not_yaml(tmp_path, capsys):
    config = tmp_path / "c.yaml"
    config.write_text("model_path: [unclosed\n")
    assert_clear_error(cli(["train", config], capsys), str(config), "not valid YAML")


def test_output_dir_that_is_a_file_is_refused_before_the_model_loads(tmp_path, capsys):
    (tmp_path / "run").write_text("not a folder")
    # the model path does not exist: reaching the model would give a model error instead
    assert_clear_error(_train(tmp_path, capsys), str(tmp_path / "run"), "is a file, not a directory")
