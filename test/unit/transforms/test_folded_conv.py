"""`simd(kw,ic)`: a convolution with few input channels puts its kernel's columns in the
SIMD lanes with them (`conv_lowering.py`). Candidates of the dse space with that spatial
mapping, drawn across splits, tilings, padding, strides, groups, batch and the three
presets, are compiled and emulated (race checks on) against the reference interpreter;
the cost model and the MPE instruction count follow the fold; the lowering's limits are
errors that name the layer."""

from __future__ import annotations

import json
import random
import re
from dataclasses import replace

import numpy as np
import pytest

from rapid_mlir.cost import predict
from rapid_mlir.dialects import nn
from rapid_mlir.frontend.builder import GraphBuilder
from rapid_mlir.ir_io import module_text, parse_module
from rapid_mlir.machine import load_machine
from rapid_mlir.mapping import problem as P
from rapid_mlir.mapping import space
from rapid_mlir.pipeline import compile_module
from rapid_mlir.reference.interpreter import run
from rapid_mlir.reference.signature import find_entry, random_inputs, signature
from rapid_mlir.runtime import load

CASES = [  # (n, c, h, w, o, k, stride, pad, groups, dilation_h)
    (1, 3, 23, 29, 16, 7, 2, 3, 1, 1),    # a stem: 3 channels, 7x7, stride 2, padded
    (2, 3, 12, 11, 10, 3, 1, 1, 1, 2),   # a batch, ragged extents, dilated rows
    (1, 8, 9, 10, 8, 3, 1, 1, 8, 1),     # depthwise: one channel per group
    (1, 6, 13, 9, 6, 5, 3, 2, 2, 1),     # groups of 3 channels, stride 3
]


def _module(n, c, h, w, o, k, stride, pad, groups, dh):
    g = GraphBuilder()
    x, wt = g.input("x", [n, c, h, w]), g.input("w", [o, c // groups, k, k])
    y = g.add(nn.Conv2DOp(x, wt, g.input("b", [o]), strides=(stride, stride), pads=(pad,) * 4,
                          dilations=(dh, 1), groups=groups), "conv")
    g.output("y", g.add(nn.ReluOp(y)))
    return module_text(g.finish()[0])


def _problem(n, c, h, w, o, k, stride, pad, groups, dh):
    return P.conv2d("conv", (n, c, h, w), (o, c // groups, k, k), (stride, stride), (pad,) * 4, (dh, 1), groups)


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("machine", ["rapid-1c", "rapid-4c", "rapid-32c"])
def test_folded_candidates_match_the_reference(case, machine, tmp_path):
    problem, desc = _problem(*case), load_machine(machine)
    folded = [m for m in space.candidates(problem, desc) if m.simd == ("kw", "ic")]
    assert folded, "the space offers simd(kw,ic) for a conv with fewer channels than lanes"
    text = _module(*case)
    inputs = random_inputs(signature(find_entry(parse_module(text))), 5)
    expected = run(parse_module(text), inputs)["y"]
    scale = float(np.abs(expected).max()) + 1.0
    for mapping in random.Random(str((case, machine))).sample(folded, min(3, len(folded))):
        pin = tmp_path / "pin.json"
        pin.write_text(json.dumps({"conv": mapping.to_dict()}))
        program = compile_module(parse_module(text), machine, str(pin), strategy="fixed")
        result = load(program).run(inputs, check_races=True)
        np.testing.assert_allclose(result.outputs["y"], expected, rtol=0, atol=0.02 * scale,
                                   err_msg=f"{machine} {mapping.to_text()}")


def test_the_fold_takes_one_instruction_per_kernel_row_and_the_model_sees_it():
    problem, machine = _problem(*CASES[0]), load_machine("rapid-4c")
    folded = next(m for m in space.candidates(problem, machine) if m.simd == ("kw", "ic"))
    plain = replace(folded, simd=("ic",), l0={d: v for d, v in folded.l0.items() if d != "kw"})
    assert plain.l0["ic"] == 3 and folded.l0 == plain.l0 | {"kw": 7}
    # per output tile: 7 instructions of k = 21 (3 passes of 8 lanes) instead of 49 of k = 3
    fast, slow = predict(problem, folded, machine), predict(problem, plain, machine)
    assert fast.mpe_cycles < slow.mpe_cycles / 2
    assert fast.cycles < slow.cycles


def test_wide_channels_and_dilated_widths_are_not_folded():
    machine = load_machine("rapid-4c")
    wide = P.conv2d("c", (1, 16, 8, 8), (8, 16, 3, 3), (1, 1), (1, 1, 1, 1), (1, 1), 1)
    dilated = P.conv2d("c", (1, 3, 8, 8), (8, 3, 3, 3), (1, 1), (2, 2, 2, 2), (1, 2), 1)
    pointwise = P.conv2d("c", (1, 3, 8, 8), (8, 3, 1, 1), (1, 1), (0, 0, 0, 0), (1, 1), 1)
    for problem in (wide, dilated, pointwise):
        assert space.spatial_options(problem, machine) == [space.SPATIAL["conv2d"]]


@pytest.mark.parametrize("change, message", [
    ({"lx": "ic"}, r"simd\(kw,ic\) needs lx\(ic\) = 3 \(the whole extent\), found lx\(ic=1\)"),
    ({"cores": "ic"}, r"simd\(kw,ic\) with ic split over cores or corelets is not lowered"),
])
def test_the_folds_limits_name_the_layer(change, message, tmp_path, capsys):
    from rapid_mlir.tools.rapidc import main as rapidc

    case = CASES[0]
    problem, machine = _problem(*case), load_machine("rapid-4c")
    mapping = next(m for m in space.candidates(problem, machine) if m.simd == ("kw", "ic"))
    if "lx" in change:
        mapping = replace(mapping, lx=mapping.lx | {"ic": 1}, l0=mapping.l0 | {"ic": 1})
    else:
        mapping = replace(mapping, cores={"ic": 3}, corelets={}, lx=mapping.lx | {"ic": 1},
                          l0=mapping.l0 | {"ic": 1})
    src, pin = tmp_path / "conv.mlir", tmp_path / "pin.json"
    src.write_text(_module(*case))
    pin.write_text(json.dumps({"conv": mapping.to_dict()}))
    assert rapidc([str(src), "--emit", "mem", "--mapping", str(pin)]) == 1
    err = capsys.readouterr().err
    assert "layer 'conv'" in err and re.search(message, err), err
