"""The runtime API: loading programs and binaries, writing and checking named inputs,
launching, random inputs and results."""

import dataclasses

import numpy as np
import pytest

from rapid_mlir.backend.rbin import RbinError, write_rbin
from rapid_mlir.emulator import DeadlockError, LoadError
from rapid_mlir.emulator.builder import F16, F32, ProgramBuilder, acc, dram, lx
from rapid_mlir.emulator.numerics import round_fp16
from rapid_mlir.machine import PRESETS
from rapid_mlir.runtime import Device, DeviceError, RunResult, load, random_inputs

M1 = dataclasses.replace(PRESETS["rapid-1c"], name="rt-1c", dram_bytes=1 << 20)
DL = dataclasses.replace(M1, name="rt-dl", fp16_format="dlfloat16")


def matmul_program(machine=M1):
    """y (f32 16x8) = x (f16 16x8) @ w, with w a data segment."""
    w = np.arange(64, dtype=np.float32).reshape(8, 8) / 32 - 1
    b = ProgramBuilder(machine)
    b.input("x", F16, (16, 8), 0)
    b.output("y", F32, (16, 8), 0x1000)
    b.data("w", F16, w, 0x800)
    d = b.stream(0, "dma0")
    d.dma(lx(0, F16, (16, 8)), dram(0, F16, (16, 8))).dma(lx(0x100, F16, (8, 8)), dram(0x800, F16, (8, 8)))
    d.signal(0).halt()
    p = b.stream(0, "mpe0")
    p.wait(0).mm(acc(0, F32, (2, 8, 8)), lx(0, F16, (2, 8, 8)), lx(0x100, F16, (8, 8))).signal(1).halt()
    s = b.stream(0, "sfu0")
    s.wait(1).emit("sfu.copy", dst=lx(0x400, F32, (16, 8)), src=acc(0, F32, (16, 8))).signal(2).halt()
    b.stream(0, "dma1").wait(2).dma(dram(0x1000, F32, (16, 8)), lx(0x400, F32, (16, 8))).halt()
    return b.build(), w


@pytest.mark.parametrize("machine", [M1, DL])
def test_run_with_inputs(machine):
    program, w = matmul_program(machine)
    x = np.linspace(-3, 3, 128, dtype=np.float32).reshape(16, 8)
    result = load(program).run({"x": x})
    assert isinstance(result, RunResult)
    fmt = machine.fp16_format
    want = round_fp16(x, fmt) @ round_fp16(w, fmt)
    np.testing.assert_allclose(result.outputs["y"], want, rtol=1e-6, atol=1e-6)
    assert result.outputs["y"].dtype == np.float32
    assert result.cycles == result.stats["cycles"] > 0
    assert result.seed is None and result.trace is None
    np.testing.assert_array_equal(result.inputs["x"], round_fp16(x, fmt))


def test_random_inputs_are_seeded_and_reported():
    program, _ = matmul_program()
    device = Device(M1).load(program)
    r1, r2, r3 = device.run(seed=7), device.run(seed=7), device.run(seed=8)
    assert r1.seed == 7
    np.testing.assert_array_equal(r1.outputs["y"], r2.outputs["y"])
    assert not np.array_equal(r1.outputs["y"], r3.outputs["y"])
    x = random_inputs(program, 7)["x"]
    assert x.shape == (16, 8) and x.dtype == np.float32
    np.testing.assert_array_equal(r1.inputs["x"], round_fp16(x, "ieee"))


def test_write_inputs_then_launch_with_trace():
    program, _ = matmul_program()
    device = Device(M1)
    device.load(program)
    device.write_inputs({"x": np.ones((16, 8), dtype=np.float64)})  # any real dtype is converted
    result = device.launch(trace=True)
    assert result.trace_events and "traceEvents" in result.trace
    assert result.text_trace.splitlines()[0].startswith("#")
    integers = device.run({"x": np.ones((16, 8), dtype=np.int32)})
    np.testing.assert_array_equal(integers.outputs["y"], result.outputs["y"])


@pytest.mark.parametrize("inputs, message", [
    ({}, r"missing input 'x' \(f16 \[16, 8\]\); the program's inputs are: x"),
    ({"x": np.zeros((16, 8)), "z": np.zeros(3)},
     r"'z' is not an input of the program; the program's inputs are: x"),
    ({"x": np.zeros((16, 8)), "y": np.zeros((16, 8))}, r"'y' is an output, not an input"),
    ({"x": np.zeros((8, 16))}, r"input 'x' has shape \[8, 16\] but the program expects f16 \[16, 8\]"),
    ({"x": np.zeros((16, 8), dtype=complex)}, r"input 'x' holds complex128 values"),
])
def test_bad_inputs(inputs, message):
    program, _ = matmul_program()
    with pytest.raises(DeviceError, match=message):
        load(program).run(inputs)


def test_launch_needs_a_program_and_inputs():
    with pytest.raises(DeviceError, match="no program is loaded"):
        Device(M1).launch()
    program, _ = matmul_program()
    with pytest.raises(DeviceError, match="missing input 'x'"):
        Device(M1).load(program).launch()


def test_load_binary_and_machine_check():
    program, _ = matmul_program()
    blob = write_rbin(program)
    device = load(blob)
    assert device.machine.fingerprint() == M1.fingerprint()
    assert device.run(seed=1).outputs["y"].shape == (16, 8)
    with pytest.raises(RbinError, match="built for machine 'rt-1c'"):
        load(blob, PRESETS["rapid-4c"])
    with pytest.raises(LoadError, match="built for machine 'rt-1c'"):
        load(program, PRESETS["rapid-4c"])
    with pytest.raises(DeviceError, match="cannot load a str"):
        Device(M1).load("prog.rbin")


def test_run_errors_propagate():
    b = ProgramBuilder(M1)
    b.stream(0, "dma0").wait(0).halt()
    with pytest.raises(DeadlockError):
        load(b.build()).run()
