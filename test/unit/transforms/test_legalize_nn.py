"""legalize-nn: every gemm / matmul variant as the 2-D products the matrix engine runs.

Numerics at the nn level: for every variant (trans_a, alpha on each of its three places,
beta including 0, every bias shape, C as a weight, 1-D operands, N-D x 2-D, batched and
broadcast batch dims, f16) the reference interpreter on the legalized module matches it
on the original (whose gemm and matmul are checked against onnxruntime elsewhere). The
maths is the same float32 in another order (alpha applied to an operand or the product,
beta to C before the add), so rtol = atol = 1e-5.

End to end: a selection of the variants compiled for every preset and run on the emulator
(race checks on) against the interpreter on the original module, every op on the device.
The device stores every tensor in fp16 (a relative rounding of 2^-11: inputs, weights,
each product, each scaled operand or bias, the result) and accumulates in fp32; with
operands uniform in [-1, 1) and K <= 8 the results are of magnitude up to about 3, and
a chain of at most four roundings stays within 2e-3 of the output's scale (measured:
at most 7.1e-4 over every case here on every preset), while a wrong pairing of batch
slices, transpose or broadcast is off by about the scale itself.
"""

import numpy as np
import pytest
from xdsl.dialects.builtin import StringAttr, UnitAttr
from xdsl.utils.exceptions import PassFailedException

from rapid_mlir.dialects import make_context, nn
from rapid_mlir.frontend.builder import GraphBuilder
from rapid_mlir.ir_io import parse_module
from rapid_mlir.pipeline import compile_module
from rapid_mlir.reference.interpreter import run
from rapid_mlir.reference.signature import find_entry, random_inputs, signature
from rapid_mlir.runtime import load
from rapid_mlir.transforms import all_passes
from rapid_mlir.transforms.convert_nn_to_tile import _device_matrix_product
from rapid_mlir.transforms.legalize_nn import LegalizeNnPass

PRESETS = ["rapid-1c", "rapid-4c", "rapid-32c"]
DEVICE_OPS = (nn.GemmOp, nn.MatmulOp, nn.TransposeOp, nn.ReshapeOp, nn.SplitOp, nn.ConcatOp, nn.MulOp,
              nn.AddOp, nn.ConstantOp, nn.WeightOp)


def gemm_graph(a, b, c=None, *, weights=False, name="fc", **attrs):
    """One nn.gemm named `name` of inputs (or, with `weights`, B and C as weights)."""
    g = GraphBuilder(inline_limit=0 if weights else 16)
    rng = np.random.default_rng(4)

    def operand(key, shape):
        if weights and key != "a":
            return g.constant(key, rng.uniform(-1, 1, shape))
        return g.input(key, shape)

    bias = None if c is None else operand("c", c)
    g.output("y", g.add(nn.GemmOp(operand("a", a), operand("b", b), bias, **attrs), name))
    return g.finish("w.npz")


def matmul_graph(a, b, *, weights=False, name="mm"):
    g = GraphBuilder(inline_limit=0)
    rhs = g.constant("b", np.random.default_rng(4).uniform(-1, 1, b)) if weights else g.input("b", b)
    g.output("y", g.add(nn.MatmulOp(g.input("a", a), rhs), name))
    return g.finish("w.npz")


GEMMS = {
    "trans_a": lambda: gemm_graph([6, 3], [6, 4], [4], trans_a=True),
    "trans_a_b": lambda: gemm_graph([6, 3], [4, 6], trans_a=True, trans_b=True),
    "alpha_lhs": lambda: gemm_graph([2, 6], [6, 8], [8], alpha=0.5),
    "alpha_rhs": lambda: gemm_graph([9, 6], [4, 6], [1, 4], trans_b=True, alpha=-1.25),
    "alpha_product": lambda: gemm_graph([3, 8], [8, 2], [3, 1], alpha=3.0),
    "alpha_product_col_bias": lambda: gemm_graph([2, 8], [8, 2], [2], alpha=3.0),
    "beta_col": lambda: gemm_graph([3, 5], [5, 4], [4], beta=0.25),
    "beta_zero": lambda: gemm_graph([3, 5], [5, 4], [3, 4], beta=0.0),
    "alpha_beta_trans": lambda: gemm_graph([8, 5], [4, 8], [5, 4], trans_a=True, trans_b=True, alpha=0.5,
                                           beta=2.0),
    "bias_full": lambda: gemm_graph([3, 5], [5, 4], [3, 4]),
    "bias_rows": lambda: gemm_graph([3, 5], [5, 4], [3, 1]),
    "bias_1x1": lambda: gemm_graph([3, 5], [5, 4], [1, 1]),
    "bias_1": lambda: gemm_graph([3, 5], [5, 4], [1]),
    "bias_scalar": lambda: gemm_graph([3, 5], [5, 4], []),
    "weights": lambda: gemm_graph([7, 5], [4, 7], [5, 4], weights=True, trans_a=True, trans_b=True, alpha=0.75,
                                  beta=-0.5),
}
MATMULS = {
    "vec_vec": lambda: matmul_graph([6], [6]),
    "vec_mat": lambda: matmul_graph([6], [6, 4]),
    "mat_vec": lambda: matmul_graph([3, 6], [6]),
    "vec_batched": lambda: matmul_graph([6], [2, 6, 4]),
    "batched_vec": lambda: matmul_graph([2, 3, 6], [6]),
    "projection": lambda: matmul_graph([2, 3, 8], [8, 5], weights=True),
    "projection_4d": lambda: matmul_graph([2, 2, 3, 8], [1, 8, 5]),
    "attention": lambda: matmul_graph([2, 2, 5, 4], [2, 2, 4, 5]),
    "broadcast_both": lambda: matmul_graph([2, 1, 5, 6], [3, 6, 4]),
    "broadcast_fold": lambda: matmul_graph([2, 3, 5, 6], [2, 1, 6, 4]),
    "shared_lhs": lambda: matmul_graph([5, 6], [3, 6, 4]),
    "rank_mismatch": lambda: matmul_graph([4, 1, 3, 2], [5, 2, 3]),
    "ones": lambda: matmul_graph([1, 5, 6], [1, 1, 6, 4]),
}
CASES = GEMMS | MATMULS


def legalize(module, **options):
    LegalizeNnPass(**options).apply(make_context(), module)
    module.verify()
    return module


def nn_ops(module):
    return [op for op in module.walk() if op.name.startswith("nn.")]


def assert_same_as_original(module, store, seed=3):
    inputs = random_inputs(signature(find_entry(module)), seed)
    expected = run(module.clone(), inputs, store)
    got = run(legalize(module), inputs, store)
    assert got.keys() == expected.keys()
    for key, want in expected.items():
        assert got[key].shape == want.shape and got[key].dtype == want.dtype
        np.testing.assert_allclose(got[key], want, rtol=1e-5, atol=1e-5, err_msg=key)


def assert_all_device_products(module):
    products = [op for op in nn_ops(module) if isinstance(op, nn.GemmOp | nn.MatmulOp)]
    assert products and all(_device_matrix_product(op) for op in products)
    assert all(isinstance(op, DEVICE_OPS) for op in nn_ops(module)), [op.name for op in nn_ops(module)]


# Numerics at the nn level ------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(CASES))
def test_matches_the_original(name):
    module, store = CASES[name]()
    assert_same_as_original(module, store)
    assert_all_device_products(module)


def test_f16_gemm():
    module, _ = gemm_graph([6, 3], [4, 6], [3, 1], trans_a=True, trans_b=True, alpha=0.5, beta=2.0)
    module = parse_module(str(module).replace("f32>", "f16>"))
    inputs = {k: v.astype(np.float16) for k, v in random_inputs(signature(find_entry(module)), 1).items()}
    expected = run(module.clone(), inputs)
    got = run(legalize(module), inputs)
    assert_all_device_products(module)
    # The original rounds to f16 once; the rewrite rounds the product, its scaling and the
    # scaled bias too (each 2^-11 relative, on values up to about 5).
    assert got["y"].dtype == np.float16
    np.testing.assert_allclose(got["y"], expected["y"], rtol=0, atol=1e-2)


# Structure ---------------------------------------------------------------------------------


def names_of(module):
    return [op.attributes["nn.name"].data for op in nn_ops(module) if "nn.name" in op.attributes]


def test_per_batch_products_are_named_after_the_layer():
    module, _ = matmul_graph([2, 3, 5, 4], [2, 3, 4, 5], name="attn.scores")
    legalize(module)
    names = names_of(module)
    assert len(names) == len(set(names)) and all(n.startswith("attn.scores.") for n in names)
    assert [n for n in names if ".b" in n and "split" not in n] == [f"attn.scores.b{i}" for i in range(6)]


def test_alpha_goes_to_the_smallest_operand():
    def scaled(*shapes, **attrs):
        module, _ = gemm_graph(*shapes, alpha=2.0, **attrs)
        return [n for n in names_of(legalize(module)) if "scaled" in n]

    assert scaled([2, 16], [16, 32]) == ["fc.lhs_scaled"]
    assert scaled([32, 16], [16, 2]) == ["fc.rhs_scaled"]
    assert scaled([3, 64], [64, 2]) == ["fc.scaled"]
    # Scaling the product would unfuse a per-column bias: counted twice.
    assert scaled([4, 6], [6, 4], [4]) == ["fc.lhs_scaled"]


def test_product_limit_and_host_attribute_leave_the_op():
    module, _ = matmul_graph([3, 2, 5, 4], [3, 2, 4, 5])  # 6 products
    legalize(module, max_products=5)
    (op,) = nn_ops(module)
    assert isinstance(op, nn.MatmulOp) and op.attributes["nn.name"] == StringAttr("mm")
    module, _ = gemm_graph([6, 3], [6, 4], trans_a=True)
    (op,) = nn_ops(module)
    op.attributes["nn.host"] = UnitAttr()
    legalize(module)
    assert nn_ops(module) == [op]


def test_unnamed_products_keep_their_generated_names():
    g = GraphBuilder()
    a = g.input("a", [2, 3, 4])
    y = g.add(nn.MatmulOp(a, g.input("b", [4, 5])))  # matmul_0: legalized
    z = g.add(nn.MatmulOp(g.input("c", [3, 4]), g.input("d", [4, 5])))  # matmul_1: legal already
    g.output("y", y)
    g.output("z", z)
    module, _ = g.finish()
    legalize(module)
    products = [op for op in nn_ops(module) if isinstance(op, nn.MatmulOp)]
    assert [op.attributes["nn.name"].data for op in products] == ["matmul_0", "matmul_1"]


def test_a_function_without_variants_is_untouched():
    module, _ = gemm_graph([3, 6], [4, 6], [4], trans_b=True)
    (op,) = nn_ops(module)
    del op.attributes["nn.name"]
    text = str(module)
    assert str(legalize(module)) == text


def test_registered_under_its_name():
    assert all_passes()["legalize-nn"]() is LegalizeNnPass
    assert LegalizeNnPass().max_products == 64
    with pytest.raises(PassFailedException, match="max-products must be >= 1 but is 0"):
        legalize(matmul_graph([6], [6])[0], max_products=0)


# End to end on the emulator -----------------------------------------------------------------


E2E = ["alpha_beta_trans", "weights", "bias_rows", "vec_vec", "vec_batched", "projection", "attention",
       "broadcast_both", "broadcast_fold"]


@pytest.mark.parametrize("machine", PRESETS)
@pytest.mark.parametrize("name", E2E)
def test_runs_on_the_device(name, machine, tmp_path):
    module, store = CASES[name]()
    weights = None
    if len(store):
        weights = str(tmp_path / "w.npz")
        store.save(weights)
    inputs = random_inputs(signature(find_entry(module)), 5)
    expected = run(module.clone(), inputs, store)
    program = compile_module(module, machine, weights=weights)
    assert not program.host_ops, [h.layer for h in program.host_ops]
    result = load(program).run(inputs, check_races=True)
    for key, want in expected.items():
        scale = max(float(np.abs(want).max()), 1.0)
        np.testing.assert_allclose(result.outputs[key], want, rtol=0, atol=2e-3 * scale, err_msg=key)


def test_over_the_limit_runs_on_the_host(tmp_path):
    module, _ = matmul_graph([65, 2, 3], [65, 3, 2])
    inputs = random_inputs(signature(find_entry(module)), 5)
    expected = run(module.clone(), inputs)
    program = compile_module(module, "rapid-1c")
    assert [h.layer for h in program.host_ops] == ["mm"]
    result = load(program).run(inputs, check_races=True)
    np.testing.assert_allclose(result.outputs["y"], expected["y"], rtol=0, atol=2e-3 * 3)


RESULTS_SHARING_DATA = """
func.func @main(%x: tensor<2x3x4xf32>, %y: tensor<4x5xf32>) -> (tensor<6x4xf32>, tensor<2x3x4xf32>, tensor<2x3x5xf32>, tensor<6x5xf32>, tensor<2x3x5xf32>, tensor<f32>) {
  %r = nn.reshape %x : (tensor<2x3x4xf32>) -> tensor<6x4xf32>
  %m = nn.matmul %r, %y : (tensor<6x4xf32>, tensor<4x5xf32>) -> tensor<6x5xf32>
  %v = nn.reshape %m : (tensor<6x5xf32>) -> tensor<2x3x5xf32>
  %s = nn.reduce sum %x axes [0, 1, 2] : (tensor<2x3x4xf32>) -> tensor<f32>
  func.return %r, %x, %v, %m, %v, %s : tensor<6x4xf32>, tensor<2x3x4xf32>, tensor<2x3x5xf32>, tensor<6x5xf32>, tensor<2x3x5xf32>, tensor<f32>
}
"""


@pytest.mark.parametrize("machine", ["rapid-1c", "rapid-4c"])
def test_results_that_share_data_get_their_own_buffers(machine):
    """A result that is (a view of) an argument, or shares its data with an earlier
    result, becomes a copy: the program then has one output buffer per result."""
    module = parse_module(RESULTS_SHARING_DATA)
    inputs = random_inputs(signature(find_entry(module)), 3)
    expected = run(parse_module(RESULTS_SHARING_DATA), inputs)
    program = compile_module(module, machine)
    assert not program.host_ops
    got = load(program).run(inputs, check_races=True).outputs
    assert got.keys() == expected.keys()
    for key, want in expected.items():
        # Copies are exact on f16-representable data; the matmul and the sum round once.
        np.testing.assert_allclose(got[key], want, rtol=2e-3, atol=2e-3 * (1 + float(np.abs(want).max())),
                                   err_msg=key)
