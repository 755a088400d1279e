"""`rapid-ref`: runs an `nn` module on the reference interpreter.

    rapid-ref FILE.mlir --inputs IN.npz --outputs OUT.npz [--weights W.npz] [--entry NAME]
    rapid-ref MODEL.onnx --inputs IN.npz --outputs OUT.npz [--input-shape NAME=1x3x224x224 ...]

Inputs and outputs are named as the entry function names them (see
`rapid_mlir.reference.interpreter.signature`). Instead of `--inputs`,
`--random-inputs SEED` draws seeded inputs. Each output is summarised on stdout; the
output file is written only when the whole run succeeded. An ONNX model is imported
first (docs/onnx.md) and keeps its input and output names.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from rapid_mlir.ir_io import read_module
from rapid_mlir.reference.interpreter import run
from rapid_mlir.reference.signature import find_entry, random_inputs, signature
from rapid_mlir.tools.errors import InputError, report_errors
from rapid_mlir.tools.npz import describe_array, read_npz, write_npz
from rapid_mlir.weights import store_for


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="rapid-ref", description="Run an nn module on the reference interpreter.")
    p.add_argument("file", help="the .mlir module or an ONNX model (.onnx)")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--inputs", metavar="IN.npz", help="named input tensors")
    src.add_argument("--random-inputs", metavar="SEED", type=int, help="seeded random inputs instead")
    p.add_argument("--outputs", metavar="OUT.npz", help="where to write the named outputs")
    p.add_argument("--weights", metavar="W.npz", help="weight file (default: the module's nn.weights)")
    p.add_argument("--entry", metavar="NAME", help="function to run (default: the only one, or @main)")
    p.add_argument("--input-shape", action="append", metavar="NAME=SHAPE",
                   help="static shape of an ONNX model input, e.g. data=1x3x224x224 (repeatable)")
    return p


def load(args):
    """The module and its weights, from a .mlir file or an imported ONNX model."""
    from rapid_mlir.frontend.onnx import import_onnx, is_onnx_file, parse_input_shapes

    if is_onnx_file(args.file):
        if args.weights:
            raise InputError("--weights applies only to .mlir modules: an ONNX model carries its weights")
        return import_onnx(args.file, parse_input_shapes(args.input_shape))
    if args.input_shape:
        raise InputError("--input-shape applies only to ONNX models (.onnx)")
    module = read_module(args.file)
    return module, store_for(module, args.file, args.weights)


def main(argv: Sequence[str] | None = None) -> int:
    def work() -> int:
        args = build_parser().parse_args(argv)
        module, weights = load(args)
        sig = signature(find_entry(module, args.entry))
        inputs = read_npz(args.inputs) if args.inputs else random_inputs(sig, args.random_inputs)
        outputs = run(module, inputs, weights, args.entry)
        for name, value in outputs.items():
            print(describe_array(name, value))
        if args.outputs:
            write_npz(args.outputs, outputs)
        return 0

    return report_errors("rapid-ref", work)


if __name__ == "__main__":
    sys.exit(main())
