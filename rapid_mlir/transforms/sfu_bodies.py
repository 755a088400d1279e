"""What each SFU layer computes per LX step (the bodies of `sfu_lowering`'s loop nests).

- Unary elementwise: one `sfu.<kind>` from the input tile to the output tile (`clip`
  with its bounds as immediates; an absent bound is the largest finite fp32 value).
- Binary elementwise (numpy broadcasting): one `sfu.<kind>` whose broadcast dims read
  the operand's tile with stride 0; a fused relu follows as `sfu.relu` in place.
- Batch norm: before the loops, the corelet's per-channel vectors are loaded and turned
  into f32 `scale = gamma / sqrt(var + eps)` (`sfu.scale` by 1 plus eps, `sqrt`,
  `recip`, `mul`) and `shift = beta - mean * scale` (`mul`, `sub`); per step one
  `sfu.fma` with both vectors broadcast over n and the spatial dims (stride 0); a fused
  relu follows.
- Max / average pooling: the input tile `[n][c][rows][cols]` of the corelet's output rows
  is loaded with its halo, the image border as DMA padding; `sfu.maxpool` over the
  window. Max pooling pads with the most negative finite value of the machine's 16-bit
  format (-65504 in IEEE binary16), not -inf: DLFloat16 has no infinity (its one special
  code reads back as NaN, which would win every max), and in binary16 no finite input is
  below -65504 anyway. Every window holds at least one real element (pads are smaller
  than the kernel), so the padding never wins. Average pooling sums
  each rectangle of output positions that share a divisor with one `sfu.avgpool`
  scaled by 1 / divisor (count_include_pad as ONNX: borders and ceil-mode overhang).
- Global average pooling: `sfu.rsum` over the spatial dims into an f32 tile, then
  `sfu.scale` by 1 / (H * W) into the output tile.
- Softmax along any axis (dims `m, k` or `m, k, i`, the tile `[m][k][i]`): `rmax` over k
  (the access makes k innermost: `reduction`), `sub` (the max broadcast along k), `exp`,
  `rsum`, `recip`, `mul` (the reciprocal broadcast), with f32 intermediates.
- GELU: the exact form as `scale` by 1/sqrt(2), `erf`, `scale` (0.5 x + 0.5), `mul` by x;
  the tanh form as `mul` (x^2), `scale` (c * 0.044715 x^2 + c, c = sqrt(2/pi)), `mul` by
  x, `tanh`, `scale` (0.5 x + 0.5), `mul` by x; the intermediate in one f32 tile.
- Power (`nn.pow`): the instructions of `sfu_layers.power_chain` (`log`, `scale` by p,
  `exp`; or `mul`s, then `recip` for p < 0), the intermediate in one f32 tile.
- Layer norm, LRN and reduce: `sfu_norms`.
"""

from __future__ import annotations

import itertools
import math

from xdsl.dialects.builtin import f16, f32
from xdsl.ir import Block, Operation, SSAValue

from rapid_mlir.dialects import nn
from rapid_mlir.dialects.rapid_mem import AccessAttr
from rapid_mlir.transforms.sfu_layers import BINARY, UNARY, elementwise_instruction, power_chain
from rapid_mlir.transforms.sfu_lowering import Body, Dram, SfuCorelet, SfuPlan, TileOperand, _fail, merge, row_major



def make_body(plan: SfuPlan, op: Operation, dram: list[SSAValue], epilogue: str | None, machine) -> Body:
    """The body of one corelet of the layer `op` on its DRAM buffers (operands, output)."""
    if type(op) in UNARY or type(op) in BINARY:
        return Elementwise(plan, op, dram, epilogue)
    if isinstance(op, nn.BatchNormOp):
        return BatchNorm(plan, op, dram, epilogue)
    if isinstance(op, nn.MaxPool2DOp | nn.AvgPool2DOp):
        return Pool(plan, op, dram, machine)
    if isinstance(op, nn.GlobalAvgPoolOp):
        return GlobalPool(plan, op, dram)
    if isinstance(op, nn.SoftmaxOp):
        return Softmax(plan, op, dram)
    if isinstance(op, nn.GeluOp):
        return Gelu(plan, op, dram)
    if isinstance(op, nn.PowOp):
        return Power(plan, op, dram)
    from rapid_mlir.transforms.sfu_norms import LayerNorm, Lrn, Reduce

    if isinstance(op, nn.LayerNormOp):
        return LayerNorm(plan, op, dram)
    if isinstance(op, nn.LrnOp):
        return Lrn(plan, op, dram)
    if isinstance(op, nn.ReduceOp):
        return Reduce(plan, op, dram)
    _fail(plan.layer, f"{op.name} is not an SFU layer")


def _tensor(buffer: SSAValue, dims: tuple[str, ...], shape) -> Dram:
    return Dram(buffer, dict(zip(dims, row_major(shape))))


class Elementwise(Body):
    def __init__(self, plan: SfuPlan, op: Operation, dram: list[SSAValue], epilogue: str | None):
        out_shape = tuple(op.output.type.get_shape())
        rank = len(out_shape)
        self.dims = tuple(plan.dims)
        inputs = []
        for j, value in enumerate(op.operands):
            shape = tuple(value.type.get_shape())
            lead = rank - len(shape)
            strides = row_major(shape)
            indexed = {f"d{lead + i}": strides[i] for i, e in enumerate(shape) if e == out_shape[lead + i]}
            inputs.append(TileOperand(f"input{j}", Dram(dram[j], indexed), tuple(indexed)))
        super().__init__(inputs, TileOperand("output", _tensor(dram[-1], self.dims, out_shape), self.dims))
        self.kind, self.imms = elementwise_instruction(op)
        self.epilogue = epilogue

    def compute(self, em: SfuCorelet, block: Block, slot: int, after) -> SSAValue:
        ops = [self.output, *self.inputs]
        accesses = em.sfu_accesses(self.dims, [(o.lx_strides(em), 0, {}) for o in ops])
        out = self.output.buf(slot)
        token = em.sfu(block, self.kind, [out] + [o.buf(slot) for o in self.inputs], accesses, after, self.imms)
        if self.epilogue == "relu":
            token = em.sfu(block, "relu", [out, out], [accesses[0], accesses[0]], [token])
        return token


class BatchNorm(Body):
    def __init__(self, plan: SfuPlan, op: nn.BatchNormOp, dram: list[SSAValue], epilogue: str | None):
        shape = (plan.dims["n"], plan.dims["c"], plan.dims["s"])
        self.dims = ("n", "c", "s")
        super().__init__([TileOperand("input", _tensor(dram[0], self.dims, shape), self.dims)],
                         TileOperand("output", _tensor(dram[-1], self.dims, shape), self.dims))
        self.vectors = [Dram(b, {"c": 1}) for b in dram[1:5]]  # gamma, beta, mean, var
        self.epsilon = op.epsilon.value.data
        self.epilogue = epilogue

    def allocate(self, em: SfuCorelet) -> None:
        super().allocate(em)
        c = em.extent["c"]
        self.lx_vectors = [em.alloc((c,), f16) for _ in self.vectors]
        self.scale, self.shift = em.alloc((c,), f32), em.alloc((c,), f32)

    def prologue(self, em: SfuCorelet, block: Block) -> list:
        tokens = super().prologue(em, block)
        c = em.extent["c"]
        loads = []
        for vec, lx in zip(self.vectors, self.lx_vectors):
            offset, core, _ = em.dram_position(vec.strides, ("c",))
            loads.append(em.dma(block, em.load_queue, lx, access(((c, 1),)), vec.buffer,
                                access(((c, 1),), offset, core), [em.ready]))
        gamma, beta, mean, var = self.lx_vectors
        t_gamma, t_beta, t_mean, t_var = loads
        v = [access(((c, 1),))] * 3
        t = em.sfu(block, "scale", [self.shift, var], v[:2], [t_var], (1.0, self.epsilon))
        t = em.sfu(block, "sqrt", [self.shift, self.shift], v[:2], [t])
        t = em.sfu(block, "recip", [self.shift, self.shift], v[:2], [t])
        t = em.sfu(block, "mul", [self.scale, gamma, self.shift], v, [t, t_gamma])
        t = em.sfu(block, "mul", [self.shift, mean, self.scale], v, [t, t_mean])
        t = em.sfu(block, "sub", [self.shift, beta, self.shift], v, [t, t_beta])
        return [*tokens, t]

    def compute(self, em: SfuCorelet, block: Block, slot: int, after) -> SSAValue:
        offset, loops = em.lx_position({"c": 1})
        vec = ({"c": 1}, offset, loops)
        tile = (self.output.lx_strides(em), 0, {})
        accesses = em.sfu_accesses(self.dims, [tile, (self.inputs[0].lx_strides(em), 0, {}), vec, vec])
        out = self.output.buf(slot)
        token = em.sfu(block, "fma", [out, self.inputs[0].buf(slot), self.scale, self.shift], accesses, after)
        if self.epilogue == "relu":
            token = em.sfu(block, "relu", [out, out], [accesses[0], accesses[0]], [token])
        return token


class Pool(Body):
    """Max or average pooling; the corelet holds all its output rows (oh, ow whole)."""

    def __init__(self, plan: SfuPlan, op: Operation, dram: list[SSAValue], machine):
        self.max = isinstance(op, nn.MaxPool2DOp)
        self.n, self.c, self.h, self.w = op.input.type.get_shape()
        _, _, self.oh, self.ow = op.output.type.get_shape()
        self.kh, self.kw = nn.ints(op.kernel)
        self.sh, self.sw = nn.ints(op.strides)
        self.dh, self.dw = nn.ints(op.dilations) if self.max else (1, 1)
        self.pt, self.pl, self.pb, self.pr = nn.ints(op.pads)
        self.include_pad = not self.max and op.count_include_pad is not None
        # The input rows and columns the windows read, and the border padding among them.
        first_r, last_r = -self.pt, (self.oh - 1) * self.sh + (self.kh - 1) * self.dh - self.pt
        first_c, last_c = -self.pl, (self.ow - 1) * self.sw + (self.kw - 1) * self.dw - self.pl
        self.rows, self.cols = last_r - first_r + 1, last_c - first_c + 1
        self.row_pads = (self.pt, max(0, last_r + 1 - self.h))
        self.col_pads = (self.pl, max(0, last_c + 1 - self.w))
        out_dims = ("n", "c", "oh", "ow")
        x = TileOperand("input", _tensor(dram[0], ("n", "c"), (self.n, self.c, self.h * self.w)), ("n", "c"))
        super().__init__([x], TileOperand("output", _tensor(dram[-1], out_dims, (self.n, self.c, self.oh, self.ow)),
                                          out_dims))
        self.padval = None
        if self.max and (any(self.row_pads) or any(self.col_pads)):
            from rapid_mlir.emulator.numerics import DLF16_MAX

            self.padval = -DLF16_MAX if machine.fp16_format == "dlfloat16" else -65504.0

    def lx_shape(self, em: SfuCorelet, op: TileOperand) -> tuple[int, ...]:
        if op is self.inputs[0]:
            return (em.tile["n"], em.tile["c"], self.rows, self.cols)
        return super().lx_shape(em, op)

    def load_one(self, em: SfuCorelet, block: Block, op: TileOperand, slot: int, after) -> SSAValue:
        tn, tc = em.tile["n"], em.tile["c"]
        sn, sc = em.size["n"], em.size["c"]
        offset, core, loops = em.dram_position(op.dram.strides, ("n", "c"))
        hw = self.h * self.w
        src = [(sn, self.c * hw), (sc, hw), (self.rows, self.w), (self.cols, 1)]
        dst = [(sn, tc * self.rows * self.cols), (sc, self.rows * self.cols), (self.rows, self.cols),
               (self.cols, 1)]
        pads = [(0, 0), (0, 0), self.row_pads, self.col_pads]
        if sn == 1 or tn == 1:
            src, dst, pads = src[1:], dst[1:], pads[1:]
        has_pads = any(p != (0, 0) for p in pads)
        return em.dma(block, em.load_queue, op.buf(slot), access(dst), op.dram.buffer,
                      access(src, offset, core, loops, pads if has_pads else None), after, self.padval)

    def compute(self, em: SfuCorelet, block: Block, slot: int, after) -> SSAValue:
        tc, rows, cols = em.tile["c"], self.rows, self.cols
        out_strides = self.output.lx_strides(em)
        src_strides = {"n": tc * rows * cols, "c": rows * cols, "oh": self.sh * cols, "ow": self.sw}
        window = [(self.kh, self.dh * cols), (self.kw, self.dw)]
        out, src = self.output.buf(slot), self.inputs[0].buf(slot)
        if self.max:
            accesses = em.sfu_accesses(("n", "c", "oh", "ow"), [(out_strides, 0, {}), (src_strides, 0, {})])
            return em.sfu(block, "maxpool", [out, src], accesses, after, (), window)
        token = None
        for r0, nr, rc in _runs(self._counts(self.oh, self.kh, self.sh, self.pt, self.pb, self.h)):
            for c0, nc, cc in _runs(self._counts(self.ow, self.kw, self.sw, self.pl, self.pr, self.w)):
                em.size["oh"], em.size["ow"] = nr, nc
                accesses = em.sfu_accesses(("n", "c", "oh", "ow"), [
                    (out_strides, r0 * out_strides["oh"] + c0, {}),
                    (src_strides, r0 * self.sh * cols + c0 * self.sw, {})])
                token = em.sfu(block, "avgpool", [out, src], accesses, after if token is None else [token],
                               (1.0 / (rc * cc),), window)
        em.size["oh"], em.size["ow"] = self.oh, self.ow
        return token

    def _counts(self, out: int, k: int, s: int, begin: int, end: int, size: int) -> list[int]:
        """The divisor of each output row (or column), as ONNX AveragePool counts."""
        counts = []
        for i in range(out):
            start = i * s - begin
            if self.include_pad:
                counts.append(min(start + k, size + end) - start)
            else:
                counts.append(min(start + k, size) - max(start, 0))
        return counts


def _runs(counts: list[int]) -> list[tuple[int, int, int]]:
    """(first index, length, value) of each run of equal values."""
    runs: list[tuple[int, int, int]] = []
    for i, v in enumerate(counts):
        if runs and runs[-1][2] == v:
            runs[-1] = (runs[-1][0], runs[-1][1] + 1, v)
        else:
            runs.append((i, 1, v))
    return runs


class GlobalPool(Body):
    def __init__(self, plan: SfuPlan, op: Operation, dram: list[SSAValue]):
        n, c, s = plan.dims["n"], plan.dims["c"], plan.dims["s"]
        self.s = s
        super().__init__([TileOperand("input", _tensor(dram[0], ("n", "c", "s"), (n, c, s)), ("n", "c", "s"))],
                         TileOperand("output", _tensor(dram[-1], ("n", "c"), (n, c)), ("n", "c")))

    def allocate(self, em: SfuCorelet) -> None:
        super().allocate(em)
        self.sums = em.alloc((em.tile["n"], em.tile["c"]), f32)

    def compute(self, em: SfuCorelet, block: Block, slot: int, after) -> SSAValue:
        lead = ("n", "c")
        sums = dict(zip(lead, row_major((em.tile["n"], em.tile["c"]))))
        x = self.inputs[0].lx_strides(em)
        sizes, (ds, xs) = merge(em.layer, [em.size[d] for d in lead], [[sums[d] for d in lead], [x[d] for d in lead]])
        rsum_dst = access(list(zip(sizes, ds)) + [(1, 1)])
        rsum_src = access(list(zip(sizes, xs)) + [(self.s, 1)])
        token = em.sfu(block, "rsum", [self.sums, self.inputs[0].buf(slot)], [rsum_dst, rsum_src], after)
        out = self.output.lx_strides(em)
        accesses = em.sfu_accesses(lead, [(out, 0, {}), (sums, 0, {})])
        return em.sfu(block, "scale", [self.output.buf(slot), self.sums], accesses, [token], (1.0 / self.s, 0.0))


class Softmax(Body):
    """Softmax along k of the tile `[m][k][i]` (no `i` when k is the last axis)."""

    def __init__(self, plan: SfuPlan, op: nn.SoftmaxOp, dram: list[SSAValue]):
        self.dims = tuple(plan.dims)
        self.rows = tuple(d for d in self.dims if d != "k")
        shape = tuple(plan.dims[d] for d in self.dims)
        super().__init__([TileOperand("input", _tensor(dram[0], self.dims, shape), self.dims)],
                         TileOperand("output", _tensor(dram[-1], self.dims, shape), self.dims))

    def allocate(self, em: SfuCorelet) -> None:
        super().allocate(em)
        self.exp = em.alloc(self.lx_shape(em, self.output), f32)
        self.stats = em.alloc(tuple(em.tile[d] for d in self.rows), f32)

    def compute(self, em: SfuCorelet, block: Block, slot: int, after) -> SSAValue:
        tile = (self.output.lx_strides(em), 0, {})  # input, exp and output alike
        stats = dict(zip(self.rows, row_major([em.tile[d] for d in self.rows])))
        spread = em.sfu_accesses(self.dims, [tile, tile, (stats, 0, {})])  # stats broadcast along k
        rows = em.sfu_accesses(self.rows, [(stats, 0, {})] * 2)
        x, out = self.inputs[0].buf(slot), self.output.buf(slot)
        t = reduction(em, block, "rmax", self.stats, stats, x, tile[0], self.rows, ("k",), after)
        t = em.sfu(block, "sub", [self.exp, x, self.stats], spread, [t])
        t = em.sfu(block, "exp", [self.exp, self.exp], spread[:2], [t])
        t = reduction(em, block, "rsum", self.stats, stats, self.exp, tile[0], self.rows, ("k",), [t])
        t = em.sfu(block, "recip", [self.stats, self.stats], rows, [t])
        return em.sfu(block, "mul", [out, self.exp, self.stats], spread, [t])


class Gelu(Body):
    """GELU, exact (erf) or tanh-approximated, through one f32 intermediate tile."""

    def __init__(self, plan: SfuPlan, op: nn.GeluOp, dram: list[SSAValue]):
        self.dims = tuple(plan.dims)
        shape = tuple(plan.dims[d] for d in self.dims)
        super().__init__([TileOperand("input", _tensor(dram[0], self.dims, shape), self.dims)],
                         TileOperand("output", _tensor(dram[-1], self.dims, shape), self.dims))
        self.exact = op.approximate.data.value == "none"

    def allocate(self, em: SfuCorelet) -> None:
        super().allocate(em)
        self.cdf = em.alloc(self.lx_shape(em, self.output), f32)

    def compute(self, em: SfuCorelet, block: Block, slot: int, after) -> SSAValue:
        tile = (self.output.lx_strides(em), 0, {})
        acc = em.sfu_accesses(self.dims, [tile] * 3)
        x, out, t = self.inputs[0].buf(slot), self.output.buf(slot), self.cdf
        if self.exact:  # 0.5 x (1 + erf(x / sqrt 2))
            tok = em.sfu(block, "scale", [t, x], acc[:2], after, (1 / math.sqrt(2), 0.0))
            tok = em.sfu(block, "erf", [t, t], acc[:2], [tok])
        else:  # 0.5 x (1 + tanh(x (c + c * 0.044715 x^2))), c = sqrt(2 / pi)
            c = math.sqrt(2 / math.pi)
            tok = em.sfu(block, "mul", [t, x, x], acc, after)
            tok = em.sfu(block, "scale", [t, t], acc[:2], [tok], (c * 0.044715, c))
            tok = em.sfu(block, "mul", [t, t, x], acc, [tok])
            tok = em.sfu(block, "tanh", [t, t], acc[:2], [tok])
        tok = em.sfu(block, "scale", [t, t], acc[:2], [tok], (0.5, 0.5))
        return em.sfu(block, "mul", [out, x, t], acc, [tok])


class Power(Body):
    """x^p as the chain of `power_chain`, through one f32 intermediate tile."""

    def __init__(self, plan: SfuPlan, op: nn.PowOp, dram: list[SSAValue]):
        self.dims = tuple(plan.dims)
        shape = tuple(plan.dims[d] for d in self.dims)
        super().__init__([TileOperand("input", _tensor(dram[0], self.dims, shape), self.dims)],
                         TileOperand("output", _tensor(dram[-1], self.dims, shape), self.dims))
        steps = power_chain(op.exponent.value.data)
        if steps is None:
            _fail(plan.layer, f"nn.pow exponent {op.exponent.value.data:g} has no SFU lowering (the host runs it)")
        self.steps = steps

    def allocate(self, em: SfuCorelet) -> None:
        super().allocate(em)
        uses_temp = any("t" in (dst, *srcs) for _, dst, srcs, _ in self.steps)
        self.temp = em.alloc(self.lx_shape(em, self.output), f32) if uses_temp else None

    def compute(self, em: SfuCorelet, block: Block, slot: int, after) -> SSAValue:
        tile = (self.output.lx_strides(em), 0, {})
        acc = em.sfu_accesses(self.dims, [tile] * 3)
        buffers = {"x": self.inputs[0].buf(slot), "t": self.temp, "out": self.output.buf(slot)}
        token = None
        for kind, dst, srcs, imms in self.steps:
            operands = [buffers[dst], *(buffers[s] for s in srcs)]
            token = em.sfu(block, kind, operands, acc[:len(operands)], after if token is None else [token], imms)
        return token


def reduction(em: SfuCorelet, block: Block, kind: str, dst: SSAValue, dst_strides: dict[str, int],
              src: SSAValue, src_strides: dict[str, int], lead, group, after) -> SSAValue:
    """One `sfu.rsum` / `sfu.rmax` (`kind`) of `src` over the dims `group` into `dst`, for
    every index of the `lead` dims: the access puts the reduced dims innermost, whatever
    their place in the tile (they must be contiguous there, as whole dims of a row-major
    tile are)."""
    inner = [d for d in group if em.size[d] > 1]
    for outer, nxt in itertools.pairwise(inner):
        if src_strides[outer] != em.size[nxt] * src_strides[nxt]:
            _fail(em.layer, f"the reduced dims {', '.join(group)} are not contiguous in the tile")
    size = math.prod(em.size[d] for d in group)
    stride = src_strides[inner[-1]] if inner else 1
    sizes, (ds, ss) = merge(em.layer, [em.size[d] for d in lead],
                            [[dst_strides[d] for d in lead], [src_strides[d] for d in lead]])
    if len(sizes) > 3:
        _fail(em.layer, f"a reduction over {', '.join(group)} needs {len(sizes) + 1} access dims "
                        f"(sizes {sizes + [size]}) but the ISA has 4")
    return em.sfu(block, kind, [dst, src], [access(list(zip(sizes, ds)) + [(1, 1)]),
                                            access(list(zip(sizes, ss)) + [(size, stride)])], after)


def access(dims, offset: int = 0, core: int = 0, loops=None, pads=None) -> AccessAttr:
    """An access of (size, stride) `dims` (the rapid_mem.access attribute)."""
    return AccessAttr([tuple(d) for d in dims], offset, core, loops or {}, pads)
