"""Result-shape inference for the `nn` dialect, as plain functions on integer tuples.

Every `nn` op's verifier and builder calls one of these, so that importers and
builders never compute a shape by hand and the verifier and the builder can never
disagree. The functions know nothing of IR: they take shapes and attribute values
and either return the result shape(s) or raise `ShapeError` whose message names the
field, what was expected and what was found (the op name is prefixed by the caller).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

Shape = tuple[int, ...]


class ShapeError(ValueError):
    """An operand shape or attribute is inconsistent with an op's semantics."""


def _ints(name: str, values: Sequence[int], count: int, minimum: int) -> None:
    if len(values) != count:
        found = f"{len(values)} entr{'y' if len(values) == 1 else 'ies'}"
        raise ShapeError(f"{name} has {found} but {count} are expected")
    for v in values:
        if v < minimum:
            raise ShapeError(f"{name} entries must be >= {minimum} but found {v}")


def _rank(name: str, shape: Shape, rank: int) -> None:
    if len(shape) != rank:
        raise ShapeError(f"{name} must be {rank}-d but has shape {_fmt(shape)}")


def _fmt(shape: Sequence[int]) -> str:
    return "x".join(str(d) for d in shape) if shape else "scalar"


def normalize_axis(axis: int, rank: int, name: str = "axis") -> int:
    """Maps a possibly negative axis into [0, rank) or raises ShapeError."""
    if not -rank <= axis < rank:
        raise ShapeError(f"{name} {axis} is out of range for rank {rank}")
    return axis % rank


def broadcast(a: Shape, b: Shape) -> Shape:
    """Numpy (multidirectional) broadcasting of two shapes."""
    out: list[int] = []
    for i in range(1, max(len(a), len(b)) + 1):
        da = a[-i] if i <= len(a) else 1
        db = b[-i] if i <= len(b) else 1
        if da != db and 1 not in (da, db):
            raise ShapeError(
                f"operand shapes {_fmt(a)} and {_fmt(b)} do not broadcast "
                f"(dimension {-i}: {da} vs {db})"
            )
        out.append(max(da, db) if 0 not in (da, db) else 0)
    return tuple(reversed(out))


def conv_out_size(size: int, kernel: int, stride: int, pad_begin: int, pad_end: int,
                  dilation: int, ceil_mode: bool = False) -> int:
    """Output length of one spatial axis of a convolution or pooling window.

    In ceil mode a last window that would start inside the end padding is dropped,
    as in ONNX Runtime and PyTorch.
    """
    span = dilation * (kernel - 1) + 1
    padded = size + pad_begin + pad_end
    if padded < span:
        return 0
    if not ceil_mode:
        return (padded - span) // stride + 1
    out = math.ceil((padded - span) / stride) + 1
    if (out - 1) * stride >= size + pad_begin:
        out -= 1
    return out


def _window(input_shape: Shape, kernel: Sequence[int], strides: Sequence[int],
            pads: Sequence[int], dilations: Sequence[int], ceil_mode: bool,
            kernel_name: str = "kernel") -> tuple[int, int]:
    _ints(kernel_name, kernel, 2, 1)
    _ints("strides", strides, 2, 1)
    _ints("pads", pads, 4, 0)
    _ints("dilations", dilations, 2, 1)
    hw = []
    for axis, name in ((0, "height"), (1, "width")):
        size = input_shape[2 + axis]
        out = conv_out_size(size, kernel[axis], strides[axis], pads[axis], pads[axis + 2],
                            dilations[axis], ceil_mode)
        if out < 1:
            raise ShapeError(
                f"window of {kernel[axis]} (dilation {dilations[axis]}) does not fit the "
                f"padded input {name} {size}+{pads[axis]}+{pads[axis + 2]}"
            )
        hw.append(out)
    return hw[0], hw[1]


def conv2d(input: Shape, weight: Shape, bias: Shape | None, strides: Sequence[int],
           pads: Sequence[int], dilations: Sequence[int], groups: int) -> Shape:
    """NCHW input, OIHW weight with I = C / groups; pads are (top, left, bottom, right)."""
    _rank("input", input, 4)
    _rank("weight", weight, 4)
    if groups < 1:
        raise ShapeError(f"groups must be >= 1 but found {groups}")
    n, c = input[0], input[1]
    o, ci = weight[0], weight[1]
    if c % groups:
        raise ShapeError(f"input has {c} channels, which is not divisible by groups {groups}")
    if o % groups:
        raise ShapeError(f"weight has {o} output channels, which is not divisible by groups {groups}")
    if ci * groups != c:
        raise ShapeError(
            f"weight has {ci} input channels per group but input has {c // groups}"
            + (f" ({c} channels in {groups} groups)" if groups > 1 else "")
        )
    if bias is not None and bias != (o,):
        raise ShapeError(f"bias must have shape {o} but has shape {_fmt(bias)}")
    h, w = _window(input, weight[2:], strides, pads, dilations, False, "weight kernel size")
    return (n, o, h, w)


def pool2d(input: Shape, kernel: Sequence[int], strides: Sequence[int], pads: Sequence[int],
           dilations: Sequence[int], ceil_mode: bool) -> Shape:
    """Max or average pooling over the two spatial axes of an NCHW tensor."""
    _rank("input", input, 4)
    _ints("kernel", kernel, 2, 1)
    _ints("pads", pads, 4, 0)
    for axis in range(2):
        if pads[axis] >= kernel[axis] or pads[axis + 2] >= kernel[axis]:
            raise ShapeError(
                f"pads {list(pads)} must be smaller than the kernel {list(kernel)}"
            )
    h, w = _window(input, kernel, strides, pads, dilations, ceil_mode)
    return (input[0], input[1], h, w)


def global_pool(input: Shape) -> Shape:
    if len(input) < 3:
        raise ShapeError(f"input must have at least 3 dimensions but has shape {_fmt(input)}")
    return input[:2] + (1,) * (len(input) - 2)


def matmul(a: Shape, b: Shape) -> Shape:
    """Numpy matmul: 1-D operands are promoted and the promoted axis removed again."""
    if not a or not b:
        raise ShapeError("operands of matmul must have at least one dimension")
    a2 = (1,) + a if len(a) == 1 else a
    b2 = b + (1,) if len(b) == 1 else b
    if a2[-1] != b2[-2]:
        raise ShapeError(
            f"lhs has {a2[-1]} columns but rhs has {b2[-2]} rows "
            f"(shapes {_fmt(a)} and {_fmt(b)})"
        )
    try:
        batch = broadcast(a2[:-2], b2[:-2])
    except ShapeError:
        raise ShapeError(
            f"batch dimensions of lhs {_fmt(a)} and rhs {_fmt(b)} do not broadcast"
        ) from None
    out = batch + (a2[-2], b2[-1])
    if len(a) == 1:
        out = out[:-2] + out[-1:]
    if len(b) == 1:
        out = out[:-1]
    return out


def gemm(a: Shape, b: Shape, c: Shape | None, trans_a: bool, trans_b: bool) -> Shape:
    """ONNX Gemm: op(A)[M,K] x op(B)[K,N] + C, C unidirectionally broadcast to [M,N]."""
    _rank("lhs", a, 2)
    _rank("rhs", b, 2)
    m, k = (a[1], a[0]) if trans_a else a
    k2, n = (b[1], b[0]) if trans_b else b
    if k != k2:
        raise ShapeError(f"lhs gives K = {k} but rhs gives K = {k2}")
    if c is not None:
        try:
            fits = len(c) <= 2 and broadcast(c, (m, n)) == (m, n)
        except ShapeError:
            fits = False
        if not fits:
            raise ShapeError(f"bias of shape {_fmt(c)} does not broadcast to {m}x{n}")
    return (m, n)


def reduce(input: Shape, axes: Sequence[int], keepdims: bool) -> Shape:
    """Reduction over `axes` (all axes when empty)."""
    rank = len(input)
    norm = {normalize_axis(a, rank, "axes entry") for a in axes} if axes else set(range(rank))
    if axes and len(norm) != len(axes):
        raise ShapeError(f"axes {list(axes)} name the same axis twice")
    if keepdims:
        return tuple(1 if i in norm else d for i, d in enumerate(input))
    return tuple(d for i, d in enumerate(input) if i not in norm)


def concat(inputs: Sequence[Shape], axis: int) -> Shape:
    if not inputs:
        raise ShapeError("needs at least one input")
    first = inputs[0]
    ax = normalize_axis(axis, len(first))
    total = 0
    for i, s in enumerate(inputs):
        if len(s) != len(first) or any(d != e for j, (d, e) in enumerate(zip(s, first)) if j != ax):
            raise ShapeError(
                f"input {i} has shape {_fmt(s)} but must match {_fmt(first)} except on axis {ax}"
            )
        total += s[ax]
    return first[:ax] + (total,) + first[ax + 1:]


def split(input: Shape, axis: int, sizes: Sequence[int]) -> list[Shape]:
    ax = normalize_axis(axis, len(input))
    if any(s < 1 for s in sizes):
        raise ShapeError(f"sizes {list(sizes)} must all be >= 1")
    if sum(sizes) != input[ax]:
        raise ShapeError(f"sizes {list(sizes)} add up to {sum(sizes)} but axis {ax} has {input[ax]}")
    return [input[:ax] + (s,) + input[ax + 1:] for s in sizes]


def reshape(input: Shape, output: Shape) -> Shape:
    if math.prod(input) != math.prod(output):
        raise ShapeError(
            f"input {_fmt(input)} has {math.prod(input)} elements but result "
            f"{_fmt(output)} has {math.prod(output)}"
        )
    return output


def flatten(input: Shape, axis: int) -> Shape:
    """ONNX Flatten: [d0..d(axis-1)] x [d(axis)..] as a 2-D shape; axis in [-r, r]."""
    rank = len(input)
    if not -rank <= axis <= rank:
        raise ShapeError(f"axis {axis} is out of range for rank {rank}")
    ax = axis + rank if axis < 0 else axis
    return (math.prod(input[:ax]), math.prod(input[ax:]))


def transpose(input: Shape, perm: Sequence[int]) -> Shape:
    if sorted(perm) != list(range(len(input))):
        raise ShapeError(f"perm {list(perm)} is not a permutation of 0..{len(input) - 1}")
    return tuple(input[p] for p in perm)


def pad(input: Shape, pads: Sequence[int], mode: str) -> Shape:
    """pads in ONNX order: all begins, then all ends."""
    rank = len(input)
    _ints("pads", pads, 2 * rank, 0)
    if mode == "reflect":
        for i, d in enumerate(input):
            if max(pads[i], pads[i + rank]) >= d:
                raise ShapeError(f"reflect pads on axis {i} must be smaller than its size {d}")
    return tuple(d + pads[i] + pads[i + rank] for i, d in enumerate(input))


def gather(data: Shape, indices: Shape, axis: int) -> Shape:
    ax = normalize_axis(axis, len(data))
    return data[:ax] + indices + data[ax + 1:]


def batch_norm(input: Shape, params: Sequence[Shape]) -> Shape:
    if len(input) < 2:
        raise ShapeError(f"input must have at least 2 dimensions but has shape {_fmt(input)}")
    names = ("scale", "bias", "mean", "var")
    for name, s in zip(names, params):
        if s != (input[1],):
            raise ShapeError(f"{name} must have shape {input[1]} (the channels) but has shape {_fmt(s)}")
    return input


def layer_norm(input: Shape, scale: Shape, bias: Shape | None, axis: int) -> Shape:
    ax = normalize_axis(axis, len(input))
    norm = input[ax:]
    for name, s in (("scale", scale), ("bias", bias)):
        if s is not None and s != norm:
            raise ShapeError(f"{name} must have shape {_fmt(norm)} but has shape {_fmt(s)}")
    return input


def softmax(input: Shape, axis: int) -> Shape:
    normalize_axis(axis, len(input))
    return input


def lrn(input: Shape, size: int) -> Shape:
    if len(input) < 3:
        raise ShapeError(f"input must have at least 3 dimensions but has shape {_fmt(input)}")
    if size < 1:
        raise ShapeError(f"size must be >= 1 but found {size}")
    return input


DIRECTIONS = {"forward": 1, "reverse": 1, "bidirectional": 2}


def recurrent(x: Shape, w: Shape, r: Shape, b: Shape | None, initial: Sequence[Shape | None],
              hidden: int, direction: str, gates: int) -> tuple[Shape, Shape]:
    """Shared shape rules of ONNX LSTM (gates=4) and GRU (gates=3), layout 0.

    Returns the shapes of Y [seq, dirs, batch, H] and of the final states [dirs, batch, H].
    """
    _rank("input", x, 3)
    if hidden < 1:
        raise ShapeError(f"hidden_size must be >= 1 but found {hidden}")
    dirs = DIRECTIONS[direction]
    seq, batch, size = x
    expected = {
        "weight": (w, (dirs, gates * hidden, size)),
        "recurrence": (r, (dirs, gates * hidden, hidden)),
        "bias": (b, (dirs, 2 * gates * hidden)),
    }
    for i, s in enumerate(initial):
        expected[("initial_h", "initial_c")[i]] = (s, (dirs, batch, hidden))
    for name, (found, want) in expected.items():
        if found is not None and tuple(found) != want:
            raise ShapeError(f"{name} must have shape {_fmt(want)} but has shape {_fmt(found)}")
    return (seq, dirs, batch, hidden), (dirs, batch, hidden)
