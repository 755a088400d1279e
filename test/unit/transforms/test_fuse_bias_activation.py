"""fuse-bias-activation and the act_min / act_max clamp of nn.conv2d and nn.gemm.

Numerics at the nn level: the reference interpreter on the fused module matches it on
the original (the same float32 sums, the bias added inside the layer instead of after
it, two biases added to each other first: rtol = atol = 1e-5). The clamp itself is
checked against onnxruntime through the ONNX exporter (which writes it as Relu / Clip).

End to end: the fused modules lowered for rapid-1c and rapid-4c (the device lowering
alone, so the program is exactly this pass's rewrite; `compile_module` runs the graph
passes again, which changes nothing) and run on the emulator against the interpreter on
the ORIGINAL module. The device stores every tensor in fp16 (inputs, weights, biases,
the output: a relative rounding of 2^-11 each) and accumulates in fp32; a tolerance of
2e-2 of the output's scale is far above those roundings and far below the error of a
missing or misplaced bias or clamp (of the order of the bias, or of the clamped values).
"""

import json

import numpy as np
import pytest
from xdsl.dialects.builtin import FloatAttr, StringAttr, UnitAttr, f32

from rapid_mlir.backend.isa_ir import module_to_program
from rapid_mlir.dialects import make_context, nn, rapid_tile
from rapid_mlir.frontend.builder import GraphBuilder
from rapid_mlir.reference.interpreter import run
from rapid_mlir.reference.onnx_export import run_onnxruntime, to_onnx
from rapid_mlir.reference.signature import find_entry, random_inputs, signature
from rapid_mlir.runtime import load
from rapid_mlir.transforms import all_passes
from rapid_mlir.transforms.convert_mem_to_isa import ConvertMemToIsaPass
from rapid_mlir.transforms.convert_nn_to_tile import ConvertNnToTilePass
from rapid_mlir.transforms.convert_tile_to_mem import ConvertTileToMemPass
from rapid_mlir.transforms.decompose_rnn import DecomposeRnnPass
from rapid_mlir.transforms.fuse_bias_activation import FuseBiasActivationPass
from rapid_mlir.transforms.legalize_nn import LegalizeNnPass
from rapid_mlir.transforms.rapid_mem_allocate import RapidMemAllocatePass

PRESETS = ["rapid-1c", "rapid-4c"]


def _uniform(shape, seed, scale=1.0):
    return np.random.default_rng(seed).uniform(-scale, scale, shape).astype(np.float32)


def conv_graph(activation=None, *, bias_add=(8, 1, 1), conv_bias=False, groups=1, weight_scale=1.0):
    """input [1, 4, 8, 8] -> conv 3x3 (8 channels) [-> add of a constant] [-> activation]."""
    g = GraphBuilder(inline_limit=16)
    x = g.input("x", [1, 4, 8, 8])
    w = g.constant("conv.w", _uniform((8, 4 // groups, 3, 3), 1, weight_scale))
    b = g.constant("conv.b", _uniform((8,), 2)) if conv_bias else None
    y = g.add(nn.Conv2DOp(x, w, b, pads=(1, 1, 1, 1), groups=groups), "conv")
    if bias_add is not None:
        y = g.add(nn.AddOp(y, g.constant("conv.add", _uniform(bias_add, 3, 2.0))), "conv.bias_add")
    y = _activate(g, y, activation)
    g.output("y", y)
    return g.finish("w.npz")


def gemm_graph(activation=None, *, matmul=False, bias_shape=(8,)):
    """x [4, 16] -> dense layer of 8 (gemm with trans_b, or a matmul) -> add -> activation."""
    g = GraphBuilder(inline_limit=16)
    x = g.input("x", [4, 16])
    if matmul:
        y = g.add(nn.MatmulOp(x, g.constant("fc.w", _uniform((16, 8), 4))), "fc")
    else:
        y = g.add(nn.GemmOp(x, g.constant("fc.w", _uniform((8, 16), 4)), trans_b=True), "fc")
    y = g.add(nn.AddOp(y, g.constant("fc.b", _uniform(bias_shape, 5, 2.0))), "fc.bias_add")
    g.output("y", _activate(g, y, activation))
    return g.finish("w.npz")


def _activate(g, y, activation):
    if activation == "relu":
        return g.add(nn.ReluOp(y), "act")
    if activation is not None:
        return g.add(nn.ClipOp(y, *activation), "act")
    return y


CASES = {
    "conv_bias_relu": lambda: conv_graph("relu"),
    "conv_bias_relu6": lambda: conv_graph((0.0, 6.0), weight_scale=2.0),
    "conv_relu6": lambda: conv_graph((0.0, 6.0), bias_add=None, conv_bias=True, weight_scale=2.0),
    "conv_existing_bias_clip": lambda: conv_graph((-1.0, 1.5), bias_add=(1, 8, 1, 1), conv_bias=True),
    "conv_scalar_bias_relu": lambda: conv_graph("relu", bias_add=()),
    "depthwise_relu6": lambda: conv_graph((0.0, 6.0), groups=4, weight_scale=3.0),
    "gemm_bias_relu": lambda: gemm_graph("relu"),
    "gemm_bias_clip": lambda: gemm_graph((-0.5, 1.0), bias_shape=(1, 8)),
    "matmul_bias_relu": lambda: gemm_graph("relu", matmul=True),
    "matmul_bias_min_only": lambda: gemm_graph((-0.25, None), matmul=True),
}


def fuse(module):
    FuseBiasActivationPass().apply(make_context(), module)
    module.verify()
    return module


def nn_ops(module):
    return [op for op in module.walk() if op.name.startswith("nn.")]


def lower(module, machine, weights=None, until=None, mapping_file=None):
    """The device lowering alone (no graph passes) in place; the program, or the module
    after the pass named `until`."""
    ctx = make_context()
    for p in [DecomposeRnnPass(), LegalizeNnPass(), ConvertNnToTilePass(machine=machine, mapping_file=mapping_file),
              ConvertTileToMemPass(machine=machine), RapidMemAllocatePass(machine=machine),
              ConvertMemToIsaPass(machine=machine, weights=weights)]:
        p.apply(ctx, module)
        module.verify()
        if p.name == until:
            return module
    return module_to_program(module)


def mnemonics(program) -> list[str]:
    return [i.mnemonic for stream in program.streams.values() for i in stream]


# Numerics at the nn level ------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(CASES))
def test_fused_module_matches_the_original(name):
    module, store = CASES[name]()
    inputs = random_inputs(signature(find_entry(module)), 3)
    expected = run(module.clone(), inputs, store)
    fused = fuse(module)
    got = run(fused, inputs, store)
    np.testing.assert_allclose(got["y"], expected["y"], rtol=1e-5, atol=1e-5)
    # Everything fused: one layer (plus the bias subgraph), no add or activation after it.
    layers = [op for op in nn_ops(fused) if isinstance(op, nn.Conv2DOp | nn.GemmOp | nn.MatmulOp)]
    assert len(layers) == 1 and isinstance(layers[0], nn.Conv2DOp | nn.GemmOp)
    (layer,) = layers
    assert layer.attributes["nn.name"] == StringAttr("fc" if name.startswith(("gemm", "matmul")) else "conv")
    assert layer.bias is not None and layer.has_activation()
    assert not any(isinstance(op, nn.ReluOp | nn.ClipOp) for op in nn_ops(fused))
    assert all(op.results[0].uses.get_length() for op in nn_ops(fused) if op is not layer)
    # The clamp really acts on these inputs (so the comparison tests it).
    lo, hi = layer.act_bounds()
    assert (lo is not None and (expected["y"] == lo).any()) or (hi is not None and (expected["y"] == hi).any())


def test_existing_bias_is_added_to_the_new_one():
    module, _ = CASES["conv_existing_bias_clip"]()
    fuse(module)
    (conv,) = [op for op in nn_ops(module) if isinstance(op, nn.Conv2DOp)]
    bias = conv.bias.owner
    assert isinstance(bias, nn.AddOp) and bias.attributes["nn.name"] == StringAttr("conv.bias")
    assert conv.act_bounds() == (-1.0, 1.5)


def test_gemm_with_scaled_bias_keeps_the_add():
    g = GraphBuilder()
    x = g.input("x", [2, 4])
    y = g.add(nn.GemmOp(x, g.input("w", [4, 3]), g.input("c", [3]), beta=2.0), "fc")
    g.output("y", g.add(nn.AddOp(y, g.constant("d", np.ones(3))), "add"))
    module, _ = g.finish()
    text = str(module)
    assert str(fuse(module)) == text


@pytest.mark.parametrize("marked", ["conv", "act"])
def test_host_ops_are_not_fused(marked):
    module, _ = conv_graph("relu", bias_add=None)
    for op in nn_ops(module):
        if op.attributes.get("nn.name") == StringAttr(marked):
            op.attributes["nn.host"] = UnitAttr()
    text = str(module)
    assert str(fuse(module)) == text


def test_registered_under_its_name():
    assert all_passes()["fuse-bias-activation"]() is FuseBiasActivationPass


# The clamp in the other consumers -------------------------------------------------------------


@pytest.mark.parametrize("bounds", [(0.0, None), (None, 0.5), (-0.5, 0.75)])
def test_clamp_matches_onnxruntime(bounds):
    """The interpreter's clamp against the exporter's Relu / Clip run by onnxruntime."""
    g = GraphBuilder(inline_limit=0)
    x = g.input("x", [1, 3, 6, 6])
    lo, hi = bounds
    c = g.add(nn.Conv2DOp(x, g.constant("w", _uniform((4, 3, 3, 3), 6)), g.constant("b", _uniform((4,), 7)),
                          act_min=lo, act_max=hi), "conv")
    f = g.add(nn.FlattenOp(c, 1))
    g.output("y", g.add(nn.GemmOp(f, g.constant("fw", _uniform((32, 64), 8)), trans_b=True, alpha=2.0,
                                  act_min=lo, act_max=hi), "fc"))
    g.output("c", c)
    module, store = g.finish("w.npz")
    inputs = random_inputs(signature(find_entry(module)), 2)
    ours = run(module, inputs, store)
    theirs = run_onnxruntime(to_onnx(module, store), inputs)
    for key in ours:
        np.testing.assert_allclose(ours[key], theirs[key], rtol=1e-4, atol=1e-4, err_msg=key)
        if lo is not None:
            assert ours[key].min() >= lo and (ours[key] == lo).any()
        if hi is not None:
            assert ours[key].max() <= hi and (ours[key] == hi).any()


@pytest.mark.parametrize("attrs", [{"trans_a": True}, {"alpha": 3.0}, {"beta": 0.5}], ids=str)
@pytest.mark.parametrize("bounds", [(0.0, None), (-0.5, 1.0)], ids=str)
def test_legalize_nn_keeps_the_clamp_last(attrs, bounds):
    """legalize-nn rewrites a gemm into several ops: the clamp applies to the final value."""
    g = GraphBuilder(inline_limit=0)
    a = g.input("a", [6, 3] if attrs.get("trans_a") else [3, 6])
    y = nn.GemmOp(a, g.constant("b", _uniform((6, 4), 9)), g.constant("c", _uniform((3, 4), 10)),
                  act_min=bounds[0], act_max=bounds[1], **attrs)
    g.output("y", g.add(y, "fc"))
    module, store = g.finish("w.npz")
    inputs = random_inputs(signature(find_entry(module)), 4)
    expected = run(module.clone(), inputs, store)
    LegalizeNnPass().apply(make_context(), module)
    module.verify()
    np.testing.assert_allclose(run(module, inputs, store)["y"], expected["y"], rtol=1e-5, atol=1e-5)
    last = module.body.block.first_op.body.block.last_op.operands[0].owner
    assert isinstance(last, nn.ReluOp if bounds == (0.0, None) else nn.ClipOp)
    assert last.attributes["nn.name"] == StringAttr("fc.act")


# End to end on the emulator -----------------------------------------------------------------


@pytest.mark.parametrize("machine", PRESETS)
def test_clamped_layers_on_the_host(machine, tmp_path):
    """A conv and a gemm with a clamp marked `nn.host` run on the host, which clamps too."""
    g = GraphBuilder(inline_limit=0)
    x = g.input("x", [1, 3, 6, 6])
    c = g.add(nn.Conv2DOp(x, g.constant("w", _uniform((4, 3, 3, 3), 6)), act_min=0.0), "conv")
    f = g.add(nn.FlattenOp(c, 1))
    y = g.add(nn.GemmOp(f, g.constant("fw", _uniform((8, 64), 8)), trans_b=True, act_min=-0.5, act_max=0.5), "fc")
    g.output("y", y)
    module, store = g.finish("w.npz")
    for op in nn_ops(module):
        if isinstance(op, nn.Conv2DOp | nn.GemmOp):
            op.attributes["nn.host"] = UnitAttr()
    weights = str(tmp_path / "w.npz")
    store.save(weights)
    inputs = random_inputs(signature(find_entry(module)), 2)
    expected = run(module.clone(), inputs, store)["y"]
    assert expected.min() == -0.5 and expected.max() == 0.5
    program = lower(module, machine, weights)
    assert sorted(h.layer for h in program.host_ops) == ["conv", "fc"]
    got = load(program).run(inputs, check_races=True).outputs["y"]
    np.testing.assert_allclose(got, expected, rtol=0, atol=2e-2)


@pytest.mark.parametrize("machine", PRESETS)
@pytest.mark.parametrize("name", sorted(CASES))
def test_fused_module_runs_on_the_device(name, machine, tmp_path):
    module, store = CASES[name]()
    weights = str(tmp_path / "w.npz")
    store.save(weights)
    inputs = random_inputs(signature(find_entry(module)), 5)
    expected = run(module.clone(), inputs, store)["y"]
    program = lower(fuse(module), machine, weights)
    assert not program.host_ops
    got = load(program).run(inputs, check_races=True).outputs["y"]
    scale = max(float(np.abs(expected).max()), 1.0)
    np.testing.assert_allclose(got, expected, rtol=0, atol=2e-2 * scale)
    ops = mnemonics(program)
    relu = name.endswith("relu")
    assert ("sfu.relu" in ops) == relu and ("sfu.clip" in ops) == (not relu)


def _kernels(module):
    return [op for op in module.walk() if isinstance(op, rapid_tile.KernelOp)]


@pytest.mark.parametrize("machine", PRESETS)
def test_fusion_saves_kernels(machine, tmp_path):
    """conv + bias add + ReLU6: three kernels (conv, an SFU add, an SFU clip) unfused, one
    fused, and fewer instructions; the clamp is the conv kernel's epilogue `sfu.clip`."""
    module, store = CASES["conv_bias_relu6"]()
    weights = str(tmp_path / "w.npz")
    store.save(weights)
    unfused = lower(module.clone(), machine, weights, until="convert-nn-to-tile")
    fused = lower(fuse(module.clone()), machine, weights, until="convert-nn-to-tile")
    assert [k.layer.data for k in _kernels(unfused)] == ["conv", "conv.bias_add", "act"]
    assert [k.layer.data for k in _kernels(fused)] == ["conv"]
    before = mnemonics(lower(module.clone(), machine, weights))
    after = mnemonics(lower(fuse(module), machine, weights))
    assert len(after) < len(before)
    assert after.count("sfu.clip") >= 1 and "sfu.add" in after  # the bias, then the clamp


@pytest.mark.parametrize("machine", PRESETS)
def test_compile_module_fuses(machine, tmp_path):
    """The compile pipeline runs the pass: the add and the clip leave no layer of their own."""
    from rapid_mlir.pipeline import compile_module

    module, store = CASES["conv_bias_relu6"]()
    weights = str(tmp_path / "w.npz")
    store.save(weights)
    inputs = random_inputs(signature(find_entry(module)), 5)
    expected = run(module.clone(), inputs, store)["y"]
    program = compile_module(module, machine, weights=weights)
    origins = {i.origin for stream in program.streams.values() for i in stream}
    assert "conv" in origins and not origins & {"conv.bias_add", "act"}
    assert "sfu.clip" in mnemonics(program)
    got = load(program).run(inputs, check_races=True).outputs["y"]
    np.testing.assert_allclose(got, expected, rtol=0, atol=2e-2 * max(float(np.abs(expected).max()), 1.0))


@pytest.mark.parametrize("machine", PRESETS)
def test_tile_level_clip_fusion(machine, tmp_path):
    """Without the graph pass, convert-nn-to-tile fuses a clip that only consumes a conv
    into its kernel, and convert-tile-to-mem intersects it with the conv's own clamp."""
    module, store = conv_graph((0.0, 6.0), bias_add=None, conv_bias=True, weight_scale=2.0)
    (conv,) = [op for op in nn_ops(module) if isinstance(op, nn.Conv2DOp)]
    conv.properties["act_max"] = FloatAttr(4.0, f32)  # clip(clamp(y, -inf, 4), 0, 6) = clamp(y, 0, 4)
    weights = str(tmp_path / "w.npz")
    store.save(weights)
    inputs = random_inputs(signature(find_entry(module)), 5)
    expected = run(module.clone(), inputs, store)["y"]
    assert expected.max() == 4.0
    tiled = lower(module.clone(), machine, weights, until="convert-nn-to-tile")
    assert len(_kernels(tiled)) == 1
    program = lower(module, machine, weights)
    got = load(program).run(inputs, check_races=True).outputs["y"]
    np.testing.assert_allclose(got, expected, rtol=0, atol=2e-2 * max(float(np.abs(expected).max()), 1.0))
    assert "sfu.clip" in mnemonics(program)


RING = {  # a reduction dim split over cores: the epilogue runs after the ring reduction
    "gemm": {"rows": ["m"], "cols": ["n"], "simd": ["k"], "order": ["b", "m", "n", "k"], "double_buffer": True,
              "cores": {"k": 2}, "corelets": {}, "lx": {"b": 1, "m": 5, "n": 6, "k": 32},
              "l0": {"m": 3, "n": 4, "k": 12}},
    "conv": {"rows": ["oh", "ow"], "cols": ["oc"], "simd": ["ic"], "double_buffer": True,
              "order": ["n", "g", "oc", "oh", "ow", "ic", "kh", "kw"], "cores": {"ic": 2}, "corelets": {},
              "lx": {"n": 1, "g": 1, "kh": 3, "kw": 3, "oc": 8, "oh": 4, "ow": 8, "ic": 3},
              "l0": {"oh": 1, "ow": 8, "oc": 4, "ic": 3}},
}


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("kind", sorted(RING))
def test_clamp_after_a_ring_reduction(kind, bias, tmp_path):
    """cores(k=2) / cores(ic=2) on rapid-4c: the owners' epilogue clamps (sfu.clip)."""
    g = GraphBuilder()
    if kind == "gemm":
        x = g.input("x", [13, 100])
        c = g.input("c", [17]) if bias else None
        y = nn.GemmOp(x, g.input("w", [17, 100]), c, trans_b=True, act_min=-0.5, act_max=2.0)
    else:
        x = g.input("x", [1, 6, 8, 8])
        c = g.input("c", [8]) if bias else None
        y = nn.Conv2DOp(x, g.input("w", [8, 6, 3, 3]), c, pads=(1, 1, 1, 1), act_min=-0.5, act_max=2.0)
    g.output("y", g.add(y, "layer"))
    module, _ = g.finish()
    path = tmp_path / "layers.json"
    path.write_text(json.dumps({"layer": RING[kind]}))
    inputs = random_inputs(signature(find_entry(module)), 3)
    expected = run(module.clone(), inputs)["y"]
    assert expected.min() == -0.5 and expected.max() == 2.0
    program = lower(module, "rapid-4c", mapping_file=str(path))
    assert any(ins.mnemonic == "dma.copy" and ins.operands["dst"].core not in (None, core)
               for (core, _), stream in program.streams.items() for ins in stream)  # the ring
    got = load(program).run(inputs, check_races=True).outputs["y"]
    np.testing.assert_allclose(got, expected, rtol=0, atol=2e-2 * 2.0)
    assert "sfu.clip" in mnemonics(program)
