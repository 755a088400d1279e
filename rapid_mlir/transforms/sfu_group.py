"""The SFU kernel of an elementwise group (`elementwise_groups`) for `convert-tile-to-mem`.

The kernel follows `sfu_lowering`'s plan over its one dim `m` (the rows: cores and
corelets split them, `rapid_mem.loop`s step through LX tiles of `lx(m)` rows, double
buffered). Per step, every value of the group is a set of whole rows in LX:

- each input is loaded into its own tile (one DMA, `[rows, width]`; a lone corelet
  alternates the inputs over its load and store queues, so their latencies overlap);
- each elementwise op writes a tile of its own (the output's tile when the group's result
  is read outside, else an intermediate tile), one `sfu.<kind>` over `[rows, width]`
  reading its operands where they are;
- a split's parts are views of the tile it splits: the same rows at a column offset,
  with the tile's row stride (no instruction);
- each output is stored from where it is (one DMA; a part of a split is stored with its
  row stride).

The SFU instructions run in program order, each after the one before (they share the
corelet's SFU anyway); the loads of a step wait for the slot to be free, the stores for
the last instruction, each store after the one before (they share a queue). Every tile
but the inputs' is written before it is read in the same step, so the intermediates
need no transfer; with double buffering they have one tile per slot as the inputs do.
"""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.dialects.builtin import f16
from xdsl.ir import Block, Operation, SSAValue

from rapid_mlir.dialects import nn
from rapid_mlir.dialects import rapid_mem as M
from rapid_mlir.mapping.mapping import Mapping
from rapid_mlir.transforms.sfu_layers import elementwise_instruction
from rapid_mlir.transforms.sfu_lowering import Body, SfuCorelet, SfuPlan, merge


@dataclass
class _View:
    """Where a value of the group lives in LX: a tile (one buffer per slot), the column
    of its first element and the tile's row stride, and its own width."""

    slots: list[SSAValue]
    column: int
    stride: int
    width: int

    def buf(self, slot: int) -> SSAValue:
        return self.slots[slot if len(self.slots) > 1 else 0]


def group_kernel(layer: str, mapping: Mapping, block: Block, buffers: list[SSAValue], machine) -> M.KernelOp:
    """The rapid_mem kernel of a group kernel whose body is `block` (arguments, members,
    yield) on its DRAM `buffers` (the inputs, then the outputs)."""
    from rapid_mlir.transforms.elementwise_groups import body_problem

    plan = SfuPlan(layer, body_problem(layer, block), mapping, machine)
    body = Block(arg_types=[b.type for b in buffers])
    for corelet in range(plan.corelets):
        region = Block()
        SfuCorelet(plan, corelet, region, GroupBody(block, list(body.args)), machine).emit()
        body.add_op(M.CoreletOp.of(corelet, region))
    return M.KernelOp.of(layer, plan.cores, plan.corelets, buffers, body)


class GroupBody(Body):
    """The loads, SFU instructions and stores of one step of a group (module docstring)."""

    def __init__(self, block: Block, dram: list[SSAValue]):
        ops = list(block.ops)
        self.members: list[Operation] = ops[:-1]
        self.args = list(block.args)
        self.outputs = list(ops[-1].operands)
        self.dram = dict(zip([*self.args, *self.outputs], dram))
        super().__init__([], None)

    def allocate(self, em: SfuCorelet) -> None:
        count = em.slots if "m" in em.loop_dims else 1
        rows = em.tile["m"]

        def tile(value: SSAValue) -> _View:
            width = value.type.get_shape()[-1]
            return _View([em.alloc((rows, width), f16) for _ in range(count)], 0, width, width)

        self.views: dict[SSAValue, _View] = {v: tile(v) for v in self.args}
        for op in self.members:
            if isinstance(op, nn.SplitOp):
                src = self.views[op.input]
                column = src.column
                for part in op.results:
                    width = part.type.get_shape()[-1]
                    self.views[part] = _View(src.slots, column, src.stride, width)
                    column += width
            else:
                self.views[op.results[0]] = tile(op.results[0])

    def prologue(self, em: SfuCorelet, block: Block) -> list:
        return []  # every input moves with the rows (the group's only dim)

    def _dma(self, em: SfuCorelet, block: Block, value: SSAValue, slot: int, store: bool, after,
             queue: int | None = None) -> SSAValue:
        view = self.views[value]  # in DRAM the value is rows of its own width
        sizes, (dram, local) = merge(em.layer, [em.size["m"], view.width], [[view.width, 1], [view.stride, 1]])
        offset, core, loops = em.dram_position({"m": view.width}, ("m",))
        dram_access = M.AccessAttr(list(zip(sizes, dram)), offset, core, loops)
        lx_access = M.AccessAttr(list(zip(sizes, local)), view.column)
        buffer = self.dram[value]
        if store:
            return em.dma(block, em.store_queue, buffer, dram_access, view.buf(slot), lx_access, after)
        return em.dma(block, em.load_queue if queue is None else queue, view.buf(slot), lx_access, buffer,
                      dram_access, after)

    def load(self, em: SfuCorelet, block: Block, slot: int, after) -> list:
        # A lone corelet alternates its inputs over both of its queues, so that their
        # DMA latencies overlap (a step's inputs are a few KB at recurrent-cell sizes).
        queues = (em.load_queue, em.store_queue)
        return [self._dma(em, block, v, slot, False, after, queues[i % 2]) for i, v in enumerate(self.args)]

    def compute(self, em: SfuCorelet, block: Block, slot: int, after) -> SSAValue:
        token = None
        for op in self.members:
            if isinstance(op, nn.SplitOp):
                continue
            values = [op.results[0], *op.operands]
            views = [self.views[v] for v in values]
            sizes, strides = merge(em.layer, [em.size["m"], views[0].width], [[v.stride, 1] for v in views])
            accesses = [M.AccessAttr(list(zip(sizes, s)), v.column) for s, v in zip(strides, views)]
            kind, imms = elementwise_instruction(op)
            token = em.sfu(block, kind, [v.buf(slot) for v in views], accesses,
                           after if token is None else [token], imms)
        return token

    def store(self, em: SfuCorelet, block: Block, slot: int, after) -> SSAValue:
        token = after
        for value in self.outputs:
            token = [self._dma(em, block, value, slot, True, token)]
        return token[0]
