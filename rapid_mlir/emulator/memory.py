"""The emulated memories and how access patterns become numpy views of them.

Three kinds of byte-addressed space, each one `np.zeros` buffer of uint8 (the operating
system only materialises pages that are touched, so a 256 MiB DRAM costs nothing until
used): DRAM (chip-wide, `dram_bytes`), one LX scratchpad per core (`lx_bytes`) and one
fp32 accumulator ACC per corelet (`acc_bytes`). f16 elements are stored as the uint16
bits of the machine's 16-bit format (`fp16_format`), f32 as little-endian IEEE floats.

An access pattern (`isa.AccessPattern`) with a register value becomes a strided view:
`np.ndarray(shape, dtype, buffer=space, offset=first, strides=stride * itemsize)`, where
`first = r[reg] + offset` is the address of element 0; zero and negative strides work
as they do in numpy. `Region` holds everything about an operand that does not depend on
the register value, computed once when the program is loaded. Every access is
bounds-checked against `isa.AccessPattern.extent` before the view is made.
"""

from __future__ import annotations

import numpy as np

from rapid_mlir.backend.isa import AccessPattern, DType, Space
from rapid_mlir.emulator.errors import OutOfBoundsError
from rapid_mlir.emulator.numerics import decode_array, encode_array, from_fp16_bits, to_fp16_bits  # noqa: F401 - re-exported

RAW = {DType.F16: np.dtype("<u2"), DType.F32: np.dtype("<u4")}
"""Bit-exact element views (what DMA copies)."""

_I16 = np.dtype("<i2")
_F16 = np.dtype("<f2")
_F32 = np.dtype("<f4")
_IEEE_SCALE = np.float32(2.0**112)
_F16_LIMIT = np.float32(65536.0)
_SIGN_AND_LOW = np.int32(-0x70000001)  # 0x8FFFFFFF: keep the sign, drop sign-extension copies
_BLOCK_BITS = 14  # the decode cache indexes its entries by 16 KiB blocks of the space


class Region:
    """An operand's access pattern compiled for execution: shape, byte strides, the
    byte extent relative to the address of element 0, and its shadow-memory layout.

    `shape`/`strides` may have extra trailing dimensions (the window of a pooling
    source) or fewer elements than the pattern (the unpadded interior of a DMA source).
    """

    __slots__ = ("name", "space", "dtype", "itemsize", "reg", "offset", "core", "shape",
                 "strides", "bstrides", "ext_lo", "ext_hi", "elements", "nbytes", "empty",
                 "dense", "slot_strides", "text")

    def __init__(self, name: str, ap: AccessPattern, shape: tuple[int, ...],
                 strides: tuple[int, ...], offset: int, text: str = ""):
        self.name = name
        self.space = ap.space
        self.dtype = ap.dtype
        self.itemsize = ap.dtype.itemsize
        self.reg = ap.reg
        self.offset = offset
        self.core = ap.core
        self.shape = tuple(shape)
        self.strides = tuple(strides)
        self.bstrides = tuple(s * self.itemsize for s in strides)
        self.empty = any(s <= 0 for s in self.shape)
        self.elements = 0 if self.empty else int(np.prod(self.shape, dtype=np.int64))
        self.nbytes = self.elements * self.itemsize
        lo = hi = 0
        if not self.empty:
            for size, bstride in zip(self.shape, self.bstrides):
                span = (size - 1) * bstride
                lo, hi = lo + min(0, span), hi + max(0, span)
        self.ext_lo, self.ext_hi = lo, hi + self.itemsize
        self.dense = _covers_extent(self.shape, self.strides)
        # Shadow memory has one int64 slot per 2 bytes: element strides in slots, in bytes.
        self.slot_strides = tuple(b // 2 * 8 for b in self.bstrides) + (8,)
        self.text = text

    @staticmethod
    def of(name: str, ap: AccessPattern, text: str = "") -> Region:
        """The region of a whole (unpadded) access pattern."""
        return Region(name, ap, ap.shape, ap.strides, ap.offset, text)

    def first(self, regs: list[int]) -> int:
        """Byte address of element 0 for these register values."""
        return regs[self.reg] + self.offset


def _covers_extent(shape, strides) -> bool:
    """True if the elements tile their extent without gaps (a contiguous block, in any
    dimension order and direction, possibly with broadcast dimensions)."""
    dims = sorted((abs(t), s) for s, t in zip(shape, strides) if s > 1 and t != 0)
    expect = 1
    for stride, size in dims:
        if stride != expect:
            return False
        expect *= size
    return True


class DecodeCache:
    """f16 operand tiles of one LX decoded to float32, so that a tile the matrix engine
    reads again (a weight tile, an activation tile reused across output columns) is
    decoded once. Keyed by (address of element 0, region); least recently used entries
    go when the entries exceed `budget` bytes; every write to the space drops the entries
    it overlaps (found through an index of 16 KiB blocks)."""

    __slots__ = ("entries", "blocks", "budget", "used")

    def __init__(self, budget: int):
        self.entries: dict[tuple, tuple[int, int, np.ndarray]] = {}
        self.blocks: dict[int, set] = {}
        self.budget = budget
        self.used = 0

    def get(self, key: tuple) -> np.ndarray | None:
        hit = self.entries.pop(key, None)
        if hit is None:
            return None
        self.entries[key] = hit  # most recently used last
        return hit[2]

    def put(self, key: tuple, lo: int, hi: int, values: np.ndarray) -> None:
        while self.entries and self.used + values.nbytes > self.budget:
            self._drop(next(iter(self.entries)))
        self.entries[key] = (lo, hi, values)
        self.used += values.nbytes
        for b in range(lo >> _BLOCK_BITS, ((hi - 1) >> _BLOCK_BITS) + 1):
            self.blocks.setdefault(b, set()).add(key)

    def _drop(self, key: tuple) -> None:
        lo, hi, values = self.entries.pop(key)
        self.used -= values.nbytes
        for b in range(lo >> _BLOCK_BITS, ((hi - 1) >> _BLOCK_BITS) + 1):
            self.blocks[b].discard(key)

    def invalidate(self, lo: int, hi: int) -> None:
        """Drops the entries overlapping bytes [lo, hi)."""
        for b in range(lo >> _BLOCK_BITS, ((hi - 1) >> _BLOCK_BITS) + 1):
            for key in list(self.blocks.get(b, ())):
                clo, chi, _ = self.entries[key]
                if clo < hi and lo < chi:
                    self._drop(key)

    def clear(self) -> None:
        self.entries.clear()
        self.blocks.clear()
        self.used = 0

    def __len__(self) -> int:
        return len(self.entries)


class MemorySpace:
    """One byte-addressed memory: its buffer, size, label, shadow memory (for race
    checks) and, for LX, a cache of f16 operand tiles decoded to float32."""

    __slots__ = ("kind", "label", "_buf", "size", "shadow", "cache", "core")

    def __init__(self, kind: Space, label: str, size: int, core: int | None = None):
        self.kind = kind
        self.label = label
        self._buf = None
        self.size = size
        self.shadow = None
        self.cache = DecodeCache(4 * size)  # all of LX decoded (2x) through two different patterns
        self.core = core

    @property
    def buf(self) -> np.ndarray:
        """The bytes, allocated on first use (a 32-core machine has a hundred spaces, and
        a small program touches few of them)."""
        if self._buf is None:
            self._buf = np.zeros(self.size, dtype=np.uint8)
        return self._buf

    def check(self, region: Region, first: int) -> None:
        """Raises OutOfBoundsError unless every byte `region` touches from `first` is inside."""
        lo, hi = first + region.ext_lo, first + region.ext_hi
        if lo < 0 or hi > self.size:
            raise OutOfBoundsError(
                f"operand '{region.name}' ({region.text}{_reg_note(region, first)}) touches bytes "
                f"[{lo:#x}, {hi:#x}) of {self.label}, which has {self.size:#x} ({self.size}) bytes")

    def view(self, region: Region, first: int, dtype: np.dtype) -> np.ndarray:
        """The strided view of `region` at `first` (bounds already checked)."""
        return np.ndarray(region.shape, dtype, buffer=self.buf, offset=first, strides=region.bstrides)

def _reg_note(region: Region, first: int) -> str:
    return "" if region.reg == 0 else f" with r{region.reg} = {first - region.offset:#x}"


class Memory:
    """DRAM, every core's LX and every corelet's ACC of one machine."""

    def __init__(self, machine):
        self.machine = machine
        self.fmt = machine.fp16_format
        self.dram = MemorySpace(Space.DRAM, "dram", machine.dram_bytes)
        self.lx = [MemorySpace(Space.LX, f"lx of core {c}", machine.lx_bytes, c)
                   for c in range(machine.cores)]
        self.acc = [[MemorySpace(Space.ACC, f"acc of core {c} corelet {k}", machine.acc_bytes, c)
                     for k in range(machine.corelets_per_core)] for c in range(machine.cores)]

    def space(self, kind: Space, core: int, corelet: int) -> MemorySpace:
        """The space an operand names from a stream on `core` (and `corelet` for ACC)."""
        if kind is Space.DRAM:
            return self.dram
        if kind is Space.LX:
            return self.lx[core]
        return self.acc[core][corelet]

    def spaces(self) -> list[MemorySpace]:
        return [self.dram, *self.lx, *(a for per_core in self.acc for a in per_core)]

    # Values -------------------------------------------------------------------------------

    def load(self, space: MemorySpace, region: Region, first: int) -> np.ndarray:
        """The region's values as a float32 array (f16 decoded from the machine's format).
        The result may be a view of memory: callers must not write to it."""
        if region.dtype is DType.F32:
            return space.view(region, first, _F32)
        if self.fmt == "ieee":
            return decode_ieee(space.view(region, first, _I16))
        return from_fp16_bits(space.view(region, first, RAW[DType.F16]), self.fmt)

    def load_cached(self, space: MemorySpace, region: Region, first: int) -> np.ndarray:
        """`load` of an f16 LX operand through the space's decoded-tile cache (MPE operands
        that stay in the scratchpad across instructions are decoded once)."""
        key = (first, id(region))
        values = space.cache.get(key)
        if values is None:
            values = np.ascontiguousarray(self.load(space, region, first))
            values.setflags(write=False)
            space.cache.put(key, first + region.ext_lo, first + region.ext_hi, values)
        return values

    def store(self, space: MemorySpace, region: Region, first: int, values: np.ndarray) -> None:
        """Writes float32 `values` into the region, rounding to its element type."""
        if space.cache.entries:
            space.cache.invalidate(first + region.ext_lo, first + region.ext_hi)
        if region.dtype is DType.F32:
            space.view(region, first, _F32)[...] = values
        elif self.fmt == "ieee":
            space.view(region, first, _F16)[...] = values
        else:
            space.view(region, first, RAW[DType.F16])[...] = to_fp16_bits(values, self.fmt)

    def store_raw(self, space: MemorySpace, region: Region, first: int, bits: np.ndarray) -> None:
        """Writes element bits (uint16 / uint32) into the region unchanged."""
        if space.cache.entries:
            space.cache.invalidate(first + region.ext_lo, first + region.ext_hi)
        space.view(region, first, RAW[region.dtype])[...] = bits

    # Whole tensors (runtime) --------------------------------------------------------------

    def write_bytes(self, address: int, data: bytes) -> None:
        """Writes raw bytes into DRAM (data segments, inputs)."""
        self.dram.buf[address:address + len(data)] = np.frombuffer(data, dtype=np.uint8)

    def read_bytes(self, address: int, nbytes: int) -> bytes:
        return self.dram.buf[address:address + nbytes].tobytes()


def decode_ieee(bits: np.ndarray) -> np.ndarray:
    """IEEE binary16 bits (as int16) to float32, exactly as `astype(np.float32)` of the
    float16 values but about three times faster: move the sign to bit 31 and the
    magnitude to fp32 position, then scale by 2^112 (which also handles subnormals);
    infinities and NaNs (magnitude >= 2^16 after scaling) take numpy's path."""
    x = bits.astype(np.int32)
    x <<= 13
    x &= _SIGN_AND_LOW
    values = x.view(np.float32)
    values *= _IEEE_SCALE
    if values.size and (values.max() >= _F16_LIMIT or values.min() <= -_F16_LIMIT):
        return bits.view(_F16).astype(np.float32)
    return values


def pad_bits(value: float, dtype: DType, fmt: str) -> int:
    """The element bits of a DMA pad value (f16 in the machine's format)."""
    v = np.float32(value)
    if dtype is DType.F32:
        return int(np.array(v).view(np.uint32))
    return int(to_fp16_bits(np.array(v), fmt))
