"""Tiny datasets in the real on-disk formats of SAT, CV-Bench, BLINK and VSR, built from solid-colour images.

Other test folders import these builders (e.g. `from tests.data.fixtures import write_cvbench_fixture`). Every
builder writes into a folder the caller owns and returns the path to hand to `load_records`.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

from PIL import Image

try:  # progress bars from `datasets` writers only clutter test output
    from datasets.utils.logging import disable_progress_bar

    disable_progress_bar()
except ImportError:  # pragma: no cover
    pass

PALETTE = [(200, 30, 30), (30, 160, 60), (40, 80, 220), (230, 200, 30), (120, 40, 160), (20, 160, 170)]


def solid_image_bytes(
    index: int = 0, size: tuple[int, int] = (32, 24), fmt: str = "JPEG", mode: str = "RGB"
) -> bytes:
    """A solid-colour image, encoded; `mode` "L"/"RGBA" gives the grayscale/alpha cases."""
    colour = PALETTE[index % len(PALETTE)]
    image = Image.new("RGB", size, colour)
    if mode != "RGB":
        image = image.convert(mode)
    buffer = io.BytesIO()
    image.save(buffer, format=fmt)
    return buffer.getvalue()


def truncated_jpeg() -> bytes:
    return solid_image_bytes(0, (64, 64))[:60]


# ----------------------------------------------------------------------------------------------------- SAT

SAT_STATIC = [
    ("How many chairs are visible in the scene?", ["2", "1", "5", "3", "4"]),
    ("Considering the relative positions, is the lamp to the left or right of the sofa?", ["left", "right"]),
    ("Which object is closer to the camera taking this photo, the lamp or the sofa?", ["lamp", "sofa"]),
    ("Which object is closer to the lamp, the sofa or the table?", ["sofa", "table"]),
    (
        "Consider the 3D positions of the objects. Is the centerpoint of the lamp at a higher height than the sofa?",
        ["yes", "no"],
    ),
    ("Considering the relative positions, is the cup above or below the shelf?", ["above", "below"]),
]
SAT_DYNAMIC = (
    "The first image is from the beginning of the video and the second image is from the end. "
    "How did the camera likely rotate when shooting the video?",
    ["rotated left", "rotated right"],
)
SAT_DYNAMIC_EVERY = 4  # rows 3, 7, 11, ... are 2-image dynamic rows


def sat_rows(n: int = 24) -> list[dict[str, Any]]:
    """Rows in raw SAT order: the correct answer first (unshuffled), every 4th row a 2-image motion question."""
    rows = []
    for i in range(n):
        if i % SAT_DYNAMIC_EVERY == SAT_DYNAMIC_EVERY - 1:
            question, answers = SAT_DYNAMIC
            images = [solid_image_bytes(i), solid_image_bytes(i + 1)]
            qtype = "action_sequence"
        else:
            question, answers = SAT_STATIC[i % len(SAT_STATIC)]
            images = [solid_image_bytes(i)]
            qtype = "other"
        rows.append(
            {
                "image_bytes": images,
                "question": question,
                "answers": list(answers),
                "question_type": qtype,
                "correct_answer": answers[0],
            }
        )
    return rows


def write_sat_fixture(
    root: str | Path, rows: list[dict[str, Any]] | None = None, style: str = "pandas", split: str = "train"
) -> Path:
    """`root/SAT_<split>.parquet`; style "pandas" gives list<binary> (as upstream), "datasets" gives
    list<struct<bytes,path>> from `List(Image())` features."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    rows = sat_rows() if rows is None else rows
    path = root / f"SAT_{split}.parquet"
    if style == "pandas":
        import pandas as pd

        pd.DataFrame(rows).to_parquet(path)
    elif style == "datasets":
        from datasets import Dataset, Features, Image, List, Value

        features = Features(
            {
                "image_bytes": List(Image()),
                "question": Value("string"),
                "answers": List(Value("string")),
                "question_type": Value("string"),
                "correct_answer": Value("string"),
            }
        )
        data = {key: [row[key] for row in rows] for key in features}
        data["image_bytes"] = [[{"bytes": b, "path": None} for b in row["image_bytes"]] for row in rows]
        Dataset.from_dict(data, features=features).to_parquet(str(path))
    else:
        raise ValueError(style)
    return path


# ------------------------------------------------------------------------------------------------ CV-Bench

CVBENCH_ROWS: list[dict[str, Any]] = [
    # (type, task, source, question, choices, answer)
    {"type": "2D", "task": "Count", "source": "ADE20K", "question": "How many cups are in the image?",
     "choices": ["3", "2", "1", "0"], "answer": "(C)"},
    {"type": "2D", "task": "Relation", "source": "ADE20K",
     "question": "Considering the relative positions of the lamp (annotated by the red box) and the bed in the "
     "image provided, where is the lamp located with respect to the bed?",
     "choices": ["left", "right"], "answer": "(A)"},
    {"type": "2D", "task": "Count", "source": "COCO", "question": "How many dogs are in the image?",
     "choices": ["0", "1", "2", "3", "4", "5"], "answer": "(F)"},
    {"type": "2D", "task": "Relation", "source": "COCO",
     "question": "Considering the relative positions of the cat (annotated by the red box) and the sofa in the "
     "image provided, where is the cat located with respect to the sofa?",
     "choices": ["above", "below"], "answer": "(B)"},
    {"type": "3D", "task": "Depth", "source": "Omni3D",
     "question": "Which object is closer to the camera taking this photo, the lamp (highlighted by a red box) or "
     "the chair (highlighted by a blue box)?", "choices": ["lamp", "chair"], "answer": "(A)"},
    {"type": "3D", "task": "Distance", "source": "Omni3D",
     "question": "Estimate the real-world distances between objects in this image. Which object is closer to the "
     "table (highlighted by a red box), the chair (highlighted by a blue box) or the door (highlighted by a green "
     "box)?", "choices": ["chair", "door"], "answer": "(B)"},
]  # fmt: skip


def cvbench_rows() -> list[dict[str, Any]]:
    """Full CV-Bench rows (all card columns), images as {bytes, path} dicts."""
    rows = []
    for i, base in enumerate(CVBENCH_ROWS):
        letters = "ABCDEF"
        prompt = (
            base["question"]
            + " Select from the following choices.\n"
            + "\n".join(f"({letters[k]}) {c}" for k, c in enumerate(base["choices"]))
        )
        folder = f"img/{base['type']}/{base['task'].lower()}"
        prefix = {"ADE20K": "ade20k", "COCO": "coco", "Omni3D": "omni3d_sunrgbd"}[base["source"]]
        rows.append(
            {
                "idx": i,
                **base,
                "image": {"bytes": solid_image_bytes(i, fmt="PNG"), "path": None},
                "prompt": prompt,
                "filename": f"{folder}/{prefix}_{i}.png",
                "source_dataset": {
                    "ADE20K": "ADE20K Validation Set",
                    "COCO": "COCO 2017 Validation Set",
                    "Omni3D": "SUN-RGBD",
                }[base["source"]],  # fmt: skip
                "source_filename": f"{prefix}_{i:06d}.jpg",
                "target_class": "dog" if base["source"] == "COCO" else None,
                "target_size": 1200 if base["source"] == "COCO" else None,
                "bbox": [[10.0, 20.0, 50.0, 80.0], [60.0, 15.0, 90.0, 70.0]]
                if base["source"] == "Omni3D"
                else None,
            }
        )
    return rows


def _cvbench_features() -> Any:
    from datasets import Features, Image, List, Value

    return Features(
        {
            "idx": Value("int32"),
            "type": Value("string"),
            "task": Value("string"),
            "image": Image(),
            "question": Value("string"),
            "choices": List(Value("string")),
            "answer": Value("string"),
            "prompt": Value("string"),
            "filename": Value("string"),
            "source": Value("string"),
            "source_dataset": Value("string"),
            "source_filename": Value("string"),
            "target_class": Value("string"),
            "target_size": Value("int32"),
            "bbox": List(List(Value("float32"))),
        }
    )


def _cvbench_dataset(rows: list[dict[str, Any]]) -> Any:
    from datasets import Dataset

    features = _cvbench_features()
    return Dataset.from_dict({key: [row.get(key) for row in rows] for key in features}, features=features)


def write_cvbench_fixture(
    root: str | Path, layout: str = "split", rows: list[dict[str, Any]] | None = None
) -> Path:
    """layout "split": test_2d.parquet + test_3d.parquet (current hub); "single": test.parquet (the revision
    VisualThinker used); "saved": the legacy `val.parquet/` save_to_disk folder. Returns `root`."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    rows = cvbench_rows() if rows is None else rows
    if layout == "split":
        _cvbench_dataset([r for r in rows if r["type"] == "2D"]).to_parquet(str(root / "test_2d.parquet"))
        _cvbench_dataset([r for r in rows if r["type"] == "3D"]).to_parquet(str(root / "test_3d.parquet"))
    elif layout == "single":
        _cvbench_dataset(rows).to_parquet(str(root / "test.parquet"))
    elif layout == "saved":
        _cvbench_dataset(rows).save_to_disk(str(root / "val.parquet"))
    else:
        raise ValueError(layout)
    return root


# --------------------------------------------------------------------------------------------------- BLINK

BLINK_ROWS: dict[str, list[tuple[str, list[str], str]]] = {
    "Relative_Depth": [
        ("Which point is closer to the camera?", ["A is closer", "B is closer"], "(A)"),
        ("Which point is closer to the camera?", ["A is closer", "B is closer"], "(B)"),
        ("Which point is closer to the camera?", ["A is closer", "B is closer"], "(B)"),
    ],
    "Spatial_Relation": [
        ("Is the car beneath the cat?", ["yes", "no"], "(B)"),
        ("Is the dog on the left of the sofa?", ["yes", "no"], "(A)"),
    ],
    "Multi-view_Reasoning": [
        ("The images are frames from a video. Is the camera moving left or right?", ["left", "right"], "(A)"),
    ],
}
BLINK_DEPTH_PREFIX = "Two points are circled on the image, labeled by A and B beside each circle. "


def blink_rows(subtask: str, split: str = "val") -> list[dict[str, Any]]:
    rows = []
    for n, (question, choices, answer) in enumerate(BLINK_ROWS[subtask], start=1):
        lead = BLINK_DEPTH_PREFIX if subtask == "Relative_Depth" else ""
        prompt = (
            lead
            + question
            + "\nSelect from the following choices.\n"
            + "\n".join(f"({'ABCD'[k]}) {c}" for k, c in enumerate(choices))
        )
        two = subtask == "Multi-view_Reasoning"
        rows.append(
            {
                "idx": f"{split}_{subtask}_{n}",
                "question": question,
                "sub_task": subtask,
                "image_1": {"bytes": solid_image_bytes(n), "path": None},
                "image_2": {"bytes": solid_image_bytes(n + 1), "path": None} if two else None,
                "image_3": None,
                "image_4": None,
                "choices": choices,
                "answer": answer if split == "val" else "hidden",
                "prompt": prompt,
                "explanation": "",
            }
        )
    return rows


def write_blink_fixture(
    root: str | Path, subtasks: tuple[str, ...] = tuple(BLINK_ROWS), splits: tuple[str, ...] = ("val", "test")
) -> Path:
    """`root/<Subtask>/<split>-00000-of-00001.parquet` with the card's features; test answers are "hidden"."""
    from datasets import Dataset, Features, Image, List, Value

    features = Features(
        {
            "idx": Value("string"),
            "question": Value("string"),
            "sub_task": Value("string"),
            "image_1": Image(),
            "image_2": Image(),
            "image_3": Image(),
            "image_4": Image(),
            "choices": List(Value("string")),
            "answer": Value("string"),
            "prompt": Value("string"),
            "explanation": Value("string"),
        }
    )
    root = Path(root)
    for subtask in subtasks:
        (root / subtask).mkdir(parents=True, exist_ok=True)
        for split in splits:
            rows = blink_rows(subtask, split)
            data = {key: [row[key] for row in rows] for key in features}
            path = root / subtask / f"{split}-00000-of-00001.parquet"
            Dataset.from_dict(data, features=features).to_parquet(str(path))
    return root


# ----------------------------------------------------------------------------------------------------- VSR

VSR_ROWS: list[dict[str, Any]] = [
    {"image": "000000000001.jpg", "image_link": "http://images.cocodataset.org/train2017/000000000001.jpg",
     "caption": "The cat is on the bed.", "label": 1, "relation": "on", "annotator_id": 3,
     "vote_true_validator_id": "[2, 9]", "vote_false_validator_id": "[]", "reference_frame": None},
    {"image": "000000000002.jpg", "image_link": "http://images.cocodataset.org/val2017/000000000002.jpg",
     "caption": "The dog is left of the car.", "label": 0, "relation": "left of", "annotator_id": 7,
     "vote_true_validator_id": "[]", "vote_false_validator_id": "[1, 4]", "reference_frame": 1.0},
    {"image": "000000000003.jpg", "image_link": "http://images.cocodataset.org/train2017/000000000003.jpg",
     "caption": "The car is behind the suitcase.", "label": 1, "relation": "behind", "annotator_id": 2,
     "vote_true_validator_id": "[18, 2]", "vote_false_validator_id": "[1]", "reference_frame": None},
]  # fmt: skip


def write_vsr_fixture(
    root: str | Path, rows: list[dict[str, Any]] | None = None, split: str = "test"
) -> Path:
    """`root/<split>.jsonl` plus `root/images/`: the first image sits directly in images/, the others in the
    train2017/val2017 sub-folder named by their `image_link` (both lookups are exercised). Returns `root`."""
    root = Path(root)
    rows = VSR_ROWS if rows is None else rows
    images = root / "images"
    images.mkdir(parents=True, exist_ok=True)
    with (root / f"{split}.jsonl").open("w", encoding="utf-8") as handle:
        for i, row in enumerate(rows):
            handle.write(json.dumps(row) + "\n")
            folder = images if i == 0 else images / row["image_link"].split("/")[-2]
            folder.mkdir(exist_ok=True)
            (folder / row["image"]).write_bytes(solid_image_bytes(i))
    return root
