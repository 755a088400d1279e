"""Emulator speed: simple instructions per second, and GEMM-tile throughput vs numpy.

    python bench/emulator.py [--repeat N]

Prints a table of medians over N runs (machines here are shared and noisy; compare the
ratios, not the absolute times). Goals (issue 3): >= 100k simple instructions/s, and on
large GEMM tiles >= 0.5x the throughput of plain numpy float32 matmul on the same FLOPs.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import time

import numpy as np

from rapid_mlir.backend.assembler import assemble
from rapid_mlir.machine import PRESETS, MiB
from rapid_mlir.runtime import load


def simple_program(n: int) -> str:
    return f""".machine rapid-1c
.core 0
.stream dma0
    li r1, 0x0
    loop {n}, 1
    addi r1, r1, 1
    halt
"""


def gemm_program(t: int, reps: int) -> str:
    a, b = 0, 2 * t * t
    return f""".machine big-l0
.input A f16 [{t}, {t}] @ 0x0
.input B f16 [{t}, {t}] @ {hex(2 * t * t)}
.core 0
.stream dma0
    dma.copy lx[{hex(a)}] f16 {{{t}:{t}, {t}:1}}, dram[0x0] f16 {{{t}:{t}, {t}:1}}
    dma.copy lx[{hex(b)}] f16 {{{t}:{t}, {t}:1}}, dram[{hex(2 * t * t)}] f16 {{{t}:{t}, {t}:1}}
    signal s0
    halt
.stream mpe0
    wait s0
    loop {reps}, 1
    mpe.mma acc[0x0] f32 {{1:0, {t}:{t}, {t}:1}}, lx[{hex(a)}] f16 {{1:0, {t}:{t}, {t}:1}}, lx[{hex(b)}] f16 {{{t}:{t}, {t}:1}}
    halt
"""


def median_time(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    rows = []

    n = 200_000
    device = load(assemble(simple_program(n)))
    for races in (True, False):
        t = median_time(lambda: device.run({}, check_races=races), args.repeat)
        rows.append((f"simple instructions (addi loop), races {'on' if races else 'off'}",
                     f"{n / t:,.0f} instr/s", "goal >= 100,000", "ok" if n / t >= 100_000 else "MISSED"))

    big = dataclasses.replace(PRESETS["rapid-1c"], name="big-l0", l0_a_bytes=1 * MiB,
                              l0_b_bytes=1 * MiB, acc_bytes=4 * MiB)
    for tile in (256, 512):
        reps = 32
        device = load(assemble(gemm_program(tile, reps), machine=big))
        rng = np.random.default_rng(0)
        inputs = {k: rng.standard_normal((tile, tile)).astype(np.float16) for k in "AB"}
        a32, b32 = (x.astype(np.float32) for x in inputs.values())
        t_numpy = median_time(lambda: [a32 @ b32 for _ in range(reps)], args.repeat)
        device.write_inputs(inputs)  # host -> device copies are the runtime's, not emulation
        for races in (True, False):
            t_emu = median_time(lambda: device.launch(check_races=races), args.repeat)
            ratio = t_numpy / t_emu
            rows.append((f"GEMM {tile}x{tile}x{tile} tile x{reps}, races {'on' if races else 'off'}",
                         f"{ratio:.2f}x numpy ({t_emu * 1e3:.1f} ms vs {t_numpy * 1e3:.1f} ms)",
                         "goal >= 0.5x", "ok" if ratio >= 0.5 else "MISSED"))

    # The machine's 16-bit formats: encode + decode + round of 1M values.
    from rapid_mlir.emulator.numerics import from_fp16_bits, round_fp16, to_fp16_bits

    x = np.random.default_rng(4).standard_normal(1_000_000).astype(np.float32)
    for fmt in ("ieee", "dlfloat16"):
        round_fp16(x[:10], fmt)
        t = median_time(lambda: (from_fp16_bits(to_fp16_bits(x, fmt), fmt), round_fp16(x, fmt)), args.repeat)
        rows.append((f"fp16 conversions ({fmt}), 1M values", f"{t * 1e3:.1f} ms", "goal < 50 ms",
                     "ok" if t < 0.05 else "MISSED"))

    # A whole program whose every A tile is freshly loaded by DMA and used once.
    from pathlib import Path

    from rapid_mlir.backend.assembler import assemble_file

    gemm = load(assemble_file(Path(__file__).resolve().parent.parent / "examples" / "asm" / "gemm_1core.rasm"))
    rng = np.random.default_rng(0)
    inputs = {k: rng.standard_normal((256, 256)).astype(np.float16) for k in "AB"}
    a32, b32 = (x.astype(np.float32) for x in inputs.values())
    t_numpy = median_time(lambda: a32 @ b32, args.repeat)
    gemm.write_inputs(inputs)
    for races in (True, False):
        t_emu = median_time(lambda: gemm.launch(check_races=races), args.repeat)
        rows.append((f"examples/asm/gemm_1core (streamed tiles), races {'on' if races else 'off'}",
                     f"{t_numpy / t_emu:.2f}x numpy ({t_emu * 1e3:.1f} ms vs {t_numpy * 1e3:.2f} ms)",
                     "(information)", ""))

    width = max(len(r[0]) for r in rows)
    print(f"{'benchmark':<{width}}  {'median':<40}  goal             status")
    for name, value, goal, status in rows:
        print(f"{name:<{width}}  {value:<40}  {goal:<15}  {status}")


if __name__ == "__main__":
    main()
