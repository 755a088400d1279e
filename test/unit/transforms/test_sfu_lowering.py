"""SFU layers (elementwise, batch norm, pooling, softmax) and DRAM views (reshape,
flatten) compiled through every stage and run on the emulator (race and deadlock checks
on) against the reference interpreter: on every machine preset with odd shapes, batches
and broadcasts, under pinned mappings (ragged tiles, nested loops, double buffering on
and off), and in small chains with matrix layers.

Tolerance. The reference runs on the inputs as the device holds them (rounded to f16),
in fp32. The SFU computes in fp32 as well (exp, tanh, sigmoid, sqrt with the same numpy
float32 functions, erf with the reference's own kernel), so one layer differs from the
reference by the rounding of its f16 result, at most 2^-11 (~4.9e-4) relative, plus fp32
summation order in pooling: rtol 2e-3, atol 1e-4 of the output's scale. Batch-norm
parameters are stored as f16 in DRAM (each up to 2^-11 relative off, so scale and shift
up to ~1e-3) and chains round every intermediate tensor to f16 and accumulate
convolutions in fp32: 1e-2 of the output's scale there. A wrong tile, offset, broadcast
stride or pooling divisor is off by O(1).
"""

import json

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

MACHINES = ["rapid-1c", "rapid-4c", "rapid-32c"]
RNG = np.random.default_rng(5)


def text_of(build) -> str:
    g = GraphBuilder(inline_limit=1 << 20)  # weights inline: no weight file needed
    build(g)
    return module_text(g.finish()[0])


def check(build, machine, tol=2e-3, atol=1e-4, mapping=None, tmp_path=None, seed=0):
    """Compiles `build`'s graph for `machine` (pinning `mapping`, layer -> JSON object),
    runs it and compares every output with the reference."""
    text = text_of(build)
    inputs = random_inputs(signature(find_entry(parse_module(text))), seed)
    path = None
    if mapping is not None:
        path = tmp_path / "layers.json"
        path.write_text(json.dumps(mapping))
    program = compile_module(parse_module(text), machine, str(path) if path else None)
    result = load(program).run(inputs, check_races=True)
    expected = run(parse_module(text), result.inputs)
    for name, want in expected.items():
        scale = float(np.abs(want).max())
        np.testing.assert_allclose(result.outputs[name], want, rtol=tol, atol=atol * scale,
                                   err_msg=f"output {name} on {machine}\n{text}")
    return program, result


def mnemonics(program) -> set[str]:
    return {i.mnemonic for instrs in program.streams.values() for i in instrs}


def vector(n, lo=-1.0, hi=1.0):
    return RNG.uniform(lo, hi, n).astype(np.float32)


# -- one layer at a time, on every preset --------------------------------------------------------


def unary_layers(g):
    x1, x2, x3 = g.input("x1", [1, 3, 7, 5]), g.input("x2", [2, 5, 9, 9]), g.input("x3", [3, 1000])
    g.output("relu", g.add(nn.ReluOp(x1), "relu"))
    g.output("sigmoid", g.add(nn.SigmoidOp(x2), "sigmoid"))
    g.output("tanh", g.add(nn.TanhOp(x3), "tanh"))
    g.output("erf", g.add(nn.ErfOp(x1), "erf"))
    g.output("sqrt", g.add(nn.SqrtOp(g.add(nn.ExpOp(x2), "exp")), "sqrt"))  # exp, then sqrt of it
    g.output("clip", g.add(nn.ClipOp(x3, -0.5, 0.7), "clip"))
    g.output("clip_min", g.add(nn.ClipOp(x2, min=0.25), "clip_min"))


def binary_layers(g):
    x, y = g.input("x", [2, 5, 9, 9]), g.input("y", [2, 5, 9, 9])
    g.output("add", g.add(nn.AddOp(x, y), "add"))
    g.output("sub", g.add(nn.SubOp(x, g.input("c", [5, 1, 1])), "sub"))          # per channel
    g.output("mul", g.add(nn.MulOp(g.input("row", [9]), x), "mul"))              # lhs broadcast
    divisor = g.add(nn.ExpOp(g.input("z", [1, 5, 1, 9])), "exp")                 # positive
    g.output("div", g.add(nn.DivOp(x, divisor), "div"))
    g.output("max", g.add(nn.MaxOp(g.input("col", [7, 1]), g.input("line", [1, 33])), "max"))  # outer
    g.output("min", g.add(nn.MinOp(x, g.constant("w", vector((5, 1, 9)))), "min"))  # a global
    g.output("residual", g.add(nn.ReluOp(g.add(nn.AddOp(x, y), "residual"))))   # fused relu


def batch_norm_layers(g):
    for name, shape in (("bn", [2, 5, 9, 9]), ("bn_odd", [1, 3, 7, 5]), ("bn_2d", [4, 20])):
        c = shape[1]
        params = [g.constant(f"{name}.{p}", vector(c, *r)) for p, r in
                  (("scale", (0.5, 2)), ("bias", (-1, 1)), ("mean", (-1, 1)), ("var", (0.1, 3)))]
        y = g.add(nn.BatchNormOp(g.input(name, shape), *params, epsilon=1e-3), name)
        g.output(f"{name}.y", g.add(nn.ReluOp(y)) if name == "bn" else y)


def pooling_layers(g):
    x, odd = g.input("x", [2, 5, 9, 9]), g.input("odd", [1, 3, 7, 5])
    g.output("max", g.add(nn.MaxPool2DOp(x, kernel=(3, 3), strides=(2, 2), pads=(1, 1, 1, 1)), "max"))
    g.output("max_odd", g.add(nn.MaxPool2DOp(odd, kernel=(2, 2), strides=(2, 2)), "max_odd"))
    g.output("max_dil", g.add(nn.MaxPool2DOp(x, kernel=(2, 3), strides=(2, 1), pads=(1, 0, 0, 1),
                                             dilations=(2, 1), ceil_mode=True), "max_dil"))
    g.output("avg", g.add(nn.AvgPool2DOp(x, kernel=(3, 3), strides=(2, 2), pads=(1, 1, 1, 1)), "avg"))
    g.output("avg_inc", g.add(nn.AvgPool2DOp(odd, kernel=(2, 3), strides=(2, 1), pads=(1, 1, 0, 1),
                                             count_include_pad=True, ceil_mode=True), "avg_inc"))
    g.output("gap", g.add(nn.GlobalAvgPoolOp(x), "gap"))
    g.output("gap_odd", g.add(nn.GlobalAvgPoolOp(odd), "gap_odd"))


def softmax_and_view_layers(g):
    g.output("softmax", g.add(nn.SoftmaxOp(g.input("logits", [6, 37])), "softmax"))
    g.output("softmax_3d", g.add(nn.SoftmaxOp(g.input("scores", [2, 5, 9]), axis=2), "softmax_3d"))
    x = g.input("x", [4, 6])
    g.output("of_arg", g.add(nn.ReluOp(g.add(nn.ReshapeOp(x, [2, 12]), "r1")), "relu"))   # view of an argument
    t = g.add(nn.TanhOp(x), "tanh")
    g.output("t", t)
    g.output("of_result", g.add(nn.ExpOp(g.add(nn.FlattenOp(g.add(nn.ReshapeOp(t, [2, 3, 4]), "r2"), 2),
                                                 "f")), "exp"))     # a view of a function result
    s = g.add(nn.SigmoidOp(g.input("v", [3, 8])), "sigmoid")
    g.output("as_result", g.add(nn.ReshapeOp(s, [24]), "r3"))       # a result that is a view


@pytest.mark.parametrize("machine", MACHINES)
@pytest.mark.parametrize("layers", [unary_layers, binary_layers, pooling_layers, softmax_and_view_layers],
                         ids=lambda f: f.__name__)
def test_layers_on_every_preset(layers, machine):
    program, _ = check(layers, machine)
    assert "mpe.mm" not in mnemonics(program)


@pytest.mark.parametrize("machine", MACHINES)
def test_batch_norm_on_every_preset(machine):
    program, _ = check(batch_norm_layers, machine, tol=1e-2, atol=1e-2)
    assert {"sfu.sqrt", "sfu.recip", "sfu.fma", "sfu.relu"} <= mnemonics(program)


def test_fused_residual_relu_is_one_kernel():
    program, result = check(lambda g: g.output("y", g.add(nn.ReluOp(g.add(nn.AddOp(
        g.input("a", [1, 16, 14, 14]), g.input("b", [1, 16, 14, 14])), "res")))), "rapid-4c")
    assert {i.origin for instrs in program.streams.values() for i in instrs} == {"res"}
    assert (result.outputs["y"] >= 0).all()


def test_max_pool_pads_with_the_lowest_finite_value():
    """All-negative inputs: a zero (or any larger) pad value would win at the border."""
    def build(g):
        x = g.add(nn.SubOp(g.input("x", [1, 2, 5, 5]), g.constant("big", np.full((1,), 100.0, np.float32))), "shift")
        g.output("y", g.add(nn.MaxPool2DOp(x, kernel=(3, 3), strides=(2, 2), pads=(1, 1, 1, 1)), "pool"))
    program, result = check(build, "rapid-1c")
    pads = [i.operands.get("padval") for instrs in program.streams.values() for i in instrs
            if i.mnemonic == "dma.copy" and i.operands.get("padval") is not None]
    assert set(pads) == {-65504.0} and (result.outputs["y"] < -90).all()


# -- pinned mappings: loops, ragged tiles, double buffering -------------------------------------------

NO_MPE = {"rows": [], "cols": [], "simd": [], "l0": {}}


def big_add(g):
    g.output("z", g.add(nn.AddOp(g.input("x", [1, 32, 28, 28]), g.input("y", [1, 32, 28, 28])), "add"))


def ragged_div(g):
    g.output("z", g.add(nn.DivOp(g.input("x", [3, 7, 11, 5]), g.add(nn.ExpOp(g.input("y", [7, 1, 5])), "e")), "div"))


@pytest.mark.parametrize("machine, build, mapping", [
    # corelets over d0 (3 -> 2 + 1), tiles 3x4x5 of 7x11x5: ragged steps along d1 and d2, nested loops
    ("rapid-4c", ragged_div, {"div": {"cores": {}, "corelets": {"d0": 2}, "order": ["d0", "d1", "d2", "d3"],
                                      "lx": {"d0": 1, "d1": 3, "d2": 4, "d3": 5}}}),
    # cores over d0, corelets over d2 (11 -> 6 + 5), loops in another order, a ragged d3 tile
    ("rapid-4c", ragged_div, {"div": {"cores": {"d0": 3}, "corelets": {"d2": 2}, "order": ["d2", "d0", "d1", "d3"],
                                      "lx": {"d0": 1, "d1": 2, "d2": 4, "d3": 3}, "double_buffer": False}}),
    ("rapid-32c", batch_norm_layers, {"bn": {"cores": {"c": 5}, "corelets": {"n": 2}, "order": ["c", "n", "s"],
                                             "lx": {"n": 1, "c": 1, "s": 30}}}),
    ("rapid-4c", pooling_layers, {"max": {"cores": {"n": 2}, "corelets": {"c": 2}, "lx": {"n": 1, "c": 2, "oh": 5,
                                  "ow": 5, "kh": 3, "kw": 3}, "order": ["n", "c", "oh", "ow", "kh", "kw"]},
                                  "gap": {"cores": {"n": 2}, "corelets": {}, "order": ["n", "c", "s"],
                                          "lx": {"n": 1, "c": 2, "s": 81}}}),
    ("rapid-4c", softmax_and_view_layers, {"softmax": {"cores": {"m": 3}, "corelets": {"m": 2},
                                                       "order": ["m", "k"], "lx": {"m": 1, "k": 37}}}),
])
def test_pinned_mappings(tmp_path, machine, build, mapping):
    mapping = {layer: NO_MPE | {"double_buffer": True} | m for layer, m in mapping.items()}
    tol = 1e-2 if build is batch_norm_layers else 2e-3
    program, _ = check(build, machine, tol, tol / 20, mapping, tmp_path)
    loops = [i for instrs in program.streams.values() for i in instrs if i.mnemonic == "loop"]
    assert any(i.operands["count"] > 1 for i in loops)  # the loops really iterate


def test_double_buffering_overlaps_loads_with_the_sfu(tmp_path):
    cycles = {}
    for db in (False, True):
        mapping = {"add": NO_MPE | {"cores": {}, "corelets": {}, "order": ["d0", "d1", "d2", "d3"],
                                    "lx": {"d0": 1, "d1": 2, "d2": 28, "d3": 28}, "double_buffer": db}}
        _, result = check(big_add, "rapid-1c", mapping=mapping, tmp_path=tmp_path)
        cycles[db] = result.cycles
    assert cycles[True] < 0.95 * cycles[False]


# -- what is not lowered is reported -------------------------------------------------------------------


@pytest.mark.parametrize("mapping, message", [
    ({"cores": {"oh": 2}, "order": ["n", "c", "oh", "ow", "kh", "kw"]},
     r"layer 'max': cores\(oh=2\) splits a dim this layer keeps whole \(oh, ow, kh, kw\)"),
    ({"cores": {"n": 2}, "order": ["n", "c", "oh", "ow", "kh", "kw"], "lx": {"oh": 2, "ow": 5, "kh": 3, "kw": 3}},
     r"layer 'max': lx\(oh=2\) must hold all 5 of oh"),
    ({"cores": {"c": 4}, "order": ["n", "c", "oh", "ow", "kh", "kw"], "lx": {"oh": 5, "ow": 5, "kh": 3, "kw": 3}},
     r"layer 'max': cores\(c=4\) does not divide c = 5"),
])
def test_mappings_the_lowering_cannot_run(tmp_path, mapping, message):
    def build(g):
        g.output("y", g.add(nn.MaxPool2DOp(g.input("x", [2, 5, 9, 9]), kernel=(3, 3), strides=(2, 2),
                                           pads=(1, 1, 1, 1)), "max"))
    path = tmp_path / "layers.json"
    path.write_text(json.dumps({"max": NO_MPE | {"corelets": {}} | mapping}))
    with pytest.raises(PassFailedException, match=message):
        compile_module(parse_module(text_of(build)), "rapid-4c", str(path))


def test_a_tile_access_of_more_than_four_dims_is_rejected_naming_the_layer():
    """Five dims of the tile stay > 1 after the splits and the broadcast operand merges none."""
    text = text_of(lambda g: g.output("y", g.add(nn.AddOp(g.input("x", [3, 12, 3, 5, 6]), g.input("y", [12, 1, 5, 1])),
                                                 "wide")))
    with pytest.raises(PassFailedException, match=r"convert-tile-to-mem: layer 'wide': a tile access needs 5 dims "
                                                  r"\(sizes \[3, 3, 3, 5, 3\]\) but the ISA has 4"):
        compile_module(parse_module(text), "rapid-4c")


# -- chains with matrix layers ---------------------------------------------------------------------------


def conv_bn_relu_pool(g):
    x = g.input("x", [2, 8, 10, 10])
    y = g.add(nn.Conv2DOp(x, g.constant("w", RNG.standard_normal((32, 8, 3, 3)).astype(np.float32) * 0.2),
                          pads=(1, 1, 1, 1)), "conv")
    params = [g.constant(f"bn.{i}", vector(32, *r)) for i, r in enumerate(((0.5, 2), (-1, 1), (-1, 1), (0.5, 2)))]
    y = g.add(nn.ReluOp(g.add(nn.BatchNormOp(y, *params), "bn")))
    g.output("y", g.add(nn.MaxPool2DOp(y, kernel=(3, 3), strides=(2, 2), pads=(1, 1, 1, 1)), "pool"))


def residual(g):
    x = g.input("x", [1, 32, 8, 8])
    y = g.add(nn.Conv2DOp(x, g.constant("w", RNG.standard_normal((32, 32, 3, 3)).astype(np.float32) * 0.1),
                          pads=(1, 1, 1, 1)), "conv")
    g.output("y", g.add(nn.ReluOp(g.add(nn.AddOp(y, x), "res"))))


def gemm_softmax(g):
    w = g.constant("w", RNG.standard_normal((64, 32)).astype(np.float32) * 0.2)
    g.output("p", g.add(nn.SoftmaxOp(g.add(nn.GemmOp(g.input("x", [8, 64]), w), "fc")), "softmax"))


def gap_flatten_gemm(g):
    w = g.constant("w", RNG.standard_normal((32, 64)).astype(np.float32) * 0.2)
    p = g.add(nn.FlattenOp(g.add(nn.GlobalAvgPoolOp(g.input("x", [2, 64, 7, 7])), "gap"), 1), "flat")
    g.output("y", g.add(nn.GemmOp(p, w, trans_b=True), "fc"))


@pytest.mark.parametrize("machine", MACHINES)
@pytest.mark.parametrize("chain", [conv_bn_relu_pool, residual, gemm_softmax, gap_flatten_gemm],
                         ids=lambda f: f.__name__)
def test_chains(chain, machine):
    check(chain, machine, tol=1e-2, atol=1e-2)


def test_small_cnn_runs_entirely_on_the_device():
    """examples/small_cnn.mlir: convs, batch norms, relu, max pool, a residual add, a
    clip (relu6), global pool, flatten, gemm and softmax, all device kernels or views."""
    from pathlib import Path

    from rapid_mlir.ir_io import read_module
    from rapid_mlir.weights import store_for

    example = Path(__file__).resolve().parents[3] / "examples" / "small_cnn.mlir"
    module = read_module(example)
    inputs = random_inputs(signature(find_entry(module)), 2)
    program = compile_module(read_module(example), "rapid-1c", weights=str(example.with_suffix(".npz")))
    result = load(program).run(inputs, check_races=True)
    expected = run(module, result.inputs, store_for(module, example))
    for name, want in expected.items():
        np.testing.assert_allclose(result.outputs[name], want, rtol=2e-2, atol=2e-2 * float(np.abs(want).max()))


def test_a_view_reads_the_bytes_its_source_kernel_wrote():
    """gap -> flatten -> softmax: the softmax reads the gap's scratch buffer through a
    rapid_mem.view, at the same DRAM address; no copy."""
    def build(g):
        flat = g.add(nn.FlattenOp(g.add(nn.GlobalAvgPoolOp(g.input("x", [4, 5, 2, 2])), "gap"), 1), "flat")
        g.output("p", g.add(nn.SoftmaxOp(flat), "softmax"))
    program, _ = check(build, "rapid-1c")

    def dram(layer, operand):
        return {i.operands[operand].offset for instrs in program.streams.values() for i in instrs
                if i.mnemonic == "dma.copy" and i.origin == layer and i.operands[operand].space.name == "DRAM"}
    assert min(dram("gap", "dst")) == min(dram("softmax", "src"))
    assert len(program.symbols) == 2  # x and p: the view takes no tensor of its own
