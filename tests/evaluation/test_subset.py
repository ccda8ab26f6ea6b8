"""The periodic-evaluation subset: stratified, seeded, the same at every step, saved in the run directory."""

from __future__ import annotations

import json

import pytest

from visualthinker.data.record import Record
from visualthinker.errors import ConfigError
from visualthinker.evaluation.runner import eval_prompt_spec, periodic_eval_spec
from visualthinker.evaluation.subset import allocate, strata_counts, stratified_subset
from visualthinker.prompts import INSTRUCT_EVAL_SUFFIX, PromptSpec

# CV-Bench test: Count and Relation on ADE20K/COCO (the 2D file first), Depth and Distance on Omni3D.
CVBENCH_MIX = [("Count", "ADE20K", 400), ("Count", "COCO", 388), ("Relation", "ADE20K", 350),
               ("Relation", "COCO", 300), ("Depth", "Omni3D", 600), ("Distance", "Omni3D", 600)]


def cvbench_like() -> list[Record]:
    rows = [(task, source) for task, source, n in CVBENCH_MIX for _ in range(n)]
    return [Record(id=f"cvbench-{i}", images=[], question="q", choices=["a", "b"], answer="a", prompt="q",
                   task=task, source="cvbench", answer_letter="A", subtask=source, raw={"source": source, "idx": i})
            for i, (task, source) in enumerate(rows)]


def test_class_mix_matches_the_full_set_within_rounding():
    records = cvbench_like()
    full = strata_counts(records)
    for n in (1, 7, 100, 500, 2637):
        subset = stratified_subset(records, n, seed=42)
        assert len(subset) == n and len({r.id for r in subset}) == n
        counts = strata_counts(subset)
        for key, size in full.items():
            assert abs(counts.get(key, 0) - n * size / len(records)) < 1, (n, key)
    counts = strata_counts(stratified_subset(records, 500, seed=42))
    # the first 500 rows would be 400 Count/ADE20K + 100 Count/COCO; exact shares 75.8, 73.5, 113.7, 113.7, 66.3,
    # 56.9: floors 496, the 4 left go to the largest fractions (.86, .82, .72, .72)
    assert counts == {"Count/ADE20K": 76, "Count/COCO": 73, "Depth/Omni3D": 114, "Distance/Omni3D": 114,
                      "Relation/ADE20K": 66, "Relation/COCO": 57}


def test_subset_is_deterministic_per_seed_and_keeps_dataset_order():
    records = cvbench_like()
    ids = [r.id for r in stratified_subset(records, 500, seed=42)]
    assert ids == [r.id for r in stratified_subset(list(records), 500, seed=42)]
    assert ids != [r.id for r in stratified_subset(records, 500, seed=43)]
    positions = [int(i.split("-")[1]) for i in ids]
    assert positions == sorted(positions)


def test_all_records_when_no_limit_and_a_bad_limit_is_an_error():
    records = cvbench_like()[:10]
    assert stratified_subset(records, None, seed=0) == records
    assert stratified_subset(records, 50, seed=0) == records
    with pytest.raises(ConfigError, match="eval_limit"):
        stratified_subset(records, 0, seed=0)


def test_allocation_is_largest_remainder():
    assert allocate({"a": 1, "b": 1, "c": 1}, 2) == {"a": 1, "b": 1, "c": 0}  # ties by name
    assert allocate({"a": 5, "b": 3, "c": 2}, 5) == {"a": 3, "b": 1, "c": 1}  # 2.5, 1.5, 1.0 -> a's .5 first
    assert sum(allocate({"a": 7, "b": 11, "c": 13}, 10).values()) == 10


def test_instruct_periodic_evaluation_uses_the_evaluation_scripts_prompt():
    spec = periodic_eval_spec(PromptSpec(template="instruct", literal_image_tag=True))
    assert spec.instruct_suffix == INSTRUCT_EVAL_SUFFIX and not spec.literal_image_tag
    prompt = "How many chairs? Select from the following choices.\n(A) 1\n(B) 2"
    # evaluate_Qwen2_VL_CVBench.py: example['prompt'] + "\nOutput the thinking process in <think> </think> and
    # final answer in <answer> </answer> tags."
    assert spec.text(prompt) == (prompt + "\nOutput the thinking process in <think> </think> and final answer in "
                                 "<answer> </answer> tags.")
    base = PromptSpec(template="base", literal_image_tag=True)
    assert periodic_eval_spec(base) == base == eval_prompt_spec("reasoning", "base")
    assert not periodic_eval_spec(PromptSpec(template="base", literal_image_tag=False)).literal_image_tag
    assert eval_prompt_spec("reasoning", "instruct") == spec  # the scripts' default: no literal tag for instruct


def test_training_evaluates_the_same_saved_subset_at_every_step(tiny_model, bench_data, tmp_path, monkeypatch):
    import visualthinker.evaluation as evaluation
    from visualthinker.config import load_config
    from visualthinker.trainer.run import train

    seen, specs = [], []

    def fake_evaluate(model, adapter, processor, records, spec, **kwargs):
        seen.append([r.id for r in records])
        specs.append(spec)
        return {"items": [{"id": r.id, "correct": True, "response_tokens": 1, "format_failure": False}
                          for r in records]}

    monkeypatch.setattr(evaluation, "evaluate_records", fake_evaluate)
    out = tmp_path / "run"
    overrides = [f"model_path={tiny_model}", f"output_dir={out}", "train_data=synthetic", "train_limit=4",
                 f"eval_data={bench_data['cvbench']}", "eval_limit=4", "eval_every=1", "seed=7", "num_generations=2", "per_device_prompts=1", "gradient_accumulation_steps=1",
                 "max_completion_length=2", "report_to=[]", "progress_bar=false", "max_pixels=12544"]
    train(load_config(None, [*overrides, "max_steps=2"]))
    manifest = json.loads((out / "eval_subset.json").read_text())
    assert len(seen) == 3 and seen[0] == seen[1] == seen[2] == manifest["ids"]  # steps 0, 1, 2
    assert specs[0] == eval_prompt_spec("reasoning", "base")
    assert manifest["n"] == 4 and manifest["seed"] == 7 and sum(manifest["strata"].values()) == 4
    # a resumed run refuses a different subset
    manifest["ids"] = manifest["ids"][::-1]
    (out / "eval_subset.json").write_text(json.dumps(manifest))
    with pytest.raises(ConfigError, match="eval_subset.json"):
        train(load_config(None, [*overrides, "max_steps=3", "resume=true"]))
