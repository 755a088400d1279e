"""The fuzzer's graph generator: valid, deterministic, small, and covering every op."""

from collections import Counter

import numpy as np
import pytest

from rapid_mlir.dialects import nn
from rapid_mlir.fuzz.generate import MAX_ELEMENTS, generate
from rapid_mlir.ir_io import module_text, parse_module
from rapid_mlir.weights import declared_weights

EVERY_OP = {op.name for op in nn.NN.operations} - {"nn.constant", "nn.weight"}


def test_generated_graphs_cover_every_nn_op():
    ops = Counter()
    for seed in range(200):
        ops.update(generate(seed).ops)
    assert set(ops) == EVERY_OP, EVERY_OP - set(ops)


@pytest.mark.parametrize("seed", range(40))
def test_a_generated_graph_verifies_and_round_trips(seed):
    case = generate(seed)
    text = module_text(case.module)
    again = parse_module(text)  # verifies
    assert module_text(again) == text
    values = [r for op in case.module.walk() for r in op.results]
    assert all(np.prod(r.type.get_shape()) <= MAX_ELEMENTS for r in values if hasattr(r.type, "get_shape"))
    assert all(np.isfinite(a).all() for a in case.inputs.values() if a.dtype.kind == "f")


def test_generation_is_deterministic():
    a, b = generate(123), generate(123)
    assert module_text(a.module) == module_text(b.module)
    assert a.weights.names() == b.weights.names()
    for name, typ in declared_weights(a.module):
        np.testing.assert_array_equal(a.weights.get(name, typ), b.weights.get(name, typ))
    for name in a.inputs:
        np.testing.assert_array_equal(a.inputs[name], b.inputs[name])
    assert module_text(generate(124).module) != module_text(a.module)


def test_steps_sets_the_depth():
    assert sum(generate(5, steps=1).ops.values()) < sum(generate(5, steps=12).ops.values())


@pytest.mark.parametrize("seed", [0, 7, 123])
def test_replaying_the_recorded_choices_gives_the_same_graph(seed):
    case = generate(seed)
    again = generate(seed, choices=case.choices)
    assert module_text(again.module) == module_text(case.module)
    assert again.choices == case.choices
    for name in case.inputs:
        np.testing.assert_array_equal(again.inputs[name], case.inputs[name])


def test_edited_choices_give_a_valid_smaller_graph():
    case = generate(3)
    # Past its end a replayed list reads zeros: the first option, the smallest size.
    empty = generate(3, choices=[])
    assert set(empty.choices) == {0} and sum(empty.ops.values()) < sum(case.ops.values())
    parse_module(module_text(empty.module))
    # Out-of-range choices are clamped, not an error.
    clamped = generate(3, choices=[10 ** 6] * len(case.choices))
    parse_module(module_text(clamped.module))
    assert max(clamped.choices) < 10 ** 6
