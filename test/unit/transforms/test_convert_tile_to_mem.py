"""nn matrix products compiled through every stage run on the emulator and match the
reference interpreter, on every machine preset and under pinned mappings that make the
loops run several iterations.

Tolerance: the device stores the inputs in f16 (IEEE binary16) and accumulates in fp32,
the reference computes in fp32 throughout. Rounding each input to f16 perturbs it by up
to 2^-11 relative, so a K-term dot product of N(0, 1) values differs by about
sqrt(K) * 2^-11; atol 0.05 and rtol 1e-2 cover K <= 256 with margin, while a wrong tile,
offset or missing accumulation is off by O(1).
"""

import json

import numpy as np
import pytest
from xdsl.utils.exceptions import PassFailedException

from rapid_mlir.ir_io import parse_module
from rapid_mlir.pipeline import compile_module
from rapid_mlir.reference.interpreter import run
from rapid_mlir.reference.signature import find_entry, random_inputs, signature
from rapid_mlir.runtime import load


def module_text(m: int, k: int, n: int, op: str = "matmul") -> str:
    body = (f"nn.matmul %a, %b {{nn.name = \"mm\"}} : (tensor<{m}x{k}xf32>, tensor<{k}x{n}xf32>) -> tensor<{m}x{n}xf32>"
            if op == "matmul" else
            f"nn.gemm %a, %b alpha 1.000000e+00 beta 1.000000e+00 {{nn.name = \"mm\"}} : (tensor<{m}x{k}xf32>, tensor<{k}x{n}xf32>) -> tensor<{m}x{n}xf32>")
    return f"""
func.func @main(%a: tensor<{m}x{k}xf32> {{nn.name = "A"}}, %b: tensor<{k}x{n}xf32> {{nn.name = "B"}}) -> (tensor<{m}x{n}xf32> {{nn.name = "C"}}) {{
  %y = {body}
  func.return %y : tensor<{m}x{n}xf32>
}}"""


def check(text: str, machine: str, mapping_file=None, seed: int = 0):
    reference_module = parse_module(text)
    inputs = random_inputs(signature(find_entry(reference_module)), seed)
    expected = run(reference_module, inputs)["C"]
    program = compile_module(parse_module(text), machine, mapping_file)
    result = load(program).run(inputs, check_races=True)     # races and deadlocks are errors
    np.testing.assert_allclose(result.outputs["C"], expected, rtol=1e-2, atol=5e-2)
    return program, result


@pytest.mark.parametrize("machine", ["rapid-1c", "rapid-4c", "rapid-32c"])
@pytest.mark.parametrize("op", ["matmul", "gemm"])
def test_fixed_mapping_on_every_preset(machine, op):
    check(module_text(64, 128, 256, op), machine)


@pytest.mark.parametrize("machine, mapping", [
    ("rapid-1c", {"cores": {}, "corelets": {"m": 2}, "lx": {"b": 1, "m": 16, "n": 32, "k": 96},
                  "l0": {"m": 8, "n": 16, "k": 32}}),
    ("rapid-4c", {"cores": {"n": 4}, "corelets": {"n": 2}, "lx": {"b": 1, "m": 32, "n": 8, "k": 96},
                  "l0": {"m": 16, "n": 8, "k": 48}}),
    ("rapid-4c", {"cores": {"m": 4}, "corelets": {"m": 2}, "lx": {"b": 1, "m": 4, "n": 32, "k": 96},
                  "l0": {"m": 2, "n": 16, "k": 96}}),
])
def test_pinned_mappings_with_several_iterations(tmp_path, machine, mapping):
    base = {"rows": ["m"], "cols": ["n"], "simd": ["k"], "order": ["b", "m", "n", "k"], "double_buffer": False}
    path = tmp_path / "layers.json"
    path.write_text(json.dumps({"mm": base | mapping}))
    program, result = check(module_text(64, 96, 64), machine, str(path), seed=3)
    loops = [i for instrs in program.streams.values() for i in instrs if i.mnemonic == "loop"]
    assert any(i.operands["count"] > 1 for i in loops)        # the loops really iterate


def test_what_is_not_lowered_yet_is_reported():
    other = module_text(8, 16, 8).replace(
        "func.return %y", '%r = "test.op"(%y) : (tensor<8x8xf32>) -> tensor<8x8xf32>\n  func.return %r')
    with pytest.raises(PassFailedException, match="test.op is neither a device kernel nor an nn op the host"):
        compile_module(parse_module(other), "rapid-1c")
    gemm = module_text(8, 16, 8, "gemm").replace("alpha 1.000000e+00", "alpha 2.000000e+00")
    # A gemm variant the matrix lowering does not cover (scaling) is rewritten by
    # legalize-nn into ops it does: it runs on the device.
    program, _ = check(gemm, "rapid-1c")
    assert not program.host_ops
    # Ragged shapes lower (uneven core and corelet shares): test_mpe_lowering.py.
    check(module_text(7, 16, 10), "rapid-4c")


@pytest.mark.parametrize("lm, ln", [(16, 16), (16, 32), (32, 16)])   # even and odd step counts
def test_double_buffering_matches_and_overlaps(tmp_path, lm, ln):
    # 96 x 96 on one corelet: m and n take 96 / lm and 96 / ln LX steps (6 or 3: pairs and a peeled step).
    base = {"cores": {}, "corelets": {}, "rows": ["m"], "cols": ["n"], "simd": ["k"], "order": ["b", "m", "n", "k"],
            "lx": {"b": 1, "m": lm, "n": ln, "k": 64}, "l0": {"m": lm, "n": ln, "k": 64}}
    cycles = {}
    for db in (False, True):
        path = tmp_path / f"db{db}.json"
        path.write_text(json.dumps({"mm": base | {"double_buffer": db}}))
        program, result = check(module_text(96, 64, 96), "rapid-1c", str(path), seed=5)
        cycles[db] = result.cycles
    assert cycles[True] < cycles[False]      # loads overlap the MPE


@pytest.mark.parametrize("machine", ["rapid-1c", "rapid-4c", "rapid-32c"])
def test_fused_relu_epilogue(machine):
    text = module_text(64, 96, 128).replace(
        "func.return %y", "%r = nn.relu %y : tensor<64x128xf32>\n  func.return %r")
    program, result = check(text, machine, seed=7)
    mnemonics = {i.mnemonic for instrs in program.streams.values() for i in instrs}
    assert "sfu.relu" in mnemonics and "sfu.copy" not in mnemonics
    assert (result.outputs["C"] >= 0).all()


def test_weights_and_constants_become_data_segments(tmp_path):
    from rapid_mlir.backend.isa_ir import module_to_program, program_to_module
    from rapid_mlir.backend.rbin import read_rbin, write_rbin
    from rapid_mlir.weights import WeightStore

    rng = np.random.default_rng(11)
    w = rng.standard_normal((96, 64)).astype(np.float32)
    WeightStore({"fc.w": w}).save(tmp_path / "w.npz")
    text = """
builtin.module attributes {nn.weights = "w.npz"} {
  func.func @main(%x: tensor<32x96xf32> {nn.name = "x"}) -> (tensor<32x64xf32> {nn.name = "C"}) {
    %w = nn.weight "fc.w" : tensor<96x64xf32>
    %y = nn.matmul %x, %w {nn.name = "fc"} : (tensor<32x96xf32>, tensor<96x64xf32>) -> tensor<32x64xf32>
    %r = nn.relu %y : tensor<32x64xf32>
    func.return %r : tensor<32x64xf32>
  }
}"""
    x = rng.standard_normal((32, 96)).astype(np.float32)
    expected = np.maximum(x @ w, 0)
    module = parse_module(text)
    program = compile_module(module, "rapid-4c", weights=str(tmp_path / "w.npz"))
    assert [s.name for s in program.data] == ["fc.w"]
    # The IR refers to the weight file; the binary holds the bytes.
    assert module_to_program(program_to_module(program)).data[0].data == program.data[0].data
    result = load(read_rbin(write_rbin(program))).run({"x": x}, check_races=True)
    np.testing.assert_allclose(result.outputs["C"], expected, rtol=1e-2, atol=5e-2)
    with pytest.raises(PassFailedException, match="give the pass its weights option"):
        compile_module(parse_module(text), "rapid-4c")



CONVS = {   # shapes the fixed mapping tiles evenly: every core/corelet split and tile divides
    "3x3_pad1": dict(n=1, c=8, h=10, w=10, o=16, k=3, s=1, p=(1, 1, 1, 1), d=1, g=1),
    "5x5_stride2_asymmetric_pads": dict(n=1, c=3, h=16, w=16, o=8, k=5, s=2, p=(2, 1, 2, 1), d=1, g=1),
    "1x1_two_groups": dict(n=1, c=16, h=8, w=8, o=32, k=1, s=1, p=(0, 0, 0, 0), d=1, g=2),
    "3x3_batch2_dilation2": dict(n=2, c=8, h=16, w=16, o=16, k=3, s=1, p=(2, 2, 2, 2), d=2, g=1),
}


def conv_text(cs, relu=False) -> str:
    from rapid_mlir.dialects import nn
    from rapid_mlir.frontend.builder import GraphBuilder
    from rapid_mlir.ir_io import module_text

    g = GraphBuilder()
    x = g.input("x", [cs["n"], cs["c"], cs["h"], cs["w"]])
    w = g.input("w", [cs["o"], cs["c"] // cs["g"], cs["k"], cs["k"]])
    y = g.add(nn.Conv2DOp(x, w, strides=(cs["s"],) * 2, pads=cs["p"], dilations=(cs["d"],) * 2,
                          groups=cs["g"]), "conv")
    g.output("y", g.add(nn.ReluOp(y)) if relu else y)
    return module_text(g.finish()[0])


@pytest.mark.parametrize("machine", ["rapid-1c", "rapid-4c", "rapid-32c"])
@pytest.mark.parametrize("case", sorted(CONVS))
def test_convolutions_as_shifted_gemms(machine, case):
    text = conv_text(CONVS[case], relu=case.startswith("3x3"))
    reference = parse_module(text)
    inputs = random_inputs(signature(find_entry(reference)), 1)
    expected = run(reference, inputs)["y"]
    program = compile_module(parse_module(text), machine)
    result = load(program).run(inputs, check_races=True)
    np.testing.assert_allclose(result.outputs["y"], expected, rtol=1e-2, atol=5e-2)
    assert any(i.mnemonic.startswith("mpe.") for instrs in program.streams.values() for i in instrs)


@pytest.mark.parametrize("machine", ["rapid-1c", "rapid-4c", "rapid-32c"])
def test_chains_of_kernels_share_dram_scratch(machine, tmp_path):
    """conv -> relu -> conv with weights, and two matrix products: several kernels in one
    program, joined in between, the intermediate tensors in DRAM scratch buffers."""
    from rapid_mlir.dialects import nn
    from rapid_mlir.frontend.builder import GraphBuilder
    from rapid_mlir.ir_io import module_text
    from rapid_mlir.weights import WeightStore

    rng = np.random.default_rng(3)
    g = GraphBuilder()
    x = g.input("x", [1, 8, 8, 8])
    w1 = g.constant("w1", rng.normal(0, 0.3, (16, 8, 3, 3)))
    w2 = g.constant("w2", rng.normal(0, 0.3, (8, 16, 3, 3)))
    y = g.add(nn.ReluOp(g.add(nn.Conv2DOp(x, w1, pads=(1, 1, 1, 1)), "conv1")))
    g.output("y", g.add(nn.Conv2DOp(y, w2, pads=(1, 1, 1, 1)), "conv2"))
    a = g.input("a", [16, 32])
    m1 = g.add(nn.MatmulOp(a, g.constant("m1", rng.normal(0, 0.3, (32, 32)))), "mm1")
    g.output("z", g.add(nn.MatmulOp(m1, g.constant("m2", rng.normal(0, 0.3, (32, 16)))), "mm2"))
    module, store = g.finish("w.npz")
    store.save(tmp_path / "w.npz")
    text = module_text(module)
    reference = parse_module(text)
    inputs = random_inputs(signature(find_entry(reference)), 2)
    expected = run(reference, inputs, WeightStore.load(tmp_path / "w.npz"))
    program = compile_module(parse_module(text), machine, weights=str(tmp_path / "w.npz"))
    assert {i.origin for instrs in program.streams.values() for i in instrs} >= {"conv1", "conv2", "mm1", "mm2"}
    result = load(program).run(inputs, check_races=True)
    for name in ("y", "z"):
        scale = float(np.abs(expected[name]).max()) + 1.0
        np.testing.assert_allclose(result.outputs[name], expected[name], rtol=0, atol=0.02 * scale)



@pytest.mark.parametrize("machine", ["rapid-1c", "rapid-4c", "rapid-32c"])
@pytest.mark.parametrize("relu", [False, True])
def test_bias_epilogues(machine, relu):
    """conv2d and gemm (also with trans_b, a dense layer's [n][k] weight) with a bias (added
    by the SFU, broadcast over the tile), with and without the fused relu."""
    from rapid_mlir.dialects import nn
    from rapid_mlir.frontend.builder import GraphBuilder
    from rapid_mlir.ir_io import module_text

    g = GraphBuilder()
    x = g.input("x", [1, 8, 8, 8])
    y = g.add(nn.Conv2DOp(x, g.input("w", [16, 8, 3, 3]), g.input("b", [16]), pads=(1, 1, 1, 1)), "conv")
    g.output("y", g.add(nn.ReluOp(y)) if relu else y)
    a = g.input("a", [16, 32])
    z = g.add(nn.GemmOp(a, g.input("m", [32, 64]), g.input("c", [64])), "fc")
    g.output("t", g.add(nn.GemmOp(a, g.input("wt", [48, 32]), g.input("ct", [48]), trans_b=True), "dense"))
    g.output("z", g.add(nn.ReluOp(z)) if relu else z)
    text = module_text(g.finish()[0])
    reference = parse_module(text)
    inputs = random_inputs(signature(find_entry(reference)), 4)
    expected = run(reference, inputs)
    result = load(compile_module(parse_module(text), machine)).run(inputs, check_races=True)
    for name in ("y", "z", "t"):
        scale = float(np.abs(expected[name]).max()) + 1.0
        np.testing.assert_allclose(result.outputs[name], expected[name], rtol=0, atol=0.02 * scale)
