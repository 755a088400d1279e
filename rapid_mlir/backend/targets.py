"""`rapid-opt` output targets for the `rapid_isa` dialect: assembly text and binaries.

    rapid-opt prog.mlir -t rasm            # canonical assembly (rapid-as input)
    rapid-opt prog.mlir -t rbin -o p.rbin  # the .rbin binary

A target sees the whole module, which must hold one `rapid_isa.program`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import IO

from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp
from xdsl.utils.target import Target

BINARY_TEXT_ENCODING = "latin-1"
"""The rbin target writes bytes through xDSL's text stream as latin-1 (one char per byte);
`rapid-opt` turns them back into bytes when it writes the output."""


def checked_program(module: ModuleOp):
    """The module's program, checked as the assembler checks its input."""
    from rapid_mlir.backend.assembler import check_program
    from rapid_mlir.backend.isa_ir import module_to_program

    program = module_to_program(module)
    check_program(program)
    return program


@dataclass(frozen=True)
class RasmTarget(Target):
    """Prints the program as canonical rapid assembly."""

    name = "rasm"

    def emit(self, ctx: Context, module: ModuleOp, output: IO[str]) -> None:
        from rapid_mlir.backend.printer import program_to_text

        output.write(program_to_text(checked_program(module)))


@dataclass(frozen=True)
class RbinTarget(Target):
    """Writes the program as a `.rbin` binary."""

    name = "rbin"

    def emit(self, ctx: Context, module: ModuleOp, output: IO[str]) -> None:
        from rapid_mlir.backend.rbin import write_rbin

        output.write(write_rbin(checked_program(module)).decode(BINARY_TEXT_ENCODING))
