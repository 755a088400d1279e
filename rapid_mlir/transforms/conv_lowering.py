"""Convolutions for `convert-tile-to-mem`: shifted GEMMs over an input tile in LX.

For output pixels (oh, ow) and kernel offset (kh, kw), the MPE's A operand is the input
tile read at rows `oh * stride + kh * dilation` and columns `ow * stride + kw * dilation`
with the channels as the reduction: a 3-D access pattern over the tile (no im2col copy).
B is the weight tile `[oc][ic][kh][kw]` read at the offset; every (kh, kw, ic step) is
one MPE instruction accumulating into the same accumulator tile. The accumulator holds
`[oh][ow][oc]`; the SFU epilogue writes it to LX as `[oc][oh][ow]` (the NCHW order of the
output) and the tile is stored.

The input tile of a corelet spans all its output rows (one LX step along oh), so the
image border is the DMA's static padding; the weights of each LX oc step are double-
buffered when the mapping says so, the input tile across the (n, g) steps likewise.
Supported mappings: `rows(oh,ow) cols(oc) simd(ic)`, cores splitting oc or g, corelets
splitting oh or oc, whole ic, kh, kw and ow in LX, tiles that divide their extents.
"""

from __future__ import annotations

from xdsl.dialects.builtin import IntegerAttr, StringAttr, UnitAttr, f16, f32, i64
from xdsl.ir import Block, Region, SSAValue

from rapid_mlir.dialects import nn
from rapid_mlir.dialects import rapid_mem as M
from rapid_mlir.mapping.mapping import Mapping
from rapid_mlir.transforms.convert_tile_to_mem import _Corelet, _fail


class _ConvPlan:
    """The conv's geometry and the mapping, resolved per core and corelet."""

    def __init__(self, layer: str, mapping: Mapping, op: nn.Conv2DOp, machine):
        self.layer = layer
        self.n, self.c, self.h, self.w = op.input.type.get_shape()
        self.o, self.ic, self.kh, self.kw = op.weight.type.get_shape()
        _, _, self.oh, self.ow = op.output.type.get_shape()
        self.g = op.groups.value.data
        self.ocg = self.o // self.g
        self.sh, self.sw = nn.ints(op.strides)
        self.dh, self.dw = nn.ints(op.dilations)
        self.pt, self.pl, self.pb, self.pr = nn.ints(op.pads)
        if (mapping.rows, mapping.cols, mapping.simd) != (("oh", "ow"), ("oc",), ("ic",)):
            _fail(layer, "only rows(oh,ow) cols(oc) simd(ic) convolution mappings are lowered yet")
        self.core_dim, self.cores = self._split(mapping.cores, "cores", ("oc", "g"))
        self.corelet_dim, self.corelets = self._split(mapping.corelets, "corelets", ("oh", "oc"))
        if self.corelets > 1 and machine.dma_queues < self.corelets:
            _fail(layer, f"{self.corelets} corelets need one DMA queue each but the machine has "
                         f"{machine.dma_queues}")
        self.g_core = self.g // self.cores if self.core_dim == "g" else self.g        # groups per core
        self.oc_core = self.ocg // self.cores if self.core_dim == "oc" else self.ocg  # oc per core
        self.oc_corelet = self.oc_core // self.corelets if self.corelet_dim == "oc" else self.oc_core
        self.oh_corelet = self.oh // self.corelets if self.corelet_dim == "oh" else self.oh
        lx, l0 = mapping.lx, mapping.l0
        for dim, full in (("ic", self.ic), ("kh", self.kh), ("kw", self.kw), ("ow", self.ow)):
            if lx.get(dim, 1) != full:
                _fail(layer, f"lx({dim}={lx.get(dim, 1)}) must hold all {full} (tiling {dim} in LX is not "
                             "lowered yet)")
        if lx.get("oh", 1) != self.oh_corelet:
            _fail(layer, f"lx(oh={lx.get('oh', 1)}) must hold the corelet's {self.oh_corelet} output rows "
                         "(several LX steps along oh, with varying halo padding, are not lowered yet)")
        self.loc = lx.get("oc", 1)
        self.toh, self.tow, self.toc, self.tic = (l0.get(d, 1) for d in ("oh", "ow", "oc", "ic"))
        for name, outer, inner in (("lx(oc)", self.oc_corelet, self.loc), ("l0(oh)", self.oh_corelet, self.toh),
                                   ("l0(ow)", self.ow, self.tow), ("l0(oc)", self.loc, self.toc),
                                   ("l0(ic)", self.ic, self.tic)):
            if outer % inner:
                _fail(layer, f"{name} = {inner} does not divide {outer}; ragged tiles are not lowered yet")
        self.double_buffer = mapping.double_buffer

    def _split(self, split: dict[str, int], clause: str, allowed) -> tuple[str | None, int]:
        parts = {d: p for d, p in split.items() if p > 1}
        if len(parts) > 1 or set(parts) - set(allowed):
            _fail(self.layer, f"{clause} may split one of {', '.join(allowed)} here, found {split}")
        dim, count = next(iter(parts.items()), (None, 1))
        extent = {"oc": self.ocg, "g": self.g, "oh": self.oh}[dim] if dim else 1
        if dim is not None and extent % count:
            _fail(self.layer, f"{clause}({dim}={count}) does not divide {dim} = {extent}")
        return dim, count


def conv_kernel(layer: str, mapping: Mapping, op: nn.Conv2DOp, buffers: list[SSAValue], machine,
                epilogue: str) -> M.KernelOp:
    """The rapid_mem kernel of a convolution on DRAM buffers (input, weight, output)."""
    plan = _ConvPlan(layer, mapping, op, machine)
    body = Block(arg_types=[b.type for b in buffers])
    for corelet in range(plan.corelets):
        region = Block()
        _ConvCorelet(plan, corelet, body.args, region, machine.dma_queues, epilogue).emit()
        body.add_op(M.CoreletOp.build(properties={"index": IntegerAttr(corelet, i64)}, regions=[Region(region)]))
    return M.KernelOp.build(operands=[buffers],
                            properties={"layer": StringAttr(layer), "cores": IntegerAttr(plan.cores, i64),
                                        "corelets": IntegerAttr(plan.corelets, i64)},
                            regions=[Region(body)])


class _ConvCorelet(_Corelet):
    """One corelet's convolution code (the loop skeleton and buffers as for matrix products)."""

    def __init__(self, plan: _ConvPlan, corelet: int, dram, block: Block, dma_queues: int, epilogue: str):
        self.q = self.p = plan  # _Corelet's stepping reads p.double_buffer
        self.corelet, self.block, self.epilogue = corelet, block, epilogue
        self.a, self.b, self.c = dram[0], dram[1], dram[-1]
        self.bias = dram[2] if len(dram) == 4 else None
        self.queue = corelet if plan.corelets > 1 else 0
        self.store_queue = self.queue if plan.corelets > 1 or dma_queues < 2 else 1
        q = plan
        self.oh0 = corelet * q.oh_corelet if q.corelet_dim == "oh" else 0
        self.oc0 = corelet * q.oc_corelet if q.corelet_dim == "oc" else 0
        # The input rows this corelet's output rows read, and the border padding among them.
        first = self.oh0 * q.sh - q.pt
        last = (self.oh0 + q.oh_corelet - 1) * q.sh + (q.kh - 1) * q.dh - q.pt
        self.rows = last - first + 1
        self.row_pads = (max(0, -first), max(0, last + 1 - q.h))
        self.row0 = max(first, 0)
        self.cols = (q.ow - 1) * q.sw + (q.kw - 1) * q.dw + 1
        self.col_pads = (q.pl, max(0, self.cols - q.pl - q.w))

    def emit(self) -> None:
        q, blk = self.q, self.block
        alloc = lambda shape, elem, space: self.add(blk, M.AllocOp.build(  # noqa: E731
            result_types=[M.BufferType(shape, elem, space)])).buffer
        steps_w = q.oc_corelet // q.loc
        slots_a = 2 if q.double_buffer and q.g_core >= 2 else 1
        slots_b = 2 if q.double_buffer and steps_w >= 2 else 1
        self.lx_a = [alloc((q.ic, self.rows, self.cols), f16, M.MemSpace.LX) for _ in range(slots_a)]
        self.lx_b = [alloc((q.loc, q.ic, q.kh, q.kw), f16, M.MemSpace.LX) for _ in range(slots_b)]
        self.lx_bias = [alloc((q.loc,), f16, M.MemSpace.LX) for _ in range(slots_b)] if self.bias else []
        self.tbias = {}
        self.lx_c = alloc((q.toc, q.toh, q.tow), f16, M.MemSpace.LX)
        self.acc = alloc((q.toh, q.tow, q.toc), f32, M.MemSpace.ACC)
        ready = self.add(blk, M.ReadyOp.build(result_types=[M.TokenType()])).token
        self.pos = {}
        loop_n = self._loop(blk, "n", q.n, [ready] * 7)
        nb = loop_n.body.block
        st = self._stepped(nb, "g", q.g_core, 1, list(nb.args), self._load_a, self._compute_m)
        self.add(nb, M.NextOp.build(operands=[st]))

    def _load_a(self, block: Block, slot: int, st: list) -> tuple[list, SSAValue]:
        """The corelet's input tile `[ic][rows][cols]` of this (n, g), border padded."""
        q = self.q
        hw = q.h * q.w
        g_offset, g_loops = self._position({"g": q.ic * hw})
        core = q.g_core * q.ic * hw if q.core_dim == "g" else 0
        src = self._access(((q.ic, hw), (self.rows, q.w), (self.cols, 1)), g_offset + self.row0 * q.w, core,
                           g_loops | {"n": q.c * hw}, pads=((0, 0), self.row_pads, self.col_pads))
        dst = self._access(((q.ic, self.rows * self.cols), (self.rows, self.cols), (self.cols, 1)))
        return st, self._dma(block, self.lx_a[slot], dst, self.a, src, st[self.A0 + slot])

    def _inner_steps(self) -> tuple[str, int, int]:
        return "oc", self.q.oc_corelet // self.q.loc, self.q.loc

    def _load_b(self, block: Block, slot: int, st: list) -> tuple[list, SSAValue]:
        """The weights `[loc][ic][kh][kw]` of this oc step (contiguous in DRAM), and its bias."""
        q = self.q
        per_oc = q.ic * q.kh * q.kw
        offset, loops = self._position({"oc": per_oc, "g": q.ocg * per_oc})
        core = (q.oc_core * per_oc if q.core_dim == "oc" else 0) + (q.g_core * q.ocg * per_oc if q.core_dim == "g" else 0)
        src = self._access(((q.loc, per_oc), (per_oc, 1)), self.oc0 * per_oc + offset, core, loops)
        dst = self._access(((q.loc, per_oc), (per_oc, 1)))
        token = self._dma(block, self.lx_b[slot], dst, self.b, src, st[self.B0 + slot])
        if self.bias is not None:
            b_offset, b_loops = self._position({"oc": 1, "g": q.ocg})
            b_core = (q.oc_core if q.core_dim == "oc" else 0) + (q.g_core * q.ocg if q.core_dim == "g" else 0)
            src = self._access(((q.loc, 1),), self.oc0 + b_offset, b_core, b_loops)
            self.tbias[slot] = self._dma(block, self.lx_bias[slot], self._access(((q.loc, 1),)), self.bias,
                                         src, st[self.B0 + slot])
        return st, token

    def _tiles(self, block: Block, lx_a, lx_b, ta, tb, acc_free, out_free):
        """Loops over L0 output tiles (ohi, owi, oci); per tile one MPE per (kh, kw, ic step),
        the SFU epilogue into `[oc][oh][ow]`, and the store."""
        q = self.q
        cols, plane = self.cols, self.rows * self.cols
        per_oc = q.ic * q.kh * q.kw
        loops = [("ohi", q.oh_corelet // q.toh), ("owi", q.ow // q.tow), ("oci", q.loc // q.toc)]
        outer = self._loop(block, loops[0][0], loops[0][1], [acc_free, out_free])
        mid = self._loop(outer.body.block, loops[1][0], loops[1][1], list(outer.body.block.args))
        inner = self._loop(mid.body.block, loops[2][0], loops[2][1], list(mid.body.block.args))
        b = inner.body.block
        acc_ready, out_ready = b.args
        a_loops = {"ohi": q.toh * q.sh * cols, "owi": q.tow * q.sw}
        c_access = self._access(((q.toh, q.tow * q.toc), (q.tow, q.toc), (q.toc, 1)))
        last = None
        for kh in range(q.kh):
            for kw in range(q.kw):
                for step in range(q.ic // q.tic):
                    ic0 = step * q.tic
                    a = self._access(((q.toh, q.sh * cols), (q.tow, q.sw), (q.tic, plane)),
                                     ic0 * plane + kh * q.dh * cols + kw * q.dw, 0, a_loops)
                    bb = self._access(((q.tic, q.kh * q.kw), (q.toc, per_oc)),
                                      ic0 * q.kh * q.kw + kh * q.kw + kw, 0, {"oci": q.toc * per_oc})
                    after = [ta, tb, acc_ready] if last is None else [last]
                    props = {"c_access": c_access, "a_access": a, "b_access": bb}
                    if last is not None:
                        props["accumulate"] = UnitAttr()
                    op = M.MpeOp.build(operands=[self.acc, lx_a, lx_b, after], result_types=[M.TokenType()],
                                       properties=props)
                    b.add_op(op)
                    last = op.token
        # ACC [oh][ow][oc] -> LX [oc][oh][ow] (+ bias per oc, relu)
        dst = self._access(((q.toc, q.toh * q.tow), (q.toh, q.tow), (q.tow, 1)))
        src = self._access(((q.toc, 1), (q.toh, q.tow * q.toc), (q.tow, q.toc)))
        bias = self._access(((q.toc, 1), (q.toh, 0), (q.tow, 0)), 0, 0, {"oci": q.toc})
        sfu_token = self._epilogue(b, dst, src, bias, [last, out_ready])
        ohw = q.oh * q.ow
        oc_offset, oc_loops = self._position({"oc": ohw, "g": q.ocg * ohw})
        core = (q.oc_core * ohw if q.core_dim == "oc" else 0) + (q.g_core * q.ocg * ohw if q.core_dim == "g" else 0)
        out = self._access(((q.toc, ohw), (q.toh, q.ow), (q.tow, 1)),
                           self.oc0 * ohw + self.oh0 * q.ow + oc_offset, core,
                           oc_loops | {"n": q.o * ohw, "ohi": q.toh * q.ow, "owi": q.tow, "oci": q.toc * ohw})
        tile = self._access(((q.toc, q.toh * q.tow), (q.toh, q.tow), (q.tow, 1)))
        store = self._dma(b, self.c, out, self.lx_c, tile, sfu_token, queue=self.store_queue)
        b.add_op(M.NextOp.build(operands=[[sfu_token, store]]))
        mid.body.block.add_op(M.NextOp.build(operands=[list(inner.outs)]))
        outer.body.block.add_op(M.NextOp.build(operands=[list(mid.outs)]))
        return outer.outs[0], outer.outs[0], outer.outs[1]
