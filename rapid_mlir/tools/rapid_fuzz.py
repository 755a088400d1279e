"""`rapid-fuzz`: random valid `nn` graphs, compiled and emulated, checked by oracles.

    rapid-fuzz [--seed N] [--cases N | --seconds S] [--machine NAME ...] [--mappings]
               [--jobs J] [--shrink-seconds S] [--out DIR]
    rapid-fuzz --replay DIR/case-N [--machine NAME ...]

Graph i of a campaign has seed `N + i`, so a campaign is reproducible (with any number
of jobs). Each failing case is shrunk and saved to `DIR/case-SEED/` (model.mlir,
weights.npz, inputs.npz, case.json, failure.txt; the unshrunk graph in original/).
Prints the graphs generated, the ops covered, the presets and mappings tried and the
counts of mismatches, crashes, fired checks, rejections and differences explained by
fp16 rounding. Exit code 1 when any case failed. See docs/fuzzing.md.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from rapid_mlir.tools.errors import InputError, report_errors


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="rapid-fuzz", description="Fuzz the compiler and emulator with random nn graphs.")
    p.add_argument("--seed", type=int, default=0, metavar="N", help="seed of the first graph (default 0)")
    budget = p.add_mutually_exclusive_group()
    budget.add_argument("--cases", type=int, metavar="N", help="number of graphs (default 100)")
    budget.add_argument("--seconds", type=float, metavar="S", help="run for this long instead")
    p.add_argument("--machine", action="append", metavar="NAME",
                   help="a machine preset or file to compile for; repeat for several "
                        "(default: rapid-4c, rapid-1c, rapid-32c)")
    p.add_argument("--mappings", action="store_true",
                   help="also pin each layer to variants of its mapping on the first machine "
                        "(serial: one core, single-buffered; small-tiles: halved LX tiles; "
                        "random: a random legal mapping per layer)")
    p.add_argument("--rotate", action="store_true",
                   help="run each graph on the first machine, one other machine and one mapping "
                        "variant, in turn (three runs per graph; for long campaigns)")
    p.add_argument("--jobs", type=int, default=1, metavar="J", help="graphs checked in parallel (default 1)")
    p.add_argument("--shrink-seconds", type=float, default=60.0, metavar="S",
                   help="time spent shrinking each failing case (default 60; 0: no shrinking)")
    p.add_argument("--out", default="fuzz-out", metavar="DIR", help="where failing cases go (default fuzz-out)")
    p.add_argument("--replay", metavar="CASE_DIR", help="re-run the oracles on a saved case")
    p.add_argument("-q", "--quiet", action="store_true", help="print only the summary")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return report_errors("rapid-fuzz", lambda: _work(args))


def _work(args) -> int:
    from rapid_mlir.fuzz.run import DEFAULT_PRESETS, FAILURES, MAPPING_VARIANTS, campaign, replay

    presets = args.machine or list(DEFAULT_PRESETS)
    if args.replay:
        outcome = replay(args.replay, args.machine)
        for f in outcome.findings:
            print(f"{f.kind} on {f.preset}: {f.message}")
        failed = outcome.failed
        print(f"{args.replay}: {'FAIL' if failed else 'ok'} on {', '.join(outcome.presets_run) or 'no preset'}")
        return 1 if failed else 0
    log = None if args.quiet else (lambda line: print(line, flush=True))
    mappings = MAPPING_VARIANTS if args.mappings else ()
    if args.jobs < 1:
        raise InputError(f"--jobs must be at least 1, got {args.jobs}")
    summary = campaign(args.seed, args.cases, args.seconds, presets, args.out, log, mappings,
                       args.jobs, args.shrink_seconds, args.rotate)
    for line in summary.lines():
        print(line)
    return 1 if any(summary.counts[k] for k in FAILURES) else 0


if __name__ == "__main__":
    sys.exit(main())
