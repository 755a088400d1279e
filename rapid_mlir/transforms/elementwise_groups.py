"""Elementwise groups: chains of SFU ops that run as one kernel (`convert-nn-to-tile`, dse).

One kernel per elementwise op stores every intermediate to DRAM and loads it back, and
each kernel ends at a junction of all streams. At the sizes of a recurrent cell (an LSTM
step's `[B, 4H]` gates and its ten ops) that is nearly all of the step's SFU time: each
op moves a few KB at the cost of two DMA latencies and a junction. A *group* runs the
chain from a head op on one LX tile of rows at a time: each input is loaded once per step,
every intermediate stays in LX, and only the values read outside the group are stored.

Members (`member`): the unary and binary elementwise ops of `sfu_layers` whose operands
all have the result's shape (no broadcasting) and floating-point elements, and `nn.split`
along the last axis (its parts are column ranges of the same LX rows: views, no copy).
Every value of a group then has the same leading dims; the rows are those dims
flattened (`m`), and an LX tile holds whole rows of every value.

`find_group(head)` grows the group greedily in program order from `head`: an op joins
when it reads a value of the group and every other operand was defined before `head`
(so the kernel, placed where `head` was, can read it, and no op outside the group sits
between two of its members on a path) or comes from an op that reads only such values
(which then joins with it: `tanh(b)` in `sigmoid(a) * tanh(b)`). It stops after
`SCAN_LIMIT` ops that did not join, or at about `MAX_OPS` members. A group needs at least
two members, one of them elementwise, and a split does not head one.

`wrap_group` moves the members into a `rapid_tile.kernel` named after `head`, whose
operands are the values read from outside (in order of first use) and whose results are
the group's values read outside it (in program order). `group_problem` is its loop nest
(`problem.elementwise_group`); `sfu_group` lowers it.
"""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.dialects.builtin import Float16Type, Float32Type, StringAttr, TensorType
from xdsl.ir import Block, BlockArgument, Operation, SSAValue
from xdsl.rewriter import InsertPoint, Rewriter

from rapid_mlir.dialects import nn
from rapid_mlir.dialects.rapid_tile import KernelOp, YieldOp, new_body
from rapid_mlir.mapping import problem as P
from rapid_mlir.mapping.mapping import Mapping
from rapid_mlir.transforms.host_lowering import HOST_ATTR
from rapid_mlir.transforms.sfu_layers import BINARY, UNARY

SCAN_LIMIT = 64
"""Ops after the last member that `find_group` looks at before it stops."""

MAX_OPS = 32
"""The most members a group takes (the SFU program of one step grows with them)."""


@dataclass
class Group:
    """The members of a group (program order, the head first), the values they read from
    outside (first use first) and their values read outside (program order)."""

    ops: list[Operation]
    inputs: list[SSAValue]
    outputs: list[SSAValue]


def _shape(value: SSAValue) -> tuple[int, ...] | None:
    typ = value.type
    if not isinstance(typ, TensorType) or not isinstance(typ.get_element_type(), Float32Type | Float16Type):
        return None
    return tuple(typ.get_shape())


def member(op: Operation) -> bool:
    """Whether `op` may be a member of a group (module docstring)."""
    if HOST_ATTR in op.attributes or len(op.results) < 1:
        return False
    shapes = [_shape(v) for v in (*op.operands, *op.results)]
    if any(s is None or not s for s in shapes):
        return False
    if type(op) in UNARY or type(op) in BINARY:
        return len(set(shapes)) == 1
    if isinstance(op, nn.SplitOp):
        rank = len(shapes[0])
        return op.axis.value.data % rank == rank - 1
    return False


def find_group(head: Operation, position: dict[Operation, int], joins=lambda op: True) -> Group | None:
    """The group grown from `head` (module docstring), or None when it would have fewer
    than two members or no elementwise one. `position` numbers the block's ops; an op
    for which `joins` is false stays out (a layer pinned on its own)."""
    if not member(head) or isinstance(head, nn.SplitOp):
        return None
    start = position[head]

    def before(value: SSAValue) -> bool:
        owner = value.owner
        return isinstance(value, BlockArgument) or position.get(owner, start) < start

    if not all(before(v) for v in head.operands):
        return None
    ops, values = [head], set(head.results)
    pending: dict[SSAValue, Operation] = {}  # results of ops that read only values from before the head

    def take(op: Operation) -> None:  # op and the pending ops it reads, transitively
        for v in op.operands:
            if v in pending:
                take(pending.pop(v))
        if op not in ops:
            ops.append(op)
            values.update(op.results)
            for r in op.results:
                pending.pop(r, None)

    op, idle = head.next_op, 0
    while op is not None and idle < SCAN_LIMIT and len(ops) < MAX_OPS:
        idle += 1
        if member(op) and joins(op) and all(v in values or v in pending or before(v) for v in op.operands):
            if any(v in values for v in op.operands):
                take(op)
                idle = 0
            else:  # joins when a member reads it
                pending.update((r, op) for r in op.results)
        op = op.next_op
    if len(ops) < 2:
        return None
    ops.sort(key=lambda o: position[o])
    inputs: list[SSAValue] = []
    for op in ops:
        for v in op.operands:
            if v not in values and v not in inputs:
                inputs.append(v)
    inside = set(ops)
    outputs = [r for op in ops for r in op.results if any(u.operation not in inside for u in r.uses)]
    return Group(ops, inputs, outputs)


def rows_and_widths(inputs, temps, outputs) -> tuple[int, list[int], list[int], list[int]]:
    """(rows, input widths, intermediate widths, output widths) of a group's values."""
    first = (inputs or outputs)[0].type.get_shape()
    rows = 1
    for e in first[:-1]:
        rows *= e
    return rows, *([v.type.get_shape()[-1] for v in vs] for vs in (inputs, temps, outputs))


def intermediates(ops: list[Operation], outputs: list[SSAValue]) -> list[SSAValue]:
    """The results of the group's elementwise ops that are not outputs: each needs an LX
    tile of its own (split parts are views)."""
    return [op.results[0] for op in ops if not isinstance(op, nn.SplitOp) and op.results[0] not in outputs]


def group_problem(layer: str, group: Group) -> P.Problem:
    """The loop nest of the group's kernel (`problem.elementwise_group`)."""
    rows, ins, temps, outs = rows_and_widths(group.inputs, intermediates(group.ops, group.outputs), group.outputs)
    return P.elementwise_group(layer, rows, ins, temps, outs)


def body_problem(layer: str, block: Block) -> P.Problem:
    """The same loop nest from a group kernel's body (its arguments, ops and yield)."""
    ops = list(block.ops)
    outputs = list(ops[-1].operands)
    return P.elementwise_group(layer, *rows_and_widths(list(block.args), intermediates(ops[:-1], outputs), outputs))


def wrap_group(group: Group, layer: str, mapping: Mapping) -> KernelOp:
    """Moves the group's members into a new kernel placed where its head was (module
    docstring); the head gets the kernel's layer name."""
    head = group.ops[0]
    region, block = new_body([v.type for v in group.inputs])
    kernel = KernelOp(layer, mapping, group.inputs, region, [v.type for v in group.outputs])
    Rewriter.insert_op(kernel, InsertPoint.before(head))
    inside = set(group.ops)
    for old, new in zip(group.outputs, kernel.outputs):
        for use in list(old.uses):
            if use.operation not in inside:
                use.operation.operands[use.index] = new
    args = dict(zip(group.inputs, block.args))
    head.attributes["nn.name"] = StringAttr(layer)
    for op in group.ops:
        op.detach()
        for i, v in enumerate(op.operands):
            if v in args:
                op.operands[i] = args[v]
        block.add_op(op)
    block.add_op(YieldOp(*group.outputs))
    return kernel
