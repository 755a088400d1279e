"""Host fallback in `convert-tile-to-mem`: an `nn` op with no device lowering becomes a
`rapid_mem.host` op, as RaPiDLib runs such ops on the host.

Which ops: every `nn` op left outside a `rapid_tile.kernel` after `convert-nn-to-tile`
except `nn.weight` / `nn.constant` (DRAM data) and `nn.reshape` / `nn.flatten` (views
of their operand's buffer), and any op carrying the unit attribute `nn.host` (which
`convert-nn-to-tile` leaves alone even when it has a device lowering).

The host op reads its operands' DRAM buffers (function arguments, weights and constants
as `rapid_mem.global`s, earlier results in scratch buffers, views of these for a reshape
or flatten) and writes one DRAM buffer
per result (a function output buffer, else a new `rapid_mem.scratch`). Its body is a
clone of the `nn` op on tensors. Element types in DRAM: f16 for activations (the device's
storage); f32 for integer tensors (a gather's indices, exact up to 2^24) and for weights
and constants only host ops read (no rounding the host would not do).
"""

from __future__ import annotations

import numpy as np
from xdsl.dialects.builtin import (
    BytesAttr,
    DenseIntOrFPElementsAttr,
    IntegerType,
    StringAttr,
    TensorType,
    f16,
    f32,
)
from xdsl.ir import Block, Operation, Region, SSAValue

from rapid_mlir.backend.isa import DType
from rapid_mlir.backend.program import HostOp as HostManifestOp
from rapid_mlir.backend.program import HostTensor
from rapid_mlir.dialects import nn
from rapid_mlir.dialects import rapid_mem as M
from rapid_mlir.dialects import rapid_tile
from rapid_mlir.dialects.nn import NAME_ATTR
from rapid_mlir.frontend.builder import ssa_name

HOST_ATTR = "nn.host"
"""Discardable unit attribute: run this nn op on the host even if it has a device lowering."""

def runs_on_host(op: Operation) -> bool:
    """True for an op of a function that `convert-tile-to-mem` runs on the host."""
    if op.dialect_name() != "nn" or isinstance(op, nn.WeightOp | nn.ConstantOp):
        return False
    return HOST_ATTR in op.attributes or not isinstance(op, nn.ReshapeOp | nn.FlattenOp)


def dram_type(typ: TensorType) -> M.BufferType:
    """The DRAM buffer of a tensor crossing between host and device: f16 (the device's
    storage), or f32 for an integer tensor."""
    elem = f32 if isinstance(typ.get_element_type(), IntegerType) else f16
    return M.BufferType(tuple(typ.get_shape()), elem, M.MemSpace.DRAM)


def lower_host_op(op: Operation, layer: str, block: Block, buffers: dict[SSAValue, SSAValue]) -> M.HostOp:
    """Appends to `block` the `rapid_mem.host` of `op` (and the globals and scratch buffers
    it needs), recording its results' buffers in `buffers` (tensor -> DRAM buffer)."""
    ins = [_operand_buffer(v, layer, i, block, buffers) for i, v in enumerate(op.operands)]
    outs = []
    for j, result in enumerate(op.results):
        if result not in buffers:  # not a function output: a scratch buffer
            scratch = M.ScratchOp.build(result_types=[dram_type(result.type)])
            scratch.buffer.name_hint = ssa_name(layer if len(op.results) == 1 else f"{layer}_out{j}")
            block.add_op(scratch)
            buffers[result] = scratch.buffer
        outs.append(buffers[result])
    body = Block(arg_types=[v.type for v in op.operands])
    for old, new in zip(op.operands, body.args):
        new.name_hint = old.name_hint
    clone = op.clone(value_mapper=dict(zip(op.operands, body.args)))
    clone.attributes[NAME_ATTR] = StringAttr(layer)
    body.add_op(clone)
    body.add_op(M.YieldOp.build(operands=[list(clone.results)]))
    host = M.HostOp.build(operands=[ins, outs], properties={"layer": StringAttr(layer)}, regions=[Region(body)])
    block.add_op(host)
    return host


def _operand_buffer(value: SSAValue, layer: str, i: int, block: Block, buffers: dict) -> SSAValue:
    """The DRAM buffer of a host op's operand: known already (an argument, an earlier
    result, a global made earlier), or a weight / constant as a new global."""
    if value in buffers:
        return buffers[value]
    owner = value.owner
    typ = value.type
    if isinstance(owner, nn.ReshapeOp | nn.FlattenOp):  # a view of its source's buffer
        from rapid_mlir.transforms.dram_views import view_buffer

        return view_buffer(value, block, buffers, lambda v: _operand_buffer(v, layer, i, block, buffers))
    if isinstance(owner, nn.WeightOp):
        props = {"sym_name": StringAttr(owner.weight_name.data)}
    elif isinstance(owner, nn.ConstantOp):
        props = {"sym_name": StringAttr(f"{layer}.constant{i}"), "value": _f32_value(owner.value)}
    else:
        from rapid_mlir.transforms.convert_tile_to_mem import TileLoweringError

        raise TileLoweringError(f"layer '{layer}': operand {i} comes from {owner.name}, which is not lowered")
    # Read only by host ops: f32 (the host computes in fp32); shared with a kernel: f16.
    kernel_user = any(isinstance(u.operation, rapid_tile.KernelOp) for u in value.uses)
    elem = f16 if kernel_user and not isinstance(typ.get_element_type(), IntegerType) else f32
    glob = M.GlobalOp.build(properties=props,
                            result_types=[M.BufferType(tuple(typ.get_shape()), elem, M.MemSpace.DRAM)])
    glob.buffer.name_hint = ssa_name(props["sym_name"].data)
    block.add_op(glob)
    buffers[value] = glob.buffer
    return glob.buffer


def _f32_value(value: DenseIntOrFPElementsAttr) -> DenseIntOrFPElementsAttr:
    """A constant's values as an f32 dense attribute (what `rapid_mem.global` holds)."""
    from rapid_mlir.weights import numpy_dtype

    typ = value.type
    data = np.frombuffer(value.data.data, dtype=numpy_dtype(typ.get_element_type()).newbyteorder("<"))
    if data.size == 1:  # a splat (or a rank-0 constant): one value for the whole shape
        data = np.broadcast_to(data.reshape(()), tuple(typ.get_shape()))
    return DenseIntOrFPElementsAttr(TensorType(f32, list(typ.get_shape())),
                                    BytesAttr(np.ascontiguousarray(data, dtype="<f4").tobytes()))


# ---------------------------------------------------------------------------
# convert-mem-to-isa: the manifest entry and the ordering of host calls
# ---------------------------------------------------------------------------


def host_function_text(host: M.HostOp) -> str:
    """The MLIR text of `func.func @host(...)` holding the host op's body (the manifest's
    form of the op: it parses back to the same function)."""
    from io import StringIO

    from xdsl.dialects import func
    from xdsl.printer import Printer

    region = host.body.clone()
    block = region.block
    yielded = block.last_op
    ret = func.ReturnOp(*yielded.values)
    block.insert_op_before(ret, yielded)
    yielded.detach()
    yielded.erase()
    fn = func.FuncOp("host", ([a.type for a in block.args], [v.type for v in ret.arguments]), region)
    out = StringIO()
    Printer(stream=out).print_op(fn)
    return out.getvalue().strip("\n")


def manifest_entry(host: M.HostOp, addresses: dict, name_of) -> HostManifestOp:
    """The program's host-op manifest entry of a `rapid_mem.host`: its layer, its function
    text and its DRAM tensors (`addresses`: buffer -> byte address; `name_of(buffer)`)."""
    def tensor(buffer: SSAValue) -> HostTensor:
        typ = buffer.type
        dtype = DType.F32 if isinstance(typ.element_type, type(f32)) else DType.F16
        return HostTensor(name_of(buffer), dtype, typ.get_shape(), addresses[buffer])

    return HostManifestOp(host.layer.data, host_function_text(host), tuple(map(tensor, host.inputs)),
                          tuple(map(tensor, host.outputs)))


def buffer_name(fn, buffer: SSAValue, arg_name) -> str:
    """A DRAM buffer's name in the manifest: the argument's tensor name, the global's
    symbol, else the scratch buffer's SSA name (a view is named after its source)."""
    from xdsl.ir import BlockArgument

    while isinstance(buffer.owner, M.ViewOp):
        buffer = buffer.owner.source
    if isinstance(buffer, BlockArgument) and buffer.owner is fn.body.block:
        return arg_name(fn, buffer.index)
    if isinstance(buffer.owner, M.GlobalOp):
        return buffer.owner.sym_name.data
    return buffer.name_hint or "scratch"
