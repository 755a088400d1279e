"""Building small `Program`s directly in Python, without the assembler.

For tests, benchmarks and experiments:

    b = ProgramBuilder(machine)
    b.input("x", DType.F16, (8, 8), address=0)
    s = b.stream(0, "dma0")
    s.emit("dma.copy", dst=lx(0, F16, (8, 8)), src=dram(0, F16, (8, 8)))
    s.signal(0)
    s.halt()
    program = b.build()

`lx`, `dram` and `acc` make access patterns: a shape (row-major strides unless given)
or explicit `(size, stride)` dims.
"""

from __future__ import annotations

import math

import numpy as np

from rapid_mlir.backend.isa import AccessPattern, DType, Instruction, Space, Window
from rapid_mlir.backend.program import DataSegment, HostOp, HostTensor, Program, TensorSymbol
from rapid_mlir.emulator.memory import encode_array

F16, F32 = DType.F16, DType.F32


def row_major(shape) -> tuple[tuple[int, int], ...]:
    """(size, stride) pairs of a contiguous row-major tensor of `shape`."""
    dims, stride = [], 1
    for size in reversed(tuple(shape)):
        dims.append((size, stride))
        stride *= size
    return tuple(reversed(dims))


def ap(space: Space, offset: int, dtype: DType, shape=None, *, dims=None, reg: int = 0,
       core: int | None = None, pads=None) -> AccessPattern:
    """An access pattern: `shape` (row-major) or explicit `dims` of (size, stride)."""
    if dims is None:
        dims = row_major(shape)
    return AccessPattern(space, dtype, tuple(tuple(d) for d in dims), offset, reg, core,
                         None if pads is None else tuple(tuple(p) for p in pads))


def dram(offset: int, dtype: DType, shape=None, **kw) -> AccessPattern:
    return ap(Space.DRAM, offset, dtype, shape, **kw)


def lx(offset: int, dtype: DType, shape=None, **kw) -> AccessPattern:
    return ap(Space.LX, offset, dtype, shape, **kw)


def acc(offset: int, dtype: DType, shape=None, **kw) -> AccessPattern:
    return ap(Space.ACC, offset, dtype, shape, **kw)


def window(*dims) -> Window:
    """A pooling window from (size, stride) pairs."""
    return Window(tuple(tuple(d) for d in dims))


class StreamBuilder:
    """Appends instructions to one stream."""

    def __init__(self, instrs: list[Instruction]):
        self.instrs = instrs

    def emit(self, mnemonic: str, **operands) -> StreamBuilder:
        self.instrs.append(Instruction(mnemonic, operands))
        return self

    def nop(self):
        return self.emit("nop")

    def halt(self):
        return self.emit("halt")

    def li(self, rd: int, imm: int):
        return self.emit("li", rd=rd, imm=imm)

    def addi(self, rd: int, rs: int, imm: int):
        return self.emit("addi", rd=rd, rs=rs, imm=imm)

    def loop(self, count: int, length: int):
        return self.emit("loop", count=count, len=length)

    def wait(self, sem: int):
        return self.emit("wait", sem=sem)

    def signal(self, sem: int, core: int | None = None):
        return self.emit("signal", sem=sem, core=core)

    def barrier(self):
        return self.emit("barrier")

    def dma(self, dst: AccessPattern, src: AccessPattern, padval: float | None = None):
        return self.emit("dma.copy", dst=dst, src=src, padval=padval)

    def mm(self, c: AccessPattern, a: AccessPattern, b: AccessPattern, accumulate: bool = False):
        return self.emit("mpe.mma" if accumulate else "mpe.mm", c=c, a=a, b=b)

    def host(self, entry: int):
        return self.emit("host", entry=entry)


class ProgramBuilder:
    """Collects symbols, data segments and streams into a `Program`."""

    def __init__(self, machine):
        self.machine = machine
        self.program = Program(machine)

    def input(self, name: str, dtype: DType, shape, address: int) -> TensorSymbol:
        sym = TensorSymbol(name, "input", dtype, tuple(shape), address)
        self.program.symbols.append(sym)
        return sym

    def output(self, name: str, dtype: DType, shape, address: int) -> TensorSymbol:
        sym = TensorSymbol(name, "output", dtype, tuple(shape), address)
        self.program.symbols.append(sym)
        return sym

    def data(self, name: str, dtype: DType, values: np.ndarray, address: int) -> DataSegment:
        """An initialised DRAM segment holding `values` converted to `dtype`."""
        values = np.asarray(values, dtype=np.float32)
        seg = DataSegment(name, dtype, values.shape, address,
                          encode_array(values, dtype, self.machine.fp16_format))
        assert len(seg.data) == math.prod(values.shape) * dtype.itemsize
        self.program.data.append(seg)
        return seg

    def host_op(self, layer: str, function: str, inputs, outputs) -> int:
        """Appends a host-op manifest entry (inputs and outputs as `HostTensor`s or
        `(name, dtype, shape, address)` tuples); returns its index for `host`."""
        tensor = lambda t: t if isinstance(t, HostTensor) else HostTensor(t[0], t[1], tuple(t[2]), t[3])  # noqa: E731
        self.program.host_ops.append(HostOp(layer, function, tuple(map(tensor, inputs)),
                                            tuple(map(tensor, outputs))))
        return len(self.program.host_ops) - 1

    def stream(self, core: int, name: str) -> StreamBuilder:
        return StreamBuilder(self.program.streams.setdefault((core, name), []))

    def build(self) -> Program:
        return self.program
