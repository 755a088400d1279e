"""`rapid-mem-allocate`: static offsets for the LX and ACC buffers of each kernel.

    rapid-opt k.mlir -p 'rapid-mem-allocate{machine=rapid-4c}'

Every `rapid_mem.alloc` without an offset gets one: LX buffers are packed per kernel
from the start of the scratchpad, each aligned to a DMA stick; ACC buffers per corelet
from the start of its accumulator. A kernel that needs more than a space holds fails
with a message naming the layer, the space, the bytes needed and the bytes available.

Resident buffers (`rapid_mem.alloc resident "key"`, a weight kept in LX across kernels:
`mapping/residency.py`, or an output kept for the next kernel:
`mapping/forwarding.py`) are placed first, module-wide: every key's buffers get one
offset at the top of LX, reserved from the first kernel (in program order) that has the
key to the last, keys whose spans overlap and whose regions share a core below each
other (keys of disjoint core ranges share addresses: LX is per core); every kernel in a
span packs its other buffers below the reserved regions. (Liveness-based reuse across
kernels is not done.)
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
        kernels = [k for k in op.walk() if isinstance(k, KernelOp)]
        tops = _place_resident(kernels, machine)
        for i, kernel in enumerate(kernels):
            self._allocate(kernel, machine, tops[i])

    def _allocate(self, kernel: KernelOp, machine, lx_top: int) -> None:
        next_free: dict[object, int] = {}
        limits = {MemSpace.LX: lx_top, MemSpace.ACC: machine.acc_bytes}
        allocs = [a for a in kernel.walk() if isinstance(a, AllocOp)]
        # Corelet regions restricted to some cores (`cores F to L`) run on other cores than
        # their siblings: each range packs its buffers on its own, after those every core has.
        allocs = [a for a in allocs if a.resident is None]  # placed by _place_resident
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
                kept = ""
                if space is MemSpace.LX and lx_top < machine.lx_bytes:
                    where, kept = "LX", f" ({machine.lx_bytes - lx_top} bytes of it hold resident weights)"
                raise PassFailedException(
                    f"rapid-mem-allocate: layer '{kernel.layer.data}': buffers need {next_free[key]} bytes "
                    f"of {where} but it holds {limits[space]} bytes{kept}")


def _place_resident(kernels: list[KernelOp], machine) -> list[int]:
    """Gives every resident key's buffers one offset (module docstring); returns, per
    kernel, the LX bytes below the regions reserved across it."""
    spans: dict[str, list] = {}  # key -> [first kernel, last kernel, bytes, allocs, cores]
    sizes: dict[tuple[str, tuple[int, int]], int] = {}  # (key, core range) -> bytes
    for i, kernel in enumerate(kernels):
        for alloc in kernel.walk():
            if isinstance(alloc, AllocOp) and alloc.resident is not None:
                key, size = alloc.resident.data, buffer_bytes(alloc.buffer.type)
                corelet = _corelet(alloc)
                cores = (corelet.core_range() if corelet is not None else None) or (0, kernel.cores.value.data - 1)
                # A kept output's key spans core classes whose shares (and buffers) may
                # differ in size (`forwarding.py`): one offset for the largest; on one
                # range of cores every kernel's buffer of a key must agree.
                if sizes.setdefault((key, cores), size) != size:
                    raise PassFailedException(
                        f"rapid-mem-allocate: layer '{kernel.layer.data}': the resident buffer \"{key}\" has "
                        f"{size} bytes but an earlier kernel's has {sizes[(key, cores)]}")
                span = spans.setdefault(key, [i, i, size, [], cores])
                span[1], span[2] = i, max(span[2], size)
                span[4] = (min(span[4][0], cores[0]), max(span[4][1], cores[1]))
                span[3].append(alloc)
    placed: list[tuple[int, int, int, int, tuple[int, int]]] = []  # (first, last, start, end, cores)
    tops = [machine.lx_bytes] * len(kernels)
    for key, (first, last, size, allocs, cores) in spans.items():
        end = machine.lx_bytes
        for f, l_, start, _, c in placed:
            # Below every region kept over an overlapping span of kernels on a common core
            # (LX is per core: regions of disjoint core ranges may share addresses).
            if f <= last and first <= l_ and c[0] <= cores[1] and cores[0] <= c[1]:
                end = min(end, start)
        start = (end - size) // machine.stick_bytes * machine.stick_bytes
        if start < 0:
            raise PassFailedException(
                f"rapid-mem-allocate: the resident buffer \"{key}\" ({size} bytes) does not fit LX "
                f"({machine.lx_bytes} bytes) next to the resident buffers reserved with it")
        placed.append((first, last, start, end, cores))
        for alloc in allocs:
            alloc.offset = IntegerAttr(start, i64)
        for i in range(first, last + 1):
            tops[i] = min(tops[i], start)
    return tops


def _corelet(op) -> CoreletOp | None:
    return next((p for p in _parents(op) if isinstance(p, CoreletOp)), None)


def _parents(op):
    parent = op.parent_op()
    while parent is not None:
        yield parent
        parent = parent.parent_op()
