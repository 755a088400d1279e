"""`rapid-run`: runs a rapid binary on the emulator.

    rapid-run PROG.rbin [--inputs IN.npz | --seed N] [--outputs OUT.npz] [--machine NAME|FILE]
                        [--trace T.json] [--trace-text T.txt] [--stats S.json] [--no-race-check]

Inputs are named as the program's input symbols; without `--inputs` they are seeded
standard-normal values (seed 0 unless `--seed`), and the seed is printed. `--machine`
refuses a binary built for another machine. Prints the cycle count, the time at the
machine's clock, the MPE utilisation and a checksum of every output. Output files
(outputs, stats, traces) are written atomically, and only when the run succeeded.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from rapid_mlir.tools.errors import report_errors
from rapid_mlir.tools.npz import describe_array, read_npz, write_npz


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="rapid-run", description="Run a rapid binary on the emulator.")
    p.add_argument("program", metavar="PROG.rbin", help="the binary (from rapid-as)")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--inputs", metavar="IN.npz", help="named input tensors")
    src.add_argument("--seed", metavar="N", type=int, default=0,
                     help="seed of the random inputs used without --inputs (default 0)")
    p.add_argument("--outputs", metavar="OUT.npz", help="where to write the named outputs")
    p.add_argument("--machine", metavar="NAME|FILE",
                   help="machine to run on (a preset or a .json/.toml file); the binary must be built for it")
    p.add_argument("--trace", metavar="T.json", help="write a Chrome trace (open in ui.perfetto.dev)")
    p.add_argument("--trace-text", metavar="T.txt", help="write a text trace, one line per instruction")
    p.add_argument("--stats", metavar="S.json", help="write the run's statistics as JSON")
    p.add_argument("--no-race-check", action="store_true", help="skip race detection (faster)")
    return p


def _write_atomic(path: str, text: str) -> None:
    target = Path(path)
    tmp = target.with_name(target.name + ".tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, target)
    except BaseException:
        if tmp.exists():
            tmp.unlink()
        raise


def summary(program_path: str, machine, result) -> list[str]:
    """The lines rapid-run prints after a successful run."""
    stats = result.stats
    cores = f"{machine.cores} core{'s' if machine.cores != 1 else ''}"
    lines = [f"{program_path}: ran on {machine.name} ({cores}, fp16 {machine.fp16_format})"]
    if result.seed is not None:
        lines.append(f"inputs: random (standard normal), seed {result.seed}")
    lines.append(f"cycles: {result.cycles} ({stats['time_us']:.3f} us at {machine.clock_ghz:g} GHz)")
    lines.append(f"instructions: {stats['instructions']}, MACs: {stats['macs']}, "
                 f"MPE utilization: {100.0 * stats['mpe_utilization']:.2f}%")
    host = stats.get("host") or {}
    if host.get("calls"):
        lines.append(f"host calls: {host['calls']} ({host['cycles']} cycles, "
                     f"{host['bytes_to_host'] + host['bytes_from_host']} bytes over the host link)")
    lines += [describe_array(name, value) for name, value in result.outputs.items()]
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    def work() -> int:
        args = build_parser().parse_args(argv)
        from rapid_mlir.backend.rbin import read_rbin_file
        from rapid_mlir.machine import load_machine
        from rapid_mlir.runtime import Device

        machine = load_machine(args.machine) if args.machine else None
        if not Path(args.program).is_file():
            raise FileNotFoundError(f"{args.program}: no such file")
        program = read_rbin_file(args.program, machine)
        device = Device(machine).load(program)
        inputs = read_npz(args.inputs) if args.inputs else None
        tracing = bool(args.trace or args.trace_text)
        result = device.run(inputs, seed=args.seed, check_races=not args.no_race_check, trace=tracing)
        for line in summary(args.program, device.machine, result):
            print(line)
        if args.outputs:
            write_npz(args.outputs, result.outputs)
        if args.stats:
            _write_atomic(args.stats, json.dumps(result.stats, indent=2) + "\n")
        if args.trace:
            _write_atomic(args.trace, json.dumps(result.trace))
        if args.trace_text:
            _write_atomic(args.trace_text, result.text_trace)
        return 0

    return report_errors("rapid-run", work)


if __name__ == "__main__":
    sys.exit(main())
