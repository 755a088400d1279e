"""A rapid program in memory: what the assembler builds, the binary stores and the
emulator runs.

A program is built for one machine. Each core has up to one instruction stream per
engine (`dma0`, `mpe0`, `sfu0`, ...); DRAM holds the initialised data segments
(weights) and the named input and output tensors listed in the symbol table. The
host-op manifest lists the `nn` ops the host runs in between (`host N` runs entry N).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from rapid_mlir.backend.isa import DType, Instruction


@dataclass(frozen=True)
class TensorSymbol:
    """A named input or output tensor in device DRAM (row-major, contiguous)."""

    name: str
    kind: str  # "input" or "output"
    dtype: DType
    shape: tuple[int, ...]
    address: int

    @property
    def nbytes(self) -> int:
        return math.prod(self.shape) * self.dtype.itemsize


@dataclass(frozen=True)
class DataSegment:
    """Initialised DRAM contents (e.g. weights), loaded before the program starts.

    `data` holds the bytes as they sit in DRAM: f16 values already in the machine's
    16-bit format (IEEE or DLFloat16 bits), f32 as IEEE little-endian.
    """

    name: str
    dtype: DType
    shape: tuple[int, ...]
    address: int
    data: bytes
    source: str | None = field(default=None, compare=False)
    """The weight file the data came from (entry `name`), when it came from one: IR
    refers to it instead of holding the values."""

    @property
    def nbytes(self) -> int:
        return len(self.data)


@dataclass(frozen=True)
class HostTensor:
    """A DRAM tensor a host op reads or writes (row-major, contiguous): a program input
    or output, a data segment or a scratch buffer, named for reports."""

    name: str
    dtype: DType
    shape: tuple[int, ...]
    address: int

    @property
    def nbytes(self) -> int:
        return math.prod(self.shape) * self.dtype.itemsize


@dataclass(frozen=True)
class HostOp:
    """One entry of the host-op manifest, run by the `host N` instruction: an `nn` op with
    no device lowering (or marked `nn.host`), as the MLIR text of a function
    `func.func @host(inputs...) -> (outputs...)` holding it, and the DRAM tensors that
    carry its operands (`inputs`, one per function argument) and results (`outputs`)."""

    layer: str
    function: str
    inputs: tuple[HostTensor, ...] = ()
    outputs: tuple[HostTensor, ...] = ()
    """The bytes a call moves over the host link: `backend.host.link_bytes`."""


@dataclass
class Program:
    """Streams per (core, stream name), the symbol table, the data segments and the
    host-op manifest (entry N is what `host N` runs)."""

    machine: object  # rapid_mlir.machine.Machine
    streams: dict[tuple[int, str], list[Instruction]] = field(default_factory=dict)
    symbols: list[TensorSymbol] = field(default_factory=list)
    data: list[DataSegment] = field(default_factory=list)
    host_ops: list[HostOp] = field(default_factory=list)

    def symbol(self, name: str) -> TensorSymbol:
        for s in self.symbols:
            if s.name == name:
                return s
        raise KeyError(name)

    def inputs(self) -> list[TensorSymbol]:
        return [s for s in self.symbols if s.kind == "input"]

    def outputs(self) -> list[TensorSymbol]:
        return [s for s in self.symbols if s.kind == "output"]

    def instruction_count(self) -> int:
        return sum(len(v) for v in self.streams.values())
