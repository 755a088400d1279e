"""The `rapid_mem` dialect: buffers, tile transfers and tile compute, synchronised by tokens.

One step above the ISA (see docs/lowering.md, section 4): the same tile instructions and
hardware loops, but with buffers instead of addresses, SSA tokens instead of semaphores,
and no streams (the engine follows from the op; the core from the SPMD kernel; the
corelet from the enclosing `rapid_mem.corelet`).

    rapid_mem.kernel "mm" cores 4 corelets 2 (%a, %b, %c) : (...) {
    ^bb0(%A: !rapid_mem.buffer<64x64xf16, dram>, ...):
      %la = rapid_mem.alloc : !rapid_mem.buffer<64x64xf16, lx>
      %t = rapid_mem.dma queue 0 %la <offset 0, dims {64:64, 64:1}>, %A <offset 0, core 1024, dims {64:64, 64:1}>
      rapid_mem.corelet 0 {
        %acc = rapid_mem.alloc : !rapid_mem.buffer<64x64xf32, acc>
        %m = rapid_mem.mpe %acc <...>, %la <...>, %lb <...> after(%t)
        ...

Access patterns (`#rapid_mem.access<...>`) address a buffer in elements: a constant
offset, a coefficient per core index (SPMD) and per enclosing loop (by label), and up to
four (size, stride) dimensions; a DMA source may carry pads. The verifier checks every
access against its buffer over all loop iterations and cores.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import ClassVar

from xdsl.dialects.builtin import (
    I64,
    ArrayAttr,
    DenseIntOrFPElementsAttr,
    Float16Type,
    Float32Type,
    FloatAttr,
    IntAttr,
    IntegerAttr,
    StringAttr,
    TensorType,
    UnitAttr,
    i64,
)
from xdsl.dialects.utils import EnumAttribute
from xdsl.ir import (
    Attribute,
    Block,
    Dialect,
    Operation,
    ParametrizedAttribute,
    Region,
    SpacedOpaqueSyntaxAttribute,
    SSAValue,
    TypeAttribute,
)
from xdsl.irdl import (
    AttrSizedOperandSegments,
    IRDLOperation,
    irdl_attr_definition,
    irdl_op_definition,
    lazy_traits_def,
    operand_def,
    opt_prop_def,
    prop_def,
    region_def,
    result_def,
    traits_def,
    var_operand_def,
    var_result_def,
)
from xdsl.parser import AttrParser
from xdsl.printer import Printer
from xdsl.traits import (
    HasAncestor,
    HasParent,
    IsolatedFromAbove,
    IsTerminator,
    NoTerminator,
    SingleBlockImplicitTerminator,
)
from xdsl.utils.exceptions import VerifyException
from xdsl.utils.str_enum import StrEnum

from rapid_mlir.backend.printer import format_dims

# ---------------------------------------------------------------------------
# Types and attributes
# ---------------------------------------------------------------------------


class MemSpace(StrEnum):
    DRAM = "dram"
    LX = "lx"
    ACC = "acc"


@irdl_attr_definition
class MemSpaceAttr(EnumAttribute[MemSpace], SpacedOpaqueSyntaxAttribute):
    """Where a buffer lives: device DRAM, the core's LX scratchpad, a corelet's ACC."""

    name = "rapid_mem.space"


@irdl_attr_definition
class BufferType(ParametrizedAttribute, TypeAttribute):
    """A buffer in one memory space: `!rapid_mem.buffer<2x64x128xf16, lx>`."""

    name = "rapid_mem.buffer"
    shape: ArrayAttr[IntAttr]
    element_type: Attribute
    space: MemSpaceAttr

    def __init__(self, shape: Sequence[int], element_type: Attribute, space: MemSpace):
        super().__init__(ArrayAttr([IntAttr(d) for d in shape]), element_type, MemSpaceAttr(space))

    def get_shape(self) -> tuple[int, ...]:
        return tuple(d.data for d in self.shape.data)

    @property
    def elements(self) -> int:
        return math.prod(self.get_shape())

    def verify(self) -> None:
        if any(d.data < 1 for d in self.shape.data):
            raise VerifyException(f"rapid_mem.buffer: dimensions must be >= 1, found {list(self.get_shape())}")
        if not isinstance(self.element_type, Float16Type | Float32Type):
            raise VerifyException(f"rapid_mem.buffer: element type must be f16 or f32, found {self.element_type}")
        if self.space.data is MemSpace.ACC and not isinstance(self.element_type, Float32Type):
            raise VerifyException("rapid_mem.buffer: acc buffers hold f32")

    @classmethod
    def parse_parameters(cls, parser: AttrParser) -> list[Attribute]:
        with parser.in_angle_brackets():
            dims, elem = parser.parse_ranked_shape()
            parser.parse_punctuation(",")
            space = MemSpaceAttr(parser.parse_str_enum(MemSpace))
        return [ArrayAttr([IntAttr(d) for d in dims]), elem, space]

    def print_parameters(self, printer: Printer) -> None:
        with printer.in_angle_brackets():
            if self.get_shape():  # a scalar (rank 0, as a reduction's result) is `<f16, dram>`
                printer.print_dimension_list(self.get_shape())
                printer.print_string("x")
            printer.print_attribute(self.element_type)
            printer.print_string(f", {self.space.data.value}")


@irdl_attr_definition
class TokenType(ParametrizedAttribute, TypeAttribute):
    """Completion of an asynchronous op; consumers list it in `after(...)`."""

    name = "rapid_mem.token"


def _int(parser: AttrParser) -> int:
    neg = parser.parse_optional_punctuation("-") is not None
    v = parser.parse_integer(allow_negative=False, allow_boolean=False)
    return -v if neg else v


def _pairs(parser: AttrParser) -> list[tuple[int, int]]:
    def pair():
        a = _int(parser)
        parser.parse_punctuation(":")
        return (a, _int(parser))

    return parser.parse_comma_separated_list(parser.Delimiter.BRACES, pair)


def _flat(pairs) -> ArrayAttr:
    return ArrayAttr([IntAttr(v) for p in pairs for v in p])


def _unflat(arr: ArrayAttr) -> tuple[tuple[int, int], ...]:
    v = [a.data for a in arr.data]
    return tuple(zip(v[0::2], v[1::2]))


@irdl_attr_definition
class AccessAttr(ParametrizedAttribute):
    """`<offset 128, core 4096, loops {i: 256, j: 8}, dims {8:64, 8:1}, pads {1:1, 0:0}>`.

    Element (i0..) of the access, in iteration (loop values l, core c), is buffer element
    `offset + core * c + sum(coef_l * l) + sum((i_d - pad_lo_d) * stride_d)` (row-major
    over the buffer); padded positions are not read (DMA sources only).
    """

    name = "rapid_mem.access"
    offset: IntAttr
    core: IntAttr
    loop_labels: ArrayAttr[StringAttr]
    loop_coefs: ArrayAttr[IntAttr]
    dims: ArrayAttr[IntAttr]
    pads: ArrayAttr[IntAttr]

    def __init__(self, dims: Sequence[tuple[int, int]], offset: int = 0, core: int = 0,
                 loops: dict[str, int] | None = None, pads: Sequence[tuple[int, int]] | None = None):
        loops = loops or {}
        super().__init__(IntAttr(offset), IntAttr(core), ArrayAttr([StringAttr(k) for k in loops]),
                         ArrayAttr([IntAttr(v) for v in loops.values()]), _flat(dims), _flat(pads or ()))

    @property
    def loops(self) -> dict[str, int]:
        return {k.data: v.data for k, v in zip(self.loop_labels.data, self.loop_coefs.data)}

    @property
    def dim_pairs(self) -> tuple[tuple[int, int], ...]:
        return _unflat(self.dims)

    @property
    def pad_pairs(self) -> tuple[tuple[int, int], ...] | None:
        return _unflat(self.pads) if self.pads.data else None

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(s for s, _ in self.dim_pairs)

    def verify(self) -> None:
        dims = self.dim_pairs
        if not 1 <= len(dims) <= 4:
            raise VerifyException(f"rapid_mem.access: {len(dims)} dimensions, expected 1 to 4")
        if any(s < 1 for s, _ in dims):
            raise VerifyException(f"rapid_mem.access: sizes must be >= 1, found {[s for s, _ in dims]}")
        if self.pads.data and len(self.pad_pairs) != len(dims):
            raise VerifyException(f"rapid_mem.access: {len(self.pad_pairs)} pads for {len(dims)} dimensions")
        if len(self.loop_labels.data) != len(self.loop_coefs.data):
            raise VerifyException("rapid_mem.access: one coefficient per loop label")

    @classmethod
    def parse_parameters(cls, parser: AttrParser) -> list[Attribute]:
        offset, core, loops, pads = 0, 0, {}, None
        with parser.in_angle_brackets():
            parser.parse_keyword("offset")
            offset = _int(parser)
            parser.parse_punctuation(",")
            if parser.parse_optional_keyword("core") is not None:
                core = _int(parser)
                parser.parse_punctuation(",")
            if parser.parse_optional_keyword("loops") is not None:
                def entry():
                    label = parser.parse_identifier()
                    parser.parse_punctuation(":")
                    loops[label] = _int(parser)

                parser.parse_comma_separated_list(parser.Delimiter.BRACES, entry)
                parser.parse_punctuation(",")
            parser.parse_keyword("dims")
            dims = _pairs(parser)
            if parser.parse_optional_punctuation(",") is not None:
                parser.parse_keyword("pads")
                pads = _pairs(parser)
        return list(AccessAttr(dims, offset, core, loops, pads).parameters)

    def print_parameters(self, printer: Printer) -> None:
        text = f"offset {self.offset.data}"
        if self.core.data:
            text += f", core {self.core.data}"
        if self.loops:
            text += ", loops {" + ", ".join(f"{k}: {v}" for k, v in self.loops.items()) + "}"
        text += f", dims {format_dims(self.dim_pairs)}"
        if self.pad_pairs is not None:
            text += f", pads {format_dims(self.pad_pairs)}"
        printer.print_string(f"<{text}>")


# ---------------------------------------------------------------------------
# Structure
# ---------------------------------------------------------------------------


@irdl_op_definition
class KernelOp(IRDLOperation):
    """A layer's device code on DRAM buffers, run SPMD by `cores` cores."""

    name = "rapid_mem.kernel"
    buffers = var_operand_def(BufferType)
    layer = prop_def(StringAttr)
    cores = prop_def(IntegerAttr[I64])
    corelets = prop_def(IntegerAttr[I64])
    body = region_def("single_block")
    traits = traits_def(IsolatedFromAbove(), NoTerminator())
    assembly_format = ("$layer `cores` $cores `corelets` $corelets `(` $buffers `)` `:` type($buffers) "
                       "attr-dict-with-keyword $body")

    @staticmethod
    def of(layer: str, cores: int, corelets: int, buffers: Sequence[SSAValue], body: Block) -> KernelOp:
        """The kernel of `layer` on the DRAM `buffers`, with `body` (whose arguments stand
        for the buffers) as its region."""
        return KernelOp.build(operands=[list(buffers)],
                              properties={"layer": StringAttr(layer), "cores": IntegerAttr(cores, i64),
                                          "corelets": IntegerAttr(corelets, i64)},
                              regions=[Region(body)])

    def verify_(self) -> None:
        args = [a.type for a in self.body.block.args]
        if args != [b.type for b in self.buffers]:
            raise VerifyException(f"rapid_mem.kernel '{self.layer.data}': the body's arguments "
                                  f"({', '.join(map(str, args))}) differ from the kernel's buffers")
        for b in self.buffers:
            if b.type.space.data is not MemSpace.DRAM:
                raise VerifyException(f"rapid_mem.kernel '{self.layer.data}': kernel buffers are in "
                                      f"dram, found {b.type}")


@irdl_op_definition
class CoreletOp(IRDLOperation):
    """The code of one corelet (its MPE and SFU work, and its ACC buffers).

    `cores F to L` restricts the region to the kernel's cores F..L (inclusive): the
    kernel is SPMD, but cores whose share of the work has other sizes (the last core of an
    uneven split, or cores at an image border whose input windows are padded) get their
    own regions. Without it the region runs on every core of the kernel.
    """

    name = "rapid_mem.corelet"
    index = prop_def(IntegerAttr[I64])
    first_core = opt_prop_def(IntegerAttr[I64])
    last_core = opt_prop_def(IntegerAttr[I64])
    body = region_def("single_block")
    traits = traits_def(NoTerminator(), HasAncestor(KernelOp))
    assembly_format = "$index (`cores` $first_core^ `to` $last_core)? attr-dict-with-keyword $body"

    @staticmethod
    def of(index: int, body: Block, cores: tuple[int, int] | None = None) -> CoreletOp:
        """Corelet `index`'s region holding `body`, on the cores `cores` (first, last), or
        on every core of the kernel when None."""
        props = {"index": IntegerAttr(index, i64)}
        if cores is not None:
            props |= {"first_core": IntegerAttr(cores[0], i64), "last_core": IntegerAttr(cores[1], i64)}
        return CoreletOp.build(properties=props, regions=[Region(body)])

    def core_range(self) -> tuple[int, int] | None:
        """The (first, last) cores the region runs on, None for all of the kernel's."""
        if self.first_core is None:
            return None
        last = self.last_core.value.data if self.last_core is not None else self.first_core.value.data
        return self.first_core.value.data, last

    def runs_on(self, core: int) -> bool:
        """Whether the region's code is part of core `core`'s streams."""
        span = self.core_range()
        return span is None or span[0] <= core <= span[1]

    def verify_(self) -> None:
        kernel = _kernel(self)
        if kernel is not None and not 0 <= self.index.value.data < kernel.corelets.value.data:
            raise VerifyException(f"rapid_mem.corelet: index {self.index.value.data} but the kernel "
                                  f"has {kernel.corelets.value.data} corelets")
        if (self.first_core is None) != (self.last_core is None):
            raise VerifyException("rapid_mem.corelet: give both the first and the last core, or neither")
        span = self.core_range()
        cores = kernel.cores.value.data if kernel is not None else 1
        if span is not None and not 0 <= span[0] <= span[1] < cores:
            raise VerifyException(f"rapid_mem.corelet: cores {span[0]} to {span[1]} but the kernel runs on "
                                  f"cores 0 to {cores - 1}")


@irdl_op_definition
class LoopOp(IRDLOperation):
    """A counted (hardware) loop; carried tokens flow to the next iteration via `next`."""

    name = "rapid_mem.loop"
    label = prop_def(StringAttr)
    count = prop_def(IntegerAttr[I64])
    inits = var_operand_def(TokenType)
    outs = var_result_def(TokenType)
    body = region_def("single_block")
    traits = traits_def(HasAncestor(KernelOp))
    assembly_format = "$label $count `carry` `(` $inits `)` attr-dict-with-keyword `->` type($outs) $body"

    @staticmethod
    def of(label: str, count: int, carried: Sequence[SSAValue]) -> LoopOp:
        """A loop of `count` iterations carrying `carried`, with an empty body block (one
        token argument per carried token) for the caller to fill and end with `next`."""
        tokens = [TokenType()] * len(carried)
        return LoopOp.build(operands=[list(carried)], result_types=[tokens],
                            properties={"label": StringAttr(label), "count": IntegerAttr(count, i64)},
                            regions=[Region(Block(arg_types=tokens))])

    def verify_(self) -> None:
        if self.count.value.data < 1:
            raise VerifyException(f"rapid_mem.loop '{self.label.data}': count must be >= 1")
        n = len(self.inits)
        if len(self.outs) != n or len(self.body.block.args) != n:
            raise VerifyException(f"rapid_mem.loop '{self.label.data}': {n} carried tokens need {n} "
                                  "block arguments and results")
        last = self.body.block.last_op
        if not isinstance(last, NextOp) or len(last.values) != n:
            raise VerifyException(f"rapid_mem.loop '{self.label.data}': the body must end with "
                                  f"rapid_mem.next of {n} tokens")
        for parent in _ancestors(self):
            if isinstance(parent, LoopOp) and parent.label.data == self.label.data:
                raise VerifyException(f"rapid_mem.loop '{self.label.data}': the label is used by an "
                                      "enclosing loop")


@irdl_op_definition
class NextOp(IRDLOperation):
    """Ends a loop body, giving the carried tokens of the next iteration."""

    name = "rapid_mem.next"
    values = var_operand_def(TokenType)
    traits = lazy_traits_def(lambda: (IsTerminator(),))
    assembly_format = "($values^)? attr-dict"


@irdl_op_definition
class GlobalOp(IRDLOperation):
    """Initialised DRAM data (weights): the named entry of the weight file, or `value`."""

    name = "rapid_mem.global"
    sym_name = prop_def(StringAttr)
    value = opt_prop_def(DenseIntOrFPElementsAttr)
    buffer = result_def(BufferType)
    assembly_format = "$sym_name (`value` $value^)? attr-dict `:` type($buffer)"

    def verify_(self) -> None:
        typ = self.buffer.type
        if typ.space.data is not MemSpace.DRAM:
            raise VerifyException(f"rapid_mem.global '{self.sym_name.data}': globals live in dram, found {typ}")
        if _kernel(self) is not None:
            raise VerifyException(f"rapid_mem.global '{self.sym_name.data}': define globals outside kernels")
        if self.value is not None and tuple(self.value.get_shape()) != typ.get_shape():
            raise VerifyException(f"rapid_mem.global '{self.sym_name.data}': value has shape "
                                  f"{list(self.value.get_shape())} but the buffer {typ}")


@irdl_op_definition
class ScratchOp(IRDLOperation):
    """A DRAM buffer for a tensor that passes from one kernel to the next."""

    name = "rapid_mem.scratch"
    buffer = result_def(BufferType)
    assembly_format = "attr-dict `:` type($buffer)"

    def verify_(self) -> None:
        if self.buffer.type.space.data is not MemSpace.DRAM:
            raise VerifyException(f"rapid_mem.scratch: scratch buffers live in dram, found {self.buffer.type}")
        if _kernel(self) is not None:
            raise VerifyException("rapid_mem.scratch: define scratch buffers outside kernels")


@irdl_op_definition
class ViewOp(IRDLOperation):
    """The same DRAM bytes as another buffer of the same element count (`nn.reshape`,
    `nn.flatten`), or, with `offset`, the consecutive elements of its source from that
    element on (a part of an `nn.split` along an outermost axis, `dram_views.py`):
    nothing moves; the view's address is its source's, plus the offset's bytes.

        %v = rapid_mem.view %x : !rapid_mem.buffer<2x3x4xf16, dram> -> !rapid_mem.buffer<2x12xf16, dram>
        %r = rapid_mem.view %x offset 12 : !rapid_mem.buffer<2x3x4xf16, dram> -> !rapid_mem.buffer<3x4xf16, dram>
    """

    name = "rapid_mem.view"
    source = operand_def(BufferType)
    buffer = result_def(BufferType)
    offset = opt_prop_def(IntegerAttr[I64])
    assembly_format = "$source (`offset` $offset^)? attr-dict `:` type($source) `->` type($buffer)"

    def verify_(self) -> None:
        src, dst = self.source.type, self.buffer.type
        if src.space.data is not MemSpace.DRAM or dst.space.data is not MemSpace.DRAM:
            raise VerifyException(f"rapid_mem.view: views are of dram buffers, found {src} -> {dst}")
        if self.offset is not None:
            start = self.offset.value.data
            if src.element_type != dst.element_type or start < 0 or start + dst.elements > src.elements:
                raise VerifyException(f"rapid_mem.view: offset {start}: {dst} is not within {src} (elements "
                                      f"{start} to {start + dst.elements} of {src.elements}, same element type)")
        elif src.element_type != dst.element_type or src.elements != dst.elements:
            raise VerifyException(f"rapid_mem.view: {src} and {dst} differ in element type or count")
        if _kernel(self) is not None:
            raise VerifyException("rapid_mem.view: define views outside kernels")


@irdl_op_definition
class ReadyOp(IRDLOperation):
    """A token complete from the start (e.g. "buffer free" before a pipeline's first step)."""

    name = "rapid_mem.ready"
    token = result_def(TokenType)
    assembly_format = "attr-dict"


@irdl_op_definition
class AllocOp(IRDLOperation):
    """A buffer in the core's LX or the corelet's ACC; `offset` (bytes) is set by allocation.
    `resident "key"`: an LX buffer that keeps its contents from one kernel to the next
    kernels with the same key (a weight kept in LX, `mapping/residency.py`, or an
    output kept for the next kernel, `mapping/forwarding.py`): the
    allocator gives every buffer of a key one offset, reserved from the first kernel
    that has it to the last."""

    name = "rapid_mem.alloc"
    buffer = result_def(BufferType)
    offset = opt_prop_def(IntegerAttr[I64])
    resident = opt_prop_def(StringAttr)
    traits = traits_def(HasAncestor(KernelOp))
    assembly_format = "(`at` $offset^)? (`resident` $resident^)? attr-dict `:` type($buffer)"

    def verify_(self) -> None:
        space = self.buffer.type.space.data
        if space is MemSpace.DRAM:
            raise VerifyException("rapid_mem.alloc: DRAM buffers are the kernel's arguments, not allocated")
        in_corelet = any(isinstance(p, CoreletOp) for p in _ancestors(self))
        if space is MemSpace.ACC and not in_corelet:
            raise VerifyException("rapid_mem.alloc: an acc buffer belongs to a corelet; allocate it "
                                  "inside rapid_mem.corelet")
        if self.resident is not None and space is not MemSpace.LX:
            raise VerifyException(f"rapid_mem.alloc: resident \"{self.resident.data}\" is for LX buffers, "
                                  f"found a {space.value} buffer")


# ---------------------------------------------------------------------------
# Work
# ---------------------------------------------------------------------------


class WorkOp(IRDLOperation):
    """Base of the asynchronous ops: buffers with accesses, `after` tokens, one result token.

    `ACCESSES` names, in order, the (buffer operand, access property) pairs; the verifier
    checks each access against its buffer over every loop iteration and core.
    """

    ACCESSES: ClassVar[tuple[tuple[str, str], ...]] = ()

    def accesses(self) -> list[tuple[SSAValue, AccessAttr, str]]:
        return [(getattr(self, b), getattr(self, a), b) for b, a in self.ACCESSES]

    def verify_(self) -> None:
        kernel = _kernel(self)
        loops = {p.label.data: p.count.value.data for p in _ancestors(self) if isinstance(p, LoopOp)}
        cores = kernel.cores.value.data if kernel is not None else 1
        corelet = _corelet(self)
        span = corelet.core_range() if corelet is not None else None
        for buf, access, name in self.accesses():
            check_access(self.name, name, buf.type, access, loops, cores, span)


def check_access(op: str, name: str, buf: BufferType, access: AccessAttr, loops: dict[str, int],
                 cores: int, core_range: tuple[int, int] | None = None) -> None:
    """Raises VerifyException unless every element the access touches lies in the buffer
    (on cores 0..cores-1, or on `core_range`'s first..last). A padded access whose padding
    covers a whole dimension touches nothing."""
    for label in access.loops:
        if label not in loops:
            raise VerifyException(f"{op}: {name} access steps with loop '{label}' but no enclosing "
                                  f"loop has that label")
    pads = access.pad_pairs or ((0, 0),) * len(access.dim_pairs)
    if any(size - plo - phi <= 0 for (size, _), (plo, phi) in zip(access.dim_pairs, pads)):
        return
    first, last = core_range if core_range is not None else (0, cores - 1)
    lo = hi = access.offset.data + access.core.data * first
    steps = [(c, loops[l]) for l, c in access.loops.items()] + [(access.core.data, last - first + 1)]
    for coef, count in steps:
        span = coef * (count - 1)
        lo, hi = lo + min(0, span), hi + max(0, span)
    for (size, stride), (plo, phi) in zip(access.dim_pairs, pads):
        span = (size - plo - phi - 1) * stride
        lo, hi = lo + min(0, span), hi + max(0, span)
    if lo < 0 or hi >= buf.elements:
        raise VerifyException(f"{op}: {name} access reaches elements [{lo}, {hi}] but the buffer "
                              f"{buf} has {buf.elements}")


def _ancestors(op: Operation):
    parent = op.parent_op()
    while parent is not None:
        yield parent
        parent = parent.parent_op()


def _kernel(op: Operation) -> KernelOp | None:
    return next((p for p in _ancestors(op) if isinstance(p, KernelOp)), None)


def _corelet(op: Operation) -> CoreletOp | None:
    return next((p for p in _ancestors(op) if isinstance(p, CoreletOp)), None)


def _space(v: SSAValue) -> MemSpace:
    return v.type.space.data


@irdl_op_definition
class DmaOp(WorkOp):
    """A transfer between DRAM and LX (or LX to another core's LX) on one of the core's DMA
    queues (also when written inside a `rapid_mem.corelet`, next to the work it feeds)."""

    name = "rapid_mem.dma"
    dst = operand_def(BufferType)
    src = operand_def(BufferType)
    after = var_operand_def(TokenType)
    token = result_def(TokenType)
    queue = prop_def(IntegerAttr[I64])
    dst_access = prop_def(AccessAttr)
    src_access = prop_def(AccessAttr)
    padval = opt_prop_def(FloatAttr)
    to_core = opt_prop_def(IntegerAttr[I64])
    traits = traits_def(HasAncestor(KernelOp))
    ACCESSES: ClassVar = (("dst", "dst_access"), ("src", "src_access"))
    assembly_format = ("`queue` $queue $dst $dst_access `,` $src $src_access (`padval` $padval^)? "
                       "(`to_core` $to_core^)? `after` `(` $after `)` attr-dict `:` type($dst) `,` type($src)")

    @staticmethod
    def of(queue: int, dst: SSAValue, dst_access: AccessAttr, src: SSAValue, src_access: AccessAttr,
           after: Sequence[SSAValue | None] = (), padval: float | None = None) -> DmaOp:
        """A transfer on DMA queue `queue` that waits for the tokens in `after` (None
        entries are skipped); `padval` is the value read for the source's padding."""
        props = {"queue": IntegerAttr(queue, i64), "dst_access": dst_access, "src_access": src_access}
        if padval is not None:
            props["padval"] = FloatAttr(padval, Float32Type())
        return DmaOp.build(operands=[dst, src, [a for a in after if a is not None]], result_types=[TokenType()],
                           properties=props)

    def verify_(self) -> None:
        super().verify_()
        spaces = (_space(self.dst), _space(self.src))
        if MemSpace.ACC in spaces or spaces == (MemSpace.DRAM, MemSpace.DRAM):
            raise VerifyException(f"rapid_mem.dma: copies DRAM<->LX or LX->LX, not "
                                  f"{spaces[1].value}->{spaces[0].value}")
        if self.dst.type.element_type != self.src.type.element_type:
            raise VerifyException("rapid_mem.dma: dst and src element types differ")
        if self.dst_access.shape != self.src_access.shape:
            raise VerifyException(f"rapid_mem.dma: dst shape {list(self.dst_access.shape)} differs from "
                                  f"src shape {list(self.src_access.shape)}")
        if self.dst_access.pad_pairs is not None:
            raise VerifyException("rapid_mem.dma: only the source access can be padded")


@irdl_op_definition
class MpeOp(WorkOp):
    """One MPE tile product: acc[mo,mi,n] (+)= a[mo,mi,k] x b[k,n]."""

    name = "rapid_mem.mpe"
    c = operand_def(BufferType)
    a = operand_def(BufferType)
    b = operand_def(BufferType)
    after = var_operand_def(TokenType)
    token = result_def(TokenType)
    c_access = prop_def(AccessAttr)
    a_access = prop_def(AccessAttr)
    b_access = prop_def(AccessAttr)
    accumulate = opt_prop_def(UnitAttr)
    traits = traits_def(HasAncestor(CoreletOp))
    ACCESSES: ClassVar = (("c", "c_access"), ("a", "a_access"), ("b", "b_access"))
    assembly_format = ("$c $c_access (`accumulate` $accumulate^)? `,` $a $a_access `,` $b $b_access "
                       "`after` `(` $after `)` attr-dict `:` type($c) `,` type($a) `,` type($b)")

    def verify_(self) -> None:
        super().verify_()
        if (_space(self.c), _space(self.a), _space(self.b)) != (MemSpace.ACC, MemSpace.LX, MemSpace.LX):
            raise VerifyException("rapid_mem.mpe: c must be in acc, a and b in lx")
        if not isinstance(self.a.type.element_type, Float16Type) or not isinstance(
                self.b.type.element_type, Float16Type):
            raise VerifyException("rapid_mem.mpe: a and b must be f16")
        c, a, b = self.c_access.shape, self.a_access.shape, self.b_access.shape
        if len(c) != 3 or len(a) != 3 or len(b) != 2 or c[:2] != a[:2] or a[2] != b[0] or b[1] != c[2]:
            raise VerifyException(f"rapid_mem.mpe: shapes c {list(c)}, a {list(a)}, b {list(b)} do not "
                                  "form c[mo,mi,n] = a[mo,mi,k] x b[k,n]")


SFU_KINDS = ("copy", "relu", "sigmoid", "tanh", "exp", "erf", "sqrt", "recip", "clip", "scale", "log",
             "add", "sub", "mul", "div", "max", "min", "fma", "rsum", "rmax", "maxpool", "avgpool")
"""The SFU operations (the `sfu.*` instructions of the ISA)."""


@irdl_op_definition
class SfuOp(WorkOp):
    """One SFU vector instruction (`kind` is the ISA's `sfu.<kind>`) on LX/ACC buffers:
    `operands[0]` is the destination; `imms` its float immediates; `window` for pooling."""

    name = "rapid_mem.sfu"
    operands_ = var_operand_def(BufferType)
    after = var_operand_def(TokenType)
    token = result_def(TokenType)
    kind = prop_def(StringAttr)
    access_list = prop_def(ArrayAttr[AccessAttr])
    imms = prop_def(ArrayAttr[FloatAttr])
    window = opt_prop_def(ArrayAttr[IntAttr])
    irdl_options = (AttrSizedOperandSegments(as_property=True),)
    traits = traits_def(HasAncestor(CoreletOp))
    assembly_format = ("$kind `(` $operands_ `)` `accesses` $access_list `imms` $imms "
                       "(`window` $window^)? `after` `(` $after `)` attr-dict `:` type($operands_)")

    def accesses(self) -> list[tuple[SSAValue, AccessAttr, str]]:
        return [(v, a, f"operand {i}") for i, (v, a) in enumerate(zip(self.operands_, self.access_list.data))]

    def verify_(self) -> None:
        if self.kind.data not in SFU_KINDS:
            raise VerifyException(f"rapid_mem.sfu: unknown kind '{self.kind.data}' "
                                  f"(kinds: {', '.join(SFU_KINDS)})")
        if len(self.access_list.data) != len(self.operands_):
            raise VerifyException(f"rapid_mem.sfu: {len(self.operands_)} buffers but "
                                  f"{len(self.access_list.data)} accesses")
        super().verify_()
        for v in self.operands_:
            if _space(v) is MemSpace.DRAM:
                raise VerifyException("rapid_mem.sfu: operands are in lx or acc, not dram")


@irdl_op_definition
class BarrierOp(IRDLOperation):
    """All cores reach this point before any continues."""

    name = "rapid_mem.barrier"
    after = var_operand_def(TokenType)
    token = result_def(TokenType)
    traits = traits_def(HasAncestor(KernelOp))
    assembly_format = "`after` `(` $after `)` attr-dict"


# ---------------------------------------------------------------------------
# Host fallback
# ---------------------------------------------------------------------------


@irdl_op_definition
class HostOp(IRDLOperation):
    """An `nn` op the host runs between the device kernels (it has no device lowering, or
    carries `nn.host`): reads the `inputs` DRAM buffers, runs the body on tensors (one
    block argument per input, `rapid_mem.yield` of one value per output) and writes the
    `outputs` DRAM buffers. Becomes an entry of the program's host-op manifest and a
    `host N` instruction, ordered after every earlier kernel and before every later one.

        rapid_mem.host "t0" ins(%x : !rapid_mem.buffer<4x8xf16, dram>)
                            outs(%y : !rapid_mem.buffer<8x4xf16, dram>) {
        ^bb0(%a: tensor<4x8xf32>):
          %t = nn.transpose %a perm [1, 0] : (tensor<4x8xf32>) -> tensor<8x4xf32>
          rapid_mem.yield %t : tensor<8x4xf32>
        }
    """

    name = "rapid_mem.host"
    inputs = var_operand_def(BufferType)
    """DRAM buffers the host reads, one per body argument."""
    outputs = var_operand_def(BufferType)
    """DRAM buffers the host writes, one per yielded value."""
    layer = prop_def(StringAttr)
    """The layer name (the nn op's `nn.name`), shown in traces."""
    body = region_def("single_block")
    """The nn op on tensors, ending in `rapid_mem.yield`."""
    irdl_options = (AttrSizedOperandSegments(as_property=True),)
    traits = lazy_traits_def(lambda: (IsolatedFromAbove(), SingleBlockImplicitTerminator(YieldOp)))
    assembly_format = ("$layer (`ins` `(` $inputs^ `:` type($inputs) `)`)? `outs` `(` $outputs `:` "
                       "type($outputs) `)` attr-dict-with-keyword $body")

    def verify_(self) -> None:
        layer = self.layer.data
        if _kernel(self) is not None:
            raise VerifyException(f"rapid_mem.host '{layer}': host ops sit between kernels, not in one")
        for b in [*self.inputs, *self.outputs]:
            if b.type.space.data is not MemSpace.DRAM:
                raise VerifyException(f"rapid_mem.host '{layer}': host ops read and write dram buffers, "
                                      f"found {b.type}")
        if not self.outputs:
            raise VerifyException(f"rapid_mem.host '{layer}': a host op writes at least one buffer")
        args = self.body.block.args
        if len(args) != len(self.inputs):
            raise VerifyException(f"rapid_mem.host '{layer}': {len(self.inputs)} input buffers but the "
                                  f"body has {len(args)} arguments")
        last = self.body.block.last_op
        values = list(last.values) if isinstance(last, YieldOp) else []
        if len(values) != len(self.outputs):
            raise VerifyException(f"rapid_mem.host '{layer}': {len(self.outputs)} output buffers but the "
                                  f"body yields {len(values)} values")
        for what, tensors, bufs in (("argument", args, self.inputs), ("result", values, self.outputs)):
            for i, (t, b) in enumerate(zip(tensors, bufs)):
                shape = tuple(t.type.get_shape()) if isinstance(t.type, TensorType) else None
                if shape != b.type.get_shape():
                    raise VerifyException(f"rapid_mem.host '{layer}': body {what} {i} is {t.type} but its "
                                          f"buffer is {b.type}")


@irdl_op_definition
class YieldOp(IRDLOperation):
    """Ends a `rapid_mem.host` body: the tensors written to its output buffers, in order."""

    name = "rapid_mem.yield"
    values = var_operand_def()
    traits = traits_def(IsTerminator(), HasParent(HostOp))
    assembly_format = "($values^ `:` type($values))? attr-dict"


RapidMem = Dialect(
    "rapid_mem",
    [KernelOp, CoreletOp, LoopOp, NextOp, GlobalOp, ScratchOp, ViewOp, ReadyOp, AllocOp, DmaOp, MpeOp, SfuOp,
     BarrierOp, HostOp, YieldOp],
    [MemSpaceAttr, BufferType, TokenType, AccessAttr],
)
