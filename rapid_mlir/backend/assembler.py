"""The rapid assembler: assembly text (docs/assembly.md) to a `Program`.

The grammar (`asm_grammar.lark`, LALR) fixes the shape of each line; the operand forms
each instruction takes come from `isa.INSTRUCTIONS`, and every stream is then checked
with `isa_check.check_stream` and every instruction with the encoder's field limits, so
an assembled program is one the binary writer and the emulator accept.

Every error is an `AsmError` with `FILE:LINE:COL: message`, the source line and a caret.
"""

from __future__ import annotations

import math
import os
import re
import struct
from dataclasses import dataclass, field
from difflib import get_close_matches
from functools import cache
from pathlib import Path

import numpy as np
from lark import Lark, Token, Tree
from lark.exceptions import UnexpectedCharacters, UnexpectedInput, UnexpectedToken

from rapid_mlir.backend.encoding import EncodingError, encode
from rapid_mlir.backend.host import HostOpError, check_host_op, check_host_ops, unknown_entry
from rapid_mlir.backend.isa import (
    INSTRUCTIONS,
    AccessPattern,
    DType,
    Instruction,
    Kind,
    OperandSpec,
    Space,
    Window,
)
from rapid_mlir.backend.isa_check import IsaError, check_stream
from rapid_mlir.backend.program import DataSegment, HostOp, HostTensor, Program, TensorSymbol
from rapid_mlir.machine import DEFAULT_MACHINE, PRESETS, Machine, MachineError, load_machine

GRAMMAR_PATH = Path(__file__).with_name("asm_grammar.lark")

_KIND_TEXT = {
    Kind.REG: "a register rN",
    Kind.SEM: "a semaphore sN",
    Kind.IMM: "an integer",
    Kind.COUNT: "an integer trip count",
    Kind.LEN: "an integer instruction count",
    Kind.FIMM: "a float (e.g. 1.5, -2e-3, inf, nan)",
    Kind.CORE: "a core @N",
    Kind.AP: "an access pattern SPACE[BASE] TYPE {size:stride, ...}",
    Kind.AP_PAD: "an access pattern SPACE[BASE] TYPE {size:stride, ...} [pad {lo:hi, ...}]",
    Kind.WINDOW: "a window {size:stride, ...}",
    Kind.HOST_OP: "a host-op index",
}

_TERMINAL_TEXT = {
    "NAME": "a name", "NUMBER": "a number", "SIGN": "a sign", "STRING": "a quoted string",
    "SPACE": "an access pattern", "MACHINE_NAME": "a machine name", "_COMMA": "','",
    "_NL": "the end of the line", "$END": "the end of the file", "PAD": "'pad'",
    "VALUE_LIST": "a list of values",
}


class AsmError(ValueError):
    """An error in assembly text, located at `filename:line:column`."""

    def __init__(self, message: str, filename: str = "<input>", line: int | None = None,
                 column: int | None = None, source_line: str | None = None):
        self.message, self.filename, self.line, self.column = message, filename, line, column
        self.source_line = source_line
        text = f"{filename}:{line}:{column}: {message}" if line else f"{filename}: {message}"
        if source_line is not None and line:
            caret = "".join(c if c == "\t" else " " for c in source_line[:max(column - 1, 0)])
            text += f"\n  {source_line}\n  {caret}^"
        super().__init__(text)


class LayoutError(ValueError):
    """Tensors or data segments that overlap or do not fit in DRAM; `index` is the
    position (in the list given to `check_dram_layout`) of the entry at fault."""

    def __init__(self, message: str, index: int):
        super().__init__(message)
        self.index = index


@cache
def parser() -> Lark:
    """The LALR parser of the assembly language (built once)."""
    return Lark(GRAMMAR_PATH.read_text(), parser="lalr", lexer="contextual",
                propagate_positions=True, maybe_placeholders=True)


# Program-level checks shared with the binary reader ---------------------------------


@dataclass(frozen=True)
class DramEntry:
    """A named DRAM region for the layout check: `input 'x'` at [address, address+nbytes)."""

    what: str
    address: int
    nbytes: int


def check_dram_layout(entries: list[DramEntry], dram_bytes: int) -> None:
    """Raises LayoutError unless every entry lies inside DRAM and no two overlap."""
    for i, e in enumerate(entries):
        end = e.address + e.nbytes
        if e.address < 0 or end > dram_bytes:
            raise LayoutError(f"{e.what} occupies [{e.address:#x}, {end:#x}) but DRAM is "
                              f"[0x0, {dram_bytes:#x})", i)
    order = sorted(range(len(entries)), key=lambda i: (entries[i].address, i))
    widest = None  # the entry reaching furthest so far
    for i in order:
        e = entries[i]
        if widest is not None and e.address < entries[widest].address + entries[widest].nbytes:
            later, earlier = max(i, widest), min(i, widest)
            a, b = entries[later], entries[earlier]
            raise LayoutError(f"{a.what} [{a.address:#x}, {a.address + a.nbytes:#x}) overlaps "
                              f"{b.what} [{b.address:#x}, {b.address + b.nbytes:#x})", later)
        if widest is None or e.address + e.nbytes > entries[widest].address + entries[widest].nbytes:
            widest = i


def dram_entries(program: Program) -> list[DramEntry]:
    """The symbols, then the data segments, as DRAM regions."""
    return ([DramEntry(f"{s.kind} '{s.name}'", s.address, s.nbytes) for s in program.symbols]
            + [DramEntry(f"data '{d.name}'", d.address, d.nbytes) for d in program.data])


def check_program(program: Program) -> None:
    """Everything the assembler guarantees, for a Program from anywhere: unique names,
    data sizes matching shapes, the DRAM layout, every stream (`check_stream`), every
    instruction's encoding and the host-op manifest (`host.check_host_ops`). Raises a
    ValueError subclass naming what is wrong."""
    machine = program.machine
    seen: set[str] = set()
    for entry in list(program.symbols) + list(program.data):
        if entry.name in seen:
            raise ValueError(f"the name '{entry.name}' is defined twice")
        seen.add(entry.name)
        if any(d < 1 for d in entry.shape):
            raise ValueError(f"'{entry.name}' has shape {list(entry.shape)}; sizes must be >= 1")
    for seg in program.data:
        want = math.prod(seg.shape) * seg.dtype.itemsize
        if len(seg.data) != want:
            raise ValueError(f"data '{seg.name}' {seg.dtype.name.lower()} {list(seg.shape)} needs "
                             f"{want} bytes but holds {len(seg.data)}")
    check_dram_layout(dram_entries(program), machine.dram_bytes)
    for (core, stream), instrs in program.streams.items():
        check_stream(instrs, machine, core, stream)
        for pc, instr in enumerate(instrs):
            try:
                encode(instr)
            except EncodingError as e:
                raise EncodingError(f"core {core} stream {stream}, instruction {pc}: {e}") from None
    check_host_ops(program)


def canonical_stream_order(program: Program) -> None:
    """Sorts `program.streams` by core, then by the machine's stream order."""
    order = {name: i for i, name in enumerate(program.machine.streams_per_core)}
    keys = sorted(program.streams, key=lambda k: (k[0], order.get(k[1], len(order)), k[1]))
    program.streams = {k: program.streams[k] for k in keys}


# The assembler ----------------------------------------------------------------------


@dataclass
class _Loc:
    line: int
    column: int


@dataclass
class _PendingData:
    name: str
    dtype: DType
    shape: tuple[int, ...]
    address: int
    loc: _Loc
    values: list[float] | None = None
    npz: tuple[str, str, _Loc] | None = None


@dataclass
class _PendingHost:
    layer: str
    loc: _Loc
    inputs: list[HostTensor] = field(default_factory=list)
    outputs: list[HostTensor] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)


_HOST_PARTS = ("host_in", "host_out", "host_mlir")


@dataclass
class _State:
    machine_directive: tuple[str, _Loc] | None = None
    symbols: list[tuple[TensorSymbol, _Loc]] = field(default_factory=list)
    data: list[_PendingData] = field(default_factory=list)
    host_ops: list[_PendingHost] = field(default_factory=list)
    host_open: bool = False  # the previous statement was `.host` or one of its parts
    names: set[str] = field(default_factory=set)
    core: int | None = None
    stream: tuple[int, str] | None = None
    streams: dict[tuple[int, str], list[tuple[Instruction, _Loc]]] = field(default_factory=dict)
    stream_locs: dict[tuple[int, str], _Loc] = field(default_factory=dict)


_REG = re.compile(r"r(\d+)")
_SEM = re.compile(r"s(\d+)")
_SPECIAL_FLOATS = {"inf": math.inf, "nan": math.nan}
_FLOAT = re.compile(r"[+-]?(0[xX][0-9a-fA-F]+|([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?|inf|nan)")
_COMMENT = re.compile(r"[;#].*")


def _parse_float(text: str) -> float:
    """A float in the syntax of `_FLOAT` (hex integers included)."""
    body = text.lstrip("+-")
    if body[:2].lower() == "0x":
        value = float(int(body, 16))
        return -value if text[0] == "-" else value
    return float(text)


class _Assembler:
    def __init__(self, text: str, filename: str, base_dir: Path):
        self.text, self.filename, self.base_dir = text, filename, base_dir
        self.lines = [line.rstrip("\r") for line in text.split("\n")]  # as lark counts lines
        self.st = _State()

    # Errors -------------------------------------------------------------------------

    def error(self, loc: _Loc | None, message: str) -> AsmError:
        if loc is None:
            return AsmError(message, self.filename)
        src = self.lines[loc.line - 1] if 0 < loc.line <= len(self.lines) else None
        return AsmError(message, self.filename, loc.line, loc.column, src)

    @staticmethod
    def loc(node) -> _Loc:
        if isinstance(node, Token):
            return _Loc(node.line, node.column)
        return _Loc(node.meta.line, node.meta.column)

    def source(self, node) -> str:
        if isinstance(node, Token):
            return str(node)
        return self.text[node.meta.start_pos:node.meta.end_pos]

    def syntax_error(self, e: UnexpectedInput) -> AsmError:
        loc = _Loc(e.line, e.column)
        if isinstance(e, UnexpectedCharacters):
            return self.error(loc, f"syntax error: unexpected character {e.char!r}")
        if isinstance(e, UnexpectedToken):
            tok = e.token
            text = str(tok)
            if tok.type == "VALUE_LIST":  # the catch-all token of the error lexer: one word
                text = text.split()[0]
            found = ("end of line" if tok.type == "_NL" else "end of file"
                     if tok.type == "$END" else repr(text))
            if tok.type == "$END":
                last = len(self.lines) - (self.lines[-1] == "")  # the last non-empty line
                loc = _Loc(max(last, 1), len(self.lines[max(last, 1) - 1]) + 1)
            try:  # the tokens the parser really accepts here (e.expected over-approximates)
                names = e.interactive_parser.accepts() or e.expected
            except Exception:  # noqa: BLE001 - only a better message is at stake
                names = e.expected
            expected = sorted({self.describe_terminal(t) for t in names})
            return self.error(loc, f"syntax error: unexpected {found}; expected "
                                   + (" or ".join(expected) if len(expected) < 6
                                      else ", ".join(expected[:-1]) + " or " + expected[-1]))
        return self.error(loc, f"syntax error: {e}")

    @staticmethod
    def describe_terminal(name: str) -> str:
        if name in _TERMINAL_TEXT:
            return _TERMINAL_TEXT[name]
        try:
            pattern = parser().get_terminal(name).pattern
        except KeyError:
            return name
        return f"'{pattern.value}'" if pattern.type == "str" else name

    # Tokens and numbers -------------------------------------------------------------

    def integer(self, tree: Tree, what: str) -> int:
        """An `int` or `number` node ([SIGN] NUMBER) as an integer."""
        sign, tok = tree.children
        if not isinstance(tok, Token) or tok.type != "NUMBER":
            raise self.error(self.loc(tree), f"{what} must be an integer, found '{self.source(tree)}'")
        text = str(tok)
        if text[:2].lower() == "0x":
            value = int(text, 16)
        elif re.fullmatch(r"[0-9]+", text):
            value = int(text)
        else:
            raise self.error(self.loc(tree), f"{what} must be an integer, found '{self.source(tree)}'")
        return -value if sign is not None and sign == "-" else value

    def value_list(self, tok: Token, what: str) -> list[float]:
        """The floats of a VALUE_LIST token, each checked against the number syntax."""
        out = []
        lines = str(tok).split("\n")
        for i, line in enumerate(lines):
            line = _COMMENT.sub("", line)
            pieces = line.split(",")
            if i < len(lines) - 1 and not pieces[-1].strip():
                pieces.pop()  # the comma before the line break continues the list
            start = 0
            for piece in pieces:
                text = piece.strip()
                col = (tok.column if i == 0 else 1) + start + len(piece) - len(piece.lstrip())
                start += len(piece) + 1
                if not _FLOAT.fullmatch(text):
                    shown = f"'{text}'" if text else "nothing"
                    raise self.error(_Loc(tok.line + i, col),
                                     f"{what}: value {len(out)} must be a float, found {shown}")
                out.append(_parse_float(text))
        return out

    def real(self, tree: Tree, what: str) -> float:
        """A `float` or `number` node ([SIGN] NUMBER|inf|nan) as a Python float."""
        sign, tok = tree.children
        text = str(tok)
        if tok.type == "NAME":
            if text not in _SPECIAL_FLOATS:
                raise self.error(self.loc(tree), f"{what} must be a float, found '{self.source(tree)}'")
            value = _SPECIAL_FLOATS[text]
        elif text[:2].lower() == "0x":
            value = float(int(text, 16))
        else:
            value = float(text)
        return -value if sign is not None and sign == "-" else value

    def shape(self, tree: Tree, what: str) -> tuple[int, ...]:
        dims = tuple(self.integer(c, f"{what}: a dimension size") for c in tree.children if c is not None)
        for c, d in zip([c for c in tree.children if c is not None], dims):
            if d < 1:
                raise self.error(self.loc(c), f"{what}: dimension sizes must be >= 1, found {d}")
        return dims

    def dtype(self, tok: Token, what: str) -> DType:
        names = {t.name.lower(): t for t in DType}
        if str(tok) not in names:
            raise self.error(self.loc(tok), f"{what}: unknown element type '{tok}' (f16 or f32)")
        return names[str(tok)]

    # Directives ---------------------------------------------------------------------

    def run(self) -> None:
        try:
            tree = parser().parse(self.text if self.text.endswith("\n") else self.text + "\n")
        except UnexpectedInput as e:
            raise self.syntax_error(e) from None
        for stmt in tree.children:
            if stmt.data not in _HOST_PARTS:
                self.st.host_open = False
            getattr(self, "d_" + stmt.data)(stmt)
            if stmt.data == "host":
                self.st.host_open = True

    def d_machine(self, t: Tree) -> None:
        (tok,) = t.children
        name = _unquote(tok) if tok.type == "STRING" else str(tok)
        if self.st.machine_directive is not None:
            raise self.error(self.loc(t), ".machine is given twice")
        self.st.machine_directive = (name, self.loc(tok))

    def declare(self, name_tok: Token, what: str) -> str:
        name = str(name_tok)
        if name in self.st.names:
            raise self.error(self.loc(name_tok), f"{what} '{name}': the name is already defined")
        self.st.names.add(name)
        return name

    def symbol(self, t: Tree, kind: str) -> None:
        name_tok, dtype_tok, shape, addr = t.children
        name = self.declare(name_tok, f".{kind}")
        what = f".{kind} {name}"
        sym = TensorSymbol(name, kind, self.dtype(dtype_tok, what), self.shape(shape, what),
                           self.integer(addr, f"{what}: the address"))
        self.st.symbols.append((sym, self.loc(t)))

    def d_input(self, t: Tree) -> None:
        self.symbol(t, "input")

    def d_output(self, t: Tree) -> None:
        self.symbol(t, "output")

    def d_data(self, t: Tree) -> None:
        name_tok, dtype_tok, shape, addr, init = t.children
        name = self.declare(name_tok, ".data")
        what = f".data {name}"
        seg = _PendingData(name, self.dtype(dtype_tok, what), self.shape(shape, what),
                           self.integer(addr, f"{what}: the address"), self.loc(t))
        if init.data == "values":
            seg.values = self.value_list(init.children[0], what)
            count = math.prod(seg.shape)
            if len(seg.values) != count:
                raise self.error(self.loc(init), f"{what} has shape {list(seg.shape)} ({count} values) "
                                                 f"but {len(seg.values)} values are given")
        else:
            path_tok, entry_tok = init.children
            seg.npz = (_unquote(path_tok), _unquote(entry_tok), self.loc(init))
        self.st.data.append(seg)

    def d_host(self, t: Tree) -> None:
        index_tree, layer_tok = t.children
        index = self.integer(index_tree, ".host: the index")
        if index != len(self.st.host_ops):
            raise self.error(self.loc(index_tree), f".host {index}: expected host op {len(self.st.host_ops)} "
                                                   "(host ops are numbered in order from 0)")
        self.st.host_ops.append(_PendingHost(_unquote(layer_tok), self.loc(t)))

    def host_part(self, t: Tree) -> _PendingHost:
        if not self.st.host_open:
            raise self.error(self.loc(t), f".{t.data} must follow a .host directive (or another "
                                          f"{', '.join('.' + p for p in _HOST_PARTS)} of it)")
        return self.st.host_ops[-1]

    def host_tensor(self, t: Tree, kind: str) -> None:
        entry = self.host_part(t)
        name_tok, dtype_tok, shape, addr = t.children
        name = _unquote(name_tok) if name_tok.type == "STRING" else str(name_tok)
        what = f".{t.data} {name}"
        tensor = HostTensor(name, self.dtype(dtype_tok, what), self.shape(shape, what),
                            self.integer(addr, f"{what}: the address"))
        (entry.inputs if kind == "input" else entry.outputs).append(tensor)

    def d_host_in(self, t: Tree) -> None:
        self.host_tensor(t, "input")

    def d_host_out(self, t: Tree) -> None:
        self.host_tensor(t, "output")

    def d_host_mlir(self, t: Tree) -> None:
        self.host_part(t).lines.append(_unquote(t.children[0]))

    def d_core(self, t: Tree) -> None:
        core = self.integer(t.children[0], ".core")
        if core < 0:
            raise self.error(self.loc(t), f".core {core}: core numbers are >= 0")
        self.st.core, self.st.stream = core, None

    def d_stream(self, t: Tree) -> None:
        (tok,) = t.children
        if self.st.core is None:
            raise self.error(self.loc(t), f".stream {tok} before any .core directive")
        key = (self.st.core, str(tok))
        if key in self.st.streams:
            prev = self.st.stream_locs[key]
            raise self.error(self.loc(tok), f"duplicate stream: core {key[0]} stream {key[1]} "
                                            f"was already started at line {prev.line}")
        self.st.streams[key] = []
        self.st.stream_locs[key] = self.loc(tok)
        self.st.stream = key

    # Instructions -------------------------------------------------------------------

    def d_instr(self, t: Tree) -> None:
        mnem_tok, *items = t.children
        items = [i for i in items if i is not None]
        m = str(mnem_tok)
        if m not in INSTRUCTIONS:
            close = get_close_matches(m, INSTRUCTIONS, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            raise self.error(self.loc(mnem_tok), f"unknown instruction '{m}'{hint}")
        if self.st.stream is None:
            raise self.error(self.loc(t), f"{m}: instruction outside a stream (start one with "
                                          f".core N and .stream NAME)")
        instr = Instruction(m, self.operands(m, items, self.loc(mnem_tok)))
        self.st.streams[self.st.stream].append((instr, self.loc(t)))

    def operands(self, m: str, items: list[Tree], mloc: _Loc) -> dict:
        spec = INSTRUCTIONS[m]
        positional_specs = [op for op in spec.operands if not op.optional and op.kind is not Kind.CORE]
        core_specs = [op for op in spec.operands if op.kind is Kind.CORE]
        keyword_specs = {op.name: op for op in spec.operands if op.optional and op.kind is not Kind.CORE}
        positional = [i for i in items if i.data not in ("kwarg", "at_core")]
        cores = [i for i in items if i.data == "at_core"]
        kwargs = [i for i in items if i.data == "kwarg"]
        values: dict = {op.name: None for op in spec.operands}
        if len(positional) != len(positional_specs):
            names = ", ".join(op.name for op in positional_specs) or "none"
            extra = ""
            if keyword_specs:
                extra = "; optional operands are written as keywords: " + ", ".join(
                    f"{n} VALUE" for n in keyword_specs)
            where = positional[len(positional_specs)] if len(positional) > len(positional_specs) else None
            given = f"{len(positional)} {'is' if len(positional) == 1 else 'are'} given"
            raise self.error(self.loc(where) if where is not None else mloc,
                             f"{m} takes {len(positional_specs)} operands ({names}) but "
                             f"{given}{extra}")
        for op, item in zip(positional_specs, positional):
            values[op.name] = self.operand(m, op, item)
        if len(cores) > len(core_specs):
            raise self.error(self.loc(cores[len(core_specs)]),
                             f"{m} takes no{' other' if core_specs else ''} @core operand")
        for op, item in zip(core_specs, cores):
            values[op.name] = self.operand(m, op, item)
        for item in kwargs:
            key_tok, value = item.children
            op = keyword_specs.get(str(key_tok))
            if op is None:
                known = ", ".join(keyword_specs) or "none"
                raise self.error(self.loc(key_tok), f"{m} has no keyword operand '{key_tok}' "
                                                    f"(keywords: {known})")
            if values[op.name] is not None:
                raise self.error(self.loc(key_tok), f"{m}: operand '{op.name}' is given twice")
            values[op.name] = self.operand(m, op, value)
        for op in core_specs:
            if values[op.name] is None and not op.optional:
                raise self.error(mloc, f"{m}: operand '{op.name}' (@N) is missing")
        return values

    def operand(self, m: str, op: OperandSpec, item: Tree):
        what = f"{m}: operand '{op.name}'"

        def wrong() -> AsmError:
            return self.error(self.loc(item), f"{what} must be {_KIND_TEXT[op.kind]}, "
                                              f"found '{self.source(item)}'")

        kind = op.kind
        if kind in (Kind.REG, Kind.SEM):
            match = (_REG if kind is Kind.REG else _SEM).fullmatch(self.name_of(item) or "")
            if not match:
                raise wrong()
            return int(match.group(1))
        if kind in (Kind.IMM, Kind.COUNT, Kind.LEN, Kind.HOST_OP):
            if item.data != "number":
                raise wrong()
            return self.integer(item, what)
        if kind is Kind.FIMM:
            if item.data == "name" and self.name_of(item) in _SPECIAL_FLOATS:
                return _SPECIAL_FLOATS[self.name_of(item)]
            if item.data != "number":
                raise wrong()
            return self.fp32(self.real(item, what), item, what)
        if kind is Kind.CORE:
            if item.data != "at_core":
                raise wrong()
            return self.integer(Tree("int", [None, item.children[0]], item.meta), what)
        if kind in (Kind.AP, Kind.AP_PAD):
            if item.data != "ap":
                raise wrong()
            return self.access_pattern(m, op, item)
        if item.data != "dims":
            raise wrong()
        return Window(self.pairs(item, what, "window dimension"))

    @staticmethod
    def name_of(item: Tree) -> str | None:
        return str(item.children[0]) if item.data == "name" else None

    def fp32(self, value: float, item: Tree, what: str) -> float:
        """The value rounded to fp32 (what the encoding holds)."""
        try:
            if math.isinf(value) and "inf" not in self.source(item):
                raise OverflowError  # a decimal beyond even the float64 range
            return struct.unpack("<f", struct.pack("<f", value))[0]
        except OverflowError:
            raise self.error(self.loc(item), f"{what} = {self.source(item)} is outside the fp32 "
                                             f"range (largest finite 3.4028235e+38)") from None

    def pairs(self, tree: Tree, what: str, noun: str) -> tuple[tuple[int, int], ...]:
        out = []
        for i, pair in enumerate(c for c in tree.children if c is not None):
            a, b = pair.children
            out.append((self.integer(a, f"{what}: {noun} entry {i}"),
                        self.integer(b, f"{what}: {noun} entry {i}")))
        if not out:
            raise self.error(self.loc(tree), f"{what} needs at least one {noun}")
        return tuple(out)

    def access_pattern(self, m: str, op: OperandSpec, item: Tree) -> AccessPattern:
        what = f"{m}: operand '{op.name}'"
        space_tok, base, dtype_tok, dims_tree, pad_tok, pads_tree = item.children
        space_name, _, core_text = str(space_tok).partition("@")
        space = Space[space_name.upper()]
        core = int(core_text) if core_text else None
        reg, offset = 0, 0
        if base.data in ("base_reg", "base_reg_offset"):
            match = _REG.fullmatch(str(base.children[0]))
            if not match:
                raise self.error(self.loc(base), f"{what}: the base must be rN, rN+IMM, rN-IMM or "
                                                 f"IMM, found '{self.source(base)}'")
            reg = int(match.group(1))
            if base.data == "base_reg_offset":
                _, sign, num = base.children
                offset = self.integer(Tree("int", [sign, num], base.meta), f"{what}: the offset")
        else:
            offset = self.integer(Tree("int", base.children, base.meta), f"{what}: the offset")
        dtype = self.dtype(dtype_tok, what)
        dims = self.pairs(dims_tree, what, "dimension")
        pads = None
        if pad_tok is not None:
            if op.kind is not Kind.AP_PAD:
                raise self.error(self.loc(pad_tok), f"{what} cannot be padded (only a DMA source can)")
            pads = self.pairs(pads_tree, what, "pad pair")
            if len(pads) != len(dims):
                raise self.error(self.loc(pads_tree), f"{what} has {len(dims)} dimensions but "
                                                      f"{len(pads)} pads")
        return AccessPattern(space, dtype, dims, offset, reg, core, pads)

    # Machine-dependent work, after the whole text is read ----------------------------

    def resolve_machine(self, given: Machine | None) -> Machine:
        directive = self.st.machine_directive
        if directive is None:
            return given or load_machine(DEFAULT_MACHINE)
        name, loc = directive
        if given is None:
            try:
                return self.load_named_machine(name)
            except MachineError as e:
                raise self.error(loc, str(e)) from None
        if given.name == name:
            return given
        try:
            declared = self.load_named_machine(name)
        except MachineError:
            declared = None
        if declared is not None and declared.fingerprint() == given.fingerprint():
            return given
        detail = f" (fingerprint {declared.fingerprint()})" if declared is not None else ""
        raise self.error(loc, f"the program is for machine '{name}'{detail} but machine "
                              f"'{given.name}' (fingerprint {given.fingerprint()}) was asked for")

    def load_named_machine(self, name: str) -> Machine:
        if name in PRESETS:
            return PRESETS[name]
        path = Path(name)
        if not path.is_absolute() and path.suffix.lower() in (".json", ".toml"):
            path = self.base_dir / path
        return load_machine(path)

    def data_segment(self, seg: _PendingData, fp16_format: str) -> DataSegment:
        # Imported here: the emulator package imports the backend.
        from rapid_mlir.emulator.numerics import encode_array

        what = f".data {seg.name}"
        if seg.values is not None:
            values = np.array(seg.values, dtype=np.float64)
        else:
            values = self.npz_values(seg, what)
        with np.errstate(over="ignore", invalid="ignore"):
            f32 = values.astype(np.float32).reshape(-1)
        return DataSegment(seg.name, seg.dtype, seg.shape, seg.address, encode_array(f32, seg.dtype, fp16_format))

    def npz_values(self, seg: _PendingData, what: str) -> np.ndarray:
        from rapid_mlir.tools.npz import read_npz  # tools layer: imported only when needed

        rel, entry, loc = seg.npz
        path = Path(rel) if Path(rel).is_absolute() else self.base_dir / rel
        try:
            arrays = read_npz(path)
        except ValueError as e:
            raise self.error(loc, f"{what}: {e}") from None
        if entry not in arrays:
            raise self.error(loc, f"{what}: '{rel}' has no entry '{entry}' (entries: "
                                  f"{', '.join(sorted(arrays)) or 'none'})")
        array = arrays[entry]
        if array.dtype.kind != "f":
            raise self.error(loc, f"{what}: entry '{entry}' of '{rel}' has type {array.dtype}; "
                                  f"a float array is needed")
        if tuple(array.shape) != seg.shape:
            raise self.error(loc, f"{what}: entry '{entry}' of '{rel}' has shape {list(array.shape)} "
                                  f"but the segment is {list(seg.shape)}")
        return array

    def finish(self, given: Machine | None) -> Program:
        machine = self.resolve_machine(given)
        st = self.st
        data = [self.data_segment(seg, machine.fp16_format) for seg in st.data]
        locs = [loc for _, loc in st.symbols] + [seg.loc for seg in st.data]
        program = Program(machine, symbols=[s for s, _ in st.symbols], data=data)
        try:
            check_dram_layout(dram_entries(program), machine.dram_bytes)
        except LayoutError as e:
            raise self.error(locs[e.index], str(e)) from None
        for i, pending in enumerate(st.host_ops):
            entry = HostOp(pending.layer, "\n".join(pending.lines), tuple(pending.inputs), tuple(pending.outputs))
            try:
                check_host_op(entry, i, machine)
            except HostOpError as e:
                raise self.error(pending.loc, str(e)) from None
            program.host_ops.append(entry)
        for key, entries in st.streams.items():
            self.check_stream(machine, key, entries)
            program.streams[key] = [instr for instr, _ in entries]
            for pc, (instr, loc) in enumerate(entries):
                if instr.mnemonic == "host" and instr.operands["entry"] >= len(st.host_ops):
                    raise self.error(loc, f"core {key[0]} stream {key[1]}, instruction {pc}: "
                                          + unknown_entry(instr.operands["entry"], len(st.host_ops)))
        canonical_stream_order(program)
        return program

    def check_stream(self, machine: Machine, key: tuple[int, str], entries) -> None:
        core, stream = key
        instrs = [instr for instr, _ in entries]
        try:
            check_stream(instrs, machine, core, stream)
        except IsaError as e:
            match = re.search(r"instruction (\d+):", str(e))
            if match and int(match.group(1)) < len(entries):
                loc = entries[int(match.group(1))][1]
            elif "must end with halt" in str(e) and entries:
                loc = entries[-1][1]
            else:
                loc = self.st.stream_locs[key]
            raise self.error(loc, str(e)) from None
        for pc, (instr, loc) in enumerate(entries):
            try:
                encode(instr)
            except EncodingError as e:
                raise self.error(loc, f"core {core} stream {stream}, instruction {pc}: {e}") from None


def _unquote(tok: Token) -> str:
    """The text of a STRING token: backslash escapes the next character."""
    return re.sub(r"\\(.)", r"\1", str(tok)[1:-1])


def parse_instruction(line: str) -> Instruction:
    """One instruction from its text (`li r1, 0x40`), with the operand forms checked but
    no machine: for tests and tools that handle single instructions."""
    asm = _Assembler(line, "<instruction>", Path.cwd())
    try:
        tree = parser().parse(line.rstrip("\n") + "\n")
    except UnexpectedInput as e:
        raise asm.syntax_error(e) from None
    stmts = tree.children
    if len(stmts) != 1 or stmts[0].data != "instr":
        raise AsmError("expected exactly one instruction", "<instruction>")
    asm.st.stream = (0, "any")
    asm.st.streams[asm.st.stream] = []
    asm.d_instr(stmts[0])
    return asm.st.streams[asm.st.stream][0][0]


def assemble(text: str, machine: Machine | str | None = None, filename: str = "<input>",
             base_dir: str | os.PathLike | None = None) -> Program:
    """The program of assembly `text`.

    `machine` (a Machine, or a preset name or file for `load_machine`) overrides the
    text's `.machine` directive, which must then agree with it; without either the
    program is for `DEFAULT_MACHINE`. Relative paths in the text (`.data ... file`, a
    `.machine` file) are relative to `base_dir` (default: the current directory).
    Raises AsmError (a ValueError) at the first error.
    """
    if isinstance(machine, (str, os.PathLike)):
        machine = load_machine(machine)
    asm = _Assembler(text, filename, Path(base_dir) if base_dir is not None else Path.cwd())
    asm.run()
    return asm.finish(machine)


def assemble_file(path: str | os.PathLike, machine: Machine | str | None = None) -> Program:
    """The program of an assembly file (relative paths in it are relative to its folder)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise AsmError(f"not a UTF-8 text file (byte {e.object[e.start]:#04x} at offset {e.start})",
                       str(path)) from None
    return assemble(text, machine, str(path), path.parent)
