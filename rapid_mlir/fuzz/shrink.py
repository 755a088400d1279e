"""Shrinking a failing generated graph to a small reproducer.

A generated graph is a function of its seed and its list of structural choices (see
`generate.Choices`). `shrink` edits the choice list, as Hypothesis does with its choice
sequences, and keeps an edit when the graph it generates still fails the same way:

1. delete spans of choices (8, 4, 2, then 1 long, from the end backwards): fewer ops,
   fewer operands, fewer attributes;
2. lower each choice: to 0, then to half, then by one (smaller sizes, the first option
   of a pick, `False` for a coin);

repeating both until a whole round changes nothing or the budget runs out. A candidate
is kept only when it is smaller in shortlex order (fewer choices, then a smaller sum),
so the process terminates. The weights and inputs are drawn from the seed's value
stream, so a failure that depends on particular values may not survive the first
replay; `shrink` then returns the original case unchanged.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from rapid_mlir.fuzz.generate import Case, generate


@dataclass
class ShrinkResult:
    case: Case
    """The smallest failing case found (the original when nothing smaller fails)."""
    tries: int
    """Candidate graphs generated and checked."""
    seconds: float
    ops_before: int
    ops_after: int


def _size(choices: list[int]) -> tuple[int, int]:
    return len(choices), sum(choices)


def shrink(case: Case, still_fails: Callable[[Case], bool], seconds: float = 60.0,
           max_tries: int = 400) -> ShrinkResult:
    """The smallest case (by its choices) generated from `case.seed` for which
    `still_fails` holds, searched for at most `seconds` or `max_tries` candidates."""
    start = time.monotonic()
    best = case
    tries = 0
    seen: set[tuple[int, ...]] = {tuple(case.choices)}

    def attempt(choices: list[int]) -> bool:
        nonlocal best, tries
        if tries >= max_tries or time.monotonic() - start > seconds:
            return False
        key = tuple(choices)
        if key in seen:
            return False
        seen.add(key)
        tries += 1
        try:
            candidate = generate(case.seed, choices=list(choices))
        except Exception:  # noqa: BLE001 - an edited list can make an invalid graph
            return False
        if _size(candidate.choices) >= _size(best.choices):  # what it really read, clamped
            return False
        if not still_fails(candidate):
            return False
        best = candidate
        return True

    def out_of_budget() -> bool:
        return tries >= max_tries or time.monotonic() - start > seconds

    changed = True
    while changed and not out_of_budget():
        changed = False
        for span in (8, 4, 2, 1):
            i = len(best.choices) - span
            while i >= 0 and not out_of_budget():
                c = best.choices
                if attempt(c[:i] + c[i + span:]):
                    changed = True
                    i = min(i, len(best.choices) - span)
                i -= 1
        i = 0
        while i < len(best.choices) and not out_of_budget():
            v = best.choices[i]
            for smaller in dict.fromkeys((0, v // 2, v - 1)):
                if 0 <= smaller < v and attempt(best.choices[:i] + [smaller] + best.choices[i + 1:]):
                    changed = True
                    break
            i += 1
    return ShrinkResult(best, tries, time.monotonic() - start, sum(case.ops.values()), sum(best.ops.values()))
