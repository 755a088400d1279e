"""Machine-dependent legality of rapid ISA instructions.

One function, `check_instruction`, used by the assembler, the `rapid_isa` dialect's
verifier and the emulator's loader, so that all three accept exactly the same programs.
Encoding limits (field widths) are checked separately by the encoder; here the limits
come from the machine description: register, semaphore and core numbers, which engine
may run what, memory sizes, and the L0 operand buffers of the matrix engine.
"""

from __future__ import annotations

from rapid_mlir.backend.isa import (
    MAX_DIMS,
    AccessPattern,
    DType,
    Engine,
    Instruction,
    Kind,
    Space,
    Window,
    stream_engine,
)


class IsaError(ValueError):
    """An instruction that the machine cannot execute, with a message naming the field.

    `pc` is the instruction's index in its stream when the error comes from check_stream.
    """

    def __init__(self, message: str, pc: int | None = None):
        super().__init__(message)
        self.pc = pc


def space_bytes(machine, space: Space) -> int:
    """The size of a memory space on this machine."""
    return {Space.DRAM: machine.dram_bytes, Space.LX: machine.lx_bytes, Space.ACC: machine.acc_bytes}[space]


def _fail(instr: Instruction, msg: str) -> None:
    raise IsaError(f"{instr.mnemonic}: {msg}")


def _check_ap(instr: Instruction, name: str, ap: AccessPattern, machine) -> None:
    if not 1 <= len(ap.dims) <= MAX_DIMS:
        _fail(instr, f"operand '{name}' has {len(ap.dims)} dimensions but 1 to {MAX_DIMS} are allowed")
    for d, (size, _) in enumerate(ap.dims):
        if size < 1:
            _fail(instr, f"operand '{name}' dimension {d} has size {size} but must be >= 1")
    if ap.reg >= machine.registers:
        _fail(instr, f"operand '{name}' uses r{ap.reg} but the machine has r0..r{machine.registers - 1}")
    if ap.pads is not None:
        if len(ap.pads) != len(ap.dims):
            _fail(instr, f"operand '{name}' has {len(ap.pads)} pads for {len(ap.dims)} dimensions")
        for d, ((size, _), (lo, hi)) in enumerate(zip(ap.dims, ap.pads)):
            if lo < 0 or hi < 0 or lo + hi > size:
                _fail(instr, f"operand '{name}' dimension {d} pads {lo}:{hi} do not fit its size {size}")
    if ap.core is not None and ap.core >= machine.cores:
        _fail(instr, f"operand '{name}' names core {ap.core} but the machine has cores 0..{machine.cores - 1}")
    if ap.reg == 0:  # a static address: check the bounds now (else the emulator does at run time)
        lo, hi = ap.extent()
        limit = space_bytes(machine, ap.space)
        if lo < 0 or hi > limit:
            _fail(instr, f"operand '{name}' touches bytes [{lo}, {hi}) of {ap.space.name.lower()} "
                         f"but it has {limit} bytes")


def _expect(instr: Instruction, name: str, ap: AccessPattern, spaces: tuple[Space, ...],
            dtype: DType | None = None, rank: int | None = None) -> None:
    if ap.space not in spaces:
        allowed = " or ".join(s.name.lower() for s in spaces)
        _fail(instr, f"operand '{name}' is in {ap.space.name.lower()} but must be in {allowed}")
    if dtype is not None and ap.dtype != dtype:
        _fail(instr, f"operand '{name}' has type {ap.dtype.name.lower()} but must be {dtype.name.lower()}")
    if rank is not None and len(ap.dims) != rank:
        _fail(instr, f"operand '{name}' has {len(ap.dims)} dimensions but must have {rank}")
    if ap.core is not None and (name != "dst" or instr.mnemonic != "dma.copy"):
        _fail(instr, f"operand '{name}' cannot name another core (only a DMA destination can)")
    if ap.pads is not None and any(p != (0, 0) for p in ap.pads) and instr.mnemonic != "dma.copy":
        _fail(instr, f"operand '{name}' cannot be padded (only a DMA source can)")


def _same_shape(instr: Instruction, names: tuple[str, ...]) -> None:
    shapes = {n: instr.operands[n].shape for n in names}
    first = names[0]
    for n in names[1:]:
        if shapes[n] != shapes[first]:
            _fail(instr, f"operand '{n}' has shape {list(shapes[n])} but '{first}' has {list(shapes[first])}")


def _check_dma(instr: Instruction, machine) -> None:
    dst, src = instr.operands["dst"], instr.operands["src"]
    _expect(instr, "dst", dst, (Space.DRAM, Space.LX))
    _expect(instr, "src", src, (Space.DRAM, Space.LX))
    if dst.space == Space.DRAM and src.space == Space.DRAM:
        _fail(instr, "copies between DRAM and LX or from LX to LX, not DRAM to DRAM")
    if dst.core is not None and (dst.space != Space.LX or src.space != Space.LX):
        _fail(instr, "a remote destination lx@core needs an LX source")
    if dst.dtype != src.dtype:
        _fail(instr, f"dst has type {dst.dtype.name.lower()} but src has {src.dtype.name.lower()}")
    if dst.pads is not None and any(p != (0, 0) for p in dst.pads):
        _fail(instr, "operand 'dst' cannot be padded (only the source can)")
    _same_shape(instr, ("dst", "src"))


def _check_mpe(instr: Instruction, machine) -> None:
    c, a, b = (instr.operands[n] for n in ("c", "a", "b"))
    _expect(instr, "c", c, (Space.ACC,), DType.F32, 3)
    _expect(instr, "a", a, (Space.LX,), DType.F16, 3)
    _expect(instr, "b", b, (Space.LX,), DType.F16, 2)
    (mo, mi, n), (amo, ami, k), (bk, bn) = c.shape, a.shape, b.shape
    if (amo, ami) != (mo, mi):
        _fail(instr, f"a has rows {amo}x{ami} but c has {mo}x{mi}")
    if bk != k:
        _fail(instr, f"a has k = {k} but b has k = {bk}")
    if bn != n:
        _fail(instr, f"b has n = {bn} but c has n = {n}")
    a_bytes, b_bytes = mo * mi * k * 2, k * n * 2
    if a_bytes > machine.l0_a_bytes:
        _fail(instr, f"the A tile {mo * mi}x{k} needs {a_bytes} bytes but L0 A holds {machine.l0_a_bytes}")
    if b_bytes > machine.l0_b_bytes:
        _fail(instr, f"the B tile {k}x{n} needs {b_bytes} bytes but L0 B holds {machine.l0_b_bytes}")


def _check_sfu(instr: Instruction, machine) -> None:
    aps = [n for n, v in instr.operands.items() if isinstance(v, AccessPattern)]
    for n in aps:
        _expect(instr, n, instr.operands[n], (Space.LX, Space.ACC))
    m = instr.mnemonic
    if m in ("sfu.rsum", "sfu.rmax"):
        dst, src = instr.operands["dst"], instr.operands["src"]
        want = src.shape[:-1] + (1,)
        if dst.shape != want:
            _fail(instr, f"dst has shape {list(dst.shape)} but reducing src {list(src.shape)} "
                         f"over its innermost dimension gives {list(want)}")
        return
    if m in ("sfu.maxpool", "sfu.avgpool"):
        win: Window = instr.operands["win"]
        if not 1 <= len(win.dims) <= 2 or any(s < 1 for s, _ in win.dims):
            _fail(instr, f"window {list(win.dims)} must have 1 or 2 dimensions of size >= 1")
        src = instr.operands["src"]
        if src.reg == 0:  # the windows reach past the origins the src pattern lists
            lo, hi = AccessPattern(src.space, src.dtype, src.dims + win.dims, src.offset).extent()
            limit = space_bytes(machine, src.space)
            if lo < 0 or hi > limit:
                _fail(instr, f"operand 'src' with its window touches bytes [{lo}, {hi}) of "
                             f"{src.space.name.lower()} but it has {limit} bytes")
    _same_shape(instr, tuple(aps))


def check_instruction(instr: Instruction, machine, stream: str | None = None) -> None:
    """Raises IsaError if `instr` cannot run on `machine` (in `stream`, when given)."""
    spec = instr.spec
    if stream is not None and spec.engine is not Engine.ANY and stream_engine(stream) is not spec.engine:
        _fail(instr, f"runs on {spec.engine.value} streams, not in stream {stream}")
    for op in spec.operands:
        value = instr.operands.get(op.name)
        if value is None:
            if not op.optional:
                _fail(instr, f"operand '{op.name}' is missing")
            continue
        if op.kind is Kind.REG:
            if not 0 <= value < machine.registers:
                _fail(instr, f"register r{value} is out of range r0..r{machine.registers - 1}")
            if op.name == "rd" and value == 0:
                _fail(instr, "r0 always reads 0 and cannot be written")
        elif op.kind in (Kind.COUNT, Kind.LEN) and value < 1:
            _fail(instr, f"{op.name} must be >= 1 but is {value}")
        elif op.kind is Kind.SEM and not 0 <= value < machine.semaphores:
            _fail(instr, f"semaphore s{value} is out of range s0..s{machine.semaphores - 1}")
        elif op.kind is Kind.CORE and not 0 <= value < machine.cores:
            _fail(instr, f"core {value} is out of range 0..{machine.cores - 1}")
        elif op.kind in (Kind.AP, Kind.AP_PAD):
            _check_ap(instr, op.name, value, machine)
    if spec.engine is Engine.DMA:
        _check_dma(instr, machine)
    elif spec.engine is Engine.MPE:
        _check_mpe(instr, machine)
    elif spec.engine is Engine.SFU:
        _check_sfu(instr, machine)


def check_stream(instrs: list[Instruction], machine, core: int, stream: str) -> None:
    """Stream-level rules: every instruction legal, loops nested at most loop_depth deep
    with bodies inside the stream, and a final `halt` (so no stream runs off its end)."""
    where = f"core {core} stream {stream}"
    if stream not in machine.streams_per_core:
        raise IsaError(f"{where}: the machine has no stream '{stream}' "
                       f"(streams: {', '.join(machine.streams_per_core)})")
    if core >= machine.cores:
        raise IsaError(f"{where}: the machine has cores 0..{machine.cores - 1}")
    open_loops: list[int] = []  # end index (exclusive) of each enclosing loop body
    for pc, instr in enumerate(instrs):
        while open_loops and pc >= open_loops[-1]:
            open_loops.pop()
        try:
            check_instruction(instr, machine, stream)
        except IsaError as e:
            raise IsaError(f"{where}, instruction {pc}: {e}", pc) from None
        if instr.mnemonic == "loop":
            end = pc + 1 + instr.operands["len"]
            if end > len(instrs):
                raise IsaError(f"{where}, instruction {pc}: loop body of {instr.operands['len']} "
                               f"instructions runs past the end of the stream", pc)
            if open_loops and end > open_loops[-1]:
                raise IsaError(f"{where}, instruction {pc}: loop body ends after its enclosing loop's", pc)
            open_loops.append(end)
            if len(open_loops) > machine.loop_depth:
                raise IsaError(f"{where}, instruction {pc}: loops nest {len(open_loops)} deep but "
                               f"the machine allows {machine.loop_depth}", pc)
    if not instrs or instrs[-1].mnemonic != "halt":
        raise IsaError(f"{where}: the stream must end with halt", max(len(instrs) - 1, 0))
