"""How much a graph's outputs move when every stored value is rounded to fp16.

The device stores inputs, weights and every layer's result in fp16 (unit roundoff
u = 2^-11). A graph that subtracts two nearly equal values, or normalises a nearly
constant row, amplifies that rounding far past a fixed tolerance: the device's answer
is then as right as fp16 allows and still "differs" from the float32 reference.

`rounding_spread` measures the amplification instead of guessing it: it runs the
reference interpreter `runs` times, each time multiplying every input element and
every element an `nn` op produces by an independent (1 + u*d), d uniform in [-1, 1],
and returns, per output element, the largest deviation from the unperturbed result.
A mismatch within `SPREAD_MARGIN` times that spread (on top of the usual tolerance)
is explained by fp16 storage; anything larger is a bug. A real lowering bug (a wrong
index, a lost tile, a missing barrier) moves outputs by the size of the values, not
by a few rounding units, so it is not explained away unless the graph is so
ill-conditioned that its spread is comparable to the output itself; the fuzzer
reports such cases as `explained` with their spread, never silently.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from xdsl.dialects.builtin import ModuleOp

from rapid_mlir.weights import WeightStore

FP16_UNIT_ROUNDOFF = 2.0 ** -11
SPREAD_MARGIN = 4.0
"""A deviation up to this many times the measured spread counts as rounding: the
perturbation is random, the device's rounding is systematic, and a few runs see only
part of the worst case."""
RUNS = 8


def rounding_spread(module: ModuleOp, inputs: Mapping[str, np.ndarray], store: WeightStore,
                    expected: Mapping[str, np.ndarray], runs: int = RUNS,
                    seed: int = 0) -> dict[str, np.ndarray]:
    """Per output, the elementwise largest |perturbed - expected| over `runs` runs."""
    from rapid_mlir.reference.interpreter import run

    rng = np.random.default_rng(seed)

    def perturb(a: np.ndarray) -> np.ndarray:
        noise = rng.uniform(-FP16_UNIT_ROUNDOFF, FP16_UNIT_ROUNDOFF, a.shape)
        return (a * (1.0 + noise)).astype(a.dtype)

    spread = {k: np.zeros(np.shape(v), np.float64) for k, v in expected.items()}
    for _ in range(runs):
        noisy = {k: perturb(v) if np.asarray(v).dtype.kind == "f" else v for k, v in inputs.items()}
        got = run(module.clone(), noisy, store, perturb=perturb)
        for k, want in expected.items():
            d = np.abs(np.asarray(got[k], np.float64) - np.asarray(want, np.float64))
            spread[k] = np.maximum(spread[k], np.where(np.isfinite(d), d, np.inf))
    return spread
