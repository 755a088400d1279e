"""The `rapid_isa` dialect: the rapid accelerator's instructions as IR, one op per instruction.

The ops are generated from the instruction table `rapid_mlir.backend.isa.INSTRUCTIONS`
(the single definition of the ISA), so the dialect, the assembler and the emulator
cannot drift apart. Structure:

    rapid_isa.program machine "rapid-4c" {
      rapid_isa.tensor input "x" f16 [64, 64] at 0
      rapid_isa.host_op 0 "t" reads [...] writes [...] function "func.func @host(...) ..."
      rapid_isa.core 0 {
        rapid_isa.stream "dma0" {
          rapid_isa.dma_copy lx[r1 + 64] f16 {8:64, 8:1}, dram[0] f16 {8:64, 8:1}
          rapid_isa.halt
        }
      }
    }

Instruction operands are properties (registers, immediates, semaphores as integers;
float immediates as f32; access patterns and windows as attributes with the
assembler's syntax, a remote LX written `remote 2 lx[...]`). Every instruction op is
verified with `isa_check.check_instruction` against the program's machine description
and its stream; every stream with `isa_check.check_stream`.
"""

from __future__ import annotations

import functools
from typing import ClassVar
from collections.abc import Sequence

from xdsl.dialects.builtin import (
    I64,
    ArrayAttr,
    DenseIntOrFPElementsAttr,
    DenseArrayBase,
    Float32Type,
    FloatAttr,
    IntAttr,
    IntegerAttr,
    StringAttr,
    f32,
    i64,
)
from xdsl.ir import Attribute, Dialect, ParametrizedAttribute, Region
from xdsl.irdl import (
    IRDLOperation,
    irdl_attr_definition,
    irdl_op_definition,
    lazy_traits_def,
    opt_prop_def,
    prop_def,
    region_def,
    traits_def,
)
from xdsl.parser import AttrParser, Parser
from xdsl.printer import Printer
from xdsl.traits import HasParent, NoTerminator
from xdsl.utils.exceptions import VerifyException

from rapid_mlir.backend import isa
from rapid_mlir.backend.isa import AccessPattern, DType, InstrSpec, Instruction, Kind, Space, Window
from rapid_mlir.backend.isa_check import IsaError, check_instruction
from rapid_mlir.backend.program import HostOp, HostTensor
from rapid_mlir.backend.printer import format_dims, format_operand

ORIGIN_ATTR = "origin"
"""Discardable attribute of an instruction op: the layer (nn op name) it was compiled for."""

# ---------------------------------------------------------------------------
# Text of access patterns and windows (shared by the attributes and the ops)
# ---------------------------------------------------------------------------


def _hex(v: int) -> str:
    return hex(v) if v >= 0 else "-" + hex(-v)


def ap_text(ap: AccessPattern) -> str:
    """`remote 2 lx[r1 + 0x40] f16 {8:64, 8:1} pad {1:1, 0:0}` (remote and pad when present)."""
    base = _hex(ap.offset) if ap.reg == 0 else (
        f"r{ap.reg}" + ("" if ap.offset == 0 else f" {'+' if ap.offset > 0 else '-'} {hex(abs(ap.offset))}"))
    text = f"{ap.space.name.lower()}[{base}] {ap.dtype.name.lower()} {format_dims(ap.dims)}"
    if ap.core is not None:
        text = f"remote {ap.core} " + text
    if ap.pads is not None and any(p != (0, 0) for p in ap.pads):
        text += f" pad {format_dims(ap.pads)}"
    return text


def _parse_int(parser: AttrParser) -> int:
    neg = parser.parse_optional_punctuation("-") is not None
    value = parser.parse_integer(allow_negative=False, allow_boolean=False)
    return -value if neg else value


def _parse_pairs(parser: AttrParser) -> tuple[tuple[int, int], ...]:
    def pair():
        a = _parse_int(parser)
        parser.parse_punctuation(":")
        return (a, _parse_int(parser))

    return tuple(parser.parse_comma_separated_list(parser.Delimiter.BRACES, pair))


def _parse_reg(parser: AttrParser, prefix: str = "r") -> int:
    pos = parser.pos
    name = parser.parse_identifier()
    if not (name.startswith(prefix) and name[len(prefix):].isdigit()):
        parser.raise_error(f"expected {prefix}<N>, found '{name}'", pos, parser.pos)
    return int(name[len(prefix):])


def parse_ap(parser: AttrParser, allow_pad: bool = True) -> AccessPattern:
    """Parses the text `ap_text` prints."""
    core = None
    if parser.parse_optional_keyword("remote") is not None:
        core = parser.parse_integer(allow_negative=False, allow_boolean=False)
    pos = parser.pos
    space_name = parser.parse_identifier()
    spaces = {s.name.lower(): s for s in Space}
    if space_name not in spaces:
        parser.raise_error(f"expected a memory space (dram, lx, acc), found '{space_name}'", pos, parser.pos)
    parser.parse_punctuation("[")
    reg, offset = 0, 0
    if parser.parse_optional_punctuation("]") is None:
        if parser._current_token.kind.name == "BARE_IDENT":  # noqa: SLF001 - peek for rN
            reg = _parse_reg(parser)
            sign = parser.parse_optional_punctuation("+") or parser.parse_optional_punctuation("-")
            if sign is not None:
                offset = parser.parse_integer(allow_negative=False, allow_boolean=False)
                offset = -offset if sign == "-" else offset
        else:
            offset = _parse_int(parser)
        parser.parse_punctuation("]")
    pos = parser.pos
    dtype_name = parser.parse_identifier()
    dtypes = {d.name.lower(): d for d in DType}
    if dtype_name not in dtypes:
        parser.raise_error(f"expected an element type (f16, f32), found '{dtype_name}'", pos, parser.pos)
    dims = _parse_pairs(parser)
    pads = None
    if allow_pad and parser.parse_optional_keyword("pad") is not None:
        pads = _parse_pairs(parser)
    return AccessPattern(spaces[space_name], dtypes[dtype_name], dims, offset, reg, core, pads)


# ---------------------------------------------------------------------------
# Attributes
# ---------------------------------------------------------------------------


@irdl_attr_definition
class AccessPatternAttr(ParametrizedAttribute):
    """An access pattern operand: `#rapid_isa.ap<lx[r1 + 0x40] f16 {8:64, 8:1}>`."""

    name = "rapid_isa.ap"
    space: IntAttr
    dtype: IntAttr
    reg: IntAttr
    offset: IntAttr
    core: IntAttr  # -1: this core
    dims: ArrayAttr[IntAttr]  # flattened (size, stride) pairs
    pads: ArrayAttr[IntAttr]  # flattened (lo, hi) pairs, empty when unpadded

    @staticmethod
    def from_ap(ap: AccessPattern) -> AccessPatternAttr:
        flat = lambda pairs: ArrayAttr([IntAttr(v) for p in (pairs or ()) for v in p])  # noqa: E731
        return AccessPatternAttr(IntAttr(int(ap.space)), IntAttr(int(ap.dtype)), IntAttr(ap.reg),
                                 IntAttr(ap.offset), IntAttr(-1 if ap.core is None else ap.core),
                                 flat(ap.dims), flat(ap.pads))

    def to_ap(self) -> AccessPattern:
        def pairs(arr):
            v = [a.data for a in arr.data]
            return tuple(zip(v[0::2], v[1::2]))

        pads = pairs(self.pads) if self.pads.data else None
        core = None if self.core.data < 0 else self.core.data
        return AccessPattern(Space(self.space.data), DType(self.dtype.data), pairs(self.dims),
                             self.offset.data, self.reg.data, core, pads)

    @classmethod
    def parse_parameters(cls, parser: AttrParser) -> list[Attribute]:
        with parser.in_angle_brackets():
            ap = parse_ap(parser)
        return list(AccessPatternAttr.from_ap(ap).parameters)

    def print_parameters(self, printer: Printer) -> None:
        printer.print_string(f"<{ap_text(self.to_ap())}>")


@irdl_attr_definition
class WindowAttr(ParametrizedAttribute):
    """A pooling window: `#rapid_isa.window<{3:66, 3:1}>` (size:stride in elements)."""

    name = "rapid_isa.window"
    dims: ArrayAttr[IntAttr]

    @staticmethod
    def from_window(w: Window) -> WindowAttr:
        return WindowAttr(ArrayAttr([IntAttr(v) for p in w.dims for v in p]))

    def to_window(self) -> Window:
        v = [a.data for a in self.dims.data]
        return Window(tuple(zip(v[0::2], v[1::2])))

    @classmethod
    def parse_parameters(cls, parser: AttrParser) -> list[Attribute]:
        with parser.in_angle_brackets():
            w = Window(_parse_pairs(parser))
        return list(WindowAttr.from_window(w).parameters)

    def print_parameters(self, printer: Printer) -> None:
        printer.print_string(f"<{format_dims(self.to_window().dims)}>")


# ---------------------------------------------------------------------------
# Operand kinds <-> properties and text
# ---------------------------------------------------------------------------

_INT_KINDS = (Kind.REG, Kind.IMM, Kind.COUNT, Kind.LEN, Kind.SEM, Kind.CORE, Kind.HOST_OP)


def _to_prop(kind: Kind, value) -> Attribute:
    # Cached: attributes are immutable, and a program repeats the same few operands
    # (registers, counts, access patterns) thousands of times; building each one anew
    # was a fifth of the compile time of small graphs. Float immediates are not cached
    # (-0.0 == 0.0 would share an entry), nor unhashable values.
    if kind is Kind.FIMM:
        return _build_prop(kind, value)
    try:
        return _cached_prop(kind, value)
    except TypeError:
        return _build_prop(kind, value)


def _build_prop(kind: Kind, value) -> Attribute:
    if kind is Kind.FIMM:
        return FloatAttr(value, f32)
    if kind in _INT_KINDS:
        return IntegerAttr(value, i64)
    if kind in (Kind.AP, Kind.AP_PAD):
        return AccessPatternAttr.from_ap(value)
    return WindowAttr.from_window(value)


_cached_prop = functools.lru_cache(maxsize=65536)(_build_prop)


def _from_prop(kind: Kind, attr: Attribute):
    if kind in _INT_KINDS:
        return attr.value.data
    if kind is Kind.FIMM:
        return float(attr.value.data)
    if kind in (Kind.AP, Kind.AP_PAD):
        return attr.to_ap()
    return attr.to_window()


def _operand_text(kind: Kind, name: str, value) -> str:
    """An operand in IR syntax: the assembly text except for the spellings the IR lexer
    needs (`core N`, `remote N lx[...]`) and decimal immediates."""
    if kind is Kind.CORE:
        return f"core {value}"
    if kind in (Kind.AP, Kind.AP_PAD):
        return ap_text(value)
    if kind is Kind.IMM:
        return str(value)
    return format_operand(kind, value)


def _parse_float(parser: Parser) -> float:
    neg = parser.parse_optional_punctuation("-") is not None
    if parser.parse_optional_keyword("inf") is not None:
        v = float("inf")
    elif parser.parse_optional_keyword("nan") is not None:
        v = float("nan")
    else:
        v = float(parser.parse_number(allow_boolean=False))
    return -v if neg else v


def _parse_operand(parser: Parser, kind: Kind):
    if kind is Kind.REG:
        return _parse_reg(parser, "r")
    if kind is Kind.SEM:
        return _parse_reg(parser, "s")
    if kind is Kind.FIMM:
        return _parse_float(parser)
    if kind in (Kind.AP, Kind.AP_PAD):
        return parse_ap(parser, allow_pad=kind is Kind.AP_PAD)
    if kind is Kind.WINDOW:
        return Window(_parse_pairs(parser))
    return _parse_int(parser)


# ---------------------------------------------------------------------------
# Containers
# ---------------------------------------------------------------------------


@functools.lru_cache(maxsize=16)
def _machine(spec: str):
    from rapid_mlir.machine import load_machine

    return load_machine(spec)


@irdl_op_definition
class ProgramOp(IRDLOperation):
    """A whole program for one machine (a preset name or a machine file path)."""

    name = "rapid_isa.program"
    machine = prop_def(StringAttr)
    body = region_def("single_block")
    traits = traits_def(NoTerminator())
    assembly_format = "`machine` $machine attr-dict-with-keyword $body"

    def __init__(self, machine: str, ops: Sequence[IRDLOperation] = ()):
        super().__init__(properties={"machine": StringAttr(machine)}, regions=[Region(_block(ops))])

    def machine_description(self):
        from rapid_mlir.machine import MachineError

        try:
            return _machine(self.machine.data)
        except MachineError as e:
            raise VerifyException(f"rapid_isa.program: machine '{self.machine.data}': {e}") from None

    def verify_(self) -> None:
        self.machine_description()
        entries = [op for op in self.body.block.ops if isinstance(op, HostEntryOp)]
        for i, entry in enumerate(entries):
            if entry.index.value.data != i:
                raise VerifyException(f"rapid_isa.program: host op {entry.index.value.data} is the "
                                      f"program's entry {i} (number them in order from 0)")
        for op in self.walk():
            if isinstance(op, InstructionOp) and op.SPEC.mnemonic == "host":
                index = op.properties["entry"].value.data
                if not 0 <= index < len(entries):
                    from rapid_mlir.backend.host import unknown_entry

                    raise VerifyException(f"rapid_isa.program: {unknown_entry(index, len(entries))}")


@irdl_attr_definition
class HostTensorAttr(ParametrizedAttribute):
    """A DRAM tensor a host op reads or writes: `#rapid_isa.host_tensor<"x" f16 [4, 8] at 0>`."""

    name = "rapid_isa.host_tensor"
    sym_name: StringAttr
    dtype: StringAttr
    shape: ArrayAttr[IntAttr]
    address: IntAttr

    @staticmethod
    def from_tensor(t: HostTensor) -> HostTensorAttr:
        return HostTensorAttr(StringAttr(t.name), StringAttr(t.dtype.name.lower()),
                              ArrayAttr([IntAttr(d) for d in t.shape]), IntAttr(t.address))

    def to_tensor(self) -> HostTensor:
        return HostTensor(self.sym_name.data, DType[self.dtype.data.upper()],
                          tuple(d.data for d in self.shape.data), self.address.data)

    def verify(self) -> None:
        if self.dtype.data not in ("f16", "f32"):
            raise VerifyException(f"rapid_isa.host_tensor: dtype must be f16 or f32 but is '{self.dtype.data}'")

    @classmethod
    def parse_parameters(cls, parser: AttrParser) -> list[Attribute]:
        with parser.in_angle_brackets():
            name = parser.parse_str_literal()
            dtype = parser.parse_identifier()
            shape = parser.parse_comma_separated_list(
                parser.Delimiter.SQUARE, lambda: parser.parse_integer(allow_negative=False, allow_boolean=False))
            parser.parse_keyword("at")
            address = parser.parse_integer(allow_negative=False, allow_boolean=False)
        return [StringAttr(name), StringAttr(dtype), ArrayAttr([IntAttr(d) for d in shape]), IntAttr(address)]

    def print_parameters(self, printer: Printer) -> None:
        printer.print_string("<")
        printer.print_string_literal(self.sym_name.data)
        shape = ", ".join(str(d.data) for d in self.shape.data)
        printer.print_string(f" {self.dtype.data} [{shape}] at {self.address.data}>")


@irdl_op_definition
class HostEntryOp(IRDLOperation):
    """Entry `index` of the host-op manifest (what `host index` runs): the layer, the DRAM
    tensors it reads and writes, and the MLIR text of the function holding its nn op."""

    name = "rapid_isa.host_op"
    index = prop_def(IntegerAttr[I64])
    """The entry's number: `host index` runs it (entries are numbered in order from 0)."""
    layer = prop_def(StringAttr)
    """The layer name, shown in traces."""
    reads = prop_def(ArrayAttr[HostTensorAttr])
    """The DRAM tensors holding the function's arguments, in order."""
    writes = prop_def(ArrayAttr[HostTensorAttr])
    """The DRAM tensors receiving the function's results, in order."""
    function = prop_def(StringAttr)
    """The MLIR text of `func.func @host(...)` holding the nn op."""
    traits = traits_def(HasParent(ProgramOp))
    assembly_format = "$index $layer `reads` $reads `writes` $writes `function` $function attr-dict"

    @staticmethod
    def from_host_op(index: int, op: HostOp) -> HostEntryOp:
        return HostEntryOp.build(properties={
            "index": IntegerAttr(index, i64), "layer": StringAttr(op.layer),
            "reads": ArrayAttr([HostTensorAttr.from_tensor(t) for t in op.inputs]),
            "writes": ArrayAttr([HostTensorAttr.from_tensor(t) for t in op.outputs]),
            "function": StringAttr(op.function)})

    def host_op(self) -> HostOp:
        return HostOp(self.layer.data, self.function.data, tuple(a.to_tensor() for a in self.reads.data),
                      tuple(a.to_tensor() for a in self.writes.data))

    def verify_(self) -> None:
        from rapid_mlir.backend.host import HostOpError, check_host_op

        program = self.parent_op()
        if not isinstance(program, ProgramOp):
            return
        try:
            check_host_op(self.host_op(), self.index.value.data, program.machine_description())
        except HostOpError as e:
            raise VerifyException(f"rapid_isa.host_op: {e}") from None


@irdl_op_definition
class TensorOp(IRDLOperation):
    """A named input or output tensor in DRAM: `rapid_isa.tensor input "x" f16 [64, 64] at 0`."""

    name = "rapid_isa.tensor"
    kind = prop_def(StringAttr)
    sym_name = prop_def(StringAttr)
    dtype = prop_def(StringAttr)
    shape = prop_def(DenseArrayBase.constr(i64))
    address = prop_def(IntegerAttr[I64])
    traits = traits_def(HasParent(ProgramOp))
    assembly_format = "$kind $sym_name $dtype $shape `at` $address attr-dict"

    def verify_(self) -> None:
        if self.kind.data not in ("input", "output"):
            raise VerifyException(f"rapid_isa.tensor: kind must be input or output but is '{self.kind.data}'")
        if self.dtype.data not in ("f16", "f32"):
            raise VerifyException(f"rapid_isa.tensor: dtype must be f16 or f32 but is '{self.dtype.data}'")


@irdl_op_definition
class DataOp(IRDLOperation):
    """Initialised DRAM data (weights): `rapid_isa.data "fc.w" "f16" [64, 10] at 4096 from "w.npz"`
    takes the named entry of a weight file; with `value dense<...>` the values are inline."""

    name = "rapid_isa.data"
    sym_name = prop_def(StringAttr)
    dtype = prop_def(StringAttr)
    shape = prop_def(DenseArrayBase.constr(i64))
    address = prop_def(IntegerAttr[I64])
    source = opt_prop_def(StringAttr)
    value = opt_prop_def(DenseIntOrFPElementsAttr)
    traits = traits_def(HasParent(ProgramOp))
    assembly_format = "$sym_name $dtype $shape `at` $address (`from` $source^)? (`value` $value^)? attr-dict"

    def verify_(self) -> None:
        if self.dtype.data not in ("f16", "f32"):
            raise VerifyException(f"rapid_isa.data: dtype must be f16 or f32 but is '{self.dtype.data}'")
        if (self.source is None) == (self.value is None):
            raise VerifyException(f"rapid_isa.data '{self.sym_name.data}': give exactly one of 'from' "
                                  "(a weight file) and 'value'")
        shape = tuple(int(v) for v in self.shape.get_values())
        if self.value is not None and tuple(self.value.get_shape()) != shape:
            raise VerifyException(f"rapid_isa.data '{self.sym_name.data}': value has shape "
                                  f"{list(self.value.get_shape())} but the data is {list(shape)}")


@irdl_op_definition
class CoreOp(IRDLOperation):
    """The streams of one core."""

    name = "rapid_isa.core"
    index = prop_def(IntegerAttr[I64])
    body = region_def("single_block")
    traits = traits_def(NoTerminator(), HasParent(ProgramOp))
    assembly_format = "$index attr-dict-with-keyword $body"

    def __init__(self, index: int, streams: Sequence[IRDLOperation] = ()):
        super().__init__(properties={"index": IntegerAttr(index, i64)}, regions=[Region(_block(streams))])


@irdl_op_definition
class StreamOp(IRDLOperation):
    """One engine's instruction stream (`dma0`, `mpe1`, `sfu0`, ...), run in order."""

    name = "rapid_isa.stream"
    stream = prop_def(StringAttr)
    body = region_def("single_block")
    traits = traits_def(NoTerminator(), HasParent(CoreOp))
    assembly_format = "$stream attr-dict-with-keyword $body"

    def __init__(self, stream: str, instrs: Sequence[IRDLOperation] = ()):
        super().__init__(properties={"stream": StringAttr(stream)}, regions=[Region(_block(instrs))])

    def verify_(self) -> None:
        from rapid_mlir.backend.isa_check import check_stream

        core = self.parent_op()
        program = core.parent_op() if core is not None else None
        if not isinstance(program, ProgramOp):
            return
        instrs = [op.instruction() for op in self.body.block.ops if isinstance(op, InstructionOp)]
        try:
            check_stream(instrs, program.machine_description(), core.index.value.data, self.stream.data)
        except IsaError as e:
            raise VerifyException(f"rapid_isa.stream: {e}") from None


def _block(ops):
    from xdsl.ir import Block

    return Block(list(ops))


# ---------------------------------------------------------------------------
# Instructions, generated from the ISA table
# ---------------------------------------------------------------------------


class InstructionOp(IRDLOperation):
    """Base of the generated instruction ops: conversion to and from `isa.Instruction`,
    custom syntax mirroring the assembler, verification against the machine."""

    SPEC: ClassVar[InstrSpec]

    @classmethod
    def from_instruction(cls, instr: Instruction) -> InstructionOp:
        op_cls = OP_CLASSES[instr.mnemonic]
        props = {o.name: _to_prop(o.kind, instr.operands[o.name])
                 for o in op_cls.SPEC.operands if instr.operands.get(o.name) is not None}
        op = op_cls.build(properties=props)
        if instr.origin is not None:
            op.attributes[ORIGIN_ATTR] = StringAttr(instr.origin)
        return op

    def instruction(self) -> Instruction:
        ops = {}
        for o in self.SPEC.operands:
            attr = self.properties.get(o.name)
            ops[o.name] = None if attr is None else _from_prop(o.kind, attr)
        origin = self.attributes.get(ORIGIN_ATTR)
        return Instruction(self.SPEC.mnemonic, ops, origin.data if isinstance(origin, StringAttr) else None)

    @classmethod
    def parse(cls, parser: Parser) -> InstructionOp:
        props: dict[str, Attribute] = {}
        first = True
        for o in cls.SPEC.operands:
            if o.optional:
                keyword = "core" if o.kind is Kind.CORE else o.name
                if parser.parse_optional_keyword(keyword) is None:
                    continue
            elif not first:
                parser.parse_punctuation(",")
            first = False
            props[o.name] = _to_prop(o.kind, _parse_operand(parser, o.kind))
        op = cls.build(properties=props)
        op.attributes |= parser.parse_optional_attr_dict()
        return op

    def print(self, printer: Printer) -> None:
        parts, optional = [], []
        instr = self.instruction()
        for o in self.SPEC.operands:
            value = instr.operands[o.name]
            if value is None:
                continue
            text = _operand_text(o.kind, o.name, value)
            if o.optional and o.kind is not Kind.CORE:
                text = f"{o.name} {text}"
            (optional if o.optional else parts).append(text)
        body = ", ".join(parts) + "".join(" " + t for t in optional)
        if body:
            printer.print_string(" " + body)
        printer.print_op_attributes(self.attributes)

    def verify_(self) -> None:
        stream = self.parent_op()
        core = stream.parent_op() if stream is not None else None
        program = core.parent_op() if core is not None else None
        if not isinstance(stream, StreamOp) or not isinstance(program, ProgramOp):
            return
        try:
            check_instruction(self.instruction(), program.machine_description(), stream.stream.data)
        except IsaError as e:
            raise VerifyException(f"{self.name}: {e}") from None


def _make_op_class(spec: InstrSpec) -> type[InstructionOp]:
    fields: dict[str, object] = {
        "name": spec.op_name,
        "SPEC": spec,
        "__doc__": f"`{spec.mnemonic}`: {spec.semantics}. Timing: {spec.timing}.",
        "traits": lazy_traits_def(lambda: (HasParent(StreamOp),)),
        "__annotations__": {"SPEC": ClassVar[InstrSpec]},
    }
    for o in spec.operands:
        constraint = {Kind.FIMM: FloatAttr[Float32Type], Kind.AP: AccessPatternAttr,
                      Kind.AP_PAD: AccessPatternAttr, Kind.WINDOW: WindowAttr}.get(o.kind, IntegerAttr[I64])
        fields[o.name] = (opt_prop_def if o.optional else prop_def)(constraint)
    cls_name = "".join(p.capitalize() for p in spec.mnemonic.replace(".", "_").split("_")) + "Op"
    return irdl_op_definition(type(cls_name, (InstructionOp,), fields))


OP_CLASSES: dict[str, type[InstructionOp]] = {m: _make_op_class(s) for m, s in isa.INSTRUCTIONS.items()}
"""The instruction op class of every mnemonic."""

RapidIsa = Dialect(
    "rapid_isa",
    [ProgramOp, TensorOp, DataOp, HostEntryOp, CoreOp, StreamOp, *OP_CLASSES.values()],
    [AccessPatternAttr, WindowAttr, HostTensorAttr],
)
