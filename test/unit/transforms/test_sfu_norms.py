"""GELU, layer norm, LRN, reduce and softmax along any axis as SFU kernels, compiled
through every stage and run on the emulator (race and deadlock checks on) against the
reference interpreter: on every machine preset with odd shapes, batches and several axes,
under pinned mappings (loops that iterate, ragged tiles, double buffering on and off),
and with nothing left to the host.

Tolerance. The device stores tensors in fp16: the inputs are rounded to f16 when written
to DRAM, and the reference runs on those rounded inputs (`result.inputs`), in fp32. The
SFU computes in fp32 and rounds each result once to f16 (at most 2^-11 ~ 4.9e-4
relative), so one layer differs from the reference by that rounding plus fp32 noise: a
different summation order in rsum (reduce, layer norm, softmax), exp(-beta * log d) for
LRN's power, erf and tanh through the same fp32 kernels as the reference. Hence rtol
2e-3 and atol 1e-4 of the output's scale (outputs near zero, such as sums of random
signs, are judged against the scale). Scale and bias of layer norm are function inputs,
so both sides see the same f16 values. A wrong tile, offset, stride, window or
broadcast is off by O(1).
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
NO_MPE = {"rows": [], "cols": [], "simd": [], "l0": {}}


def text_of(build) -> str:
    g = GraphBuilder(inline_limit=1 << 20)
    build(g)
    return module_text(g.finish()[0])


def check(build, machine, mapping=None, tmp_path=None, scale=None, tol=2e-3, atol=1e-4):
    """Compiles `build`'s graph for `machine` (pinning `mapping`: layer -> JSON object),
    runs it on inputs uniform in [-1, 1) times `scale[name]`, and compares every output
    with the reference; returns the program."""
    text = text_of(build)
    inputs = random_inputs(signature(find_entry(parse_module(text))), 3)
    for name, factor in (scale or {}).items():
        inputs[name] = inputs[name] * np.float32(factor)
    path = None
    if mapping is not None:
        path = tmp_path / "layers.json"
        path.write_text(json.dumps({k: NO_MPE | {"corelets": {}, "cores": {}} | v for k, v in mapping.items()}))
    program = compile_module(parse_module(text), machine, str(path) if path else None)
    assert not program.host_ops, [h.layer for h in program.host_ops]
    result = load(program).run(inputs, check_races=True)
    expected = run(parse_module(text), result.inputs)
    for name, want in expected.items():
        np.testing.assert_allclose(result.outputs[name], want, rtol=tol, atol=atol * float(np.abs(want).max()),
                                   err_msg=f"output {name} on {machine}")
    return program


def mnemonics(program) -> set[str]:
    return {i.mnemonic for instrs in program.streams.values() for i in instrs}


# -- the layers, on every preset ---------------------------------------------------------------


def gelu_layers(g):
    x, wide = g.input("x", [2, 5, 9, 9]), g.input("wide", [3, 1000])
    g.output("exact", g.add(nn.GeluOp(x, "none"), "exact"))
    g.output("tanh", g.add(nn.GeluOp(wide, "tanh"), "tanh"))
    g.output("exact_1d", g.add(nn.GeluOp(g.input("v", [7]), "none"), "exact_1d"))


def layer_norm_layers(g):
    for name, shape, axis, bias in (("ln_c", [2, 5, 9, 9], 1, True), ("ln_last", [3, 7, 33], -1, False),
                                    ("ln_all", [4, 20], 0, True), ("ln_2", [2, 4, 7, 9], 2, True)):
        norm = shape[axis:]
        b = g.input(f"{name}.b", norm) if bias else None
        y = nn.LayerNormOp(g.input(name, shape), g.input(f"{name}.s", norm), b, axis=axis, epsilon=1e-3)
        g.output(f"{name}.y", g.add(y, name))


def lrn_layers(g):
    g.output("lrn5", g.add(nn.LrnOp(g.input("x", [2, 7, 5, 5]), size=5, alpha=2.0, beta=0.75, bias=1.0), "lrn5"))
    # a window wider than the channels (offsets beyond them are skipped), an even size, rank 3
    g.output("lrn7", g.add(nn.LrnOp(g.input("few", [1, 3, 4, 4]), size=7, alpha=1.5, beta=0.6, bias=0.5), "lrn7"))
    g.output("lrn4", g.add(nn.LrnOp(g.input("seq", [3, 6, 9]), size=4, alpha=1.0, beta=0.5, bias=2.0), "lrn4"))


def reduce_layers(g):
    x = g.input("x", [2, 4, 7, 9])
    g.output("sum_keep", g.add(nn.ReduceOp(x, "sum", [1, 3], keepdims=True), "sum_keep"))     # two runs
    g.output("mean_drop", g.add(nn.ReduceOp(x, "mean", [-2], keepdims=False), "mean_drop"))
    g.output("max_all", g.add(nn.ReduceOp(x, "max", [], keepdims=False), "max_all"))          # a scalar
    g.output("mean_hw", g.add(nn.ReduceOp(g.input("img", [2, 5, 9, 9]), "mean", [2, 3]), "mean_hw"))
    g.output("max_02", g.add(nn.ReduceOp(g.input("y", [3, 5, 4, 6]), "max", [0, 2], keepdims=True), "max_02"))
    g.output("sum_0", g.add(nn.ReduceOp(g.input("z", [5, 3, 7]), "sum", [0], keepdims=False), "sum_0"))
    # axes 0 and 2 around a dim of extent 1: one run
    g.output("sum_unit", g.add(nn.ReduceOp(g.input("u", [4, 1, 6]), "sum", [0, 2], keepdims=False), "sum_unit"))
    g.output("max_5d", g.add(nn.ReduceOp(g.input("r5", [2, 3, 2, 3, 2]), "max", [1, 3]), "max_5d"))


def softmax_layers(g):
    g.output("axis1", g.add(nn.SoftmaxOp(g.input("a", [2, 5, 9]), axis=1), "axis1"))
    g.output("axis0", g.add(nn.SoftmaxOp(g.input("b", [3, 4, 7, 5]), axis=0), "axis0"))
    g.output("axis2", g.add(nn.SoftmaxOp(g.input("c", [2, 3, 5, 7]), axis=2), "axis2"))
    g.output("cols", g.add(nn.SoftmaxOp(g.input("d", [6, 37]), axis=0), "cols"))
    g.output("last", g.add(nn.SoftmaxOp(g.input("e", [4, 11]), axis=-1), "last"))


LAYERS = {  # the graph, the input scales (wider than [-1, 1) where the range matters), its instructions
    "gelu": (gelu_layers, {"x": 4, "wide": 5}, {"sfu.erf", "sfu.tanh", "sfu.scale", "sfu.mul"}),
    "layer_norm": (layer_norm_layers, {}, {"sfu.rsum", "sfu.sqrt", "sfu.recip", "sfu.fma"}),
    "lrn": (lrn_layers, {"x": 3}, {"sfu.add", "sfu.log", "sfu.exp"}),
    "reduce": (reduce_layers, {}, {"sfu.rsum", "sfu.rmax", "sfu.scale"}),
    "softmax": (softmax_layers, {"a": 4, "b": 4, "c": 4}, {"sfu.rmax", "sfu.exp", "sfu.rsum", "sfu.recip"}),
}


@pytest.mark.parametrize("machine", MACHINES)
@pytest.mark.parametrize("family", sorted(LAYERS))
def test_layers_on_every_preset(family, machine):
    build, scale, instructions = LAYERS[family]
    program = check(build, machine, scale=scale)
    assert instructions <= mnemonics(program) and "mpe.mm" not in mnemonics(program)


# -- pinned mappings: loops, ragged tiles, double buffering --------------------------------------


@pytest.mark.parametrize("build, mapping", [
    # rows 21 in tiles of 2 over two corelets (11 + 10 rows: ragged, an odd step count)
    (lambda g: g.output("y", g.add(nn.LayerNormOp(g.input("x", [21, 40]), g.input("s", [40]), g.input("b", [40])),
                                   "ln")),
     {"ln": {"corelets": {"m": 2}, "order": ["m", "k"], "lx": {"m": 2, "k": 40}}}),
    # softmax over axis 1: i = 9 in tiles of 2 (four, then 1), m over two cores
    (lambda g: g.output("y", g.add(nn.SoftmaxOp(g.input("x", [2, 5, 9]), axis=1), "sm")),
     {"sm": {"cores": {"m": 2}, "order": ["m", "k", "i"], "lx": {"m": 1, "k": 5, "i": 2}}}),
    # LRN: spatial tiles of 4 of 25 (ragged), n over two cores, no double buffering
    (lambda g: g.output("y", g.add(nn.LrnOp(g.input("x", [2, 7, 5, 5]), size=3, alpha=1.0), "lrn")),
     {"lrn": {"cores": {"n": 2}, "order": ["n", "c", "s"], "lx": {"n": 1, "c": 7, "s": 4}, "double_buffer": False}}),
    # reduce: kept dims d0 (corelets 2 + 1) and d2 (tiles of 3 of 7), another loop order
    (lambda g: g.output("y", g.add(nn.ReduceOp(g.input("x", [3, 4, 7, 9]), "mean", [1, 3]), "red")),
     {"red": {"corelets": {"d0": 2}, "order": ["d2", "d0", "d1", "d3"], "lx": {"d0": 1, "d1": 4, "d2": 3, "d3": 9}}}),
    # GELU: columns in tiles of 128 of 1000 (ragged), rows over three cores
    (lambda g: g.output("y", g.add(nn.GeluOp(g.input("x", [3, 1000]), "tanh"), "gelu")),
     {"gelu": {"cores": {"d0": 3}, "order": ["d0", "d1"], "lx": {"d0": 1, "d1": 128}}}),
])
def test_pinned_mappings(tmp_path, build, mapping):
    program = check(build, "rapid-4c", {k: {"double_buffer": True} | v for k, v in mapping.items()}, tmp_path)
    loops = [i for instrs in program.streams.values() for i in instrs if i.mnemonic == "loop"]
    assert any(i.operands["count"] > 1 for i in loops)  # the loops really iterate


@pytest.mark.parametrize("build, mapping, message", [
    (lambda g: g.output("y", g.add(nn.LrnOp(g.input("x", [2, 7, 5, 5]), size=3), "lrn")),
     {"lrn": {"order": ["n", "c", "s"], "lx": {"n": 1, "c": 3, "s": 25}}},
     r"layer 'lrn': lx\(c=3\) must hold all 7 of c"),
    (lambda g: g.output("y", g.add(nn.SoftmaxOp(g.input("x", [2, 6, 9]), axis=1), "sm")),
     {"sm": {"cores": {"k": 2}, "order": ["m", "k", "i"], "lx": {"m": 1, "k": 3, "i": 9}}},
     r"layer 'sm': cores\(k=2\) splits a dim this layer keeps whole \(k\)"),
])
def test_reduced_dims_stay_whole(tmp_path, build, mapping, message):
    path = tmp_path / "layers.json"
    path.write_text(json.dumps({k: NO_MPE | {"corelets": {}, "cores": {}} | v for k, v in mapping.items()}))
    with pytest.raises(PassFailedException, match=message):
        compile_module(parse_module(text_of(build)), "rapid-4c", str(path))


def test_a_transformer_block_runs_entirely_on_the_device():
    """layer norm -> gemm -> gelu -> gemm -> residual add -> softmax over the features'
    axis 0 and a mean over the tokens: the ops that used to need the host, in a chain with
    matrix layers (every intermediate rounded to f16: 1e-2 of the scale)."""
    rng = np.random.default_rng(7)

    def build(g):
        x = g.input("x", [8, 32])
        h = g.add(nn.LayerNormOp(x, g.constant("s", rng.uniform(0.5, 1.5, 32).astype(np.float32)),
                                 g.constant("b", rng.uniform(-0.5, 0.5, 32).astype(np.float32))), "ln")
        h = g.add(nn.GemmOp(h, g.constant("w1", (rng.standard_normal((32, 64)) * 0.2).astype(np.float32))), "fc1")
        h = g.add(nn.GeluOp(h, "tanh"), "gelu")
        h = g.add(nn.GemmOp(h, g.constant("w2", (rng.standard_normal((64, 32)) * 0.2).astype(np.float32))), "fc2")
        h = g.add(nn.AddOp(h, x), "res")
        g.output("p", g.add(nn.SoftmaxOp(h, axis=0), "softmax"))
        g.output("m", g.add(nn.ReduceOp(h, "mean", [0], keepdims=False), "pool"))
    program = check(build, "rapid-4c", tol=1e-2, atol=1e-2)
    assert {"mpe.mm", "sfu.tanh", "sfu.rsum", "sfu.rmax"} <= mnemonics(program)
