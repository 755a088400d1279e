"""Every data instruction of the emulator against numpy, in both 16-bit formats:
SFU element-wise, reductions and pooling, the matrix engine, and DMA with padding and
strided, negative and zero-stride access patterns."""

import dataclasses

import numpy as np
import pytest

from rapid_mlir.backend.isa import INSTRUCTIONS, Space
from rapid_mlir.emulator import Emulator
from rapid_mlir.emulator.builder import F16, F32, ProgramBuilder, acc, dram, lx, window
from rapid_mlir.emulator.numerics import round_fp16, to_fp16_bits
from rapid_mlir.machine import PRESETS
from rapid_mlir.reference.kernels import erf

FORMATS = ["ieee", "dlfloat16"]
BASE = dataclasses.replace(PRESETS["rapid-1c"], name="test-1c", dram_bytes=1 << 20)


def machine(fmt):
    return dataclasses.replace(BASE, fp16_format=fmt)


def run_one(fmt, stream, instrs, setup=()):
    """Runs `instrs` + halt on core 0 `stream` after writing `setup` ((space, addr, dtype,
    values) tuples) into memory; returns the emulator."""
    b = ProgramBuilder(machine(fmt))
    s = b.stream(0, stream)
    for mnemonic, ops in instrs:
        s.emit(mnemonic, **ops)
    s.halt()
    emu = Emulator(b.build())
    for space, addr, dtype, values in setup:
        emu.write_memory(space, addr, dtype, values)
    emu.run()
    return emu


def rnd(shape, seed=0, scale=2.0):
    return (np.random.default_rng(seed).standard_normal(shape) * scale).astype(np.float32)


def as16(x, fmt):
    return round_fp16(np.asarray(x, np.float32), fmt)


UNARY = {
    "sfu.copy": lambda x: x,
    "sfu.relu": lambda x: np.maximum(x, np.float32(0)),
    "sfu.sigmoid": lambda x: np.float32(1) / (np.float32(1) + np.exp(-x)),
    "sfu.tanh": np.tanh,
    "sfu.exp": np.exp,
    "sfu.erf": erf,
    "sfu.sqrt": np.sqrt,
    "sfu.recip": lambda x: np.float32(1) / x,
    "sfu.log": np.log,
}


def test_every_instruction_has_a_test():
    tested = set(UNARY) | set(BINARY) | {"sfu.clip", "sfu.scale", "sfu.fma", "sfu.rsum", "sfu.rmax",
                                          "sfu.maxpool", "sfu.avgpool", "mpe.mm", "mpe.mma", "dma.copy"}
    control = {"nop", "halt", "li", "addi", "loop", "wait", "signal", "barrier"}  # test_emu_control
    host = {"host"}  # test_emu_host
    assert tested | control | host == set(INSTRUCTIONS)


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("mnemonic", sorted(UNARY))
def test_unary_f16_to_f32_and_f16(fmt, mnemonic):
    x = rnd((4, 16), seed=1)
    if mnemonic in ("sfu.sqrt", "sfu.log"):
        x = np.abs(x)
    xs = as16(x, fmt)
    ops16 = {"dst": lx(0x400, F16, (4, 16)), "src": lx(0, F16, (4, 16))}
    ops32 = {"dst": lx(0x800, F32, (4, 16)), "src": lx(0, F16, (4, 16))}
    emu = run_one(fmt, "sfu0", [(mnemonic, ops16), (mnemonic, ops32)], [(Space.LX, 0, F16, x)])
    want = UNARY[mnemonic](xs).astype(np.float32)
    got32 = emu.read_memory(Space.LX, 0x800, F32, (4, 16))
    np.testing.assert_allclose(got32, want, rtol=2e-7, atol=0)
    got16 = emu.read_memory(Space.LX, 0x400, F16, (4, 16))
    np.testing.assert_allclose(got16, as16(want, fmt), rtol=np.finfo(np.float16).eps, atol=0)
    if mnemonic in ("sfu.copy", "sfu.relu"):  # exact: no transcendental rounding involved
        np.testing.assert_array_equal(got16, as16(want, fmt))


@pytest.mark.parametrize("fmt", FORMATS)
def test_copy_rounds_f32_to_the_machine_format(fmt):
    x = np.array([1 + 2**-11, 1 + 3 * 2**-11, 1 + 2**-10 + 2**-11, -0.1, 1e-9, 3e5, -7e10, 65519.0], np.float32)
    emu = run_one(fmt, "sfu0", [("sfu.copy", {"dst": lx(0x100, F16, (8,)), "src": lx(0, F32, (8,))})],
                  [(Space.LX, 0, F32, x)])
    bits = emu.memory.lx[0].buf[0x100:0x110].view("<u2")
    np.testing.assert_array_equal(bits, to_fp16_bits(x, fmt))


def test_log_is_the_natural_logarithm_with_ieee_edge_cases():
    """isa sfu.log: ln in fp32; log(0) = -inf, log(x < 0) = NaN, log(inf) = inf (f32 dst)."""
    x = np.array([1.0, np.e, 0.5, 1e-30, 3e38, 0.0, -1.0, np.inf], np.float32)
    emu = run_one("ieee", "sfu0", [("sfu.log", {"dst": lx(0x100, F32, (8,)), "src": lx(0, F32, (8,))})],
                  [(Space.LX, 0, F32, x)])
    got = emu.read_memory(Space.LX, 0x100, F32, (8,))
    with np.errstate(divide="ignore", invalid="ignore"):
        np.testing.assert_array_equal(got, np.log(x))
    assert got[1] == np.float32(1.0) and got[5] == -np.inf and np.isnan(got[6])


@pytest.mark.parametrize("fmt", FORMATS)
def test_clip_and_scale_use_float_immediates(fmt):
    x = rnd((32,), seed=2)
    ops = [("sfu.clip", {"dst": lx(0x100, F32, (32,)), "src": lx(0, F32, (32,)), "lo": -0.5, "hi": 1.25}),
           ("sfu.scale", {"dst": lx(0x200, F32, (32,)), "src": lx(0, F32, (32,)), "mul": 0.3, "add": -1.5})]
    emu = run_one(fmt, "sfu1", ops, [(Space.LX, 0, F32, x)])
    f32 = np.float32
    np.testing.assert_array_equal(emu.read_memory(Space.LX, 0x100, F32, (32,)), np.clip(x, f32(-0.5), f32(1.25)))
    np.testing.assert_array_equal(emu.read_memory(Space.LX, 0x200, F32, (32,)), x * f32(0.3) + f32(-1.5))


BINARY = {"sfu.add": np.add, "sfu.sub": np.subtract, "sfu.mul": np.multiply, "sfu.div": np.divide,
          "sfu.max": np.maximum, "sfu.min": np.minimum}


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("mnemonic", sorted(BINARY))
def test_binary_with_a_broadcast_operand(fmt, mnemonic):
    a, row = rnd((4, 8), seed=3), rnd((8,), seed=4)
    ops = {"dst": lx(0x400, F16, (4, 8)), "a": lx(0, F16, (4, 8)),
           "b": lx(0x200, F32, dims=((4, 0), (8, 1)))}  # stride 0: the same row for every row
    emu = run_one(fmt, "sfu0", [(mnemonic, ops)], [(Space.LX, 0, F16, a), (Space.LX, 0x200, F32, row)])
    want = as16(BINARY[mnemonic](as16(a, fmt), row[None, :]), fmt)
    np.testing.assert_array_equal(emu.read_memory(Space.LX, 0x400, F16, (4, 8)), want)


@pytest.mark.parametrize("fmt", FORMATS)
def test_fma_scale_and_shift_per_column(fmt):
    x, scale, shift = rnd((3, 16), 5), rnd((16,), 6), rnd((16,), 7)
    ops = {"dst": acc(0x100, F32, (3, 16)), "a": acc(0, F32, (3, 16)),
           "b": lx(0, F32, dims=((3, 0), (16, 1))), "c": lx(0x40, F32, dims=((3, 0), (16, 1)))}
    b = ProgramBuilder(machine(fmt))
    s = b.stream(0, "sfu0")
    s.emit("sfu.fma", **ops).halt()
    emu = Emulator(b.build())
    emu.write_memory(Space.ACC, 0, F32, x)
    emu.write_memory(Space.LX, 0, F32, scale)
    emu.write_memory(Space.LX, 0x40, F32, shift)
    emu.run()
    np.testing.assert_array_equal(emu.read_memory(Space.ACC, 0x100, F32, (3, 16)), x * scale + shift)


@pytest.mark.parametrize("fmt", FORMATS)
def test_reductions_over_the_innermost_dimension(fmt):
    x = rnd((3, 5, 40), 8)
    ops = [("sfu.rsum", {"dst": lx(0x4000, F32, (3, 5, 1)), "src": lx(0, F16, (3, 5, 40))}),
           ("sfu.rmax", {"dst": lx(0x4100, F16, (3, 5, 1)), "src": lx(0, F16, (3, 5, 40))})]
    emu = run_one(fmt, "sfu0", ops, [(Space.LX, 0, F16, x)])
    xs = as16(x, fmt)
    np.testing.assert_allclose(emu.read_memory(Space.LX, 0x4000, F32, (3, 5, 1)),
                               xs.sum(-1, keepdims=True, dtype=np.float64), rtol=1e-6, atol=1e-5)
    np.testing.assert_array_equal(emu.read_memory(Space.LX, 0x4100, F16, (3, 5, 1)), xs.max(-1, keepdims=True))


@pytest.mark.parametrize("fmt", FORMATS)
def test_pooling_windows(fmt):
    img = rnd((2, 8, 8), 9)
    xs = as16(img, fmt)
    # 2x2 windows, stride 2: dst[c, i, j] = f(src[c, 2i + u, 2j + v]).
    src = lx(0, F16, dims=((2, 64), (4, 16), (4, 2)))
    win = window((2, 8), (2, 1))
    ops = [("sfu.maxpool", {"dst": lx(0x400, F16, (2, 4, 4)), "src": src, "win": win}),
           ("sfu.avgpool", {"dst": lx(0x500, F32, (2, 4, 4)), "src": src, "win": win, "scale": 0.25}),
           # 3-wide windows, stride 1, one dimension: a sliding max along rows.
           ("sfu.maxpool", {"dst": lx(0x600, F32, (2, 8, 6)), "src": lx(0, F16, dims=((2, 64), (8, 8), (6, 1))),
                            "win": window((3, 1))})]
    emu = run_one(fmt, "sfu0", ops, [(Space.LX, 0, F16, img)])
    blocks = xs.reshape(2, 4, 2, 4, 2)
    np.testing.assert_array_equal(emu.read_memory(Space.LX, 0x400, F16, (2, 4, 4)), blocks.max(axis=(2, 4)))
    np.testing.assert_allclose(emu.read_memory(Space.LX, 0x500, F32, (2, 4, 4)),
                               blocks.sum(axis=(2, 4)) * 0.25, rtol=1e-6)
    sliding = np.stack([xs[:, :, j:j + 3].max(-1) for j in range(6)], axis=-1)
    np.testing.assert_array_equal(emu.read_memory(Space.LX, 0x600, F32, (2, 8, 6)), sliding)


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("mo, mi, k, n", [(1, 8, 8, 8), (2, 4, 16, 8), (1, 9, 8, 12), (3, 5, 7, 3)])
def test_matmul_and_accumulate(fmt, mo, mi, k, n):
    a, bmat, c0 = rnd((mo, mi, k), 10), rnd((k, n), 11), rnd((mo, mi, n), 12)
    a_ap, b_ap = lx(0, F16, (mo, mi, k)), lx(0x1000, F16, (k, n))
    ops = [("mpe.mm", {"c": acc(0, F32, (mo, mi, n)), "a": a_ap, "b": b_ap}),
           ("mpe.mma", {"c": acc(0x1000, F32, (mo, mi, n)), "a": a_ap, "b": b_ap})]
    emu = run_one(fmt, "mpe0", ops, [(Space.LX, 0, F16, a), (Space.LX, 0x1000, F16, bmat)])
    prod = np.matmul(as16(a, fmt).astype(np.float64).reshape(-1, k), as16(bmat, fmt)).reshape(mo, mi, n)
    got = emu.read_memory(Space.ACC, 0, F32, (mo, mi, n))
    np.testing.assert_allclose(got, prod, rtol=1e-5, atol=1e-5)
    # Accumulating onto existing ACC contents.
    b = ProgramBuilder(machine(fmt))
    b.stream(0, "mpe1").emit(ops[1][0], **ops[1][1]).halt()
    emu2 = Emulator(b.build())
    emu2.write_memory(Space.LX, 0, F16, a)
    emu2.write_memory(Space.LX, 0x1000, F16, bmat)
    emu2.write_memory(Space.ACC, 0x1000, F32, c0, corelet=1)
    emu2.run()
    np.testing.assert_allclose(emu2.read_memory(Space.ACC, 0x1000, F32, (mo, mi, n), corelet=1),
                               c0 + prod, rtol=1e-5, atol=1e-5)


def test_matmul_uses_strided_and_transposed_operands():
    a, bmat = rnd((16, 16), 13), rnd((16, 16), 14)
    # A = the top-left 8x8 block of a 16x16 row-major tile; B = the transpose of another.
    ops = [("mpe.mm", {"c": acc(0, F32, (1, 8, 8)), "a": lx(0, F16, dims=((1, 0), (8, 16), (8, 1))),
                       "b": lx(0x1000, F16, dims=((8, 1), (8, 16)))})]
    emu = run_one("ieee", "mpe0", ops, [(Space.LX, 0, F16, a), (Space.LX, 0x1000, F16, bmat)])
    want = as16(a, "ieee")[:8, :8] @ as16(bmat, "ieee")[:8, :8].T
    np.testing.assert_allclose(emu.read_memory(Space.ACC, 0, F32, (1, 8, 8)), want[None], rtol=1e-6, atol=1e-6)


# DMA --------------------------------------------------------------------------------------------


def run_dma(fmt, dst, src, setup, padval=None, stream="dma0"):
    ops = {"dst": dst, "src": src}
    if padval is not None:
        ops["padval"] = padval
    return run_one(fmt, stream, [("dma.copy", ops)], setup)


@pytest.mark.parametrize("fmt", FORMATS)
def test_dma_copies_bits_unchanged(fmt):
    bits = np.random.default_rng(15).integers(0, 1 << 16, size=64, dtype=np.uint16)
    b = ProgramBuilder(machine(fmt))
    b.stream(0, "dma0").dma(lx(0x100, F16, (64,)), dram(0x200, F16, (64,))).halt()
    emu = Emulator(b.build())
    emu.memory.dram.buf[0x200:0x280] = bits.view(np.uint8)
    emu.run()
    np.testing.assert_array_equal(emu.memory.lx[0].buf[0x100:0x180].view("<u2"), bits)


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("padval", [None, -np.inf, 1.5])
def test_dma_padding(fmt, padval):
    x = rnd((3, 4), 16)
    # dst 5x7 = src 3x4 with 1 row above, 1 below, 2 columns left, 1 right of padding.
    src = dram(0x100, F16, dims=((5, 4), (7, 1)), pads=((1, 1), (2, 1)))
    emu = run_dma(fmt, lx(0, F16, (5, 7)), src, [(Space.DRAM, 0x100, F16, x)], padval)
    want = np.full((5, 7), 0.0 if padval is None else padval, np.float32)
    want[1:4, 2:6] = as16(x, fmt)
    got = emu.read_memory(Space.LX, 0, F16, (5, 7))
    if fmt == "dlfloat16" and padval == -np.inf:  # one special code for NaN and +-inf
        assert np.isnan(got[0, 0])
        want[np.isinf(want)] = np.nan
    np.testing.assert_array_equal(got, want)


def test_dma_padding_f32_and_all_padding():
    x = rnd((2, 2), 17)
    src = dram(0x100, F32, dims=((4, 2), (4, 1)), pads=((1, 1), (1, 1)))
    emu = run_dma("ieee", lx(0, F32, (4, 4)), src, [(Space.DRAM, 0x100, F32, x)], 7.0)
    want = np.full((4, 4), 7.0, np.float32)
    want[1:3, 1:3] = x
    np.testing.assert_array_equal(emu.read_memory(Space.LX, 0, F32, (4, 4)), want)
    # Every position padding: nothing is read from memory.
    src = dram(0x100, F32, dims=((2, 2), (2, 1)), pads=((2, 0), (0, 0)))
    emu = run_dma("ieee", lx(0, F32, (2, 2)), src, [], -1.0)
    np.testing.assert_array_equal(emu.read_memory(Space.LX, 0, F32, (2, 2)), np.full((2, 2), -1.0))


def test_dma_negative_and_zero_strides():
    x = rnd((4, 8), 18)
    # Rows in reverse order: element (i, j) at 0x100 + 2 * (8 * (3 - i) + j).
    rev = dram(0x100 + 2 * 24, F16, dims=((4, -8), (8, 1)))
    emu = run_dma("ieee", lx(0, F16, (4, 8)), rev, [(Space.DRAM, 0x100, F16, x)])
    np.testing.assert_array_equal(emu.read_memory(Space.LX, 0, F16, (4, 8)), as16(x, "ieee")[::-1])
    # Stride 0: row 2 broadcast into 5 rows; and a column read with stride 8.
    bcast = dram(0x100 + 2 * 16, F16, dims=((5, 0), (8, 1)))
    emu = run_dma("ieee", lx(0, F16, (5, 8)), bcast, [(Space.DRAM, 0x100, F16, x)])
    np.testing.assert_array_equal(emu.read_memory(Space.LX, 0, F16, (5, 8)), np.tile(as16(x, "ieee")[2], (5, 1)))
    col = dram(0x100 + 2 * 3, F16, dims=((4, 8),))
    emu = run_dma("ieee", lx(0, F16, (4,)), col, [(Space.DRAM, 0x100, F16, x)])
    np.testing.assert_array_equal(emu.read_memory(Space.LX, 0, F16, (4,)), as16(x, "ieee")[:, 3])


def test_dma_lx_to_dram_and_lx_to_lx():
    x = rnd((16,), 19)
    b = ProgramBuilder(machine("ieee"))
    s = b.stream(0, "dma1")
    s.dma(lx(0x200, F32, (16,)), lx(0, F32, (16,)))          # LX -> LX on the own core
    s.dma(dram(0x40, F32, (2, 8)), lx(0x200, F32, (2, 8)))   # LX -> DRAM
    s.halt()
    emu = Emulator(b.build())
    emu.write_memory(Space.LX, 0, F32, x)
    emu.run()
    np.testing.assert_array_equal(emu.read_memory(Space.DRAM, 0x40, F32, (16,)), x)
    assert emu.stats()["bytes"]["lx_to_lx"] == 64 and emu.stats()["bytes"]["lx_to_dram"] == 64
