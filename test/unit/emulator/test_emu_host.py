"""The `host` instruction on the emulator: semantics, timing, race checks, traces, errors."""

import math

import numpy as np
import pytest

from rapid_mlir.backend.isa import Space
from rapid_mlir.backend.program import HostTensor
from rapid_mlir.emulator import Emulator, LoadError, RaceError
from rapid_mlir.emulator.builder import F16, F32, ProgramBuilder, dram, lx
from rapid_mlir.emulator.host import HostCallError
from rapid_mlir.machine import load_machine

M1 = load_machine("rapid-1c")
M4 = load_machine("rapid-4c")

TRANSPOSE = """func.func @host(%a: tensor<4x8xf32>) -> tensor<8x4xf32> {
  %t = nn.transpose %a perm [1, 0] : (tensor<4x8xf32>) -> tensor<8x4xf32>
  func.return %t : tensor<8x4xf32>
}"""

SPLIT_GATHER = """func.func @host(%a: tensor<6x4xf32>, %i: tensor<3xi64>) -> (tensor<2x4xf32>, tensor<4x4xf32>, tensor<3x4xf32>) {
  %lo, %hi = nn.split %a axis 0 sizes [2, 4] : (tensor<6x4xf32>) -> (tensor<2x4xf32>, tensor<4x4xf32>)
  %g = nn.gather %a, %i axis 0 : (tensor<6x4xf32>, tensor<3xi64>) -> tensor<3x4xf32>
  func.return %lo, %hi, %g : tensor<2x4xf32>, tensor<4x4xf32>, tensor<3x4xf32>
}"""


def transpose_program(machine=M1, out_dtype=F16):
    b = ProgramBuilder(machine)
    b.input("x", F16, (4, 8), 0)
    b.output("y", out_dtype, (8, 4), 0x100)
    n = b.host_op("t", TRANSPOSE, [("x", F16, (4, 8), 0)], [("y", out_dtype, (8, 4), 0x100)])
    b.stream(0, "dma0").host(n).halt()
    return b


def test_host_runs_the_op_and_converts_types():
    x = np.arange(32, dtype=np.float32).reshape(4, 8) / 3
    for dtype in (F16, F32):
        emu = Emulator(transpose_program(out_dtype=dtype).build())
        emu.write_tensor("x", x)
        emu.run()
        x16 = x.astype(np.float16).astype(np.float32)  # the input is stored as f16
        np.testing.assert_array_equal(emu.read_tensor("y"), x16.T.astype(np.float16 if dtype is F16 else np.float32))


def test_multi_result_op_and_integer_operand_travelling_as_f32():
    b = ProgramBuilder(M1)
    b.input("a", F16, (6, 4), 0)
    b.input("i", F32, (3,), 0x40)
    outs = [("lo", F16, (2, 4), 0x80), ("hi", F16, (4, 4), 0x100), ("g", F32, (3, 4), 0x180)]
    for name, dtype, shape, addr in outs:
        b.output(name, dtype, shape, addr)
    n = b.host_op("sg", SPLIT_GATHER, [("a", F16, (6, 4), 0), ("i", F32, (3,), 0x40)], outs)
    b.stream(0, "dma0").host(n).halt()
    emu = Emulator(b.build())
    a = np.arange(24, dtype=np.float32).reshape(6, 4)
    emu.write_tensor("a", a)
    emu.write_tensor("i", np.array([5, -1, 0], np.float32))
    emu.run()
    np.testing.assert_array_equal(emu.read_tensor("lo"), a[:2])
    np.testing.assert_array_equal(emu.read_tensor("hi"), a[2:])
    np.testing.assert_array_equal(emu.read_tensor("g"), a[[5, -1, 0]])
    assert emu.stats()["host"] == {"calls": 1, "cycles": emu.cycles - M1.scalar_cycles,
                                   "bytes_to_host": 48 + 12, "bytes_from_host": 16 + 32 + 48}


def test_duration_is_call_cost_plus_bytes_over_the_host_link():
    emu = Emulator(transpose_program().build())
    emu.run()
    moved = 2 * 32 * 2
    assert emu.cycles == M1.host_call_cycles + math.ceil(moved / M1.host_link_bytes_per_cycle) + M1.scalar_cycles


GATHER = """func.func @host(%t: tensor<1000x64xf32>, %i: tensor<3xi64>) -> tensor<3x64xf32> {
  %g = nn.gather %t, %i axis 0 : (tensor<1000x64xf32>, tensor<3xi64>) -> tensor<3x64xf32>
  func.return %g : tensor<3x64xf32>
}"""


def test_a_gathered_table_crosses_the_link_only_as_the_selected_rows():
    b = ProgramBuilder(M1)
    b.input("t", F16, (1000, 64), 0)
    b.input("i", F32, (3,), 0x20000)
    b.output("g", F16, (3, 64), 0x21000)
    n = b.host_op("emb", GATHER, [("t", F16, (1000, 64), 0), ("i", F32, (3,), 0x20000)],
                  [("g", F16, (3, 64), 0x21000)])
    b.stream(0, "dma0").host(n).halt()
    emu = Emulator(b.build())
    t = np.arange(64000, dtype=np.float32).reshape(1000, 64) % 251
    emu.write_tensor("t", t)
    emu.write_tensor("i", np.array([999, 3, 3], np.float32))
    emu.run()
    np.testing.assert_array_equal(emu.read_tensor("g"), t[[999, 3, 3]])
    # 3 rows of 128 bytes and 12 bytes of indices read (not the 128,000-byte table), 384 written
    assert emu.stats()["host"]["bytes_to_host"] == 3 * 128 + 12
    assert emu.cycles == M1.host_call_cycles + math.ceil((3 * 128 + 12 + 384) / M1.host_link_bytes_per_cycle) \
        + M1.scalar_cycles


def test_traces_name_the_layer():
    emu = Emulator(transpose_program().build(), trace=True)
    emu.run()
    events = [e for e in emu.chrome_trace()["traceEvents"] if e["ph"] == "X"]
    host = [e for e in events if e["name"].startswith("host")]
    assert [e["name"] for e in host] == ["host t"] and host[0]["args"]["layer"] == "t"
    assert "host 0  ; t on the host" in emu.text_trace()


def test_a_host_call_not_ordered_after_the_writer_is_a_race():
    """dma1 stores into x while dma0's host call reads it: no semaphore orders them."""
    def program(sync: bool):
        b = transpose_program(M1)
        b.program.streams[(0, "dma0")] = []
        d0 = b.stream(0, "dma0").loop(100, 1).nop()  # the DMA's write comes first
        if sync:
            d0.wait(0)
        d0.host(0).halt()
        d1 = b.stream(0, "dma1").dma(dram(0, F16, (4, 8)), lx(0, F16, (4, 8)))
        if sync:
            d1.signal(0)
        d1.halt()
        return b.build()

    Emulator(program(True)).run()
    with pytest.raises(RaceError, match=r"^core 0 stream dma0 pc 2 \(host 0\) at cycle 101: read-after-write "
                                        r"race on dram .*operand 'x'.*last written by core 0 stream dma1"):
        Emulator(program(False)).run()


def test_a_host_write_under_a_reader_is_a_race():
    """The host call writes y while dma1 (unordered) reads it."""
    b = transpose_program(M1)
    b.program.streams[(0, "dma0")] = []
    b.stream(0, "dma0").loop(100, 1).nop().host(0).halt()
    b.stream(0, "dma1").dma(lx(0, F16, (8, 4)), dram(0x100, F16, (8, 4))).halt()
    with pytest.raises(RaceError, match=r"write-after-read race on dram .*operand 'y'.*last read by core 0 stream dma1"):
        Emulator(b.build()).run()


def test_cross_core_host_call_ordered_by_a_barrier_is_race_free():
    b = transpose_program(M4)
    b.program.streams[(0, "dma0")] = []
    b.stream(1, "dma0").dma(dram(0, F16, (4, 8)), lx(0, F16, (4, 8))).barrier().halt()
    b.stream(0, "dma0").barrier().host(0).halt()
    for c in (2, 3):
        b.stream(c, "dma0").barrier().halt()
    Emulator(b.build()).run()


def test_unknown_entry_is_a_load_error():
    b = transpose_program()
    b.program.streams[(0, "dma0")] = []
    b.stream(0, "dma0").host(3).halt()
    with pytest.raises(LoadError, match=r"host 3: the program's host-op manifest has entries 0\.\.0"):
        Emulator(b.build())


def test_malformed_entries_are_load_errors():
    b = transpose_program()
    b.program.host_ops[0] = b.program.host_ops[0].__class__("t", "func.func @host( {", (), ())
    with pytest.raises(LoadError, match=r"host op 0 \('t'\)"):
        Emulator(b.build())
    b = transpose_program()
    entry = b.program.host_ops[0]
    b.program.host_ops[0] = entry.__class__("t", TRANSPOSE, (HostTensor("x", F16, (8, 4), 0),), entry.outputs)
    with pytest.raises(LoadError, match=r"input 0 'x' has shape \[8, 4\] but the function's is \[4, 8\]"):
        Emulator(b.build())


def test_failure_on_the_host_is_reported_with_the_layer():
    b = ProgramBuilder(M1)
    outs = [("lo", F16, (2, 4), 0x80), ("hi", F16, (4, 4), 0x100), ("g", F32, (3, 4), 0x180)]
    n = b.host_op("sg", SPLIT_GATHER, [("a", F16, (6, 4), 0), ("i", F32, (3,), 0x40)], outs)
    b.stream(0, "dma0").host(n).halt()
    emu = Emulator(b.build())
    emu.write_memory(Space.DRAM, 0x40, F32, [9, 0, 0])
    with pytest.raises(HostCallError, match=r"^core 0 stream dma0 pc 0 \(host 0\) at cycle 0: host op 0 \('sg'\) "
                                            r"failed on the host: gather: indices must lie in"):
        emu.run()
