"""Every NumPy reference kernel against onnxruntime on the equivalent single-node ONNX model.

onnxruntime (CPU execution provider) is the independent oracle: each case builds one ONNX
node with `onnx.helper`, runs it, and compares with `rapid_mlir.reference.kernels`.

Tolerance: both sides compute in float32, but not in the same order or with the same
special-function implementations (im2col + BLAS vs MLAS direct convolution, pairwise vs
sequential sums, MLAS' vectorised exp/tanh/erf approximations). For the small tensors used
here (values ~N(0, 1), contractions of at most ~100 terms) the differences are a few float32
ulps of the largest term, so rtol = atol = 1e-5. Recurrent layers (LSTM/GRU) chain several
matmuls and saturating activations through every time step, and onnxruntime evaluates their
sigmoid/tanh with polynomial approximations, so the error compounds with the sequence
length: those use rtol = atol = 1e-4. A real bug (wrong gate order, pad order, divisor,
window placement) produces errors of order 1e-1, far above either bound.
"""

from __future__ import annotations

import itertools

import numpy as np
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper

from rapid_mlir.reference import kernels as K

RTOL = ATOL = 1e-5
RNN_RTOL = RNN_ATOL = 1e-4
IR_VERSION = 9

_ORT_OPTIONS = ort.SessionOptions()
_ORT_OPTIONS.log_severity_level = 3  # quiet the "expected shape" warnings of ceil-mode pooling
_ORT_OPTIONS.intra_op_num_threads = 1


def _elem_type(a: np.ndarray) -> int:
    return TensorProto.INT64 if np.issubdtype(a.dtype, np.integer) else TensorProto.FLOAT


def run_node(op_type: str, inputs: list[np.ndarray | None], n_outputs: int = 1, opset: int = 18,
             **attrs) -> list[np.ndarray]:
    """Runs one ONNX node on `inputs` (None = omitted optional input) with onnxruntime."""
    names, feeds, value_infos = [], {}, []
    for i, a in enumerate(inputs):
        if a is None:
            names.append("")
            continue
        a = np.asarray(a)
        a = a.astype(np.int64) if np.issubdtype(a.dtype, np.integer) else a.astype(np.float32)
        name = f"in{i}"
        names.append(name)
        feeds[name] = a
        value_infos.append(helper.make_tensor_value_info(name, _elem_type(a), a.shape))
    while names and names[-1] == "":
        names.pop()
    outs = [f"out{i}" for i in range(n_outputs)]
    node = helper.make_node(op_type, names, outs, **attrs)
    graph = helper.make_graph([node], f"single_{op_type}", value_infos,
                              [helper.make_tensor_value_info(o, TensorProto.FLOAT, None) for o in outs])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], ir_version=IR_VERSION)
    sess = ort.InferenceSession(model.SerializeToString(), _ORT_OPTIONS, providers=["CPUExecutionProvider"])
    return sess.run(None, feeds)


def check(got, want, rtol=RTOL, atol=ATOL):
    got = np.asarray(got)
    assert got.dtype == np.float32, f"kernel returned {got.dtype}, not float32"
    assert got.shape == want.shape, f"kernel shape {got.shape} != onnxruntime shape {want.shape}"
    np.testing.assert_allclose(got, want, rtol=rtol, atol=atol)


def rand(shape, seed=0, low=None, high=None):
    rng = np.random.default_rng(seed)
    if low is not None:
        return rng.uniform(low, high, shape).astype(np.float32)
    return rng.standard_normal(shape).astype(np.float32)


def _id(v):
    return str(v).replace(" ", "")


# --------------------------------------------------------------------------- conv2d

# (x shape NCHW, out channels, kernel (kh, kw), strides, pads (t, l, b, r), dilations, groups, bias)
CONV_CASES = [
    ((1, 1, 5, 5), 1, (3, 3), (1, 1), (0, 0, 0, 0), (1, 1), 1, True),
    ((1, 3, 7, 9), 4, (3, 3), (1, 1), (1, 1, 1, 1), (1, 1), 1, True),
    ((2, 3, 8, 8), 5, (3, 3), (2, 2), (1, 1, 1, 1), (1, 1), 1, True),
    ((1, 2, 9, 7), 3, (3, 2), (2, 1), (0, 0, 0, 0), (1, 1), 1, False),
    ((1, 3, 7, 7), 2, (5, 5), (2, 2), (2, 2, 2, 2), (1, 1), 1, True),
    ((2, 2, 6, 9), 3, (3, 3), (1, 2), (1, 0, 2, 1), (1, 1), 1, True),        # asymmetric pads
    ((1, 2, 7, 8), 2, (2, 3), (3, 2), (0, 2, 1, 0), (1, 1), 1, False),
    ((1, 4, 6, 6), 4, (3, 3), (1, 1), (1, 1, 1, 1), (1, 1), 2, True),        # groups
    ((2, 6, 7, 5), 9, (3, 1), (1, 1), (1, 0, 1, 0), (1, 1), 3, True),
    ((1, 4, 8, 8), 4, (3, 3), (1, 1), (1, 1, 1, 1), (1, 1), 4, True),        # depthwise
    ((2, 5, 9, 9), 5, (3, 3), (2, 2), (0, 1, 1, 0), (1, 1), 5, False),       # depthwise, stride 2
    ((1, 3, 6, 6), 6, (3, 3), (1, 1), (1, 1, 1, 1), (1, 1), 3, True),        # depth multiplier 2
    ((1, 2, 9, 9), 3, (3, 3), (1, 1), (0, 0, 0, 0), (2, 2), 1, True),        # dilation
    ((1, 2, 11, 8), 2, (3, 2), (2, 1), (2, 1, 0, 2), (3, 2), 1, True),       # dilation + stride + pads
    ((2, 4, 10, 10), 4, (3, 3), (1, 2), (2, 2, 2, 2), (2, 1), 2, False),     # dilation + groups
    ((3, 3, 5, 5), 2, (1, 1), (1, 1), (0, 0, 0, 0), (1, 1), 1, True),        # pointwise, batch 3
    ((1, 3, 4, 4), 2, (4, 4), (1, 1), (0, 0, 0, 0), (1, 1), 1, True),        # kernel = input
    ((1, 1, 1, 1), 2, (1, 1), (1, 1), (0, 0, 0, 0), (1, 1), 1, False),
    ((1, 3, 5, 5), 2, (3, 3), (3, 3), (1, 1, 1, 1), (1, 1), 1, True),
    ((2, 8, 13, 11), 16, (3, 3), (2, 2), (1, 1, 1, 1), (1, 1), 1, True),
]


@pytest.mark.parametrize("case", CONV_CASES, ids=_id)
def test_conv2d(case):
    shape, o, (kh, kw), strides, pads, dilations, groups, with_bias = case
    x = rand(shape, 1)
    w = rand((o, shape[1] // groups, kh, kw), 2)
    b = rand((o,), 3) if with_bias else None
    (want,) = run_node("Conv", [x, w, b], kernel_shape=[kh, kw], strides=list(strides), pads=list(pads),
                       dilations=list(dilations), group=groups)
    check(K.conv2d(x, w, b, strides=strides, pads=pads, dilations=dilations, groups=groups), want)


def test_conv2d_rejects_bad_groups():
    with pytest.raises(ValueError, match="groups"):
        K.conv2d(rand((1, 3, 4, 4)), rand((2, 1, 1, 1)), groups=2)


# --------------------------------------------------------------------------- matmul / gemm

MATMUL_SHAPES = [
    ((4,), (4,)), ((4,), (4, 3)), ((5, 4), (4,)), ((5, 4), (4, 3)), ((1, 7), (7, 1)),
    ((2, 5, 4), (4, 3)), ((4,), (2, 4, 3)), ((2, 5, 4), (2, 4, 3)), ((2, 1, 5, 4), (3, 4, 6)),
    ((1, 3, 5, 4), (2, 1, 4, 2)), ((3, 6), (2, 3, 6, 2)),
]


@pytest.mark.parametrize("shapes", MATMUL_SHAPES, ids=_id)
def test_matmul(shapes):
    a, b = rand(shapes[0], 1), rand(shapes[1], 2)
    (want,) = run_node("MatMul", [a, b])
    check(K.matmul(a, b), want)


GEMM_C_SHAPES = [None, (), (6,), (5, 1), (5, 6)]


@pytest.mark.parametrize("trans_a,trans_b", list(itertools.product([False, True], repeat=2)))
@pytest.mark.parametrize("c_shape", GEMM_C_SHAPES, ids=_id)
def test_gemm_transposes_and_c(trans_a, trans_b, c_shape):
    m, k, n = 5, 7, 6
    a = rand((k, m) if trans_a else (m, k), 1)
    b = rand((n, k) if trans_b else (k, n), 2)
    c = None if c_shape is None else rand(c_shape, 3)
    (want,) = run_node("Gemm", [a, b, c], opset=13, transA=int(trans_a), transB=int(trans_b))
    check(K.gemm(a, b, c, trans_a=trans_a, trans_b=trans_b), want)


@pytest.mark.parametrize("alpha,beta", [(0.5, 1.0), (1.0, 2.5), (-1.5, 0.25), (2.0, 0.0)])
@pytest.mark.parametrize("with_c", [True, False])
def test_gemm_alpha_beta(alpha, beta, with_c):
    a, b, c = rand((3, 4), 1), rand((5, 4), 2), rand((1, 5), 3) if with_c else None
    (want,) = run_node("Gemm", [a, b, c], opset=13, transB=1, alpha=alpha, beta=beta)
    check(K.gemm(a, b, c, trans_b=True, alpha=alpha, beta=beta), want)


# --------------------------------------------------------------------------- elementwise

BINARY_OPS = [("Add", K.add), ("Sub", K.sub), ("Mul", K.mul), ("Div", K.div), ("Max", K.maximum),
              ("Min", K.minimum)]
BINARY_SHAPES = [
    ((2, 3, 4), (2, 3, 4)),        # same shape
    ((2, 3, 4, 5), (5,)),          # rank mismatch, trailing vector
    ((3, 1, 5), (1, 4, 1)),        # both sides broadcast
    ((), (3, 2)),                  # scalar
    ((2, 1, 4, 1), (3, 1, 6)),     # rank mismatch, both sides broadcast
]


@pytest.mark.parametrize("op", BINARY_OPS, ids=lambda o: o[0])
@pytest.mark.parametrize("shapes", BINARY_SHAPES, ids=_id)
def test_binary_broadcast(op, shapes):
    onnx_op, kernel = op
    a, b = rand(shapes[0], 1), rand(shapes[1], 2)
    if onnx_op == "Div":
        b = np.where(np.abs(b) < 0.1, np.float32(0.5), b).astype(np.float32)  # keep away from 0
    (want,) = run_node(onnx_op, [a, b], opset=13)
    check(kernel(a, b), want)


UNARY_OPS = [("Relu", K.relu, None), ("Sigmoid", K.sigmoid, None), ("Tanh", K.tanh, None),
             ("Erf", K.erf, None), ("Exp", K.exp, None), ("Sqrt", K.sqrt, (0.0, 9.0))]


@pytest.mark.parametrize("op", UNARY_OPS, ids=lambda o: o[0])
def test_unary(op):
    onnx_op, kernel, rng = op
    shape = (2, 3, 5, 7)
    x = rand(shape, 4, *rng) if rng else rand(shape, 4) * np.float32(3)
    (want,) = run_node(onnx_op, [x], opset=13)
    check(kernel(x), want)


def test_unary_wide_range():
    """Saturation regions of sigmoid/tanh/erf (|x| up to 30) and large exp arguments."""
    x = np.linspace(-30, 30, 241, dtype=np.float32)
    for onnx_op, kernel in [("Sigmoid", K.sigmoid), ("Tanh", K.tanh), ("Erf", K.erf)]:
        (want,) = run_node(onnx_op, [x], opset=13)
        check(kernel(x), want)
    x = np.linspace(-80, 80, 161, dtype=np.float32)
    (want,) = run_node("Exp", [x], opset=13)
    np.testing.assert_allclose(K.exp(x), want, rtol=RTOL, atol=0)


@pytest.mark.parametrize("approximate", ["none", "tanh"])
@pytest.mark.parametrize("shape,scale", [((2, 3, 8), 1.0), ((64,), 4.0)], ids=_id)
def test_gelu(approximate, shape, scale):
    x = rand(shape, 5) * np.float32(scale)
    (want,) = run_node("Gelu", [x], opset=20, approximate=approximate)
    check(K.gelu(x, approximate=approximate), want)


@pytest.mark.parametrize("exponent", [0.75, 1.5, -0.5, 3.0, -1.0, -2.0, 0.0, 2.0, 0.5])
def test_pow(exponent):
    """Negative bases too: NaN for a non-integer exponent (both sides), finite for an
    integer one; zero to a negative power is inf."""
    x = np.concatenate([rand((40,), 7) * np.float32(2), np.zeros(1, np.float32)])
    (want,) = run_node("Pow", [x, np.array(exponent, np.float32)], opset=15)
    check(K.pow(x, exponent=exponent), want)


@pytest.mark.parametrize("lo,hi", [(-0.5, None), (None, 0.3), (-0.5, 0.3), (None, None), (0.4, -0.2)], ids=_id)
def test_clip(lo, hi):
    x = rand((3, 4, 5), 6)
    as_input = lambda v: None if v is None else np.array(v, np.float32)  # noqa: E731
    (want,) = run_node("Clip", [x, as_input(lo), as_input(hi)], opset=13)
    check(K.clip(x, min=lo, max=hi), want)


@pytest.mark.parametrize("shape,axis", [((2, 3, 4, 5), a) for a in (-3, -1, 0, 1, 2, 3)] + [((7,), 0), ((3, 9), 1), ((3, 9), 0)],
                         ids=_id)
def test_softmax(shape, axis):
    x = rand(shape, 7) * np.float32(4)
    (want,) = run_node("Softmax", [x], opset=13, axis=axis)
    check(K.softmax(x, axis=axis), want)


# --------------------------------------------------------------------------- pooling

# (H, W, kernel, strides, pads (t, l, b, r), dilations, ceil_mode)
POOL_CASES = [
    (6, 6, (2, 2), (2, 2), (0, 0, 0, 0), (1, 1), False),
    (7, 7, (3, 3), (2, 2), (1, 1, 1, 1), (1, 1), False),
    (7, 7, (3, 3), (2, 2), (1, 1, 1, 1), (1, 1), True),
    (6, 6, (3, 3), (2, 2), (0, 0, 0, 0), (1, 1), True),       # ceil adds an overhanging window
    (6, 6, (3, 3), (2, 2), (1, 1, 1, 1), (1, 1), True),       # overhang past the end pad
    (5, 5, (2, 2), (3, 3), (1, 1, 0, 0), (1, 1), True),       # ceil window starting past the input: dropped
    (6, 7, (3, 3), (2, 2), (0, 0, 2, 2), (1, 1), True),       # ceil window starting in end padding: dropped
    (6, 7, (3, 3), (2, 2), (0, 0, 2, 2), (1, 1), False),
    (5, 8, (2, 3), (1, 2), (1, 1, 0, 2), (1, 1), False),      # asymmetric
    (5, 8, (2, 3), (1, 2), (1, 1, 0, 2), (1, 1), True),
    (9, 9, (3, 3), (3, 3), (0, 0, 0, 0), (1, 1), False),
    (10, 9, (4, 3), (3, 2), (2, 1, 1, 2), (1, 1), True),
    (4, 4, (3, 3), (2, 2), (2, 2, 0, 0), (1, 1), True),
    (8, 6, (1, 1), (2, 2), (0, 0, 0, 0), (1, 1), True),
    (3, 3, (3, 3), (1, 1), (0, 0, 0, 0), (1, 1), False),      # one window
    (9, 9, (3, 3), (1, 1), (0, 0, 0, 0), (2, 2), False),      # dilation (max only)
    (9, 10, (2, 3), (2, 2), (1, 0, 1, 2), (3, 2), True),
    (8, 8, (3, 2), (3, 2), (1, 1, 2, 1), (2, 3), True),
]


@pytest.mark.parametrize("case", POOL_CASES, ids=_id)
def test_max_pool2d(case):
    h, w, kernel, strides, pads, dilations, ceil = case
    x = rand((2, 3, h, w), 8)
    (want,) = run_node("MaxPool", [x], kernel_shape=list(kernel), strides=list(strides), pads=list(pads),
                       dilations=list(dilations), ceil_mode=int(ceil))
    check(K.max_pool2d(x, kernel=kernel, strides=strides, pads=pads, dilations=dilations, ceil_mode=ceil), want)


AVG_POOL_CASES = [c for c in POOL_CASES if c[5] == (1, 1)]


@pytest.mark.parametrize("count_include_pad", [False, True])
@pytest.mark.parametrize("case", AVG_POOL_CASES, ids=_id)
def test_avg_pool2d(case, count_include_pad):
    h, w, kernel, strides, pads, _, ceil = case
    x = rand((2, 3, h, w), 9)
    (want,) = run_node("AveragePool", [x], opset=19, kernel_shape=list(kernel), strides=list(strides),
                       pads=list(pads), ceil_mode=int(ceil), count_include_pad=int(count_include_pad))
    check(K.avg_pool2d(x, kernel=kernel, strides=strides, pads=pads, ceil_mode=ceil,
                       count_include_pad=count_include_pad), want)


def test_pool_rejects_pad_not_smaller_than_kernel():
    with pytest.raises(ValueError, match="smaller than the kernel"):
        K.max_pool2d(rand((1, 1, 6, 6)), kernel=(2, 2), pads=(2, 0, 0, 0))


@pytest.mark.parametrize("shape", [(2, 3, 5, 7), (1, 4, 1, 1), (2, 2, 3, 4, 5)], ids=_id)
def test_global_avg_pool(shape):
    x = rand(shape, 10)
    (want,) = run_node("GlobalAveragePool", [x])
    check(K.global_avg_pool(x), want)


# --------------------------------------------------------------------------- normalisation


@pytest.mark.parametrize("shape", [(4, 3), (2, 3, 7), (2, 3, 5, 4), (1, 3, 2, 3, 4)], ids=_id)
@pytest.mark.parametrize("epsilon", [1e-5, 1e-2])
def test_batch_norm(shape, epsilon):
    c = shape[1]
    x, scale, bias, mean = rand(shape, 11), rand((c,), 12), rand((c,), 13), rand((c,), 14)
    var = rand((c,), 15, 0.1, 2.0)
    (want,) = run_node("BatchNormalization", [x, scale, bias, mean, var], opset=15, epsilon=epsilon)
    check(K.batch_norm(x, scale, bias, mean, var, epsilon=epsilon), want)


@pytest.mark.parametrize("shape,axis", [((2, 3, 8), -1), ((2, 3, 8), 2), ((2, 3, 8), 1), ((2, 3, 8), -3),
                                        ((2, 3, 4, 5), -2), ((2, 3, 4, 5), 1), ((16,), 0)], ids=_id)
@pytest.mark.parametrize("with_bias", [True, False])
def test_layer_norm(shape, axis, with_bias):
    x = rand(shape, 16) * np.float32(2) + np.float32(0.5)
    norm_shape = shape[axis % len(shape):]
    scale, bias = rand(norm_shape, 17), rand(norm_shape, 18) if with_bias else None
    (want,) = run_node("LayerNormalization", [x, scale, bias], opset=17, axis=axis, epsilon=1e-4)
    check(K.layer_norm(x, scale, bias, axis=axis, epsilon=1e-4), want)


@pytest.mark.parametrize("size", [1, 3, 5, 7])  # onnxruntime only implements odd sizes
@pytest.mark.parametrize("alpha,beta,bias", [(1e-4, 0.75, 1.0), (0.5, 0.5, 2.0)], ids=_id)
def test_lrn(size, alpha, beta, bias):
    x = rand((2, 7, 4, 3), 19)
    (want,) = run_node("LRN", [x], opset=13, size=size, alpha=alpha, beta=beta, bias=bias)
    check(K.lrn(x, size=size, alpha=alpha, beta=beta, bias=bias), want)


REDUCE_AXES = [(0,), (1,), (2,), (-1,), (0, 2), (-3, 2, -1), ()]


@pytest.mark.parametrize("kind,onnx_op", [("sum", "ReduceSum"), ("mean", "ReduceMean"), ("max", "ReduceMax")])
@pytest.mark.parametrize("axes", REDUCE_AXES, ids=_id)
@pytest.mark.parametrize("keepdims", [True, False])
def test_reduce(kind, onnx_op, axes, keepdims):
    x = rand((3, 4, 5, 6), 20)
    axes_input = np.array(axes, np.int64) if axes else None  # no axes input = all axes
    (want,) = run_node(onnx_op, [x, axes_input], opset=18, keepdims=int(keepdims))
    check(K.reduce(x, kind=kind, axes=axes, keepdims=keepdims), want)


# --------------------------------------------------------------------------- data movement


@pytest.mark.parametrize("axis", [0, 1, 2, -1])
def test_concat(axis):
    base = (2, 3, 4)
    xs = []
    for i, extra in enumerate((1, 3, 2)):
        shape = list(base)
        shape[axis] = extra
        xs.append(rand(tuple(shape), 21 + i))
    (want,) = run_node("Concat", xs, opset=13, axis=axis)
    check(K.concat(xs, axis=axis), want)


@pytest.mark.parametrize("axis,sizes", [(0, (1, 2, 3)), (1, (5, 2)), (2, (4, 1, 3, 1)), (-1, (9,)), (-2, (3, 0, 4))],
                         ids=_id)
def test_split(axis, sizes):
    shape = [2, 3, 4]
    shape[axis] = sum(sizes)
    x = rand(tuple(shape), 24)
    want = run_node("Split", [x, np.array(sizes, np.int64)], n_outputs=len(sizes), opset=18, axis=axis)
    got = K.split(x, axis=axis, sizes=sizes)
    assert len(got) == len(want)
    for g, w in zip(got, want):
        check(g, w)


@pytest.mark.parametrize("shape,new_shape", [((2, 3, 4), (6, 4)), ((2, 3, 4), (4, -1)), ((24,), (2, 3, 2, 2)),
                                             ((2, 3, 4), (-1,)), ((1, 5), (5, 1, 1))], ids=_id)
def test_reshape(shape, new_shape):
    x = rand(shape, 25)
    (want,) = run_node("Reshape", [x, np.array(new_shape, np.int64)], opset=14)
    check(K.reshape(x, new_shape), want)


@pytest.mark.parametrize("axis", [0, 1, 2, 3, 4, -1, -4])
def test_flatten(axis):
    x = rand((2, 3, 4, 5), 26)
    (want,) = run_node("Flatten", [x], opset=13, axis=axis)
    check(K.flatten(x, axis=axis), want)


@pytest.mark.parametrize("perm", [(0, 1, 2, 3), (0, 2, 3, 1), (0, 3, 1, 2), (3, 2, 1, 0), (1, 0, 3, 2), (2, 0, 3, 1)],
                         ids=_id)
def test_transpose(perm):
    x = rand((2, 3, 4, 5), 27)
    (want,) = run_node("Transpose", [x], opset=13, perm=list(perm))
    check(K.transpose(x, perm=perm), want)


@pytest.mark.parametrize("mode", ["constant", "reflect", "edge"])
@pytest.mark.parametrize("pads", [(0, 0, 1, 2, 0, 0, 2, 1), (1, 0, 0, 3, 0, 2, 3, 0), (0, 1, 2, 0, 1, 0, 0, 2),
                                  (0, 0, 0, 0, 0, 0, 0, 0)], ids=_id)
def test_pad(mode, pads):
    x = rand((2, 3, 4, 5), 28)
    value = np.array(1.5, np.float32) if mode == "constant" else None
    (want,) = run_node("Pad", [x, np.array(pads, np.int64), value], opset=18, mode=mode)
    check(K.pad(x, pads=pads, mode=mode, value=1.5 if mode == "constant" else 0.0), want)


def test_pad_rejects_negative_pads():
    with pytest.raises(ValueError, match=">= 0"):
        K.pad(rand((3, 3)), pads=(0, -1, 0, 0))


@pytest.mark.parametrize("axis,indices", [
    (0, np.array([0, 3, 1], np.int64)), (0, np.array([-1, 0, -4], np.int64)), (0, np.array(2, np.int64)),
    (1, np.array([[0, -1], [-5, 2]], np.int64)), (1, np.array([-2], np.int64)), (-1, np.array([3, -6, 0], np.int64)),
], ids=_id)
def test_gather(axis, indices):
    data = rand((4, 5, 6), 29)
    (want,) = run_node("Gather", [data, indices], opset=13, axis=axis)
    check(K.gather(data, indices, axis=axis), want)


# --------------------------------------------------------------------------- recurrent

RNN_DIRECTIONS = ["forward", "reverse", "bidirectional"]


@pytest.mark.parametrize("direction", RNN_DIRECTIONS)
@pytest.mark.parametrize("with_bias,with_initial", [(True, True), (False, False), (True, False)], ids=_id)
@pytest.mark.parametrize("seq,batch", [(5, 1), (4, 3)], ids=_id)
def test_lstm(direction, with_bias, with_initial, seq, batch):
    nd, hs, inp = 2 if direction == "bidirectional" else 1, 4, 3
    x = rand((seq, batch, inp), 30)
    w, r = rand((nd, 4 * hs, inp), 31) * np.float32(0.7), rand((nd, 4 * hs, hs), 32) * np.float32(0.7)
    b = rand((nd, 8 * hs), 33) * np.float32(0.5) if with_bias else None
    h0 = rand((nd, batch, hs), 34) if with_initial else None
    c0 = rand((nd, batch, hs), 35) if with_initial else None
    want = run_node("LSTM", [x, w, r, b, None, h0, c0], n_outputs=3, opset=14, hidden_size=hs, direction=direction)
    got = K.lstm(x, w, r, b, h0, c0, hidden_size=hs, direction=direction)
    assert len(got) == 3
    for g, wnt in zip(got, want):
        check(g, wnt, RNN_RTOL, RNN_ATOL)


@pytest.mark.parametrize("direction", RNN_DIRECTIONS)
@pytest.mark.parametrize("linear_before_reset", [False, True])
@pytest.mark.parametrize("with_bias,with_initial", [(True, True), (False, False), (False, True)], ids=_id)
@pytest.mark.parametrize("seq,batch", [(4, 2)], ids=_id)
def test_gru(direction, linear_before_reset, with_bias, with_initial, seq, batch):
    nd, hs, inp = 2 if direction == "bidirectional" else 1, 5, 3
    x = rand((seq, batch, inp), 36)
    w, r = rand((nd, 3 * hs, inp), 37) * np.float32(0.7), rand((nd, 3 * hs, hs), 38) * np.float32(0.7)
    b = rand((nd, 6 * hs), 39) * np.float32(0.5) if with_bias else None
    h0 = rand((nd, batch, hs), 40) if with_initial else None
    want = run_node("GRU", [x, w, r, b, None, h0], n_outputs=2, opset=14, hidden_size=hs, direction=direction,
                    linear_before_reset=int(linear_before_reset))
    got = K.gru(x, w, r, b, h0, hidden_size=hs, direction=direction, linear_before_reset=linear_before_reset)
    assert len(got) == 2
    for g, wnt in zip(got, want):
        check(g, wnt, RNN_RTOL, RNN_ATOL)
