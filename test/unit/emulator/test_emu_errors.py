"""Every way a program can fail in the emulator, and the message it gets: out-of-bounds
accesses, deadlocks, races (read-after-write, write-after-read, write-after-write), and
programs that cannot be loaded."""

import dataclasses

import numpy as np
import pytest

from rapid_mlir.backend.isa import Instruction, Space
from rapid_mlir.emulator import (
    DeadlockError,
    Emulator,
    EmulatorError,
    LoadError,
    OutOfBoundsError,
    RaceError,
)
from rapid_mlir.emulator.builder import F16, F32, ProgramBuilder, acc, dram, lx, window
from rapid_mlir.machine import PRESETS

M1 = dataclasses.replace(PRESETS["rapid-1c"], name="err-1c", dram_bytes=1 << 20)
M4 = dataclasses.replace(PRESETS["rapid-4c"], name="err-4c", dram_bytes=1 << 20)


def run(b, **kw):
    emu = Emulator(b.build(), **kw)
    return emu, emu.run()


# Out of bounds ------------------------------------------------------------------------------


def test_out_of_bounds_names_everything():
    b = ProgramBuilder(M1)
    s = b.stream(0, "dma1")
    s.li(3, M1.lx_bytes - 64)
    s.dma(lx(0, F16, (8, 8), reg=3), dram(0, F16, (8, 8)))
    s.halt()
    with pytest.raises(OutOfBoundsError) as err:
        run(b)
    msg = str(err.value)
    assert msg.startswith("core 0 stream dma1 pc 1 (dma.copy lx[r3] f16 {8:8, 8:1}, dram[0x0] f16 {8:8, 8:1})")
    assert "operand 'dst'" in msg and f"r3 = {M1.lx_bytes - 64:#x}" in msg
    assert f"bytes [{M1.lx_bytes - 64:#x}, {M1.lx_bytes + 64:#x}) of lx of core 0" in msg
    assert f"which has {M1.lx_bytes:#x} ({M1.lx_bytes}) bytes" in msg


def test_negative_addresses_and_other_spaces_are_caught():
    b = ProgramBuilder(M1)
    s = b.stream(0, "sfu1")
    s.loop(3, 2).addi(1, 1, -4).emit("sfu.relu", dst=acc(6, F32, (4,), reg=1), src=lx(0, F32, (4,)))
    s.halt()
    with pytest.raises(OutOfBoundsError, match=r"pc 2 .* at cycle 12: operand 'dst' .* touches bytes "
                                               r"\[-0x2, 0xe\) of acc of core 0 corelet 1"):
        run(b)


def test_pooling_window_past_the_end_is_caught_at_run_time():
    """With a register base the window's reach can only be checked when run."""
    b = ProgramBuilder(M1)
    end = M1.lx_bytes - 8
    b.stream(0, "sfu0").li(1, end).emit("sfu.maxpool", dst=lx(0, F16, (4,)), src=lx(0, F16, (4,), reg=1),
                                        win=window((3, 1))).halt()
    with pytest.raises(OutOfBoundsError, match=r"operand 'src' .* touches bytes \[0x1ffff8, 0x200004\)"):
        run(b)


def test_pooling_window_past_the_end_is_refused_at_load_time_when_static():
    b = ProgramBuilder(M1)
    b.stream(0, "sfu0").emit("sfu.maxpool", dst=lx(0, F16, (4,)), src=lx(M1.lx_bytes - 8, F16, (4,)),
                             win=window((3, 1))).halt()
    with pytest.raises(LoadError, match=r"operand 'src' with its window touches bytes \[2097144, 2097156\)"):
        Emulator(b.build())


# Deadlock -----------------------------------------------------------------------------------


def test_deadlock_reports_every_blocked_stream():
    b = ProgramBuilder(M4)
    b.stream(0, "mpe0").wait(1).signal(2).halt()
    b.stream(0, "sfu0").wait(2).signal(1).halt()
    b.stream(0, "dma0").loop(9, 1).nop().halt()           # halts: not listed
    b.stream(1, "dma0").barrier().halt()
    b.stream(2, "dma0").barrier().halt()
    b.stream(3, "dma0").halt()                             # never reaches the barrier
    with pytest.raises(DeadlockError) as err:
        run(b)
    msg = str(err.value)
    assert msg.startswith("deadlock at cycle 0: no stream can make progress and 4 have not halted:")
    assert "core 0 stream mpe0 pc 0 (wait s1): waits for semaphore s1 on core 0 (value 0), since cycle 0" in msg
    assert "core 0 stream sfu0 pc 0 (wait s2): waits for semaphore s2 on core 0 (value 0)" in msg
    assert ("core 1 stream dma0 pc 0 (barrier): waits at barrier 0 of stream dma0 (arrived: cores 1, 2; "
            "missing: cores 0 (halted), 3 (halted))") in msg
    assert "core 2 stream dma0" in msg and "core 0 stream dma0" not in msg
    blocked = [(r["core"], r["stream"]) for r in err.value.blocked]
    assert blocked == [(0, "mpe0"), (0, "sfu0"), (1, "dma0"), (2, "dma0")]


def test_deadlock_after_some_progress_reports_the_time():
    b = ProgramBuilder(M1)
    b.stream(0, "dma0").signal(0).halt()
    b.stream(0, "dma1").loop(20, 1).nop().wait(0).wait(0).halt()
    with pytest.raises(DeadlockError, match=r"deadlock at cycle 22: .*\n  core 0 stream dma1 pc 3 "
                                            r"\(wait s0\): waits for semaphore s0 on core 0 \(value 0\), since cycle 22"):
        run(b)


# Races --------------------------------------------------------------------------------------


def producer_consumer(sync: bool, b=None):
    """dma0 loads a tile; mpe0 multiplies it (after a wait when `sync`)."""
    b = b or ProgramBuilder(M1)
    d = b.stream(0, "dma0")
    d.dma(lx(0, F16, (8, 8)), dram(0, F16, (8, 8)))
    if sync:
        d.signal(0)
    d.halt()
    p = b.stream(0, "mpe0")
    if sync:
        p.wait(0)
    p.loop(400, 1).nop()  # so that without the wait the read still happens after the write
    p.mm(acc(0, F32, (1, 8, 8)), lx(0, F16, (1, 8, 8)), lx(0x200, F16, (8, 8)))
    p.halt()
    return b


def test_read_after_write_race():
    with pytest.raises(RaceError) as err:
        run(producer_consumer(sync=False))
    assert err.value.kind == "read-after-write"
    msg = str(err.value)
    assert msg.startswith("core 0 stream mpe0 pc 2 (mpe.mm acc[0x0] f32")
    assert ("read-after-write race on lx of core 0 at byte 0x0 (operand 'a', lx[0x0] f16 {1:64, 8:8, 8:1}): "
            "last written by core 0 stream dma0") in msg


def test_race_free_variant_passes_and_check_can_be_disabled():
    _, stats = run(producer_consumer(sync=True))
    assert stats["race_check"] is True
    _, stats = run(producer_consumer(sync=False), check_races=False)
    assert stats["race_check"] is False


def broken_double_buffering(release_before_reuse: bool):
    """dma0 fills buffer 0 then buffer 1 then buffer 0 again; mpe0 consumes them in order
    and signals s1 when it is done with a buffer. The broken version refills buffer 0
    without waiting for the consumer to release it."""
    b = ProgramBuilder(M1)
    d, p = b.stream(0, "dma0"), b.stream(0, "mpe0")
    bufs = [0x1000, 0x2000, 0x1000]
    for i, buf in enumerate(bufs):
        if i == 2 and release_before_reuse:
            d.wait(1)
        d.dma(lx(buf, F16, (8, 8)), dram(0x100 * i, F16, (8, 8))).signal(0)
    d.halt()
    for i, buf in enumerate(bufs):
        p.wait(0).mm(acc(0, F32, (1, 8, 8)), lx(buf, F16, (1, 8, 8)), lx(0, F16, (8, 8)), accumulate=True)
        p.signal(1)
    p.halt()
    return b


def test_write_after_read_race_catches_broken_double_buffering():
    with pytest.raises(RaceError) as err:
        run(broken_double_buffering(release_before_reuse=False))
    assert err.value.kind == "write-after-read"
    msg = str(err.value)
    assert msg.startswith("core 0 stream dma0 pc 4 (dma.copy lx[0x1000] f16")
    assert "write-after-read race on lx of core 0 at byte 0x1000 (operand 'dst'" in msg
    assert "last read by core 0 stream mpe0" in msg
    run(broken_double_buffering(release_before_reuse=True))


def test_write_after_write_race_on_dram_across_cores():
    b = ProgramBuilder(M4)
    b.stream(0, "dma0").dma(dram(0x4000, F32, (16,)), lx(0, F32, (16,))).halt()
    b.stream(3, "dma1").loop(1000, 1).nop().dma(dram(0x4020, F32, (4,)), lx(0, F32, (4,))).halt()
    with pytest.raises(RaceError, match=r"core 3 stream dma1 .* write-after-write race on dram at byte "
                                        r"0x4020 .* last written by core 0 stream dma0"):
        run(b)


def test_barrier_orders_accesses_across_cores():
    b = ProgramBuilder(M4)
    b.stream(0, "dma0").dma(dram(0x4000, F32, (16,)), lx(0, F32, (16,))).barrier().halt()
    b.stream(3, "dma0").barrier().dma(lx(0, F32, (16,)), dram(0x4000, F32, (16,))).halt()
    run(b)


def test_remote_signal_carries_happens_before():
    b = ProgramBuilder(M4)
    b.stream(0, "dma0").dma(lx(0x100, F32, (8,), core=1), lx(0, F32, (8,))).signal(4, core=1).halt()
    b.stream(1, "sfu0").wait(4).emit("sfu.relu", dst=lx(0, F32, (8,)), src=lx(0x100, F32, (8,))).halt()
    run(b)
    b = ProgramBuilder(M4)  # the same without the signal: a race on core 1's LX
    b.stream(0, "dma0").dma(lx(0x100, F32, (8,), core=1), lx(0, F32, (8,))).halt()
    b.stream(1, "sfu0").loop(100, 1).nop().emit("sfu.relu", dst=lx(0, F32, (8,)), src=lx(0x100, F32, (8,))).halt()
    with pytest.raises(RaceError, match="read-after-write race on lx of core 1 at byte 0x100"):
        run(b)


def test_race_on_a_dram_access_spanning_shadow_pages():
    m = dataclasses.replace(M1, dram_bytes=4 << 20)
    b = ProgramBuilder(m)
    start = (1 << 20) - 64
    b.stream(0, "dma0").dma(dram(start, F16, dims=((2, 1 << 19), (64, 1))), lx(0, F16, (2, 64))).halt()
    b.stream(0, "dma1").loop(1000, 1).nop().dma(lx(0x1000, F16, (4,)), dram((1 << 20) + 8, F16, (4,))).halt()
    with pytest.raises(RaceError, match=r"read-after-write race on dram at byte 0x100008"):
        run(b)


# Loading ------------------------------------------------------------------------------------


def test_wrong_machine_is_refused_at_load():
    program = producer_consumer(sync=True).build()
    with pytest.raises(LoadError, match=r"built for machine 'err-1c' \(fingerprint [0-9a-f]{16}\) but is "
                                        r"loaded on 'err-4c'"):
        Emulator(program, M4)
    Emulator(program, dataclasses.replace(M1))  # an equal machine is fine


def test_illegal_streams_are_refused_at_load():
    b = ProgramBuilder(M1)
    b.stream(0, "dma0").nop()  # no halt
    with pytest.raises(LoadError, match="core 0 stream dma0: the stream must end with halt"):
        Emulator(b.build())
    b = ProgramBuilder(M1)
    b.stream(0, "mpe0").dma(lx(0, F16, (4,)), dram(0, F16, (4,))).halt()
    with pytest.raises(LoadError, match="runs on dma streams, not in stream mpe0"):
        Emulator(b.build())
    b = ProgramBuilder(M1)
    b.stream(0, "dma5").halt()
    with pytest.raises(LoadError, match="core 0 stream dma5: the machine has no stream 'dma5'"):
        Emulator(b.build())


def test_data_outside_dram_is_refused():
    b = ProgramBuilder(M1)
    b.data("w", F16, np.zeros(8), M1.dram_bytes - 8)
    b.stream(0, "dma0").halt()
    with pytest.raises(LoadError, match=r"data segment 'w' occupies DRAM bytes \[0xffff8, 0x100008\)"):
        Emulator(b.build())


def test_padded_dma_destination_is_refused():
    b = ProgramBuilder(M1)
    b.stream(0, "dma0").dma(lx(0, F16, (4,), pads=((1, 0),)), dram(0, F16, (4,))).halt()
    with pytest.raises(LoadError, match="operand 'dst' cannot be padded"):
        Emulator(b.build())


def test_a_program_runs_once():
    emu, _ = run(producer_consumer(sync=True))
    with pytest.raises(EmulatorError, match="already run"):
        emu.run()


def test_errors_are_value_errors_for_the_tools():
    assert issubclass(EmulatorError, ValueError)
    assert Instruction("nop").mnemonic == "nop" and Space.LX == 1
