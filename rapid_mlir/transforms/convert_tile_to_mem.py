"""`convert-tile-to-mem`: a matrix-product kernel and its mapping become `rapid_mem` code.

    rapid-opt mm.mlir -p 'convert-nn-to-tile{machine=rapid-4c},convert-tile-to-mem{machine=rapid-4c}'

This first version lowers a function whose work is one `rapid_tile.kernel` holding an
`nn.matmul` of two 2-D tensors or an `nn.gemm` without transposes, scaling or bias, whose
operands are the function's arguments; see docs/lowering.md for the general plan.
The function becomes a device function on DRAM buffers, all f16 (the device's storage):
its arguments are inputs, its results extra output arguments named after them, and a
tensor passed from one kernel to the next a `rapid_mem.scratch` buffer.

The code follows the kernel's mapping (`rows(m) cols(n) simd(k) order(b,m,n,k)`):
every core runs it SPMD on its share of the split dimension, every corelet on its share
of the corelet split (loading through its own DMA queue); LX tiles of `lx(m) x K` of A
and `K x lx(n)` of B are loaded in loops over m and n, each L0 tile of C is one `mpe`
over the first `l0(k)` and `mpe accumulate` over the rest, then taken out of ACC by the
SFU (a copy, or the fused relu) to LX and stored; carried "free" tokens order every reuse of a buffer after its last reader.
With `double_buffer` the A and B tiles get two LX buffers each and the loops over m and
n are unrolled by two (loads of both buffers first, an odd last step peeled), so the
next tile loads while the MPE works on the current one; a lone corelet stores through
the second DMA queue. Mappings this version cannot express (tiles that do not divide the
extents, `lx(k) < K`) are rejected with a message naming the layer and what is missing.
"""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects import func
from xdsl.dialects.builtin import (
    ArrayAttr,
    DictionaryAttr,
    IntegerAttr,
    ModuleOp,
    StringAttr,
    UnitAttr,
    f16,
    f32,
    i64,
)
from xdsl.ir import Block, Region, SSAValue
from xdsl.passes import ModulePass
from xdsl.utils.exceptions import PassFailedException

from rapid_mlir.dialects import nn
from rapid_mlir.dialects import rapid_mem as M
from rapid_mlir.dialects import rapid_tile
from rapid_mlir.dialects.nn import NAME_ATTR
from rapid_mlir.frontend.builder import ssa_name
from rapid_mlir.mapping.mapping import Mapping


class TileLoweringError(ValueError):
    """A kernel or mapping this version of the lowering cannot express."""


def _fail(layer: str, msg: str):
    raise TileLoweringError(f"layer '{layer}': {msg}")


@dataclass(frozen=True)
class ConvertTileToMemPass(ModulePass):
    """Lowers the module's matrix-product kernel to a rapid_mem kernel on DRAM buffers."""

    name = "convert-tile-to-mem"

    machine: str = "rapid-4c"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        from rapid_mlir.machine import MachineError, load_machine

        try:
            machine = load_machine(self.machine)
            for fn in [f for f in op.body.block.ops if isinstance(f, func.FuncOp) and not f.is_declaration]:
                _lower_function(fn, machine)
        except (MachineError, TileLoweringError) as e:
            raise PassFailedException(f"convert-tile-to-mem: {e}") from None


# ---------------------------------------------------------------------------
# The function
# ---------------------------------------------------------------------------


def _lower_function(fn: func.FuncOp, machine) -> None:
    ops = list(fn.body.block.ops)
    kernels = [o for o in ops if isinstance(o, rapid_tile.KernelOp)]
    others = [o for o in ops if not isinstance(o, rapid_tile.KernelOp | func.ReturnOp | nn.WeightOp
                                               | nn.ConstantOp)]
    if others:
        raise TileLoweringError(f"@{fn.sym_name.data}: {others[0].name} runs on the host; this version "
                                "lowers functions made of device kernels")
    if not kernels:
        return
    ret = fn.body.block.last_op
    results = list(ret.arguments)
    if any(not isinstance(v.owner, rapid_tile.KernelOp) for v in results) or len(set(results)) != len(results):
        raise TileLoweringError(f"@{fn.sym_name.data}: every result must be a distinct kernel result")

    # Device storage is f16: arguments are inputs, results become output arguments.
    args = list(fn.body.block.args)
    arg_types = [M.BufferType(tuple(v.type.get_shape()), f16, M.MemSpace.DRAM) for v in args]
    out_types = [M.BufferType(tuple(v.type.get_shape()), f16, M.MemSpace.DRAM) for v in results]
    new_block = Block(arg_types=[*arg_types, *out_types])
    for old, new in zip(args, new_block.args):
        new.name_hint = old.name_hint
    for i, new in enumerate(new_block.args[len(args):]):
        new.name_hint = f"out{i}"
    names = [_name(fn.arg_attrs, i, a_.name_hint or f"arg{i}") for i, a_ in enumerate(args)]
    names += [_name(fn.res_attrs, i, f"output{i}") for i in range(len(results))]
    buffers: dict[SSAValue, SSAValue] = dict(zip(args, new_block.args))
    buffers.update(zip(results, new_block.args[len(args):]))
    for kernel in kernels:
        operands = [_device_buffer(v, kernel, i, new_block, buffers) for i, v in enumerate(kernel.inputs)]
        out = kernel.outputs[0]
        if out not in buffers:  # an intermediate tensor: a DRAM scratch buffer
            scratch = M.ScratchOp.build(result_types=[M.BufferType(tuple(out.type.get_shape()), f16,
                                                                   M.MemSpace.DRAM)])
            scratch.buffer.name_hint = ssa_name(kernel.layer.data)
            new_block.add_op(scratch)
            buffers[out] = scratch.buffer
        new_block.add_op(_lower_kernel(kernel, [*operands, buffers[out]], machine))
    new_block.add_op(func.ReturnOp())
    new_fn = func.FuncOp(fn.sym_name.data, ([*arg_types, *out_types], []), Region(new_block))
    new_fn.arg_attrs = ArrayAttr([DictionaryAttr({NAME_ATTR: StringAttr(n_)}) for n_ in names])
    parent = fn.parent_block()
    parent.insert_op_before(new_fn, fn)
    fn.detach()
    fn.erase()


def _device_buffer(value: SSAValue, kernel, i: int, block: Block, buffers: dict) -> SSAValue:
    """The DRAM buffer of a kernel operand: an argument, an earlier kernel's result, or a
    weight / constant (an initialised global, made on first use)."""
    if value in buffers:
        return buffers[value]
    owner = value.owner
    layer = kernel.layer.data
    typ = M.BufferType(tuple(value.type.get_shape()), f16, M.MemSpace.DRAM)
    if isinstance(owner, nn.WeightOp):
        props = {"sym_name": StringAttr(owner.weight_name.data)}
    elif isinstance(owner, nn.ConstantOp):
        props = {"sym_name": StringAttr(f"{layer}.constant{i}"), "value": owner.value}
    else:
        _fail(layer, f"operand {i} comes from {owner.name}, not an argument, kernel, weight or constant")
    glob = M.GlobalOp.build(properties=props, result_types=[typ])
    glob.buffer.name_hint = ssa_name(props["sym_name"].data)
    block.add_op(glob)
    buffers[value] = glob.buffer
    return glob.buffer


def _lower_kernel(kernel, buffers: list[SSAValue], machine) -> M.KernelOp:
    """The rapid_mem kernel of one rapid_tile kernel on its DRAM buffers."""
    body_ops = list(kernel.body.block.ops)
    work = body_ops[0]
    layer = kernel.layer.data
    if not isinstance(work, nn.Conv2DOp):
        _check_matmul(work, layer)
    epilogue = "copy"
    if len(body_ops) == 3 and isinstance(body_ops[1], nn.ReluOp) and body_ops[1].input is work.results[0]:
        epilogue = "relu"
    elif len(body_ops) != 2:
        _fail(layer, f"a kernel of {', '.join(o.name for o in body_ops[:-1])} is not lowered yet")
    if isinstance(work, nn.Conv2DOp):
        from rapid_mlir.transforms.conv_lowering import conv_kernel

        return conv_kernel(layer, kernel.mapping.mapping, work, buffers, machine, epilogue)
    m, k = kernel.inputs[0].type.get_shape()
    n = kernel.outputs[0].type.get_shape()[1]
    trans_b = isinstance(work, nn.GemmOp) and work.trans_b is not None
    return _kernel(layer, kernel.mapping.mapping, (m, n, k), buffers, machine, epilogue, trans_b)


def _name(attrs, index: int, default: str) -> str:
    if isinstance(attrs, ArrayAttr) and index < len(attrs.data):
        name = attrs.data[index].data.get(NAME_ATTR)
        if isinstance(name, StringAttr):
            return name.data
    return default


def _check_matmul(op, layer: str) -> tuple[tuple[int, int], tuple[int, int]]:
    if isinstance(op, nn.GemmOp):
        plain = (op.trans_a is None
                 and float(op.alpha.value.data) == 1.0 and float(op.beta.value.data) == 1.0)
        if not plain:
            _fail(layer, "nn.gemm with trans_a or scaling is not lowered yet")
        if op.bias is not None and tuple(op.bias.type.get_shape()) not in (
                (op.output.type.get_shape()[1],), (1, op.output.type.get_shape()[1])):
            _fail(layer, "nn.gemm with a bias that is not one value per column is not lowered yet")
    elif not isinstance(op, nn.MatmulOp):
        _fail(layer, f"{op.name} kernels are not lowered yet (this version lowers matrix products)")
    a, b = tuple(op.lhs.type.get_shape()), tuple(op.rhs.type.get_shape())
    if len(a) != 2 or len(b) != 2:
        _fail(layer, "only 2-D matrix products are lowered yet")
    return a, b


# ---------------------------------------------------------------------------
# The kernel
# ---------------------------------------------------------------------------


@dataclass
class _Plan:
    """The mapping resolved into per-corelet extents, tile counts and strides."""

    m: int
    n: int
    k: int
    core_dim: str | None      # "m" or "n" split over cores
    cores: int
    corelet_dim: str | None
    corelets: int
    em: int                   # per-corelet extents
    en: int
    lm: int                   # LX tiles
    ln: int
    tm: int                   # L0 tiles
    tn: int
    tk: int
    double_buffer: bool
    trans_b: bool = False     # B is given as [n][k] (a dense layer's weight, ONNX Gemm transB)


def _plan(layer: str, mapping: Mapping, m: int, n: int, k: int, machine) -> _Plan:
    if (mapping.rows, mapping.cols, mapping.simd) != (("m",), ("n",), ("k",)):
        _fail(layer, "only rows(m) cols(n) simd(k) mappings are lowered yet")
    splits = {}
    for clause in ("cores", "corelets"):
        parts = {d: p for d, p in getattr(mapping, clause).items() if p > 1}
        if len(parts) > 1 or set(parts) - {"m", "n"}:
            _fail(layer, f"{clause} may split one of m or n, found {getattr(mapping, clause)}")
        splits[clause] = next(iter(parts.items()), (None, 1))
    extent = {"m": m, "n": n}
    for clause, (dim, parts) in splits.items():
        if dim is not None:
            if extent[dim] % parts:
                _fail(layer, f"{clause}({dim}={parts}) does not divide {dim} = {extent[dim]}")
            extent[dim] //= parts
    lm, ln, lk = mapping.lx.get("m", 1), mapping.lx.get("n", 1), mapping.lx.get("k", 1)
    tm, tn, tk = mapping.l0.get("m", 1), mapping.l0.get("n", 1), mapping.l0.get("k", 1)
    if lk != k:
        _fail(layer, f"lx(k={lk}) < k = {k}: keeping partial sums across LX k steps is not lowered yet")
    for name, outer, inner in (("lx(m)", extent["m"], lm), ("lx(n)", extent["n"], ln), ("l0(m)", lm, tm),
                               ("l0(n)", ln, tn), ("l0(k)", k, tk)):
        if outer % inner:
            _fail(layer, f"{name} = {inner} does not divide {outer}; ragged tiles are not lowered yet")
    corelet_dim, corelets = splits["corelets"]
    if corelets > 1 and machine.dma_queues < corelets:
        _fail(layer, f"{corelets} corelets need one DMA queue each but the machine has {machine.dma_queues}")
    core_dim, cores = splits["cores"]
    return _Plan(m, n, k, core_dim, cores, corelet_dim, corelets, extent["m"], extent["n"],
                 lm, ln, tm, tn, tk, mapping.double_buffer)


def _kernel(layer: str, mapping: Mapping, mnk, args: list[SSAValue], machine, epilogue: str,
            trans_b: bool = False) -> M.KernelOp:
    m, n, k = mnk
    plan = _plan(layer, mapping, m, n, k, machine)
    plan.trans_b = trans_b
    body = Block(arg_types=[a.type for a in args])
    for corelet in range(plan.corelets):
        region = Block()
        _Corelet(plan, corelet, body.args, region, machine.dma_queues, epilogue).emit()
        body.add_op(M.CoreletOp.build(properties={"index": IntegerAttr(corelet, i64)},
                                      regions=[Region(region)]))
    return M.KernelOp.build(
        operands=[args],
        properties={"layer": StringAttr(layer), "cores": IntegerAttr(plan.cores, i64),
                    "corelets": IntegerAttr(plan.corelets, i64)},
        regions=[Region(body)])


class _Corelet:
    """Builds one corelet's code: loops over LX tiles, loads, MPE tile products, stores."""

    def __init__(self, plan: _Plan, corelet: int, dram: tuple[SSAValue, ...], block: Block, dma_queues: int,
                 epilogue: str):
        self.p, self.corelet, self.block = plan, corelet, block
        self.epilogue = epilogue  # the SFU op that takes a finished tile out of ACC: copy or relu
        self.a, self.b, self.c = dram[0], dram[1], dram[-1]
        self.bias = dram[2] if len(dram) == 4 else None  # added in the epilogue
        # One DMA queue per corelet; a lone corelet loads on dma0 and stores on dma1.
        self.queue = corelet if plan.corelets > 1 else 0
        self.store_queue = self.queue if plan.corelets > 1 or dma_queues < 2 else 1
        # Element offsets of this core's and this corelet's share of m and n.
        self.core_m = plan.em * plan.corelets if plan.core_dim == "m" and plan.corelet_dim == "m" else plan.em
        self.core_n = plan.en * plan.corelets if plan.core_dim == "n" and plan.corelet_dim == "n" else plan.en
        self.m0 = corelet * plan.em if plan.corelet_dim == "m" else 0
        self.n0 = corelet * plan.en if plan.corelet_dim == "n" else 0

    def add(self, block: Block, op):
        block.add_op(op)
        return op

    # Carried token state: when each LX buffer slot of A and B, the accumulator and the LX
    # output tile are free again, and the last finished tile (all "free" at the start).
    A0, A1, B0, B1, ACC, OUT, LAST = range(7)

    def emit(self) -> None:
        p, blk = self.p, self.block
        alloc = lambda shape, elem, space: self.add(blk, M.AllocOp.build(  # noqa: E731
            result_types=[M.BufferType(shape, elem, space)])).buffer
        # A second buffer only where a dimension has more than one LX step to overlap.
        slots_a = 2 if p.double_buffer and p.em // p.lm >= 2 else 1
        slots_b = 2 if p.double_buffer and p.en // p.ln >= 2 else 1
        self.lx_a = [alloc((p.lm, p.k), f16, M.MemSpace.LX) for _ in range(slots_a)]
        b_shape = (p.ln, p.k) if p.trans_b else (p.k, p.ln)
        self.lx_b = [alloc(b_shape, f16, M.MemSpace.LX) for _ in range(slots_b)]
        self.lx_bias = [alloc((p.ln,), f16, M.MemSpace.LX) for _ in range(slots_b)] if self.bias else []
        self.tbias: dict[int, SSAValue] = {}
        self.lx_c = alloc((p.tm, p.tn), f16, M.MemSpace.LX)
        self.acc = alloc((p.tm, p.tn), f32, M.MemSpace.ACC)
        ready = self.add(blk, M.ReadyOp.build(result_types=[M.TokenType()])).token
        self.pos: dict[str, tuple[int, int | None]] = {}
        self._stepped(blk, "m", p.em // p.lm, p.lm, [ready] * 7, self._load_a, self._compute_m)

    def _stepped(self, block: Block, dim: str, count: int, tile: int, state, load, compute) -> list:
        """The LX steps along `dim`: a loop, unrolled by two over two buffer slots when the
        mapping double-buffers (loads of both slots first, so the second loads while the
        first computes), with an odd last step peeled. Returns the state after the steps."""
        per = 2 if self.p.double_buffer and count >= 2 else 1
        loop = self._loop(block, dim, count // per, state)
        body = loop.body.block
        st = list(body.args)
        tokens = []
        for slot in range(per):
            self.pos[dim] = (slot * tile, per * tile)
            st, token = load(body, slot, st)
            tokens.append(token)
        for slot in range(per):
            self.pos[dim] = (slot * tile, per * tile)
            st = compute(body, slot, tokens[slot], st)
        self.add(body, M.NextOp.build(operands=[st]))
        st = list(loop.outs)
        if count % per:
            self.pos[dim] = ((count - 1) * tile, None)
            st, token = load(block, 0, st)
            st = compute(block, 0, token, st)
        return st

    def _load_a(self, block: Block, slot: int, st: list) -> tuple[list, SSAValue]:
        p = self.p
        core_coef = self.core_m * p.k if p.core_dim == "m" else 0
        offset, loops = self._position({"m": p.k})
        src = self._access(((p.lm, p.k), (p.k, 1)), self.m0 * p.k + offset, core_coef, loops)
        token = self._dma(block, self.lx_a[slot], self._access(((p.lm, p.k), (p.k, 1))), self.a, src,
                          st[self.A0 + slot])
        return st, token

    def _inner_steps(self) -> tuple[str, int, int]:
        """The dimension of the B (weight) tile steps: its name, step count and tile."""
        return "n", self.p.en // self.p.ln, self.p.ln

    def _compute_m(self, block: Block, slot: int, ta: SSAValue, st: list) -> list:
        """Everything that uses A slot `slot`: the steps of B tiles; then the slot is free."""
        self.a_slot, self.ta = slot, ta
        st = self._stepped(block, *self._inner_steps(), st, self._load_b, self._compute_n)
        st = list(st)
        st[self.A0 + slot] = st[self.LAST]
        return st

    def _load_b(self, block: Block, slot: int, st: list) -> tuple[list, SSAValue]:
        p = self.p
        core_coef = self.core_n if p.core_dim == "n" else 0
        offset, loops = self._position({"n": 1})
        if p.trans_b:  # rows of the [n][k] weight
            src = self._access(((p.ln, p.k), (p.k, 1)), (self.n0 + offset) * p.k, core_coef * p.k,
                               {d: c * p.k for d, c in loops.items()})
            dst = self._access(((p.ln, p.k), (p.k, 1)))
        else:
            src = self._access(((p.k, p.n), (p.ln, 1)), self.n0 + offset, core_coef, loops)
            dst = self._access(((p.k, p.ln), (p.ln, 1)))
        token = self._dma(block, self.lx_b[slot], dst, self.b, src, st[self.B0 + slot])
        if self.bias is not None:
            src = self._access(((p.ln, 1),), self.n0 + offset, core_coef, loops)
            self.tbias[slot] = self._dma(block, self.lx_bias[slot], self._access(((p.ln, 1),)), self.bias, src,
                                         st[self.B0 + slot])
        return st, token

    def _compute_n(self, block: Block, slot: int, tb: SSAValue, st: list) -> list:
        self.b_slot = slot
        done, acc_free, out_free = self._tiles(block, self.lx_a[self.a_slot], self.lx_b[slot], self.ta, tb,
                                               st[self.ACC], st[self.OUT])
        st = list(st)
        st[self.B0 + slot], st[self.ACC], st[self.OUT], st[self.LAST] = done, acc_free, out_free, done
        return st

    def _epilogue(self, block: Block, dst: M.AccessAttr, acc: M.AccessAttr, bias: M.AccessAttr, after) -> SSAValue:
        """Takes a finished tile out of ACC into the LX output tile: a copy, or the bias
        added (broadcast by `bias`'s zero strides), then the fused relu."""
        def sfu(kind, operands, accesses, deps):
            op = M.SfuOp.build(operands=[operands, deps], result_types=[M.TokenType()],
                               properties={"kind": StringAttr(kind), "access_list": ArrayAttr(accesses),
                                           "imms": ArrayAttr([])})
            block.add_op(op)
            return op.token

        if self.bias is None:
            return sfu(self.epilogue, [self.lx_c, self.acc], [dst, acc], after)
        token = sfu("add", [self.lx_c, self.acc, self.lx_bias[self.b_slot]], [dst, acc, bias],
                    [*after, self.tbias[self.b_slot]])
        if self.epilogue == "relu":
            token = sfu("relu", [self.lx_c, self.lx_c], [dst, dst], [token])
        return token

    def _position(self, scale: dict[str, int]) -> tuple[int, dict[str, int]]:
        """The static element offset and loop coefficients of the current LX step along
        the dims in `scale` (element stride of one step along that dim)."""
        offset, loops = 0, {}
        for dim, unit in scale.items():
            static, coef = self.pos[dim]
            offset += static * unit
            if coef is not None:
                loops[dim] = coef * unit
        return offset, loops

    # -- pieces --------------------------------------------------------------------------

    def _loop(self, block: Block, label: str, count: int, carried: list[SSAValue]) -> M.LoopOp:
        body = Block(arg_types=[M.TokenType()] * len(carried))
        loop = M.LoopOp.build(operands=[carried], result_types=[[M.TokenType()] * len(carried)],
                              properties={"label": StringAttr(label), "count": IntegerAttr(count, i64)},
                              regions=[Region(body)])
        block.add_op(loop)
        return loop

    def _access(self, dims, offset=0, core=0, loops=None, pads=None) -> M.AccessAttr:
        pads = pads if pads is not None and any(p != (0, 0) for p in pads) else None
        return M.AccessAttr(dims, offset, core, {k: v for k, v in (loops or {}).items() if v}, pads)

    def _dma(self, block, dst, dst_access, src, src_access, *after, queue: int | None = None) -> SSAValue:
        op = M.DmaOp.build(operands=[dst, src, [a for a in after if a is not None]],
                           result_types=[M.TokenType()],
                           properties={"queue": IntegerAttr(self.queue if queue is None else queue, i64),
                                       "dst_access": dst_access,
                                       "src_access": src_access})
        block.add_op(op)
        return op.token

    def _tiles(self, block: Block, lx_a, lx_b, ta, tb, acc_free, out_free):
        """All L0 tiles of C in the LX tile: loops "mi" x "ni", k steps, copy and store.
        Returns (last copy done, accumulator free, output tile free)."""
        p = self.p
        lx_c, acc = self.lx_c, self.acc
        loop_mi = self._loop(block, "mi", p.lm // p.tm, [acc_free, out_free])
        bmi = loop_mi.body.block
        loop_ni = self._loop(bmi, "ni", p.ln // p.tn, list(bmi.args))
        b = loop_ni.body.block
        a_free, o_free = b.args  # accumulator free, LX output tile free
        steps = p.k // p.tk
        a_acc = lambda kk: self._access(((1, 0), (p.tm, p.k), (p.tk, 1)), kk * p.tk, 0, {"mi": p.tm * p.k})  # noqa: E731
        if p.trans_b:  # B[k, n] = W[n, k]: a transposed view of the [ln][k] tile
            b_acc = lambda kk: self._access(((p.tk, 1), (p.tn, p.k)), kk * p.tk, 0, {"ni": p.tn * p.k})  # noqa: E731
        else:
            b_acc = lambda kk: self._access(((p.tk, p.ln), (p.tn, 1)), kk * p.tk * p.ln, 0, {"ni": p.tn})  # noqa: E731
        c_acc = self._access(((1, 0), (p.tm, p.tn), (p.tn, 1)))
        last = None
        for kk in range(steps):  # one instruction per k step (unrolled: steps = K / l0(k))
            after = [ta, tb, a_free] if kk == 0 else [last]
            op = M.MpeOp.build(operands=[acc, lx_a, lx_b, after], result_types=[M.TokenType()],
                               properties={"c_access": c_acc, "a_access": a_acc(kk), "b_access": b_acc(kk),
                                           **({"accumulate": UnitAttr()} if kk else {})})
            b.add_op(op)
            last = op.token
        tile = self._access(((p.tm, p.tn), (p.tn, 1)))
        bias = self._access(((p.tm, 0), (p.tn, 1)), 0, 0, {"ni": p.tn})
        copy = self._epilogue(b, tile, tile, bias, [last, o_free])
        core_m = self.core_m * p.n if p.core_dim == "m" else 0
        core_n = self.core_n if p.core_dim == "n" else 0
        offset, loops = self._position({"m": p.n, "n": 1})
        dst = self._access(((p.tm, p.n), (p.tn, 1)), self.m0 * p.n + self.n0 + offset, core_m + core_n,
                           loops | {"mi": p.tm * p.n, "ni": p.tn})
        store = self._dma(b, self.c, dst, lx_c, tile, copy, queue=self.store_queue)
        b.add_op(M.NextOp.build(operands=[[copy, store]]))
        bmi.add_op(M.NextOp.build(operands=[[loop_ni.outs[0], loop_ni.outs[1]]]))
        return loop_mi.outs[0], loop_mi.outs[0], loop_mi.outs[1]
