"""`rapid-ref`: runs an `nn` module on the reference interpreter.

    rapid-ref FILE.mlir --inputs IN.npz --outputs OUT.npz [--weights W.npz] [--entry NAME]

Inputs and outputs are named as the entry function names them (see
`rapid_mlir.reference.interpreter.signature`). Instead of `--inputs`,
`--random-inputs SEED` draws seeded inputs. Each output is summarised on stdout; the
output file is written only when the whole run succeeded.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from rapid_mlir.ir_io import read_module
from rapid_mlir.reference.interpreter import run
from rapid_mlir.reference.signature import find_entry, random_inputs, signature
from rapid_mlir.tools.errors import report_errors
from rapid_mlir.tools.npz import describe_array, read_npz, write_npz
from rapid_mlir.weights import store_for


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="rapid-ref", description="Run an nn module on the reference interpreter.")
    p.add_argument("file", help="the .mlir module")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--inputs", metavar="IN.npz", help="named input tensors")
    src.add_argument("--random-inputs", metavar="SEED", type=int, help="seeded random inputs instead")
    p.add_argument("--outputs", metavar="OUT.npz", help="where to write the named outputs")
    p.add_argument("--weights", metavar="W.npz", help="weight file (default: the module's nn.weights)")
    p.add_argument("--entry", metavar="NAME", help="function to run (default: the only one, or @main)")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    def work() -> int:
        args = build_parser().parse_args(argv)
        module = read_module(args.file)
        weights = store_for(module, args.file, args.weights)
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
