"""A seeded random sweep of convolutions and matrix products through the whole compiler,
run on the emulator (race and deadlock checks on) against the reference interpreter.

Shapes are drawn across strides, padding, dilation, groups, batch, kernel sizes and the
three machine presets; a shape this version does not lower must be reported with a
PassFailedException (never a crash or a wrong result), and most must lower. Tolerance:
fp16 storage of inputs and outputs, fp32 accumulation: 2% of the output's scale.
"""

import random

import numpy as np
import pytest
from xdsl.utils.exceptions import PassFailedException

from rapid_mlir.dialects import nn
from rapid_mlir.frontend.builder import GraphBuilder
from rapid_mlir.ir_io import module_text, parse_module
from rapid_mlir.pipeline import compile_module
from rapid_mlir.reference.interpreter import run
from rapid_mlir.reference.signature import find_entry, random_inputs, signature
from rapid_mlir.runtime import load


def random_case(rnd: random.Random) -> str:
    g = GraphBuilder()
    if rnd.random() < 0.6:
        groups = rnd.choice([1, 1, 2, 4])
        c, o = groups * rnd.choice([1, 2, 4, 8]), groups * rnd.choice([1, 2, 4, 8])
        h, k, s = rnd.choice([4, 6, 8, 12, 16]), rnd.choice([1, 3, 5]), rnd.choice([1, 2])
        d, p, n = rnd.choice([1, 1, 2]), rnd.choice([0, 1, 2]), rnd.choice([1, 1, 2])
        if h + 2 * p - d * (k - 1) - 1 < 0:
            k, d = 1, 1
        x, w = g.input("x", [n, c, h, h]), g.input("w", [o, c // groups, k, k])
        y = g.add(nn.Conv2DOp(x, w, strides=(s, s), pads=(p, p, p, p), dilations=(d, d), groups=groups), "layer")
    else:
        m, k, n = rnd.choice([8, 16, 24, 32, 64]), rnd.choice([8, 16, 32, 64, 128]), rnd.choice([8, 16, 32, 64])
        y = g.add(nn.MatmulOp(g.input("a", [m, k]), g.input("b", [k, n])), "layer")
    if rnd.random() < 0.3:
        y = g.add(nn.ReluOp(y))
    g.output("y", y)
    return module_text(g.finish()[0])


@pytest.mark.parametrize("chunk", range(4))
def test_random_layers_compile_and_match(chunk):
    rnd = random.Random(1000 + chunk)
    lowered = 0
    for trial in range(10):
        text = random_case(rnd)
        machine = rnd.choice(["rapid-1c", "rapid-4c", "rapid-32c"])
        inputs = random_inputs(signature(find_entry(parse_module(text))), trial)
        expected = run(parse_module(text), inputs)["y"]
        try:
            program = compile_module(parse_module(text), machine)
        except PassFailedException as e:
            assert "not lowered yet" in str(e) or "does not divide" in str(e) or "may split" in str(e), str(e)
            continue
        result = load(program).run(inputs, check_races=True)
        scale = float(np.abs(expected).max()) + 1.0
        np.testing.assert_allclose(result.outputs["y"], expected, rtol=0, atol=0.02 * scale, err_msg=text)
        lowered += 1
    assert lowered >= 5
