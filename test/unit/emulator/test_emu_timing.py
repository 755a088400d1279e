"""Exact cycle counts: the isa timing formulas, processor-shared DRAM and ring bandwidth,
remote signal latency, and DMA overlapping compute in a double-buffered loop."""

import dataclasses
import heapq
import math
from fractions import Fraction

import numpy as np
import pytest

from rapid_mlir.emulator import Emulator
from rapid_mlir.emulator.builder import F16, F32, ProgramBuilder, acc, dram, lx, window
from rapid_mlir.emulator.timing import BandwidthServer, Transfer, mpe_cycles, sfu_cycles
from rapid_mlir.machine import PRESETS

# 160 GB/s at 1.6 GHz: exactly 100 bytes per cycle.
M1 = dataclasses.replace(PRESETS["rapid-1c"], name="tim-1c", dram_bytes=1 << 20, dram_gbps=160.0)
M4 = dataclasses.replace(PRESETS["rapid-4c"], name="tim-4c", dram_bytes=1 << 20, dram_gbps=160.0)


def durations(emu):
    """(core, stream, mnemonic, start, cycles) of every traced instruction."""
    events = [e for e in emu.chrome_trace()["traceEvents"] if e["ph"] == "X" and e["cat"] == "instruction"]
    return [(e["pid"], emu.machine.streams_per_core[e["tid"]], e["name"], e["args"]["start_cycle"],
             e["args"]["cycles"]) for e in events]


def run(builder, **kw):
    emu = Emulator(builder.build(), trace=True, **kw)
    stats = emu.run()
    return emu, stats


def single(machine, stream, mnemonic, **ops):
    b = ProgramBuilder(machine)
    b.stream(0, stream).emit(mnemonic, **ops).halt()
    emu, stats = run(b)
    d = durations(emu)
    assert d[0][2] == mnemonic
    return d[0][4], stats


@pytest.mark.parametrize("mo, mi, k, n, passes", [
    (1, 8, 8, 8, 1),      # exactly one 8x8x8 array pass
    (1, 9, 8, 8, 2),      # 9 rows: a second, mostly idle, pass
    (3, 3, 8, 8, 2),      # m = mo * mi = 9 as well
    (1, 8, 16, 8, 2),     # k = 16: two SIMD steps
    (1, 8, 8, 17, 3),     # n = 17: three column blocks
    (2, 8, 24, 16, 2 * 3 * 2),
])
def test_mpe_cycles(mo, mi, k, n, passes):
    cycles, stats = single(M1, "mpe0", "mpe.mm", c=acc(0, F32, (mo, mi, n)), a=lx(0, F16, (mo, mi, k)),
                           b=lx(0x2000, F16, (k, n)))
    assert cycles == M1.mpe_fill_drain_cycles + passes == mpe_cycles(M1, mo * mi, n, k)
    assert stats["cycles"] == cycles + M1.scalar_cycles  # then halt
    assert stats["macs"] == mo * mi * n * k
    assert stats["mpe_utilization"] == pytest.approx(mo * mi * n * k / (stats["cycles"] * M1.peak_macs_per_cycle))


def test_single_8x8x8_is_fill_drain_plus_one():
    cycles, stats = single(M1, "mpe1", "mpe.mma", c=acc(0, F32, (1, 8, 8)), a=lx(0, F16, (1, 8, 8)),
                           b=lx(0x100, F16, (8, 8)))
    assert cycles == 16 + 1 and stats["cycles"] == 18


@pytest.mark.parametrize("mnemonic, shape, want", [
    ("sfu.relu", (100,), 8 + 4),            # ceil(100 / 32) = 4
    ("sfu.add", (4, 32), 8 + 4),
    ("sfu.exp", (100,), 8 + 4 * 4),         # transcendental: x sfu_transcendental_factor
    ("sfu.div", (64,), 8 + 2 * 4),
    ("sfu.copy", (1,), 8 + 1),
])
def test_sfu_elementwise_cycles(mnemonic, shape, want):
    ops = {"dst": lx(0x1000, F32, shape), "src": lx(0, F32, shape)}
    if mnemonic in ("sfu.add", "sfu.div"):
        ops = {"dst": lx(0x1000, F32, shape), "a": lx(0, F32, shape), "b": lx(0x800, F32, shape)}
    cycles, _ = single(M1, "sfu0", mnemonic, **ops)
    assert cycles == want


def test_sfu_reduction_and_pooling_cycles():
    # Reductions count source elements: 4 x 64 = 256 -> 8 beats.
    cycles, _ = single(M1, "sfu0", "sfu.rsum", dst=lx(0x1000, F32, (4, 1)), src=lx(0, F32, (4, 64)))
    assert cycles == 8 + 8 == sfu_cycles(M1, "sfu.rsum", 256)
    # Pooling counts dst elements x window elements: 16 x 9 = 144 -> 5 beats.
    cycles, _ = single(M1, "sfu1", "sfu.maxpool", dst=lx(0x1000, F16, (4, 4)),
                       src=lx(0, F16, dims=((4, 16), (4, 2))), win=window((3, 8), (3, 1)))
    assert cycles == 8 + 5


def test_control_instructions_take_scalar_cycles():
    slow = dataclasses.replace(M1, scalar_cycles=3)
    b = ProgramBuilder(slow)
    b.stream(0, "dma1").li(1, 5).loop(4, 1).addi(1, 1, 1).signal(0).wait(0).nop().halt()
    emu, stats = run(b)
    assert stats["cycles"] == 3 * (1 + 1 + 4 + 1 + 1 + 1 + 1)


# DMA and shared bandwidth ---------------------------------------------------------------------


def dma_program(machine, transfers, delays=None):
    """One DMA per stream: transfers = [(core, stream, nbytes)]; f16, DRAM -> LX."""
    b = ProgramBuilder(machine)
    for i, (core, stream, nbytes) in enumerate(transfers):
        s = b.stream(core, stream)
        if delays and delays[i]:
            s.loop(delays[i], 1).nop()
        n = nbytes // 2
        s.dma(lx(0x10000 * i, F16, (n,)), dram(0x10000 * (i + 1), F16, (n,)))
        s.halt()
    return b


def dma_cycles(emu):
    return {(c, s): (start, cycles) for c, s, name, start, cycles in durations(emu) if name == "dma.copy"}


def test_one_dma_pays_latency_then_bytes_over_bandwidth():
    emu, stats = run(dma_program(M1, [(0, "dma0", 6400)]))
    assert dma_cycles(emu)[(0, "dma0")] == (0, 300 + 64)
    assert stats["cycles"] == 300 + 64 + 1
    assert stats["streams"]["core0.dma0"]["stall_cycles"]["bandwidth"] == 0
    assert stats["bytes"]["dram_to_lx"] == 6400
    odd = dataclasses.replace(M1, name="odd", dram_gbps=150.0)  # 150 GB/s at 1.6 GHz: 93.75 B/cycle, rounded up
    emu, _ = run(dma_program(odd, [(0, "dma0", 1000)]))
    assert dma_cycles(emu)[(0, "dma0")] == (0, 300 + math.ceil(1000 / 93.75))


def test_two_concurrent_dmas_each_take_twice_as_long():
    m = dataclasses.replace(M1, dram_latency_cycles=0)
    alone = dma_cycles(run(dma_program(m, [(0, "dma0", 8000)]))[0])[(0, "dma0")][1]
    emu, stats = run(dma_program(m, [(0, "dma0", 8000), (0, "dma1", 8000)]))
    both = dma_cycles(emu)
    assert alone == 80
    assert both[(0, "dma0")] == (0, 160) and both[(0, "dma1")] == (0, 160)
    assert stats["streams"]["core0.dma0"]["stall_cycles"]["bandwidth"] == 80
    # With latency the bytes phases still overlap completely.
    emu, _ = run(dma_program(M1, [(0, "dma0", 8000), (0, "dma1", 8000)]))
    assert set(dma_cycles(emu).values()) == {(0, 300 + 160)}


def test_dram_bandwidth_is_shared_by_all_cores():
    m = dataclasses.replace(M4, dram_latency_cycles=0)
    emu, _ = run(dma_program(m, [(c, "dma0", 5000) for c in range(4)]))
    assert set(dma_cycles(emu).values()) == {(0, 200)}


def test_processor_sharing_is_exact_when_transfers_start_and_finish():
    """A (10000 B) alone for 50 cycles, then shares with B (2000 B): B finishes after 40
    cycles at half rate, A gets the full rate back for its last 3000 bytes."""
    m = dataclasses.replace(M1, dram_latency_cycles=0)
    emu, _ = run(dma_program(m, [(0, "dma0", 10000), (0, "dma1", 2000)], delays=[0, 50]))
    got = dma_cycles(emu)
    assert got[(0, "dma1")] == (51, 40)      # 50 nops + the loop instruction
    # A: 51 cycles alone (5100 B), 40 shared (2000 B), then 2900 B alone = 29.
    assert got[(0, "dma0")] == (0, 51 + 40 + 29)


def test_ring_transfer_pays_hops_and_ring_bandwidth():
    b = ProgramBuilder(M4)
    b.stream(1, "dma0").dma(lx(0x800, F16, (512,), core=3), lx(0, F16, (512,))).halt()  # 1 -> 3: 2 hops
    b.stream(0, "dma0").dma(lx(0, F16, (512,), core=3), lx(0, F16, (512,))).halt()  # 0 -> 3: 1 hop
    emu, stats = run(b)
    got = dma_cycles(emu)
    # 1024 bytes each at 128 B/cycle: the 1-hop transfer starts at 4 and is alone until 8
    # (512 B), the two share 64 B/cycle each until 16, then the 2-hop one is alone.
    assert got[(0, "dma0")] == (0, 16)
    assert got[(1, "dma0")] == (0, 20)
    assert stats["bytes"]["lx_to_lx"] == 2048


def test_remote_signal_arrives_after_the_hops():
    b = ProgramBuilder(M4)
    b.stream(0, "sfu0").signal(7, core=2).halt()
    b.stream(2, "mpe0").wait(7).halt()
    b.stream(1, "mpe0").wait(7).halt()   # core 1 gets its signal from core 3, 2 hops away
    b.stream(3, "sfu1").loop(5, 1).nop().signal(7, core=1).halt()
    emu, stats = run(b)
    waits = {(c, s): (start, cyc) for c, s, name, start, cyc in durations(emu) if name == "wait"}
    assert waits[(2, "mpe0")] == (2 * 4, 1)
    assert waits[(1, "mpe0")] == (6 + 2 * 4, 1)
    assert stats["streams"]["core2.mpe0"]["stall_cycles"]["semaphore"] == 8


def test_double_buffering_overlaps_dma_with_compute():
    """Same work, same bytes: overlapping loads with matrix multiplies takes fewer cycles
    than alternating them, and both versions are race-free."""
    m = dataclasses.replace(M1, l0_a_bytes=1 << 16, acc_bytes=1 << 16)
    results = {}
    for db in (False, True):
        b = ProgramBuilder(m)
        d, p = b.stream(0, "dma0"), b.stream(0, "mpe0")
        tile = 64 * 64 * 2
        d.signal(1)
        if db:
            d.signal(1)
        for i in range(6):
            buf = 0x10000 + (i % 2 if db else 0) * tile
            d.wait(1).dma(lx(buf, F16, (64, 64)), dram(0x20000 + i * tile, F16, (64, 64))).signal(0)
            p.wait(0).mm(acc(0, F32, (4, 16, 64)), lx(buf, F16, (4, 16, 64)), lx(0, F16, (64, 64)),
                         accumulate=True).signal(1)
        d.halt()
        p.halt()
        emu = Emulator(b.build(), check_races=True)
        results[db] = emu.run()
    serial, overlapped = results[False], results[True]
    dma = 300 + math.ceil(64 * 64 * 2 / 100)
    mpe = mpe_cycles(m, 64, 64, 64)
    assert serial["cycles"] >= 6 * (dma + mpe)
    assert overlapped["cycles"] <= dma + 6 * mpe + 6 * 4
    assert overlapped["macs"] == serial["macs"] == 6 * 64 * 64 * 64


@pytest.mark.parametrize("seed", range(4))
def test_bandwidth_server_matches_a_direct_processor_sharing_simulation(seed):
    """Random joins against a step-by-step model that updates every transfer's remaining
    bytes (Fractions) at each event."""
    rng = np.random.default_rng(seed)
    rate = Fraction(375, 4)
    joins = sorted((int(rng.integers(0, 400)), int(rng.integers(1, 5000))) for _ in range(12))
    # Reference: advance time event by event, sharing the rate equally.
    remaining, done, now, pending = {}, {}, Fraction(0), list(enumerate(joins))
    while pending or remaining:
        n = len(remaining)
        finish = now + min(remaining.values()) * n / rate if remaining else None
        nxt = pending[0][1][0] if pending else None
        t = finish if nxt is None or (finish is not None and finish <= nxt) else Fraction(nxt)
        for k in remaining:
            remaining[k] -= (t - now) * rate / n
        now = t
        for k in [k for k, v in remaining.items() if v <= 0]:
            done[k] = now
            del remaining[k]
        while pending and pending[0][1][0] == now:
            k, (_, nbytes) = pending.pop(0)
            remaining[k] = Fraction(nbytes)
    # The server, driven the way the scheduler drives it.
    server, got, events = BandwidthServer("dram", rate), {}, [(t, 1, k) for k, (t, _) in enumerate(joins)]
    transfers = {k: Transfer(k, t, nbytes, 0) for k, (t, nbytes) in enumerate(joins)}
    heapq.heapify(events)
    while events:
        t, kind, payload = heapq.heappop(events)
        if kind == 1:
            server.join(t, transfers[payload])
        elif payload != server.version:
            continue
        else:
            for tr in server.finish(t):
                got[tr.stream] = t
        when = server.next_completion()
        if when is not None:
            heapq.heappush(events, (when, 0, server.version))
    assert got == done
