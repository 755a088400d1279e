"""Programs as canonical assembly text (docs/assembly.md, "Canonical form").

`program_to_text` is the inverse of `assembler.assemble`: assembling its output gives
back an equal `Program`, and printing an assembled canonical text gives back the text.
Canonical means: `.machine` first, then the symbol table in order, then each data
segment with its values inline, then the streams by core (ascending) and by the
machine's stream order, instructions indented by four spaces; addresses, register
immediates and access-pattern offsets in hex, sizes, strides and counts in decimal,
floats as the shortest text that reads back as the same fp32 value.
"""

from __future__ import annotations

import math
import re

import numpy as np

from rapid_mlir.backend.isa import (
    INSTRUCTIONS,
    AccessPattern,
    DType,
    Instruction,
    Kind,
    Window,
)
from rapid_mlir.backend.program import DataSegment, HostOp, HostTensor, Program, TensorSymbol

INDENT = "    "
VALUES_PER_LINE = 16
_PLAIN_MACHINE_NAME = re.compile(r"[A-Za-z0-9_.\-/]+")
_PLAIN_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.]*")


def format_float(x: float) -> str:
    """The shortest text that reads back as the same fp32 value, Python style:
    `1.0`, `-2.5`, `0.1`, `1e-05`, `inf`, `-inf`, `nan` (`-nan` if the sign bit is set)."""
    if math.isnan(x):
        return "-nan" if math.copysign(1.0, x) < 0 else "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    digits = np.format_float_scientific(np.float32(x), unique=True)
    return repr(float(digits))


def format_int(x: int) -> str:
    """An address or offset in hex: `0x40`, `-0x40`."""
    return hex(x)


def format_ap(ap: AccessPattern) -> str:
    """`lx@2[r1+0x40] f16 {8:64, 8:1} pad {1:0, 0:0}`."""
    space = ap.space.name.lower() + ("" if ap.core is None else f"@{ap.core}")
    if ap.reg == 0:
        base = format_int(ap.offset)
    elif ap.offset == 0:
        base = f"r{ap.reg}"
    else:
        base = f"r{ap.reg}{'+' if ap.offset > 0 else '-'}{format_int(abs(ap.offset))}"
    text = f"{space}[{base}] {ap.dtype.name.lower()} {format_dims(ap.dims)}"
    if ap.pads is not None:
        text += f" pad {format_dims(ap.pads)}"
    return text


def format_dims(dims) -> str:
    """`{size:stride, ...}` (also pads `{lo:hi, ...}` and windows)."""
    return "{" + ", ".join(f"{a}:{b}" for a, b in dims) + "}"


def format_operand(kind: Kind, value) -> str:
    """The text of one operand value of the given kind."""
    if kind is Kind.REG:
        return f"r{value}"
    if kind is Kind.SEM:
        return f"s{value}"
    if kind is Kind.IMM:
        return format_int(value)
    if kind in (Kind.COUNT, Kind.LEN, Kind.HOST_OP):
        return str(value)
    if kind is Kind.FIMM:
        return format_float(value)
    if kind is Kind.CORE:
        return f"@{value}"
    if kind in (Kind.AP, Kind.AP_PAD):
        return format_ap(value)
    if kind is Kind.WINDOW:
        assert isinstance(value, Window)
        return format_dims(value.dims)
    raise AssertionError(f"no text form for operand kind {kind}")


def format_instruction(instr: Instruction) -> str:
    """`mnemonic op, op, ... [@core] [name value ...]` (no indentation)."""
    positional, suffixes = [], []
    for op in INSTRUCTIONS[instr.mnemonic].operands:
        value = instr.operands.get(op.name)
        if value is None:
            continue
        text = format_operand(op.kind, value)
        if op.kind is Kind.CORE:
            suffixes.append(text)
        elif op.optional:
            suffixes.append(f"{op.name} {text}")
        else:
            positional.append(text)
    return " ".join([instr.mnemonic] + ([", ".join(positional)] if positional else []) + suffixes)


def format_shape(shape) -> str:
    """`[64, 64]`."""
    return "[" + ", ".join(str(s) for s in shape) + "]"


def format_symbol(sym: TensorSymbol) -> str:
    """`.input x f16 [64, 64] @ 0x0`."""
    return (f".{sym.kind} {sym.name} {sym.dtype.name.lower()} {format_shape(sym.shape)} "
            f"@ {format_int(sym.address)}")


def data_values(seg: DataSegment, fp16_format: str) -> list[str]:
    """The values of a data segment as text, f16 decoded from the machine's format."""
    # Imported here: the emulator package imports this module (to print instructions).
    from rapid_mlir.emulator.numerics import from_fp16_bits

    if seg.dtype is DType.F16:
        bits = np.frombuffer(seg.data, dtype="<u2")
        values = from_fp16_bits(bits, fp16_format)
        sign = bits >> 15
    else:
        bits = np.frombuffer(seg.data, dtype="<u4")
        values = bits.view("<f4")
        sign = bits >> 31
    cache: dict[tuple[float, int], str] = {}
    out = []
    for v, s in zip(values.tolist(), sign.tolist()):
        if math.isnan(v):  # the sign of a NaN lives only in the bits
            out.append("-nan" if s else "nan")
            continue
        key = (v, s)
        if key not in cache:
            cache[key] = format_float(v)
        out.append(cache[key])
    return out


def format_data(seg: DataSegment, fp16_format: str) -> str:
    """The `.data` directive of a segment, values inline, VALUES_PER_LINE per line."""
    values = data_values(seg, fp16_format)
    head = (f".data {seg.name} {seg.dtype.name.lower()} {format_shape(seg.shape)} "
            f"@ {format_int(seg.address)} =")
    rows = [", ".join(values[i:i + VALUES_PER_LINE]) for i in range(0, len(values), VALUES_PER_LINE)]
    return head + " " + f",\n{INDENT}".join(rows)


def quote(text: str) -> str:
    """A quoted string the assembler reads back as `text` (backslash escapes `"` and `\\`)."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def format_host_tensor(kind: str, t: HostTensor) -> str:
    """`.host_in x f16 [4, 8] @ 0x0` (the name quoted unless it is a plain name)."""
    name = t.name if _PLAIN_NAME.fullmatch(t.name) else quote(t.name)
    return f".host_{kind} {name} {t.dtype.name.lower()} {format_shape(t.shape)} @ {format_int(t.address)}"


def format_host_op(index: int, op: HostOp) -> list[str]:
    """The directives of one host-op manifest entry: `.host N "layer"`, its tensors, then
    one `.host_mlir` line per line of its function's text."""
    lines = [f".host {index} {quote(op.layer)}"]
    lines += [format_host_tensor("in", t) for t in op.inputs]
    lines += [format_host_tensor("out", t) for t in op.outputs]
    lines += [f".host_mlir {quote(line)}" for line in op.function.split("\n")]
    return lines


def format_machine_name(name: str) -> str:
    """The operand of `.machine`: the name, quoted unless it is a plain word."""
    if _PLAIN_MACHINE_NAME.fullmatch(name):
        return name
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def program_to_text(program: Program) -> str:
    """The canonical assembly text of a program (ends with a newline)."""
    machine = program.machine
    lines = [f".machine {format_machine_name(machine.name)}"]
    lines += [format_symbol(s) for s in program.symbols]
    lines += [format_data(d, machine.fp16_format) for d in program.data]
    for i, op in enumerate(program.host_ops):
        lines += format_host_op(i, op)
    order = {name: i for i, name in enumerate(machine.streams_per_core)}
    keys = sorted(program.streams, key=lambda k: (k[0], order.get(k[1], len(order)), k[1]))
    core = None
    for key in keys:
        if key[0] != core:
            core = key[0]
            lines += ["", f".core {core}"]
        lines.append(f".stream {key[1]}")
        lines += [INDENT + format_instruction(i) for i in program.streams[key]]
    return "\n".join(lines) + "\n"
