"""An offline spatial-reasoning set: coloured shapes on a plain background, with SAT-style questions.

Four tasks mirror SAT / CV-Bench: `count`, `relation` (left/right, above/below), `depth` (the closer object is
bigger, lower and drawn on top of the farther one) and `distance` (which of two objects is nearer a third).
A fifth, `tally` (not in the default set), asks how many shapes a scene holds when every shape is of a
different kind: the demo's task where thinking can pay, because naming each shape in turn only needs seeing
*whether* a kind is present, while the total at a glance needs the number.
The vocabulary is deliberately tiny (4 colours, 3 shapes) and objects are larger than a 14-px patch at
112 px, so a very small model can learn the set on a CPU in minutes.

Guarantees:
- Deterministic: the same (n, seed, split, image_size, difficulty, tasks) gives the same records.
- Disjoint splits: every scene+question hashes into exactly one split bucket and a split only keeps its own
  bucket, so no (image, question) pair can occur in two splits, whatever the seeds or sizes.
- Balanced: tasks, answer values and the answer's position among the choices are drawn from shuffled
  blocks that contain every combination once.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from PIL import Image, ImageDraw

from visualthinker.data.problems import RecordList
from visualthinker.data.record import Record
from visualthinker.errors import DataError
from visualthinker.prompts import sat_question

COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (220, 40, 40),
    "green": (30, 160, 60),
    "blue": (40, 90, 230),
    "yellow": (235, 195, 20),
}
SHAPES = ("circle", "square", "triangle")
TASKS = ("count", "relation", "depth", "distance")  # the default set (SAT / CV-Bench's four)
ALL_TASKS = (*TASKS, "tally")
TALLY_QUESTION = "How many shapes are in the picture?"
SPLITS = ("train", "val", "test")
# Fractions of the hash space owned by each split (test and val are small, so their generation rejects
# more candidates; candidates are cheap because nothing is drawn until a scene is accepted).
SPLIT_BUCKETS = (("test", 0.0, 0.2), ("val", 0.2, 0.35), ("train", 0.35, 1.0))
OUTLINE = (40, 40, 40)

Obj = tuple[str, str, int, int, int]  # colour, shape, centre x, centre y, size (bounding-box side), in pixels


@dataclass(frozen=True)
class Difficulty:
    size: tuple[float, float]  # object size as a fraction of the image side
    counts: tuple[int, ...]  # possible answers of count questions (also the choices)
    distractors: tuple[int, int]  # extra objects in count / relation / distance scenes
    similar_distractors: bool  # distractors may share the colour or the shape of a named object
    depth_ratio: tuple[float, float]  # size ratio near/far object
    depth_overlap: bool  # the near object partly hides the far one
    distance_ratio: float  # minimum far/near distance ratio
    min_gap: float  # minimum separation along the asked axis, in object sizes
    background: tuple[int, int]  # grey level range
    tally: tuple[int, ...] = (2, 3, 4, 5)  # possible answers of tally questions (also the choices)


DIFFICULTIES: dict[str, Difficulty] = {
    "easy": Difficulty((0.18, 0.22), (1, 2, 3), (0, 0), False, (1.7, 2.0), True, 1.9, 1.0, (235, 240)),
    "medium": Difficulty((0.14, 0.19), (1, 2, 3, 4), (1, 2), False, (1.4, 1.7), True, 1.6, 0.7, (215, 245),
                         (2, 3, 4, 5, 6)),
    "hard": Difficulty((0.11, 0.16), (1, 2, 3, 4, 5), (2, 4), True, (1.25, 1.5), False, 1.3, 0.4, (195, 250),
                       (3, 4, 5, 6, 7)),
}


def _randint(rng: random.Random, lo: int, hi: int) -> int:
    """rng.randint without its argument checks (several times faster; generation calls it a lot)."""
    return lo + int(rng.random() * (hi - lo + 1))


def name(obj: Obj) -> str:
    return f"{obj[0]} {obj[1]}"


def render(objects: Sequence[Obj], image_size: int, background: tuple[int, int, int]) -> Image.Image:
    """Draw the objects in order (later ones on top)."""
    image = Image.new("RGB", (image_size, image_size), background)
    draw = ImageDraw.Draw(image)
    for colour, shape, cx, cy, size in objects:
        half = size / 2
        box = (cx - half, cy - half, cx + half, cy + half)
        fill = COLOURS[colour]
        if shape == "circle":
            draw.ellipse(box, fill=fill, outline=OUTLINE)
        elif shape == "square":
            draw.rectangle(box, fill=fill, outline=OUTLINE)
        else:
            draw.polygon(
                [(cx, cy - half), (cx + half, cy + half), (cx - half, cy + half)], fill=fill, outline=OUTLINE
            )
    return image


class _Scene:
    """Random placement helpers for one scene."""

    def __init__(self, rng: random.Random, diff: Difficulty, image_size: int) -> None:
        self.rng, self.diff, self.w = rng, diff, image_size
        self.objects: list[Obj] = []

    def size(self) -> int:
        lo, hi = self.diff.size
        return max(6, round(self.w * self.rng.uniform(lo, hi)))

    def free(self, cx: float, cy: float, size: int) -> bool:
        half = size / 2
        if cx - half < 1 or cy - half < 1 or cx + half > self.w - 2 or cy + half > self.w - 2:
            return False
        # Circumscribed circles with a small gap: shapes never touch, so each stays countable.
        return all(
            math.dist((cx, cy), (ox, oy)) > (size + osize) * 0.72 + 2 for _, _, ox, oy, osize in self.objects
        )

    def place(self, colour: str, shape: str, size: int | None = None, tries: int = 60) -> Obj:
        size = size or self.size()
        for _ in range(tries):
            cx = _randint(self.rng, size // 2 + 1, self.w - size // 2 - 2)
            cy = _randint(self.rng, size // 2 + 1, self.w - size // 2 - 2)
            if self.free(cx, cy, size):
                obj = (colour, shape, cx, cy, size)
                self.objects.append(obj)
                return obj
        raise _Retry

    def distinct_kinds(self, k: int) -> list[tuple[str, str]]:
        kinds = [(c, s) for c in COLOURS for s in SHAPES]
        return self.rng.sample(kinds, k)

    def add_distractors(self, named: list[tuple[str, str]], count: int) -> None:
        """Objects of kinds not named in the question (so every named object is unique in the scene)."""
        kinds = [(c, s) for c in COLOURS for s in SHAPES if (c, s) not in named]
        if not self.diff.similar_distractors:
            # Easier: distractors differ from every named object in both colour and shape when possible.
            dissimilar = [(c, s) for c, s in kinds if all(c != nc and s != ns for nc, ns in named)]
            kinds = dissimilar or kinds
        for _ in range(count):
            self.place(*self.rng.choice(kinds))


class _Retry(Exception):
    """The random layout did not fit; draw another."""


@dataclass
class _Item:
    task: str
    question: str
    choices: list[str]  # canonical order (before positioning the answer)
    answer: str
    objects: list[Obj]


def _count(scene: _Scene, value: int) -> _Item:
    """value indexes `Difficulty.counts`."""
    diff = scene.diff
    count = diff.counts[value]
    colour, shape = scene.distinct_kinds(1)[0]
    size = scene.size()
    for _ in range(count):
        scene.place(colour, shape, size)
    lo, hi = diff.distractors
    n_distractors = _randint(scene.rng, lo, hi) + (1 if diff.similar_distractors else 0)
    if diff.similar_distractors:
        # Hard: distractors share the colour or the shape, so the count needs both attributes.
        similar = [(c, shape) for c in COLOURS if c != colour] + [(colour, s) for s in SHAPES if s != shape]
        for _ in range(n_distractors):
            scene.place(*scene.rng.choice(similar), size)
    else:
        scene.add_distractors([(colour, shape)], n_distractors)
    scene.rng.shuffle(scene.objects)  # drawing order must not hint at which objects are targets
    question = f"How many {colour} {shape}s are in the image?"
    return _Item("count", question, [str(c) for c in diff.counts], str(count), scene.objects)


RELATIONS = ("left", "right", "above", "below")


def _relation(scene: _Scene, value: int) -> _Item:
    relation = RELATIONS[value]
    horizontal = relation in ("left", "right")
    (ca, sa), (cb, sb) = scene.distinct_kinds(2)
    size = scene.size()
    b = scene.place(cb, sb, size)
    gap = size * (1 + scene.diff.min_gap)
    lo, hi = size // 2 + 1, scene.w - size // 2 - 2
    own = b[2] if horizontal else b[3]
    # The asked coordinate is drawn from the band on the answer's side of B; the other one freely.
    band = (lo, own - gap) if relation in ("left", "above") else (own + gap, hi)
    if band[0] > band[1]:
        raise _Retry
    for _ in range(20):
        along = round(scene.rng.uniform(*band))
        across = _randint(scene.rng, lo, hi)
        cx, cy = (along, across) if horizontal else (across, along)
        if scene.free(cx, cy, size):
            scene.objects.append((ca, sa, cx, cy, size))
            break
    else:
        raise _Retry
    scene.add_distractors([(ca, sa), (cb, sb)], _randint(scene.rng, *scene.diff.distractors))
    a_name, b_name = f"{ca} {sa}", f"{cb} {sb}"
    if horizontal:
        question = (
            f"Considering the relative positions, is the {a_name} to the left or right of the {b_name}?"
        )
        choices = ["left", "right"]
    else:
        question = f"Considering the relative positions, is the {a_name} above or below the {b_name}?"
        choices = ["above", "below"]
    return _Item("relation", question, choices, relation, scene.objects)


def _depth(scene: _Scene, value: int) -> _Item:
    """value 0: the first-named object is closer; 1: the second."""
    diff, rng, w = scene.diff, scene.rng, scene.w
    (cn, sn), (cf, sf) = scene.distinct_kinds(2)
    far_size = max(6, round(w * rng.uniform(diff.size[0] * 0.8, diff.size[1] * 0.9)))
    near_size = round(far_size * rng.uniform(*diff.depth_ratio))
    for _ in range(60):
        fx = _randint(rng, far_size // 2 + 1, w - far_size // 2 - 2)
        fy = _randint(rng, far_size // 2 + 1, w - near_size // 2 - 2)
        if diff.depth_overlap:
            # Partial occlusion: the near object overlaps the far one from below (nearer the viewer).
            reach = (far_size + near_size) / 2
            angle = rng.uniform(0.15 * math.pi, 0.85 * math.pi)
            dist = reach * rng.uniform(0.75, 0.95)
            nx, ny = round(fx + dist * math.cos(angle)), round(fy + dist * math.sin(angle))
            half = near_size / 2
            if half + 1 <= nx <= w - half - 2 and half + 1 <= ny <= w - half - 2:
                scene.objects = [(cf, sf, fx, fy, far_size), (cn, sn, nx, ny, near_size)]
                break
        else:
            scene.objects = [(cf, sf, fx, fy, far_size)]
            nx = _randint(rng, near_size // 2 + 1, w - near_size // 2 - 2)
            ny = _randint(rng, max(fy, near_size // 2 + 1), max(fy, w - near_size // 2 - 2))
            if scene.free(nx, ny, near_size):
                scene.objects.append((cn, sn, nx, ny, near_size))
                break
    else:
        raise _Retry
    near, far = f"{cn} {sn}", f"{cf} {sf}"
    first, second = (near, far) if value == 0 else (far, near)
    question = f"Which object is closer to the camera, the {first} or the {second}?"
    return _Item("depth", question, [first, second], near, scene.objects)


def _distance(scene: _Scene, value: int) -> _Item:
    """value 0: the first-named candidate is nearer the anchor; 1: the second."""
    diff, rng, w = scene.diff, scene.rng, scene.w
    (ca, sa), (cn, sn), (cf, sf) = scene.distinct_kinds(3)
    size = scene.size()
    anchor = scene.place(ca, sa, size)
    ax, ay = anchor[2], anchor[3]
    closest = size * 1.5 + 3  # nearest a candidate can be without touching the anchor
    ratio = diff.distance_ratio
    for _ in range(40):
        # Far candidate first, far enough to leave room for a near one inside the radius the ratio allows.
        d_far = rng.uniform(ratio * closest, w)
        angle = rng.uniform(0, 2 * math.pi)
        far = (round(ax + d_far * math.cos(angle)), round(ay + d_far * math.sin(angle)))
        if not scene.free(*far, size):
            continue
        d_far = math.dist((ax, ay), far)
        d_near = rng.uniform(closest, max(closest, d_far / ratio))
        angle = rng.uniform(0, 2 * math.pi)
        near = (round(ax + d_near * math.cos(angle)), round(ay + d_near * math.sin(angle)))
        # Rounding must not break the ratio: the far candidate has to stay clearly farther.
        if (
            scene.free(*near, size)
            and d_far >= ratio * math.dist((ax, ay), near)
            and math.dist(near, far) > size * 1.44 + 2
        ):
            scene.objects += [(cn, sn, *near, size), (cf, sf, *far, size)]
            break
    else:
        raise _Retry
    scene.add_distractors([(ca, sa), (cn, sn), (cf, sf)], _randint(rng, *diff.distractors))
    near_name, far_name = f"{cn} {sn}", f"{cf} {sf}"
    first, second = (near_name, far_name) if value == 0 else (far_name, near_name)
    question = f"Which object is closer to the {ca} {sa}, the {first} or the {second}?"
    return _Item("distance", question, [first, second], near_name, scene.objects)


def _tally(scene: _Scene, value: int) -> _Item:
    """value indexes `Difficulty.tally`; every shape is of its own kind (colour + shape), a little smaller than
    the difficulty's usual size so that seven still fit without touching."""
    count = scene.diff.tally[value]
    size = max(6, round(scene.size() * 0.8))
    for colour, shape in scene.distinct_kinds(count):
        scene.place(colour, shape, size)
    return _Item("tally", TALLY_QUESTION, [str(c) for c in scene.diff.tally], str(count), scene.objects)


BUILDERS = {"count": _count, "relation": _relation, "depth": _depth, "distance": _distance, "tally": _tally}


def _n_values(task: str, diff: Difficulty) -> int:
    return {"count": len(diff.counts), "relation": len(RELATIONS), "depth": 2, "distance": 2,
            "tally": len(diff.tally)}[task]


def _n_choices(task: str, diff: Difficulty) -> int:
    return {"count": len(diff.counts), "tally": len(diff.tally)}.get(task, 2)


def _blocks(rng: random.Random, items: list) -> Iterator:
    """Endless shuffled copies of `items`: any prefix is balanced to within one block."""
    while True:
        block = list(items)
        rng.shuffle(block)
        yield from block


def split_of(key: str) -> str:
    fraction = int(hashlib.sha1(key.encode()).hexdigest()[:8], 16) / 2**32
    return next(s for s, lo, hi in SPLIT_BUCKETS if lo <= fraction < hi)


def scene_key(
    task: str, question: str, objects: Sequence[Obj], background: tuple[int, int, int], size: int
) -> str:
    """Everything that determines the image and the question (the image is a pure function of it)."""
    return json.dumps([task, question, size, list(background), [list(o) for o in objects]])


def generate_records(
    n: int,
    seed: int,
    split: str = "train",
    image_size: int = 112,
    difficulty: str = "easy",
    tasks: Sequence[str] | None = None,
) -> RecordList:
    """`n` records with in-memory RGB PIL images; see the module doc for the guarantees."""
    if split not in SPLITS:
        raise DataError(f"synthetic: unknown split {split!r}; choose one of {SPLITS}")
    if difficulty not in DIFFICULTIES:
        raise DataError(f"synthetic: unknown difficulty {difficulty!r}; choose one of {tuple(DIFFICULTIES)}")
    tasks = list(tasks) if tasks else list(TASKS)
    unknown = [t for t in tasks if t not in ALL_TASKS]
    if unknown:
        raise DataError(f"synthetic: unknown task(s) {unknown}; choose from {ALL_TASKS}")
    if image_size < 48:
        raise DataError(
            f"synthetic: image_size {image_size} is too small to draw distinguishable shapes (min 48)"
        )
    if n < 0:
        raise DataError(f"synthetic: n must be >= 0, got {n}")
    diff = DIFFICULTIES[difficulty]
    rng = random.Random(f"synthetic:{seed}:{split}:{difficulty}:{image_size}")
    task_plan = _blocks(rng, tasks)
    plans = {
        t: _blocks(rng, [(v, p) for v in range(_n_values(t, diff)) for p in range(_n_choices(t, diff))])
        for t in tasks
    }
    seen: set[str] = set()
    out = RecordList(origin=f"synthetic[{split}]")
    for i in range(n):
        task = next(task_plan)
        value, position = next(plans[task])
        for _attempt in range(10_000):
            lo, hi = diff.background
            grey = _randint(rng, lo, hi)
            background = (grey, grey, grey)
            try:
                item = BUILDERS[task](_Scene(rng, diff, image_size), value)
            except _Retry:
                continue
            key = scene_key(task, item.question, item.objects, background, image_size)
            if split_of(key) == split and key not in seen:
                seen.add(key)
                break
        else:  # pragma: no cover - the buckets make this practically impossible
            raise DataError(f"synthetic: could not generate record {i} for split {split!r}")
        choices = [c for c in item.choices if c != item.answer]
        rng.shuffle(choices)
        choices.insert(position, item.answer)
        out.append(
            Record(
                id=f"synthetic-{split}-{seed}-{i:06d}",
                images=[render(item.objects, image_size, background)],
                question=item.question,
                choices=choices,
                answer=item.answer,
                prompt=sat_question(item.question, choices),
                task=task,
                source="synthetic",
                subtask=difficulty,
                raw={
                    "objects": [list(o) for o in item.objects],
                    "background": list(background),
                    "image_size": image_size,
                    "difficulty": difficulty,
                    "seed": seed,
                    "split": split,
                },
                origin=f"synthetic[{split}, seed {seed}] record {i}",
            )
        )
    return out
