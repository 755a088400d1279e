"""The compile pipeline as a Python API: `nn` module in, rapid program out.

    program = compile_module(module, machine="rapid-4c", weights="net.npz")
    result = rapid_mlir.runtime.load(program).run(inputs)

First the `nn` graph optimisations (docs/graph-passes.md): `raise-decomposed-ops`,
`fold-reshapes`, `fold-batch-norm`, `fuse-bias-activation`, `fold-constants` and `dce`;
then the device lowering: `decompose-rnn`, `legalize-nn`, `convert-nn-to-tile`,
`convert-tile-to-mem`, `rapid-mem-allocate` and `convert-mem-to-isa`. The module is
verified after every pass; a failing pass raises `PassFailedException` whose message
names the pass and the layer. What each lowering pass does today is described in
docs/lowering.md.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from xdsl.dialects.builtin import ModuleOp
from xdsl.passes import ModulePass
from xdsl.utils.exceptions import DiagnosticException, PassFailedException

from rapid_mlir.backend.isa_ir import module_to_program
from rapid_mlir.backend.program import Program
from rapid_mlir.dialects import make_context
from rapid_mlir.transforms.convert_nn_to_tile import DEFAULT_STRATEGY

NN_STAGE_END = "legalize-nn"
"""The last pass of the `nn` stage (`rapidc --emit nn`): the module the device lowering starts from."""


def graph_passes(weights: str | None = None, weights_out: str | None = None) -> list[ModulePass]:
    """The `nn`-level graph optimisations, in order; `fold-constants` reads the weight
    file `weights` and, given `weights_out`, writes the folded module's weights there."""
    from xdsl.transforms.dead_code_elimination import DeadCodeElimination

    from rapid_mlir.transforms import GRAPH_PASSES, all_passes

    table = all_passes()
    out: list[ModulePass] = []
    for name, _, _ in GRAPH_PASSES:
        cls = table[name]()
        out.append(cls(weights=weights, weights_out=weights_out) if name == "fold-constants" else cls())
    return out + [DeadCodeElimination()]


def passes(machine: str, mapping_file: str | None = None, weights: str | None = None,
           weights_out: str | None = None, optimize: bool = True, strategy: str = DEFAULT_STRATEGY,
           dump_mappings: str | None = None) -> list[ModulePass]:
    """The pipeline's passes, in order, for a machine preset or file. `weights` is the
    module's weight file; with `weights_out`, `fold-constants` writes the weights of the
    optimised module there and the later passes read them from it. `optimize=False`
    leaves out the graph optimisations. `strategy` chooses the mappings of the layers
    `mapping_file` does not pin (`convert-nn-to-tile`'s strategies); `dump_mappings`
    names a JSON file for every layer's mapping."""
    from rapid_mlir.transforms.convert_mem_to_isa import ConvertMemToIsaPass
    from rapid_mlir.transforms.convert_nn_to_tile import ConvertNnToTilePass
    from rapid_mlir.transforms.convert_tile_to_mem import ConvertTileToMemPass
    from rapid_mlir.transforms.decompose_rnn import DecomposeRnnPass
    from rapid_mlir.transforms.legalize_nn import LegalizeNnPass
    from rapid_mlir.transforms.rapid_mem_allocate import RapidMemAllocatePass

    if weights is None:
        weights_out = None  # nothing to copy: folds of inline constants stay small or on the device
    graph = graph_passes(weights, weights_out) if optimize else []
    final_weights = weights_out if optimize and weights_out is not None else weights
    return graph + [DecomposeRnnPass(), LegalizeNnPass(),
                    ConvertNnToTilePass(machine=machine, strategy=strategy, mapping_file=mapping_file,
                                        dump_mappings=dump_mappings),
                    ConvertTileToMemPass(machine=machine), RapidMemAllocatePass(machine=machine),
                    ConvertMemToIsaPass(machine=machine, weights=final_weights)]


def run_passes(module: ModuleOp, pipeline: list[ModulePass]) -> None:
    """Applies `pipeline` to `module` in place, verifying it after every pass."""
    ctx = make_context()
    for p in pipeline:
        p.apply(ctx, module)
        try:
            module.verify()
        except DiagnosticException as e:
            raise PassFailedException(f"{p.name} produced IR that does not verify: {e}") from None


def nn_stage(module: ModuleOp, machine: str, weights: str | None = None, workdir: str | None = None,
             optimize: bool = True) -> None:
    """Runs the passes of the `nn` stage (graph optimisations, `decompose-rnn`,
    `legalize-nn`) in place: the layers `convert-nn-to-tile` will map. Folded weights go
    to a file in `workdir` (a temporary directory when None)."""
    with tempfile.TemporaryDirectory(prefix="rapid-nn-") as tmp:
        out = str(Path(workdir or tmp) / "folded.npz")
        pipeline = passes(machine, None, weights, out, optimize)
        end = next(i for i, p in enumerate(pipeline) if p.name == NN_STAGE_END)
        run_passes(module, pipeline[:end + 1])


def compile_module(module: ModuleOp, machine: str = "rapid-4c", mapping_file: str | None = None,
                   weights: str | None = None, optimize: bool = True, strategy: str = DEFAULT_STRATEGY,
                   dump_mappings: str | None = None) -> Program:
    """Lowers an `nn` module in place to `rapid_isa` and returns its program; `weights`
    is the module's weight file (for its `nn.weight` ops). The weights of the optimised
    module live in a temporary file while the passes run; the program holds their bytes.
    `dump_mappings`: write every layer's mapping there (the mapping-file form)."""
    with tempfile.TemporaryDirectory(prefix="rapid-compile-") as tmp:
        folded = str(Path(tmp) / "folded.npz")
        run_passes(module, passes(machine, mapping_file, weights, folded, optimize, strategy, dump_mappings))
        program = module_to_program(module)
    if any(seg.source == folded for seg in program.data):
        _forget_temporary_weights(module, program, folded, weights)
    return program


def _forget_temporary_weights(module: ModuleOp, program: Program, folded: str, weights: str) -> None:
    """Makes the program and the module name the original weight file for the entries
    `fold-constants` copied from it (same name, same array), and no file for the folded
    ones (the program holds their bytes), since the temporary file is gone."""
    import dataclasses

    import numpy as np
    from xdsl.dialects.builtin import StringAttr

    from xdsl.rewriter import Rewriter

    from rapid_mlir.backend.isa_ir import data_op
    from rapid_mlir.dialects.rapid_isa import DataOp

    with np.load(weights) as archive:  # the names only: the arrays are not read
        original = set(archive.files)
    program.data = [dataclasses.replace(seg, source=weights if seg.name in original else None)
                    if seg.source == folded else seg for seg in program.data]
    segments = {seg.name: seg for seg in program.data}
    for op in list(module.walk()):
        if isinstance(op, DataOp) and op.source is not None and op.source.data == folded:
            if op.sym_name.data in original:
                op.properties["source"] = StringAttr(weights)
            else:  # the values inline, as for a constant
                Rewriter.replace_op(op, data_op(segments[op.sym_name.data], program.machine))
