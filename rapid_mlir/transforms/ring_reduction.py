"""A split of a matrix product's reduction dim over cores (`cores(k=P)`), its partial
sums combined over the ring (docs/lowering.md, section 4, step 7).

The kernel has three phases, separated by `rapid_mem.barrier`s (every stream of every
core has finished the phase before any starts the next):

1. **Partial sums.** Each core runs the usual MPE code (`mpe_lowering.py`) over its share
   of `k` (the shares' start is the `core` coefficient of the A and B loads; a ragged
   last share is a region of its own), but each finished L0 tile leaves ACC through an
   `sfu copy` into its place in `part`, an f32 LX buffer of the whole `M x N` output
   (no bias, activation or store).
2. **Exchange (a reduce-scatter over the ring).** The output is cut into `P` blocks along
   its longer dim (`ceil(E / P)` rows or columns each, owner `o` holding block `o`, so
   the combining work rotates over the cores). Every core sends block `o` of its `part`
   with one DMA to core `o`'s LX (`to_core o`), into slot `core` of `recv`, a
   `P x block` f32 buffer at the same offset on every core (a core's own block is a
   local copy into its own slot).
3. **Combine and store.** Each owner adds its `P` slots in f32 (`P - 1` `sfu add`s into
   slot 0), then the epilogue into an f16 block (the bias added, broadcast over the
   rows, and the relu, or a plain copy / relu) and stores the block.

Cost: every core moves `(P - 1) / P * M * N * 4` bytes over the ring (plus its own block
locally), each owner `(P - 1) * M * N / P` f32 SFU additions and one epilogue of
`M * N / P` elements, and two barriers. LX per core: `part` (`M * N * 4` bytes) and
`recv` (`P * ceil(E / P) * (M * N / E) * 4`, about the same), besides phase 1's tiles
(`footprint.py` counts both).
"""

from __future__ import annotations

from collections.abc import Callable

from xdsl.dialects.builtin import IntegerAttr, StringAttr, f16, f32, i64
from xdsl.ir import Block, Region, SSAValue

from rapid_mlir.dialects import rapid_mem as M
from rapid_mlir.transforms.mpe_lowering import Aff, MpeEmitter, MpePlan, access


def owner_blocks(m: int, n: int, cores: int) -> tuple[str, int, int]:
    """(dim, block size, owners): the output's longer dim cut into `cores` blocks."""
    dim, extent = ("m", m) if m >= n else ("n", n)
    block = -(-extent // cores)
    return dim, block, -(-extent // block)


def ring_kernel(plan: MpePlan, make: Callable[..., MpeEmitter], buffers: list[SSAValue], mn: tuple[int, int],
                has_bias: bool, epilogue: str) -> M.KernelOp:
    """The rapid_mem kernel of a matrix product on DRAM buffers (a, b[, bias], c) whose `k`
    is split over `plan.cores` cores (see the module docstring)."""
    m, n = mn
    cores = plan.cores
    body = Block(arg_types=[b.type for b in buffers])
    args = body.args
    dim, size, owners = owner_blocks(m, n, cores)
    bm, bn = (size, n) if dim == "m" else (m, size)

    def alloc(shape, elem) -> SSAValue:
        op = M.AllocOp.build(result_types=[M.BufferType(tuple(shape), elem, M.MemSpace.LX)])
        body.add_op(op)
        return op.buffer

    part, recv = alloc((m, n), f32), alloc((cores, bm, bn), f32)
    for region in plan.regions:  # 1. partial sums
        block = Block()
        make(region, block, args).partial_sums(part).emit()
        body.add_op(_corelet(region.corelet, region.cores, (0, cores - 1), block))
    body.add_op(M.BarrierOp.build(operands=[[]], result_types=[M.TokenType()]))
    # 2. Block o of every core's part to slot `core` of core o's recv.
    step = size * n if dim == "m" else size
    for o in range(owners):
        rows, cols = (min(size, m - o * size), n) if dim == "m" else (m, min(size, n - o * size))
        op = M.DmaOp.build(operands=[recv, part, []], result_types=[M.TokenType()],
                           properties={"queue": IntegerAttr(o % plan.machine.dma_queues, i64),
                                       "dst_access": access(((rows, bn), (cols, 1)), Aff(0, bm * bn)),
                                       "src_access": access(((rows, n), (cols, 1)), o * step),
                                       "to_core": IntegerAttr(o, i64)})
        body.add_op(op)
    body.add_op(M.BarrierOp.build(operands=[[]], result_types=[M.TokenType()]))
    # 3. Owners with a full block share one region, a ragged last block has its own.
    last = min(size, (m if dim == "m" else n) - (owners - 1) * size)
    groups = [(0, owners - 1, size)] if last == size else [(0, owners - 2, size), (owners - 1, owners - 1, last)]
    for first, final, z in groups:
        if final < first:
            continue
        block = Block()
        _combine(block, plan, args, recv, cores, dim, size, z, (m, n), (bm, bn), has_bias, epilogue)
        body.add_op(_corelet(0, (first, final), (0, cores - 1), block))
    return M.KernelOp.build(operands=[buffers],
                            properties={"layer": StringAttr(plan.layer), "cores": IntegerAttr(cores, i64),
                                        "corelets": IntegerAttr(plan.corelets, i64)},
                            regions=[Region(body)])


def _corelet(index: int, span: tuple[int, int], every: tuple[int, int], block: Block) -> M.CoreletOp:
    props = {"index": IntegerAttr(index, i64)}
    if span != every:
        props |= {"first_core": IntegerAttr(span[0], i64), "last_core": IntegerAttr(span[1], i64)}
    return M.CoreletOp.build(properties=props, regions=[Region(block)])


def _combine(block: Block, plan: MpePlan, args, recv: SSAValue, cores: int, dim: str, size: int, z: int,
             mn: tuple[int, int], slot_shape: tuple[int, int], has_bias: bool, epilogue: str) -> None:
    """An owner's phase 3: the sum of its slots, the epilogue, the store. The owner's block
    starts at `core * size` along `dim` (the core coefficient of the accesses)."""
    m, n = mn
    bm, bn = slot_shape
    rows, cols = (z, n) if dim == "m" else (m, z)

    def add(op):
        block.add_op(op)
        return op

    out = add(M.AllocOp.build(result_types=[M.BufferType((bm, bn), f16, M.MemSpace.LX)])).buffer
    slot = lambda j: access(((rows, bn), (cols, 1)), j * bm * bn)  # noqa: E731
    token = None
    for j in range(1, cores):
        token = MpeEmitter._sfu(block, "add", [recv, recv, recv], [slot(0), slot(0), slot(j)],
                                [token] if token else [])
    after = [token] if token else []
    if has_bias:
        bias = add(M.AllocOp.build(result_types=[M.BufferType((bn,), f16, M.MemSpace.LX)])).buffer
        src = access(((cols, 1),), Aff(0, size) if dim == "n" else Aff())
        loaded = add(M.DmaOp.build(operands=[bias, args[2], []], result_types=[M.TokenType()],
                                   properties={"queue": IntegerAttr(0, i64), "dst_access": access(((cols, 1),)),
                                               "src_access": src})).token
        token = MpeEmitter._sfu(block, "add", [out, recv, bias],
                                [slot(0), slot(0), access(((rows, 0), (cols, 1)))], [*after, loaded])
        token = slot_token = token
        if epilogue == "relu":
            token = MpeEmitter._sfu(block, "relu", [out, out], [slot(0), slot(0)], [slot_token])
    else:
        token = MpeEmitter._sfu(block, epilogue, [out, recv], [slot(0), slot(0)], after)
    start = Aff(0, size * n) if dim == "m" else Aff(0, size)
    add(M.DmaOp.build(operands=[args[-1], out, [token]], result_types=[M.TokenType()],
                      properties={"queue": IntegerAttr(1 if plan.machine.dma_queues > 1 else 0, i64),
                                  "dst_access": access(((rows, n), (cols, 1)), start),
                                  "src_access": slot(0)}))
