"""`nn.reshape`, `nn.flatten` and outermost splits on the device: views of DRAM bytes.

Tensors live in DRAM row-major in their `nn` shape, so a reshape or flatten moves no
data: `convert-tile-to-mem` gives its result a `rapid_mem.view` of its source's buffer,
which `convert-mem-to-isa` places at its source's address. A function result that is a
view of a kernel's result makes that kernel write the output argument directly, through a
view of it in the kernel result's shape.

Likewise each part of an `nn.split` whose parts are runs of consecutive elements (every
dim before the axis is 1, as an RNN's per-step input projections, `decompose-rnn`) is a
view of its source at the part's offset (`split_views`), and the split's copy kernel
goes away, unless a part is a function result or the host reads it (they keep their
own buffer).
"""

from __future__ import annotations

from collections.abc import Callable

from xdsl.dialects.builtin import IntegerAttr, i64
from xdsl.ir import Block, SSAValue

from rapid_mlir.dialects import nn
from rapid_mlir.dialects import rapid_mem as M

VIEW_OPS = (nn.ReshapeOp, nn.FlattenOp)
"""The nn ops that are DRAM views on the device."""


def view_root(value: SSAValue) -> SSAValue:
    """The value whose bytes `value` is (through any chain of reshapes and flattens)."""
    while isinstance(value.owner, VIEW_OPS):
        value = value.owner.input
    return value


def view_of(source: SSAValue, shape, block: Block, offset: int | None = None) -> SSAValue:
    """`source` (a DRAM buffer) seen in `shape`: a `rapid_mem.view` appended to `block`
    (or `source` itself when the shape is the same); with `offset`, the elements of
    `shape` from that one on."""
    typ = M.BufferType(tuple(shape), source.type.element_type, M.MemSpace.DRAM)
    if typ == source.type and not offset:
        return source
    props = {} if offset is None else {"offset": IntegerAttr(offset, i64)}
    op = M.ViewOp.build(operands=[source], result_types=[typ], properties=props)
    op.buffer.name_hint = source.name_hint
    block.add_op(op)
    return op.buffer


def view_buffer(value: SSAValue, block: Block, buffers: dict[SSAValue, SSAValue],
                resolve: Callable[[SSAValue], SSAValue]) -> SSAValue:
    """The DRAM buffer of the result of a reshape or flatten: a view of the buffer of its
    source (`resolve(source)`), recorded in `buffers`."""
    buffers[value] = view_of(resolve(value.owner.input), value.type.get_shape(), block)
    return buffers[value]


def bind_results(results: list[SSAValue], outs, block: Block, buffers: dict[SSAValue, SSAValue]) -> None:
    """Records each function result's output argument in `buffers`; when a result is a
    view of another value, that value's buffer becomes a view of the output argument (so
    its producer writes the output). The caller checks that the roots are distinct
    results of device or host work."""
    for result, out in zip(results, outs):
        buffers[result] = out
        root = view_root(result)
        if root is not result:
            buffers[root] = view_of(out, root.type.get_shape(), block)


def read_by_host(value: SSAValue, runs_on_host) -> bool:
    """Whether the host reads `value`, directly or through reshapes and flattens."""
    for use in value.uses:
        user = use.operation
        if runs_on_host(user) or (isinstance(user, VIEW_OPS) and read_by_host(user.results[0], runs_on_host)):
            return True
    return False


def split_views(split: nn.SplitOp, results, source: SSAValue, block: Block,
                buffers: dict[SSAValue, SSAValue], runs_on_host) -> bool:
    """Makes each of `results` (the tile kernel's results for `split`'s parts) a view of
    `source` (the split input's DRAM buffer) at the part's offset, in `buffers`, when
    every part is a run of consecutive elements and none is a function result (already in
    `buffers`) or read by the host (`read_by_host`); returns whether it did (then the
    split needs no kernel)."""
    shape = split.input.type.get_shape()
    axis = split.axis.value.data % len(shape)
    if any(d != 1 for d in shape[:axis]) or any(r in buffers or read_by_host(r, runs_on_host) for r in results):
        return False
    inner = 1
    for d in shape[axis + 1:]:
        inner *= d
    start = 0
    for r in results:
        part = r.type.get_shape()
        buffers[r] = view_of(source, part, block, start)
        if buffers[r] is not source:
            buffers[r].name_hint = r.name_hint
        start += part[axis] * inner
    return True
