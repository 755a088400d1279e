"""Traces and statistics: Chrome trace JSON that Perfetto opens, the text trace, the
statistics' keys and values, and the speed of control instructions."""

import dataclasses
import json

import pytest

from rapid_mlir.emulator import Emulator
from rapid_mlir.emulator.builder import F16, F32, ProgramBuilder, acc, dram, lx
from rapid_mlir.machine import PRESETS

M1 = dataclasses.replace(PRESETS["rapid-1c"], name="trc-1c", dram_bytes=1 << 20)


def pipeline(origin: str | None = None):
    b = ProgramBuilder(M1)
    d = b.stream(0, "dma0")
    d.dma(lx(0, F16, (8, 8)), dram(0, F16, (8, 8))).signal(0).halt()
    p = b.stream(0, "mpe0")
    p.wait(0).mm(acc(0, F32, (1, 8, 8)), lx(0, F16, (1, 8, 8)), lx(0, F16, (8, 8))).halt()
    prog = b.build()
    if origin is not None:
        mm = prog.streams[(0, "mpe0")][1]
        object.__setattr__(mm, "origin", origin)  # what the compiler records, when it does
    return prog


def test_chrome_trace_has_processes_threads_and_complete_events():
    emu = Emulator(pipeline(origin="nn.matmul @fc1"), trace=True)
    stats = emu.run()
    data = json.loads(json.dumps(emu.chrome_trace()))  # valid JSON
    events = data["traceEvents"]
    meta = [e for e in events if e["ph"] == "M"]
    assert {"name": "process_name", "ph": "M", "pid": 0, "tid": 0, "args": {"name": "core 0"}} in meta
    threads = {e["args"]["name"] for e in meta if e["name"] == "thread_name"}
    assert threads == {"dma0", "mpe0"}
    slices = [e for e in events if e["ph"] == "X"]
    instrs = [e for e in slices if e["cat"] == "instruction"]
    assert len(instrs) == stats["instructions"] == 6
    for e in slices:
        assert set(e) >= {"name", "ph", "pid", "tid", "ts", "dur", "args"}
        assert e["ts"] == pytest.approx(e["args"]["start_cycle"] / (1.6 * 1000))
        assert e["dur"] == pytest.approx(e["args"]["cycles"] / (1.6 * 1000))
        assert {"text", "pc", "cycles"} <= set(e["args"])
    mm = next(e for e in instrs if e["name"] == "mpe.mm")
    assert mm["args"]["origin"] == "nn.matmul @fc1"
    assert mm["args"]["text"].startswith("mpe.mm acc[0x0] f32 {1:64, 8:8, 8:1}")
    assert mm["args"]["cycles"] == 17 and mm["args"]["pc"] == 1
    assert "origin" not in next(e for e in instrs if e["name"] == "dma.copy")["args"]
    dma = next(e for e in instrs if e["name"] == "dma.copy")
    assert dma["args"]["bytes"] == 128 and dma["args"]["latency_cycles"] == 300
    assert dma["args"]["over"] == "dram"
    wait = next(e for e in slices if e["name"] == "wait s0")
    assert wait["cat"] == "stall" and wait["args"]["start_cycle"] == 0
    assert wait["args"]["cycles"] == dma["args"]["cycles"]
    assert data["otherData"]["cycles"] == stats["cycles"]


def test_text_trace_one_line_per_instruction():
    emu = Emulator(pipeline(), trace=True)
    stats = emu.run()
    lines = emu.text_trace().splitlines()
    assert lines[0].split() == ["#", "cycle", "core", "stream", "duration", "instruction"]
    body = lines[1:]
    assert len(body) == stats["instructions"]
    first = body[0].split(None, 4)
    assert first[:4] == ["0", "0", "dma0", str(300 + 2)]
    assert first[4] == "dma.copy lx[0x0] f16 {8:8, 8:1}, dram[0x0] f16 {8:8, 8:1}"
    cycles = [int(line.split()[0]) for line in body]
    assert cycles == sorted(cycles)
    assert any(line.split(None, 4)[4] == "wait s0" and line.split()[2] == "mpe0" for line in body)


def test_tracing_is_off_by_default():
    emu = Emulator(pipeline())
    emu.run()
    with pytest.raises(ValueError, match="trace=True"):
        emu.chrome_trace()


def test_loop_iterations_each_get_an_event():
    b = ProgramBuilder(M1)
    s = b.stream(0, "sfu0")
    s.loop(5, 2).addi(1, 1, 1).emit("sfu.relu", dst=lx(0, F32, (4,)), src=lx(0, F32, (4,))).halt()
    emu = Emulator(b.build(), trace=True)
    emu.run()
    names = [e["name"] for e in emu.chrome_trace()["traceEvents"] if e["ph"] == "X"]
    assert names == ["loop"] + ["addi", "sfu.relu"] * 5 + ["halt"]


def test_stats_fields():
    emu = Emulator(pipeline())
    stats = emu.run()
    assert set(stats) >= {"cycles", "mpe_utilization", "instructions", "macs", "streams", "bytes", "time_us"}
    assert stats["cycles"] == 302 + 1 + 17 + 1
    assert stats["macs"] == 512
    assert 0 < stats["mpe_utilization"] <= 1
    assert stats["mpe_utilization"] == pytest.approx(512 / (stats["cycles"] * M1.peak_macs_per_cycle))
    assert stats["bytes"] == {"dram_to_lx": 128, "lx_to_dram": 0, "lx_to_lx": 0, "lx_read_by_compute": 256,
                              "lx_written_by_compute": 0, "acc_read": 0, "acc_written": 256}
    mpe = stats["streams"]["core0.mpe0"]
    assert mpe["instructions"] == 3 and mpe["busy_cycles"] == 1 + 17 + 1
    assert mpe["stall_cycles"] == {"semaphore": 302, "barrier": 0, "bandwidth": 0}
    assert mpe["halted_at"] == stats["cycles"]
    dma = stats["streams"]["core0.dma0"]
    assert dma["busy_cycles"] + dma["idle_cycles"] + sum(dma["stall_cycles"].values()) == stats["cycles"]
    json.dumps(stats)


def test_a_long_scalar_loop_runs_to_the_right_state():
    """100k scalar instructions (their rate is measured by bench/emulator.py, not here)."""
    b = ProgramBuilder(M1)
    b.stream(0, "dma0").loop(20000, 5).addi(1, 1, 1).addi(2, 2, 2).li(3, 7).nop().addi(1, 1, -1).halt()
    emu = Emulator(b.build())
    stats = emu.run()
    assert stats["instructions"] == 100002
    assert emu.streams[0].regs[1:4] == [0, 40000, 7]
