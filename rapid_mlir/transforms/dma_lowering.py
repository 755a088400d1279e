"""DMA kernels for `convert-tile-to-mem`: concat, split, transpose and pad as transfers
DRAM -> LX -> DRAM.

A kernel holding one of the ops of `dma_layers` runs its transfers (boxes of the larger
tensor, each read and written through its own strided access patterns) per core (SPMD:
the `core` coefficient of every DRAM access) and per corelet that gets work, following
the kernel's mapping (`problem.copy`):

- the cores split one dim into equal shares of every box (the split divides the dim's
  grain); the corelets split one dim of each box's core share (uneven parts allowed: each
  corelet region has its own code, and skips a box it gets none of);
- per box, a `rapid_mem.loop` per dim (in the mapping's order) whose extent takes more
  than one LX tile, a ragged last step peeled with its own sizes; per step one DMA loads
  the tile into LX and one stores it (a fill is one DMA from an LX source that is all
  padding, its `padval` the pad value: nothing is read). A box narrower than the
  mapping's tile along some dims takes more along the dims it steps over, up to the
  tile's element count (what the footprint counts);
- lanes: with `double_buffer`, a lone corelet alternates its steps over two lanes, each
  a DMA queue with its own LX tile (the innermost loop unrolled by two, an odd step
  peeled; single steps round robin), so one queue loads while the other stores. A lane's
  load and store are on one queue: they are ordered by the queue itself (no semaphore),
  and tokens still say it (the store after its load, the next load into the tile after
  the store that read it, carried through the loops). Several corelets take one queue
  each.

Accesses merge adjacent dims where both sides are contiguous (sfu_lowering.merge); the
layout has at most four dims, so every access fits the ISA's four.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from xdsl.dialects.builtin import f16
from xdsl.ir import Block, Operation, SSAValue

from rapid_mlir.dialects import rapid_mem as M
from rapid_mlir.mapping.mapping import Mapping, MappingError
from rapid_mlir.transforms.convert_tile_to_mem import TileLoweringError
from rapid_mlir.transforms.dma_layers import CopyLayout, Transfer, copy_layout, row_major
from rapid_mlir.transforms.sfu_lowering import merge

PAD_LIMIT = 255
"""Largest pad count per dim of one DMA source (8-bit fields in the encoding)."""


def _fail(layer: str, msg: str):
    raise TileLoweringError(f"layer '{layer}': {msg}")


def dma_kernel(layer: str, mapping: Mapping, op: Operation, buffers: list[SSAValue], machine) -> M.KernelOp:
    """The rapid_mem kernel of a data-movement op on its DRAM buffers (operands, results)."""
    layout = copy_layout(op)
    if layout is None:
        _fail(layer, f"{op.name} of these tensors has no DMA lowering (the host runs it)")
    plan = DmaPlan(layer, layout, mapping, machine)
    body = Block(arg_types=[b.type for b in buffers])
    for corelet in range(plan.corelets):
        region = Block()
        DmaCorelet(plan, corelet, region, list(body.args)).emit()
        body.add_op(M.CoreletOp.of(corelet, region))
    return M.KernelOp.of(layer, plan.cores, plan.corelets, buffers, body)


class DmaPlan:
    """The mapping resolved: core and corelet splits, LX tiles, loop order."""

    def __init__(self, layer: str, layout: CopyLayout, mapping: Mapping, machine):
        self.layer, self.layout, self.machine = layer, layout, machine
        self.dims = dict(layout.dims)
        self.names = tuple(self.dims)
        try:
            mapping.validate(layout.problem(layer))
        except MappingError as e:
            raise TileLoweringError(str(e)) from None
        if mapping.rows or mapping.cols or mapping.simd or mapping.l0:
            _fail(layer, "a copy layer's mapping has no rows, cols, simd or l0 (only DMA moves its data)")
        self.core_dim, self.cores = self._split(mapping.cores, "cores")  # validate: it divides every piece
        self.corelet_dim, self.corelet_parts = self._split(mapping.corelets, "corelets")
        self.corelets = 1
        if self.corelet_dim is not None:  # the parts of the longest piece that get work
            longest = max(t.size[self.names.index(self.corelet_dim)] for t in layout.transfers)
            share = self.share(self.corelet_dim, longest)
            self.corelets = -(-share // -(-share // self.corelet_parts))
        self.lx = {d: mapping.lx.get(d, 1) for d in self.dims}
        self.order = tuple(mapping.order) or self.names
        self.double_buffer = mapping.double_buffer

    def share(self, dim: str, size: int) -> int:
        """A core's share of `size` elements of a piece along `dim`."""
        return size // self.cores if dim == self.core_dim else size

    def _split(self, split: dict[str, int], clause: str) -> tuple[str | None, int]:
        parts = {d: p for d, p in split.items() if p > 1}
        if len(parts) > 1:
            _fail(self.layer, f"{clause} may split one dim of a copy layer, found {split}")
        return next(iter(parts.items()), (None, 1))


@dataclass
class Box:
    """A corelet's part of one transfer: per dim its start (relative to the box, besides
    the core's share), extent and LX tile; the core's share along the core dim."""

    transfer: Transfer
    start: dict[str, int]
    ext: dict[str, int]
    size: dict[str, int]
    core_share: int

    def steps(self) -> int:
        return math.prod(-(-self.ext[d] // self.size[d]) for d in self.ext)


class DmaCorelet:
    """Builds one corelet's code: its LX tiles, then the steps of every transfer."""

    def __init__(self, plan: DmaPlan, corelet: int, block: Block, buffers: list[SSAValue]):
        self.plan, self.index, self.block, self.buffers = plan, corelet, block, buffers
        self.layer = plan.layer
        self.tile = dict(plan.lx)
        queues = plan.machine.dma_queues
        if plan.corelets > 1:
            self.queues = [corelet % queues]
        else:
            self.queues = list(range(min(2 if plan.double_buffer else 1, queues)))
        self.cursor = 0

    # -- structure ---------------------------------------------------------------------------

    def emit(self) -> None:
        boxes = [b for b in map(self._box, self.plan.layout.transfers) if b is not None]
        self.slots = [self.alloc(shape) if shape else None for shape in self._slot_shapes(boxes)]
        self.fill_source = None
        if any(b.transfer.src is None for b in boxes):  # any LX buffer: a fill reads none of it
            self.fill_source = next((s for s in self.slots if s is not None), None) or self.alloc((1,))
        ready = self.add(self.block, M.ReadyOp.build(result_types=[M.TokenType()])).token
        free = [ready] * len(self.slots)
        for box in boxes:
            free = self._transfer(box, free)

    def _box(self, t: Transfer) -> Box | None:
        """This corelet's part of a transfer (None when it gets none of it)."""
        plan = self.plan
        start, ext = {}, {}
        for i, d in enumerate(plan.names):
            share, begin = plan.share(d, t.size[i]), 0
            if d == plan.corelet_dim:
                part = -(-share // plan.corelet_parts)
                begin = self.index * part
                share = min(part, share - begin)
                if share <= 0:
                    return None
            start[d], ext[d] = begin, share
        core_share = plan.share(plan.core_dim, t.size[plan.names.index(plan.core_dim)]) if plan.core_dim else 0
        return Box(t, start, ext, self._tiles(ext), core_share)

    def _tiles(self, ext: dict[str, int]) -> dict[str, int]:
        """The LX tile of a box: the mapping's, clipped to the box; a box narrower than the
        tile along some dims takes more along the dims it steps over (innermost loop
        first), up to the tile's element count."""
        size = {d: min(self.tile[d], e) for d, e in ext.items()}
        cap = math.prod(self.tile.values())
        for d in reversed(self.plan.order):
            if size[d] < ext[d]:
                rest = math.prod(size[o] for o in size if o != d)
                size[d] = max(size[d], _tile(ext[d], cap // rest))
        return size

    def _slot_shapes(self, boxes: list[Box]) -> list[tuple[int, ...] | None]:
        """The LX tile of each lane (None: the lane only fills): the mapping's tile when a
        box takes several steps (then the corelet steps, and the footprint counts two
        tiles), else the largest box the lane gets (one step per box, handed out round
        robin as `_nest` does; the boxes add up to at most the one tile counted)."""
        lanes = len(self.queues)
        if any(b.steps() > 1 for b in boxes):
            return [tuple(self.tile.values())] * lanes
        largest: list[tuple[int, ...] | None] = [None] * lanes
        for i, b in enumerate(boxes):  # fills take turns too
            shape = tuple(b.ext.values())
            lane = i % lanes
            if b.transfer.src is not None and (largest[lane] is None
                                               or math.prod(shape) > math.prod(largest[lane])):
                largest[lane] = shape
        return largest

    def _transfer(self, box: Box, free: list) -> list:
        self.box = box
        self.size = dict(box.size)
        self.pos: dict[str, tuple[int, int | None]] = {d: (0, None) for d in box.ext}
        self.loop_dims = [d for d in self.plan.order if box.ext[d] > box.size[d]]
        return self._nest(self.block, 0, free)

    def _nest(self, block: Block, k: int, free: list) -> list:
        """The loops over the LX steps of `loop_dims[k:]`; returns the tiles' free tokens."""
        if k == len(self.loop_dims):
            return self._step(block, self._next_lane(), free)
        d = self.loop_dims[k]
        tile = self.size[d]
        full, rem = divmod(self.box.ext[d], tile)
        innermost = k == len(self.loop_dims) - 1
        per = len(self.queues) if innermost else 1
        count = full // per
        if count:
            carry = self.box.transfer.src is not None  # a fill uses no LX tile: nothing to carry
            loop = self.loop(block, d, count, free if carry else [])
            body = loop.body.block
            inner = list(body.args)
            for lane in range(per):
                self.pos[d] = (lane * tile, per * tile)
                inner = self._step(body, lane, inner) if innermost else self._nest(body, k + 1, inner)
            self.add(body, M.NextOp.build(operands=[inner]))
            free = list(loop.outs) if carry else free
        peeled = [(i * tile, tile) for i in range(count * per, full)] + ([(full * tile, rem)] if rem else [])
        for offset, size in peeled:
            self.pos[d], self.size[d] = (offset, None), size
            free = self._nest(block, k + 1, free)
        self.pos[d], self.size[d] = (0, None), tile
        return free

    def _next_lane(self) -> int:
        lane = self.cursor % len(self.queues)
        self.cursor += 1
        return lane

    # -- one step ------------------------------------------------------------------------------

    def _step(self, block: Block, lane: int, free: list) -> list:
        """The DMAs of the current tile of the box through lane `lane`; the new free tokens."""
        t = self.box.transfer
        queue = self.queues[lane]
        names = list(self.box.ext)
        sizes = [self.size[d] for d in names]
        lx = list(row_major(sizes))
        dst_sizes, (dst, lx_store) = merge(self.layer, sizes, [list(t.dst_strides), lx])
        dst_access = self._dram(t.dst_offset, t.dst_strides, dst_sizes, dst)
        dst_buffer = self.buffers[t.dst]
        if t.src is None:
            src_dims, pads = _all_padding(self.layer, dst_sizes)
            if len(src_dims) > len(dst_sizes):
                dst_access = M.AccessAttr([(1, 0), *dst_access.dim_pairs], dst_access.offset.data,
                                          dst_access.core.data, dst_access.loops)
            src_access = M.AccessAttr(src_dims, pads=pads)
            self.dma(block, queue, dst_buffer, dst_access, self.fill_source, src_access, [],
                     self.plan.layout.padval)
            return free
        slot = self.slots[lane]
        load_sizes, (src, lx_load) = merge(self.layer, sizes, [list(t.src_strides), lx])
        load = self.dma(block, queue, slot, M.AccessAttr(list(zip(load_sizes, lx_load))), self.buffers[t.src],
                        self._dram(t.src_offset, t.src_strides, load_sizes, src), [free[lane]])
        store = self.dma(block, queue, dst_buffer, dst_access, slot, M.AccessAttr(list(zip(dst_sizes, lx_store))),
                         [load])
        free = list(free)
        free[lane] = store
        return free

    def _dram(self, base: int, strides, sizes, merged) -> M.AccessAttr:
        """The DRAM access of the current tile of a box accessed at `base + sum(i_d *
        strides[d])`: static offset, core coefficient, loop coefficients."""
        names = list(self.box.ext)
        by_dim = dict(zip(names, strides))
        offset = base + sum((self.box.start[d] + self.pos[d][0]) * by_dim[d] for d in names)
        core_dim = self.plan.core_dim
        core = self.box.core_share * by_dim[core_dim] if core_dim is not None else 0
        loops = {d: self.pos[d][1] * by_dim[d] for d in names if self.pos[d][1] is not None and by_dim[d]}
        return M.AccessAttr(list(zip(sizes, merged)), offset, core, loops)

    # -- ops ---------------------------------------------------------------------------------

    def add(self, block: Block, op):
        block.add_op(op)
        return op

    def alloc(self, shape) -> SSAValue:
        typ = M.BufferType(tuple(shape), f16, M.MemSpace.LX)
        return self.add(self.block, M.AllocOp.build(result_types=[typ])).buffer

    def loop(self, block: Block, label: str, count: int, carried: list) -> M.LoopOp:
        return self.add(block, M.LoopOp.of(label, count, carried))

    def dma(self, block: Block, queue: int, dst, dst_access, src, src_access, after, padval=None) -> SSAValue:
        return self.add(block, M.DmaOp.of(queue, dst, dst_access, src, src_access, after, padval)).token


def _tile(extent: int, cap: int) -> int:
    """A tile of at most `cap` of `extent`: its largest divisor up to `cap` (no ragged
    step) unless that is under half of `cap`."""
    cap = min(extent, cap)
    best = max(d for d in range(1, cap + 1) if extent % d == 0)
    return best if 2 * best >= cap else cap


def _all_padding(layer: str, sizes: list[int]) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """A DMA source of `sizes` that is padding everywhere (one dim padded whole; a leading
    dim of one element when every dim is too long for the 8-bit pad fields)."""
    dims = [(s, 0) for s in sizes]
    for i, s in enumerate(sizes):
        if s <= PAD_LIMIT:
            return dims, [(s, 0) if j == i else (0, 0) for j in range(len(sizes))]
    if len(sizes) >= 4:
        _fail(layer, f"a fill of {sizes} elements needs a dim of at most {PAD_LIMIT} to pad")
    return [(1, 0), *dims], [(1, 0)] + [(0, 0)] * len(sizes)
