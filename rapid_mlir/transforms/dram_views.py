"""`nn.reshape` and `nn.flatten` on the device: views of the same DRAM bytes.

Tensors live in DRAM row-major in their `nn` shape, so a reshape or flatten moves no
data: `convert-tile-to-mem` gives its result a `rapid_mem.view` of its source's buffer,
which `convert-mem-to-isa` places at its source's address. A function result that is a
view of a kernel's result makes that kernel write the output argument directly, through a
view of it in the kernel result's shape.
"""

from __future__ import annotations

from collections.abc import Callable

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


def view_of(source: SSAValue, shape, block: Block) -> SSAValue:
    """`source` (a DRAM buffer) seen in `shape`: a `rapid_mem.view` appended to `block`
    (or `source` itself when the shape is the same)."""
    typ = M.BufferType(tuple(shape), source.type.element_type, M.MemSpace.DRAM)
    if typ == source.type:
        return source
    op = M.ViewOp.build(operands=[source], result_types=[typ])
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
