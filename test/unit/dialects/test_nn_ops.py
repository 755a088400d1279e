"""Builders of the nn ops: each infers its result types, verifies, and round-trips as text."""

import pytest
from xdsl.dialects.builtin import TensorType, f16, f32, i64
from xdsl.utils.exceptions import VerifyException

from rapid_mlir.dialects import nn
from rapid_mlir.frontend.builder import GraphBuilder
from rapid_mlir.ir_io import module_text, parse_module


def shape(v):
    return tuple(v.type.get_shape())


def test_every_op_builds_with_inferred_types():
    g = GraphBuilder(inline_limit=0)
    x = g.input("x", [2, 4, 9, 9])
    seq = g.input("seq", [5, 2, 3])
    ids = g.input("ids", [2, 7], i64)
    w = g.input("w", [8, 2, 3, 3])
    b = g.input("b", [8])
    y = g.add(nn.Conv2DOp(x, w, b, strides=(2, 2), pads=(1, 1, 1, 1), groups=2))
    assert shape(y) == (2, 8, 5, 5)
    assert shape(g.add(nn.MaxPool2DOp(y, kernel=(3, 3), strides=(2, 2), ceil_mode=True))) == (2, 8, 2, 2)
    assert shape(g.add(nn.AvgPool2DOp(y, kernel=(2, 2), pads=(1, 1, 0, 0), count_include_pad=True))) == (2, 8, 5, 5)
    assert shape(g.add(nn.GlobalAvgPoolOp(y))) == (2, 8, 1, 1)
    f = g.add(nn.FlattenOp(y, axis=1))
    assert shape(f) == (2, 200)
    assert shape(g.add(nn.GemmOp(f, g.input("fc", [10, 200]), trans_b=True))) == (2, 10)
    assert shape(g.add(nn.MatmulOp(g.input("a", [3, 1, 4, 5]), g.input("m", [6, 5, 2])))) == (3, 6, 4, 2)
    for cls in (nn.AddOp, nn.SubOp, nn.MulOp, nn.DivOp, nn.MaxOp, nn.MinOp):
        assert shape(g.add(cls(y, g.input(f"{cls.name}", [5, 1])))) == (2, 8, 5, 5)
    for cls in (nn.ReluOp, nn.SigmoidOp, nn.TanhOp, nn.ErfOp, nn.ExpOp, nn.SqrtOp):
        assert g.add(cls(y)).type == y.type
    assert g.add(nn.GeluOp(y, "tanh")).type == y.type
    assert g.add(nn.PowOp(y, 0.75)).type == y.type
    assert g.add(nn.ClipOp(y, max=6.0)).type == y.type
    assert g.add(nn.SoftmaxOp(y, axis=1)).type == y.type
    s = g.constant("bn", [1.0] * 8)
    assert g.add(nn.BatchNormOp(y, s, s, s, s)).type == y.type
    assert g.add(nn.LayerNormOp(y, g.input("ln", [5, 5]), axis=2)).type == y.type
    assert g.add(nn.LrnOp(y, size=3)).type == y.type
    assert shape(g.add(nn.ReduceOp(y, "max", [1, -1], keepdims=False))) == (2, 5)
    parts = g.add_multi(nn.SplitOp(y, axis=1, sizes=[3, 5]))
    assert [shape(p) for p in parts] == [(2, 3, 5, 5), (2, 5, 5, 5)]
    assert shape(g.add(nn.ConcatOp(parts, axis=1))) == (2, 8, 5, 5)
    assert shape(g.add(nn.ReshapeOp(y, [16, 25]))) == (16, 25)
    assert shape(g.add(nn.TransposeOp(y, [0, 2, 3, 1]))) == (2, 5, 5, 8)
    assert shape(g.add(nn.PadOp(y, [0, 0, 1, 2, 0, 0, 3, 4], "reflect"))) == (2, 8, 9, 11)
    assert shape(g.add(nn.GatherOp(g.input("emb", [100, 16]), ids))) == (2, 7, 16)
    lstm = g.add_multi(nn.LstmOp(seq, g.input("lw", [2, 16, 3]), g.input("lr", [2, 16, 4]),
                                 hidden_size=4, direction="bidirectional"))
    assert [shape(v) for v in lstm] == [(5, 2, 2, 4), (2, 2, 4), (2, 2, 4)]
    gru = g.add_multi(nn.GruOp(seq, g.input("gw", [1, 12, 3]), g.input("gr", [1, 12, 4]),
                               g.input("gb", [1, 24]), g.input("gh", [1, 2, 4]),
                               hidden_size=4, linear_before_reset=True))
    assert [shape(v) for v in gru] == [(5, 1, 2, 4), (1, 2, 4)]
    g.output("y", y)
    module, store = g.finish("w.npz")
    module.verify()
    text = module_text(module)
    assert module_text(parse_module(text)) == text
    assert module_text(parse_module(module_text(module, generic=True))) == text


def test_f16_result_keeps_element_type():
    g = GraphBuilder()
    x = g.input("x", [1, 4], f16)
    y = g.add(nn.ReluOp(x))
    assert y.type == TensorType(f16, [1, 4])


@pytest.mark.parametrize("build, message", [
    (lambda g: nn.Conv2DOp(g.input("x", [1, 3, 8, 8]), g.input("w", [4, 64, 3, 3])),
     "nn.conv2d: weight has 64 input channels per group but input has 3"),
    (lambda g: nn.AddOp(g.input("a", [2, 3]), g.input("b", [4])),
     "nn.add: operand shapes 2x3 and 4 do not broadcast"),
    (lambda g: nn.SplitOp(g.input("a", [2, 3]), axis=1, sizes=[1, 1]),
     r"nn.split: sizes \[1, 1\] add up to 2 but axis 1 has 3"),
])
def test_builder_errors_name_the_op(build, message):
    with pytest.raises(VerifyException, match=message):
        build(GraphBuilder())


def test_verifier_rejects_wrong_result_type():
    text = """
    func.func @f(%x: tensor<1x4xf32>) -> tensor<1x5xf32> {
      %y = nn.relu %x : tensor<1x4xf32>
      %z = "nn.sigmoid"(%y) : (tensor<1x4xf32>) -> tensor<1x5xf32>
      func.return %z : tensor<1x5xf32>
    }"""
    with pytest.raises(ValueError, match="nn.sigmoid"):
        parse_module(text)


def test_mixed_element_types_rejected():
    g = GraphBuilder()
    a, b = g.input("a", [2], f32), g.input("b", [2], f16)
    op = nn.AddOp.build(operands=[a, b], result_types=[TensorType(f32, [2])])
    with pytest.raises(VerifyException, match="nn.add: rhs has element type f16 but lhs has f32"):
        op.verify()
