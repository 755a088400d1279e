"""Compiling a ResNet-50-shaped network: time per stage, code size, cycles, emulation time.

    python bench/compile.py [--machine rapid-4c] [--image 224] [--width 64] [--batch 1]
                            [--no-emulate] [--check] [--json OUT.json]

Builds ResNet-50 v1.5 with `rapid_mlir.models.resnet.resnet50` (seeded weights), runs the
compile pipeline pass by pass (each pass timed, and the verification after it timed on
its own), writes the `.rbin`, and runs it on the emulator with race checks on. `--check`
also runs the reference interpreter and reports the error relative to the output's scale.

Goals (issue 4), for 224x224 at batch 1 on rapid-4c: a static instruction count in the
tens of thousands at most (hardware loops, not unrolling), compile under 60 s, emulation
under 2 minutes. Wall times on a shared machine are noisy: compare ratios across runs.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--machine", default="rapid-4c")
    parser.add_argument("--image", type=int, default=224)
    parser.add_argument("--width", type=int, default=64)
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--no-emulate", action="store_true", help="compile only")
    parser.add_argument("--check", action="store_true", help="compare with the reference interpreter")
    parser.add_argument("--json", help="also write the figures to this JSON file")
    args = parser.parse_args(argv)

    from xdsl.utils.exceptions import DiagnosticException, PassFailedException

    from rapid_mlir.backend.isa_ir import module_to_program
    from rapid_mlir.backend.rbin import write_rbin
    from rapid_mlir.dialects import make_context
    from rapid_mlir.ir_io import module_text
    from rapid_mlir.models.resnet import resnet50
    from rapid_mlir.pipeline import passes

    rows: list[tuple[str, str]] = []
    figures: dict = {"machine": args.machine, "image": args.image, "width": args.width, "batch": args.batch}

    def row(name: str, value: str) -> None:
        rows.append((name, value))
        print(f"  {name:<34} {value}", flush=True)

    print(f"ResNet-50 (image {args.image}, width {args.width}, batch {args.batch}) on {args.machine}")
    t0 = time.perf_counter()
    module, store = resnet50(image=args.image, width=args.width, batch=args.batch)
    reference_module = module.clone() if args.check else None
    nn_ops = sum(1 for op in module.walk() if op.name.startswith("nn.") and op.name not in ("nn.weight",
                                                                                          "nn.constant"))
    macs = _macs(module)
    row("build", f"{time.perf_counter() - t0:.2f} s ({nn_ops} nn ops, {len(store)} weights)")
    row("MACs", f"{macs / 1e9:.2f} G")
    figures["macs"] = macs

    tmp = Path(tempfile.mkdtemp(prefix="rapid-bench-"))
    weights = tmp / "resnet50.npz"
    store.save(weights)
    ctx = make_context()
    compile_total = 0.0
    stages = {}
    for p in passes(args.machine, None, str(weights)):
        t = time.perf_counter()
        try:
            p.apply(ctx, module)
        except PassFailedException as e:
            row(p.name, f"FAILED: {e}")
            return 1
        t_pass = time.perf_counter() - t
        t = time.perf_counter()
        try:
            module.verify()
        except DiagnosticException as e:
            row(p.name, f"produced IR that does not verify: {e}")
            return 1
        t_verify = time.perf_counter() - t
        ops = sum(1 for _ in module.walk())
        row(p.name, f"{t_pass:6.2f} s + verify {t_verify:5.2f} s  ({ops} ops after)")
        stages[p.name] = {"seconds": t_pass, "verify_seconds": t_verify, "ops_after": ops}
        compile_total += t_pass + t_verify
    t = time.perf_counter()
    program = module_to_program(module)
    blob = write_rbin(program)
    t_out = time.perf_counter() - t
    compile_total += t_out
    row("program + .rbin", f"{t_out:6.2f} s")
    t = time.perf_counter()
    asm_chars = len(module_text(module))
    row("(printing the isa IR, not counted)", f"{time.perf_counter() - t:6.2f} s, {asm_chars / 1e3:.0f} K chars")
    row("compile total", f"{compile_total:6.2f} s   (goal < 60 s)")
    row("static instructions", f"{program.instruction_count()}   (goal: tens of thousands at most)")
    code_bytes = len(blob) - sum(len(d.data) for d in program.data)
    row(".rbin size", f"{len(blob) / 1e6:.1f} MB, of which code and header {code_bytes / 1e3:.0f} KB")
    figures.update(stages=stages, compile_seconds=compile_total, static_instructions=program.instruction_count(),
                   rbin_bytes=len(blob), code_and_header_bytes=code_bytes)

    if not args.no_emulate:
        from rapid_mlir.runtime import load

        rng = np.random.default_rng(0)
        inputs = {s.name: rng.standard_normal(s.shape).astype(np.float32) for s in program.inputs()}
        t = time.perf_counter()
        result = load(program).run(inputs, check_races=True)
        t_emu = time.perf_counter() - t
        stats = result.stats
        clock = stats.get("clock_ghz", 1.0)
        row("emulated cycles", f"{result.cycles:,} ({result.cycles / clock / 1e6:.2f} ms at {clock} GHz)")
        row("MPE utilisation", f"{100 * stats['mpe_utilization']:.1f} %")
        row("instructions executed", f"{stats['instructions']:,}")
        row("emulation wall time", f"{t_emu:6.2f} s   (goal < 120 s)")
        figures.update(cycles=result.cycles, mpe_utilization=stats["mpe_utilization"],
                       executed_instructions=stats["instructions"], emulation_seconds=t_emu)
        if args.check:
            from rapid_mlir.reference.interpreter import run

            t = time.perf_counter()
            expected = run(reference_module, inputs, store)
            for name, want in expected.items():
                got = result.outputs[name]
                scale = float(np.abs(want).max())
                err = float(np.abs(got - want).max())
                row(f"error of '{name}' / output scale", f"{err / scale:.4f} (scale {scale:.3g}; "
                    f"top-1 agrees on {np.mean(got.argmax(-1) == want.argmax(-1)):.0%} of the batch)")
                figures[f"relative_error_{name}"] = err / scale
            row("reference interpreter", f"{time.perf_counter() - t:6.2f} s")
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2))
    return 0


def _macs(module) -> int:
    from rapid_mlir.dialects import nn

    total = 0
    for op in module.walk():
        if isinstance(op, nn.Conv2DOp):
            o, icg, kh, kw = op.weight.type.get_shape()
            total += int(np.prod(op.output.type.get_shape())) * icg * kh * kw
        elif isinstance(op, nn.GemmOp):
            m, n = op.output.type.get_shape()
            a = op.lhs.type.get_shape()
            total += m * n * (a[0] if op.trans_a is not None else a[1])
    return total


if __name__ == "__main__":
    sys.exit(main())
