"""The `nn` ops the SFU runs alone, and their loop nests (`rapid_mlir.mapping.problem`).

Shared by `convert-nn-to-tile` (which wraps each such op in a `rapid_tile.kernel` with a
mapping) and `convert-tile-to-mem` (whose `sfu_lowering` turns the kernel into SFU code):

- unary elementwise (`UNARY`: the SFU instruction of each op) and binary elementwise
  with numpy broadcasting (`BINARY`);
- `nn.batch_norm` (inference), `nn.max_pool2d`, `nn.avg_pool2d`, `nn.global_avg_pool`
  and `nn.softmax` (any axis);
- `nn.gelu`, `nn.layer_norm`, `nn.lrn` and `nn.reduce` (`sfu_norms`).

`nn.reshape` and `nn.flatten` are not kernels: on the device they are views of the same
DRAM bytes (`rapid_mem.view`, see `dram_views`).
"""

from __future__ import annotations

from xdsl.ir import Operation

from rapid_mlir.dialects import nn
from rapid_mlir.mapping import problem as P

UNARY: dict[type, str] = {nn.ReluOp: "relu", nn.SigmoidOp: "sigmoid", nn.TanhOp: "tanh", nn.ErfOp: "erf",
                          nn.ExpOp: "exp", nn.SqrtOp: "sqrt", nn.ClipOp: "clip"}
"""Unary elementwise ops and the `sfu.<kind>` that computes each."""

BINARY: dict[type, str] = {nn.AddOp: "add", nn.SubOp: "sub", nn.MulOp: "mul", nn.DivOp: "div",
                           nn.MaxOp: "max", nn.MinOp: "min"}
"""Binary elementwise ops (numpy broadcasting) and their `sfu.<kind>`."""

SFU_OPS = (*UNARY, *BINARY, nn.BatchNormOp, nn.MaxPool2DOp, nn.AvgPool2DOp, nn.GlobalAvgPoolOp,
           nn.SoftmaxOp, nn.GeluOp, nn.LayerNormOp, nn.LrnOp, nn.ReduceOp)
"""Every op that becomes an SFU kernel."""

EPILOGUE_OPS = (*BINARY, nn.BatchNormOp)
"""SFU kernels that apply a following relu to their output tile (the ResNet residual
`relu(add(x, y))`, `relu(batch_norm(x))`)."""


def sfu_problem(op: Operation, layer: str) -> P.Problem | None:
    """The loop nest of an op the SFU runs alone, or None for other ops."""
    if type(op) in UNARY:
        shape = tuple(op.output.type.get_shape())
        return P.elementwise(layer, shape, [shape])
    if type(op) in BINARY:
        return P.elementwise(layer, tuple(op.output.type.get_shape()),
                             [tuple(op.lhs.type.get_shape()), tuple(op.rhs.type.get_shape())])
    if isinstance(op, nn.BatchNormOp):
        return P.batch_norm(layer, tuple(op.input.type.get_shape()))
    if isinstance(op, nn.MaxPool2DOp | nn.AvgPool2DOp):
        dilations = nn.ints(op.dilations) if isinstance(op, nn.MaxPool2DOp) else (1, 1)
        return P.pool2d(layer, tuple(op.input.type.get_shape()), tuple(op.output.type.get_shape()),
                        nn.ints(op.kernel), nn.ints(op.strides), nn.ints(op.pads), dilations)
    if isinstance(op, nn.GlobalAvgPoolOp):
        return P.global_pool(layer, tuple(op.input.type.get_shape()))
    if isinstance(op, nn.SoftmaxOp):
        return P.softmax(layer, tuple(op.input.type.get_shape()), op.axis.value.data)
    if isinstance(op, nn.GeluOp):
        return P.gelu(layer, tuple(op.output.type.get_shape()))
    if isinstance(op, nn.LayerNormOp):
        return P.layer_norm(layer, tuple(op.input.type.get_shape()), op.axis.value.data, op.bias is not None)
    if isinstance(op, nn.LrnOp):
        return P.lrn(layer, tuple(op.input.type.get_shape()), op.size.value.data)
    if isinstance(op, nn.ReduceOp) and op.input.type.get_shape():
        return P.reduce(layer, tuple(op.input.type.get_shape()), nn.ints(op.axes), op.kind.data.value)
    return None
