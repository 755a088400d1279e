"""Host calls: `host N` runs entry N of the program's host-op manifest (RaPiDLib's fallback).

The call reads the entry's input tensors from DRAM (f16 decoded from the machine's
format, or f32), converts each to the element type of its function argument (integers
are rounded: a gather's indices travel as f32), runs the function with the reference
interpreter (`rapid_mlir.reference`, NumPy float32), and writes each result to its
output tensor, rounded to the tensor's type. For race detection the reads and writes
are accesses of the issuing stream, like a DMA's, so a host call that no semaphore or
barrier orders after the writer of its inputs (or before the readers of its outputs) is
reported. Duration: `host_call_cycles` plus the bytes read and written over the host
link (`host_link_gbps`; `backend.host.link_bytes`: a table only gathered from counts the
slices its indices select).
"""

from __future__ import annotations

import math

import numpy as np

from rapid_mlir.backend.host import HostOpError, check_host_op, host_function, link_bytes
from rapid_mlir.backend.isa import AccessPattern, Space
from rapid_mlir.backend.printer import format_shape
from rapid_mlir.backend.program import HostOp, HostTensor
from rapid_mlir.emulator.errors import EmulatorError, LoadError
from rapid_mlir.emulator.memory import Region
from rapid_mlir.emulator.numerics import decode_array, encode_array


class HostCallError(EmulatorError):
    """A host op that failed on the host (e.g. a gather index out of range)."""


def _region(t: HostTensor) -> Region:
    ap = AccessPattern(Space.DRAM, t.dtype, ((math.prod(t.shape), 1),), t.address)
    text = f"{t.name} {t.dtype.name.lower()} {format_shape(t.shape)} @ {t.address:#x}"
    return Region.of(t.name, ap, text)


class HostCall:
    """One manifest entry compiled for the emulator: its DRAM regions, its function
    (parsed once) and its duration on `machine`."""

    __slots__ = ("index", "entry", "fn", "reads", "writes", "bytes_in", "bytes_out", "duration")

    def __init__(self, index: int, entry: HostOp, machine):
        try:
            check_host_op(entry, index, machine)
        except HostOpError as e:
            raise LoadError(f"cannot load the program: {e}") from None
        self.index, self.entry = index, entry
        self.fn = host_function(entry.function)
        self.reads = [(t, _region(t)) for t in entry.inputs]
        self.writes = [(t, _region(t)) for t in entry.outputs]
        self.bytes_in, self.bytes_out = link_bytes(entry)
        self.duration = machine.host_call_cycles + math.ceil(
            (self.bytes_in + self.bytes_out) / machine.host_link_bytes_per_cycle)

    @property
    def layer(self) -> str:
        return self.entry.layer


def run_host_call(mem, races, st, call: HostCall) -> None:
    """isa `host`: read the inputs, run the op on the host, write the outputs (bounds, then
    race checks, then the effect, as for every other instruction)."""
    dram = mem.dram
    for _, region in call.reads + call.writes:
        dram.check(region, region.offset)
    if races is not None:
        for _, region in call.reads:
            races.access(st, dram, region, region.offset, True, False)
        for _, region in call.writes:
            races.access(st, dram, region, region.offset, False, True)
    fmt = mem.fmt
    args = []
    for (t, region), typ in zip(call.reads, call.fn.function_type.inputs.data):
        values = decode_array(mem.read_bytes(region.offset, t.nbytes), t.dtype, t.shape, fmt)
        args.append(_to_type(values, typ))
    results = _call(call, args)
    for (t, region), value in zip(call.writes, results):
        value = np.asarray(value)
        if value.shape != tuple(t.shape):
            raise HostCallError(f"host op {call.index} ('{call.layer}') produced shape {list(value.shape)} "
                                f"for '{t.name}' {list(t.shape)}")
        with np.errstate(all="ignore"):
            data = encode_array(value.astype(np.float32), t.dtype, fmt)
        mem.write_bytes(region.offset, data)


def _to_type(values: np.ndarray, typ) -> np.ndarray:
    """Device values (float32) as the function argument's element type."""
    from rapid_mlir.weights import numpy_dtype

    dtype = numpy_dtype(typ.get_element_type())
    if dtype.kind in "iu":
        return np.rint(values).astype(dtype)
    if dtype.kind == "b":
        return values != 0
    return values.astype(dtype)


def _call(call: HostCall, args: list[np.ndarray]) -> list[np.ndarray]:
    from xdsl.interpreter import Interpreter
    from xdsl.interpreters.func import FuncFunctions

    from rapid_mlir.reference.interpreter import NNFunctions

    interp = Interpreter(call.fn.parent_op())
    interp.register_implementations(FuncFunctions())
    interp.register_implementations(NNFunctions())
    try:
        return list(interp.call_op(call.fn, tuple(args)))
    except Exception as e:  # noqa: BLE001 - any failure of the op on the host is reported as one
        text = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise HostCallError(f"host op {call.index} ('{call.layer}') failed on the host: {text}") from None
