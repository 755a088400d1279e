"""SFU bodies of the normalisations and reductions: layer norm, LRN, reduce.

Each is a `sfu_lowering.Body` (what one LX step computes); the loop nests come from
`mapping.problem` (`layer_norm`, `lrn`, `reduce`) and the kernel framework of
`sfu_lowering`. Intermediates are f32 tiles in LX; only the output is rounded to f16.

- Layer norm (dims `m, k`, tile `[m][k]`): `rsum` over k and `scale` by 1/k (the row
  means), `sub` (centred rows, f32), `mul` (their squares), `rsum`, `scale` by 1/k plus
  epsilon (the variance), `sqrt`, `recip`, `mul` (centred rows times the inverse standard
  deviation, broadcast along k), then `fma` by scale plus bias (or `mul` by scale without
  bias), both broadcast over the rows (stride 0). Scale and bias are loaded once, before
  the loops.
- LRN (dims `n, c, s`, tile `[n][C][s]` with all C channels): `mul` (x^2 into f32),
  `copy`, one `add` per other offset j of the window (channels c += squares of c + j over
  the channels where c + j exists: the ONNX window clipped at the border), `scale` by
  alpha/size plus bias, then the power as `log`, `scale` by -beta, `exp`, and `mul` by x.
- Reduce (dims `d0, ...` of the input): one `rsum` (sum, mean) or `rmax` (max) per run of
  reduced dims (`problem.reduce_groups`, innermost first), each into an f32 partial tile
  and the last into the output (a mean into an f32 tile then `scale` by 1/count); the
  access of each makes its run innermost.
"""

from __future__ import annotations

import math

from xdsl.dialects.builtin import f16, f32
from xdsl.ir import Block, SSAValue

from rapid_mlir.dialects import nn
from rapid_mlir.mapping.problem import reduce_axes, reduce_groups
from rapid_mlir.transforms.sfu_bodies import access, reduction
from rapid_mlir.transforms.sfu_lowering import Body, Dram, SfuCorelet, SfuPlan, TileOperand, row_major


def _dram(buffer: SSAValue, dims: tuple[str, ...], shape) -> Dram:
    """A row-major DRAM tensor indexed by `dims`."""
    return Dram(buffer, dict(zip(dims, row_major(shape))))


def _tile_strides(em: SfuCorelet, dims) -> dict[str, int]:
    """Element strides of a compact LX tile over `dims` (the corelet's largest tile)."""
    return dict(zip(dims, row_major([em.tile[d] for d in dims])))


class LayerNorm(Body):
    """Layer norm of the rows `[m][k]`; scale and bias resident over k."""

    def __init__(self, plan: SfuPlan, op: nn.LayerNormOp, dram: list[SSAValue]):
        self.dims = ("m", "k")
        shape = (plan.dims["m"], plan.dims["k"])
        self.k = plan.dims["k"]
        super().__init__([TileOperand("input", _dram(dram[0], self.dims, shape), self.dims)],
                         TileOperand("output", _dram(dram[-1], self.dims, shape), self.dims))
        self.vectors = [Dram(b, {"k": 1}) for b in dram[1:-1]]  # scale, then bias if any
        self.epsilon = op.epsilon.value.data

    def allocate(self, em: SfuCorelet) -> None:
        super().allocate(em)
        tile = self.lx_shape(em, self.output)
        self.centred, self.squares = em.alloc(tile, f32), em.alloc(tile, f32)
        self.stats = em.alloc((em.tile["m"],), f32)
        self.lx_vectors = [em.alloc((self.k,), f16) for _ in self.vectors]

    def prologue(self, em: SfuCorelet, block: Block) -> list:
        tokens = super().prologue(em, block)
        whole = access(((self.k, 1),))
        for vec, lx in zip(self.vectors, self.lx_vectors):
            tokens.append(em.dma(block, em.load_queue, lx, whole, vec.buffer, whole, [em.ready]))
        return tokens

    def compute(self, em: SfuCorelet, block: Block, slot: int, after) -> SSAValue:
        tile = _tile_strides(em, self.dims)
        stats, vec = {"m": 1}, {"k": 1}
        full = em.sfu_accesses(self.dims, [(tile, 0, {})] * 3)
        by_row = em.sfu_accesses(self.dims, [(tile, 0, {}), (tile, 0, {}), (stats, 0, {})])
        by_col = em.sfu_accesses(self.dims, [(tile, 0, {}), (tile, 0, {}), (vec, 0, {}), (vec, 0, {})])
        rows = em.sfu_accesses(("m",), [(stats, 0, {})] * 2)
        x, out, cen, sq, st = self.inputs[0].buf(slot), self.output.buf(slot), self.centred, self.squares, self.stats
        t = reduction(em, block, "rsum", st, stats, x, tile, ("m",), ("k",), after)
        t = em.sfu(block, "scale", [st, st], rows, [t], (1.0 / self.k, 0.0))               # mean
        t = em.sfu(block, "sub", [cen, x, st], by_row, [t])
        t = em.sfu(block, "mul", [sq, cen, cen], full, [t])
        t = reduction(em, block, "rsum", st, stats, sq, tile, ("m",), ("k",), [t])
        t = em.sfu(block, "scale", [st, st], rows, [t], (1.0 / self.k, self.epsilon))      # var + eps
        t = em.sfu(block, "sqrt", [st, st], rows, [t])
        t = em.sfu(block, "recip", [st, st], rows, [t])
        t = em.sfu(block, "mul", [cen, cen, st], by_row, [t])
        if len(self.lx_vectors) == 2:
            return em.sfu(block, "fma", [out, cen, *self.lx_vectors], by_col, [t])
        return em.sfu(block, "mul", [out, cen, self.lx_vectors[0]], by_col[:3], [t])


class Lrn(Body):
    """LRN across the channels of the tile `[n][C][s]` (all C channels in it)."""

    def __init__(self, plan: SfuPlan, op: nn.LrnOp, dram: list[SSAValue]):
        self.dims = ("n", "c", "s")
        shape = tuple(plan.dims[d] for d in self.dims)
        super().__init__([TileOperand("input", _dram(dram[0], self.dims, shape), self.dims)],
                         TileOperand("output", _dram(dram[-1], self.dims, shape), self.dims))
        self.c = plan.dims["c"]
        self.size = op.size.value.data
        self.alpha, self.beta, self.bias = (op.alpha.value.data, op.beta.value.data, op.bias.value.data)

    def allocate(self, em: SfuCorelet) -> None:
        super().allocate(em)
        tile = self.lx_shape(em, self.output)
        self.squares, self.denominator = em.alloc(tile, f32), em.alloc(tile, f32)

    def compute(self, em: SfuCorelet, block: Block, slot: int, after) -> SSAValue:
        tile = _tile_strides(em, self.dims)
        full = em.sfu_accesses(self.dims, [(tile, 0, {})] * 3)
        x, out, sq, den = self.inputs[0].buf(slot), self.output.buf(slot), self.squares, self.denominator
        t = em.sfu(block, "mul", [sq, x, x], full, after)
        t = em.sfu(block, "copy", [den, sq], full[:2], [t])
        before = (self.size - 1) // 2
        # Channel c sums the squares of c + j; only |j| < C can reach a channel (a window
        # wider than the channels must not cost a step per j: found by fuzzing, size 2^31).
        for j in range(max(-before, 1 - self.c), min(self.size - before, self.c)):
            first, count = max(0, -j), self.c - abs(j)
            if j == 0 or count <= 0:
                continue
            em.size["c"] = count
            shifted = em.sfu_accesses(self.dims, [(tile, first * tile["c"], {})] * 2
                                      + [(tile, (first + j) * tile["c"], {})])
            t = em.sfu(block, "add", [den, den, sq], shifted, [t])
        em.size["c"] = self.c
        t = em.sfu(block, "scale", [den, den], full[:2], [t], (self.alpha / self.size, self.bias))
        t = em.sfu(block, "log", [den, den], full[:2], [t])  # d^-beta = exp(-beta log d)
        t = em.sfu(block, "scale", [den, den], full[:2], [t], (-self.beta, 0.0))
        t = em.sfu(block, "exp", [den, den], full[:2], [t])
        return em.sfu(block, "mul", [out, x, den], full, [t])


class Reduce(Body):
    """Sum, mean or max over the reduced dims, one SFU reduction per run of them."""

    def __init__(self, plan: SfuPlan, op: nn.ReduceOp, dram: list[SSAValue]):
        self.dims = tuple(plan.dims)
        shape = tuple(plan.dims[d] for d in self.dims)
        reduced = tuple(f"d{a}" for a in reduce_axes(len(shape), nn.ints(op.axes)))
        self.kept = tuple(d for d in self.dims if d not in reduced)
        self.groups = reduce_groups(plan.dims, reduced)
        self.kind = op.kind.data.value
        self.count = math.prod(plan.dims[d] for d in reduced)
        kept_shape = tuple(plan.dims[d] for d in self.kept)
        super().__init__([TileOperand("input", _dram(dram[0], self.dims, shape), self.dims)],
                         TileOperand("output", _dram(dram[-1], self.kept, kept_shape), self.kept))

    def allocate(self, em: SfuCorelet) -> None:
        super().allocate(em)
        self.partials = []
        remaining = self.dims
        for group in self.groups[:-1]:
            remaining = tuple(d for d in remaining if d not in group)
            self.partials.append((em.alloc(tuple(em.tile[d] for d in remaining), f32), remaining))
        self.sums = em.alloc(tuple(em.tile[d] for d in self.kept), f32) if self.kind == "mean" else None

    def compute(self, em: SfuCorelet, block: Block, slot: int, after) -> SSAValue:
        kind = "rmax" if self.kind == "max" else "rsum"
        out = self.output.buf(slot)
        last = (self.sums if self.sums is not None else out, self.kept)
        src, dims, t = self.inputs[0].buf(slot), self.dims, None
        for group, (dst, remaining) in zip(self.groups, [*self.partials, last]):
            t = reduction(em, block, kind, dst, _tile_strides(em, remaining), src, _tile_strides(em, dims),
                          remaining, group, after if t is None else [t])
            src, dims = dst, remaining
        if self.sums is None:
            return t
        kept = _tile_strides(em, self.kept)
        return em.sfu(block, "scale", [out, self.sums], em.sfu_accesses(self.kept, [(kept, 0, {})] * 2), [t],
                      (1.0 / self.count, 0.0))
