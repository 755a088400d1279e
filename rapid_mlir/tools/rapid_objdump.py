"""`rapid-objdump`: prints a `.rbin` binary as canonical rapid assembly.

    rapid-objdump PROG.rbin [-o OUT.rasm] [--header] [--machine NAME|FILE]

The text assembles back to the same binary. `--header` first prints a summary of the
binary (machine, fingerprint, symbols, code and data sizes, host ops) as `;` comments;
`--machine` refuses a binary built for another machine. Errors print
`rapid-objdump: error: message` and exit with status 1.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from rapid_mlir.backend.encoding import encode_stream
from rapid_mlir.backend.host import link_bytes
from rapid_mlir.backend.printer import format_shape, program_to_text
from rapid_mlir.backend.program import Program
from rapid_mlir.backend.rbin import FORMAT_VERSION, read_rbin_file
from rapid_mlir.machine import load_machine
from rapid_mlir.tools.errors import report_errors


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="rapid-objdump", description="Print a .rbin binary as rapid assembly.")
    p.add_argument("file", help="the binary (.rbin)")
    p.add_argument("-o", "--output", metavar="OUT.rasm", help="write the text here instead of stdout")
    p.add_argument("--header", action="store_true", help="start with a summary of the binary as comments")
    p.add_argument("--machine", metavar="NAME|FILE", help="refuse a binary built for another machine")
    return p


def header_summary(program: Program) -> str:
    """A short description of a binary's contents, as `;` comment lines."""
    m = program.machine
    lines = [f"; rapid binary, format version {FORMAT_VERSION}",
             f"; machine: {m.summary()}",
             f"; fingerprint: {m.fingerprint()}"]
    for s in program.symbols:
        lines.append(f"; {s.kind} {s.name}: {s.dtype.name.lower()} {format_shape(s.shape)} "
                     f"@ {s.address:#x}, {s.nbytes} bytes")
    total = 0
    for (core, stream), instrs in program.streams.items():
        size = len(encode_stream(instrs))
        total += size
        lines.append(f"; code core {core} {stream}: {len(instrs)} instructions, {size} bytes")
    lines.append(f"; code total: {program.instruction_count()} instructions, {total} bytes")
    for d in program.data:
        lines.append(f"; data {d.name}: {d.dtype.name.lower()} {format_shape(d.shape)} "
                     f"@ {d.address:#x}, {d.nbytes} bytes")
    lines.append(f"; data total: {sum(d.nbytes for d in program.data)} bytes")
    for i, h in enumerate(program.host_ops):
        reads = ", ".join(t.name for t in h.inputs) or "nothing"
        writes = ", ".join(t.name for t in h.outputs)
        moved = sum(link_bytes(h))
        lines.append(f"; host op {i} {h.layer}: reads {reads}; writes {writes}; {moved} bytes over the host link")
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    def work() -> int:
        args = build_parser().parse_args(argv)
        expect = load_machine(args.machine) if args.machine else None
        program = read_rbin_file(args.file, expect)
        text = (header_summary(program) if args.header else "") + program_to_text(program)
        if args.output is None:
            sys.stdout.write(text)
            return 0
        tmp = f"{args.output}.tmp"
        try:
            with open(tmp, "w", encoding="utf-8") as f:
                f.write(text)
            os.replace(tmp, args.output)
        finally:
            if os.path.exists(tmp):
                os.remove(tmp)
        return 0

    return report_errors("rapid-objdump", work)


if __name__ == "__main__":
    sys.exit(main())
