"""The hand-written assembly examples assemble, run on the emulator, and match numpy.

The reference is numpy float32 matmul of the same f16 inputs: f16 x f16 products are
exact in fp32, so only the order of fp32 accumulation differs (rtol 1e-4 covers it;
a wrong tile or a missed accumulation is off by O(1)).
"""

from pathlib import Path

import numpy as np
import pytest

from rapid_mlir.backend.assembler import assemble_file
from rapid_mlir.backend.rbin import read_rbin, write_rbin
from rapid_mlir.runtime import load

ASM = Path(__file__).resolve().parents[3] / "examples" / "asm"


def run_gemm(name: str, seed: int = 1):
    program = read_rbin(write_rbin(assemble_file(ASM / name)))   # through the binary, as users run it
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((256, 256)).astype(np.float16)
    b = rng.standard_normal((256, 256)).astype(np.float16)
    result = load(program).run({"A": a, "B": b}, trace=True)
    expected = a.astype(np.float32) @ b.astype(np.float32)
    np.testing.assert_allclose(result.outputs["C"], expected, rtol=1e-4, atol=1e-3)
    return program, result


def busy(result, engine: str) -> int:
    return sum(s["busy_cycles"] for name, s in result.stats["streams"].items() if engine in name)


@pytest.mark.parametrize("name", ["gemm_1core.rasm", "gemm_4core.rasm"])
def test_gemm_matches_numpy(name):
    run_gemm(name)


def test_one_core_gemm_overlaps_dma_with_compute():
    program, result = run_gemm("gemm_1core.rasm")
    mpe, dma = busy(result, "mpe"), busy(result, "dma")
    # Double buffering: the total is far below the serial sum of transfers and compute,
    # and close to the MPE's own busy time.
    assert result.cycles < mpe + dma
    assert result.cycles < 1.15 * mpe
    assert result.stats["mpe_utilization"] > 0.4       # of both corelets; one is used


def test_four_cores_are_faster_than_one():
    _, one = run_gemm("gemm_1core.rasm")
    _, four = run_gemm("gemm_4core.rasm")
    assert four.cycles * 2.5 < one.cycles
    events = four.trace_events
    assert {e["pid"] for e in events if e.get("ph") == "X"} == {0, 1, 2, 3}
