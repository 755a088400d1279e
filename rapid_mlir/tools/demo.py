"""`rapid-demo`: the main job on a bundled network (`make demo`).

Today it reads an `nn` module and its weights, draws seeded random inputs and runs
the reference interpreter, printing each output's shape and checksum. Later stages
of the project extend it to compile the network and run it on the emulator.

    rapid-demo examples/small_cnn.mlir [--seed N]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from collections.abc import Sequence

from rapid_mlir.ir_io import read_module
from rapid_mlir.reference.interpreter import run
from rapid_mlir.reference.signature import find_entry, random_inputs, signature
from rapid_mlir.tools.errors import report_errors
from rapid_mlir.tools.npz import describe_array
from rapid_mlir.weights import store_for


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="rapid-demo", description=__doc__.splitlines()[0])
    parser.add_argument("file", help="an nn module (.mlir)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random inputs")

    def work() -> int:
        args = parser.parse_args(argv)
        t0 = time.perf_counter()
        module = read_module(args.file)
        weights = store_for(module, args.file)
        sig = signature(find_entry(module))
        ops = Counter(op.name for op in sig.function.walk() if op.name.startswith("nn."))
        print(f"network: {args.file} (@{sig.function.sym_name.data}, {sum(ops.values())} nn ops, "
              f"{len(weights)} external weights)")
        print("ops: " + ", ".join(f"{name} x{n}" for name, n in sorted(ops.items())))
        inputs = random_inputs(sig, args.seed)
        for name, value in inputs.items():
            print("input  " + describe_array(name, value) + f" (seed {args.seed})")
        outputs = run(module, inputs, weights)
        for name, value in outputs.items():
            print("output " + describe_array(name, value))
        print(f"reference interpreter: {time.perf_counter() - t0:.2f} s")
        return 0

    return report_errors("rapid-demo", work)


if __name__ == "__main__":
    sys.exit(main())
