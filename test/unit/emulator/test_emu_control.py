"""Control flow and synchronisation: registers, hardware loops, semaphores within and
across cores, barriers, remote DMA and whole producer/consumer pipelines."""

import dataclasses

import numpy as np
import pytest

from rapid_mlir.backend.isa import Space
from rapid_mlir.emulator import Emulator
from rapid_mlir.emulator.builder import F16, F32, ProgramBuilder, acc, dram, lx
from rapid_mlir.emulator.numerics import round_fp16
from rapid_mlir.machine import PRESETS

M1 = dataclasses.replace(PRESETS["rapid-1c"], name="ctl-1c", dram_bytes=1 << 20)
M4 = dataclasses.replace(PRESETS["rapid-4c"], name="ctl-4c", dram_bytes=1 << 20)


def test_registers_and_loops_walk_memory():
    """A loop whose body moves one 8-element row per iteration, base registers advanced by addi."""
    x = np.arange(40, dtype=np.float32).reshape(5, 8)
    b = ProgramBuilder(M1)
    s = b.stream(0, "dma0")
    s.li(1, 0x100).li(2, 0x40)
    s.loop(5, 3)
    s.dma(lx(0, F32, (8,), reg=2), dram(0, F32, (8,), reg=1))  # row i -> LX, reversed order below
    s.addi(1, 1, 32)
    s.addi(2, 2, -8)   # 0x40, 0x38, ... : 8 bytes apart, overlapping halves
    s.halt()
    emu = Emulator(b.build())
    emu.write_memory(Space.DRAM, 0x100, F32, x)
    stats = emu.run()
    assert emu.streams[0].regs[1] == 0x100 + 5 * 32 and emu.streams[0].regs[2] == 0x40 - 5 * 8
    # Row i landed at float index 16 - 2 i; later rows overwrite most of earlier ones.
    want = np.zeros(24, np.float32)
    for i in range(5):
        want[16 - 2 * i:24 - 2 * i] = x[i]
    np.testing.assert_array_equal(emu.read_memory(Space.LX, 0, F32, (24,)), want)
    assert stats["instructions"] == 2 + 1 + 5 * 3 + 1


def test_a_dma_can_end_a_loop_body():
    b = ProgramBuilder(M1)
    s = b.stream(0, "dma0")
    s.li(1, -16).loop(4, 2).addi(1, 1, 16).dma(lx(0x100, F32, (4,), reg=1), dram(0, F32, (4,), reg=1))
    s.halt()
    emu = Emulator(b.build())
    emu.write_memory(Space.DRAM, 0, F32, np.arange(16))
    stats = emu.run()
    np.testing.assert_array_equal(emu.read_memory(Space.LX, 0x100, F32, (16,)), np.arange(16))
    assert stats["instructions"] == 2 + 4 * 2 + 1


def test_nested_loops_count_every_iteration():
    b = ProgramBuilder(M1)
    s = b.stream(0, "sfu1")
    s.loop(3, 4)          # 3 x
    s.addi(1, 1, 1)       #   r1 += 1
    s.loop(4, 2)          #   4 x
    s.addi(2, 2, 1)       #     r2 += 1
    s.addi(3, 3, 10)      #     r3 += 10  (both inner loop and outer loop end here)
    s.addi(4, 4, 1)       # after the loops
    s.halt()
    emu = Emulator(b.build())
    stats = emu.run()
    regs = emu.streams[0].regs
    assert regs[1:5] == [3, 12, 120, 1]
    assert stats["instructions"] == 1 + 3 * (1 + 1 + 4 * 2) + 1 + 1
    assert stats["cycles"] == stats["instructions"]  # all control instructions, 1 cycle each


def test_semaphore_pipeline_dma_mpe_sfu_dma():
    """Load A and B, multiply on the MPE, ReLU on the SFU, store: every hand-off a semaphore."""
    rng = np.random.default_rng(0)
    a, w = rng.standard_normal((16, 8)).astype(np.float32), rng.standard_normal((8, 8)).astype(np.float32)
    b = ProgramBuilder(M1)
    b.input("a", F16, (16, 8), 0)
    b.input("w", F16, (8, 8), 0x100)
    b.output("y", F16, (16, 8), 0x200)
    d0 = b.stream(0, "dma0")
    d0.dma(lx(0, F16, (16, 8)), dram(0, F16, (16, 8))).dma(lx(0x100, F16, (8, 8)), dram(0x100, F16, (8, 8)))
    d0.signal(0).halt()
    mp = b.stream(0, "mpe0")
    mp.wait(0).mm(acc(0, F32, (2, 8, 8)), lx(0, F16, (2, 8, 8)), lx(0x100, F16, (8, 8))).signal(1).halt()
    sf = b.stream(0, "sfu0")
    sf.wait(1).emit("sfu.relu", dst=lx(0x400, F16, (16, 8)), src=acc(0, F32, (16, 8))).signal(2).halt()
    d1 = b.stream(0, "dma1")
    d1.wait(2).dma(dram(0x200, F16, (16, 8)), lx(0x400, F16, (16, 8))).halt()
    emu = Emulator(b.build())
    emu.write_tensor("a", a)
    emu.write_tensor("w", w)
    emu.run()
    want = round_fp16(np.maximum(round_fp16(a, "ieee") @ round_fp16(w, "ieee"), 0), "ieee")
    np.testing.assert_allclose(emu.read_tensor("y"), want, rtol=1e-3)


def test_counting_semaphores_accumulate():
    """Three signals, then three waits: a semaphore counts."""
    b = ProgramBuilder(M1)
    b.stream(0, "dma0").signal(5).signal(5).signal(5).halt()
    b.stream(0, "dma1").wait(5).wait(5).wait(5).halt()
    emu = Emulator(b.build())
    emu.run()
    assert emu.sems[0][5] == 0


def test_remote_dma_and_remote_signal_across_cores():
    """Core 0 computes nothing but pushes a tile into core 2's LX and signals core 2;
    core 2 multiplies it and stores the result."""
    x = np.eye(8, dtype=np.float32) * 3
    w = np.arange(64, dtype=np.float32).reshape(8, 8) / 16
    b = ProgramBuilder(M4)
    b.input("x", F16, (8, 8), 0)
    b.input("w", F16, (8, 8), 0x80)
    b.output("y", F32, (8, 8), 0x100)
    c0 = b.stream(0, "dma0")
    c0.dma(lx(0, F16, (8, 8)), dram(0, F16, (8, 8)))
    c0.dma(lx(0x200, F16, (8, 8), core=2), lx(0, F16, (8, 8)))   # LX -> LX of core 2 (2 hops)
    c0.signal(3, core=2).halt()
    c2 = b.stream(2, "dma0")
    c2.dma(lx(0, F16, (8, 8)), dram(0x80, F16, (8, 8))).signal(0).halt()
    m2 = b.stream(2, "mpe1")
    m2.wait(3).wait(0).mm(acc(0, F32, (1, 8, 8)), lx(0x200, F16, (1, 8, 8)), lx(0, F16, (8, 8))).signal(1).halt()
    s2 = b.stream(2, "sfu1")
    s2.wait(1).emit("sfu.copy", dst=lx(0x400, F32, (8, 8)), src=acc(0, F32, (8, 8))).signal(2).halt()
    d2 = b.stream(2, "dma1")
    d2.wait(2).dma(dram(0x100, F32, (8, 8)), lx(0x400, F32, (8, 8))).halt()
    emu = Emulator(b.build())
    emu.write_tensor("x", x)
    emu.write_tensor("w", w)
    stats = emu.run()
    np.testing.assert_array_equal(emu.read_tensor("y"), x @ w)
    assert stats["bytes"]["lx_to_lx"] == 128
    assert emu.read_memory(Space.LX, 0x200, F16, (8, 8), core=0).sum() == 0  # not on core 0


def test_barrier_releases_all_cores_at_the_last_arrival():
    b = ProgramBuilder(M4)
    for core in range(4):
        s = b.stream(core, "sfu0")
        s.loop(10 * core + 1, 1).nop()   # core c arrives at cycle 1 + 10 c + 1
        s.barrier().barrier().halt()
    emu = Emulator(b.build(), trace=True)
    stats = emu.run()
    last_arrival = 1 + 31
    assert stats["cycles"] == last_arrival + 1 + 1 + 1  # both barriers and halt, 1 cycle each
    for core in range(4):
        st = stats["streams"][f"core{core}.sfu0"]
        assert st["stall_cycles"]["barrier"] == last_arrival - (1 + 10 * core + 1)
        assert st["halted_at"] == stats["cycles"]
    names = {e["name"] for e in emu.chrome_trace()["traceEvents"]}
    assert "barrier 0" in names


def test_barrier_groups_are_per_stream_name():
    """dma0 barriers and mpe0 barriers are separate rendezvous."""
    b = ProgramBuilder(M4)
    for core in (0, 1):
        b.stream(core, "dma0").barrier().halt()
        b.stream(core, "mpe0").barrier().barrier().halt()
    emu = Emulator(b.build())
    assert emu.run()["cycles"] == 3


@pytest.mark.parametrize("check_races", [True, False])
def test_results_do_not_depend_on_race_checking(check_races):
    b = ProgramBuilder(M1)
    s = b.stream(0, "sfu0")
    s.loop(4, 2).emit("sfu.add", dst=lx(0, F32, (8,)), a=lx(0, F32, (8,)), b=lx(0x40, F32, (8,))).nop()
    s.halt()
    emu = Emulator(b.build(), check_races=check_races)
    emu.write_memory(Space.LX, 0x40, F32, np.ones(8))
    emu.run()
    np.testing.assert_array_equal(emu.read_memory(Space.LX, 0, F32, (8,)), np.full(8, 4.0))
