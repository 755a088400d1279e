"""The binary encoding of rapid instructions, derived from the ISA table.

Every instruction is its 8-bit opcode followed by the fields of its operands in the
order `isa.INSTRUCTIONS` lists them, packed least-significant bit first into one
integer, zero-padded to a multiple of 64 bits and stored little-endian. An
instruction's length therefore follows from its opcode (`SIZES`).

The field table of each instruction (`FORMATS`) is built from the operand kinds, so a
new instruction in `isa.py` gets an encoding without code here:

    reg 8 | imm 32 signed | fimm 32 (IEEE fp32 bits) | count 24 | len 16 | sem 16 |
    core 8 | host_op 16 | ap: space 2, dtype 2, reg 8, offset 32 signed, ndims 3, core.present 1,
    core 8, then MAX_DIMS x (size SIZE_BITS, stride STRIDE_BITS signed) |
    ap_pad: ap, has_pads 1, MAX_DIMS x (pad_lo 8, pad_hi 8) |
    window: ndims 2, MAX_WINDOW_DIMS x (size 16, stride 24 signed)

An optional operand is preceded by a 1-bit presence flag (`padval.present`). Decoding
is strict: unused dimension slots, absent optional operands and the padding after the
last field must be zero, so that `encode(decode(b)) == b` for every accepted `b`.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass

from rapid_mlir.backend.isa import (
    BY_OPCODE,
    INSTRUCTIONS,
    MAX_DIMS,
    MAX_WINDOW_DIMS,
    OFFSET_BITS,
    PAD_BITS,
    SIZE_BITS,
    STRIDE_BITS,
    AccessPattern,
    DType,
    Instruction,
    Kind,
    OperandSpec,
    Space,
    Window,
)

OPCODE_BITS = 8
WORD_BITS = 64
WINDOW_SIZE_BITS = 16
WINDOW_STRIDE_BITS = 24


class EncodingError(ValueError):
    """A value that does not fit its field, or bytes that are not a valid instruction."""


@dataclass(frozen=True)
class Field:
    """One bit field of an instruction format: `a.stride1`, 24 bits, signed."""

    name: str
    bits: int
    signed: bool = False

    @property
    def lo(self) -> int:
        return -(1 << (self.bits - 1)) if self.signed else 0

    @property
    def hi(self) -> int:
        return (1 << (self.bits - 1)) - 1 if self.signed else (1 << self.bits) - 1

    def describe(self) -> str:
        sign = "signed" if self.signed else "unsigned"
        return f"{self.bits}-bit {sign} [{self.lo}, {self.hi}]"


# Field layout per operand kind ------------------------------------------------------

_SCALAR_BITS = {Kind.REG: (8, False), Kind.IMM: (32, True), Kind.FIMM: (32, False),
                Kind.COUNT: (24, False), Kind.LEN: (16, False), Kind.SEM: (16, False),
                Kind.CORE: (8, False), Kind.HOST_OP: (16, False)}


def _ap_fields(name: str) -> list[Field]:
    out = [Field(f"{name}.space", 2), Field(f"{name}.dtype", 2), Field(f"{name}.reg", 8),
           Field(f"{name}.offset", OFFSET_BITS, True), Field(f"{name}.ndims", 3),
           Field(f"{name}.core.present", 1), Field(f"{name}.core", 8)]
    for d in range(MAX_DIMS):
        out += [Field(f"{name}.size{d}", SIZE_BITS), Field(f"{name}.stride{d}", STRIDE_BITS, True)]
    return out


def _pad_fields(name: str) -> list[Field]:
    out = [Field(f"{name}.has_pads", 1)]
    for d in range(MAX_DIMS):
        out += [Field(f"{name}.pad_lo{d}", PAD_BITS), Field(f"{name}.pad_hi{d}", PAD_BITS)]
    return out


def _window_fields(name: str) -> list[Field]:
    out = [Field(f"{name}.ndims", 2)]
    for d in range(MAX_WINDOW_DIMS):
        out += [Field(f"{name}.size{d}", WINDOW_SIZE_BITS),
                Field(f"{name}.stride{d}", WINDOW_STRIDE_BITS, True)]
    return out


def operand_fields(op: OperandSpec) -> list[Field]:
    """The fields of one operand, in encoding order (presence flag first if optional)."""
    out = [Field(f"{op.name}.present", 1)] if op.optional else []
    if op.kind in _SCALAR_BITS:
        bits, signed = _SCALAR_BITS[op.kind]
        return out + [Field(op.name, bits, signed)]
    if op.kind is Kind.AP:
        return out + _ap_fields(op.name)
    if op.kind is Kind.AP_PAD:
        return out + _ap_fields(op.name) + _pad_fields(op.name)
    if op.kind is Kind.WINDOW:
        return out + _window_fields(op.name)
    raise AssertionError(f"no encoding for operand kind {op.kind}")


FORMATS: dict[str, list[Field]] = {
    m: [Field("opcode", OPCODE_BITS)] + [f for op in spec.operands for f in operand_fields(op)]
    for m, spec in INSTRUCTIONS.items()
}
"""Every instruction's fields in encoding order (LSB first), starting with the opcode."""

SIZES: dict[str, int] = {
    m: math.ceil(sum(f.bits for f in fields) / WORD_BITS) * WORD_BITS // 8
    for m, fields in FORMATS.items()
}
"""Every instruction's length in bytes (a multiple of 8)."""


# Operand values <-> field values ---------------------------------------------------


def _fail(mnemonic: str, msg: str) -> None:
    raise EncodingError(f"{mnemonic}: {msg}")


def _ap_values(m: str, name: str, ap, padded: bool) -> list[int]:
    if not isinstance(ap, AccessPattern):
        _fail(m, f"operand '{name}' must be an access pattern, got {ap!r}")
    if len(ap.dims) > MAX_DIMS:
        _fail(m, f"field '{name}.ndims' = {len(ap.dims)} exceeds the {MAX_DIMS} dimension slots")
    dims = list(ap.dims) + [(0, 0)] * (MAX_DIMS - len(ap.dims))
    core = ap.core
    out = [int(ap.space), int(ap.dtype), ap.reg, ap.offset, len(ap.dims),
           0 if core is None else 1, 0 if core is None else core]
    for size, stride in dims:
        out += [size, stride]
    if not padded:
        if ap.pads is not None:
            _fail(m, f"operand '{name}' cannot have pads (only ap_pad operands can)")
        return out
    if ap.pads is None:
        return out + [0] * (1 + 2 * MAX_DIMS)
    if len(ap.pads) != len(ap.dims):
        _fail(m, f"operand '{name}' has {len(ap.pads)} pads for {len(ap.dims)} dimensions")
    pads = list(ap.pads) + [(0, 0)] * (MAX_DIMS - len(ap.pads))
    out.append(1)
    for lo, hi in pads:
        out += [lo, hi]
    return out


def _window_values(m: str, name: str, win) -> list[int]:
    if not isinstance(win, Window):
        _fail(m, f"operand '{name}' must be a window, got {win!r}")
    if len(win.dims) > MAX_WINDOW_DIMS:
        _fail(m, f"field '{name}.ndims' = {len(win.dims)} exceeds the {MAX_WINDOW_DIMS} window slots")
    out = [len(win.dims)]
    for size, stride in list(win.dims) + [(0, 0)] * (MAX_WINDOW_DIMS - len(win.dims)):
        out += [size, stride]
    return out


def _fimm_bits(m: str, name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        _fail(m, f"field '{name}' = {value!r} is not a number")
    try:
        return struct.unpack("<I", struct.pack("<f", value))[0]
    except OverflowError:
        _fail(m, f"field '{name}' = {value!r} does not fit fp32 (largest finite 3.4028235e+38)")


def operand_values(m: str, op: OperandSpec, value) -> list[int]:
    """The field values of one operand (matching `operand_fields(op)`)."""
    if value is None:
        if not op.optional:
            _fail(m, f"operand '{op.name}' is missing")
        return [0] * len(operand_fields(op))
    flag = [1] if op.optional else []
    if op.kind is Kind.FIMM:
        return flag + [_fimm_bits(m, op.name, value)]
    if op.kind in _SCALAR_BITS:
        if isinstance(value, bool) or not isinstance(value, int):
            _fail(m, f"field '{op.name}' = {value!r} is not an integer")
        return flag + [value]
    if op.kind in (Kind.AP, Kind.AP_PAD):
        return flag + _ap_values(m, op.name, value, op.kind is Kind.AP_PAD)
    return flag + _window_values(m, op.name, value)


# Encoding ---------------------------------------------------------------------------


def encode(instr: Instruction) -> bytes:
    """The bytes of one instruction; EncodingError names the field that does not fit."""
    m = instr.mnemonic
    if m not in INSTRUCTIONS:
        raise EncodingError(f"unknown instruction '{m}'")
    spec = INSTRUCTIONS[m]
    unknown = set(instr.operands) - {op.name for op in spec.operands}
    if unknown:
        _fail(m, f"unknown operand '{sorted(unknown)[0]}'")
    values = [spec.opcode]
    for op in spec.operands:
        values += operand_values(m, op, instr.operands.get(op.name))
    word, pos = 0, 0
    for f, v in zip(FORMATS[m], values, strict=True):
        if isinstance(v, bool) or not isinstance(v, int):
            _fail(m, f"field '{f.name}' = {v!r} is not an integer")
        if not f.lo <= v <= f.hi:
            _fail(m, f"field '{f.name}' = {v} does not fit {f.describe()}")
        word |= (v & ((1 << f.bits) - 1)) << pos
        pos += f.bits
    return word.to_bytes(SIZES[m], "little")


def encode_stream(instrs: list[Instruction]) -> bytes:
    """The concatenated encodings of a stream's instructions."""
    out = bytearray()
    for pc, instr in enumerate(instrs):
        try:
            out += encode(instr)
        except EncodingError as e:
            raise EncodingError(f"instruction {pc}: {e}") from None
    return bytes(out)


# Decoding ---------------------------------------------------------------------------


class _Reader:
    """Takes field values off a decoded word, checking the strictness rules."""

    def __init__(self, m: str, where: str, fields: list[Field], values: list[int]):
        self.m, self.where = m, where
        self.items = list(zip(fields, values))
        self.pos = 0

    def fail(self, msg: str) -> None:
        raise EncodingError(f"{self.where}: {self.m}: {msg}")

    def take(self) -> tuple[Field, int]:
        item = self.items[self.pos]
        self.pos += 1
        return item

    def value(self) -> int:
        return self.take()[1]

    def zeros(self, n: int, why: str) -> None:
        for _ in range(n):
            f, v = self.take()
            if v:
                self.fail(f"field '{f.name}' = {v} must be 0 ({why})")

    def enum(self, cls, what: str):
        f, v = self.take()
        try:
            return cls(v)
        except ValueError:
            self.fail(f"field '{f.name}' = {v} is not {what}")

    def count(self, limit: int, what: str) -> int:
        f, v = self.take()
        if v > limit:
            self.fail(f"field '{f.name}' = {v} exceeds the {limit} {what}")
        return v


def _read_ap(r: _Reader, padded: bool) -> AccessPattern:
    space = r.enum(Space, "a memory space (0 dram, 1 lx, 2 acc)")
    dtype = r.enum(DType, "an element type (0 f16, 1 f32)")
    reg, offset = r.value(), r.value()
    ndims = r.count(MAX_DIMS, "dimension slots")
    core = None
    if r.value():
        core = r.value()
    else:
        r.zeros(1, "no remote core")
    dims = tuple((r.value(), r.value()) for _ in range(ndims))
    r.zeros(2 * (MAX_DIMS - ndims), "unused dimension slot")
    pads = None
    if padded:
        if r.value():
            pads = tuple((r.value(), r.value()) for _ in range(ndims))
            r.zeros(2 * (MAX_DIMS - ndims), "unused pad slot")
        else:
            r.zeros(2 * MAX_DIMS, "no pads")
    return AccessPattern(space, dtype, dims, offset, reg, core, pads)


def _read_window(r: _Reader) -> Window:
    ndims = r.count(MAX_WINDOW_DIMS, "window slots")
    dims = tuple((r.value(), r.value()) for _ in range(ndims))
    r.zeros(2 * (MAX_WINDOW_DIMS - ndims), "unused window slot")
    return Window(dims)


def _read_operand(r: _Reader, op: OperandSpec):
    if op.optional and not r.value():
        r.zeros(len(operand_fields(op)) - 1, f"operand '{op.name}' is absent")
        return None
    if op.kind is Kind.FIMM:
        return struct.unpack("<f", struct.pack("<I", r.value()))[0]
    if op.kind in _SCALAR_BITS:
        return r.value()
    if op.kind in (Kind.AP, Kind.AP_PAD):
        return _read_ap(r, op.kind is Kind.AP_PAD)
    return _read_window(r)


def decode(buf: bytes, offset: int = 0) -> tuple[Instruction, int]:
    """The instruction at `buf[offset:]` and the offset just after it.

    Absent optional operands are present in `operands` with the value None."""
    where = f"byte offset {offset}"
    if offset >= len(buf):
        raise EncodingError(f"{where}: expected an instruction but the code ends")
    spec = BY_OPCODE.get(buf[offset])
    if spec is None:
        raise EncodingError(f"{where}: unknown opcode 0x{buf[offset]:02x}")
    m, size = spec.mnemonic, SIZES[spec.mnemonic]
    if offset + size > len(buf):
        raise EncodingError(f"{where}: truncated instruction: {m} needs {size} bytes but "
                            f"only {len(buf) - offset} remain")
    word = int.from_bytes(buf[offset:offset + size], "little")
    fields = FORMATS[m]
    values, pos = [], 0
    for f in fields:
        v = (word >> pos) & ((1 << f.bits) - 1)
        if f.signed and v >> (f.bits - 1):
            v -= 1 << f.bits
        values.append(v)
        pos += f.bits
    if word >> pos:
        raise EncodingError(f"{where}: {m}: padding bits after the last field must be 0")
    r = _Reader(m, where, fields, values)
    r.value()  # the opcode
    operands = {op.name: _read_operand(r, op) for op in spec.operands}
    return Instruction(m, operands), offset + size


def decode_stream(buf: bytes) -> list[Instruction]:
    """Every instruction of a code section (which must end on an instruction boundary)."""
    out, offset = [], 0
    while offset < len(buf):
        instr, offset = decode(buf, offset)
        out.append(instr)
    return out


# Documentation ----------------------------------------------------------------------


def format_table_markdown() -> str:
    """The field tables as Markdown, one per distinct format (instructions whose operands
    have the same names and kinds share one); pasted into docs/assembly.md."""
    groups: dict[tuple[Field, ...], list[str]] = {}
    for m, fields in FORMATS.items():
        groups.setdefault(tuple(fields), []).append(m)
    lines = []
    for fields, mnemonics in groups.items():
        names = ", ".join(f"`{m}` 0x{INSTRUCTIONS[m].opcode:02x}" for m in mnemonics)
        lines += [f"#### {names}", "", f"{SIZES[mnemonics[0]]} bytes.", "",
                  "| bits | field | width | signed |", "|---|---|---|---|"]
        pos = 0
        for f in fields:
            lines.append(f"| {pos}..{pos + f.bits - 1} | `{f.name}` | {f.bits} | "
                         f"{'yes' if f.signed else 'no'} |")
            pos += f.bits
        lines.append("")
    return "\n".join(lines)
