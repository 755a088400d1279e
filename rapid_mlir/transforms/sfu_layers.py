"""The `nn` ops the SFU runs alone, and their loop nests (`rapid_mlir.mapping.problem`).

Shared by `convert-nn-to-tile` (which wraps each such op in a `rapid_tile.kernel` with a
mapping) and `convert-tile-to-mem` (whose `sfu_lowering` turns the kernel into SFU code):

- unary elementwise (`UNARY`: the SFU instruction of each op) and binary elementwise
  with numpy broadcasting (`BINARY`);
- `nn.batch_norm` (inference), `nn.max_pool2d`, `nn.avg_pool2d`, `nn.global_avg_pool`
  and `nn.softmax` (any axis);
- `nn.pow`, as the chain of SFU instructions of `power_chain` (none for an integer
  exponent beyond +-`MAX_INTEGER_POWER`: the host runs those);
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

F32_MAX = 3.4028234663852886e38
"""The largest finite fp32 value: the bound an `sfu.clip` without one gets (a clamp to
[-F32_MAX, F32_MAX] changes no finite value)."""

SFU_OPS = (*UNARY, *BINARY, nn.BatchNormOp, nn.MaxPool2DOp, nn.AvgPool2DOp, nn.GlobalAvgPoolOp,
           nn.SoftmaxOp, nn.GeluOp, nn.PowOp, nn.LayerNormOp, nn.LrnOp, nn.ReduceOp)
"""Every op that becomes an SFU kernel."""

def elementwise_instruction(op: Operation) -> tuple[str, tuple[float, ...]]:
    """The `sfu.<kind>` of a unary or binary elementwise op and its immediates (a clip's
    bounds; an absent bound is `F32_MAX`)."""
    if isinstance(op, nn.ClipOp):
        return "clip", (-F32_MAX if op.min is None else op.min.value.data,
                        F32_MAX if op.max is None else op.max.value.data)
    return UNARY.get(type(op)) or BINARY[type(op)], ()


EPILOGUE_OPS = (*BINARY, nn.BatchNormOp)
"""SFU kernels that apply a following relu to their output tile (the ResNet residual
`relu(add(x, y))`, `relu(batch_norm(x))`)."""


MAX_INTEGER_POWER = 4
"""The largest |p| of an integer exponent the SFU computes by multiplying (beyond it the
host runs the `nn.pow`)."""

Step = tuple[str, str, tuple[str, ...], tuple[float, ...]]
"""One SFU instruction of a chain: (kind, dst, srcs, immediates); the buffers are `x`
(the input tile), `t` (an f32 temp tile) and `out` (the output tile)."""


def power_chain(p: float) -> list[Step] | None:
    """The SFU instructions computing x^p (numpy's `power`), or None when the device has
    none. An integer p is a chain of multiplies (then a reciprocal for p < 0), exact
    for a negative base too; any other p is exp(p * log x), which is NaN for a negative
    base as x^p is (0.5 is `sqrt`)."""
    if p == 0.5:
        return [("sqrt", "out", ("x",), ())]
    if p != int(p):
        return [("log", "t", ("x",), ()), ("scale", "t", ("t",), (p, 0.0)), ("exp", "out", ("t",), ())]
    n = abs(int(p))
    if n > MAX_INTEGER_POWER:
        return None
    if n == 0:  # 1, as x * 0 + 1 (NaN for an infinite or NaN x, where x^0 is 1)
        return [("scale", "out", ("x",), (0.0, 1.0))]
    if n == 1:
        return [("copy" if p > 0 else "recip", "out", ("x",), ())]
    steps: list[Step] = [("mul", "t", ("x", "x"), ())]  # x^2
    if n == 3:
        steps.append(("mul", "t", ("t", "x"), ()))
    elif n == 4:
        steps.append(("mul", "t", ("t", "t"), ()))
    if p < 0:
        return [*steps, ("recip", "out", ("t",), ())]
    kind, _, srcs, imms = steps[-1]
    return [*steps[:-1], (kind, "out", srcs, imms)]


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
    if isinstance(op, nn.PowOp):
        if power_chain(op.exponent.value.data) is None:
            return None
        return P.power(layer, tuple(op.output.type.get_shape()))
    if isinstance(op, nn.LayerNormOp):
        return P.layer_norm(layer, tuple(op.input.type.get_shape()), op.axis.value.data, op.bias is not None)
    if isinstance(op, nn.LrnOp):
        return P.lrn(layer, tuple(op.input.type.get_shape()), op.size.value.data)
    if isinstance(op, nn.ReduceOp) and op.input.type.get_shape():
        return P.reduce(layer, tuple(op.input.type.get_shape()), nn.ints(op.axes), op.kind.data.value)
    return None
