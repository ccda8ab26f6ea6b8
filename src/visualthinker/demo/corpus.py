"""The pretraining corpus of the demo's base model: a small, synthetic stand-in for web-scale image-text data.

What a web-trained base VLM brings to R1-Zero is (1) grounding: text that ties what is in a picture to words,
and (2) familiarity with markup, dialogues and tagged passages, so that the think/answer format is rare but
reachable by sampling. This module generates exactly those two things and nothing about the benchmark's
questions. Document kinds (every document ends with <|endoftext|>):

- `caption`: an image of coloured shapes (drawn by the synthetic set's renderer from scenes that hash into its
  *train* bucket, so no held-out image is ever seen) with web-like alt text: object lists, counts, left/right
  and above/below statements, which object is in front / closer to the camera, which objects are near each
  other. Statements only: never a question about the image, never an answer tag.
  Optionally (`enumerate_fraction`, off by default) a caption opens with an enumeration instead: the objects
  one at a time, left to right and numbered, then the total -- the long chains of the few web
  captions that count carefully; `correction_fraction` of those first skip an object, miscount, and correct
  themselves ("Wait, I missed the red circle. Counting again: ...").
- `dialogue`: "A conversation between User and Assistant..." transcripts about unrelated quizzes, mostly
  multiple choice about made-up facts (so the only thing to learn is to answer with a listed option; a quarter
  of those list coloured shapes as plain-text options) and some small real ones (arithmetic, animals, the
  alphabet). 10 % use <think>/<answer> tags; the reasoning often restates the options first. Optionally
  (`counting_fraction`) some quizzes ask how many items a written list holds and are answered by numbering
  them one by one and stating the total ("1. cat; 2. eagle. That makes two animals in total."): text only;
  `counting_glance_fraction` of those state the total in one sentence instead ("At a glance: two animals.").
- `quizpage`: several such quizzes on one page (a quiz sheet with its answers, or a long chat).
- `markup`: HTML/XML snippets, quiz markup and puzzle write-ups in which <think> and <answer> tags also occur
  with other meanings (and often not in the think-then-answer order).
- `prose`: generic sentences about shapes, colours, perspective and directions.
- `repeat` (off by default): a page in which a span of random words or a random code occurs two or three times
  verbatim (a quoted forum post, a song refrain, a booking code to quote back, a list read out twice). The
  words are drawn uniformly from a large pool, so the repeat can only be predicted by copying from the
  context: the in-context copying ("induction") that answering with a listed option needs.
- `page`: a captioned image followed, further down the same page, by an unrelated dialogue (as a web page
  with a picture and a comment thread). It teaches nothing about the benchmark; it is there so that a long
  dialogue after an image is not out of distribution for the model.
- `attachment` (off by default; streamed by pretrain.py's `stream_attachments`): a chat turn with a picture
  attached that the question is *not* about -- an unrelated quiz, as in `dialogue` -- and a tagged reply whose
  <think> first describes the attached picture shape by shape (the enumeration above, with the same share of
  self-corrections) and then reasons about the quiz; the answer is the quiz's. It joins the two halves of the
  corpus that no other document joins: a picture in the user's turn and a tagged reply that looks at it. The
  picture is never asked about and its count never answered. Optionally (`attachment_glance_fraction`) a
  share of the replies states the picture's total in one short sentence instead ("The picture shows 4
  shapes."), as most people would; and (`attachment_quiz_reasoning=False`) the think part may hold the look at
  the picture alone, the quiz answered without reasoning.

`benchmark_leaks(text)` is the check the tests run: no document may contain a benchmark question stem.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import random
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from PIL import Image

from visualthinker.data import synthetic
from visualthinker.data.synthetic import (
    BUILDERS,
    DIFFICULTIES,
    SHAPES,
    TALLY_QUESTION,
    TASKS,
    Obj,
    _n_values,
    _Retry,
    _Scene,
    render,
    scene_key,
    split_of,
)
from visualthinker.models.adapter import VISION_PLACEHOLDER
from visualthinker.prompts import LITERAL_IMAGE_TAG, format_choices_sat

EOS = "<|endoftext|>"
NUMBER_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")
# The benchmark's question stems (synthetic.py); the corpus must contain none of them.
BENCHMARK_STEMS = ("are in the image?", "Considering the relative positions", "closer to the camera, the",
                   "Which object is closer to the", TALLY_QUESTION)


@dataclass(frozen=True)
class Document:
    kind: str  # caption | dialogue | markup | prose | page | quizpage | repeat | look | attachment
    text: str  # with the vision placeholder where the image goes, ending in <|endoftext|>
    image: Image.Image | None = None


@dataclass(frozen=True)
class CorpusSpec:
    """Everything the corpus depends on (part of the pretraining cache key)."""

    n_captions: int = 2000
    n_dialogues: int = 1500
    n_markup: int = 500
    n_prose: int = 300
    n_pages: int = 800  # an image with its caption, then an unrelated dialogue further down the page
    n_quiz_pages: int = 1500  # a page of several multiple-choice quizzes (a quiz site / a long chat)
    n_repeats: int = 0  # pages that repeat a random span verbatim (quotes, refrains, codes): teach copying
    enumerate_fraction: float = 0.0  # share of captions that list the objects one by one before the total
    correction_fraction: float = 0.0  # share of those enumerations that first miscount, then correct themselves
    tagged_fraction: float = 0.1  # share of dialogues whose reply uses <think>...</think> <answer>...</answer>
    fictional_fraction: float = 0.75  # share of quizzes about made-up facts (options can only be copied)
    shape_quiz_fraction: float = 0.25  # share of made-up-fact quizzes whose options are coloured shapes
    restate_fraction: float = 0.6  # share of multiple-choice reasoning that starts by restating the options
    counting_fraction: float = 0.0  # share of quizzes that count the items of a written list, one by one
    counting_glance_fraction: float = 0.0  # share of those that state the total in one sentence, not one by one
    attachment_glance_fraction: float = 0.0  # share of attachment replies that state the total in one glance
    # False: attachment replies think only about the picture, then answer the quiz (no reasoning about the quiz),
    # so that a glance reply is short and clean
    attachment_quiz_reasoning: bool = True
    image_size: int = 112
    difficulty: str = "easy"
    scene_tasks: tuple[str, ...] = TASKS  # the synthetic set's scene builders the pictures are drawn from
    seed: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "scene_tasks", tuple(self.scene_tasks))  # JSON gives a list back


# -- captions --------------------------------------------------------------------------------------------------
def _name(obj: Obj) -> str:
    return f"{obj[0]} {obj[1]}"


def _plural(colour: str, shape: str, n: int) -> str:
    return f"{colour} {shape}" + ("s" if n != 1 else "")


def _number(rng: random.Random, n: int) -> str:
    return NUMBER_WORDS[n] if rng.random() < 0.5 else str(n)


def _inventory(rng: random.Random, objects: Sequence[Obj]) -> list[str]:
    counts = Counter((o[0], o[1]) for o in objects)
    kinds = list(counts.items())
    rng.shuffle(kinds)
    parts = [f"{_number(rng, n)} {_plural(c, s, n)}" for (c, s), n in kinds]
    listing = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
    style = rng.randrange(4)
    if style == 0:
        out = [f"There {'is' if len(objects) == 1 else 'are'} {listing} in this picture."]
    elif style == 1:
        out = [f"The picture shows {listing} on a grey background."]
    elif style == 2:
        out = ["Objects: " + "; ".join(f"{c} {s} x{n}" for (c, s), n in kinds) + "."]
    else:
        out = [f"{len(objects)} shape{'s' if len(objects) != 1 else ''} in total: {listing}."]
    # Single-kind count statements ("There are exactly 3 red circles.") tie numbers to what is seen.
    for (c, s), n in kinds[: rng.randint(1, 2)]:
        verb = "is" if n == 1 else "are"
        out.append(rng.choice([f"There {verb} exactly {_number(rng, n)} {_plural(c, s, n)}.",
                               f"I count {_number(rng, n)} {_plural(c, s, n)}.",
                               f"Number of {c} {s}s: {n}."]))
    return out


def _relations(rng: random.Random, objects: Sequence[Obj], limit: int) -> list[str]:
    counts = Counter((o[0], o[1]) for o in objects)
    unique = [o for o in objects if counts[(o[0], o[1])] == 1]  # only unambiguous names
    pairs = list(itertools.permutations(unique, 2))
    rng.shuffle(pairs)
    out = []
    for a, b in pairs:
        dx, dy = a[2] - b[2], a[3] - b[3]
        size = max(a[4], b[4])
        if abs(dx) >= abs(dy) and abs(dx) > 0.7 * size:
            side = "to the left of" if dx < 0 else "to the right of"
        elif abs(dy) > 0.7 * size:
            side = "above" if dy < 0 else "below"
        else:
            continue
        out.append(rng.choice([f"The {_name(a)} is {side} the {_name(b)}.",
                               f"The {_name(a)} appears {side} the {_name(b)}.",
                               f"You can see the {_name(a)} {side} the {_name(b)}."]))
        if len(out) >= limit:
            break
    return out


def _depth(rng: random.Random, objects: Sequence[Obj]) -> list[str]:
    """Depth scenes: the later-drawn, bigger object overlaps the other (it is nearer the viewer)."""
    far, near = objects[0], objects[1]
    return [rng.choice([
        f"The {_name(near)} is closer to the camera than the {_name(far)}.",
        f"The {_name(near)} is in front of the {_name(far)} and partly hides it.",
        f"The {_name(far)} is farther from the camera, behind the {_name(near)}.",
        f"The {_name(near)} is nearer to the viewer; the {_name(far)} is further away.",
    ])]


def _distances(rng: random.Random, objects: Sequence[Obj], limit: int) -> list[str]:
    counts = Counter((o[0], o[1]) for o in objects)
    unique = [o for o in objects if counts[(o[0], o[1])] == 1]
    out = []
    triples = list(itertools.permutations(unique, 3))
    rng.shuffle(triples)
    for anchor, a, b in triples:
        da, db = math.dist(anchor[2:4], a[2:4]), math.dist(anchor[2:4], b[2:4])
        if db < 1.5 * da:
            continue
        out.append(rng.choice([
            f"The {_name(a)} is closer to the {_name(anchor)} than the {_name(b)} is.",
            f"The {_name(a)} is near the {_name(anchor)}, while the {_name(b)} is far from it.",
            f"The {_name(b)} is farther from the {_name(anchor)} than the {_name(a)}.",
        ]))
        if len(out) >= limit:
            break
    return out


CAPTION_FRAMES = (
    "{image}{text}",
    "{image}" + LITERAL_IMAGE_TAG + "{text}",
    "{image}Photo: {text}",
    "{image}Figure {n}. {text}",
    '<div class="gallery">{image}<p class="caption">{text}</p></div>',
    "Image {n} of the set.\n{image}\n{text}",
    "{image}" + LITERAL_IMAGE_TAG + "Description of the image: {text}",
)


def _enumeration(rng: random.Random, objects: Sequence[Obj], correct_itself: bool) -> str:
    """A long caption that names the objects one at a time (left to right, numbered) and only then states the
    total; with `correct_itself` it first skips one object, miscounts, and then corrects the count."""
    ordered = sorted(objects, key=lambda o: (o[2], o[3]))

    def listing(objs: Sequence[Obj]) -> str:
        return "; ".join(f"{i}. a {_name(o)}" for i, o in enumerate(objs, 1))

    total = len(ordered)
    lead = rng.choice(("From left to right:", "Let me list every shape, one at a time:", "Shape by shape:"))
    if correct_itself and total >= 2:
        skipped = rng.randrange(total)
        seen = [o for i, o in enumerate(ordered) if i != skipped]
        return (f"{lead} {listing(seen)}. So {_number(rng, total - 1)} shapes. "
                f"{rng.choice(('Wait,', 'Hmm, no.', 'Let me check again.'))} I missed the {_name(ordered[skipped])}. "
                f"Counting again: {listing(ordered)}. That makes {_number(rng, total)} shapes in total.")
    return f"{lead} {listing(ordered)}. That makes {_number(rng, total)} shape{'s' if total != 1 else ''} in total."


def _corrects_itself(rng: random.Random, spec: CorpusSpec) -> bool:
    """Whether an enumeration first miscounts (drawn only when corrections are on, so the stream is unchanged)."""
    return bool(spec.correction_fraction) and rng.random() < spec.correction_fraction


def _train_scene(rng: random.Random, spec: CorpusSpec) -> tuple[str, list[Obj], int]:
    """(task, objects, grey level) of a scene drawn by the synthetic set's builders, kept only when it hashes
    into the set's train bucket: held-out (val/test) scenes never enter the corpus."""
    diff = DIFFICULTIES[spec.difficulty]
    while True:
        task = rng.choice(spec.scene_tasks)
        value = rng.randrange(_n_values(task, diff))
        lo, hi = diff.background
        grey = rng.randint(lo, hi)
        try:
            item = BUILDERS[task](_Scene(rng, diff, spec.image_size), value)
        except _Retry:
            continue
        key = scene_key(task, item.question, item.objects, (grey, grey, grey), spec.image_size)
        if split_of(key) == "train":
            return task, list(item.objects), grey


LOOK_FRAMES = ("Objects from left to right: {items}.", "Left to right: {items}.",
               "In the picture, from left to right: {items}.")


def look_document(rng: random.Random, spec: CorpusSpec) -> Document:
    """A short alt text that names every object of a fresh scene from left to right, with "big"/"small" when
    the sizes differ clearly ("Objects from left to right: a small red circle, a big blue square."): almost
    every token depends on the image, so a model starts reading images from these within a few hundred steps,
    where in the full captions (most tokens predictable from the text) it did not in 800 (docs/demo.md)."""
    _, objects, grey = _train_scene(rng, spec)
    ordered = sorted(objects, key=lambda o: (o[2], o[3]))
    small, big = min(o[4] for o in objects), max(o[4] for o in objects)

    def size(obj: Obj) -> str:
        return ("big " if obj[4] == big else "small ") if big > 1.4 * small else ""

    items = ", ".join(f"a {size(o)}{_name(o)}" for o in ordered)
    text = VISION_PLACEHOLDER + rng.choice(LOOK_FRAMES).format(items=items)
    return Document("look", text + EOS, render(objects, spec.image_size, (grey, grey, grey)))


def caption_document(rng: random.Random, spec: CorpusSpec) -> Document:
    task, objects, grey = _train_scene(rng, spec)
    sentences = _inventory(rng, objects)
    if task == "depth":
        sentences += _depth(rng, objects)
    sentences += _relations(rng, objects, limit=rng.randint(1, 3))
    sentences += _distances(rng, objects, limit=rng.randint(0, 2))
    head, rest = sentences[:1], sentences[1:]
    rng.shuffle(rest)
    # (the fraction is tested first, so that with 0 the random stream -- and the default corpus -- is unchanged)
    if spec.enumerate_fraction and rng.random() < spec.enumerate_fraction:
        head = [_enumeration(rng, objects, _corrects_itself(rng, spec))]
    text = " ".join(head + rest)
    frame = rng.choice(CAPTION_FRAMES)
    body = frame.format(image=VISION_PLACEHOLDER, text=text, n=rng.randint(1, 40))
    return Document("caption", body + EOS, render(objects, spec.image_size, (grey, grey, grey)))


# -- unrelated quiz content (for dialogues and markup) ---------------------------------------------------------
ANIMALS = {  # name -> (size rank, can fly, lives in water)
    "mouse": (1, False, False), "cat": (2, False, False), "dog": (3, False, False), "horse": (5, False, False),
    "elephant": (7, False, False), "whale": (8, False, True), "eagle": (2, True, False),
    "sparrow": (1, True, False), "shark": (6, False, True), "goldfish": (0, False, True),
}
DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
WORDS = ("apple", "river", "table", "garden", "pencil", "window", "music", "planet", "bridge", "candle", "forest",
         "orange", "school", "silver", "yellow", "island")
TOPICS = ("arithmetic", "numbers", "animals", "words", "the calendar", "stories")
ADJECTIVES = ("red", "green", "blue", "yellow", "orange", "purple", "small", "big", "old", "new", "dark")
NOUNS = ("apple", "house", "car", "river", "book", "chair", "bird", "flower", "window", "garden", "boat", "hat",
         "lamp", "cup", "tree", "door", "kite", "shoe")


@dataclass(frozen=True)
class Quiz:
    topic: str
    question: str
    options: tuple[str, ...]  # empty: open question
    reasoning: str
    answer: str
    options_required: bool = False  # the question does not name its options itself


# Made-up facts about fictional people and places: the correct option cannot be known from the words (it is
# drawn at random), so the only thing a model can learn from these quizzes is that the answer is one of the
# options written in the question -- it has to copy one. Names are built from syllables (thousands of them), so
# the option strings are an open vocabulary rather than a small set of answers to memorise.
ONSETS = ("b", "br", "d", "dr", "f", "g", "gr", "k", "kl", "l", "m", "n", "p", "pl", "r", "s", "st", "t", "tr",
          "v", "z", "th", "sh", "h", "j", "w")
VOWELS = ("a", "e", "i", "o", "u", "ai", "ou", "ee")
CODAS = ("", "", "n", "r", "l", "sk", "m", "th", "x", "d", "nd", "st", "rn", "ll")
PLACES = ("market", "bridge", "harbour", "library", "bakery", "castle", "station", "museum", "farm", "mill")
EVENTS = ("race", "chess match", "baking contest", "song contest", "boat race", "spelling bee", "kite festival")
COLOURS = ("red", "green", "blue", "yellow", "orange", "purple", "black", "white", "brown", "grey", "pink")
DIRECTIONS = (("left", "right"), ("above", "below"), ("north", "south"), ("up", "down"), ("east", "west"),
              ("inside", "outside"), ("front", "back"))


def made_up_name(rng: random.Random) -> str:
    syllables = rng.choice((1, 2, 2, 3))
    word = "".join(rng.choice(ONSETS) + rng.choice(VOWELS) + (rng.choice(CODAS) if i == syllables - 1 else "")
                   for i in range(syllables))
    return word.capitalize()


def _distinct(rng: random.Random, draw: Callable[[], str], k: int) -> list[str]:
    out: list[str] = []
    while len(out) < k:
        value = draw()
        if value not in out:
            out.append(value)
    return out


STICKERS = ("sticker", "badge", "cookie", "kite", "stamp", "magnet", "token", "button")


def _fictional_quiz(rng: random.Random, shape_quiz_fraction: float = 0.0) -> Quiz:
    """A multiple-choice question about a made-up fact; the correct option is a coin toss."""
    person = made_up_name(rng)
    k = rng.choice((2, 2, 2, 3))
    if rng.random() < shape_quiz_fraction:
        # Coloured shapes as *text* options (a toy shop, a sticker album): the words a web model has seen as
        # answers, never about an image and never with a recoverable correct option.
        opts = _distinct(rng, lambda: f"{rng.choice(tuple(synthetic.COLOURS))} {rng.choice(SHAPES)}", k)
        question = rng.choice((f"Which {rng.choice(STICKERS)} did {person} pick at the {rng.choice(PLACES)}?",
                               f"Which {rng.choice(STICKERS)} did {person} give to {made_up_name(rng)}?",
                               f"What was on the flag of {made_up_name(rng)}?"))
        answer = rng.choice(opts)
        return Quiz("stories", question, tuple(opts), _fictional_reasoning(rng, person, opts, answer), answer, True)
    kind = rng.randrange(8)
    if kind == 0:
        opts = _distinct(rng, lambda: made_up_name(rng), k)
        question = f"Which town did {person} visit first?"
    elif kind == 1:
        opts = _distinct(rng, lambda: made_up_name(rng), k)
        question = f"Who won the {rng.choice(EVENTS)} in {made_up_name(rng)}?"
    elif kind == 2:
        noun = rng.choice(NOUNS)
        opts = _distinct(rng, lambda: str(rng.randint(0, 9)), k)
        question = f"How many {noun}s did {person} buy at the {rng.choice(PLACES)}?"
    elif kind == 3:
        opts = list(rng.choice(DIRECTIONS))
        rng.shuffle(opts)
        question = f"Which way did {person} go at the {rng.choice(PLACES)}, {opts[0]} or {opts[1]}?"
    elif kind == 4:
        opts = _distinct(rng, lambda: rng.choice(COLOURS), k)
        question = f"What colour was the {rng.choice(NOUNS)} that {person} painted?"
    elif kind == 5:
        opts = _distinct(rng, lambda: f"{rng.choice(ADJECTIVES)} {rng.choice(NOUNS)}", k)
        question = f"Which one did {person} take home from the {rng.choice(PLACES)}?"
    elif kind == 6:
        opts = _distinct(rng, lambda: f"{rng.choice(COLOURS)} {rng.choice(NOUNS)}", k)
        question = f"What did {person} find near the {rng.choice(PLACES)} in {made_up_name(rng)}?"
    else:
        opts = _distinct(rng, lambda: f"the {made_up_name(rng)} {rng.choice(PLACES)}", k)
        question = f"Where did {person} meet {made_up_name(rng)}?"
    answer = rng.choice(opts)
    return Quiz("stories", question, tuple(opts), _fictional_reasoning(rng, person, opts, answer), answer, True)


def _fictional_reasoning(rng: random.Random, person: str, opts: list[str], answer: str) -> str:
    return rng.choice((
        f"The story says so: {person} chose {answer}.",
        f"I remember reading about {person}.",
        f"The options are {format_choices_sat(opts)}. It was {answer}.",
        f"{person} wrote about it in a letter.",
        "This was in the book.",
        f"It was {answer}, not the other one.",
    ))


def _quiz(rng: random.Random, fictional_fraction: float = 0.0, shape_quiz_fraction: float = 0.0) -> Quiz:
    if rng.random() < fictional_fraction:
        return _fictional_quiz(rng, shape_quiz_fraction)
    # Web quizzes are mostly multiple choice: kinds 2, 3, 4 and 6 carry options.
    kind = rng.choice((0, 1, 2, 2, 3, 3, 4, 4, 5, 6, 6, 7, 7, 7, 7))
    if kind == 7:
        # Options that can only be copied (a large, open vocabulary), so copying an option into the reply is a
        # general skill rather than recall of a fixed answer.
        k = rng.choice((2, 2, 3))
        phrases: list[str] = []
        while len(phrases) < k:
            phrase = f"{rng.choice(ADJECTIVES)} {rng.choice(NOUNS)}"
            if all(len(phrase) != len(p) for p in phrases):
                phrases.append(phrase)
        longest = max(phrases, key=len)
        return Quiz("words", "Which phrase has the most letters?", tuple(phrases),
                    f"{longest} has {len(longest.replace(' ', ''))} letters.", longest, True)
    if kind == 0:
        a, b = rng.randint(1, 20), rng.randint(1, 20)
        return Quiz("arithmetic", f"What is {a} plus {b}?", (), f"{a} plus {b} equals {a + b}.", str(a + b))
    if kind == 1:
        a, b = rng.randint(5, 30), rng.randint(1, 5)
        return Quiz("arithmetic", f"What is {a} minus {b}?", (), f"Taking {b} away from {a} leaves {a - b}.",
                    str(a - b))
    if kind == 2:
        a, b = rng.sample(range(1, 100), 2)
        big = max(a, b)
        return Quiz("numbers", f"Which number is larger, {a} or {b}?", (str(a), str(b)),
                    f"{big} is more than {min(a, b)}.", str(big))
    if kind == 3:
        x, y = rng.sample(sorted(ANIMALS), 2)
        if ANIMALS[x][0] == ANIMALS[y][0]:
            return _quiz(rng, fictional_fraction, shape_quiz_fraction)
        big = x if ANIMALS[x][0] > ANIMALS[y][0] else y
        small = y if big == x else x
        return Quiz("animals", f"Which animal is bigger, the {x} or the {y}?", (x, y),
                    f"A {big} is much bigger than a {small}.", big)
    if kind == 4:
        flyers = [a for a, v in ANIMALS.items() if v[1]]
        walkers = [a for a, v in ANIMALS.items() if not v[1]]
        f, w = rng.choice(flyers), rng.choice(walkers)
        opts = [f, w]
        rng.shuffle(opts)
        return Quiz("animals", "Which of these animals can fly?", tuple(opts), f"The {f} has wings, the {w} does not.", f)
    if kind == 5:
        i = rng.randrange(7)
        return Quiz("the calendar", f"What day comes after {DAYS[i]}?", (),
                    f"The week goes {DAYS[i]}, then {DAYS[(i + 1) % 7]}.", DAYS[(i + 1) % 7])
    w1, w2 = rng.sample(WORDS, 2)
    if w1[0] == w2[0]:
        return _quiz(rng, fictional_fraction, shape_quiz_fraction)
    first = min(w1, w2)
    return Quiz("words", f"Which word comes first in the alphabet, {w1} or {w2}?", (w1, w2),
                f"{first} starts with {first[0]}, which comes earlier.", first)


COUNTED = (("animals", tuple(sorted(ANIMALS))), ("words", WORDS), ("things", NOUNS), ("days", DAYS))
COUNT_LEADS = ("One by one:", "Counting them one at a time:", "Item by item:")


COUNT_GLANCES = ("At a glance: {n} {noun}.", "I see {n} {noun} there.", "There are {n} {noun}.")


def _counting_quiz(rng: random.Random, glance_fraction: float = 0.0) -> Quiz:
    """How many items a written list holds, answered by numbering them one by one and stating the total: the
    text-only pattern of reasoning that ends in a number which the answer then repeats. With `glance_fraction`,
    that share states the total in one sentence instead (the answer repeats it all the same)."""
    noun, pool = rng.choice(COUNTED)
    n = rng.randint(2, min(7, len(pool)))
    items = rng.sample(pool, n)
    options = _distinct(rng, lambda: str(rng.randint(1, 8)), rng.choice((2, 3, 4)) - 1)
    if str(n) not in options:
        options.append(str(n))
    rng.shuffle(options)
    question = f"How many {noun} are in this list: {', '.join(items)}?"
    # (drawn only when glances are on, so that with 0 the random stream is unchanged)
    if glance_fraction and rng.random() < glance_fraction:
        reasoning = rng.choice(COUNT_GLANCES).format(n=_number(rng, n), noun=noun)
    else:
        numbered = "; ".join(f"{i}. {item}" for i, item in enumerate(items, 1))
        reasoning = f"{rng.choice(COUNT_LEADS)} {numbered}. That makes {_number(rng, n)} {noun} in total."
    return Quiz(noun, question, tuple(options), reasoning, str(n), True)


RESTATE = ("The options are {}.", "I have to choose between {}.", "It is one of these: {}.", "Choices: {}.")


def spec_quiz(rng: random.Random, spec: CorpusSpec) -> Quiz:
    """A quiz whose reasoning often begins by restating the options (in any order), as people writing out an
    answer do."""
    # (the fraction is tested first, so that with 0 the random stream -- and the default corpus -- is unchanged)
    if spec.counting_fraction and rng.random() < spec.counting_fraction:
        quiz = _counting_quiz(rng, spec.counting_glance_fraction)
    else:
        quiz = _quiz(rng, spec.fictional_fraction, spec.shape_quiz_fraction)
    if quiz.options and rng.random() < spec.restate_fraction:
        options = list(quiz.options)
        rng.shuffle(options)
        restated = rng.choice(RESTATE).format(format_choices_sat(options))
        quiz = dataclasses.replace(quiz, reasoning=f"{restated} {quiz.reasoning}")
    return quiz


def _ask(rng: random.Random, quiz: Quiz) -> str:
    if not quiz.options:
        return quiz.question
    options = list(quiz.options)
    rng.shuffle(options)
    style = rng.choice((0, 0, 0, 1) if quiz.options_required else (0, 0, 1, 2))
    if style == 0:
        # The SAT phrasing (quiz pages use it too), sometimes with the "answer in words" instruction.
        lead = " Answer in natural language." if rng.random() < 0.4 else ""
        return f"{lead} {quiz.question} Choose between the following options: {format_choices_sat(options)}"
    if style == 1:
        return f"{quiz.question} Options: {', '.join(options)}."
    return quiz.question


HEADER = ("A conversation between User and Assistant. The user asks a question about {topic}, and the Assistant "
          "solves it. The assistant first thinks about the reasoning process in the mind and then provides the "
          "user with the answer.\n")
SHORT_HEADER = "A conversation between User and Assistant.\n"


def _header(rng: random.Random, topic: str) -> str:
    return HEADER.format(topic=topic) if rng.random() < 0.7 else SHORT_HEADER


def _dialogue(rng: random.Random, spec: CorpusSpec) -> str:
    quiz = spec_quiz(rng, spec)
    question = _ask(rng, quiz)
    header = _header(rng, quiz.topic)
    lead = "Let me solve this step by step.\n" if rng.random() < 0.6 else ""
    if rng.random() < spec.tagged_fraction:
        reply = f"<think> {quiz.reasoning} </think> <answer> {quiz.answer} </answer>"
        if not lead:
            lead = "Let me solve this step by step.\n"
    else:
        reply = rng.choice([
            f"{quiz.reasoning} So the answer is {quiz.answer}.",
            f"The answer is {quiz.answer}.",
            f"{quiz.answer}",
            f"<think> {quiz.reasoning} </think> The answer is {quiz.answer}.",
            f"{quiz.reasoning}\nUser: Thanks!\nAssistant: You are welcome.",
        ])
    return f"{header}User: {question} \nAssistant: {lead}{reply}"


def _reply(rng: random.Random, quiz: Quiz, tagged: bool) -> str:
    if tagged:
        return f"<think> {quiz.reasoning} </think> <answer> {quiz.answer} </answer>"
    return rng.choice([f"{quiz.reasoning} So the answer is {quiz.answer}.", f"The answer is {quiz.answer}.",
                       f"{quiz.answer}", f"<think> {quiz.reasoning} </think> The answer is {quiz.answer}."])


def quiz_page_document(rng: random.Random, spec: CorpusSpec) -> Document:
    """Several multiple-choice quizzes on one page: a numbered quiz sheet with its answers, or a long chat."""
    quizzes = [spec_quiz(rng, spec) for _ in range(rng.randint(3, 7))]
    if rng.random() < 0.5:
        title = rng.choice(("Quiz night", "Trivia", "Test yourself", "Reading check", "Weekly quiz"))
        lines = [f"{title} #{rng.randint(1, 300)}"]
        label = rng.choice(("Answer:", "A:", "Correct answer:", "Solution:"))
        for i, quiz in enumerate(quizzes, 1):
            lines.append(f"{i}. {_ask(rng, quiz).strip()}\n{label} {quiz.answer}")
        return Document("quizpage", "\n".join(lines) + EOS)
    header = _header(rng, quizzes[0].topic)
    turns = []
    for quiz in quizzes:
        lead = "Let me solve this step by step.\n" if rng.random() < 0.5 else ""
        tagged = rng.random() < spec.tagged_fraction
        if tagged:
            lead = "Let me solve this step by step.\n"
        turns.append(f"User: {_ask(rng, quiz)} \nAssistant: {lead}{_reply(rng, quiz, tagged)}")
    return Document("quizpage", header + "\n".join(turns) + EOS)


def dialogue_document(rng: random.Random, spec: CorpusSpec) -> Document:
    return Document("dialogue", _dialogue(rng, spec) + EOS)


def page_document(rng: random.Random, spec: CorpusSpec) -> Document:
    caption = caption_document(rng, spec)
    sep = rng.choice(("\n\n", "\n\nComments\n", "\n---\n", "\n"))
    # No shape-option quiz under a picture of shapes: it could read as a question about the picture.
    thread = _dialogue(rng, dataclasses.replace(spec, shape_quiz_fraction=0.0))
    return Document("page", caption.text.removesuffix(EOS) + sep + thread + EOS, caption.image)


# Words the fixed corpus already has (the tokenizer is trained on it; attachments are streamed).
ATTACH_LEADS = ("", "", "Here is a picture. ", "A picture for you. ")
GLANCES = ("I see {n} shapes in it.", "The picture shows {n} shapes.", "At a glance: {n} shapes.")


def attachment_document(rng: random.Random, spec: CorpusSpec) -> Document:
    """A picture attached to a chat turn that asks an unrelated quiz (see the module docstring)."""
    _, objects, grey = _train_scene(rng, spec)
    # No shape-option quiz under a picture of shapes: it could read as a question about the picture.
    quiz = spec_quiz(rng, dataclasses.replace(spec, shape_quiz_fraction=0.0))
    header = _header(rng, quiz.topic)
    tag = LITERAL_IMAGE_TAG if rng.random() < 0.5 else ""
    correct = _corrects_itself(rng, spec)
    # (tested first, so that with 0 the random stream is unchanged)
    if spec.attachment_glance_fraction and rng.random() < spec.attachment_glance_fraction:
        look = rng.choice(GLANCES).format(n=_number(rng, len(objects)))
    else:
        look = _enumeration(rng, objects, correct)
    thought = f"{look} {quiz.reasoning}" if spec.attachment_quiz_reasoning else look
    text = (f"{VISION_PLACEHOLDER}{tag}{header}User: {rng.choice(ATTACH_LEADS)}{_ask(rng, quiz)} \n"
            f"Assistant: Let me solve this step by step.\n<think> {thought} </think> <answer> {quiz.answer} </answer>")
    return Document("attachment", text + EOS, render(objects, spec.image_size, (grey, grey, grey)))


def markup_document(rng: random.Random, spec: CorpusSpec) -> Document:
    quiz = spec_quiz(rng, spec)
    n = rng.randint(1, 99)
    kind = rng.randrange(6)
    if kind == 0:
        text = (f"<quiz id=\"{n}\">\n  <question>{quiz.question}</question>\n  <answer>{quiz.answer}</answer>\n"
                "</quiz>")
    elif kind == 1:
        text = (f"Puzzle #{n} ({quiz.topic}). {_ask(rng, quiz)}\n<think> {quiz.reasoning} </think>\n"
                f"<answer> {quiz.answer} </answer>")
    elif kind == 2:
        text = (f"Re: thread {n}\n> {quiz.question}\nI <think>think</think> it is {quiz.answer}, "
                "but I am not sure. Anyone?")
    elif kind == 3:
        text = (f"<form action=\"/submit/{n}\">\n<label>{quiz.question}</label>\n"
                "<input name=\"answer\" type=\"text\">\n</form>")
    elif kind == 4:
        text = (f"<entry n=\"{n}\"><think>Draft notes: {quiz.reasoning}</think><status>unsolved</status></entry>")
    else:
        text = (f"Answer key, page {n}: <answer>{quiz.answer}</answer> ({quiz.topic}). "
                f"Explanation: {quiz.reasoning}")
    return Document("markup", text + EOS)


PROSE = (
    "A circle is round and has no corners.", "A square has four equal sides and four corners.",
    "A triangle has three sides and three corners.", "Red, green, blue and yellow are bright colours.",
    "Objects that are closer to the camera look bigger than objects that are far away.",
    "A near object can hide part of an object behind it.", "Left and right depend on where you look from.",
    "Above means higher up in the picture; below means lower down.",
    "To count objects, look at each one once and do not skip any.",
    "The distance between two objects is the length of the straight line between them.",
    "Many pictures show simple shapes on a plain grey background.",
    "When two things overlap, the one on top is usually the one in front.",
)


def prose_document(rng: random.Random, spec: CorpusSpec) -> Document:
    return Document("prose", " ".join(rng.sample(PROSE, rng.randint(2, 4))) + EOS)


# Word pool for `repeat` pages: made-up names plus every plain word of the quizzes, drawn uniformly so that the
# order carries no n-gram statistics a model could use instead of copying.
REPEAT_WORDS = tuple(sorted(set(ADJECTIVES + NOUNS + COLOURS + PLACES + STICKERS + tuple(SHAPES)
                                + tuple(w for pair in DIRECTIONS for w in pair))))


def _random_span(rng: random.Random, lo: int, hi: int) -> str:
    return " ".join(made_up_name(rng).lower() if rng.random() < 0.4 else rng.choice(REPEAT_WORDS)
                    for _ in range(rng.randint(lo, hi)))


def _random_code(rng: random.Random) -> str:
    alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    return "-".join("".join(rng.choice(alphabet) for _ in range(rng.randint(3, 5))) for _ in range(rng.randint(2, 4)))


def repeat_document(rng: random.Random, spec: CorpusSpec) -> Document:
    """A web page in which one random span recurs verbatim (see the module docstring)."""
    who, other = made_up_name(rng), made_up_name(rng)
    span = _random_span(rng, 4, 14)
    kind = rng.randrange(5)
    if kind == 0:
        text = (f"Posted by {who}:\n{span}\n\nReply from {other}:\n> {span}\n"
                + rng.choice(("Ha, same here.", "Could not agree more.", "Where did you read that?", "+1")))
    elif kind == 1:
        verses = [_random_span(rng, 5, 10) for _ in range(rng.randint(2, 3))]
        lines = [f"Lyrics: \"{made_up_name(rng)}\" by {who}"]
        for verse in verses:
            lines += [verse, f"Chorus: {span}"]
        text = "\n".join(lines)
    elif kind == 2:
        code = _random_code(rng)
        text = (f"Dear {who}, your booking code is {code}. {_random_span(rng, 3, 8).capitalize()}. "
                f"Please quote {code} when you call. Booking code: {code}")
    elif kind == 3:
        items = ", ".join(_random_span(rng, 1, 2) for _ in range(rng.randint(3, 6)))
        text = (f"{who}'s list: {items}.\n{_random_span(rng, 3, 8).capitalize()}.\n"
                f"Read it back to me: {items}.")
    else:
        text = f"Say it three times fast: {span}. {span}. {span}."
    return Document("repeat", text + EOS)


def generate_corpus(spec: CorpusSpec) -> list[Document]:
    """All documents, shuffled; deterministic in `spec`."""
    rng = random.Random(f"demo-corpus:{spec.seed}")
    docs = [caption_document(rng, spec) for _ in range(spec.n_captions)]
    docs += [dialogue_document(rng, spec) for _ in range(spec.n_dialogues)]
    docs += [markup_document(rng, spec) for _ in range(spec.n_markup)]
    docs += [prose_document(rng, spec) for _ in range(spec.n_prose)]
    docs += [page_document(rng, spec) for _ in range(spec.n_pages)]
    docs += [quiz_page_document(rng, spec) for _ in range(spec.n_quiz_pages)]
    # A separate stream, so that turning repeats on leaves every other document unchanged.
    repeat_rng = random.Random(f"demo-corpus-repeats:{spec.seed}")
    docs += [repeat_document(repeat_rng, spec) for _ in range(spec.n_repeats)]
    rng.shuffle(docs)
    return docs


def benchmark_leaks(text: str) -> list[str]:
    """The benchmark question stems found in `text` (the corpus must have none)."""
    return [stem for stem in BENCHMARK_STEMS if stem in text]


def colour_shape_in_answer(text: str) -> bool:
    """True when an <answer> block names one of the benchmark's objects (a worked benchmark answer)."""
    import re

    shapes = "|".join(SHAPES)
    return any(re.search(rf"\b({shapes})\b", block) for block in re.findall(r"<answer>(.*?)</answer>", text, re.S))
