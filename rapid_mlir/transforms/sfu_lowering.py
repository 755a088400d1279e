"""SFU kernels for `convert-tile-to-mem`: layers the SFU runs alone, streamed through LX.

A kernel holding one of the ops of `sfu_layers` (elementwise, batch norm, pooling,
softmax, gelu, layer norm, LRN, reduce) becomes, per core (SPMD) and per corelet that gets work, a loop nest over LX
tiles of its output, following the kernel's mapping (`problem.py`, kind `vector`):

- the cores split one dim into equal shares (the `core` coefficient of every DRAM
  access); the corelets split one dim of a core's share (uneven shares allowed: each
  corelet region has its own code);
- a `rapid_mem.loop` per dim (in the mapping's order) that takes more than one LX step;
  a last step smaller than the tile (a ragged extent) is peeled with its own sizes;
- per step: a DMA of each input tile into LX, the SFU instructions of the op
  (`sfu_bodies`), a DMA of the output tile back to DRAM. An input no loop moves (a
  broadcast operand, batch-norm parameters) is loaded once before the loops.
- double buffering (mapping `double_buffer`): the innermost loop is unrolled by two over
  two LX slots (loads of both first), with an odd last step peeled; carried tokens say
  when each slot's inputs are free (the last SFU instruction that read them) and when
  its output tile is free (its store), initially `rapid_mem.ready`.

A lone corelet loads on DMA queue 0 and stores on queue 1; several corelets use one queue
each. Every LX access covers a tile with up to four (size, stride) dims: adjacent dims
are merged where every operand of the instruction is contiguous across them, and a
layout that still needs more than four is reported, as is a mapping this lowering cannot
run (a split of a dim that must stay whole, core shares that differ, rows/cols/simd/l0).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from xdsl.dialects.builtin import ArrayAttr, FloatAttr, IntAttr, StringAttr, f16, f32
from xdsl.ir import Block, Operation, SSAValue

from rapid_mlir.dialects import rapid_mem as M
from rapid_mlir.mapping.mapping import Mapping, MappingError
from rapid_mlir.mapping.problem import Problem, vector_whole_dims
from rapid_mlir.transforms.convert_tile_to_mem import TileLoweringError


def _fail(layer: str, msg: str):
    raise TileLoweringError(f"layer '{layer}': {msg}")


def sfu_kernel(layer: str, mapping: Mapping, ops: list[Operation], buffers: list[SSAValue],
               machine) -> M.KernelOp:
    """The rapid_mem kernel of an SFU layer: `ops` is the kernel body (the layer's op,
    then possibly a fused relu); `buffers` its DRAM operands then its output."""
    from rapid_mlir.transforms.sfu_bodies import make_body
    from rapid_mlir.transforms.sfu_layers import sfu_problem

    op = ops[0]
    epilogue = None
    if len(ops) == 2 and ops[1].name == "nn.relu" and ops[1].operands[0] is op.results[0]:
        epilogue = "relu"
    elif len(ops) != 1:
        _fail(layer, f"a kernel of {', '.join(o.name for o in ops)} is not lowered yet")
    plan = SfuPlan(layer, sfu_problem(op, layer), mapping, machine)
    body = Block(arg_types=[b.type for b in buffers])
    for corelet in range(plan.corelets):
        region = Block()
        work = make_body(plan, op, list(body.args), epilogue, machine)
        SfuCorelet(plan, corelet, region, work, machine).emit()
        body.add_op(M.CoreletOp.of(corelet, region))
    return M.KernelOp.of(layer, plan.cores, plan.corelets, buffers, body)


class SfuPlan:
    """The mapping resolved: core and corelet splits, LX tiles, loop order."""

    def __init__(self, layer: str, problem: Problem, mapping: Mapping, machine):
        self.layer, self.problem, self.machine = layer, problem, machine
        self.dims = dict(problem.dims)
        try:
            mapping.validate(problem)
        except MappingError as e:
            raise TileLoweringError(str(e)) from None
        if mapping.rows or mapping.cols or mapping.simd or mapping.l0:
            _fail(layer, "an SFU layer's mapping has no rows, cols, simd or l0 (it does not use the MPE)")
        whole = vector_whole_dims(problem)
        self.core_dim, self.cores = self._split(mapping.cores, "cores", whole)
        self.core_share = dict(self.dims)
        if self.core_dim is not None:
            extent = self.dims[self.core_dim]
            if extent % self.cores:
                _fail(layer, f"cores({self.core_dim}={self.cores}) does not divide {self.core_dim} = {extent} "
                             "(every core runs the same code on an equal share)")
            self.core_share[self.core_dim] = extent // self.cores
        self.corelet_dim, parts = self._split(mapping.corelets, "corelets", whole)
        share = self.core_share.get(self.corelet_dim, 1)
        self.corelet_size = -(-share // parts)
        self.corelets = -(-share // self.corelet_size)  # parts that get work
        self.lx = {d: mapping.lx.get(d, 1) for d in self.dims}
        for d in whole:
            if self.lx[d] != self.core_share[d]:
                _fail(layer, f"lx({d}={self.lx[d]}) must hold all {self.core_share[d]} of {d} (an SFU layer "
                             f"keeps {', '.join(whole)} whole)")
        self.order = tuple(mapping.order) or tuple(self.dims)
        self.double_buffer = mapping.double_buffer

    def _split(self, split: dict[str, int], clause: str, whole) -> tuple[str | None, int]:
        parts = {d: p for d, p in split.items() if p > 1}
        if len(parts) > 1:
            _fail(self.layer, f"{clause} may split one dim of an SFU layer, found {split}")
        dim, count = next(iter(parts.items()), (None, 1))
        if dim in whole:
            _fail(self.layer, f"{clause}({dim}={count}) splits a dim this layer keeps whole "
                              f"({', '.join(whole)})")
        return dim, count


@dataclass
class Dram:
    """A DRAM operand as the loop nest sees it: its buffer and the element stride of
    each problem dim that indexes it (row-major in its own shape)."""

    buffer: SSAValue
    strides: dict[str, int]


def row_major(shape) -> list[int]:
    """Element strides of a row-major array of `shape`."""
    out, acc = [], 1
    for e in reversed(list(shape)):
        out.append(acc)
        acc *= e
    return out[::-1]


@dataclass
class TileOperand:
    """An input or the output of the layer, streamed through LX one tile per step
    (or loaded once when no loop moves it)."""

    name: str
    dram: Dram
    dims: tuple[str, ...]
    elem: object = None                   # LX element type (f16 when None)
    slots: list[SSAValue] = field(default_factory=list)   # LX buffers, one per slot
    token: SSAValue | None = None         # the load of a once-loaded input

    def changes(self, em: SfuCorelet) -> bool:
        return any(d in em.loop_dims for d in self.dims)

    def buf(self, slot: int) -> SSAValue:
        return self.slots[slot if len(self.slots) > 1 else 0]

    def lx_strides(self, em: SfuCorelet) -> dict[str, int]:
        """Element strides of the LX tile (compact over the corelet's largest tile)."""
        return dict(zip(self.dims, row_major([em.tile[d] for d in self.dims])))


def merge(layer: str, sizes: list[int], strides: list[list[int]]) -> tuple[list[int], list[list[int]]]:
    """Drops dims of size 1 and merges adjacent dims where every operand is contiguous
    across them (outer stride = inner size * inner stride); at most 4 dims remain."""
    if not sizes:  # a scalar
        return [1], [[1] for _ in strides]
    keep = [i for i, s in enumerate(sizes) if s > 1] or [len(sizes) - 1]
    out_sizes: list[int] = []
    out: list[list[int]] = [[] for _ in strides]
    for i in keep:
        if out_sizes and all(o[-1] == sizes[i] * st[i] for o, st in zip(out, strides)):
            out_sizes[-1] *= sizes[i]
            for o, st in zip(out, strides):
                o[-1] = st[i]
        else:
            out_sizes.append(sizes[i])
            for o, st in zip(out, strides):
                o.append(st[i])
    if len(out_sizes) > 4:
        _fail(layer, f"a tile access needs {len(out_sizes)} dims (sizes {out_sizes}) but the ISA has 4")
    return out_sizes, out


class SfuCorelet:
    """Builds one corelet's code: allocations, the body's prologue, the loop nest."""

    def __init__(self, plan: SfuPlan, corelet: int, block: Block, body, machine):
        self.plan, self.block, self.body, self.machine = plan, block, body, machine
        self.layer = plan.layer
        self.start = {d: 0 for d in plan.dims}
        self.extent = dict(plan.core_share)
        if plan.corelet_dim is not None:
            d = plan.corelet_dim
            self.start[d] = corelet * plan.corelet_size
            self.extent[d] = min(plan.corelet_size, plan.core_share[d] - self.start[d])
        self.tile = {d: min(plan.lx[d], self.extent[d]) for d in plan.dims}
        self.loop_dims = [d for d in plan.order if self.extent[d] > self.tile[d]]
        last = self.loop_dims[-1] if self.loop_dims else None
        pairs = last is not None and self.extent[last] // self.tile[last] >= 2
        self.slots = 2 if plan.double_buffer and pairs else 1
        self.pos: dict[str, tuple[int, int | None]] = {d: (0, None) for d in plan.dims}
        self.size = dict(self.tile)
        queues = machine.dma_queues
        if plan.corelets > 1:
            self.load_queue = self.store_queue = corelet % queues
        else:
            self.load_queue, self.store_queue = 0, 1 % queues

    # -- structure ---------------------------------------------------------------------------

    def emit(self) -> None:
        self.body.allocate(self)
        self.ready = self.add(self.block, M.ReadyOp.build(result_types=[M.TokenType()])).token
        self.prologue = [t for t in self.body.prologue(self, self.block) if t is not None]
        self._nest(self.block, 0, [self.ready] * (2 * self.slots))

    def _nest(self, block: Block, k: int, st: list) -> list:
        """The loops over LX steps of `loop_dims[k:]`; returns the carried state after them."""
        if k == len(self.loop_dims):
            return self._step(block, 0, st)
        d = self.loop_dims[k]
        t = self.tile[d]
        full, rem = divmod(self.extent[d], t)
        innermost = k == len(self.loop_dims) - 1
        per = self.slots if innermost else 1
        loop = self.loop(block, d, full // per, st)
        body = loop.body.block
        s = list(body.args)
        if innermost:
            loaded = []
            for slot in range(per):
                self.pos[d] = (slot * t, per * t)
                loaded.append(self.body.load(self, body, slot, [s[slot]]))
            for slot in range(per):
                self.pos[d] = (slot * t, per * t)
                s = self._finish(body, slot, loaded[slot], s)
        else:
            self.pos[d] = (0, t)
            s = self._nest(body, k + 1, s)
        self.add(body, M.NextOp.build(operands=[s]))
        st = list(loop.outs)
        peeled = ([((full - 1) * t, t)] if full % per else []) + ([(full * t, rem)] if rem else [])
        for offset, size in peeled:
            self.pos[d], self.size[d] = (offset, None), size
            st = self._step(block, 0, st) if innermost else self._nest(block, k + 1, st)
        self.pos[d], self.size[d] = (0, None), t
        return st

    def _step(self, block: Block, slot: int, st: list) -> list:
        return self._finish(block, slot, self.body.load(self, block, slot, [st[slot]]), st)

    def _finish(self, block: Block, slot: int, loaded: list, st: list) -> list:
        """The SFU work and the store of one step; the slot's new "free" tokens."""
        last = self.body.compute(self, block, slot, [*loaded, st[self.slots + slot], *self.prologue])
        store = self.body.store(self, block, slot, [last])
        st = list(st)
        st[slot], st[self.slots + slot] = last, store
        return st

    # -- positions and accesses -------------------------------------------------------------------

    def dram_position(self, strides: dict[str, int], dims) -> tuple[int, int, dict[str, int]]:
        """(offset, core coefficient, loop coefficients) of the current step's tile in a
        DRAM operand with the given element strides."""
        offset = sum((self.start[d] + self.pos[d][0]) * strides[d] for d in dims)
        core_dim = self.plan.core_dim
        core = self.plan.core_share[core_dim] * strides[core_dim] if core_dim in dims else 0
        loops = {d: self.pos[d][1] * strides[d] for d in dims if self.pos[d][1] is not None and strides[d]}
        return offset, core, loops

    def lx_position(self, strides: dict[str, int]) -> tuple[int, dict[str, int]]:
        """(offset, loop coefficients) of the current step in an LX buffer holding the
        corelet's whole share of the dims in `strides` (a resident operand)."""
        offset = sum(self.pos[d][0] * s for d, s in strides.items())
        return offset, {d: self.pos[d][1] * s for d, s in strides.items() if self.pos[d][1] is not None and s}

    def tile_dma(self, block: Block, op: TileOperand, slot: int, to_dram: bool, after) -> SSAValue:
        """The DMA of the current tile of `op` between DRAM and its LX slot."""
        lx = op.lx_strides(self)
        sizes, (dram, local) = merge(self.layer, [self.size[d] for d in op.dims],
                                     [[op.dram.strides[d] for d in op.dims], [lx[d] for d in op.dims]])
        offset, core, loops = self.dram_position(op.dram.strides, op.dims)
        dram_access = M.AccessAttr(list(zip(sizes, dram)), offset, core, loops)
        lx_access = M.AccessAttr(list(zip(sizes, local)))
        if to_dram:
            return self.dma(block, self.store_queue, op.dram.buffer, dram_access, op.buf(slot), lx_access, after)
        return self.dma(block, self.load_queue, op.buf(slot), lx_access, op.dram.buffer, dram_access, after)

    def sfu_accesses(self, dims, operands) -> list[M.AccessAttr]:
        """Accesses over the current tile's `dims` for SFU operands given as (strides by dim,
        0 or absent for broadcast; offset; loop coefficients), merged alike."""
        sizes, strides = merge(self.layer, [self.size[d] for d in dims],
                               [[st.get(d, 0) for d in dims] for st, _, _ in operands])
        return [M.AccessAttr(list(zip(sizes, s)), offset, 0, loops)
                for s, (_, offset, loops) in zip(strides, operands)]

    # -- ops ---------------------------------------------------------------------------------

    def add(self, block: Block, op):
        block.add_op(op)
        return op

    def alloc(self, shape, elem) -> SSAValue:
        typ = M.BufferType(tuple(shape) or (1,), elem, M.MemSpace.LX)
        return self.add(self.block, M.AllocOp.build(result_types=[typ])).buffer

    def loop(self, block: Block, label: str, count: int, carried: list) -> M.LoopOp:
        return self.add(block, M.LoopOp.of(label, count, carried))

    def dma(self, block: Block, queue: int, dst, dst_access, src, src_access, after, padval=None) -> SSAValue:
        return self.add(block, M.DmaOp.of(queue, dst, dst_access, src, src_access, after, padval)).token

    def sfu(self, block: Block, kind: str, buffers, accesses, after, imms=(), window=None) -> SSAValue:
        props = {"kind": StringAttr(kind), "access_list": ArrayAttr(accesses),
                 "imms": ArrayAttr([FloatAttr(float(v), f32) for v in imms])}
        if window is not None:
            props["window"] = ArrayAttr([IntAttr(v) for pair in window for v in pair])
        op = M.SfuOp.build(operands=[list(buffers), [a for a in after if a is not None]],
                           result_types=[M.TokenType()], properties=props)
        return self.add(block, op).token


class Body:
    """What one SFU layer does per step; `sfu_bodies` has one subclass per op family.

    `inputs` are streamed (or loaded once, when no loop moves them), `output` is stored
    after every step; subclasses allocate and fill their other buffers in `allocate` and
    `prologue` and emit the SFU instructions of a step in `compute`.
    """

    def __init__(self, inputs: list[TileOperand], output: TileOperand):
        self.inputs, self.output = inputs, output

    def lx_shape(self, em: SfuCorelet, op: TileOperand) -> tuple[int, ...]:
        return tuple(em.tile[d] for d in op.dims)

    def allocate(self, em: SfuCorelet) -> None:
        for op in [*self.inputs, self.output]:
            count = em.slots if op.changes(em) else 1
            op.slots = [em.alloc(self.lx_shape(em, op), op.elem or f16) for _ in range(count)]

    def prologue(self, em: SfuCorelet, block: Block) -> list:
        """Loads of the inputs no loop moves (and a subclass's own set-up); their tokens."""
        for op in self.inputs:
            if not op.changes(em):
                op.token = self.load_one(em, block, op, 0, [em.ready])
        return [op.token for op in self.inputs if not op.changes(em)]

    def load(self, em: SfuCorelet, block: Block, slot: int, after) -> list:
        """The loads of a step into `slot`; their tokens."""
        return [self.load_one(em, block, op, slot, after) for op in self.inputs if op.changes(em)]

    def load_one(self, em: SfuCorelet, block: Block, op: TileOperand, slot: int, after) -> SSAValue:
        return em.tile_dma(block, op, slot, False, after)

    def store(self, em: SfuCorelet, block: Block, slot: int, after) -> SSAValue:
        return em.tile_dma(block, self.output, slot, True, after)

    def compute(self, em: SfuCorelet, block: Block, slot: int, after) -> SSAValue:
        raise NotImplementedError
