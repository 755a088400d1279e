"""Memory model details: extents agree with isa.AccessPattern.extent, the fast IEEE
decoder is bit-exact, dense-region detection, and the decoded-tile cache is dropped
when its bytes are overwritten."""

import dataclasses

import numpy as np
import pytest

from rapid_mlir.backend.isa import AccessPattern, DType, Space
from rapid_mlir.emulator import Emulator
from rapid_mlir.emulator.builder import F16, F32, ProgramBuilder, acc, dram, lx
from rapid_mlir.emulator.memory import DecodeCache, Region, decode_ieee
from rapid_mlir.machine import PRESETS

M1 = dataclasses.replace(PRESETS["rapid-1c"], name="mem-1c", dram_bytes=1 << 20)


@pytest.mark.parametrize("seed", range(5))
def test_region_extent_matches_the_isa(seed):
    rng = np.random.default_rng(seed)
    for _ in range(200):
        dtype = DType.F16 if rng.random() < 0.5 else DType.F32
        dims = tuple((int(rng.integers(1, 7)), int(rng.integers(-9, 10))) for _ in range(rng.integers(1, 5)))
        pads = None
        if rng.random() < 0.5:
            pads = []
            for size, _ in dims:
                lo = int(rng.integers(0, size + 1))
                pads.append((lo, int(rng.integers(0, size - lo + 1))))
            pads = tuple(pads)
        ap = AccessPattern(Space.DRAM, dtype, dims, int(rng.integers(0, 100)), 0, None, pads)
        valid = tuple(s - lo - hi for (s, _), (lo, hi) in zip(dims, pads or ((0, 0),) * len(dims)))
        region = Region("src", ap, valid, ap.strides, ap.offset)
        base = int(rng.integers(0, 1000))
        lo, hi = ap.extent(base)
        if region.empty:
            assert lo == hi
            continue
        assert (base + ap.offset + region.ext_lo, base + ap.offset + region.ext_hi) == (lo, hi)


def test_ieee_decoder_is_bit_exact_on_every_code():
    codes = np.arange(1 << 16, dtype=np.uint32).astype(np.uint16)
    want = codes.view(np.float16).astype(np.float32).view(np.uint32)
    np.testing.assert_array_equal(decode_ieee(codes.view(np.int16)).view(np.uint32), want)
    finite = codes[(codes & 0x7C00) != 0x7C00]  # the fast path (no inf or NaN present)
    np.testing.assert_array_equal(decode_ieee(finite.view(np.int16)).view(np.uint32),
                                  finite.view(np.float16).astype(np.float32).view(np.uint32))


@pytest.mark.parametrize("dims, dense", [
    (((8, 8), (8, 1)), True), (((8, 16), (8, 1)), False), (((4, 0), (8, 1)), True),
    (((8, 1), (8, 8)), True), (((8, -1),), True), (((1, 99), (5, 2)), False),
    (((2, 64), (4, 16), (4, 2), (2, 8)), False), (((3, 1), (1, 5)), True),
])
def test_dense_regions(dims, dense):
    assert Region.of("x", AccessPattern(Space.LX, DType.F16, dims)).dense is dense


def test_decode_cache_drops_overwritten_tiles():
    """The MPE reads a tile, a DMA overwrites it, the MPE reads it again: new values."""
    b = ProgramBuilder(M1)
    b.input("x", F16, (2, 8, 8), 0)
    d, p = b.stream(0, "dma0"), b.stream(0, "mpe0")
    d.dma(lx(0, F16, (8, 8)), dram(0, F16, (8, 8))).signal(0).wait(1)
    d.dma(lx(0x10, F16, (4, 4), dims=((4, 8), (4, 1))), dram(0x80, F16, (4, 4), dims=((4, 8), (4, 1))))
    d.signal(0).halt()
    for i in range(2):
        p.wait(0).mm(acc(0x400 * i, F32, (1, 8, 8)), lx(0, F16, (1, 8, 8)), lx(0x200, F16, (8, 8)))
        p.signal(1)
    p.halt()
    emu = Emulator(b.build())
    x = np.arange(128, dtype=np.float32).reshape(2, 8, 8)
    emu.write_tensor("x", x)
    emu.write_memory(Space.LX, 0x200, F16, np.eye(8))
    emu.run()
    np.testing.assert_array_equal(emu.read_memory(Space.ACC, 0, F32, (8, 8)), x[0])
    got = emu.read_memory(Space.ACC, 0x400, F32, (8, 8))
    want = x[0].copy()
    want[1:5, 0:4] = x[1, 0:4, 0:4]  # lx 0x10 = row 1; dram 0x80 = x[1]
    np.testing.assert_array_equal(got, want)


def test_decode_cache_budget_and_index():
    cache = DecodeCache(budget=3 * 64)
    tiles = [np.zeros(16, np.float32) for _ in range(4)]  # 64 bytes each
    for i, t in enumerate(tiles):
        cache.put(("k", i), 100 * i, 100 * i + 32, t)
    assert len(cache) == 3 and cache.get(("k", 0)) is None  # least recently used went first
    assert cache.get(("k", 1)) is tiles[1]
    cache.put(("k", 9), 1000, 1032, tiles[0])  # evicts k2 (k1 was used)
    assert cache.get(("k", 2)) is None and cache.get(("k", 1)) is tiles[1]
    cache.invalidate(110, 120)
    assert cache.get(("k", 1)) is None and cache.get(("k", 3)) is tiles[3]
    cache.invalidate(0, 1 << 20)
    assert len(cache) == 0 and cache.used == 0
