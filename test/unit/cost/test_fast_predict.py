"""`predict`'s fast path (distinct corelet schedules built once and simulated once for all
their corelets, each L0 tile's MPE instructions as one operation) against the plain
per-corelet path (`_reference=True`: every corelet's own list, one operation per MPE
instruction): every field of the `Prediction` must be identical."""

from __future__ import annotations

import itertools

import pytest

from rapid_mlir.cost import predict
from rapid_mlir.machine import load_machine
from rapid_mlir.mapping.problem import conv2d, matmul
from rapid_mlir.mapping.space import candidates


def _conv(name, n, c, hw, o, k, stride=1):
    pad = k // 2
    return conv2d(name, (n, c, hw, hw), (o, c, k, k), (stride, stride), (pad, pad, pad, pad), (1, 1), 1)


PROBLEMS = [
    _conv("c3", 1, 64, 28, 64, 3),
    _conv("c3b4", 4, 64, 14, 64, 3),
    _conv("c3s2", 1, 32, 29, 64, 3, stride=2),  # ragged steps, halo padding at both ends
    _conv("c1", 1, 256, 28, 64, 1),
    _conv("c1b4", 4, 128, 14, 256, 1),
    _conv("c7s2", 1, 3, 56, 32, 7, stride=2),
    matmul("mm", 1, 256, 256, 256),
    matmul("mmb", 4, 100, 72, 200),
]
MACHINES = ["rapid-1c", "rapid-4c", "rapid-32c"]
PER_CASE = 14  # candidates per (problem, machine), evenly strided over the space


@pytest.mark.parametrize("machine", MACHINES)
@pytest.mark.parametrize("problem", PROBLEMS, ids=lambda p: p.layer)
def test_fast_predict_is_bit_identical_to_the_reference(problem, machine):
    mc = load_machine(machine)
    cands = list(candidates(problem, mc))
    step = max(1, len(cands) // PER_CASE)
    picked = cands[::step]
    assert picked
    for i, m in enumerate(picked):
        bias, act = [(True, True), (True, False), (False, True)][i % 3]
        fast = predict(problem, m, mc, bias=bias, act=act)
        ref = predict(problem, m, mc, bias=bias, act=act, _reference=True)
        assert fast == ref, (m, fast, ref)
        assert all(type(a) is type(b) for a, b in zip(vars(fast).values(), vars(ref).values()))


def test_fast_predict_covers_ring_reductions_and_corelet_splits():
    """The space's split kinds all occur in the cases above (the test's own coverage)."""
    seen = set()
    for problem, machine in itertools.product(PROBLEMS, MACHINES):
        mc = load_machine(machine)
        cands = list(candidates(problem, mc))
        for m in cands[::max(1, len(cands) // PER_CASE)]:
            if any(mc_ > 1 for d, mc_ in m.cores.items() if d in problem.reduction):
                seen.add("ring")
            if any(p > 1 for p in m.corelets.values()):
                seen.add("corelets")
            if any(p > 1 for p in m.cores.values()):
                seen.add("cores")
    assert {"ring", "corelets", "cores"} <= seen
