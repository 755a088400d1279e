"""`convert-tile-to-mem`: a matrix-product kernel and its mapping become `rapid_mem` code.

    rapid-opt mm.mlir -p 'convert-nn-to-tile{machine=rapid-4c},convert-tile-to-mem{machine=rapid-4c}'

This first version lowers a function whose work is one `rapid_tile.kernel` holding an
`nn.matmul` of two 2-D tensors or an `nn.gemm` without transposes, scaling or bias, whose
operands are the function's arguments; see docs/lowering.md for the general plan.
The function becomes a device function on DRAM buffers, all f16 (the device's storage):
its arguments are inputs, its results extra output arguments named after them, and a
tensor passed from one kernel to the next a `rapid_mem.scratch` buffer. `nn.reshape` and
`nn.flatten` become `rapid_mem.view`s of their source's buffer (`dram_views.py`), and so
do the parts of a split whose parts are runs of consecutive elements (no kernel); kernels
of layers the SFU runs alone go to `sfu_lowering.py`, data-movement kernels (concat, split,
transpose, pad) to `dma_lowering.py` (a kernel with several results, a split's, gets one
DRAM buffer per result, after its operands').

Matrix products (`nn.matmul` of 2-D tensors, `nn.gemm` with or without `trans_b` and a
bias) and convolutions go to `mpe_lowering.py` and `conv_lowering.py`: the loop nest the
kernel's mapping describes, per core (SPMD, cores with other shares in regions of their
own) and corelet, with ragged tiles at every level as peeled steps with their own static
sizes, LX steps along the image rows with their border padding, partial sums kept in ACC
across LX reduction steps, double-buffered loads, the MPE tile products and the SFU
epilogue (a copy, the bias, the fused activation: the layer's own `act_min` / `act_max`
intersected with a relu or clip fused into the kernel, `sfu.relu` for a plain relu and
`sfu.clip` with the bounds as immediates otherwise). Mappings they cannot express (a
split of a reduction dim, tiling the conv kernel window in LX) are rejected with a
message naming the layer and what is missing.
"""

from __future__ import annotations

import dataclasses
import math

from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects import func
from xdsl.dialects.builtin import (
    ArrayAttr,
    DictionaryAttr,
    IntegerAttr,
    ModuleOp,
    StringAttr,
    f16,
    i64,
)
from xdsl.ir import Block, BlockArgument, Region, SSAValue
from xdsl.passes import ModulePass
from xdsl.utils.exceptions import PassFailedException

from rapid_mlir.dialects import nn
from rapid_mlir.dialects import rapid_mem as M
from rapid_mlir.dialects import rapid_tile
from rapid_mlir.dialects.nn import NAME_ATTR
from rapid_mlir.frontend.builder import ssa_name
from rapid_mlir.transforms.dram_views import bind_results, split_views, view_buffer, view_root
from rapid_mlir.transforms.dma_layers import DMA_OPS
from rapid_mlir.transforms.sfu_layers import SFU_OPS
from rapid_mlir.transforms.convert_nn_to_tile import defined_functions, layer_names
from rapid_mlir.transforms.host_lowering import dram_type, lower_host_op, runs_on_host


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
            for fn in defined_functions(op):
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
                                               | nn.ConstantOp | nn.ReshapeOp | nn.FlattenOp)
              and not runs_on_host(o)]  # reshape, flatten: DRAM views (dram_views.py)
    if others:
        raise TileLoweringError(f"@{fn.sym_name.data}: {others[0].name} is neither a device kernel nor "
                                "an nn op the host can run")
    hosts = [o for o in ops if runs_on_host(o)]  # host fallback: see host_lowering.py
    if not kernels and not hosts:
        return
    ret = fn.body.block.last_op
    results = list(ret.arguments)
    roots = [view_root(v) for v in results]
    if any(not isinstance(v.owner, rapid_tile.KernelOp) and v.owner not in hosts for v in roots) \
            or len(set(roots)) != len(roots):
        raise TileLoweringError(f"@{fn.sym_name.data}: every result must be a distinct kernel or host op result")

    # Device storage is f16: arguments are inputs, results become output arguments.
    args = list(fn.body.block.args)
    arg_types = [dram_type(v.type) for v in args]  # f16, f32 for integer tensors
    out_types = [dram_type(v.type) for v in results]
    new_block = Block(arg_types=[*arg_types, *out_types])
    for old, new in zip(args, new_block.args):
        new.name_hint = old.name_hint
    for i, new in enumerate(new_block.args[len(args):]):
        new.name_hint = f"out{i}"
    names = [_name(fn.arg_attrs, i, a_.name_hint or f"arg{i}") for i, a_ in enumerate(args)]
    names += [_name(fn.res_attrs, i, f"output{i}") for i in range(len(results))]
    buffers: dict[SSAValue, SSAValue] = dict(zip(args, new_block.args))
    bind_results(results, new_block.args[len(args):], new_block, buffers)
    layers = layer_names(fn)
    resident_seen: set[str] = set()
    following = dict(zip(kernels, kernels[1:]))
    preceding = dict(zip(kernels[1:], kernels))
    for kernel in [o for o in ops if isinstance(o, rapid_tile.KernelOp) or o in hosts]:
        if kernel in hosts:
            lower_host_op(kernel, layers[kernel], new_block, buffers)
            continue
        operands = [_device_buffer(v, kernel, i, new_block, buffers) for i, v in enumerate(kernel.inputs)]
        outs = list(kernel.outputs)  # several for nn.split (dma_lowering.py): one buffer each
        work = next(iter(kernel.body.block.ops))
        if isinstance(work, nn.SplitOp) and split_views(work, outs, operands[0], new_block, buffers, runs_on_host):
            continue  # its parts are runs of its input's bytes: views, no kernel (dram_views.py)
        for j, out in enumerate(outs):
            if out not in buffers:  # an intermediate tensor: a DRAM scratch buffer
                scratch = M.ScratchOp.build(result_types=[M.BufferType(tuple(out.type.get_shape()), f16,
                                                                       M.MemSpace.DRAM)])
                layer = kernel.layer.data
                scratch.buffer.name_hint = ssa_name(layer if len(outs) == 1 else f"{layer}_out{j}")
                new_block.add_op(scratch)
                buffers[out] = scratch.buffer
        resident = _resident(kernel, operands, fn, resident_seen)
        kept = _kept(kernel, preceding.get(kernel), following.get(kernel), fn)
        lowered = _lower_kernel(kernel, [*operands, *(buffers[out] for out in outs)], machine, resident, kept)
        if kernel.mapping.mapping.prefetch:
            lowered = _prefetch(kernel, lowered, following.get(kernel), fn, new_block, buffers, machine,
                                resident_seen)
        new_block.add_op(lowered)
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
    if isinstance(owner, nn.ReshapeOp | nn.FlattenOp):
        return view_buffer(value, block, buffers, lambda v: _device_buffer(v, kernel, i, block, buffers))
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


def _resident(kernel, operands: list[SSAValue], fn: func.FuncOp, seen: set[str]) -> tuple[str, bool] | None:
    """(key, loads it) for a kernel whose mapping keeps its weight in LX
    (`mapping/residency.py`): the key names the function, the weight's DRAM global and
    the mapping; the first kernel of a key in program order loads the weight."""
    import hashlib

    mapping = kernel.mapping.mapping
    if not mapping.resident:
        return None
    weight = operands[1] if len(operands) > 1 else None
    # through reshapes only: a part of a split (a view with an offset) is not the whole
    # global, and the key would not tell two parts of one global apart
    while weight is not None and isinstance(weight.owner, M.ViewOp) and weight.owner.offset is None:
        weight = weight.owner.source
    if weight is None or not isinstance(weight.owner, M.GlobalOp):
        _fail(kernel.layer.data, f"resident({','.join(mapping.resident)}): the weight must be an nn.weight "
                                 "or nn.constant (a DRAM global no kernel writes)")
    digest = hashlib.sha1(dataclasses.replace(mapping, prefetch=False).to_text().encode()).hexdigest()[:8]
    key = f"{fn.sym_name.data}/{weight.owner.sym_name.data}/{digest}"
    load = key not in seen
    seen.add(key)
    return key, load


def _kept(kernel, prev, nxt, fn: func.FuncOp) -> dict[str, tuple[str, bool]] | None:
    """For `keep_output` / `share_output` / `kept_input` mappings (`mapping/forwarding.py`):
    operand -> (key, stored) of the tensor kept in LX between the kernel and the next one
    ("output") or the one before ("input"), after checking that the two form a pair: the
    next kernel takes the output as its input, with a layout equal to the kept one, and
    under `keep_output` (not stored) nothing else reads it."""
    from rapid_mlir.mapping.forwarding import check_pair
    from rapid_mlir.mapping.mapping import MappingError
    from rapid_mlir.transforms.convert_nn_to_tile import layer_problem

    mapping, layer = kernel.mapping.mapping, kernel.layer.data
    out: dict[str, tuple[str, bool]] = {}
    produces = "share_output" if mapping.share_output else "keep_output"
    for flag, other, producer, consumer in ((produces, nxt, kernel, nxt), ("kept_input", prev, prev, kernel)):
        if not getattr(mapping, flag):
            continue
        keeps = other is not None and (producer.mapping.mapping.keep_output or producer.mapping.mapping.share_output)
        if other is None or not (keeps and consumer.mapping.mapping.kept_input):
            which = "previous" if flag == "kept_input" else "next"
            _fail(layer, f"{flag}: the {which} kernel ({other.layer.data if other is not None else 'none'}) "
                         f"does not {'keep its output in' if flag == 'kept_input' else 'take the output from'} "
                         f"LX (its mapping has no "
                         f"{'keep_output or share_output' if flag == 'kept_input' else 'kept_input'})")
        value = producer.outputs[0]
        stored = producer.mapping.mapping.share_output
        if not consumer.inputs or consumer.inputs[0] is not value or (not stored and value.uses.get_length() != 1):
            _fail(producer.layer.data, f"keep_output: the output must be used by layer '{consumer.layer.data}' "
                                       "as its input and by nothing else (it is not stored to DRAM; "
                                       "share_output stores it as well)")
        problems = [layer_problem(next(iter(k.body.block.ops)), k.layer.data) for k in (producer, consumer)]
        try:
            check_pair(problems[0], producer.mapping.mapping, problems[1], consumer.mapping.mapping)
        except MappingError as e:
            raise TileLoweringError(str(e)) from None
        key = f"{fn.sym_name.data}/kept/{producer.layer.data}"
        out["input" if flag == "kept_input" else "output"] = (key, stored)
    return out or None


def _prefetch(kernel, lowered: M.KernelOp, nxt, fn: func.FuncOp, block: Block, buffers: dict, machine,
              seen: set[str]) -> M.KernelOp:
    """`lowered` (the kernel of a `prefetch` mapping) with the loads of the next kernel's
    resident weight added: per region of the next kernel's plan, a `rapid_mem.corelet 0
    cores F to L` region first in the kernel, holding the resident LX buffer and its DMA
    on corelet 0's store queue (idle until the first store; `cost.predict`'s
    `prefetch_bytes` times it there). The next kernel then finds the weight in LX."""
    from rapid_mlir.transforms.mpe_lowering import Epilogue, resident_loads

    layer = kernel.layer.data
    if nxt is None or not nxt.mapping.mapping.resident:
        _fail(layer, "prefetch: the next kernel keeps no weight in LX (its mapping has no resident(...))")
    weight = _device_buffer(nxt.inputs[1], nxt, 1, block, buffers)
    key, load = _resident(nxt, [None, weight], fn, seen)
    if not load:
        _fail(layer, f"prefetch: layer '{nxt.layer.data}' finds its weight in LX already (an earlier kernel "
                     "of its group loads it)")
    work = next(iter(nxt.body.block.ops))
    if not isinstance(work, nn.Conv2DOp):
        _check_matmul(work, nxt.layer.data)
    fake = [weight] * (len(nxt.inputs) + len(nxt.outputs))  # only the weight's accesses are used
    plan, make = _matrix_kernel(nxt, fake, machine, Epilogue(), plan_only=True)
    operand = "weight" if isinstance(work, nn.Conv2DOp) else "b"
    if plan.cores > lowered.cores.value.data:
        _fail(layer, f"prefetch: layer '{nxt.layer.data}' runs on {plan.cores} cores, this kernel on "
                     f"{lowered.cores.value.data}")
    lone = math.prod(kernel.mapping.mapping.corelets.values()) == 1
    queue = 1 if lone and machine.dma_queues >= 2 else 0
    old = lowered.body.block
    body = Block(arg_types=[a.type for a in old.args] + [weight.type])
    for before, after in zip(old.args, body.args):
        before.replace_all_uses_with(after)
    for region, shape, dst, src in resident_loads(plan, make, fake, operand):
        inner = Block()
        alloc = M.AllocOp.build(result_types=[M.BufferType(tuple(shape), f16, M.MemSpace.LX)],
                                properties={"resident": StringAttr(f"{key}/corelet{region.corelet}/cores"
                                                                   f"{region.cores[0]}-{region.cores[1]}")})
        inner.add_op(alloc)
        inner.add_op(M.DmaOp.build(operands=[alloc.buffer, body.args[-1], []], result_types=[M.TokenType()],
                                   properties={"queue": IntegerAttr(queue, i64), "dst_access": dst,
                                               "src_access": src}))
        props = {"index": IntegerAttr(0, i64), "first_core": IntegerAttr(region.cores[0], i64),
                 "last_core": IntegerAttr(region.cores[1], i64)}
        body.add_op(M.CoreletOp.build(properties=props, regions=[Region(inner)]))
    for op in list(old.ops):
        op.detach()
        body.add_op(op)
    return M.KernelOp.build(operands=[[*lowered.buffers, weight]],
                            properties={"layer": lowered.layer, "cores": lowered.cores, "corelets": lowered.corelets},
                            regions=[Region(body)])


def _lower_kernel(kernel, buffers: list[SSAValue], machine, resident: tuple[str, bool] | None = None,
                  kept: dict[str, tuple[str, bool]] | None = None) -> M.KernelOp:
    """The rapid_mem kernel of one rapid_tile kernel on its DRAM buffers (`resident`:
    see `_resident`; `kept`: see `_kept`)."""
    body_ops = list(kernel.body.block.ops)
    work = body_ops[0]
    layer = kernel.layer.data
    if kernel.mapping.mapping.group:  # an elementwise group: sfu_group.py
        from rapid_mlir.transforms.sfu_group import group_kernel

        return group_kernel(layer, kernel.mapping.mapping, kernel.body.block, buffers, machine)
    if isinstance(work, SFU_OPS):  # a layer the SFU runs alone: sfu_lowering.py
        from rapid_mlir.transforms.sfu_lowering import sfu_kernel

        return sfu_kernel(layer, kernel.mapping.mapping, body_ops[:-1], buffers, machine)
    if isinstance(work, DMA_OPS):  # data movement alone: dma_lowering.py
        from rapid_mlir.transforms.dma_lowering import dma_kernel

        return dma_kernel(layer, kernel.mapping.mapping, work, buffers, machine)
    if not isinstance(work, nn.Conv2DOp):
        _check_matmul(work, layer)
    return _matrix_kernel(kernel, buffers, machine, _epilogue(work, body_ops[1:-1], layer), resident,
                          kept=kept)


def _matrix_kernel(kernel, buffers: list[SSAValue], machine, epilogue, resident: tuple[str, bool] | None = None,
                   plan_only: bool = False, kept: dict[str, tuple[str, bool]] | None = None):
    """The rapid_mem kernel of a conv2d or matrix-product tile kernel (`conv_lowering.py`,
    `mpe_lowering.py`), or with `plan_only` its (plan, make) for `resident_loads`."""
    work = next(iter(kernel.body.block.ops))
    mapping = kernel.mapping.mapping
    if isinstance(work, nn.Conv2DOp):
        from rapid_mlir.transforms.conv_lowering import conv_kernel

        return conv_kernel(kernel.layer.data, mapping, work, buffers, machine, epilogue, resident, plan_only,
                           kept)
    from rapid_mlir.transforms.mpe_lowering import matmul_kernel

    m, k = kernel.inputs[0].type.get_shape()
    n = kernel.outputs[0].type.get_shape()[1]
    trans_b = isinstance(work, nn.GemmOp) and work.trans_b is not None
    return matmul_kernel(kernel.layer.data, mapping, (m, n, k), buffers, machine, epilogue, trans_b, resident,
                         plan_only)


def _epilogue(work, fused: list, layer: str):
    """The MPE epilogue of a matrix layer: the clamp of its own `act_min` / `act_max`
    intersected with that of the relu or clip fused after it (`fused`: the kernel body
    between the layer and the yield), after a fused residual add (a conv2d's result plus
    the kernel's last operand, `convert-nn-to-tile`'s `fused_residual`)."""
    from rapid_mlir.transforms.mpe_lowering import Epilogue

    lo, hi = work.act_bounds() if isinstance(work, nn.Conv2DOp | nn.GemmOp) else (None, None)
    result, residual = work.results[0], False
    if (fused and isinstance(work, nn.Conv2DOp) and isinstance(fused[0], nn.AddOp) and lo is None and hi is None
            and fused[0].lhs is result and isinstance(fused[0].rhs, BlockArgument)
            and fused[0].rhs.index == len(fused[0].rhs.block.args) - 1):
        result, residual, fused = fused[0].results[0], True, fused[1:]
    if len(fused) > 1 or (fused and not (isinstance(fused[0], nn.ReluOp | nn.ClipOp)
                                         and fused[0].input is result)):
        _fail(layer, f"a kernel of {', '.join(o.name for o in [work, *fused])} is not lowered yet")
    if fused:
        act = fused[0]
        flo, fhi = (0.0, None) if isinstance(act, nn.ReluOp) else (
            None if act.min is None else float(act.min.value.data),
            None if act.max is None else float(act.max.value.data))
        lo = flo if lo is None else lo if flo is None else max(lo, flo)
        hi = fhi if hi is None else hi if fhi is None else min(hi, fhi)
        if lo is not None and hi is not None and lo > hi:
            # clip(clip(x, a, b), c, d) with disjoint ranges is constant: the outer bound wins
            lo = hi = flo if flo is not None and flo > hi else fhi
    return Epilogue.clamp(lo, hi, residual)


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
