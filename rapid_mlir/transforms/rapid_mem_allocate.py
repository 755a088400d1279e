"""`rapid-mem-allocate`: static offsets for the LX and ACC buffers of each kernel.

    rapid-opt k.mlir -p 'rapid-mem-allocate{machine=rapid-4c}'

Every `rapid_mem.alloc` without an offset gets one: LX buffers are packed per kernel
from the start of the scratchpad, each aligned to a DMA stick; ACC buffers per corelet
from the start of its accumulator. A kernel that needs more than a space holds fails
with a message naming the layer, the space, the bytes needed and the bytes available.
(Liveness-based reuse and keeping a layer's output in LX for the next layer come with
whole-network lowering.)
"""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects.builtin import Float16Type, IntegerAttr, ModuleOp, i64
from xdsl.passes import ModulePass
from xdsl.utils.exceptions import PassFailedException

from rapid_mlir.dialects.rapid_mem import AllocOp, CoreletOp, KernelOp, MemSpace


def itemsize(buffer_type) -> int:
    """Bytes per element of a rapid_mem buffer (f16: 2, f32: 4)."""
    return 2 if isinstance(buffer_type.element_type, Float16Type) else 4


def buffer_bytes(buffer_type) -> int:
    return buffer_type.elements * itemsize(buffer_type)


def _align(value: int, alignment: int) -> int:
    return -(-value // alignment) * alignment


@dataclass(frozen=True)
class RapidMemAllocatePass(ModulePass):
    """Assigns byte offsets to every LX and ACC buffer."""

    name = "rapid-mem-allocate"

    machine: str = "rapid-4c"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        from rapid_mlir.machine import MachineError, load_machine

        try:
            machine = load_machine(self.machine)
        except MachineError as e:
            raise PassFailedException(f"rapid-mem-allocate: {e}") from None
        for kernel in [k for k in op.walk() if isinstance(k, KernelOp)]:
            self._allocate(kernel, machine)

    def _allocate(self, kernel: KernelOp, machine) -> None:
        next_free: dict[object, int] = {}
        limits = {MemSpace.LX: machine.lx_bytes, MemSpace.ACC: machine.acc_bytes}
        allocs = [a for a in kernel.walk() if isinstance(a, AllocOp)]
        # Corelet regions restricted to some cores (`cores F to L`) run on other cores than
        # their siblings: each range packs its buffers on its own, after those every core has.
        ranged = [a for a in allocs if _corelet(a) is not None and _corelet(a).core_range() is not None]
        for alloc in [a for a in allocs if a not in ranged] + ranged:
            typ = alloc.buffer.type
            space = typ.space.data
            corelet = _corelet(alloc)
            span = corelet.core_range() if corelet is not None else None
            key = (space, corelet.index.value.data if space is MemSpace.ACC and corelet else None, span)
            if span is not None and key not in next_free:
                next_free[key] = next_free.get((space, key[1], None), 0)
            size = buffer_bytes(typ)
            if alloc.offset is not None:
                start = alloc.offset.value.data
            else:
                start = _align(next_free.get(key, 0), machine.stick_bytes if space is MemSpace.LX else 4)
                alloc.offset = IntegerAttr(start, i64)
            next_free[key] = max(next_free.get(key, 0), start + size)
            if next_free[key] > limits[space]:
                where = "LX" if space is MemSpace.LX else f"ACC of corelet {key[1]}"
                raise PassFailedException(
                    f"rapid-mem-allocate: layer '{kernel.layer.data}': buffers need {next_free[key]} bytes "
                    f"of {where} but it holds {limits[space]} bytes")


def _corelet(op) -> CoreletOp | None:
    return next((p for p in _parents(op) if isinstance(p, CoreletOp)), None)


def _parents(op):
    parent = op.parent_op()
    while parent is not None:
        yield parent
        parent = parent.parent_op()
