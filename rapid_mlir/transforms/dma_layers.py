"""The `nn` data-movement ops the device runs as DMA transfers, and their loop nests.

`nn.concat`, `nn.split`, `nn.transpose` and `nn.pad` compute nothing: every element of
the result is an element of an input (or a pad value). Each becomes a `copy` layer
(`rapid_mlir.mapping.problem.copy`) whose work is a list of `Transfer`s, boxes of the
larger tensor (the output; a split's input) that one strided access pattern reads and
another writes:

- concat: one box per input, at its offset along the axis of the output;
- split: one box per result, at its offset along the axis of the input;
- transpose: one box, read with the input's strides permuted;
- pad, constant: the input's box, and for every padded dim a slab before and after it
  filled with the pad value (a DMA whose source is all padding, `padval` the value);
- pad, edge: per dim the segments before, inside and after the input; the product of the
  segments are the boxes, a border segment reading the edge element with stride 0;
- pad, reflect: as edge, a border segment reading the mirrored elements with stride -1
  from the element next to the edge.

Adjacent dims are merged where every box spans the inner one whole and both of its
accesses are contiguous across the two (a concat is then `[outer, axis * inner]`); dims
of extent 1 are dropped. A merged dim is named after the dims it spans (`d1_2_3`). The
cores split a dim into equal shares of every box (SPMD: one code, the core index a
coefficient of the addresses), so a split must divide the `grain` of the dim, the gcd of
the boxes' extents along it (the extent for a dim no box cuts).

The device runs an op when its tensors are floating point (the device's storage is f16)
and at most four dims remain (the ISA's access patterns have four); otherwise the host
does. `dma_lowering` turns the transfers into DMA code.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, replace

from xdsl.dialects.builtin import IntegerType
from xdsl.ir import Operation

from rapid_mlir.dialects import nn
from rapid_mlir.dialects.nn_shapes import normalize_axis
from rapid_mlir.mapping import problem as P

DMA_OPS = (nn.ConcatOp, nn.SplitOp, nn.TransposeOp, nn.PadOp)
"""The ops that become DMA kernels (when `copy_layout` accepts them)."""

MAX_DIMS = 4
"""Dims of an access pattern in the ISA."""


@dataclass(frozen=True)
class Transfer:
    """A box of the larger tensor and how it moves: the element at box index `i` (relative
    to `start`) is read at `src_offset + sum(i_d * src_strides[d])` of the kernel's DRAM
    buffer number `src` and written at `dst_offset + sum(i_d * dst_strides[d])` of buffer
    `dst` (buffers: the op's operands, then its results). `src` None: a fill with the
    layout's pad value."""

    start: tuple[int, ...]
    size: tuple[int, ...]
    dst: int
    dst_offset: int
    dst_strides: tuple[int, ...]
    src: int | None = None
    src_offset: int = 0
    src_strides: tuple[int, ...] = ()


@dataclass(frozen=True)
class CopyLayout:
    """A data-movement op as boxes of its larger tensor, over (merged) named dims."""

    dims: dict[str, int]
    transfers: tuple[Transfer, ...]
    padval: float = 0.0

    @property
    def grain(self) -> dict[str, int]:
        """Per dim, the gcd of the boxes' extents along it."""
        return {d: math.gcd(*(t.size[i] for t in self.transfers)) for i, d in enumerate(self.dims)}

    def problem(self, layer: str) -> P.Problem:
        return P.copy(layer, self.dims, self.grain)


def dma_problem(op: Operation, layer: str) -> P.Problem | None:
    """The loop nest of a data-movement op the device runs, or None for other ops."""
    layout = copy_layout(op)
    return layout.problem(layer) if layout is not None else None


def copy_layout(op: Operation) -> CopyLayout | None:
    """The transfers of a concat, split, transpose or pad (None: not a device op)."""
    if not isinstance(op, DMA_OPS):
        return None
    if any(isinstance(v.type.get_element_type(), IntegerType) for v in [*op.operands, *op.results]):
        return None  # integer tensors live in DRAM as f32 (host_lowering.dram_type): the host moves them
    if isinstance(op, nn.ConcatOp):
        layout = _concat(op)
    elif isinstance(op, nn.SplitOp):
        layout = _split(op)
    elif isinstance(op, nn.TransposeOp):
        layout = _transpose(op)
    else:
        layout = _pad(op)
    return layout if len(layout.dims) <= MAX_DIMS else None


def row_major(shape) -> tuple[int, ...]:
    """Element strides of a row-major array of `shape`."""
    out, acc = [], 1
    for e in reversed(list(shape)):
        out.append(acc)
        acc *= e
    return tuple(out[::-1])


def _shape(value) -> tuple[int, ...]:
    return tuple(value.type.get_shape())


def _dot(index, strides) -> int:
    return sum(i * s for i, s in zip(index, strides))


def _concat(op: nn.ConcatOp) -> CopyLayout:
    out = _shape(op.output)
    axis = normalize_axis(op.axis.value.data, len(out))
    ys = row_major(out)
    transfers, at = [], 0
    for k, value in enumerate(op.inputs):
        shape = _shape(value)
        start = tuple(at if d == axis else 0 for d in range(len(out)))
        transfers.append(Transfer(start, shape, len(op.inputs), _dot(start, ys), ys, k, 0, row_major(shape)))
        at += shape[axis]
    return _canonical(out, transfers)


def _split(op: nn.SplitOp) -> CopyLayout:
    big = _shape(op.input)
    axis = normalize_axis(op.axis.value.data, len(big))
    xs = row_major(big)
    transfers, at = [], 0
    for j, value in enumerate(op.outputs):
        shape = _shape(value)
        start = tuple(at if d == axis else 0 for d in range(len(big)))
        transfers.append(Transfer(start, shape, 1 + j, 0, row_major(shape), 0, _dot(start, xs), xs))
        at += shape[axis]
    return _canonical(big, transfers)


def _transpose(op: nn.TransposeOp) -> CopyLayout:
    out = _shape(op.output)
    xs = row_major(_shape(op.input))
    strides = tuple(xs[p] for p in nn.ints(op.perm))
    zero = (0,) * len(out)
    return _canonical(out, [Transfer(zero, out, 1, 0, row_major(out), 0, 0, strides)])


def _pad(op: nn.PadOp) -> CopyLayout:
    x, out = _shape(op.input), _shape(op.output)
    rank = len(x)
    pads = nn.ints(op.pads)
    before, after = pads[:rank], pads[rank:]
    xs, ys = row_major(x), row_major(out)
    mode = op.mode.data.value
    if mode == "constant":
        return _canonical(out, _constant_pad(x, out, before, xs, ys), float(op.value.value.data))
    # Per dim: (output start, size, first input index, input step) of each segment.
    segments = []
    for d in range(rank):
        b, e, n = before[d], after[d], x[d]
        if mode == "edge":
            border = [(0, b, 0, 0), (b + n, e, n - 1, 0)]
        else:  # reflect: the mirror image without the edge element
            border = [(0, b, b, -1), (b + n, e, n - 2, -1)]
        segments.append([s for s in (border[0], (b, n, 0, 1), border[1]) if s[1] > 0])
    transfers = []
    for combo in itertools.product(*segments):
        start = tuple(s[0] for s in combo)
        transfers.append(Transfer(start, tuple(s[1] for s in combo), 1, _dot(start, ys), ys, 0,
                                  _dot([s[2] for s in combo], xs), tuple(s[3] * t for s, t in zip(combo, xs))))
    return _canonical(out, transfers)


def _constant_pad(x, out, before, xs, ys) -> list[Transfer]:
    """The input's box and, per padded dim d, the slabs before and after it (inside the
    input's extent along the dims before d, whole along the dims after d)."""
    rank = len(x)
    transfers = []
    for d in range(rank):
        for lo, size in ((0, before[d]), (before[d] + x[d], out[d] - before[d] - x[d])):
            if size == 0:
                continue
            start = tuple(before[:d]) + (lo,) + (0,) * (rank - d - 1)
            shape = tuple(x[:d]) + (size,) + tuple(out[d + 1:])
            transfers.append(Transfer(start, shape, 1, _dot(start, ys), ys))
    start = tuple(before)
    transfers.append(Transfer(start, tuple(x), 1, _dot(start, ys), ys, 0, 0, xs))
    return transfers


def _canonical(shape, transfers: list[Transfer], padval: float = 0.0) -> CopyLayout:
    """Drops dims of extent 1 and merges adjacent dims where every transfer allows it."""
    if not shape:  # a 0-d tensor: one element
        return CopyLayout({"d0": 1}, tuple(replace(t, start=(0,), size=(1,), dst_strides=(1,),
                                                   src_strides=(1,) if t.src is not None else ())
                                           for t in transfers), padval)
    keep = [d for d, e in enumerate(shape) if e > 1] or [len(shape) - 1]
    groups = [[d] for d in keep]
    extents = [shape[d] for d in keep]

    def pick(values, dims):
        return [values[d] for d in dims] if values else []

    rows = [(pick(t.start, keep), pick(t.size, keep), pick(t.dst_strides, keep), pick(t.src_strides, keep))
            for t in transfers]
    j = 0
    while j + 1 < len(groups):
        inner = extents[j + 1]
        if all(_mergeable(r, j, inner) for r in rows):
            for start, size, dst, src in rows:
                start[j] *= inner
                size[j] *= size[j + 1]
                for strides in (dst, src) if src else (dst,):
                    strides[j] = strides[j + 1]
                for values in (start, size, dst, src):
                    if values:
                        del values[j + 1]
            groups[j] += groups.pop(j + 1)
            extents[j] *= extents.pop(j + 1)
        else:
            j += 1
    dims = {"d" + "_".join(map(str, range(g[0], g[-1] + 1))): e for g, e in zip(groups, extents)}
    out = tuple(replace(t, start=tuple(start), size=tuple(size), dst_strides=tuple(dst), src_strides=tuple(src))
                for t, (start, size, dst, src) in zip(transfers, rows))
    return CopyLayout(dims, out, padval)


def _mergeable(row, j: int, inner: int) -> bool:
    """Whether dims j and j + 1 of a transfer merge: the box spans dim j + 1 whole and
    both accesses step over it contiguously (a stride over a box of size 1 is free)."""
    start, size, dst, src = row
    if start[j + 1] != 0 or size[j + 1] != inner:
        return False
    if size[j] == 1:
        return True
    return all(s[j] == inner * s[j + 1] for s in ((dst, src) if src else (dst,)))
