"""A split of a reduction dim over cores (a matrix product's `cores(k=P)`, a
convolution's `cores(ic=P)`), its partial sums combined over the ring (docs/lowering.md,
section 4, step 7).

The output is seen as an `M x N` matrix: a matrix product's `C[m][n]`, a convolution's
NCHW output at batch 1 and one group as `[oc][oh * ow]` (bias one value per row, not per
column).

The kernel has three phases, separated by `rapid_mem.barrier`s (every stream of every
core has finished the phase before any starts the next):

1. **Partial sums.** Each core runs the usual MPE code (`mpe_lowering.py`) over its share
   of `k` or `ic` (the shares' start is the `core` coefficient of the loads; a ragged
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
   rows (matmul) or the columns (conv), and the activation (relu or clip), or a plain
   copy / the activation) and stores the block.

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
from rapid_mlir.transforms.mpe_lowering import Aff, Epilogue, MpeEmitter, MpePlan, access


def owner_blocks(m: int, n: int, cores: int) -> tuple[str, int, int]:
    """(dim, block size, owners): the output's longer dim cut into `cores` blocks."""
    dim, extent = ("m", m) if m >= n else ("n", n)
    block = -(-extent // cores)
    return dim, block, -(-extent // block)


def ring_kernel(plan: MpePlan, make: Callable[..., MpeEmitter], buffers: list[SSAValue], mn: tuple[int, int],
                has_bias: bool, epilogue: Epilogue, bias_along: str = "n") -> M.KernelOp:
    """The rapid_mem kernel of a layer on DRAM buffers (inputs[, bias], output) whose
    reduction dim is split over `plan.cores` cores (see the module docstring). `mn` is the
    output as a matrix (the layer's emitters write partial sums to its flat offsets),
    `bias_along` the dim the bias indexes ("n": one value per column, "m": per row)."""
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
        _combine(block, plan, args, recv, cores, dim, size, z, (m, n), (bm, bn),
                 bias_along if has_bias else None, epilogue)
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
             mn: tuple[int, int], slot_shape: tuple[int, int], bias_along: str | None,
             epilogue: Epilogue) -> None:
    """An owner's phase 3: the sum of its slots, the epilogue, the store. The owner's block
    starts at `core * size` along `dim` (the core coefficient of the accesses); the bias
    (if any) is one value per column (`bias_along` "n") or per row ("m") of the block."""
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
    if bias_along is not None:
        count = cols if bias_along == "n" else rows
        bias = add(M.AllocOp.build(result_types=[M.BufferType((bn if bias_along == "n" else bm,), f16,
                                                               M.MemSpace.LX)])).buffer
        src = access(((count, 1),), Aff(0, size) if dim == bias_along else Aff())
        loaded = add(M.DmaOp.build(operands=[bias, args[-2], []], result_types=[M.TokenType()],
                                   properties={"queue": IntegerAttr(0, i64), "dst_access": access(((count, 1),)),
                                               "src_access": src})).token
        spread = ((rows, 0), (cols, 1)) if bias_along == "n" else ((rows, 1), (cols, 0))
        token = MpeEmitter._sfu(block, "add", [out, recv, bias],
                                [slot(0), slot(0), access(spread)], [*after, loaded])
        if epilogue.activates:
            token = epilogue.emit(block, [out, out], [slot(0), slot(0)], [token])
    else:
        token = epilogue.emit(block, [out, recv], [slot(0), slot(0)], after)
    start = Aff(0, size * n) if dim == "m" else Aff(0, size)
    add(M.DmaOp.build(operands=[args[-1], out, [token]], result_types=[M.TokenType()],
                      properties={"queue": IntegerAttr(1 if plan.machine.dma_queues > 1 else 0, i64),
                                  "dst_access": access(((rows, n), (cols, 1)), start),
                                  "src_access": slot(0)}))
