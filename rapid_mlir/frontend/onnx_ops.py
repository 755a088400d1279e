"""The ONNX importer's handlers: one per op type, from an ONNX node to `nn` ops.

A handler takes a `Node` (the node's attributes, its inputs as IR values or constants,
and a way to emit `nn` ops named after it; see `rapid_mlir.frontend.onnx`) and returns
one Value per ONNX output: an IR value, a NumPy constant, or None for an output it does
not produce. Attributes a handler does not read are rejected after it ran, so one that
changes the result is never dropped silently; `Node.ignore` marks those that do not
matter for inference, with the reason. docs/onnx.md has the table of ops.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
from xdsl.dialects.builtin import TensorType

from rapid_mlir.dialects import nn
from rapid_mlir.frontend.onnx import ELEMENT_TYPES, Node, Value

# ---------------------------------------------------------------------------
# Convolution, matrix products, pooling
# ---------------------------------------------------------------------------


def _spatial(node: Node) -> tuple[int, int]:
    """H and W of input 0, which must be NCHW: nn's windows are 2-D."""
    shape = node.shape(0)
    if len(shape) != 4:
        raise node.fail(f"only 2-D windows are supported (a 4-D NCHW input), but the input has shape "
                        f"{list(shape)}")
    return shape[2], shape[3]


def _window(node: Node, kernel: Sequence[int]) -> dict:
    """strides, pads and dilations of a Conv / pooling node, auto_pad made explicit."""
    strides = list(node.attr("strides", [1, 1]))
    dilations = list(node.attr("dilations", [1, 1]))
    auto_pad = node.attr("auto_pad", "NOTSET")
    if auto_pad == "NOTSET":
        pads = list(node.attr("pads", [0, 0, 0, 0]))
    elif auto_pad == "VALID":
        pads = [0, 0, 0, 0]
    elif auto_pad in ("SAME_UPPER", "SAME_LOWER"):
        pads = _same_pads(_spatial(node), kernel, strides, dilations, auto_pad == "SAME_UPPER")
    else:
        raise node.fail(f"auto_pad '{auto_pad}' is not one of NOTSET, VALID, SAME_UPPER, SAME_LOWER")
    return {"strides": strides, "pads": pads, "dilations": dilations}


def _same_pads(size, kernel, strides, dilations, upper: bool) -> list[int]:
    """Pads giving ceil(size / stride) outputs; the odd one goes at the end for SAME_UPPER."""
    begins, ends = [], []
    for n, k, s, d in zip(size, kernel, strides, dilations):
        total = max(0, (-(-n // s) - 1) * s + (k - 1) * d + 1 - n)
        begin = total // 2 if upper else total - total // 2
        begins.append(begin)
        ends.append(total - begin)
    return begins + ends


def _kernel(node: Node, from_weight: Sequence[int] | None = None) -> list[int]:
    kernel = node.attr("kernel_shape")
    if from_weight is None:
        if kernel is None:
            raise node.fail("attribute 'kernel_shape' is required")
        return list(kernel)
    if kernel is not None and list(kernel) != list(from_weight):
        raise node.fail(f"kernel_shape {list(kernel)} differs from the weight's {list(from_weight)}")
    return list(from_weight)


def _conv(node: Node) -> list[Value]:
    _spatial(node)
    kernel = _kernel(node, node.shape(1)[2:])
    op = nn.Conv2DOp(node.value(0), node.value(1), node.optional(2), groups=node.attr("group", 1),
                     **_window(node, kernel))
    return [node.emit(op)]


def _gemm(node: Node) -> list[Value]:
    op = nn.GemmOp(node.value(0), node.value(1), node.optional(2), trans_a=bool(node.attr("transA", 0)),
                   trans_b=bool(node.attr("transB", 0)), alpha=node.attr("alpha", 1.0),
                   beta=node.attr("beta", 1.0))
    return [node.emit(op)]


def _matmul(node: Node) -> list[Value]:
    return [node.emit(nn.MatmulOp(node.value(0), node.value(1)))]


def _max_pool(node: Node) -> list[Value]:
    _spatial(node)
    # storage_order only lays out the Indices output, which is rejected if anything reads it.
    node.ignore("storage_order")
    kernel = _kernel(node)
    op = nn.MaxPool2DOp(node.value(0), kernel=kernel, ceil_mode=bool(node.attr("ceil_mode", 0)),
                        **_window(node, kernel))
    return [node.emit(op)]


def _avg_pool(node: Node) -> list[Value]:
    _spatial(node)
    kernel = _kernel(node)
    window = _window(node, kernel)
    if window.pop("dilations") != [1, 1]:
        raise node.fail("dilated average pooling is not supported")
    op = nn.AvgPool2DOp(node.value(0), kernel=kernel, ceil_mode=bool(node.attr("ceil_mode", 0)),
                        count_include_pad=bool(node.attr("count_include_pad", 0)), **window)
    return [node.emit(op)]


def _global_avg_pool(node: Node) -> list[Value]:
    return [node.emit(nn.GlobalAvgPoolOp(node.value(0)))]


def _global_max_pool(node: Node) -> list[Value]:
    axes = list(range(2, len(node.shape(0))))
    return [node.emit(nn.ReduceOp(node.value(0), "max", axes, keepdims=True))]


# ---------------------------------------------------------------------------
# Elementwise
# ---------------------------------------------------------------------------


def _unary(cls) -> Callable[[Node], list[Value]]:
    def handler(node: Node) -> list[Value]:
        return [node.emit(cls(node.value(0)))]

    return handler


def _binary(cls) -> Callable[[Node], list[Value]]:
    """Add, Sub, Mul, Div; also Max and Min, which take one or more inputs (left to right)."""

    def handler(node: Node) -> list[Value]:
        values = [node.value(i) for i in range(len(node.inputs))]
        acc = values[0]
        for k, v in enumerate(values[1:], start=2):
            acc = node.emit(cls(acc, v), None if k == len(values) else f"{k - 1}")
        return [acc]

    return handler


def _pow(node: Node) -> list[Value]:
    exponent = node.const(1, "the exponent")
    values = np.unique(exponent)
    if values.size != 1:
        raise node.fail("the exponent must hold one value")
    if np.broadcast_shapes(node.shape(0), exponent.shape) != node.shape(0):
        raise node.fail(f"an exponent of shape {list(exponent.shape)} would broadcast the base")
    e, x = float(values[0]), node.value(0)
    if not np.isfinite(e):
        raise node.fail(f"exponent {e:g} is not a finite number")
    if e == 1:
        return [x]
    if e == 2:
        return [node.emit(nn.MulOp(x, x))]
    if e == 0.5:
        return [node.emit(nn.SqrtOp(x))]
    return [node.emit(nn.PowOp(x, e))]


def _clip(node: Node) -> list[Value]:
    lo = node.scalar(1, "min") if node.has(1) else None
    hi = node.scalar(2, "max") if node.has(2) else None
    return [node.emit(nn.ClipOp(node.value(0), lo, hi))]


def _gelu(node: Node) -> list[Value]:
    approximate = node.attr("approximate", "none")
    if approximate not in ("none", "tanh"):
        raise node.fail(f"approximate '{approximate}' is not one of none, tanh")
    return [node.emit(nn.GeluOp(node.value(0), approximate))]


def _softmax(node: Node) -> list[Value]:
    return [node.emit(nn.SoftmaxOp(node.value(0), node.attr("axis", -1)))]


# ---------------------------------------------------------------------------
# Normalisation and reductions
# ---------------------------------------------------------------------------


def _batch_norm(node: Node) -> list[Value]:
    if node.attr("training_mode", 0):
        raise node.fail("training_mode=1 is not supported (inference only)")
    node.ignore("momentum")  # updates the running statistics in training only
    values = [node.value(i) for i in range(5)]
    return [node.emit(nn.BatchNormOp(*values, epsilon=node.attr("epsilon", 1e-5)))]


def _layer_norm(node: Node) -> list[Value]:
    node.ignore("stash_type")  # the precision of the statistics: ours are float32 anyway
    op = nn.LayerNormOp(node.value(0), node.value(1), node.optional(2), axis=node.attr("axis", -1),
                        epsilon=node.attr("epsilon", 1e-5))
    return [node.emit(op)]


def _lrn(node: Node) -> list[Value]:
    op = nn.LrnOp(node.value(0), size=node.required("size"), alpha=node.attr("alpha", 1e-4),
                  beta=node.attr("beta", 0.75), bias=node.attr("bias", 1.0))
    return [node.emit(op)]


def _axes(node: Node, i: int) -> list[int] | None:
    """Axes as an attribute (ReduceMean/Max before opset 18, Squeeze before 13) or input i."""
    axes = node.attr("axes")
    if axes is None and node.has(i):
        axes = node.ints(i, "axes")
    return None if axes is None else list(axes)


def _reduce(kind: str) -> Callable[[Node], list[Value]]:
    def handler(node: Node) -> list[Value]:
        axes, keepdims = _axes(node, 1) or [], bool(node.attr("keepdims", 1))
        noop = node.attr("noop_with_empty_axes", 0)  # read (and so accepted) even when axes are given
        if not axes and noop:
            return [node.value(0)]
        return [node.emit(nn.ReduceOp(node.value(0), kind, axes, keepdims))]

    return handler


# ---------------------------------------------------------------------------
# Data movement
# ---------------------------------------------------------------------------


def _reshaped(node: Node, shape: Sequence[int]) -> list[Value]:
    """Input 0 as `shape`: no op when the shape does not change."""
    if tuple(shape) == node.shape(0):
        return [node.value(0)]
    return [node.emit(nn.ReshapeOp(node.value(0), shape))]


def _reshape(node: Node) -> list[Value]:
    source, target = node.shape(0), node.ints(1, "the shape")
    allowzero = node.attr("allowzero", 0)
    out = []
    for i, d in enumerate(target):
        if d == 0 and not allowzero:
            if i >= len(source):
                raise node.fail(f"shape {target} copies dimension {i}, which the input {list(source)} lacks")
            d = source[i]
        out.append(d)
    if out.count(-1) > 1:
        raise node.fail(f"shape {target} has more than one -1")
    if -1 in out:
        known = math.prod(d for d in out if d != -1)
        if known == 0 or math.prod(source) % known:
            raise node.fail(f"shape {target} does not fit the input's {math.prod(source)} elements")
        out[out.index(-1)] = math.prod(source) // known
    return _reshaped(node, out)


def _flatten(node: Node) -> list[Value]:
    return [node.emit(nn.FlattenOp(node.value(0), node.attr("axis", 1)))]


def _squeeze(node: Node) -> list[Value]:
    shape = node.shape(0)
    axes = _axes(node, 1)
    if axes is None:
        axes = [i for i, d in enumerate(shape) if d == 1]
    drop = set()
    for a in axes:
        if not -len(shape) <= a < len(shape) or shape[a] != 1:
            raise node.fail(f"axis {a} is not an axis of size 1 of the input {list(shape)}")
        drop.add(a % len(shape))
    return _reshaped(node, [d for i, d in enumerate(shape) if i not in drop])


def _unsqueeze(node: Node) -> list[Value]:
    shape = list(node.shape(0))
    axes = _axes(node, 1)
    if axes is None:
        raise node.fail("axes (input 1) is required")
    rank = len(shape) + len(axes)
    if any(not -rank <= a < rank for a in axes) or len({a % rank for a in axes}) != len(axes):
        raise node.fail(f"axes {axes} are not distinct axes of the rank-{rank} result")
    for a in sorted(a % rank for a in axes):
        shape.insert(a, 1)
    return _reshaped(node, shape)


def _transpose(node: Node) -> list[Value]:
    perm = node.attr("perm", list(reversed(range(len(node.shape(0))))))
    return [node.emit(nn.TransposeOp(node.value(0), perm))]


def _concat(node: Node) -> list[Value]:
    axis = node.required("axis")
    rank = len(node.shape(0))
    # Exporters concatenate empty constants as placeholders; they add nothing.
    parts = [i for i in range(len(node.inputs)) if node.has(i) and node.shape(i)[axis % rank] != 0]
    if len(parts) == 1:
        return [node.value(parts[0])]
    return [node.emit(nn.ConcatOp([node.value(i) for i in parts], axis))]


def _split(node: Node) -> list[Value]:
    axis, shape = node.attr("axis", 0), node.shape(0)
    if not -len(shape) <= axis < len(shape):
        raise node.fail(f"axis {axis} is out of range for the input {list(shape)}")
    size = shape[axis]
    if node.has(1):
        sizes = node.ints(1, "split")
    else:  # equal parts; from opset 18 num_outputs may make the last one smaller
        count = node.attr("num_outputs", len(node.proto.output))
        chunk = -(-size // count)
        sizes = [chunk] * (count - 1) + [size - chunk * (count - 1)]
    return node.emit_multi(nn.SplitOp(node.value(0), axis, sizes))


def _slice(node: Node) -> list[Value]:
    """A slice with step 1 as splits: the kept piece of each sliced axis."""
    shape, x = node.shape(0), node.value(0)
    starts, ends = node.ints(1, "starts"), node.ints(2, "ends")
    axes = node.ints(3, "axes") if node.has(3) else list(range(len(starts)))
    steps = node.ints(4, "steps") if node.has(4) else [1] * len(starts)
    for start, end, axis, step in zip(starts, ends, axes, steps):
        if step != 1:
            raise node.fail(f"step {step} is not supported (only 1)")
        axis %= len(shape)
        begin, stop, _ = slice(start, end).indices(shape[axis])  # ONNX clamps as Python does
        if stop <= begin:
            raise node.fail(f"the slice [{start}:{end}] of axis {axis} is empty")
        if (begin, stop) == (0, shape[axis]):
            continue
        sizes = [s for s in (begin, stop - begin, shape[axis] - stop) if s]
        x = node.emit_multi(nn.SplitOp(x, axis, sizes), f"axis{axis}")[1 if begin else 0]
    return [x]


def _pad(node: Node) -> list[Value]:
    mode = node.attr("mode", "constant")
    if mode not in ("constant", "reflect", "edge"):
        raise node.fail(f"mode '{mode}' is not supported (constant, reflect, edge)")
    rank = len(node.shape(0))
    pads = node.ints(1, "pads")
    if node.has(3):  # axes (opset 18): the pads name only these axes
        axes = [a % rank for a in node.ints(3, "axes")]
        full = [0] * (2 * rank)
        for j, a in enumerate(axes):
            full[a], full[a + rank] = pads[j], pads[j + len(axes)]
        pads = full
    if any(p < 0 for p in pads):
        raise node.fail(f"negative pads {pads} (cropping) are not supported")
    value = node.scalar(2, "constant_value") if node.has(2) else 0.0
    if not any(pads):
        return [node.value(0)]
    return [node.emit(nn.PadOp(node.value(0), pads, mode, value))]


def _gather(node: Node) -> list[Value]:
    return [node.emit(nn.GatherOp(node.value(0), node.value(1), node.attr("axis", 0)))]


def _identity(node: Node) -> list[Value]:
    return [node.value(0)]


def _dropout(node: Node) -> list[Value]:
    if node.has(2) and node.const(2, "training_mode").any():
        raise node.fail("training_mode=true is not supported (inference only)")
    node.ignore("seed")  # draws the mask in training only
    return [node.value(0)]  # the mask output is rejected if anything reads it


def _cast(node: Node) -> list[Value]:
    to = node.required("to")
    node.ignore("saturate")  # only for float8 targets, which ELEMENT_TYPES lacks
    x = node.value(0)
    assert isinstance(x.type, TensorType)
    if ELEMENT_TYPES.get(to) == x.type.get_element_type():
        return [x]
    raise node.fail(f"casting a tensor computed at run time from {x.type.get_element_type()} to ONNX "
                    f"type {to} is not supported (constants are cast at import)")


def _shape(node: Node) -> list[Value]:
    """Shapes are static, so the Shape of any tensor is a constant (and folds onwards)."""
    shape = node.shape(0)
    return [np.array(shape[node.attr("start", 0):node.attr("end", None)], np.int64)]


def _size(node: Node) -> list[Value]:
    return [np.array(math.prod(node.shape(0)), np.int64)]


# ---------------------------------------------------------------------------
# Recurrent layers
# ---------------------------------------------------------------------------

_DEFAULT_ACTIVATIONS = {"LSTM": ["sigmoid", "tanh", "tanh"], "GRU": ["sigmoid", "tanh"]}


def _recurrent(node: Node) -> tuple[int, str]:
    """Checks what nn.lstm / nn.gru cannot express; returns hidden_size and direction."""
    direction = node.attr("direction", "forward")
    dirs = 2 if direction == "bidirectional" else 1
    activations = node.attr("activations")
    defaults = _DEFAULT_ACTIVATIONS[node.op_type] * dirs
    if activations is not None and [a.lower() for a in activations] != defaults:
        raise node.fail(f"activations {activations} are not supported (only the defaults)")
    for name in ("activation_alpha", "activation_beta", "clip"):
        if node.attr(name) is not None:
            raise node.fail(f"attribute '{name}' is not supported")
    if node.attr("layout", 0) != 0:
        raise node.fail("layout=1 (batch first) is not supported")
    if node.has(4):
        lens, (seq, batch) = node.const(4, "sequence_lens"), node.shape(0)[:2]
        if lens.shape != (batch,) or np.any(lens != seq):
            raise node.fail(f"sequence_lens must be {seq} (the whole sequence) for every batch entry")
    return node.attr("hidden_size", node.shape(2)[-1]), direction


def _lstm(node: Node) -> list[Value]:
    hidden, direction = _recurrent(node)
    if node.attr("input_forget", 0):
        raise node.fail("input_forget=1 (coupled input and forget gates) is not supported")
    if node.has(7) and np.any(node.const(7, "the peephole weights P")):
        raise node.fail("peephole connections (a non-zero input P) are not supported")
    # nn.lstm takes W, R and B in ONNX's own gate order (i, o, f, c): no reordering.
    op = nn.LstmOp(node.value(0), node.value(1), node.value(2), node.optional(3), node.optional(5),
                   node.optional(6), hidden_size=hidden, direction=direction)
    return node.emit_multi(op)


def _gru(node: Node) -> list[Value]:
    hidden, direction = _recurrent(node)
    # nn.gru takes ONNX's gate order (z, r, h) and both linear_before_reset forms.
    op = nn.GruOp(node.value(0), node.value(1), node.value(2), node.optional(3), node.optional(5),
                  hidden_size=hidden, direction=direction,
                  linear_before_reset=bool(node.attr("linear_before_reset", 0)))
    return node.emit_multi(op)


HANDLERS: dict[str, Callable[[Node], list[Value]]] = {
    "Conv": _conv, "Gemm": _gemm, "MatMul": _matmul,
    "MaxPool": _max_pool, "AveragePool": _avg_pool,
    "GlobalAveragePool": _global_avg_pool, "GlobalMaxPool": _global_max_pool,
    "Relu": _unary(nn.ReluOp), "Sigmoid": _unary(nn.SigmoidOp), "Tanh": _unary(nn.TanhOp),
    "Erf": _unary(nn.ErfOp), "Sqrt": _unary(nn.SqrtOp), "Exp": _unary(nn.ExpOp),
    "Gelu": _gelu, "Clip": _clip, "Softmax": _softmax, "Pow": _pow,
    "Add": _binary(nn.AddOp), "Sub": _binary(nn.SubOp), "Mul": _binary(nn.MulOp),
    "Div": _binary(nn.DivOp), "Max": _binary(nn.MaxOp), "Min": _binary(nn.MinOp),
    "BatchNormalization": _batch_norm, "LayerNormalization": _layer_norm, "LRN": _lrn,
    "ReduceMean": _reduce("mean"), "ReduceSum": _reduce("sum"), "ReduceMax": _reduce("max"),
    "Reshape": _reshape, "Flatten": _flatten, "Squeeze": _squeeze, "Unsqueeze": _unsqueeze,
    "Transpose": _transpose, "Concat": _concat, "Split": _split, "Slice": _slice, "Pad": _pad,
    "Gather": _gather, "Identity": _identity, "Dropout": _dropout, "Cast": _cast,
    "Shape": _shape, "Size": _size,
    "LSTM": _lstm, "GRU": _gru,
}
"""ONNX op type -> handler, for nodes with an input computed at run time."""
