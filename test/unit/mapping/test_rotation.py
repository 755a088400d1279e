"""Which LX level the lowering rotates (`mapping/rotation.py`), on hand-written nests."""

from __future__ import annotations

from rapid_mlir.mapping.rotation import rotated_level

CONV = ("ic", "kh", "kw")


def test_the_level_just_outside_an_even_double_buffered_reduction():
    loads = {"input": 2, "weight": 2, "bias": -1}
    assert rotated_level(["n", "oh", "ic"], CONV, loads, True, 4) == 1


def test_none_when_single_buffered_odd_or_not_reducing_in_steps():
    loads = {"input": 1, "weight": 1}
    assert rotated_level(["n", "ic"], CONV, loads, False, 4) is None
    assert rotated_level(["n", "ic"], CONV, loads, True, 3) is None  # the last step uses slot 0
    assert rotated_level(["n", "oh"], CONV, {"input": 1, "weight": -1}, True, 0) is None
    assert rotated_level(["ic"], CONV, {"input": 0, "weight": 0}, True, 4) is None  # one output tile


def test_none_when_an_operand_loads_at_that_level():
    # the bias steps with oc: its loads would have to move with the tiles' first loads
    assert rotated_level(["oc", "ic"], CONV, {"input": 1, "weight": 1, "bias": 0}, True, 2) is None
