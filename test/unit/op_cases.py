"""A catalog of small nn graphs, one or two ops each with non-default attributes, on a
[2, 4, 7, 9] input: shared by the reference-vs-onnxruntime tests and the compile-and-
emulate sweep over every op (test/unit/transforms/test_every_op.py)."""

import numpy as np

from rapid_mlir.dialects import nn
from rapid_mlir.frontend.builder import GraphBuilder


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
    "pow_fractional": lambda g, x: g.add(nn.PowOp(g.add(nn.ExpOp(x)), -0.75)),
    "pow_cube": lambda g, x: g.add(nn.PowOp(x, 3.0)),
    "pow_negative_base_minus_two": lambda g, x: g.add(nn.PowOp(
        g.add(nn.SubOp(x, g.constant("shift", np.full((1,), 1.5, np.float32)))), -2.0)),
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
