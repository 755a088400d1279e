"""rapid_mem kernels lowered to rapid_isa run on the emulator and match numpy.

Reference: numpy float32 matmul of the same f16 inputs (f16 products are exact in fp32;
only the order of accumulation differs, hence rtol 1e-4). The emulator's race and
deadlock checks are on: a lowered program must never trip them.
"""

from pathlib import Path

import numpy as np
import pytest

from rapid_mlir.backend.isa_ir import module_to_program
from rapid_mlir.dialects import make_context
from rapid_mlir.ir_io import parse_module, read_module
from rapid_mlir.runtime import load
from rapid_mlir.transforms.convert_mem_to_isa import ConvertMemToIsaPass
from rapid_mlir.transforms.rapid_mem_allocate import RapidMemAllocatePass
from xdsl.utils.exceptions import PassFailedException

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "mem" / "gemm_64x256x64.mlir"


def lower(module, machine: str):
    ctx = make_context()
    RapidMemAllocatePass(machine=machine).apply(ctx, module)
    ConvertMemToIsaPass(machine=machine).apply(ctx, module)
    module.verify()
    return module_to_program(module)


def run_gemm(program, m, k, n, seed=0):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((m, k)).astype(np.float16)
    b = rng.standard_normal((k, n)).astype(np.float16)
    result = load(program).run({"A": a, "B": b}, check_races=True)
    np.testing.assert_allclose(result.outputs["C"], a.astype(np.float32) @ b.astype(np.float32),
                               rtol=1e-4, atol=1e-3)
    return result


@pytest.mark.parametrize("machine", ["rapid-1c", "rapid-4c", "rapid-32c"])
def test_example_kernel_matches_numpy(machine):
    run_gemm(lower(read_module(EXAMPLE), machine), 64, 256, 64)


SPMD = """
func.func @gemm(%A: !rapid_mem.buffer<64x128xf16, dram>, %B: !rapid_mem.buffer<128x32xf16, dram>, %C: !rapid_mem.buffer<64x32xf32, dram>) {
  rapid_mem.kernel "spmd" cores 4 corelets 2 (%A, %B, %C) : !rapid_mem.buffer<64x128xf16, dram>, !rapid_mem.buffer<128x32xf16, dram>, !rapid_mem.buffer<64x32xf32, dram> {
  ^bb0(%a: !rapid_mem.buffer<64x128xf16, dram>, %b: !rapid_mem.buffer<128x32xf16, dram>, %c: !rapid_mem.buffer<64x32xf32, dram>):
    %la = rapid_mem.alloc : !rapid_mem.buffer<16x128xf16, lx>
    %lb = rapid_mem.alloc : !rapid_mem.buffer<128x32xf16, lx>
    %lc = rapid_mem.alloc : !rapid_mem.buffer<16x32xf32, lx>
    %t0 = rapid_mem.dma queue 0 %la <offset 0, dims {16:128, 128:1}>, %a <offset 0, core 2048, dims {16:128, 128:1}> after() : !rapid_mem.buffer<16x128xf16, lx>, !rapid_mem.buffer<64x128xf16, dram>
    %t1 = rapid_mem.dma queue 0 %lb <offset 0, dims {128:32, 32:1}>, %b <offset 0, dims {128:32, 32:1}> after() : !rapid_mem.buffer<128x32xf16, lx>, !rapid_mem.buffer<128x32xf16, dram>
    rapid_mem.corelet 0 {
      %acc = rapid_mem.alloc : !rapid_mem.buffer<8x32xf32, acc>
      %m = rapid_mem.mpe %acc <offset 0, dims {1:0, 8:32, 32:1}>, %la <offset 0, dims {1:0, 8:128, 128:1}>, %lb <offset 0, dims {128:32, 32:1}> after(%t0, %t1) : !rapid_mem.buffer<8x32xf32, acc>, !rapid_mem.buffer<16x128xf16, lx>, !rapid_mem.buffer<128x32xf16, lx>
      %s = rapid_mem.sfu "copy" (%lc, %acc) accesses [#rapid_mem.access<offset 0, dims {8:32, 32:1}>, #rapid_mem.access<offset 0, dims {8:32, 32:1}>] imms [] after(%m) : !rapid_mem.buffer<16x32xf32, lx>, !rapid_mem.buffer<8x32xf32, acc>
      %st = rapid_mem.dma queue 1 %c <offset 0, core 512, dims {8:32, 32:1}>, %lc <offset 0, dims {8:32, 32:1}> after(%s) : !rapid_mem.buffer<64x32xf32, dram>, !rapid_mem.buffer<16x32xf32, lx>
    }
    rapid_mem.corelet 1 {
      %acc = rapid_mem.alloc : !rapid_mem.buffer<8x32xf32, acc>
      %m = rapid_mem.mpe %acc <offset 0, dims {1:0, 8:32, 32:1}>, %la <offset 1024, dims {1:0, 8:128, 128:1}>, %lb <offset 0, dims {128:32, 32:1}> after(%t0, %t1) : !rapid_mem.buffer<8x32xf32, acc>, !rapid_mem.buffer<16x128xf16, lx>, !rapid_mem.buffer<128x32xf16, lx>
      %s = rapid_mem.sfu "copy" (%lc, %acc) accesses [#rapid_mem.access<offset 256, dims {8:32, 32:1}>, #rapid_mem.access<offset 0, dims {8:32, 32:1}>] imms [] after(%m) : !rapid_mem.buffer<16x32xf32, lx>, !rapid_mem.buffer<8x32xf32, acc>
      %st = rapid_mem.dma queue 1 %c <offset 256, core 512, dims {8:32, 32:1}>, %lc <offset 256, dims {8:32, 32:1}> after(%s) : !rapid_mem.buffer<64x32xf32, dram>, !rapid_mem.buffer<16x32xf32, lx>
    }
  }
  func.return
}
"""


def test_spmd_kernel_over_four_cores_and_two_corelets():
    program = lower(parse_module(SPMD), "rapid-4c")
    assert {core for core, _ in program.streams} == {0, 1, 2, 3}
    assert {s for _, s in program.streams} == {"dma0", "dma1", "mpe0", "sfu0", "mpe1", "sfu1"}
    run_gemm(program, 64, 128, 32)


def test_errors_are_reported_by_the_pass():
    module = read_module(EXAMPLE)
    with pytest.raises(PassFailedException, match="run rapid-mem-allocate first"):
        ConvertMemToIsaPass(machine="rapid-1c").apply(make_context(), module)
    with pytest.raises(PassFailedException, match="the kernel runs on 4 cores x 2 corelets but machine "
                                                  "'rapid-1c' has 1 x 2"):
        lower(parse_module(SPMD), "rapid-1c")
    text = SPMD.replace("func.func @gemm", "func.func @g1") + SPMD
    with pytest.raises(PassFailedException, match="must sit directly in one func.func"):
        lower(parse_module(text), "rapid-4c")


def test_instructions_keep_their_layer_through_ir_binary_and_trace():
    from rapid_mlir.backend.rbin import read_rbin, write_rbin
    from rapid_mlir.ir_io import module_text

    module = read_module(EXAMPLE)
    program = lower(module, "rapid-1c")
    assert 'origin = "gemm"' in module_text(module)          # in the rapid_isa IR
    program = read_rbin(write_rbin(program))                   # through the binary
    assert {i.origin for instrs in program.streams.values() for i in instrs} == {"gemm"}
    rng = np.random.default_rng(0)
    inputs = {"A": rng.standard_normal((64, 256)).astype(np.float16),
              "B": rng.standard_normal((256, 64)).astype(np.float16)}
    events = load(program).run(inputs, trace=True).trace_events
    slices = [e for e in events if e.get("ph") == "X" and e.get("cat") == "instruction"]
    assert slices and all(e["args"]["origin"] == "gemm" for e in slices)
