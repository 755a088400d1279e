"""The host-op manifest of a program: checks of its entries and of the functions they hold.

Entry N of `Program.host_ops` is what the instruction `host N` runs: an `nn` op with no
device lowering (or marked `nn.host`), written as the MLIR text of one function

    func.func @host(%a: tensor<4x8xf32>) -> tensor<8x4xf32> {
      %t = nn.transpose %a perm [1, 0] : (tensor<4x8xf32>) -> tensor<8x4xf32>
      func.return %t : tensor<8x4xf32>
    }

whose arguments are read from the entry's `inputs` and whose results are written to its
`outputs` (DRAM tensors, f16 or f32; the host converts to and from the function's
element types). `check_host_ops` is what the assembler, the binary reader and writer and
the emulator's loader apply; `host_function` parses (once per text) what the emulator
runs.
"""

from __future__ import annotations

import functools
import math

from rapid_mlir.backend.isa import DType
from rapid_mlir.backend.program import HostOp, HostTensor, Program


class HostOpError(ValueError):
    """A malformed host-op manifest entry, or a `host N` with no entry N."""


@functools.lru_cache(maxsize=512)
def host_function(text: str):
    """The `func.func` of a host op's MLIR text (parsed and verified once per text).
    Raises HostOpError when the text is not one verified function on tensors."""
    from xdsl.dialects import func
    from xdsl.dialects.builtin import TensorType
    from xdsl.parser import Parser
    from xdsl.utils.exceptions import DiagnosticException, ParseError

    from rapid_mlir.dialects import make_context
    from rapid_mlir.ir_io import parse_checked

    try:
        module = parse_checked(Parser(make_context(), text, "<host op>"))
        module.verify()
    except (ParseError, DiagnosticException, ValueError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise HostOpError(f"its function does not parse or verify: {first}") from None
    funcs = [op for op in module.ops if isinstance(op, func.FuncOp)]
    if len(funcs) != 1 or len(list(module.ops)) != 1 or funcs[0].is_declaration:
        raise HostOpError("its text must hold exactly one func.func with a body")
    fn = funcs[0]
    for what, types in (("argument", fn.function_type.inputs.data), ("result", fn.function_type.outputs.data)):
        for i, t in enumerate(types):
            if not isinstance(t, TensorType):
                raise HostOpError(f"function {what} {i} has type {t}, not a tensor")
    return fn


def _check_tensor(t: HostTensor, where: str, dram_bytes: int) -> None:
    if not isinstance(t, HostTensor):
        raise HostOpError(f"{where} is not a HostTensor")
    if not isinstance(t.name, str) or not t.name:
        raise HostOpError(f"{where} needs a name")
    if not isinstance(t.dtype, DType):
        raise HostOpError(f"{where} '{t.name}': dtype must be f16 or f32")
    if any(isinstance(d, bool) or not isinstance(d, int) or d < 1 for d in t.shape):  # () is a scalar
        raise HostOpError(f"{where} '{t.name}': shape {list(t.shape)} must hold integers >= 1")
    end = t.address + math.prod(t.shape) * t.dtype.itemsize
    if t.address < 0 or end > dram_bytes:
        raise HostOpError(f"{where} '{t.name}' occupies DRAM bytes [{t.address:#x}, {end:#x}) but DRAM "
                          f"is [0x0, {dram_bytes:#x})")


def check_host_op(entry: HostOp, index: int, machine) -> None:
    """Raises HostOpError unless entry `index` is well formed: tensors inside DRAM, and a
    function whose arguments and results match its inputs and outputs in number and shape."""
    where = f"host op {index}"
    if not isinstance(entry, HostOp):
        raise HostOpError(f"{where} is not a HostOp")
    if not isinstance(entry.layer, str) or not entry.layer:
        raise HostOpError(f"{where} needs a layer name")
    where = f"host op {index} ('{entry.layer}')"
    for kind, tensors in (("input", entry.inputs), ("output", entry.outputs)):
        for i, t in enumerate(tensors):
            _check_tensor(t, f"{where}: {kind} {i}", machine.dram_bytes)
    if not entry.outputs:
        raise HostOpError(f"{where} writes no tensor")
    if not isinstance(entry.function, str):
        raise HostOpError(f"{where}: the function must be MLIR text")
    try:
        fn = host_function(entry.function)
    except HostOpError as e:
        raise HostOpError(f"{where}: {e}") from None
    for kind, tensors, types in (("input", entry.inputs, fn.function_type.inputs.data),
                                 ("output", entry.outputs, fn.function_type.outputs.data)):
        if len(tensors) != len(types):
            raise HostOpError(f"{where}: the function has {len(types)} {'arguments' if kind == 'input' else 'results'} "
                              f"but the entry lists {len(tensors)} {kind}s")
        for i, (t, typ) in enumerate(zip(tensors, types)):
            if tuple(typ.get_shape()) != tuple(t.shape):
                raise HostOpError(f"{where}: {kind} {i} '{t.name}' has shape {list(t.shape)} but the "
                                  f"function's is {list(typ.get_shape())}")


def link_bytes(entry: HostOp) -> tuple[int, int]:
    """(read, written): the bytes a call of `entry` moves over the host link. Outputs are
    written whole and inputs read whole, except a table that only `nn.gather`s read: the
    host fetches just the slices its indices select (one per index, at most the table's
    extent along the axis), as a runtime's gather does, instead of the whole table (an
    embedding's 13 MB for a few rows). `entry` must have passed `check_host_op`."""
    from rapid_mlir.dialects.nn import GatherOp

    fn = host_function(entry.function)
    read = 0
    for t, arg in zip(entry.inputs, fn.body.block.args):
        uses = list(arg.uses)
        if uses and all(isinstance(u.operation, GatherOp) and u.index == 0 for u in uses):
            extent = t.shape[uses[0].operation.axis.value.data] if t.shape else 1
            slices = sum(math.prod(u.operation.indices.type.get_shape()) for u in uses)
            read += t.nbytes // max(extent, 1) * min(slices, extent)
        else:
            read += t.nbytes
    return read, sum(t.nbytes for t in entry.outputs)


def check_host_ops(program: Program) -> None:
    """Every manifest entry (`check_host_op`), and every `host N` instruction names one."""
    for i, entry in enumerate(program.host_ops):
        check_host_op(entry, i, program.machine)
    count = len(program.host_ops)
    for (core, stream), instrs in program.streams.items():
        for pc, instr in enumerate(instrs):
            if instr.mnemonic == "host" and not 0 <= instr.operands["entry"] < count:
                raise HostOpError(f"core {core} stream {stream}, instruction {pc}: {unknown_entry(instr.operands['entry'], count)}")


def unknown_entry(index: int, count: int) -> str:
    """The message for `host index` in a program with `count` host ops."""
    have = f"entries 0..{count - 1}" if count else "no entries"
    return f"host {index}: the program's host-op manifest has {have}"
