"""Loading a `Program` into the emulator: checks, then instructions compiled to tuples.

Every stream is checked with `isa_check.check_stream` (the same rules as the assembler
and the binary reader), the program must have been built for the machine it runs on,
and data segments and tensor symbols must lie in DRAM. Each instruction then becomes a
tuple `(opcode, operands...)` the scheduler dispatches on without looking anything up:
control instructions carry their integers, data instructions a compiled op
(`semantics.DmaOp`, `MpeOp`, `SfuOp`) with their regions and durations precomputed.
"""

from __future__ import annotations

import math

from rapid_mlir.backend.isa import AccessPattern, Instruction, Kind, Space
from rapid_mlir.backend.isa_check import check_stream
from rapid_mlir.backend.printer import format_ap, format_instruction
from rapid_mlir.backend.program import Program
from rapid_mlir.emulator import timing
from rapid_mlir.emulator.errors import LoadError
from rapid_mlir.emulator.memory import Region, pad_bits
from rapid_mlir.emulator.semantics import DmaOp, MpeOp, SfuOp

# Opcodes of compiled instructions. Those below SCALAR_END only touch their own stream's
# registers and loop stack, so the scheduler runs them without synchronising.
NOP, LI, ADDI, LOOP = 0, 1, 2, 3
SCALAR_END = 4
HALT, WAIT, SIGNAL, BARRIER, DMA, MPE, SFU, HOST, END = 4, 5, 6, 7, 8, 9, 10, 11, 12

_CONTROL = {"nop": NOP, "li": LI, "addi": ADDI, "loop": LOOP, "halt": HALT, "wait": WAIT,
            "signal": SIGNAL, "barrier": BARRIER}


class StreamCode:
    """One stream of the program, compiled."""

    def __init__(self, core: int, name: str, sidx: int, gsi: int, instrs: list[Instruction],
                 code: list[tuple]):
        self.core = core
        self.name = name
        self.sidx = sidx  # index in machine.streams_per_core
        self.gsi = gsi  # global stream index: core * len(streams_per_core) + sidx
        self.corelet = int(name[3:]) if name[:3] in ("mpe", "sfu") else 0
        self.instrs = instrs
        self.code = code
        self._texts: dict[int, str] = {}

    def text(self, pc: int) -> str:
        """The assembly text of instruction `pc` (cached)."""
        if pc >= len(self.instrs):
            return "<end of stream>"
        text = self._texts.get(pc)
        if text is None:
            text = self._texts[pc] = format_instruction(self.instrs[pc])
        return text

    def origin(self, pc: int):
        """The `nn` op an instruction came from, if the compiler recorded one."""
        return getattr(self.instrs[pc], "origin", None) if pc < len(self.instrs) else None


class LoadedProgram:
    """A program checked and compiled for one machine; an `Emulator` can be built from it
    any number of times without recompiling."""

    def __init__(self, program: Program, machine=None):
        self.machine = check_machine(program, machine)
        check_layout(program, self.machine)
        self.program = program
        self.streams = load_streams(program, self.machine)


def load_program(program, machine=None) -> LoadedProgram:
    """`program` (a Program or an already LoadedProgram) checked and compiled for `machine`."""
    if isinstance(program, LoadedProgram):
        check_machine(program.program, machine)
        return program
    return LoadedProgram(program, machine)


def check_machine(program: Program, machine) -> object:
    """The machine to run on: `machine` if given (and the program was built for it),
    else the program's own."""
    if machine is None:
        return program.machine
    built = program.machine
    if built is not machine and built.fingerprint() != machine.fingerprint():
        raise LoadError(f"the program was built for machine '{built.name}' (fingerprint "
                        f"{built.fingerprint()}) but is loaded on '{machine.name}' "
                        f"(fingerprint {machine.fingerprint()})")
    return machine


def check_layout(program: Program, machine) -> None:
    """Data segments and tensor symbols must lie inside DRAM."""
    for what, entries in (("data segment", program.data), ("tensor", program.symbols)):
        for e in entries:
            end = e.address + e.nbytes
            if e.address < 0 or end > machine.dram_bytes:
                raise LoadError(f"{what} '{e.name}' occupies DRAM bytes [{e.address:#x}, {end:#x}) "
                                f"but DRAM has {machine.dram_bytes:#x} bytes")
    for seg in program.data:
        want = math.prod(seg.shape) * seg.dtype.itemsize
        if len(seg.data) != want:
            raise LoadError(f"data segment '{seg.name}' {seg.dtype.name.lower()} {list(seg.shape)} "
                            f"needs {want} bytes but holds {len(seg.data)}")


def load_streams(program: Program, machine) -> list[StreamCode]:
    """Every stream of the program, checked and compiled, sorted by global stream index."""
    from rapid_mlir.emulator.host import HostCall

    names = machine.streams_per_core
    host_calls = [HostCall(i, entry, machine) for i, entry in enumerate(program.host_ops)]
    out = []
    for (core, name), instrs in program.streams.items():
        try:
            check_stream(list(instrs), machine, core, name)
        except (ValueError, KeyError, TypeError, AttributeError) as e:  # IsaError is a ValueError
            raise LoadError(f"cannot load the program: {_message(e)}") from None
        sidx = names.index(name)
        gsi = core * len(names) + sidx
        code = [compile_instruction(i, machine, core, name, pc, host_calls) for pc, i in enumerate(instrs)]
        code.append((END,))
        out.append(StreamCode(core, name, sidx, gsi, list(instrs), code))
    return sorted(out, key=lambda s: s.gsi)


def _message(e: BaseException) -> str:
    return str(e.args[0]) if isinstance(e, KeyError) and e.args else str(e)


def compile_instruction(instr: Instruction, machine, core: int, stream: str, pc: int,
                        host_calls: list | None = None) -> tuple:
    """The tuple the scheduler executes for one (already checked) instruction;
    `host_calls` are the program's compiled host-op manifest entries (`host.HostCall`)."""
    m, ops = instr.mnemonic, instr.operands
    if m == "host":
        from rapid_mlir.backend.host import unknown_entry

        calls = host_calls or []
        if not 0 <= ops["entry"] < len(calls):
            raise LoadError(f"cannot load the program: core {core} stream {stream}, instruction {pc}: "
                            + unknown_entry(ops["entry"], len(calls)))
        return (HOST, calls[ops["entry"]])
    if m in _CONTROL:
        op = _CONTROL[m]
        if op == LI:
            return (LI, ops["rd"], ops["imm"])
        if op == ADDI:
            return (ADDI, ops["rd"], ops["rs"], ops["imm"])
        if op == LOOP:
            return (LOOP, ops["count"], ops["len"])
        if op == WAIT:
            return (WAIT, ops["sem"])
        if op == SIGNAL:
            target = core if ops.get("core") is None else ops["core"]
            delay = timing.ring_hops(machine, core, target) * machine.ring_hop_cycles
            return (SIGNAL, ops["sem"], target, delay)
        return (op,)
    if m == "dma.copy":
        return (DMA, _compile_dma(instr, machine, core, stream, pc))
    if m in ("mpe.mm", "mpe.mma"):
        c, a, b = (Region.of(n, ops[n], format_ap(ops[n])) for n in ("c", "a", "b"))
        m_rows = c.shape[0] * c.shape[1]
        duration = timing.mpe_cycles(machine, m_rows, c.shape[2], a.shape[2])
        return (MPE, MpeOp(c, a, b, m == "mpe.mma", duration))
    return (SFU, _compile_sfu(instr, machine))


def _compile_dma(instr: Instruction, machine, core: int, stream: str, pc: int) -> DmaOp:
    ops = instr.operands
    dst_ap: AccessPattern = ops["dst"]
    src_ap: AccessPattern = ops["src"]
    if dst_ap.pads is not None and any(p != (0, 0) for p in dst_ap.pads):
        raise LoadError(f"cannot load the program: core {core} stream {stream}, instruction {pc}: "
                        f"dma.copy: operand 'dst' is padded, but only a DMA source can be")
    dst = Region.of("dst", dst_ap, format_ap(dst_ap))
    remote = dst_ap.core if dst_ap.core is not None and dst_ap.core != core else None
    interior, fill = None, None
    if src_ap.pads is not None and any(p != (0, 0) for p in src_ap.pads):
        valid = tuple(size - lo - hi for (size, _), (lo, hi) in zip(src_ap.dims, src_ap.pads))
        src = Region("src", src_ap, valid, src_ap.strides, src_ap.offset, format_ap(src_ap))
        interior = tuple(slice(lo, size - hi) for (size, _), (lo, hi) in zip(src_ap.dims, src_ap.pads))
        padval = ops.get("padval")
        fill = pad_bits(0.0 if padval is None else padval, src_ap.dtype, machine.fp16_format)
    else:
        src = Region.of("src", src_ap, format_ap(src_ap))
    if Space.DRAM in (dst.space, src.space):
        # Bytes that cross the DRAM interface: the unpadded source, or the destination.
        nbytes = src.nbytes if src.space is Space.DRAM else dst.nbytes
        latency, hops = machine.dram_latency_cycles, 0
    else:
        nbytes = dst.nbytes
        hops = timing.ring_hops(machine, core, dst_ap.core if dst_ap.core is not None else core)
        latency = hops * machine.ring_hop_cycles
    return DmaOp(dst, src, interior, fill, remote, nbytes, latency, hops)


def _compile_sfu(instr: Instruction, machine) -> SfuOp:
    m, ops = instr.mnemonic, instr.operands
    spec = instr.spec
    aps = [(o.name, ops[o.name]) for o in spec.operands if isinstance(ops.get(o.name), AccessPattern)]
    params = tuple(ops[o.name] for o in spec.operands if o.kind is Kind.FIMM)
    dst_ap = ops["dst"]
    dst = Region.of("dst", dst_ap, format_ap(dst_ap))
    srcs = [Region.of(n, ap, format_ap(ap)) for n, ap in aps if n != "dst"]
    elements, axes = dst.elements, ()
    if m in ("sfu.rsum", "sfu.rmax"):
        elements = srcs[0].elements
    elif m in ("sfu.maxpool", "sfu.avgpool"):
        win = ops["win"]
        src_ap = ops["src"]
        # The window as trailing dimensions: offset w adds sum(w_j * win_stride_j) elements.
        shape = src_ap.shape + tuple(s for s, _ in win.dims)
        strides = src_ap.strides + tuple(t for _, t in win.dims)
        srcs = [Region("src", src_ap, shape, strides, src_ap.offset, format_ap(src_ap))]
        axes = tuple(range(len(src_ap.dims), len(shape)))
        elements = dst.elements * win.elements
    duration = timing.sfu_cycles(machine, m, elements)
    return SfuOp(m, dst, srcs, params, duration, axes)
