"""`rapidc`: the compiler driver, from an `nn` module to a binary for the accelerator.

    rapidc INPUT.mlir -o OUT.rbin [--machine NAME|FILE] [--mapping fixed|dse|FILE.json]
          [--pin FILE.json] [--budget SECONDS] [--dump-mappings FILE.json] [--search-stats]
          [--emit nn|tile|mem|isa|asm|bin] [--no-optimize] [--print-ir-after-all]
          [--ir-dump-dir DIR] [--time-passes]
    rapidc MODEL.onnx -o OUT.rbin [--input-shape NAME=1x3x224x224 ...] [same options]

Runs `rapid_mlir.pipeline`'s passes up to the stage `--emit` names (default: `bin` when
the output ends in `.rbin`, else `asm`), verifying the IR after every pass: first the
`nn` graph optimisations (docs/graph-passes.md; `--no-optimize` leaves them out), then
the device lowering. Text stages
go to `-o` or stdout; `bin` needs `-o`. Errors name the pass that failed and the layer,
and nothing is written. The binary's tensors keep the entry function's names, so
`rapid-run OUT.rbin --inputs IN.npz --outputs OUT.npz` works by name.

An ONNX model is imported first (`rapid_mlir.frontend.onnx`, docs/onnx.md); its weights go
to a temporary `.npz` for the passes. The graph optimisations write the weights of the
optimised module (batch norms folded into convolutions, ...) to a temporary file too. A
text stage written with `-o` (e.g. `--emit nn -o net.mlir`) also writes those weights
beside it (`net.npz`, which the module names), so the output is a complete module for
the other tools; a text stage on stdout keeps naming the input's weight file (and
leaves folds too large to print inline to the device).

Mappings (docs/lowering.md, "Mapping strategies"): `--mapping dse` (the default) or
`fixed` (the baseline) chooses the strategy; `--mapping FILE.json` pins the layers the file names and
maps the rest with `fixed` (as `--mapping fixed --pin FILE.json`); `--pin FILE.json`
pins layers under either strategy. `--budget` is the dse search budget per layer (in
nominal seconds: a count of evaluations, so the result does not depend on the host).
`--dump-mappings FILE.json` writes every layer's mapping in the mapping-file form (only
when the compilation succeeds), so `--mapping FILE.json` reproduces the same program;
`--search-stats` (or `--time-passes`) prints one line of dse statistics per layer.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from xdsl.utils.exceptions import DiagnosticException

from rapid_mlir.ir_io import module_text, read_module
from rapid_mlir.tools.errors import InputError, describe, report_errors
from rapid_mlir.weights import WEIGHTS_ATTR

STAGES = ("nn", "tile", "mem", "isa", "asm", "bin")
# The last pass each stage needs ("nn": after the graph optimisations, decompose-rnn and
# legalize-nn, the nn module the device lowering starts from).
_LAST_PASS = {"nn": "legalize-nn", "tile": "convert-nn-to-tile", "mem": "rapid-mem-allocate",
              "isa": "convert-mem-to-isa", "asm": "convert-mem-to-isa", "bin": "convert-mem-to-isa"}
_TEXT_STAGES = ("nn", "tile", "mem", "isa")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="rapidc", description="Compile an nn module for the rapid accelerator.")
    p.add_argument("input", help="the nn module (.mlir) or an ONNX model (.onnx)")
    p.add_argument("-o", "--output", help="output file (.rbin for a binary)")
    p.add_argument("--machine", default="rapid-4c", help="machine preset or machine file (default rapid-4c)")
    p.add_argument("--mapping", default="dse",
                   help="'dse' (the default: search with the cost model), 'fixed' (the baseline "
                   "rules) or a JSON file of layer -> mapping")
    p.add_argument("--pin", metavar="FILE.json", help="a JSON file of layer -> mapping pinning those layers")
    p.add_argument("--budget", type=float, default=1.0,
                   help="dse search budget per layer in nominal seconds (deterministic; default 1.0)")
    p.add_argument("--dump-mappings", metavar="FILE.json",
                   help="write every layer's chosen mapping to FILE.json (the --mapping / --pin form)")
    p.add_argument("--search-stats", action="store_true", help="print the dse search statistics to stderr")
    p.add_argument("--emit", choices=STAGES, help="the stage to output (default: bin for .rbin, else asm)")
    p.add_argument("--no-optimize", action="store_true", help="leave out the nn graph optimisations")
    p.add_argument("--print-ir-after-all", action="store_true", help="print the IR after every pass to stderr")
    p.add_argument("--ir-dump-dir", help="write the IR after every pass to DIR/<n>-<pass>.mlir")
    p.add_argument("--time-passes", action="store_true", help="print the time of every pass to stderr")
    p.add_argument("--input-shape", action="append", metavar="NAME=SHAPE",
                   help="static shape of an ONNX model input, e.g. data=1x3x224x224 (repeatable)")
    return p


def compile_file(args) -> bytes | str:
    """Runs the pipeline on `args.input` up to `args.emit`; returns the output."""
    from rapid_mlir.machine import load_machine

    emit = args.emit or ("bin" if (args.output or "").endswith(".rbin") else "asm")
    if emit == "bin" and not args.output:
        raise InputError("--emit bin writes a binary: give an output file with -o")
    load_machine(args.machine)  # a bad machine is reported before any work
    strategy, mapping_file = _strategy(args)
    if args.dump_mappings and emit == "nn":
        raise InputError("--dump-mappings: --emit nn stops before the mappings are chosen")
    # An imported model's weights live in a temporary file while the passes read them.
    with tempfile.TemporaryDirectory(prefix="rapidc-") as tmp:
        module, weights, store = _read_input(args, emit, Path(tmp))
        # Text on stdout keeps naming the input's weights; anything else gets the folded ones.
        stdout_text = emit in _TEXT_STAGES and args.output is None
        folded = None if stdout_text or weights is None else Path(tmp) / "folded" / Path(weights).name
        if folded is not None:
            folded.parent.mkdir()
        dump = Path(tmp) / "mappings.json" if args.dump_mappings else None
        out = _run_passes(args, emit, (strategy, mapping_file, dump), module, weights, folded)
        if dump is not None:  # only now: a failed compilation writes nothing
            shutil.copyfile(dump, args.dump_mappings)
        if out is not None:
            return out
        _keep_weights(args, emit, module, weights, store, folded)
    return module_text(module)


def _strategy(args) -> tuple[str, str | None]:
    """(strategy, pinning mapping file) from --mapping and --pin."""
    strategy, pins = args.mapping, args.pin
    if strategy not in ("fixed", "dse"):
        if not Path(strategy).is_file():
            raise InputError(f"--mapping: {strategy} is neither 'fixed' nor an existing JSON file "
                             "(strategies: fixed, dse)")
        if pins is not None:
            raise InputError("--pin: give the pinned layers either with --mapping FILE.json or with --pin")
        strategy, pins = "fixed", args.mapping
    if pins is not None and not Path(pins).is_file():
        raise InputError(f"--pin: {pins} is not an existing JSON file")
    if args.budget <= 0:
        raise InputError(f"--budget: {args.budget} must be positive")
    return strategy, pins


def _read_input(args, emit: str, tmp: Path):
    """The module, the absolute path of its weight file, and (ONNX) the imported weights."""
    from rapid_mlir.frontend.onnx import import_onnx, is_onnx_file, parse_input_shapes
    from rapid_mlir.weights import weights_file_of

    if not is_onnx_file(args.input):
        if args.input_shape:
            raise InputError("--input-shape applies only to ONNX models (.onnx)")
        module = read_module(args.input)
        path = weights_file_of(module, args.input)
        return module, (str(path.resolve()) if path is not None else None), None
    name = (_weights_beside_output(args, emit) or Path(args.input).with_suffix(".npz")).name
    module, store = import_onnx(args.input, parse_input_shapes(args.input_shape), weights_file=name)
    if not len(store):
        return module, None, None
    path = tmp / name
    store.save(path)
    return module, str(path), store


def _weights_beside_output(args, emit: str) -> Path | None:
    """Where a text stage written to a file keeps its weights: beside it."""
    if args.output is None or emit not in _TEXT_STAGES:
        return None
    path = Path(args.output).with_suffix(".npz")
    if path == Path(args.output):
        raise InputError(f"-o {args.output}: the IR text and the model's weights would both go to this file")
    return path


def _keep_weights(args, emit: str, module, weights: str | None, store, folded: Path | None) -> None:
    """Keeps the weights a text output (`-o`) needs beside it: the optimised module's
    (moved from their temporary file) or, without optimisation, an imported model's; and
    makes the module (`nn.weights`, `rapid_isa.data` sources) name that file."""
    from xdsl.dialects.builtin import StringAttr

    if emit not in _TEXT_STAGES:
        return
    final = _weights_beside_output(args, emit)
    if folded is not None and folded.is_file():
        shutil.move(folded, final)
        _rename_weights(module, str(folded), str(final.resolve()))
        if WEIGHTS_ATTR in module.attributes:
            module.attributes[WEIGHTS_ATTR] = StringAttr(final.name)
    elif store is not None:  # an imported model's weights, unoptimised or printed to stdout
        if final is not None:
            store.save(final)
        _rename_weights(module, weights, str(final.resolve()) if final is not None else Path(weights).name)


def _rename_weights(module, old: str, new: str) -> None:
    """Points the `rapid_isa.data` ops that read the weight file `old` at `new`."""
    from xdsl.dialects.builtin import StringAttr

    from rapid_mlir.dialects.rapid_isa import DataOp

    for op in module.walk():
        if isinstance(op, DataOp) and op.source is not None and op.source.data == old:
            op.properties["source"] = StringAttr(new)


def _run_passes(args, emit: str, mappings: tuple[str, str | None, Path | None], module,
                weights: str | None, folded: Path | None) -> bytes | str | None:
    """Runs the pipeline up to `emit` with `mappings` = (strategy, pinning mapping file,
    where to dump the chosen mappings); returns the program (asm text or binary), or None
    for the IR stages, whose module the caller prints."""
    import dataclasses

    strategy, mapping_file, dump_file = mappings
    from rapid_mlir.dialects import make_context
    from rapid_mlir.pipeline import passes

    ctx = make_context()
    dump = Path(args.ir_dump_dir) if args.ir_dump_dir else None
    if dump is not None:
        dump.mkdir(parents=True, exist_ok=True)
        (dump / "0-input.mlir").write_text(module_text(module))
    timings = []
    pipeline = passes(args.machine, mapping_file, weights, str(folded) if folded else None,
                      optimize=not args.no_optimize)
    pipeline = [dataclasses.replace(p, strategy=strategy, budget=float(args.budget),
                                    search_stats=args.search_stats or args.time_passes,
                                    dump_mappings=str(dump_file) if dump_file else None)
                if p.name == "convert-nn-to-tile" else p for p in pipeline]
    end = next(i for i, p in enumerate(pipeline) if p.name == _LAST_PASS[emit])
    for i, p in enumerate(pipeline[:end + 1], start=1):
        start = time.perf_counter()
        try:
            p.apply(ctx, module)
            module.verify()
        except DiagnosticException as e:
            raise InputError(f"{args.input}: pass '{p.name}' failed: {describe(e)}") from None
        timings.append((p.name, time.perf_counter() - start))
        if args.print_ir_after_all:
            print(f"// ----- IR after {p.name} -----", file=sys.stderr)
            print(module_text(module), file=sys.stderr)
        if dump is not None:
            (dump / f"{i}-{p.name}.mlir").write_text(module_text(module))
    if args.time_passes:
        for name, seconds in timings:
            print(f"{name:<24} {seconds * 1000:9.1f} ms", file=sys.stderr)
        print(f"{'total':<24} {sum(s for _, s in timings) * 1000:9.1f} ms", file=sys.stderr)
    if emit in _TEXT_STAGES:
        return None
    from rapid_mlir.backend.isa_ir import module_to_program
    from rapid_mlir.backend.printer import program_to_text
    from rapid_mlir.backend.rbin import write_rbin

    program = module_to_program(module)
    return program_to_text(program) if emit == "asm" else write_rbin(program)


def main(argv: Sequence[str] | None = None) -> int:
    def work() -> int:
        args = build_parser().parse_args(argv)
        out = compile_file(args)
        if args.output is None:
            sys.stdout.write(out if isinstance(out, str) else "")
            return 0
        data = out.encode() if isinstance(out, str) else out
        tmp = f"{args.output}.tmp"
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, args.output)
        return 0

    return report_errors("rapidc", work)


if __name__ == "__main__":
    sys.exit(main())
