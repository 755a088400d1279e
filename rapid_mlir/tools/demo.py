"""`rapid-demo`: the main job on a network (`make demo`: the zoo's ResNet-18).

Reads an ONNX model (or an `nn` module and its weights), compiles it for a machine (the
graph optimisations and the whole lowering, verified after every pass), writes the
binary, runs it on the emulator with its race and deadlock checks on, runs the reference
on the same seeded inputs (onnxruntime for an ONNX model, the reference interpreter for
an `nn` module), and prints the agreement, the emulated cycles, the MPE utilisation and a
per-layer table (cycles, MPE utilisation, compute- or memory-bound), and writes the
Chrome trace next to the binary. Exits 1 when an output disagrees with the reference
beyond the fp16 tolerance (or, for a classifier's [N, classes] output, when a top-1
class differs).

    rapid-demo build/resnet18.onnx [--machine rapid-4c] [--seed N] [-o OUT.rbin]
    rapid-demo examples/small_cnn.mlir
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from rapid_mlir.ir_io import read_module
from rapid_mlir.reference.interpreter import run
from rapid_mlir.runtime.profile import format_profile, layer_profile
from rapid_mlir.reference.signature import find_entry, random_inputs, signature
from rapid_mlir.tools.errors import report_errors
from rapid_mlir.tools.npz import describe_array
from rapid_mlir.weights import store_for, weights_file_of

TOLERANCE = 0.02
"""Allowed max |device - reference| as a fraction of the output's largest magnitude: the
device stores every tensor between layers as fp16 (about 3 significant digits, a relative
rounding of 2^-11 per store) and accumulates in fp32, so a deep network drifts by a few
parts in a thousand of its output scale; 2% flags real mistakes, not rounding."""


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="rapid-demo", description=__doc__.splitlines()[0])
    parser.add_argument("file", help="an ONNX model (.onnx) or an nn module (.mlir)")
    parser.add_argument("--input-shape", action="append", metavar="NAME=SHAPE",
                        help="static shape of an ONNX model input (repeatable)")
    parser.add_argument("--machine", default="rapid-4c", help="machine preset or file (default rapid-4c)")
    parser.add_argument("--mapping", choices=("dse", "fixed"), default="dse",
                        help="the mapping strategy: dse (the default: the cost-model search) or fixed "
                        "(the rule-based baseline)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random inputs")
    parser.add_argument("-o", "--output", help="where to write the binary (default build/<name>.rbin)")

    def work() -> int:
        args = parser.parse_args(argv)
        with tempfile.TemporaryDirectory(prefix="rapid-demo-") as tmp:
            return _demo(args, Path(tmp))

    return report_errors("rapid-demo", work)


def _demo(args, tmp: Path) -> int:
    from rapid_mlir.backend.rbin import write_rbin
    from rapid_mlir.frontend.onnx import import_onnx, is_onnx_file, parse_input_shapes
    from rapid_mlir.pipeline import compile_module
    from rapid_mlir.runtime import load

    if is_onnx_file(args.file):
        import onnx

        model = onnx.load(args.file)
        module, weights = import_onnx(model, parse_input_shapes(args.input_shape), weights_file="weights.npz")
        weights_path = tmp / "weights.npz" if len(weights) else None
        if weights_path is not None:
            weights.save(weights_path)
        reference_name = "onnxruntime"
    else:
        module = read_module(args.file)
        weights = store_for(module, args.file)
        weights_path = weights_file_of(module, args.file)
        reference_name = "reference interpreter"
    sig = signature(find_entry(module))
    ops = Counter(op.name for op in sig.function.walk() if op.name.startswith("nn."))
    print(f"network: {args.file} (@{sig.function.sym_name.data}, {sum(ops.values())} nn ops, "
          f"{len(weights)} external weights)")
    print("ops: " + ", ".join(f"{name} x{n}" for name, n in sorted(ops.items())))
    inputs = random_inputs(sig, args.seed)
    for name, value in inputs.items():
        print("input  " + describe_array(name, value) + f" (seed {args.seed})")

    t = time.perf_counter()
    if is_onnx_file(args.file):
        from rapid_mlir.reference.onnx_export import run_onnxruntime

        expected = run_onnxruntime(model, inputs)
    else:
        expected = run(read_module(args.file), inputs, weights)
    t_ref = time.perf_counter() - t

    t = time.perf_counter()
    program = compile_module(module, args.machine, weights=str(weights_path) if weights_path else None,
                             strategy=args.mapping)
    blob = write_rbin(program)
    out = Path(args.output) if args.output else Path("build") / (Path(args.file).stem + ".rbin")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(blob)
    t_compile = time.perf_counter() - t
    print(f"compiled for {args.machine} ({args.mapping} mappings) in {t_compile:.2f} s: "
          f"{program.instruction_count()} instructions "
          f"in {len(program.streams)} streams, {len(blob) / 1024:.1f} KiB -> {out}")

    t = time.perf_counter()
    device = load(out.read_bytes())
    result = device.run(inputs, check_races=True, trace=True)
    t_emu = time.perf_counter() - t
    trace_file = out.with_suffix(".trace.json")
    trace_file.write_text(json.dumps(result.trace))
    stats = result.stats
    print(f"emulator: {result.cycles:,} cycles ({stats['time_us']:.1f} us at {stats['clock_ghz']} GHz), "
          f"MPE utilisation {100 * stats['mpe_utilization']:.1f} %, {stats['macs']:,} MACs, "
          f"{stats['instructions']:,} instructions executed; no races, no deadlock ({t_emu:.2f} s)")
    print(format_profile(layer_profile(result.trace_events, device.machine), result.cycles))
    print(f"trace: {trace_file} (open in https://ui.perfetto.dev or chrome://tracing)")

    ok = True
    for name, want in expected.items():
        got = result.outputs[name]
        scale = float(np.abs(want).max()) or 1.0
        err = float(np.abs(got - want).max())
        agree = err <= TOLERANCE * scale
        ok &= agree
        print("output " + describe_array(name, got))
        print(f"  vs {reference_name} ({t_ref:.2f} s): max |error| {err:.2e} = {err / scale:.2%} of the "
              f"output scale {scale:.3g} (tolerance {TOLERANCE:.0%}): {'OK' if agree else 'MISMATCH'}")
        if want.ndim == 2 and want.shape[1] > 1:  # a classifier's [N, classes] logits
            same = got.argmax(-1) == want.argmax(-1)
            ok &= bool(same.all())
            print(f"  top-1 class: {', '.join(map(str, got.argmax(-1)))} vs {', '.join(map(str, want.argmax(-1)))} "
                  f"from {reference_name}: {'agrees' if same.all() else 'DIFFERS'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
