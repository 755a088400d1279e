"""Conversion between a `Program` and the `rapid_isa` dialect.

`program_to_module` writes a program as IR (so passes and FileCheck can see it);
`module_to_program` reads the IR back (so `rapid-opt` can print it as assembly or
as a binary). Instructions map one to one through `isa.Instruction`.
"""

from __future__ import annotations

from xdsl.dialects.builtin import DenseArrayBase, IntegerAttr, ModuleOp, StringAttr, i64

from rapid_mlir.backend.isa import DType
from rapid_mlir.backend.program import Program, TensorSymbol
from rapid_mlir.dialects.rapid_isa import CoreOp, InstructionOp, ProgramOp, StreamOp, TensorOp


def program_to_module(program: Program) -> ModuleOp:
    """The program as a module holding one `rapid_isa.program`."""
    body = []
    for sym in program.symbols:
        body.append(TensorOp.build(properties={
            "kind": StringAttr(sym.kind), "sym_name": StringAttr(sym.name),
            "dtype": StringAttr(sym.dtype.name.lower()),
            "shape": DenseArrayBase.from_list(i64, list(sym.shape)),
            "address": IntegerAttr(sym.address, i64)}))
    machine = program.machine
    for core in sorted({c for c, _ in program.streams}):
        streams = [StreamOp(name, [InstructionOp.from_instruction(i) for i in program.streams[(core, name)]])
                   for name in machine.streams_per_core if (core, name) in program.streams]
        body.append(CoreOp(core, streams))
    return ModuleOp([ProgramOp(machine.name, body)])


def module_to_program(module: ModuleOp) -> Program:
    """The program of the module's single `rapid_isa.program` op."""
    programs = [op for op in module.walk() if isinstance(op, ProgramOp)]
    if len(programs) != 1:
        raise ValueError(f"expected one rapid_isa.program in the module, found {len(programs)}")
    prog_op = programs[0]
    program = Program(prog_op.machine_description())
    for op in prog_op.body.block.ops:
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
