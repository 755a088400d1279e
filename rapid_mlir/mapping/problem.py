"""Layers as loop nests: the dimensions and operands a mapping talks about.

A `Problem` names every loop dimension of a layer with its extent, and lists each
operand with the dimensions that index it. Convolutions and matrix products share one
form, the generalised matrix product the MPE computes (`C[m, n] += A[m, k] * B[k, n]`):

- conv2d: dims `n, g, oc, oh, ow, ic, kh, kw` (oc and ic per group); the input is read
  at `(oh * stride + kh * dilation - pad, ow * stride + kw * dilation - pad)`, so an
  output tile of `th x tw` rows needs an input window of
  `(th - 1) * stride + (kh - 1) * dilation + 1` rows (its halo).
- matmul / gemm: dims `b, m, n, k` (b = 1 for gemm).

A conv's or gemm's fused activation (`act_min` / `act_max`, or a relu or clip fused into
its kernel) adds no dims or operands: the SFU epilogue clamps the output tile in place.

Data-movement layers (concat, split, transpose, pad) are of kind `copy`: every element
passes DRAM -> LX -> DRAM through DMA transfers and nothing computes. Their dims are those
of the larger tensor (the output; a split's input) with adjacent dims merged where every
transfer is contiguous across them (`d1_2_3` names output dims 1 to 3 merged), and one
operand, the LX `tile` each transfer goes through. `grain` gives, per dim, the gcd of the
pieces' extents along it (the tensor is cut into pieces along a concat or split axis and
padded dims; an uncut dim's grain is its extent): the cores may split a dim into p parts
when p divides its grain, so every core runs the same code (SPMD) on a share of every piece.

The layers the SFU runs alone (elementwise, normalisation, pooling, softmax) are of kind
`vector`: a loop nest over the output's dims, plus the dims they reduce (`reduction`,
which a mapping keeps whole in LX). Their operands say how they live in LX (`role`):
`tile` (streamed in tiles of `lx(d)`), `window` (the input of a pooling layer, read
through its window: `oh`, `ow` with their halo, as for conv2d), `resident` (held whole
for a corelet's share and loaded once: batch-norm parameters) or `temp` (SFU scratch of
one tile, never moved). See `vector_whole_dims` for the dims that cannot be tiled.

- elementwise: dims `d0, d1, ...` of the output; each input is indexed by the dims it
  does not broadcast (numpy rules).
- batch_norm: dims `n, c, s` (s = the spatial dims flattened); the four parameter
  vectors and the derived f32 scale and shift vectors are resident over `c`.
- pool2d: dims `n, c, oh, ow, kh, kw`, reduction `kh, kw`.
- global_pool: dims `n, c, s`, reduction `s`.
- softmax: dims `m, k` (rows, and the reduced last axis), `m, k, i` over another axis.
- gelu: elementwise, plus one f32 temp tile for the SFU's chain of instructions.
- power (`nn.pow`): the same, its temp tile holding `p · log x` or a partial product.
- layer_norm: dims `m, k` (the rows before `axis`, the normalised dims from it on,
  flattened), `k` reduced; scale and bias resident over `k`.
- lrn: dims `n, c, s` (s = the spatial dims flattened); `c` counts as reduced (every
  output channel sums a window of its neighbours, so a tile holds all channels).
- reduce: dims `d0, d1, ...` of the input, the reduced axes as reduction; the output is
  indexed by the kept dims (with or without keepdims: the same bytes).
- elementwise group (`transforms/elementwise_groups.py`): one dim `m`, the rows (every
  dim but the last, flattened; the values of a group share them); each input, output and
  intermediate holds whole rows, so its element size is the bytes of one row (`2 * width`
  in f16). Intermediates are per-step tiles (role `tile`, double-buffered like the
  streamed ones) that no transfer moves.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Operand:
    """An operand of the loop nest: its name, the dims indexing it, bytes per element."""

    name: str
    dims: tuple[str, ...]
    itemsize: int = 2
    role: str = "tile"
    """How a vector layer holds it in LX: tile, window, resident or temp (module docstring)."""


@dataclass(frozen=True)
class Problem:
    """A layer as a loop nest."""

    layer: str                      # the nn op's name, for messages
    kind: str                       # "conv2d", "matmul", "vector" or "copy"
    dims: dict[str, int]            # dimension -> extent, in loop-nest order
    operands: tuple[Operand, ...]
    reduction: tuple[str, ...]      # the dims summed over
    params: dict[str, int] = field(default_factory=dict)  # strides, pads, dilations
    grain: dict[str, int] = field(default_factory=dict)  # copy: core splits must divide these

    def macs(self) -> int:
        total = 1
        for extent in self.dims.values():
            total *= extent
        return total


def conv2d(layer: str, input_shape, weight_shape, strides, pads, dilations, groups,
           residual: bool = False) -> Problem:
    """The loop nest of an NCHW conv2d with OIHW weights; with `residual`, a tensor of the
    output's shape is added to it in the epilogue (a fused residual add: an operand
    `residual`, and `params["residual"] = 1`)."""
    n, c, h, w = input_shape
    o, ci, kh, kw = weight_shape
    from rapid_mlir.dialects.nn_shapes import conv_out_size

    oh = conv_out_size(h, kh, strides[0], pads[0], pads[2], dilations[0])
    ow = conv_out_size(w, kw, strides[1], pads[1], pads[3], dilations[1])
    dims = {"n": n, "g": groups, "oc": o // groups, "oh": oh, "ow": ow, "ic": ci, "kh": kh, "kw": kw}
    operands = (
        Operand("input", ("n", "g", "ic", "oh", "ow")),   # read through the window (halo)
        Operand("weight", ("g", "oc", "ic", "kh", "kw")),
        Operand("output", ("n", "g", "oc", "oh", "ow")),
    )
    params = {"stride_h": strides[0], "stride_w": strides[1], "dil_h": dilations[0],
              "dil_w": dilations[1], "pad_t": pads[0], "pad_l": pads[1], "pad_b": pads[2],
              "pad_r": pads[3], "in_h": h, "in_w": w}
    if residual:
        operands += (Operand("residual", ("n", "g", "oc", "oh", "ow")),)
        params["residual"] = 1
    return Problem(layer, "conv2d", dims, operands, ("ic", "kh", "kw"), params)


def with_residual(problem: Problem) -> Problem:
    """A conv2d problem with a fused residual add (`conv2d(residual=True)`)."""
    if problem.params.get("residual"):
        return problem
    return Problem(problem.layer, problem.kind, dict(problem.dims),
                   problem.operands + (Operand("residual", ("n", "g", "oc", "oh", "ow")),),
                   problem.reduction, {**problem.params, "residual": 1}, dict(problem.grain))


def matmul(layer: str, batch: int, m: int, n: int, k: int) -> Problem:
    """The loop nest of a (batched) matrix product C[b, m, n] = A[b, m, k] x B[b, k, n]."""
    dims = {"b": batch, "m": m, "n": n, "k": k}
    operands = (Operand("lhs", ("b", "m", "k")), Operand("rhs", ("b", "k", "n")),
                Operand("output", ("b", "m", "n")))
    return Problem(layer, "matmul", dims, operands, ("k",))


COPY = "copy"


def copy(layer: str, dims: dict[str, int], grain: dict[str, int]) -> Problem:
    """A data-movement layer over `dims` (the larger tensor's, merged) whose pieces' extents
    along each dim are multiples of `grain` (see the module docstring)."""
    return Problem(layer, COPY, dict(dims), (Operand("tile", tuple(dims)),), (), grain=dict(grain))


# -- vector layers (the SFU alone) ---------------------------------------------------------

VECTOR = "vector"

_ROLES = ("tile", "window", "resident", "temp")


def vector_whole_dims(problem: Problem) -> tuple[str, ...]:
    """The dims of a vector layer that a mapping keeps whole per corelet and never splits
    over cores: the reduced dims, and the output rows and columns a window operand reads
    (their tiles would need halos that change with the position)."""
    window = {d for op in problem.operands if op.role == "window" for d in op.dims if d in ("oh", "ow")}
    return tuple(d for d in problem.dims if d in problem.reduction or d in window)


def elementwise(layer: str, out_shape, in_shapes, params: dict[str, int] | None = None) -> Problem:
    """An elementwise op of inputs broadcast (numpy rules) to `out_shape`; dims `d0, ...`."""
    rank = len(out_shape)
    dims = {f"d{i}": int(e) for i, e in enumerate(out_shape)}
    operands = []
    for j, shape in enumerate(in_shapes):
        lead = rank - len(shape)
        indexed = tuple(f"d{lead + i}" for i, e in enumerate(shape) if e == out_shape[lead + i])
        operands.append(Operand(f"input{j}" if len(in_shapes) > 1 else "input", indexed))
    operands.append(Operand("output", tuple(dims)))
    return Problem(layer, VECTOR, dims, tuple(operands), (), dict(params or {}))


def elementwise_group(layer: str, rows: int, inputs, temps, outputs) -> Problem:
    """The kernel of an elementwise group over `rows` rows whose inputs, intermediates and
    outputs are rows of the given widths (f16 elements): dims `m`; `params["group"] = 1`."""
    def row(name: str, widths) -> tuple[Operand, ...]:
        return tuple(Operand(f"{name}{j}", ("m",), 2 * int(w)) for j, w in enumerate(widths))

    operands = row("input", inputs) + row("temp", temps) + row("output", outputs)
    return Problem(layer, VECTOR, {"m": int(rows)}, operands, (), {"group": 1})


def batch_norm(layer: str, shape) -> Problem:
    """Inference batch norm of an `N x C x ...` input: dims `n, c, s`."""
    n, c = shape[0], shape[1]
    s = 1
    for e in shape[2:]:
        s *= e
    dims = {"n": n, "c": c, "s": s}
    vectors = tuple(Operand(name, ("c",), 2, "resident") for name in ("scale", "bias", "mean", "var"))
    derived = tuple(Operand(name, ("c",), 4, "resident") for name in ("bn_scale", "bn_shift"))
    operands = (Operand("input", ("n", "c", "s")),) + vectors + derived + (Operand("output", ("n", "c", "s")),)
    return Problem(layer, VECTOR, dims, operands, ())


def pool2d(layer: str, input_shape, output_shape, kernel, strides, pads, dilations=(1, 1)) -> Problem:
    """Max or average pooling of an NCHW input: dims `n, c, oh, ow, kh, kw`."""
    n, c, h, w = input_shape
    oh, ow = output_shape[2], output_shape[3]
    dims = {"n": n, "c": c, "oh": oh, "ow": ow, "kh": kernel[0], "kw": kernel[1]}
    operands = (Operand("input", ("n", "c", "oh", "ow"), 2, "window"), Operand("output", ("n", "c", "oh", "ow")))
    params = {"stride_h": strides[0], "stride_w": strides[1], "dil_h": dilations[0], "dil_w": dilations[1],
              "pad_t": pads[0], "pad_l": pads[1], "pad_b": pads[2], "pad_r": pads[3], "in_h": h, "in_w": w}
    return Problem(layer, VECTOR, dims, operands, ("kh", "kw"), params)


def global_pool(layer: str, shape) -> Problem:
    """Global average pooling of an `N x C x ...` input: dims `n, c, s`, s reduced."""
    s = 1
    for e in shape[2:]:
        s *= e
    dims = {"n": shape[0], "c": shape[1], "s": s}
    operands = (Operand("input", ("n", "c", "s")), Operand("sums", ("n", "c"), 4, "temp"),
                Operand("output", ("n", "c")))
    return Problem(layer, VECTOR, dims, operands, ("s",))


def softmax(layer: str, shape, axis: int) -> Problem:
    """Softmax along `axis`: dims `m` (the rows before it), `k` (the axis) and, when the
    axis is not the last, `i` (the dims after it)."""
    axis %= len(shape)
    m = k = 1
    for e in shape[:axis]:
        m *= e
    k = shape[axis]
    inner = 1
    for e in shape[axis + 1:]:
        inner *= e
    dims = {"m": m, "k": k} | ({"i": inner} if axis != len(shape) - 1 else {})
    data = tuple(dims)
    operands = (Operand("input", data), Operand("exp", data, 4, "temp"),
                Operand("stats", ("m",) + (("i",) if "i" in dims else ()), 4, "temp"), Operand("output", data))
    return Problem(layer, VECTOR, dims, operands, ("k",))


def gelu(layer: str, shape) -> Problem:
    """GELU (either formula) of a tensor: dims `d0, ...`; the intermediate of the SFU's
    chain of instructions (the normal CDF, or the tanh argument) is one f32 temp tile."""
    p = elementwise(layer, shape, [shape])
    x, out = p.operands
    return Problem(layer, VECTOR, p.dims, (x, Operand("cdf", x.dims, 4, "temp"), out), ())


def power(layer: str, shape) -> Problem:
    """x^p with a constant p (`nn.pow`): dims `d0, ...`; the intermediate of the SFU's
    chain (log x times p, or a partial product) is one f32 temp tile."""
    p = elementwise(layer, shape, [shape])
    x, out = p.operands
    return Problem(layer, VECTOR, p.dims, (x, Operand("power", x.dims, 4, "temp"), out), ())


def layer_norm(layer: str, shape, axis: int, bias: bool) -> Problem:
    """Layer norm over the dims `[axis, rank)`: dims `m` (the rows before `axis`) and `k`
    (the normalised dims, flattened; reduced). Scale and bias are resident over `k`; the
    centred rows and their squares are f32 temp tiles, the row mean and inverse standard
    deviation an f32 temp of one value per row."""
    axis %= len(shape)
    dims = {"m": math.prod(shape[:axis]), "k": math.prod(shape[axis:])}
    vectors = tuple(Operand(name, ("k",), 2, "resident") for name in ("scale", "bias")[:1 + bias])
    temps = (Operand("centred", ("m", "k"), 4, "temp"), Operand("squares", ("m", "k"), 4, "temp"),
             Operand("stats", ("m",), 4, "temp"))
    operands = (Operand("input", ("m", "k")),) + vectors + temps + (Operand("output", ("m", "k")),)
    return Problem(layer, VECTOR, dims, operands, ("k",))


def lrn(layer: str, shape, size: int) -> Problem:
    """Local response normalisation across channels of an `N x C x ...` input: dims `n, c,
    s`; `c` is kept whole (a window of `size` channels around each); the squares and the
    denominator are f32 temp tiles."""
    dims = {"n": shape[0], "c": shape[1], "s": math.prod(shape[2:])}
    data = tuple(dims)
    operands = (Operand("input", data), Operand("squares", data, 4, "temp"),
                Operand("denominator", data, 4, "temp"), Operand("output", data))
    return Problem(layer, VECTOR, dims, operands, ("c",), {"size": int(size)})


def reduce_axes(rank: int, axes) -> tuple[int, ...]:
    """The reduced axes, normalised and sorted (all of them when `axes` is empty)."""
    return tuple(sorted({a % rank for a in axes})) if len(axes) else tuple(range(rank))


def reduce_groups(dims: dict[str, int], reduced: tuple[str, ...]) -> list[tuple[str, ...]]:
    """The reduced dims in runs the SFU reduces with one `rsum` / `rmax` each (a run is
    contiguous in a row-major tile: reduced dims next to each other, or separated only by
    dims of extent 1), innermost run first."""
    groups: list[list[str]] = []
    open_run = False
    for d, extent in dims.items():
        if d in reduced:
            if not open_run:
                groups.append([])
            groups[-1].append(d)
            open_run = True
        elif extent > 1:
            open_run = False
    return [tuple(g) for g in reversed(groups)]


def reduce(layer: str, shape, axes, kind: str) -> Problem:
    """A sum, mean or max over `axes` of the input: dims `d0, ...` of the input, the axes
    reduced. One f32 `partial<j>` temp per reduction run but the last (each run is one
    SFU reduction, innermost first: `reduce_groups`), an f32 `sums` temp for a mean
    (scaled into the output), and the output over the kept dims."""
    dims = {f"d{i}": int(e) for i, e in enumerate(shape)}
    reduced = tuple(f"d{a}" for a in reduce_axes(len(shape), axes))
    kept = tuple(d for d in dims if d not in reduced)
    operands = [Operand("input", tuple(dims))]
    remaining = tuple(dims)
    for j, group in enumerate(reduce_groups(dims, reduced)[:-1]):
        remaining = tuple(d for d in remaining if d not in group)
        operands.append(Operand(f"partial{j}", remaining, 4, "temp"))
    if kind == "mean":
        operands.append(Operand("sums", kept, 4, "temp"))
    operands.append(Operand("output", kept))
    return Problem(layer, VECTOR, dims, tuple(operands), reduced)
