"""Shape inference of the nn dialect (pure functions), checked against hand-computed shapes."""

import numpy as np
import pytest

from rapid_mlir.dialects import nn_shapes as S
from rapid_mlir.dialects.nn_shapes import ShapeError


@pytest.mark.parametrize("a, b, out", [
    ((2, 3), (3,), (2, 3)),
    ((4, 1, 5), (3, 1), (4, 3, 5)),
    ((), (2, 2), (2, 2)),
    ((1,), (7, 1, 1), (7, 1, 1)),
])
def test_broadcast_matches_numpy(a, b, out):
    assert S.broadcast(a, b) == out == np.broadcast_shapes(a, b)


def test_broadcast_error_names_dimension():
    with pytest.raises(ShapeError, match=r"operand shapes 2x3 and 4 do not broadcast \(dimension -1: 3 vs 4\)"):
        S.broadcast((2, 3), (4,))


@pytest.mark.parametrize("size, k, s, pb, pe, d, ceil, out", [
    (32, 3, 1, 1, 1, 1, False, 32),
    (7, 3, 2, 0, 0, 1, False, 3),
    (7, 3, 2, 0, 0, 1, True, 3),
    (8, 3, 2, 0, 0, 1, False, 3),
    (8, 3, 2, 0, 0, 1, True, 4),
    (6, 3, 2, 1, 1, 1, True, 4),
    (3, 3, 2, 1, 2, 1, True, 2),     # a 3rd window would start in the end padding: dropped
    (10, 3, 1, 0, 0, 2, False, 6),   # dilation 2: span 5
    (112, 3, 2, 1, 1, 1, False, 56),
])
def test_conv_out_size(size, k, s, pb, pe, d, ceil, out):
    assert S.conv_out_size(size, k, s, pb, pe, d, ceil) == out


def test_conv2d_shapes_and_errors():
    assert S.conv2d((2, 3, 224, 224), (64, 3, 7, 7), (64,), (2, 2), (3, 3, 3, 3), (1, 1), 1) == (2, 64, 112, 112)
    assert S.conv2d((1, 32, 9, 9), (32, 1, 3, 3), None, (1, 1), (1, 1, 1, 1), (1, 1), 32) == (1, 32, 9, 9)
    with pytest.raises(ShapeError, match="weight has 64 input channels per group but input has 3"):
        S.conv2d((1, 3, 8, 8), (4, 64, 3, 3), None, (1, 1), (0, 0, 0, 0), (1, 1), 1)
    with pytest.raises(ShapeError, match="not divisible by groups 4"):
        S.conv2d((1, 6, 8, 8), (4, 1, 3, 3), None, (1, 1), (0, 0, 0, 0), (1, 1), 4)
    with pytest.raises(ShapeError, match="bias must have shape 4 but has shape 5"):
        S.conv2d((1, 3, 8, 8), (4, 3, 3, 3), (5,), (1, 1), (0, 0, 0, 0), (1, 1), 1)
    with pytest.raises(ShapeError, match="strides entries must be >= 1 but found 0"):
        S.conv2d((1, 3, 8, 8), (4, 3, 3, 3), None, (0, 1), (0, 0, 0, 0), (1, 1), 1)
    with pytest.raises(ShapeError, match="does not fit the padded input height"):
        S.conv2d((1, 3, 2, 8), (4, 3, 3, 3), None, (1, 1), (0, 0, 0, 0), (1, 1), 1)
    with pytest.raises(ShapeError, match="input must be 4-d but has shape 3x8x8"):
        S.conv2d((3, 8, 8), (4, 3, 3, 3), None, (1, 1), (0, 0, 0, 0), (1, 1), 1)


@pytest.mark.parametrize("a, b", [((3,), (3,)), ((2, 3), (3,)), ((3,), (3, 4)), ((5, 2, 3), (3, 4)),
                                  ((2, 1, 4, 3), (5, 3, 2)), ((4, 3), (2, 3, 6))])
def test_matmul_matches_numpy(a, b):
    assert S.matmul(a, b) == np.matmul(np.zeros(a), np.zeros(b)).shape


def test_matmul_error():
    with pytest.raises(ShapeError, match="lhs has 3 columns but rhs has 4 rows"):
        S.matmul((2, 3), (4, 5))


def test_gemm():
    assert S.gemm((4, 3), (5, 3), (5,), False, True) == (4, 5)
    assert S.gemm((3, 4), (3, 5), (4, 1), True, False) == (4, 5)
    with pytest.raises(ShapeError, match="lhs gives K = 3 but rhs gives K = 5"):
        S.gemm((4, 3), (5, 3), None, False, False)
    with pytest.raises(ShapeError, match="bias of shape 3 does not broadcast to 4x5"):
        S.gemm((4, 3), (3, 5), (3,), False, False)


@pytest.mark.parametrize("axes, keep", [((), True), ((), False), ((0,), True), ((-1,), False),
                                        ((1, 2), True), ((0, 2), False)])
def test_reduce_matches_numpy(axes, keep):
    x = np.zeros((2, 3, 4))
    expected = np.sum(x, axis=tuple(axes) if axes else None, keepdims=keep).shape
    assert S.reduce((2, 3, 4), axes, keep) == expected


def test_reduce_errors():
    with pytest.raises(ShapeError, match="axes entry 3 is out of range for rank 3"):
        S.reduce((2, 3, 4), (3,), True)
    with pytest.raises(ShapeError, match="name the same axis twice"):
        S.reduce((2, 3, 4), (1, -2), True)


def test_data_movement():
    assert S.concat([(1, 2, 3), (1, 5, 3)], 1) == (1, 7, 3)
    assert S.split((4, 10), -1, (3, 7)) == [(4, 3), (4, 7)]
    assert S.flatten((2, 3, 4, 5), 0) == (1, 120)
    assert S.flatten((2, 3, 4, 5), 2) == (6, 20)
    assert S.flatten((2, 3, 4, 5), -1) == (24, 5)
    assert S.flatten((2, 3, 4, 5), 4) == (120, 1)
    assert S.transpose((2, 3, 4), (2, 0, 1)) == (4, 2, 3)
    assert S.pad((1, 3, 4), (0, 1, 2, 0, 3, 4), "constant") == (1, 7, 10)
    assert S.gather((100, 16), (2, 7), 0) == (2, 7, 16)
    assert S.gather((3, 100, 16), (5,), -2) == (3, 5, 16)
    with pytest.raises(ShapeError, match="input 1 has shape 1x5x4 but must match 1x2x3 except on axis 1"):
        S.concat([(1, 2, 3), (1, 5, 4)], 1)
    with pytest.raises(ShapeError, match=r"sizes \[3, 6\] add up to 9 but axis 1 has 10"):
        S.split((4, 10), 1, (3, 6))
    with pytest.raises(ShapeError, match="perm \\[0, 0, 1\\] is not a permutation of 0..2"):
        S.transpose((2, 3, 4), (0, 0, 1))
    with pytest.raises(ShapeError, match="reflect pads on axis 1 must be smaller than its size 3"):
        S.pad((1, 3), (0, 3, 0, 0), "reflect")
    with pytest.raises(ShapeError, match="has 6 elements but result 7 has 7"):
        S.reshape((2, 3), (7,))


def test_norms_and_pooling():
    assert S.pool2d((1, 8, 7, 7), (3, 3), (2, 2), (1, 1, 1, 1), (1, 1), True) == (1, 8, 4, 4)
    assert S.global_pool((2, 8, 7, 5)) == (2, 8, 1, 1)
    assert S.batch_norm((2, 8, 3, 3), [(8,)] * 4) == (2, 8, 3, 3)
    assert S.layer_norm((2, 5, 8), (5, 8), None, 1) == (2, 5, 8)
    with pytest.raises(ShapeError, match="pads \\[2, 0, 0, 0\\] must be smaller than the kernel \\[2, 2\\]"):
        S.pool2d((1, 8, 7, 7), (2, 2), (1, 1), (2, 0, 0, 0), (1, 1), False)
    with pytest.raises(ShapeError, match="var must have shape 8 \\(the channels\\) but has shape 4"):
        S.batch_norm((2, 8, 3, 3), [(8,), (8,), (8,), (4,)])
    with pytest.raises(ShapeError, match="scale must have shape 8 but has shape 5x8"):
        S.layer_norm((2, 5, 8), (5, 8), None, -1)


def test_recurrent():
    y, h = S.recurrent((7, 2, 10), (2, 80, 10), (2, 80, 20), (2, 160), [(2, 2, 20), None], 20,
                       "bidirectional", 4)
    assert y == (7, 2, 2, 20) and h == (2, 2, 20)
    with pytest.raises(ShapeError, match="recurrence must have shape 1x60x20 but has shape 1x60x10"):
        S.recurrent((7, 2, 10), (1, 60, 10), (1, 60, 10), None, [None], 20, "forward", 3)

