"""Agreement of paper scoring (`evaluation.scoring.score_paper`) with the original evaluation scripts' scoring,
restated in `tests/evaluation/test_paper_crosscheck.py`, and its speed.

    PYTHONPATH=src:. python bench/paper_scoring_agreement.py [--templated N]   # from the repository root

Two sets: the test cases (`CASES`), and N templated responses (answer tags or none, letters in every case and
bracket style, choice texts, numbers as text, LaTeX and boxed, distractor numbers and articles) over CV-Bench
style choice lists. Prints the agreement counts, the disagreeing responses, and the time per scored response.
"""

from __future__ import annotations

import argparse
import itertools
import random
import time

from tests.evaluation.test_paper_crosscheck import CASES, original_correct
from visualthinker.evaluation.scoring import score_paper

CHOICE_SETS = [["3", "2", "1", "0"], ["lamp", "chair"], ["left", "right"], ["yes", "no"], ["True", "False"],
               ["A is closer", "B is closer"], ["5", "6", "7", "4", "8", "9"]]
ANSWERS = ["{L}", "({L})", "{l}", "({l})", "{L}.", "**{L}**", "{text}", "{Text}", "({L}) {text}", "$ {text} $",
           "\\boxed{{{text}}}", "\\boxed{{{L}}}", "The answer is {L}", "The answer is ({L}). I can see 0 lamps",
           "I think it is {text}", "a {text}", "{n}", "option {l}", "{L} or {M}"]
WRAPS = ["<answer>{a}</answer>", "<think>I see {n} things</think><answer>{a}</answer>", "{a}",
         "<think>hm</think> {a}", "There is a lamp. {a}", "<answer>\n{a}\n</answer>", "<answer></answer> {a}",
         "<answer> {a} </answer><answer>A</answer>"]


def templated(n: int | None, seed: int = 0) -> list[tuple[str, list[str], str, str]]:
    rng = random.Random(seed)
    cases = []
    for wrap, answer, choices in itertools.product(WRAPS, ANSWERS, CHOICE_SETS):
        gold = rng.randrange(len(choices))
        said = rng.randrange(len(choices))
        letter, other = "ABCDEF"[said], "ABCDEF"[(said + 1) % len(choices)]
        text = answer.format(L=letter, l=letter.lower(), M=other, text=choices[said],
                             Text=choices[said].capitalize(), n=rng.randrange(10))
        cases.append((wrap.format(a=text, n=rng.randrange(10)), choices, choices[gold], "ABCDEF"[gold]))
    rng.shuffle(cases)
    return cases[:n] if n is not None else cases


def measure(name: str, cases) -> None:
    agree, disagree = 0, []
    start = time.perf_counter()
    for response, choices, gold, letter in cases:
        ours = score_paper(response, choices, gold, letter).correct
        if ours == original_correct(response, choices, gold, letter):
            agree += 1
        else:
            disagree.append((response, choices, gold, ours))
    seconds = time.perf_counter() - start
    positives = sum(score_paper(*c).correct for c in cases)
    print(f"{name}: {agree}/{len(cases)} agree ({100 * agree / len(cases):.2f} %), {positives} scored correct, "
          f"{1000 * seconds / len(cases) / 2:.2f} ms per response per scorer")
    for response, choices, gold, ours in disagree[:10]:
        print(f"  differs: {response!r} choices={choices} gold={gold!r} ours={ours}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--templated", type=int, help="templated responses to score (default: all 1064)")
    args = parser.parse_args()
    measure("test cases", CASES)
    measure("templated", templated(args.templated))


if __name__ == "__main__":
    main()
