"""Conversion between a `Program` and the `rapid_isa` dialect.

`program_to_module` writes a program as IR (so passes and FileCheck can see it);
`module_to_program` reads the IR back (so `rapid-opt` can print it as assembly or
as a binary). Instructions map one to one through `isa.Instruction`.
"""

from __future__ import annotations

import numpy as np
from xdsl.dialects.builtin import (
    BytesAttr,
    DenseArrayBase,
    DenseIntOrFPElementsAttr,
    IntegerAttr,
    ModuleOp,
    StringAttr,
    TensorType,
    f32,
    i64,
)

from rapid_mlir.backend.isa import DType
from rapid_mlir.backend.program import DataSegment, Program, TensorSymbol
from rapid_mlir.dialects.rapid_isa import (
    CoreOp,
    DataOp,
    HostEntryOp,
    InstructionOp,
    ProgramOp,
    StreamOp,
    TensorOp,
)


def segment_bytes(values: np.ndarray, dtype: DType, machine) -> bytes:
    """Float values as they sit in DRAM: f16 in the machine's 16-bit format, f32 IEEE."""
    from rapid_mlir.emulator.numerics import encode_array

    return encode_array(values, dtype, machine.fp16_format)


def segment_values(seg: DataSegment, machine) -> np.ndarray:
    """The float32 values of a data segment's bytes."""
    from rapid_mlir.emulator.numerics import decode_array

    return decode_array(seg.data, seg.dtype, seg.shape, machine.fp16_format)


def data_op(seg: DataSegment, machine) -> DataOp:
    """The `rapid_isa.data` op of a segment: its weight file entry, or its values inline."""
    props = {"sym_name": StringAttr(seg.name), "dtype": StringAttr(seg.dtype.name.lower()),
             "shape": DenseArrayBase.from_list(i64, list(seg.shape)), "address": IntegerAttr(seg.address, i64)}
    if seg.source is not None:
        props["source"] = StringAttr(seg.source)
    else:
        values = segment_values(seg, machine).astype("<f4")
        props["value"] = DenseIntOrFPElementsAttr(TensorType(f32, list(seg.shape)), BytesAttr(values.tobytes()))
    return DataOp.build(properties=props)


def _data_segment(op: DataOp, machine, stores: dict) -> DataSegment:
    from rapid_mlir.weights import WeightStore

    dtype = DType[op.dtype.data.upper()]
    shape = tuple(int(v) for v in op.shape.get_values())
    if op.source is not None:
        path = op.source.data
        if path not in stores:
            stores[path] = WeightStore.load(path)
        values = stores[path].get(op.sym_name.data, TensorType(f32, list(shape)))
    else:
        values = np.frombuffer(op.value.data.data, "<f4").reshape(shape)
    source = op.source.data if op.source is not None else None
    return DataSegment(op.sym_name.data, dtype, shape, op.address.value.data,
                       segment_bytes(values, dtype, machine), source)


def program_to_module(program: Program, machine_spec: str | None = None) -> ModuleOp:
    """The program as a module holding one `rapid_isa.program`; its `machine` is
    `machine_spec` (the preset name or machine file the program was built from) when
    given, else the machine's name (a preset)."""
    body = []
    for sym in program.symbols:
        body.append(TensorOp.build(properties={
            "kind": StringAttr(sym.kind), "sym_name": StringAttr(sym.name),
            "dtype": StringAttr(sym.dtype.name.lower()),
            "shape": DenseArrayBase.from_list(i64, list(sym.shape)),
            "address": IntegerAttr(sym.address, i64)}))
    machine = program.machine
    body += [data_op(seg, machine) for seg in program.data]
    body += [HostEntryOp.from_host_op(i, h) for i, h in enumerate(program.host_ops)]
    for core in sorted({c for c, _ in program.streams}):
        streams = [StreamOp(name, [InstructionOp.from_instruction(i) for i in program.streams[(core, name)]])
                   for name in machine.streams_per_core if (core, name) in program.streams]
        body.append(CoreOp(core, streams))
    return ModuleOp([ProgramOp(machine_spec or machine.name, body)])


def module_to_program(module: ModuleOp) -> Program:
    """The program of the module's single `rapid_isa.program` op."""
    programs = [op for op in module.walk() if isinstance(op, ProgramOp)]
    if len(programs) != 1:
        raise ValueError(f"expected one rapid_isa.program in the module, found {len(programs)}")
    prog_op = programs[0]
    program = Program(prog_op.machine_description())
    stores: dict = {}
    for op in prog_op.body.block.ops:
        if isinstance(op, DataOp):
            program.data.append(_data_segment(op, program.machine, stores))
        if isinstance(op, HostEntryOp):
            program.host_ops.append(op.host_op())
        if isinstance(op, TensorOp):
            program.symbols.append(TensorSymbol(
                op.sym_name.data, op.kind.data, DType[op.dtype.data.upper()],
                tuple(int(v) for v in op.shape.get_values()), op.address.value.data))
        elif isinstance(op, CoreOp):
            for stream in op.body.block.ops:
                assert isinstance(stream, StreamOp)
                program.streams[(op.index.value.data, stream.stream.data)] = [
                    i.instruction() for i in stream.body.block.ops if isinstance(i, InstructionOp)]
    return program
