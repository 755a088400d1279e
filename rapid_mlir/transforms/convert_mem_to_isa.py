"""`convert-mem-to-isa`: a `rapid_mem` kernel becomes a `rapid_isa` program.

    rapid-opt k.mlir -p 'rapid-mem-allocate{machine=rapid-1c},convert-mem-to-isa{machine=rapid-1c}' -t rasm

- The function's DRAM buffer arguments become the program's named tensors (laid out in
  DRAM in order, stick-aligned; named by their `nn.name` argument attribute, else their
  SSA name); a buffer some DMA writes (directly or through a `rapid_mem.view`) is an
  output, the others inputs. A view has its source's address (plus its offset).
- The kernel runs SPMD: its code is emitted once per core, with the core coefficients of
  the accesses folded into the addresses; a `rapid_mem.corelet ... cores F to L` region
  is part of cores F..L only.
- Each op goes to its engine's stream: `dma<queue>`, and inside `rapid_mem.corelet c`
  `mpe<c>` / `sfu<c>`. A `rapid_mem.loop` becomes a hardware `loop` in every stream that
  has work inside it (a loop of one iteration is just its body).
- An access that steps with enclosing loops gets a base register in its stream holding
  the loop-dependent part of its address (`li 0` at the start, `addi` by the loop's step
  at the end of each iteration, back by `count * step` after the loop); the static part
  stays in the pattern's offset, so accesses that step alike share a register. Once a
  loop of a register's accesses has exited, a later access that steps with the loops the
  register still steps with (and loops entered since) takes it over (`_register`).
- Tokens become semaphores. A token used on another stream than its producer's: the
  producer signals after the op; the consumer waits before the op (hoisted before the
  outermost loop that holds the consumer but not the producer) once per execution of the
  producer in between. A token carried by a loop is signalled in advance for the first
  iteration (when its initial value is `rapid_mem.ready`; a computed one made on the
  producing stream as many times per loop entry as the body makes the token per
  iteration signals it itself) and drained before the next
  loop of its block or at the block's end (so that the ops after the loop that do not
  need the last production, such as the load of the other slot, do not wait for it).
  Dependences between the same two streams whose code ranges are disjoint share a
  semaphore (`_Sync.number`).

Streams are in order, so a token used on its own stream needs nothing. The kernels of
the function run one after the other: between two, every stream signals the first
stream of its core, which waits for all of them, meets the other cores at a barrier and
lets the streams go on. `rapid_mem.host` ops become entries of the program's host-op
manifest, called (`host N`) by core 0's leader stream at these junctions, between two
barriers (host_lowering.py, docs/lowering.md section 6). A `rapid_mem.barrier` directly
in a kernel's body (not in a loop or corelet region) is the same join in the middle of
the kernel, over the streams the kernel uses, with semaphores of its own; cores the
kernel does not run on still take part in its `barrier`s (ring_reduction.py uses two).
"""

from __future__ import annotations

import dataclasses
import math
from collections import defaultdict
from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects import func
import numpy as np
from xdsl.dialects.builtin import ArrayAttr, ModuleOp, StringAttr, TensorType, f32
from xdsl.ir import Block, BlockArgument, Operation, OpResult, SSAValue
from xdsl.passes import ModulePass
from xdsl.utils.exceptions import PassFailedException

from rapid_mlir.backend.isa import AccessPattern, DType, Instruction, Space, Window
from rapid_mlir.backend.program import DataSegment, Program, TensorSymbol
from rapid_mlir.dialects.nn import NAME_ATTR
from rapid_mlir.dialects.rapid_mem import (
    AccessAttr,
    AllocOp,
    BarrierOp,
    CoreletOp,
    DmaOp,
    GlobalOp,
    HostOp,
    KernelOp,
    LoopOp,
    MemSpace,
    MpeOp,
    NextOp,
    ReadyOp,
    ScratchOp,
    SfuOp,
    ViewOp,
    WorkOp,
)
from rapid_mlir.transforms.host_lowering import buffer_name, manifest_entry
from rapid_mlir.transforms.rapid_mem_allocate import buffer_bytes, itemsize

_SPACE = {MemSpace.DRAM: Space.DRAM, MemSpace.LX: Space.LX, MemSpace.ACC: Space.ACC}


class LoweringError(ValueError):
    """A rapid_mem construct this lowering cannot express, with the reason."""


def _fail(msg: str):
    raise PassFailedException(f"convert-mem-to-isa: {msg}")


@dataclass(frozen=True)
class ConvertMemToIsaPass(ModulePass):
    """Lowers the module's rapid_mem kernel to one rapid_isa program."""

    name = "convert-mem-to-isa"

    machine: str = "rapid-4c"
    weights: str | None = None
    """The weight file (.npz) holding the entries `rapid_mem.global`s name."""

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        from rapid_mlir.backend.isa_check import IsaError, check_stream
        from rapid_mlir.backend.isa_ir import program_to_module
        from rapid_mlir.machine import MachineError, load_machine

        try:
            machine = load_machine(self.machine)
        except MachineError as e:
            _fail(str(e))
        kernels = [k for k in op.walk() if isinstance(k, KernelOp)]
        steps = [k for k in op.walk() if isinstance(k, KernelOp | HostOp)]  # HostOp: host_lowering.py
        if not steps:
            _fail("the module has no rapid_mem.kernel or rapid_mem.host")
        fns = {k.parent_op() for k in steps}
        fn = steps[0].parent_op()
        if len(fns) != 1 or not isinstance(fn, func.FuncOp):
            _fail("the rapid_mem.kernels and rapid_mem.hosts must sit directly in one func.func")
        try:
            program = _lower(kernels, fn, machine, self.weights)
            for (core, stream), instrs in program.streams.items():
                check_stream(instrs, machine, core, stream)
        except (LoweringError, IsaError, ValueError) as e:
            _fail(str(e))
        lowered = program_to_module(program, self.machine)  # a machine file stays a file
        for old in list(op.body.block.ops):
            old.detach()
            old.erase()
        for new in list(lowered.body.block.ops):
            new.detach()
            op.body.block.add_op(new)


# ---------------------------------------------------------------------------
# DRAM layout and symbols
# ---------------------------------------------------------------------------


def _layout(kernels: list[KernelOp], fn: func.FuncOp, machine, weights: str | None
            ) -> tuple[dict[SSAValue, int], list[TensorSymbol], list[DataSegment]]:
    """DRAM addresses of the function's buffers (arguments, globals, scratch; a view gets
    its source's), the named tensors (the arguments; those some kernel's DMA writes,
    directly or through a view, are outputs) and the data segments (`rapid_mem.global`s)."""
    from rapid_mlir.backend.isa_ir import segment_bytes
    from rapid_mlir.weights import WeightStore

    written = set()
    for kernel in kernels:
        stored = {op.dst for op in kernel.walk() if isinstance(op, DmaOp)}
        written |= {outer for outer, inner in zip(kernel.buffers, kernel.body.block.args) if inner in stored}
    written |= {b for host in fn.body.block.ops if isinstance(host, HostOp) for b in host.outputs}
    written = {_view_root(b) for b in written}  # writing a view writes its source's bytes
    values = list(fn.body.block.args) + [op.buffer for op in fn.body.block.ops
                                          if isinstance(op, GlobalOp | ScratchOp)]
    addresses: dict[SSAValue, int] = {}
    symbols: list[TensorSymbol] = []
    segments: list[DataSegment] = []
    store = None
    next_free = 0
    for value in values:
        typ = value.type
        addresses[value] = next_free
        dtype = DType.F16 if itemsize(typ) == 2 else DType.F32
        if isinstance(value, BlockArgument):
            kind = "output" if value in written else "input"
            symbols.append(TensorSymbol(_arg_name(fn, value.index), kind, dtype, typ.get_shape(), next_free))
        elif isinstance(value.owner, GlobalOp):
            glob = value.owner
            name = glob.sym_name.data
            source = None
            if glob.value is not None:
                data = np.frombuffer(glob.value.data.data, "<f4").reshape(typ.get_shape())
            else:
                if weights is None:
                    raise LoweringError(f"global '{name}' comes from the weight file: give the pass "
                                        "its weights option")
                store = store or WeightStore.load(weights)
                data = store.get(name, TensorType(f32, list(typ.get_shape())))
                source = weights
            segments.append(DataSegment(name, dtype, typ.get_shape(), next_free,
                                        segment_bytes(data, dtype, machine), source))
        next_free = -(-(next_free + buffer_bytes(typ)) // machine.stick_bytes) * machine.stick_bytes
    for op in fn.body.block.ops:  # a view is its source's bytes: its address (plus the offset), no space
        if isinstance(op, ViewOp):
            start = op.offset.value.data if op.offset is not None else 0
            addresses[op.buffer] = addresses[op.source] + start * itemsize(op.source.type)
    if next_free > machine.dram_bytes:
        raise LoweringError(f"the program's tensors need {next_free} bytes of DRAM but it has {machine.dram_bytes}")
    return addresses, symbols, segments


def _view_root(buffer: SSAValue) -> SSAValue:
    """The buffer whose bytes `buffer` is (through `rapid_mem.view`s)."""
    while isinstance(buffer.owner, ViewOp):
        buffer = buffer.owner.source
    return buffer


def _arg_name(fn: func.FuncOp, index: int) -> str:
    attrs = fn.arg_attrs
    if isinstance(attrs, ArrayAttr) and index < len(attrs.data):
        name = attrs.data[index].data.get(NAME_ATTR)
        if isinstance(name, StringAttr):
            return name.data
    return fn.body.block.args[index].name_hint or f"arg{index}"


# ---------------------------------------------------------------------------
# Per-op facts: stream and loop nest
# ---------------------------------------------------------------------------


def _loops(op: Operation, kernel: KernelOp) -> list[LoopOp]:
    """Enclosing loops of `op` inside the kernel, outermost first."""
    out = []
    parent = op.parent_op()
    while parent is not None and parent is not kernel:
        if isinstance(parent, LoopOp):
            out.append(parent)
        parent = parent.parent_op()
    return out[::-1]


def _stream(op: Operation, machine) -> str:
    corelet = op.parent_op()
    while corelet is not None and not isinstance(corelet, CoreletOp):
        corelet = corelet.parent_op()
    if isinstance(op, DmaOp):
        queue = op.queue.value.data
        if not 0 <= queue < machine.dma_queues:
            raise LoweringError(f"DMA queue {queue} but the machine has queues 0..{machine.dma_queues - 1}")
        return f"dma{queue}"
    index = corelet.index.value.data
    return f"{'mpe' if isinstance(op, MpeOp) else 'sfu'}{index}"


@dataclass
class _Sync:
    """Semaphore actions attached to positions in the streams."""

    after_op: dict = None          # op -> [Instruction] emitted after it (its stream)
    before_op: dict = None         # op -> [Instruction] emitted before it (its stream)
    before_loop: dict = None       # (loop, stream) -> [Instruction]
    block_end: dict = None         # block -> stream -> [Instruction] emitted at the block's end
    sems: int = 0
    by_span: bool = False          # number per core range (regions on disjoint cores share numbers)
    barrier: tuple | None = None   # in-kernel barriers: (streams, join semaphore, go semaphore per stream)

    def __post_init__(self):
        self.after_op, self.before_op = defaultdict(list), defaultdict(list)
        self.before_loop = defaultdict(list)
        self.block_end = defaultdict(lambda: defaultdict(list))
        self.base = self.sems
        self.deps: list[tuple[int, object, tuple[str, str], tuple[int, int]]] = []
        self.pre: dict[Operation, int] = {}   # preorder index of each op of the kernel
        self.end: dict[Operation, int] = {}   # preorder index of the last op of its subtree

    def new(self, machine, span: tuple[int, int] | None = None, streams: tuple[str, str] | None = None,
            extent: tuple[int, int] | None = None) -> int:
        """A semaphore. For a dependence between two streams whose signals and waits all lie
        in the kernel's preorder range `extent`, a placeholder that `number` resolves."""
        if extent is None:
            if self.sems >= machine.semaphores:
                raise LoweringError(f"the kernel needs more than the machine's {machine.semaphores} semaphores")
            self.sems += 1
            return self.sems - 1
        placeholder = _PLACEHOLDER + len(self.deps)
        self.deps.append((placeholder, span if self.by_span else None, streams, extent))
        return placeholder

    def number(self, machine) -> None:
        """Numbers the dependences' semaphores. Two dependences between the same producer
        and consumer streams share one when the code of one lies entirely before the
        other's (disjoint preorder ranges): each is balanced (as many waits as signals)
        within its range, and both streams reach the second only after the first's
        signals, so no wait can take the other's signal. Regions on disjoint core ranges
        number theirs independently."""
        final: dict[int, int] = {}
        pools: dict[object, list[list]] = defaultdict(list)  # span -> [streams, last end] per number
        for placeholder, span, streams, (start, end) in sorted(self.deps, key=lambda d: d[3]):
            numbers = pools[span]
            k = next((i for i, (s, last) in enumerate(numbers) if s == streams and last < start), None)
            if k is None:
                k = len(numbers)
                numbers.append([streams, end])
                if self.base + k >= machine.semaphores:
                    raise LoweringError(f"the kernel needs more than the machine's {machine.semaphores} "
                                        "semaphores")
            numbers[k][1] = end
            final[placeholder] = self.base + k
        self.sems = max([self.sems] + [v + 1 for v in final.values()])
        tables = (self.after_op, self.before_op, self.before_loop, *self.block_end.values())
        for table in tables:
            for instrs in table.values():
                for ins in instrs:
                    if ins.operands.get("sem", 0) >= _PLACEHOLDER:
                        ins.operands["sem"] = final[ins.operands["sem"]]


_PLACEHOLDER = 1 << 40


def _waits(sem: int, n: int) -> list[Instruction]:
    if n == 1:
        return [Instruction("wait", {"sem": sem})]
    return [Instruction("loop", {"count": n, "len": 1}), Instruction("wait", {"sem": sem})]


def _signals(sem: int, n: int) -> list[Instruction]:
    if n == 1:
        return [Instruction("signal", {"sem": sem})]
    return [Instruction("loop", {"count": n, "len": 1}), Instruction("signal", {"sem": sem})]


def _trips(loops: list[LoopOp]) -> int:
    return math.prod(l.count.value.data for l in loops)


def _unchanged_result(token: SSAValue) -> SSAValue:
    """A loop result whose loop hands its carried token on unchanged (through any nested
    loops that do the same) is the loop's initial value."""
    while isinstance(token.owner, LoopOp):
        loop = token.owner
        if _unchanged_result(loop.body.block.last_op.values[token.index]) is not loop.body.block.args[token.index]:
            break
        token = loop.inits[token.index]
    return token


def _passthrough(token: SSAValue) -> SSAValue:
    """A loop-carried token that the loop hands on unchanged (directly, or through nested
    loops that hand it on unchanged) is its initial value."""
    token = _unchanged_result(token)
    while isinstance(token, BlockArgument) and isinstance(token.owner.parent_op(), LoopOp):
        loop = token.owner.parent_op()
        if _unchanged_result(loop.body.block.last_op.values[token.index]) is not token:
            break
        token = _unchanged_result(loop.inits[token.index])
    return token


def _producer(token: SSAValue) -> Operation | None:
    """The work op whose completion a token stands for (None: complete from the start)."""
    token = _passthrough(token)
    if isinstance(token, BlockArgument) and isinstance(token.owner.parent_op(), LoopOp):
        # Within the loop, the value the previous iteration handed on.
        loop = token.owner.parent_op()
        return _producer(loop.body.block.last_op.values[token.index])
    owner = token.owner
    if isinstance(owner, ReadyOp):
        return None
    if isinstance(owner, LoopOp):  # a loop result: the last iteration's `next` value
        return _producer(owner.body.block.last_op.values[token.index])
    if isinstance(owner, WorkOp):
        return owner
    if isinstance(owner, BarrierOp):
        raise LoweringError("rapid_mem.barrier is not lowered yet")
    raise LoweringError(f"cannot tell which op produces token {token}")


def _plan_sync(kernel: KernelOp, machine, shared: _Sync | None = None) -> _Sync:
    """The semaphore actions of one kernel (numbered from `shared.sems` when given: every
    kernel starts again from 0, since a kernel leaves each semaphore at zero)."""
    # Corelet regions restricted to disjoint core ranges (and none for every core) run on
    # different cores: their semaphores are numbered independently.
    spans = {op.core_range() for op in kernel.body.block.ops if isinstance(op, CoreletOp)}
    sync = _Sync(sems=shared.sems if shared is not None else 0,
                 by_span=None not in spans and _disjoint(spans))
    ops = list(kernel.walk())
    sync.pre = {op: i for i, op in enumerate(ops)}
    sync.end = dict(sync.pre)
    for op in reversed(ops):
        parent = op.parent_op()
        if parent in sync.end:
            sync.end[parent] = max(sync.end[parent], sync.end[op])
    for consumer in kernel.walk():
        if not isinstance(consumer, WorkOp):
            continue
        for token in consumer.after:
            token = _passthrough(token)
            if isinstance(token, BlockArgument) and isinstance(token.owner.parent_op(), LoopOp):
                _carried_edge(sync, consumer, token, kernel, machine)
            else:
                producer = _producer(token)
                if producer is not None:
                    _edge(sync, producer, consumer, kernel, machine)
    sync.number(machine)
    if any(isinstance(op, BarrierOp) for op in kernel.body.block.ops):
        used = {_stream(op, machine) for op in kernel.walk() if isinstance(op, WorkOp)}
        streams = [s for s in machine.streams_per_core if s in used]
        sync.barrier = (streams, sync.new(machine), {s: sync.new(machine) for s in streams[1:]})
    if shared is not None:
        shared.sems = sync.sems
    return sync


def _extent(sync: _Sync, first: Operation, last: Operation) -> tuple[int, int]:
    """The preorder range from `first` to `last`, lifted to the children of the deepest
    block holding both (so it covers waits hoisted before loops and signals inside them)."""
    chain = [first, *_ancestors(first)]
    above = set(chain)
    common = next(a for a in [last, *_ancestors(last)] if a in above)
    child_first = chain[chain.index(common) - 1] if common is not first else first
    lasts = [last, *_ancestors(last)]
    child_last = lasts[lasts.index(common) - 1] if common is not last else last
    start = min(sync.pre[child_first], sync.pre[child_last])
    return start, max(sync.end[child_first], sync.end[child_last])


def _disjoint(spans) -> bool:
    ordered = sorted(spans)
    return all(ordered[i][1] < ordered[i + 1][0] for i in range(len(ordered) - 1))


def _span(op: Operation) -> tuple[int, int] | None:
    corelet = next((p for p in _ancestors(op) if isinstance(p, CoreletOp)), None)
    return corelet.core_range() if corelet is not None else None


def _ancestors(op: Operation):
    parent = op.parent_op()
    while parent is not None:
        yield parent
        parent = parent.parent_op()


def _edge(sync: _Sync, producer: Operation, consumer: Operation, kernel: KernelOp, machine) -> None:
    sp, sc = _stream(producer, machine), _stream(consumer, machine)
    if sp == sc:
        return
    lp, lc = _loops(producer, kernel), _loops(consumer, kernel)
    common = 0
    while common < min(len(lp), len(lc)) and lp[common] is lc[common]:
        common += 1
    sem = sync.new(machine, _span(consumer), (sp, sc), _extent(sync, producer, consumer))
    sync.after_op[producer].append(Instruction("signal", {"sem": sem}))
    waits = _waits(sem, _trips(lp[common:]))
    if len(lc) > common:
        sync.before_loop[(lc[common], sc)].extend(waits)
    else:
        sync.before_op[consumer].extend(waits)


def _carried_edge(sync: _Sync, consumer: Operation, token: BlockArgument, kernel: KernelOp, machine) -> None:
    """A token carried by a loop: iteration i consumes what iteration i - 1 produced.

    The carried value may itself start from an enclosing loop's carried value (a chain
    through nested loops, as a "buffer free" token is); the first consumption then comes
    from the outermost loop's initial value and the last production is drained after it
    (before the next loop of its block, or at the block's end).
    The chain goes up only while each enclosing loop hands on the inner loop's result;
    where its body produces the token anew after the inner loop (a sibling loop, a peeled
    step), the first iteration's value is that loop's carried value, a carried edge of its
    own (waited for before the loop holding the consumer), and this edge is pre-signalled
    and drained around the inner loop alone.
    """
    loop: LoopOp = token.owner.parent_op()
    next_value = loop.body.block.last_op.values[token.index]
    producer = _producer(next_value)
    outer, index, init_value = loop, token.index, _passthrough(loop.inits[token.index])
    while isinstance(init_value, BlockArgument) and isinstance(init_value.owner.parent_op(), LoopOp):
        parent = init_value.owner.parent_op()
        handed_on = _passthrough(parent.body.block.last_op.values[init_value.index])
        if not (isinstance(handed_on, OpResult) and handed_on.owner is outer and handed_on.index == index):
            _carried_edge(sync, consumer, init_value, kernel, machine)
            init_value = None
            break
        outer, index = parent, init_value.index
        init_value = _passthrough(parent.inits[init_value.index])
    init = _producer(init_value) if init_value is not None else None
    sc = _stream(consumer, machine)
    sp = _stream(producer, machine) if producer is not None else sc
    lp = _loops(producer, kernel) if producer is not None else []
    inner = lp[lp.index(loop) + 1:] if loop in lp else []
    per_iteration = _trips(inner)
    # A computed initial value made on the loop's producing stream as many times per
    # entry of the loop as the body produces the token per iteration (once, or once per L0
    # tile when both come out of L0 loops of the same trips): those ops signal the first
    # consumption themselves (on their stream they come before the loop's productions, so
    # the counts stay in order). Otherwise the consumer would wait for them before the
    # loop, and a double-buffered load of the other slot (the "slot 1 free" token is
    # ready, or made long before) would wait for the MPE to finish with slot 0.
    around = _loops(outer, kernel)
    init_loops = _loops(init, kernel) if init is not None else []
    early = (init is not None and sp != sc and _stream(init, machine) == sp
             and init_loops[:len(around)] == around and _trips(init_loops[len(around):]) == per_iteration
             and _span(init) == _span(consumer))
    if init is not None and not early:
        # A computed initial value: the consumer waits for every execution of its producer
        # before the loop starts (a plain edge); the carried part then starts as if ready.
        _edge(sync, init, consumer, kernel, machine)
    if sp == sc:
        return  # in order on one stream
    # The last production is drained late: before the next loop of the block that holds
    # `outer`, or at the block's end, so that the ops of `sc` after the loop that do not
    # need it (the peeled last step's load into the other slot) do not wait for it.
    drain_at = next((op for op in _following(outer) if isinstance(op, LoopOp)), None)
    last = drain_at if drain_at is not None else outer.parent_block().last_op
    start = _extent(sync, init, outer)[0] if early else sync.pre[outer]
    sem = sync.new(machine, _span(consumer), (sp, sc), (start, sync.pre[last] if drain_at else sync.end[last]))
    if producer is not None:
        sync.after_op[producer].append(Instruction("signal", {"sem": sem}))
    if early:
        sync.after_op[init].append(Instruction("signal", {"sem": sem}))
    else:  # the first consumption is pre-signalled
        sync.before_loop[(outer, sc)].extend(_signals(sem, per_iteration))
    lc = _loops(consumer, kernel)
    below = lc[lc.index(loop) + 1:]
    waits = _waits(sem, per_iteration)
    if below:
        sync.before_loop[(below[0], sc)].extend(waits)
    else:
        sync.before_op[consumer].extend(waits)
    if drain_at is not None:
        sync.before_loop[(drain_at, sc)].extend(_waits(sem, per_iteration))
    else:
        sync.block_end[outer.parent_block()][sc].extend(_waits(sem, per_iteration))


def _following(op: Operation):
    """The ops after `op` in its block."""
    op = op.next_op
    while op is not None:
        yield op
        op = op.next_op


# ---------------------------------------------------------------------------
# Emission
# ---------------------------------------------------------------------------


class _CoreEmitter:
    """Emits one core's streams for the kernel."""

    def __init__(self, kernel: KernelOp, core: int, machine, dram: dict, sync: _Sync):
        self.kernel, self.core, self.machine, self.dram, self.sync = kernel, core, machine, dram, sync
        self.prologue: dict[str, list[Instruction]] = defaultdict(list)
        self.regs: dict[str, int] = defaultdict(lambda: 1)
        self.loop_regs: dict[tuple[LoopOp, str], list[tuple[int, int]]] = defaultdict(list)
        self.shared_regs: dict[tuple, int] = {}
        # Register reuse. Every loop takes back at its exit what it added, so once a loop of
        # an access's key has exited (the key is then dead) its register holds only the
        # contributions of the loops it still steps with (`reg_steps`): a later access
        # that steps with exactly those (same steps) and possibly loops entered since can
        # take it over; not a loop that was already running around the register's earlier
        # uses without it (`reg_forbidden`: its iterations so far are missing).
        self.reg_key: dict[tuple[str, int], tuple | None] = {}
        self.reg_steps: dict[tuple[str, int], dict[int, int]] = {}
        self.reg_forbidden: dict[tuple[str, int], frozenset] = {}
        self.loop_streams: dict[LoopOp, set[str]] = defaultdict(set)

    def run(self) -> dict[str, list[Instruction]]:
        """The kernel's code per stream (address registers set up first), without `halt`."""
        body = self._block(self.kernel.body.block)
        streams = {}
        for name in self.machine.streams_per_core:
            instrs = self.prologue.get(name, []) + body.get(name, [])
            if instrs:
                streams[name] = instrs
        return streams

    def _block(self, block: Block) -> dict[str, list[Instruction]]:
        out: dict[str, list[Instruction]] = defaultdict(list)
        for op in block.ops:
            if isinstance(op, CoreletOp):
                if not op.runs_on(self.core):  # a region for other cores (uneven shares)
                    continue
                for s, instrs in self._block(op.body.block).items():
                    out[s].extend(instrs)
            elif isinstance(op, LoopOp):
                self._loop(op, out)
            elif isinstance(op, WorkOp):
                stream = _stream(op, self.machine)
                out[stream].extend(self.sync.before_op.get(op, []))
                out[stream].append(self._instruction(op, stream))
                out[stream].extend(self.sync.after_op.get(op, []))
            elif isinstance(op, BarrierOp):
                if block is not self.kernel.body.block:
                    raise LoweringError("rapid_mem.barrier inside a loop or corelet region is not lowered yet")
                streams, join, go = self.sync.barrier
                for stream in streams:
                    out[stream].extend(_join(stream, streams, join, go, True))
            elif not isinstance(op, AllocOp | ReadyOp | NextOp | GlobalOp):
                raise LoweringError(f"unexpected op {op.name} in a kernel")
        for stream, instrs in self.sync.block_end.get(block, {}).items():
            out[stream].extend(instrs)
        return out

    def _loop(self, loop: LoopOp, out: dict[str, list[Instruction]]) -> None:
        count = loop.count.value.data
        body = self._block(loop.body.block)
        streams = set(body) | {s for (l, s) in self.sync.before_loop if l is loop}
        for stream in [s for s in self.machine.streams_per_core if s in streams]:
            instrs = list(body.get(stream, []))
            for reg, step in self.loop_regs.get((loop, stream), []):
                instrs.append(Instruction("addi", {"rd": reg, "rs": reg, "imm": step}))
            out[stream].extend(self.sync.before_loop.get((loop, stream), []))
            if instrs and count == 1:  # one iteration: the body alone, no loop and no stepping
                out[stream].extend(body.get(stream, []))
            elif instrs:
                if len(instrs) >= 1 << 16:
                    raise LoweringError(f"loop '{loop.label.data}' has {len(instrs)} instructions in "
                                        f"{stream}, more than a hardware loop holds")
                out[stream].append(Instruction("loop", {"count": count, "len": len(instrs)}))
                out[stream].extend(instrs)
                for reg, step in self.loop_regs.get((loop, stream), []):
                    out[stream].append(Instruction("addi", {"rd": reg, "rs": reg, "imm": -step * count}))
        around = frozenset(id(l) for l in _loops(loop, self.kernel))
        for stream in self.loop_streams.pop(loop, ()):
            for reg, _ in self.loop_regs.get((loop, stream), []):
                r = (stream, reg)
                self.reg_steps[r].pop(id(loop), None)
                if self.reg_key[r] is not None:
                    del self.shared_regs[self.reg_key[r]]
                    self.reg_key[r] = None
                self.reg_forbidden[r] |= around

    def _ap(self, buffer: SSAValue, access: AccessAttr, stream: str, op: Operation,
            to_core: int | None = None) -> AccessPattern:
        typ = buffer.type
        size = itemsize(typ)
        if isinstance(buffer.owner, AllocOp):
            if buffer.owner.offset is None:
                raise LoweringError("a buffer has no offset: run rapid-mem-allocate first")
            start = buffer.owner.offset.value.data
        else:
            start = self.dram[buffer]
        base = start + (access.offset.data + access.core.data * self.core) * size
        dtype = DType.F16 if size == 2 else DType.F32
        reg = 0
        if access.loops:
            reg = self._register(stream, op, {label: coef * size for label, coef in access.loops.items()})
        return AccessPattern(_SPACE[typ.space.data], dtype, access.dim_pairs, base, reg, to_core,
                             access.pad_pairs)

    def _register(self, stream: str, op: Operation, steps: dict[str, int]) -> int:
        """The base register holding `sum(iteration * step)` over the given loops: accesses
        that step alike share one (their static parts stay in the pattern's offset)."""
        loops = {l.label.data: l for l in _loops(op, self.kernel)}
        want = {id(loops[label]): step for label, step in steps.items()}
        key = (stream, tuple(sorted(want.items())))
        if key in self.shared_regs:
            return self.shared_regs[key]
        reusable = [r for r, k in self.reg_key.items() if r[0] == stream and k is None
                    and all(want.get(l) == c for l, c in self.reg_steps[r].items())
                    and not (set(want) - set(self.reg_steps[r])) & self.reg_forbidden[r]]
        if reusable:
            reg = max(reusable, key=lambda r: len(self.reg_steps[r]))[1]
        else:
            reg = self.regs[stream]
            if reg >= self.machine.registers:
                raise LoweringError(f"stream {stream} needs more than the machine's "
                                    f"{self.machine.registers - 1} address registers")
            self.regs[stream] += 1
            self.prologue[stream].append(Instruction("li", {"rd": reg, "imm": 0}))
            self.reg_steps[(stream, reg)], self.reg_forbidden[(stream, reg)] = {}, frozenset()
        have = self.reg_steps[(stream, reg)]
        for label, step in steps.items():
            if id(loops[label]) not in have:
                have[id(loops[label])] = step
                self.loop_regs[(loops[label], stream)].append((reg, step))
                self.loop_streams[loops[label]].add(stream)
        self.reg_key[(stream, reg)] = key
        self.shared_regs[key] = reg
        return reg

    def _instruction(self, op: WorkOp, stream: str) -> Instruction:
        if isinstance(op, DmaOp):
            to_core = op.to_core.value.data if op.to_core is not None else None
            operands = {"dst": self._ap(op.dst, op.dst_access, stream, op, to_core),
                        "src": self._ap(op.src, op.src_access, stream, op)}
            if op.padval is not None:
                operands["padval"] = float(op.padval.value.data)
            return Instruction("dma.copy", operands)
        if isinstance(op, MpeOp):
            return Instruction("mpe.mma" if op.accumulate is not None else "mpe.mm", {
                "c": self._ap(op.c, op.c_access, stream, op), "a": self._ap(op.a, op.a_access, stream, op),
                "b": self._ap(op.b, op.b_access, stream, op)})
        return self._sfu(op, stream)

    def _sfu(self, op: SfuOp, stream: str) -> Instruction:
        from rapid_mlir.backend.isa import INSTRUCTIONS, Kind

        spec = INSTRUCTIONS[f"sfu.{op.kind.data}"]
        aps = [self._ap(v, a, stream, op) for v, a in zip(op.operands_, op.access_list.data)]
        imms = [float(f.value.data) for f in op.imms.data]
        operands = {}
        for o in spec.operands:
            if o.kind is Kind.AP:
                if not aps:
                    raise LoweringError(f"sfu.{op.kind.data} needs more buffers")
                operands[o.name] = aps.pop(0)
            elif o.kind is Kind.FIMM:
                if not imms:
                    raise LoweringError(f"sfu.{op.kind.data} needs the immediate '{o.name}'")
                operands[o.name] = imms.pop(0)
            elif o.kind is Kind.WINDOW:
                if op.window is None:
                    raise LoweringError(f"sfu.{op.kind.data} needs a window")
                v = [a.data for a in op.window.data]
                operands[o.name] = Window(tuple(zip(v[0::2], v[1::2])))
        if aps or imms:
            raise LoweringError(f"sfu.{op.kind.data} was given more buffers or immediates than it takes")
        return Instruction(spec.mnemonic, operands)


def _lower(kernels: list[KernelOp], fn: func.FuncOp, machine, weights: str | None = None) -> Program:
    """The program: every kernel in order on every core, joined in between (every stream of
    every core finishes kernel i before any starts kernel i + 1)."""
    for kernel in kernels:
        cores, corelets = kernel.cores.value.data, kernel.corelets.value.data
        if cores > machine.cores or corelets > machine.corelets_per_core:
            raise LoweringError(f"layer '{kernel.layer.data}': the kernel runs on {cores} cores x {corelets} "
                                f"corelets but machine '{machine.name}' has {machine.cores} x "
                                f"{machine.corelets_per_core}")
    addresses, symbols, segments = _layout(kernels, fn, machine, weights)
    # Every kernel numbers its semaphores from 0: a kernel waits on each as often as it
    # signals it, and at a junction every stream of every core has finished the kernel
    # before any starts the next, so all are back at 0. The junctions' own come after.
    sync = _Sync()
    per_kernel = []
    for kernel in kernels:
        try:
            kernel_sync = _plan_sync(kernel, machine)
            sync.sems = max(sync.sems, kernel_sync.sems)
        except LoweringError as e:
            raise LoweringError(f"layer '{kernel.layer.data}': {e}") from None
        dram = {inner: addresses[outer] for outer, inner in zip(kernel.buffers, kernel.body.block.args)}
        per_kernel.append((kernel, dram, kernel_sync))
    cores = max((k.cores.value.data for k in kernels), default=1)
    code: dict[tuple[int, str], list[list[Instruction]]] = defaultdict(lambda: [[] for _ in kernels])
    for i, (kernel, dram, kernel_sync) in enumerate(per_kernel):
        layer = kernel.layer.data
        for core in range(kernel.cores.value.data):
            try:
                streams = _CoreEmitter(kernel, core, machine, dram, kernel_sync).run()
            except LoweringError as e:
                raise LoweringError(f"layer '{layer}': {e}") from None
            for stream, instrs in streams.items():
                # Every instruction keeps the layer it came from (traces show it).
                code[(core, stream)][i] = [dataclasses.replace(x, origin=layer) for x in instrs]
        if kernel_sync.barrier is not None:  # cores without work meet the in-kernel barriers too
            count = sum(isinstance(op, BarrierOp) for op in kernel.body.block.ops)
            for core in range(kernel.cores.value.data, max(k.cores.value.data for k in kernels)):
                code[(core, kernel_sync.barrier[0][0])][i] = [Instruction("barrier", {}, origin=layer)] * count
    names = [s for s in machine.streams_per_core if any(st == s for _, st in code)] or machine.streams_per_core[:1]
    # Host ops (host_lowering.py) run at junction i, between kernel i - 1 and kernel i (0:
    # before the first, len(kernels): after the last), issued by core 0's leader stream.
    steps = [op for op in fn.body.block.ops if isinstance(op, KernelOp | HostOp)]
    hosts = [op for op in steps if isinstance(op, HostOp)]
    calls: list[list[Instruction]] = [[] for _ in range(len(kernels) + 1)]
    for op in steps:
        if isinstance(op, HostOp):
            calls[len([k for k in steps[:steps.index(op)] if isinstance(k, KernelOp)])].append(
                Instruction("host", {"entry": hosts.index(op)}, origin=op.layer.data))
    junctions = {i for i in range(len(kernels) + 1) if calls[i] or 0 < i < len(kernels)}
    # One "joined" semaphore for the leader, one "go" semaphore per other stream (a shared
    # one would let a stream that runs ahead through two joins take another's go).
    join, go = None, {}
    if junctions:
        join = sync.new(machine)
        go = {s: sync.new(machine) for s in names[1:]}
    name_of = lambda b: buffer_name(fn, b, _arg_name)  # noqa: E731
    program = Program(machine, symbols=symbols, data=segments,
                      host_ops=[manifest_entry(h, addresses, name_of) for h in hosts])
    last = steps[-1].layer.data
    for core in range(cores):
        for stream in names:
            parts = code[(core, stream)] if (core, stream) in code else [[] for _ in kernels]
            instrs: list[Instruction] = []
            for i in range(len(kernels) + 1):
                if i in junctions:
                    instrs += _join(stream, names, join, go, cores > 1, calls[i] if core == 0 else [],
                                    bool(calls[i]), final=i == len(kernels))
                if i < len(kernels):
                    instrs += parts[i]
            program.streams[(core, stream)] = instrs + [Instruction("halt", {}, origin=last)]
    return program


def _join(stream: str, names: list[str], join: int, go: dict[str, int], barrier: bool,
          calls: list[Instruction] = (), hosts: bool = False, final: bool = False) -> list[Instruction]:
    """Between two steps: every stream reports to the first one (the leader), which meets
    the other cores' leaders at a barrier and lets each of its streams go on. With host ops
    at this junction, core 0's leader issues their `host` calls (`calls`) after the barrier
    and the leaders meet at a second barrier before letting anyone go on; after the last
    kernel (`final`) nothing goes on: the streams report and halt."""
    if stream != names[0]:
        out = [Instruction("signal", {"sem": join})]
        return out if final else out + [Instruction("wait", {"sem": go[stream]})]
    out = _waits(join, len(names) - 1) if len(names) > 1 else []
    if barrier:
        out.append(Instruction("barrier", {}))
    out += calls
    if final:
        return out
    if hosts and barrier:
        out.append(Instruction("barrier", {}))
    return out + [Instruction("signal", {"sem": go[s]}) for s in names[1:]]
