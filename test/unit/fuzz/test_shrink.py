"""Shrinking a failing generated graph: smaller, still failing, deterministic."""

from rapid_mlir.fuzz.generate import generate
from rapid_mlir.fuzz.shrink import shrink


def _has_pad(case) -> bool:
    return case.ops.get("nn.pad", 0) > 0


def test_shrink_keeps_the_failure_and_makes_the_graph_smaller():
    case = next(c for c in map(generate, range(100)) if _has_pad(c) and sum(c.ops.values()) >= 6)
    result = shrink(case, _has_pad, seconds=60)
    assert _has_pad(result.case)
    assert result.ops_after < result.ops_before == sum(case.ops.values())
    assert len(result.case.choices) < len(case.choices)
    # The shrunk case is what its own choices generate.
    again = generate(case.seed, choices=result.case.choices)
    assert again.ops == result.case.ops
    # Deterministic: the same search finds the same case.
    assert shrink(case, _has_pad, seconds=60).case.choices == result.case.choices


def test_shrink_returns_the_original_when_nothing_smaller_fails():
    case = generate(5)
    result = shrink(case, lambda c: c.choices == case.choices, seconds=30)
    assert result.case is case and result.ops_after == result.ops_before


def test_shrink_respects_its_budget():
    case = generate(5)
    calls = []
    result = shrink(case, lambda c: calls.append(1) or False, max_tries=7)
    assert result.tries == 7 and len(calls) <= 7
