"""The rapid ISA: one table of instructions that every layer reads.

The assembler, the binary encoder, the `rapid_isa` dialect, the emulator and
docs/isa.md all derive from `INSTRUCTIONS` below, so that no two of them can
disagree about an opcode, an operand or a field width.

Programs are per-core sets of *streams*, one per engine: `dma0..dma{q-1}` (DMA
queues), and per corelet `mpe{c}` (matrix engine) and `sfu{c}` (special-function
unit). Each stream runs its instructions in order; streams run concurrently and
synchronise only through counting semaphores (`wait` / `signal`, also across cores)
and cross-core barriers. Every stream has its own scalar registers r0..r{R-1}
(r0 always reads 0) used as base addresses, and hardware loops.

Operands in memory are *access patterns* (`AccessPattern`): a memory space (DRAM,
the core's LX scratchpad, or the corelet's fp32 accumulator ACC), an element type
(f16 = the machine's 16-bit format, or f32), a base (register + byte offset) and up
to four (size, stride) dimensions, outermost first, strides in elements (0 broadcasts,
negative walks backwards).

Machine-dependent rules (register, semaphore and core numbers, buffer sizes) are
checked by `check_instruction` against a `rapid_mlir.machine.Machine`.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass, field
from enum import Enum, IntEnum


class Space(IntEnum):
    """Memory spaces an access pattern can name."""

    DRAM = 0
    LX = 1
    ACC = 2


class DType(IntEnum):
    """Element types in memory: the machine's 16-bit float format, or IEEE fp32."""

    F16 = 0
    F32 = 1

    @property
    def itemsize(self) -> int:
        return 2 if self is DType.F16 else 4


class Engine(str, Enum):
    """Which streams may execute an instruction."""

    ANY = "any"
    DMA = "dma"
    MPE = "mpe"
    SFU = "sfu"


MAX_DIMS = 4
MAX_WINDOW_DIMS = 2
SIZE_BITS = 20
STRIDE_BITS = 24
OFFSET_BITS = 32
PAD_BITS = 8


class Kind(str, Enum):
    """Operand kinds, each with its text form and encoding."""

    REG = "reg"        # r0..r255
    IMM = "imm"        # signed 32-bit integer
    FIMM = "fimm"      # IEEE fp32 immediate (text: a float, inf, -inf, nan)
    COUNT = "count"    # loop trip count, 1..2^24-1
    LEN = "len"        # loop body length in instructions, 1..2^16-1
    SEM = "sem"        # s0..s65535
    CORE = "core"      # optional target core of `signal` (@N); absent = own core
    AP = "ap"          # access pattern
    AP_PAD = "ap_pad"  # access pattern with zero/constant padding per dimension (DMA source)
    WINDOW = "window"  # pooling window: up to 2 (size, stride) pairs
    HOST_OP = "host_op"  # index of an entry of the program's host-op manifest, 0..2^16-1


@dataclass(frozen=True)
class AccessPattern:
    """A strided view of memory: `lx[r1+64] f16 {8:64, 8:1}`.

    Element (i0, .., i{n-1}) lives at byte address
    `reg + offset + itemsize * sum((i_d - pad_lo_d) * stride_d)`; with pads, indices in a
    dimension's first `lo` or last `hi` positions are padding and read as the DMA's pad
    value, not from memory. `core` names another core's LX (DMA destination only).
    """

    space: Space
    dtype: DType
    dims: tuple[tuple[int, int], ...]
    offset: int = 0
    reg: int = 0
    core: int | None = None
    pads: tuple[tuple[int, int], ...] | None = None

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(s for s, _ in self.dims)

    @property
    def strides(self) -> tuple[int, ...]:
        return tuple(t for _, t in self.dims)

    @property
    def elements(self) -> int:
        return math.prod(self.shape)

    def extent(self, base: int = 0) -> tuple[int, int]:
        """[first, last+1) bytes touched (padding excluded), for a given register value."""
        lo = hi = base + self.offset
        pads = self.pads or ((0, 0),) * len(self.dims)
        for (size, stride), (plo, phi) in zip(self.dims, pads):
            valid = size - plo - phi
            if valid <= 0:
                return (lo, lo)
            span = (valid - 1) * stride * self.dtype.itemsize
            lo, hi = lo + min(0, span), hi + max(0, span)
        return (lo, hi + self.dtype.itemsize)


@dataclass(frozen=True)
class Window:
    """The window of a pooling instruction: up to two (size, stride) pairs, in elements."""

    dims: tuple[tuple[int, int], ...]

    @property
    def elements(self) -> int:
        return math.prod(s for s, _ in self.dims)


@dataclass(frozen=True)
class OperandSpec:
    name: str
    kind: Kind
    optional: bool = False


@dataclass(frozen=True)
class InstrSpec:
    """One instruction: its mnemonic, opcode, engine, operands, semantics and timing."""

    mnemonic: str
    opcode: int
    engine: Engine
    operands: tuple[OperandSpec, ...]
    semantics: str
    timing: str
    transcendental: bool = False

    @property
    def op_name(self) -> str:
        """The `rapid_isa` dialect op name."""
        return "rapid_isa." + self.mnemonic.replace(".", "_")


def _ops(*spec: str) -> tuple[OperandSpec, ...]:
    out = []
    for s in spec:
        name, kind = s.split(":")
        optional = kind.endswith("?")
        out.append(OperandSpec(name, Kind(kind.rstrip("?")), optional))
    return tuple(out)


_CONTROL = "scalar_cycles"
_SFU_TIME = "sfu_latency_cycles + ceil(elements / sfu_lanes)"

_SPECS: list[InstrSpec] = [
    InstrSpec("nop", 0x01, Engine.ANY, (), "pass", _CONTROL),
    InstrSpec("halt", 0x02, Engine.ANY, (), "the stream stops; every stream must end with halt", _CONTROL),
    InstrSpec("li", 0x03, Engine.ANY, _ops("rd:reg", "imm:imm"), "r[rd] = imm", _CONTROL),
    InstrSpec("addi", 0x04, Engine.ANY, _ops("rd:reg", "rs:reg", "imm:imm"), "r[rd] = r[rs] + imm", _CONTROL),
    InstrSpec("loop", 0x05, Engine.ANY, _ops("count:count", "len:len"),
              "repeat the next `len` instructions `count` times (loops nest up to loop_depth)", _CONTROL),
    InstrSpec("wait", 0x06, Engine.ANY, _ops("sem:sem"),
              "block until sem[core][sem] > 0, then sem[core][sem] -= 1", _CONTROL),
    InstrSpec("signal", 0x07, Engine.ANY, _ops("sem:sem", "core:core?"),
              "sem[core][sem] += 1 (own core when @core is absent); visible to the target after "
              "ring_hop_cycles per hop when remote", _CONTROL),
    InstrSpec("barrier", 0x08, Engine.ANY, (),
              "block until the same stream of every core that has that stream in the program has "
              "reached its k-th barrier", _CONTROL),
    InstrSpec("host", 0x09, Engine.ANY, _ops("entry:host_op"),
              "run entry `entry` of the program's host-op manifest on the host: read its input "
              "tensors from DRAM (f16 or f32 as each says), run its nn op with the reference "
              "kernels in fp32, write its output tensors to DRAM; the stream waits for the call",
              "host_call_cycles + ceil(bytes read and written / (host_link_gbps / clock_ghz)); of a "
              "table only nn.gather reads, only the slices its indices select are read"),
    InstrSpec("dma.copy", 0x10, Engine.DMA, _ops("dst:ap", "src:ap_pad", "padval:fimm?"),
              "for each index i of dst's shape: dst[i] = src[i] if i is inside src's unpadded "
              "region else padval (default 0.0); element types must match (bytes are copied); "
              "dst and src are DRAM or LX (src in this core's LX, dst possibly lx@core)",
              "dram_latency_cycles + bytes / share of dram_bytes_per_cycle (DRAM), or "
              "hops * ring_hop_cycles + bytes / share of ring_bytes_per_cycle (LX to LX)"),
    InstrSpec("mpe.mm", 0x20, Engine.MPE, _ops("c:ap", "a:ap", "b:ap"),
              "C[mo,mi,n] = sum_k A[mo,mi,k] * B[k,n]: A, B f16 in LX, C f32 in ACC; products "
              "exact, accumulation in fp32",
              "mpe_fill_drain_cycles + ceil(m / mpe_rows) * ceil(n / mpe_cols) * ceil(k / mpe_simd), m = mo * mi"),
    InstrSpec("mpe.mma", 0x21, Engine.MPE, _ops("c:ap", "a:ap", "b:ap"),
              "C[mo,mi,n] += sum_k A[mo,mi,k] * B[k,n] (as mpe.mm, accumulating)",
              "as mpe.mm"),
]

_UNARY = {
    "copy": ("dst = src (converting between f16 and f32 as the types say)", False),
    "relu": ("dst = max(src, 0)", False),
    "sigmoid": ("dst = 1 / (1 + exp(-src))", True),
    "tanh": ("dst = tanh(src)", True),
    "exp": ("dst = exp(src)", True),
    "erf": ("dst = erf(src)", True),
    "sqrt": ("dst = sqrt(src)", True),
    "recip": ("dst = 1 / src", True),
}
for i, (name, (sem, tr)) in enumerate(_UNARY.items()):
    _SPECS.append(InstrSpec(f"sfu.{name}", 0x30 + i, Engine.SFU, _ops("dst:ap", "src:ap"),
                            sem + "; computed in fp32, rounded to dst's type",
                            _SFU_TIME + (" * sfu_transcendental_factor" if tr else ""), tr))
_SPECS += [
    InstrSpec("sfu.clip", 0x38, Engine.SFU, _ops("dst:ap", "src:ap", "lo:fimm", "hi:fimm"),
              "dst = min(max(src, lo), hi)", _SFU_TIME),
    InstrSpec("sfu.scale", 0x39, Engine.SFU, _ops("dst:ap", "src:ap", "mul:fimm", "add:fimm"),
              "dst = src * mul + add", _SFU_TIME),
    # The natural logarithm: with sfu.exp it gives powers, x^p = exp(p * log(x)) (LRN).
    InstrSpec("sfu.log", 0x3A, Engine.SFU, _ops("dst:ap", "src:ap"),
              "dst = log(src), the natural logarithm (-inf at 0, NaN below 0); computed in fp32, "
              "rounded to dst's type", _SFU_TIME + " * sfu_transcendental_factor", True),
]
_BINARY = {"add": ("a + b", False), "sub": ("a - b", False), "mul": ("a * b", False),
           "div": ("a / b", True), "max": ("max(a, b)", False), "min": ("min(a, b)", False)}
for i, (name, (expr, tr)) in enumerate(_BINARY.items()):
    _SPECS.append(InstrSpec(f"sfu.{name}", 0x40 + i, Engine.SFU, _ops("dst:ap", "a:ap", "b:ap"),
                            f"dst = {expr}; all three patterns have the same shape (broadcast with "
                            "stride 0); computed in fp32",
                            _SFU_TIME + (" * sfu_transcendental_factor" if tr else ""), tr))
_SPECS += [
    InstrSpec("sfu.fma", 0x46, Engine.SFU, _ops("dst:ap", "a:ap", "b:ap", "c:ap"),
              "dst = a * b + c (scale and shift; broadcast with stride 0); computed in fp32", _SFU_TIME),
    InstrSpec("sfu.rsum", 0x50, Engine.SFU, _ops("dst:ap", "src:ap"),
              "dst[..., 0] = sum over the innermost dimension of src (dst's innermost size is 1); "
              "fp32 accumulation", "sfu_latency_cycles + ceil(src elements / sfu_lanes)"),
    InstrSpec("sfu.rmax", 0x51, Engine.SFU, _ops("dst:ap", "src:ap"),
              "dst[..., 0] = max over the innermost dimension of src", "as sfu.rsum"),
    InstrSpec("sfu.maxpool", 0x58, Engine.SFU, _ops("dst:ap", "src:ap", "win:window"),
              "dst[i] = max over window offsets w of src[i] shifted by sum(w_j * win_stride_j) elements",
              "sfu_latency_cycles + ceil(dst elements * window elements / sfu_lanes)"),
    InstrSpec("sfu.avgpool", 0x59, Engine.SFU, _ops("dst:ap", "src:ap", "win:window", "scale:fimm"),
              "dst[i] = scale * sum over window offsets of src[i] shifted (scale = 1 / divisor)",
              "as sfu.maxpool"),
]

INSTRUCTIONS: dict[str, InstrSpec] = {s.mnemonic: s for s in _SPECS}
"""Every instruction, by mnemonic."""

BY_OPCODE: dict[int, InstrSpec] = {s.opcode: s for s in _SPECS}
assert len(BY_OPCODE) == len(INSTRUCTIONS), "duplicate opcode"


@dataclass(frozen=True)
class Instruction:
    """One decoded instruction: the spec's mnemonic and its operand values by name.

    Operand values: REG/SEM/IMM/COUNT/LEN -> int, FIMM -> float, CORE -> int or None,
    AP/AP_PAD -> AccessPattern, WINDOW -> Window; an absent optional operand is None.
    """

    mnemonic: str
    operands: dict = field(default_factory=dict)
    origin: str | None = field(default=None, compare=False)
    """The layer (nn op name) the instruction was compiled for: provenance, shown in traces."""

    def __post_init__(self) -> None:
        # One canonical form, whoever builds it: absent optional operands are None and
        # float immediates are the fp32 values the encoding can hold.
        spec = INSTRUCTIONS.get(self.mnemonic)
        if spec is None:
            raise ValueError(f"unknown instruction '{self.mnemonic}'")
        object.__setattr__(self, "operands", dict(self.operands))  # never alias the caller's dict
        for op in spec.operands:
            value = self.operands.get(op.name)
            if op.kind is Kind.FIMM and value is not None and value == value:
                try:
                    value = bits_f32(f32_bits(value))
                except OverflowError:
                    pass  # beyond fp32: left for the encoder to report with its field name
            self.operands[op.name] = value

    @property
    def spec(self) -> InstrSpec:
        return INSTRUCTIONS[self.mnemonic]

    def __hash__(self) -> int:  # operands is a dict: hash by identity of content
        return hash((self.mnemonic, tuple(sorted(self.operands.items(), key=lambda kv: kv[0]))))


def stream_engine(stream: str) -> Engine:
    """The engine kind of a stream name (`dma0`, `mpe1`, `sfu0`)."""
    for kind in (Engine.DMA, Engine.MPE, Engine.SFU):
        if stream.startswith(kind.value) and stream[len(kind.value):].isdigit():
            return kind
    raise ValueError(f"'{stream}' is not a stream name (dma<N>, mpe<N> or sfu<N>)")


def f32_bits(value: float) -> int:
    """The IEEE fp32 bit pattern of a float immediate."""
    return struct.unpack("<I", struct.pack("<f", value))[0]


def bits_f32(bits: int) -> float:
    return struct.unpack("<f", struct.pack("<I", bits & 0xFFFFFFFF))[0]
