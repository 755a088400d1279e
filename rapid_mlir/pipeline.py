"""The compile pipeline as a Python API: `nn` module in, rapid program out.

    program = compile_module(module, machine="rapid-4c")
    result = rapid_mlir.runtime.load(program).run(inputs)

Runs `decompose-rnn`, `legalize-nn`, `convert-nn-to-tile`, `convert-tile-to-mem`,
`rapid-mem-allocate` and `convert-mem-to-isa`, verifying the module after every pass; a
failing pass raises `PassFailedException` whose message names the pass and the layer.
What each pass lowers today is described in docs/lowering.md.
"""

from __future__ import annotations

from xdsl.dialects.builtin import ModuleOp
from xdsl.passes import ModulePass
from xdsl.utils.exceptions import DiagnosticException, PassFailedException

from rapid_mlir.backend.isa_ir import module_to_program
from rapid_mlir.backend.program import Program
from rapid_mlir.dialects import make_context


def passes(machine: str, mapping_file: str | None = None, weights: str | None = None) -> list[ModulePass]:
    """The pipeline's passes, in order, for a machine preset or file."""
    from rapid_mlir.transforms.convert_mem_to_isa import ConvertMemToIsaPass
    from rapid_mlir.transforms.convert_nn_to_tile import ConvertNnToTilePass
    from rapid_mlir.transforms.convert_tile_to_mem import ConvertTileToMemPass
    from rapid_mlir.transforms.decompose_rnn import DecomposeRnnPass
    from rapid_mlir.transforms.legalize_nn import LegalizeNnPass
    from rapid_mlir.transforms.rapid_mem_allocate import RapidMemAllocatePass

    return [DecomposeRnnPass(), LegalizeNnPass(), ConvertNnToTilePass(machine=machine, mapping_file=mapping_file),
            ConvertTileToMemPass(machine=machine), RapidMemAllocatePass(machine=machine),
            ConvertMemToIsaPass(machine=machine, weights=weights)]


def compile_module(module: ModuleOp, machine: str = "rapid-4c", mapping_file: str | None = None,
                   weights: str | None = None) -> Program:
    """Lowers an `nn` module in place to `rapid_isa` and returns its program; `weights`
    is the module's weight file (for its `nn.weight` ops)."""
    ctx = make_context()
    for p in passes(machine, mapping_file, weights):
        p.apply(ctx, module)
        try:
            module.verify()
        except DiagnosticException as e:
            raise PassFailedException(f"{p.name} produced IR that does not verify: {e}") from None
    return module_to_program(module)
