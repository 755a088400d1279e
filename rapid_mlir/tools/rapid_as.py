"""`rapid-as`: assembles rapid assembly text into a `.rbin` binary.

    rapid-as PROG.rasm -o PROG.rbin [--machine NAME|FILE]

The machine comes from `--machine`, else from the file's `.machine` directive, else
the default preset; when both are given they must agree. The output is written only
when assembly succeeds (atomically: a temporary file, then a rename). Errors print
`rapid-as: error: FILE:LINE:COL: message` and exit with status 1.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from rapid_mlir.backend.assembler import assemble_file
from rapid_mlir.backend.rbin import write_rbin_file
from rapid_mlir.machine import load_machine
from rapid_mlir.tools.errors import report_errors


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="rapid-as", description="Assemble rapid assembly into a .rbin binary.")
    p.add_argument("file", help="the assembly file (.rasm)")
    p.add_argument("-o", "--output", metavar="OUT.rbin",
                   help="the binary to write (default: FILE with the suffix .rbin)")
    p.add_argument("--machine", metavar="NAME|FILE",
                   help="machine preset or .json/.toml file (default: the file's .machine, else rapid-4c)")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    def work() -> int:
        args = build_parser().parse_args(argv)
        machine = load_machine(args.machine) if args.machine else None
        program = assemble_file(args.file, machine)
        out = args.output or str(Path(args.file).with_suffix(".rbin"))
        write_rbin_file(out, program)
        return 0

    return report_errors("rapid-as", work)


if __name__ == "__main__":
    sys.exit(main())
