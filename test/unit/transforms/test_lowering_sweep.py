"""A seeded random sweep of convolutions and matrix products through the whole compiler,
run on the emulator (race and deadlock checks on) against the reference interpreter.

Shapes are drawn across strides, padding, dilation, groups, batch, kernel sizes, bias,
odd and prime extents (7, 13, 17, 31: ragged tiles, uneven core and corelet shares) and
the three machine presets, with the fixed strategy's mappings (chunks 0 and 1) and the dse
strategy's (chunks 2 and 3: its spatial mappings, e.g. `simd(kw,ic)` for few channels,
and its tilings); every case must lower and match. Tolerance: fp16 storage of inputs and outputs, fp32 accumulation: 2% of the
output's scale.
"""

import random

import numpy as np
import pytest

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
        groups = rnd.choice([1, 1, 2, 3])
        c, o = groups * rnd.choice([1, 2, 3, 5, 8]), groups * rnd.choice([1, 2, 7, 8, 13])
        h, w = rnd.choice([4, 7, 8, 13, 17]), rnd.choice([5, 7, 12, 13, 16])
        k, s = rnd.choice([1, 2, 3, 5]), rnd.choice([1, 2, 3])
        d, p, n = rnd.choice([1, 1, 2]), rnd.choice([0, 1, 2]), rnd.choice([1, 1, 2])
        if min(h, w) + 2 * p - d * (k - 1) - 1 < 0:
            k, d = 1, 1
        x, wt = g.input("x", [n, c, h, w]), g.input("w", [o, c // groups, k, k])
        bias = g.input("b", [o]) if rnd.random() < 0.3 else None
        y = g.add(nn.Conv2DOp(x, wt, bias, strides=(s, s), pads=(p, p, p, p), dilations=(d, d), groups=groups),
                  "layer")
    else:
        m, k, n = rnd.choice([1, 7, 13, 16, 31, 64]), rnd.choice([3, 8, 17, 31, 64, 128]), rnd.choice([7, 8, 13, 31, 64])
        a = g.input("a", [m, k])
        if rnd.random() < 0.3:  # a dense layer: [n][k] weight and a bias
            y = g.add(nn.GemmOp(a, g.input("wt", [n, k]), g.input("c", [n]), trans_b=True), "layer")
        else:
            y = g.add(nn.MatmulOp(a, g.input("b", [k, n])), "layer")
    if rnd.random() < 0.3:
        y = g.add(nn.ReluOp(y))
    g.output("y", y)
    return module_text(g.finish()[0])


@pytest.mark.parametrize("chunk", range(4))
def test_random_layers_compile_and_match(chunk):
    rnd = random.Random(1000 + chunk)
    for trial in range(10):
        text = random_case(rnd)
        machine = rnd.choice(["rapid-1c", "rapid-4c", "rapid-32c"])
        inputs = random_inputs(signature(find_entry(parse_module(text))), trial)
        expected = run(parse_module(text), inputs)["y"]
        strategy = "fixed" if chunk < 2 else "dse"
        program = compile_module(parse_module(text), machine, strategy=strategy)   # every case lowers
        result = load(program).run(inputs, check_races=True)
        scale = float(np.abs(expected).max()) + 1.0
        np.testing.assert_allclose(result.outputs["y"], expected, rtol=0, atol=0.02 * scale,
                                   err_msg=f"{machine} {strategy}\n{text}")
