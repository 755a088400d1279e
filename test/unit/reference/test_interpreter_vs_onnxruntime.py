"""The reference interpreter on whole nn modules vs onnxruntime on the exported ONNX model.

The kernel sweep (test_kernels_vs_onnxruntime.py) checks the NumPy kernels; this file
checks the layer above: that each op's IR attributes reach the kernels correctly
(pads order, transpose flags, optional operands, enums) and that whole graphs with
external weights run. Tolerance: both sides compute in float32 but in different orders
(im2col vs direct convolution, different exp/erf implementations), so rtol=atol=1e-4;
errors from a wrong attribute are orders of magnitude larger.
"""

import numpy as np
import pytest
from xdsl.dialects.builtin import f16, i64

from rapid_mlir.dialects import nn
from rapid_mlir.frontend.builder import GraphBuilder
from rapid_mlir.ir_io import module_text, parse_module, read_module
from rapid_mlir.reference.interpreter import run
from rapid_mlir.reference.onnx_export import run_onnxruntime, to_onnx
from rapid_mlir.reference.signature import find_entry, random_inputs, signature
from rapid_mlir.weights import store_for

RTOL = ATOL = 1e-4


def w(g, name, shape, seed=0):
    return g.constant(name, np.random.default_rng(seed).normal(0, 0.5, shape).astype(np.float32))


def binary_chain(g, x):
    """All six binary ops, each broadcasting differently (rank and size-1 axes)."""
    y = g.add(nn.MinOp(x, w(g, "a", (1, 4, 7, 1))))
    y = g.add(nn.SubOp(y, w(g, "b", (9,))))
    y = g.add(nn.MaxOp(y, w(g, "c", (7, 9))))
    d = g.add(nn.MulOp(w(g, "d", (4, 1, 1), 1), w(g, "d2", (4, 1, 1), 2)))
    d = g.add(nn.AddOp(d, g.constant("two", np.full((1,), 2.0, np.float32))))
    return g.add(nn.DivOp(y, d))


def unary_chain(g, x):
    for cls in (nn.ReluOp, nn.SigmoidOp, nn.TanhOp, nn.ErfOp, nn.ExpOp, nn.SqrtOp):
        x = g.add(cls(x))
    return x


# Each case builds one or two ops with non-default attributes on graph inputs.
CASES = {
    "conv_groups_stride_dilation": lambda g, x: g.add(nn.Conv2DOp(
        x, w(g, "w", (6, 2, 3, 3)), w(g, "b", (6,)), strides=(2, 1), pads=(1, 0, 2, 1), dilations=(1, 2), groups=2)),
    "conv_depthwise": lambda g, x: g.add(nn.Conv2DOp(x, w(g, "w", (4, 1, 3, 3)), pads=(1, 1, 1, 1), groups=4)),
    "gemm_trans_alpha_beta": lambda g, x: g.add(nn.GemmOp(
        g.add(nn.FlattenOp(x, axis=2)), w(g, "b", (5, 8)), w(g, "c", (1, 5)),
        trans_a=True, trans_b=True, alpha=0.5, beta=2.0)),
    "matmul_batched": lambda g, x: g.add(nn.MatmulOp(x, w(g, "m", (9, 2)))),
    "binary_broadcast": lambda g, x: binary_chain(g, x),
    "unary_chain": lambda g, x: unary_chain(g, x),
    "gelu_exact": lambda g, x: g.add(nn.GeluOp(x, "none")),
    "gelu_tanh": lambda g, x: g.add(nn.GeluOp(x, "tanh")),
    "clip_max_only": lambda g, x: g.add(nn.ClipOp(x, max=0.25)),
    "clip_both": lambda g, x: g.add(nn.ClipOp(x, min=-0.5, max=0.25)),
    "softmax_axis1": lambda g, x: g.add(nn.SoftmaxOp(x, axis=1)),
    "max_pool_ceil_pads": lambda g, x: g.add(nn.MaxPool2DOp(
        x, kernel=(3, 2), strides=(2, 2), pads=(1, 0, 1, 1), dilations=(1, 2), ceil_mode=True)),
    "avg_pool_count_pad": lambda g, x: g.add(nn.AvgPool2DOp(
        x, kernel=(3, 3), strides=(2, 2), pads=(1, 1, 1, 1), ceil_mode=True, count_include_pad=True)),
    "avg_pool_exclude_pad": lambda g, x: g.add(nn.AvgPool2DOp(x, kernel=(2, 3), strides=(1, 2), pads=(1, 1, 0, 2))),
    "global_avg_pool": lambda g, x: g.add(nn.GlobalAvgPoolOp(x)),
    "batch_norm": lambda g, x: g.add(nn.BatchNormOp(
        x, w(g, "s", (4,)), w(g, "b", (4,), 1), w(g, "m", (4,), 2),
        g.constant("v", np.array([0.5, 1.0, 1.5, 2.0], np.float32)), epsilon=1e-3)),
    "layer_norm_axis2": lambda g, x: g.add(nn.LayerNormOp(x, w(g, "s", (7, 9)), w(g, "b", (7, 9)), axis=2, epsilon=1e-4)),
    "layer_norm_no_bias": lambda g, x: g.add(nn.LayerNormOp(x, w(g, "s", (9,)), axis=-1)),
    "lrn": lambda g, x: g.add(nn.LrnOp(x, size=3, alpha=1e-2, beta=0.5, bias=2.0)),
    "reduce_sum_keep": lambda g, x: g.add(nn.ReduceOp(x, "sum", [1, 3], keepdims=True)),
    "reduce_mean_drop": lambda g, x: g.add(nn.ReduceOp(x, "mean", [-2], keepdims=False)),
    "reduce_max_all": lambda g, x: g.add(nn.ReduceOp(x, "max", [], keepdims=False)),
    "split_concat": lambda g, x: g.add(nn.ConcatOp(
        list(reversed(g.add_multi(nn.SplitOp(x, axis=3, sizes=[2, 3, 4])))), axis=3)),
    "reshape_transpose_flatten": lambda g, x: g.add(nn.FlattenOp(g.add(nn.TransposeOp(
        g.add(nn.ReshapeOp(x, [2, 14, 18])), perm=[2, 0, 1])), axis=2)),
    "pad_reflect": lambda g, x: g.add(nn.PadOp(x, [0, 1, 2, 3, 1, 0, 3, 2], "reflect")),
    "pad_edge": lambda g, x: g.add(nn.PadOp(x, [0, 0, 1, 0, 0, 0, 0, 2], "edge")),
    "pad_constant": lambda g, x: g.add(nn.PadOp(x, [1, 0, 0, 1, 0, 2, 1, 0], "constant", 1.5)),
}


def build_case(name):
    g = GraphBuilder(inline_limit=4)
    x = g.input("x", [2, 4, 7, 9])
    g.output("y", CASES[name](g, x))
    return g.finish("w.npz")


def compare(module, store, inputs):
    ours = run(module, inputs, store)
    theirs = run_onnxruntime(to_onnx(module, store), inputs)
    assert ours.keys() == theirs.keys()
    for key in ours:
        assert ours[key].shape == theirs[key].shape
        np.testing.assert_allclose(ours[key], theirs[key], rtol=RTOL, atol=ATOL, err_msg=key)


@pytest.mark.parametrize("name", sorted(CASES))
def test_op_attributes_reach_the_kernels(name):
    module, store = build_case(name)
    module.verify()
    compare(module, store, random_inputs(signature(find_entry(module)), seed=3))


def test_gather_embedding():
    g = GraphBuilder()
    ids = g.input("ids", [3, 5], i64)
    table = w(g, "emb", (11, 6))
    g.output("vectors", g.add(nn.GatherOp(table, ids, axis=0)))
    g.output("cols", g.add(nn.GatherOp(table, ids, axis=1)))
    module, store = g.finish("w.npz")
    compare(module, store, {"ids": np.array([[0, 1, -1, 5, 2]] * 3, np.int64)})


@pytest.mark.parametrize("direction", ["forward", "reverse", "bidirectional"])
def test_lstm_and_gru_all_outputs(direction):
    d, h = (2 if direction == "bidirectional" else 1), 5
    g = GraphBuilder()
    x = g.input("x", [6, 3, 4])
    h0 = g.input("h0", [d, 3, h])
    c0 = g.input("c0", [d, 3, h])
    outs = g.add_multi(nn.LstmOp(x, w(g, "lw", (d, 4 * h, 4)), w(g, "lr", (d, 4 * h, h), 1),
                                 w(g, "lb", (d, 8 * h), 2), h0, c0, hidden_size=h, direction=direction))
    for i, v in enumerate(outs):
        g.output(f"lstm{i}", v)
    for lbr in (False, True):
        gru = g.add_multi(nn.GruOp(x, w(g, f"gw{lbr}", (d, 3 * h, 4)), w(g, f"gr{lbr}", (d, 3 * h, h), 1),
                                   None, h0 if lbr else None, hidden_size=h, direction=direction,
                                   linear_before_reset=lbr))
        for i, v in enumerate(gru):
            g.output(f"gru{int(lbr)}_{i}", v)
    module, store = g.finish("w.npz")
    compare(module, store, random_inputs(signature(find_entry(module)), seed=4))


def test_f16_storage_rounds_float32_results():
    g = GraphBuilder()
    x = g.input("x", [4, 8], f16)
    g.output("y", g.add(nn.SoftmaxOp(g.add(nn.MulOp(x, x)), axis=1)))
    module, store = g.finish()
    inputs = random_inputs(signature(find_entry(module)), seed=5)
    y = run(module, inputs, store)["y"]
    assert y.dtype == np.float16
    x32 = inputs["x"].astype(np.float32)
    sq = (x32 * x32).astype(np.float16).astype(np.float32)   # the IR stores the product in f16
    e = np.exp(sq - sq.max(axis=1, keepdims=True))
    np.testing.assert_allclose(y, (e / e.sum(axis=1, keepdims=True)).astype(np.float16), rtol=1e-3, atol=1e-3)


def test_bundled_example_matches_onnxruntime(tmp_path):
    from pathlib import Path

    path = Path(__file__).resolve().parents[3] / "examples" / "small_cnn.mlir"
    module = read_module(path)
    store = store_for(module, path)
    # Through text, as users run it: printing and parsing must not change the numbers.
    module = parse_module(module_text(module))
    compare(module, store, random_inputs(signature(find_entry(module)), seed=0))


def test_integer_data_movement_is_exact():
    g = GraphBuilder()
    a = g.input("a", [2, 3], i64)
    t = g.add(nn.TransposeOp(g.add(nn.ConcatOp([a, a], axis=0)), perm=[1, 0]))
    parts = g.add_multi(nn.SplitOp(g.add(nn.ReshapeOp(t, [12])), axis=0, sizes=[5, 7]))
    g.output("flat", g.add(nn.FlattenOp(parts[1], axis=0)))
    g.output("picked", g.add(nn.GatherOp(a, g.constant("ids", np.array([2, -1], np.int64)), axis=1)))
    module, store = g.finish()
    big = np.arange(6, dtype=np.int64).reshape(2, 3) + (1 << 40)    # not representable in float32
    compare(module, store, {"a": big})
    out = run(module, {"a": big}, store)
    assert out["flat"].dtype == np.int64 and out["picked"][0, 0] == big[0, 2]
