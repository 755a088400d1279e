"""`convert-nn-to-tile`: wraps each accelerator layer in a `rapid_tile.kernel` with its mapping.

    rapid-opt net.mlir -p 'convert-nn-to-tile{machine=rapid-4c strategy=fixed mapping-file=layers.json}'

For every `nn` op the accelerator runs (conv2d, matmul, gemm on the matrix engine; the
elementwise, normalisation, pooling, softmax and reduce ops of `sfu_layers` on the SFU
alone; the concat, split, transpose and pad of `dma_layers` as DMA transfers alone) the
pass builds the layer's loop nest (`rapid_mlir.mapping.problem`), chooses a mapping (the
layer's entry in `mapping-file` if there is one, else the strategy's), checks that it is
well formed and fits the machine's buffers, and moves the op into a kernel that carries
the layer name and the mapping; a relu that only consumes the result of a matrix layer,
a binary elementwise op or a batch norm joins the kernel as its epilogue, as does a clip
that only consumes the result of a matrix layer (with the layer's own `act_min` /
`act_max`, the clamp of the MPE epilogue: `convert-tile-to-mem`). Other ops stay
in `nn` (`nn.reshape` and `nn.flatten` become DRAM views in `convert-tile-to-mem`; the
rest runs on the host).
An infeasible mapping fails the pass with a message naming the layer, the buffer, the
bytes needed and the bytes available.

Strategies (docs/lowering.md, "Mapping strategies"): `fixed` (`mapping/fixed.py`, the
baseline) and `dse` (`mapping/dse.py`: a branch-and-bound search of each conv2d and
matmul layer's mapping space with the cost model, `budget` seconds per layer, counted
deterministically; vector and copy layers keep the fixed mapping). `dse` also makes the
cross-layer decisions: weights kept in LX (`mapping/residency.py`), outputs kept in LX
for the next conv (`mapping/forwarding.py`), residual adds run in the epilogue of
the conv they follow (`fused_residual`), and chains of elementwise ops run as one kernel
(`elementwise_groups`). `search-stats=true`
prints one line of search statistics per searched layer to stderr; `dump-mappings=FILE`
writes every layer's mapping (pinned or chosen) as a mapping file, which `mapping-file`
reads back.
"""

from __future__ import annotations

import dataclasses
import math
import sys
from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects import func
from xdsl.dialects.builtin import ModuleOp, StringAttr
from xdsl.ir import Operation, SSAValue
from xdsl.passes import ModulePass
from xdsl.rewriter import Rewriter
from xdsl.utils.exceptions import PassFailedException

from rapid_mlir.dialects import nn
from rapid_mlir.dialects.nn_shapes import broadcast
from rapid_mlir.dialects.rapid_tile import KernelOp, MappingAttr, YieldOp, new_body
from rapid_mlir.mapping import problem as P
from rapid_mlir.mapping.mapping import Mapping, MappingError, load_mapping_file
from rapid_mlir.transforms.dma_layers import dma_problem
from rapid_mlir.transforms.host_lowering import HOST_ATTR
from rapid_mlir.transforms.sfu_layers import EPILOGUE_OPS, sfu_problem

LAYER_ATTR = "nn.name"
"""An nn op's layer name (set by importers and builders; generated when absent)."""

STRATEGIES = ("fixed", "dse")
"""`fixed`: the rules of `mapping/fixed.py`; `dse`: the search of `mapping/dse.py`."""

DEFAULT_STRATEGY = "dse"
"""The strategy every entry point (this pass, `rapidc`, `pipeline`) uses unless told."""


def layer_problem(op: Operation, layer: str) -> P.Problem | None:
    """The loop nest of an op the device runs (the matrix engine's, the SFU's alone:
    `sfu_layers`, or the DMA's alone: `dma_layers`), or None for other ops."""
    if isinstance(op, nn.Conv2DOp):
        return P.conv2d(layer, op.input.type.get_shape(), op.weight.type.get_shape(),
                        nn.ints(op.strides), nn.ints(op.pads), nn.ints(op.dilations),
                        op.groups.value.data)
    if isinstance(op, nn.GemmOp | nn.MatmulOp) and not _device_matrix_product(op):
        return None  # a variant the matrix lowering does not cover yet: the host runs it
    if isinstance(op, nn.GemmOp):
        m, n = op.output.type.get_shape()
        a = op.lhs.type.get_shape()
        k = a[0] if op.trans_a is not None else a[1]
        return P.matmul(layer, 1, m, n, k)
    if isinstance(op, nn.MatmulOp):
        a, b = tuple(op.lhs.type.get_shape()), tuple(op.rhs.type.get_shape())
        a2 = (1,) + a if len(a) == 1 else a
        b2 = b + (1,) if len(b) == 1 else b
        batch = math.prod(broadcast(a2[:-2], b2[:-2]))
        return P.matmul(layer, batch, a2[-2], b2[-1], a2[-1])
    return sfu_problem(op, layer) or dma_problem(op, layer)


def _device_matrix_product(op: nn.GemmOp | nn.MatmulOp) -> bool:
    """True for the matrix products `convert-tile-to-mem` lowers: 2-D operands; for gemm
    no `trans_a`, alpha = beta = 1 and a bias of one value per output column (or none)."""
    if len(op.lhs.type.get_shape()) != 2 or len(op.rhs.type.get_shape()) != 2:
        return False
    if isinstance(op, nn.MatmulOp):
        return True
    n = op.output.type.get_shape()[1]
    return (op.trans_a is None and float(op.alpha.value.data) == 1.0 and float(op.beta.value.data) == 1.0
            and (op.bias is None or tuple(op.bias.type.get_shape()) in ((n,), (1, n))))


def defined_functions(module: ModuleOp) -> list[func.FuncOp]:
    """The module's functions that have a body (a list: passes replace them as they go)."""
    return [f for f in module.body.block.ops if isinstance(f, func.FuncOp) and not f.is_declaration]


def layer_names(fn: func.FuncOp) -> dict[Operation, str]:
    """Every op's layer name: its `nn.name`, else `<kind>_<index>` in program order."""
    names: dict[Operation, str] = {}
    counts: dict[str, int] = {}
    for op in fn.body.walk():
        if not op.name.startswith("nn."):
            continue
        attr = op.attributes.get(LAYER_ATTR)
        kind = op.name.removeprefix("nn.")
        if isinstance(attr, StringAttr):
            names[op] = attr.data
        else:
            names[op] = f"{kind}_{counts.get(kind, 0)}"
            counts[kind] = counts.get(kind, 0) + 1
    return names


def choose_mapping(problem: P.Problem, machine, strategy: str, overrides: dict[str, Mapping],
                   budget: float | None = None, cost=None, stats: list | None = None,
                   cache: dict | None = None) -> Mapping:
    """The layer's mapping: the override for its name, else the strategy's; checked.
    `dse` searches conv2d and matmul layers with `cost` (default: the cost model) and
    `budget` seconds (`dse.DEFAULT_BUDGET` when None), appending its `SearchResult` to
    `stats` when given; other layers keep the fixed mapping. `cache` (a dict the caller
    keeps) reuses the search of an identical earlier layer."""
    from rapid_mlir.mapping import dse
    from rapid_mlir.mapping.fixed import fixed_mapping
    from rapid_mlir.mapping.footprint import check_fits
    from rapid_mlir.mapping.space import KINDS

    mapping = overrides.get(problem.layer)
    if mapping is None and strategy == "dse" and problem.kind in KINDS:
        result = dse.cached_search(problem, machine, cost or dse.default_cost,
                                   dse.DEFAULT_BUDGET if budget is None else budget, cache)
        if stats is not None:
            stats.append(result)
        if result.best is None:
            raise MappingError(f"{result.explanation}; the dse strategy found no mapping that fits")
        mapping = result.best
    if mapping is None:
        mapping = fixed_mapping(problem, machine)
    mapping.validate(problem)
    check_fits(problem, mapping, machine)
    return mapping


@dataclass(frozen=True)
class ConvertNnToTilePass(ModulePass):
    """Wraps each matrix-engine layer in a `rapid_tile.kernel` carrying its mapping."""

    name = "convert-nn-to-tile"

    machine: str = "rapid-4c"
    """The machine preset name or machine file the mappings are for."""
    strategy: str = DEFAULT_STRATEGY
    """How mappings are chosen: `dse` (the default: a search with the cost model) or `fixed`
    (the baseline rules)."""
    mapping_file: str | None = None
    """A JSON file of layer name -> mapping that pins those layers."""
    budget: float = 1.0
    """dse: the search budget per layer in nominal seconds (a count of evaluations, not a clock)."""
    search_stats: bool = False
    """dse: print one line of search statistics per searched layer to stderr."""
    dump_mappings: str | None = None
    """Write every layer's mapping (name -> mapping, the mapping-file form) to this JSON file."""

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        from rapid_mlir.machine import MachineError, load_machine

        if self.strategy not in STRATEGIES:
            raise PassFailedException(f"convert-nn-to-tile: unknown strategy '{self.strategy}' "
                                      f"(strategies: {', '.join(STRATEGIES)})")
        try:
            machine = load_machine(self.machine)
            overrides = load_mapping_file(self.mapping_file) if self.mapping_file else {}
        except (MachineError, MappingError) as e:
            raise PassFailedException(f"convert-nn-to-tile: {e}") from None
        chosen: dict[str, Mapping] = {}
        cache: dict = {}  # identical layers share one search
        for fn in defined_functions(op):
            self._convert(fn, machine, overrides, chosen, cache)
        if self.dump_mappings is not None:
            _dump(self.dump_mappings, chosen)

    def _convert(self, fn: func.FuncOp, machine, overrides: dict[str, Mapping],
                 chosen: dict[str, Mapping], cache: dict) -> None:
        from rapid_mlir.mapping import dse
        from rapid_mlir.mapping.residency import group_mapping

        names = layer_names(fn)
        shared = shared_weights(fn, names) if self.strategy == "dse" else {}
        decided: dict = {}  # shared-weight group -> its mapping
        kernels: list[tuple[KernelOp, P.Problem]] = []
        position = {o: i for i, o in enumerate(fn.body.block.ops)}  # kernels take their first op's
        for nn_op in list(fn.body.walk()):
            if isinstance(nn_op.parent_op(), KernelOp) or HOST_ATTR in nn_op.attributes:
                continue  # already in a kernel, or marked to run on the host (`nn.host`)
            grouped = self._group(nn_op, names, position, overrides, machine)
            if grouped is not None:
                kernel, problem = grouped
                chosen[problem.layer] = kernel.mapping.mapping
                kernels.append(grouped)
                position[kernel] = position[nn_op]
                continue
            problem = layer_problem(nn_op, names.get(nn_op, ""))
            if problem is None:
                continue
            residual = self._residual(nn_op, problem, overrides.get(problem.layer), machine)
            if residual is not None:
                problem = P.with_residual(problem)
            stats: list = []
            try:
                mapping = choose_mapping(problem, machine, self.strategy, overrides, self.budget,
                                         stats=stats, cache=cache)
                if nn_op in shared and problem.layer not in overrides:
                    key, count = shared[nn_op]
                    if key not in decided:
                        loader = _loader(kernels, overrides)
                        if count > 1 or loader is not None:
                            decided[key] = group_mapping(problem, machine, count, mapping, dse.default_cost,
                                                         self.budget, cache, stats,
                                                         None if loader is None else loader[1:])
                            if decided[key][1]:  # the kernel before loads the weight during its run
                                _set_mapping(loader[0], dataclasses.replace(loader[2], prefetch=True), chosen)
                            if self.search_stats and decided[key][0].resident:
                                how = (f"prefetched by {loader[1].layer}" if decided[key][1]
                                       else "loaded by the first")
                                print(f"convert-nn-to-tile: dse {problem.layer}: weight kept in LX for {count} "
                                      f"layer{'s' if count > 1 else ''} ({how})", file=sys.stderr)
                        else:
                            decided[key] = (mapping, False)
                    mapping = decided[key][0]
            except MappingError as e:
                raise PassFailedException(f"convert-nn-to-tile: {e}") from None
            if self.search_stats:
                for result in stats:
                    print(f"convert-nn-to-tile: dse {result.summary()}", file=sys.stderr)
            if residual is not None:
                mapping = dataclasses.replace(mapping, residual_add=True)
            chosen[problem.layer] = mapping
            fuse = problem.kind not in (P.VECTOR, P.COPY) or isinstance(nn_op, EPILOGUE_OPS)
            kernels.append((_wrap(nn_op, problem.layer, mapping, fuse, residual), problem))
            position[kernels[-1][0]] = position[nn_op]
        if self.strategy == "dse":
            self._forward(kernels, machine, overrides, chosen, cache)
        check_residency(kernels, machine, overrides, chosen)

    def _group(self, nn_op: Operation, names: dict[Operation, str], position: dict[Operation, int],
               overrides: dict[str, Mapping], machine) -> tuple[KernelOp, P.Problem] | None:
        """The kernel of the elementwise group headed by `nn_op` (`elementwise_groups`) and
        its loop nest, when the layer heads one: when pinned, if its mapping says `group`
        (a pin that says so for an op that heads no group fails the pass); else under
        `dse`, when a tile of one row of every value fits LX. Layers pinned on their own
        do not join a group."""
        from rapid_mlir.transforms.elementwise_groups import find_group, group_problem, wrap_group

        layer = names.get(nn_op, "")
        pinned = overrides.get(layer)
        if (pinned is None and self.strategy != "dse") or (pinned is not None and not pinned.group):
            return None
        group = find_group(nn_op, position, lambda op: names.get(op) not in overrides)
        if group is not None and pinned is None and group.ops[1:] == [fusable_activation(nn_op)] \
                and isinstance(nn_op, EPILOGUE_OPS):
            group = None  # a binary op and its relu: one kernel already (the relu as its epilogue)
        if group is None:
            if pinned is not None:
                raise PassFailedException(
                    f"convert-nn-to-tile: layer '{layer}': group, but no other elementwise op or last-axis split "
                    "reads its result (with nothing else but values computed before it)")
            return None
        problem = group_problem(layer, group)
        try:
            mapping = choose_mapping(problem, machine, self.strategy, overrides)
        except MappingError as e:
            if pinned is not None:
                raise PassFailedException(f"convert-nn-to-tile: {e}") from None
            return None  # not even one row of every value fits LX: the ops run one by one
        mapping = dataclasses.replace(mapping, group=True)
        if self.search_stats and pinned is None:
            print(f"convert-nn-to-tile: dse {layer}: elementwise group of {len(group.ops)} ops "
                  f"({len(group.inputs)} inputs, {len(group.outputs)} outputs) in one kernel", file=sys.stderr)
        return wrap_group(group, layer, mapping), problem

    def _residual(self, nn_op: Operation, problem: P.Problem, pinned: Mapping | None,
                  machine) -> tuple[nn.AddOp, SSAValue] | None:
        """`fused_residual(nn_op)` when the layer runs its residual add in the epilogue:
        when pinned, if its mapping says `residual_add` (a pin that says so for a layer
        without such an add, or that the fused layer cannot take, `_fits`, fails the
        pass); else under `dse`."""
        residual = fused_residual(nn_op)
        if pinned is not None and pinned.residual_add:
            if residual is None:
                raise PassFailedException(
                    f"convert-nn-to-tile: layer '{problem.layer}': residual_add, but the layer's result does not "
                    "only feed an nn.add of a tensor of its shape computed before it (or the layer clamps its "
                    "own result)")
            if not _fits(P.with_residual(problem), pinned, machine):
                raise PassFailedException(
                    f"convert-nn-to-tile: layer '{problem.layer}': residual_add with a mapping the fused layer "
                    "cannot take (a ring reduction, or the residual tile does not fit)")
            return residual
        if residual is None or self.strategy != "dse" or pinned is not None:
            return None
        return residual

    def _forward(self, kernels: list[tuple[KernelOp, P.Problem]], machine, overrides: dict[str, Mapping],
                 chosen: dict[str, Mapping], cache: dict) -> None:
        """Keeps outputs in LX for the next kernel where the model says it pays
        (`mapping/forwarding.py`): every pair of adjacent kernels whose second takes the
        first's output as its input, neither pinned nor keeping weights, gets the best
        forwarding pair (`share_output` when other layers read the output too); of those
        predicted to save cycles over the two ordinary mappings, the set with the
        largest total saving, each kernel in one pair at most, is taken."""
        from dataclasses import replace

        from rapid_mlir.mapping import dse
        from rapid_mlir.mapping.forwarding import can_forward, choose_pairs, pair_mappings

        cost = dse.default_cost
        pairs: dict[int, tuple] = {}
        for i in range(len(kernels) - 1):
            (first, pp), (second, cp) = kernels[i], kernels[i + 1]
            maps = [first.mapping.mapping, second.mapping.mapping]
            value = first.outputs[0] if len(first.outputs) == 1 else None
            if (not can_forward(pp, cp) or pp.layer in overrides or cp.layer in overrides
                    or any(m.resident or m.prefetch for m in maps) or value is None
                    or not second.inputs or second.inputs[0] is not value):
                continue
            try:
                pair = pair_mappings(pp, cp, machine, cost, self.budget, cache, stored=value.uses.get_length() > 1)
            except MappingError as e:
                raise PassFailedException(f"convert-nn-to-tile: {e}") from None
            if pair is not None:
                ordinary = cost(pp, maps[0], machine) + cost(cp, maps[1], machine)
                pairs[i] = (ordinary - pair.producer_cost - pair.consumer_cost, pair, ordinary)
        taken = choose_pairs({i: saving for i, (saving, _, _) in pairs.items()})
        for i, (saving, pair, ordinary) in pairs.items():
            (first, pp), (second, cp) = kernels[i], kernels[i + 1]
            if self.search_stats:
                ps, cs = pair.searches
                print(f"convert-nn-to-tile: dse {replace(ps, layer=pp.layer).summary()} (output kept in LX "
                      f"for {cp.layer})", file=sys.stderr)
                print(f"convert-nn-to-tile: dse {replace(cs, layer=cp.layer).summary()} (input kept in LX "
                      f"by {pp.layer})", file=sys.stderr)
                how = "shared" if pair.producer.share_output else "kept"
                print(f"convert-nn-to-tile: dse {pp.layer} -> {cp.layer}: output {how} in LX "
                      f"{pair.producer_cost + pair.consumer_cost:.6g} vs stored {ordinary:.6g}: "
                      f"{how if i in taken else 'stored'} ({pair.layouts} layouts, {pair.seconds:.2f} s)",
                      file=sys.stderr)
            if i in taken:
                _set_mapping(first, pair.producer, chosen)
                _set_mapping(second, pair.consumer, chosen)


MATRIX_OPS = (nn.Conv2DOp, nn.GemmOp, nn.MatmulOp)
"""The layers the MPE runs: their SFU epilogue clamps (relu or clip) as it copies ACC out."""


def weight_operand(op: Operation) -> SSAValue | None:
    """The weight a matrix layer reads (conv2d `weight`, matmul / gemm `rhs`) when it is
    an `nn.weight` or `nn.constant` (or a reshape of one), which no kernel writes; else None."""
    from rapid_mlir.transforms.dram_views import view_root

    value = op.weight if isinstance(op, nn.Conv2DOp) else op.rhs if isinstance(op, nn.GemmOp | nn.MatmulOp) else None
    if value is None or not isinstance(view_root(value).owner, nn.WeightOp | nn.ConstantOp):
        return None
    return value


def _loader(kernels: list, overrides: dict[str, Mapping]):
    """(kernel, problem, mapping) of the last kernel wrapped so far when it is a matrix
    layer that is not pinned (it may prefetch the next layer's weight), else None."""
    if not kernels:
        return None
    kernel, problem = kernels[-1]
    if problem.kind not in ("conv2d", "matmul") or problem.layer in overrides:
        return None
    return kernel, problem, kernel.mapping.mapping


def _set_mapping(kernel: KernelOp, mapping: Mapping, chosen: dict[str, Mapping]) -> None:
    """Gives `kernel` another mapping, keeping its `residual_add` and `group` (the kernel's
    structure)."""
    old = kernel.mapping.mapping
    mapping = dataclasses.replace(mapping, residual_add=old.residual_add, group=old.group)
    kernel.mapping = MappingAttr(mapping)
    chosen[kernel.layer.data] = mapping


def shared_weights(fn: func.FuncOp, names: dict[Operation, str]) -> dict[Operation, tuple[tuple, int]]:
    """The matrix layers of `fn` that read a weight (`weight_operand`), grouped by the
    weight and the loop nest (a recurrent layer's steps share one): op -> (group key,
    layers in the group)."""
    groups: dict[tuple, list[Operation]] = {}
    for op in fn.body.walk():
        if not isinstance(op, MATRIX_OPS) or HOST_ATTR in op.attributes or isinstance(op.parent_op(), KernelOp):
            continue
        weight = weight_operand(op)
        problem = layer_problem(op, names.get(op, "")) if weight is not None else None
        if problem is None:
            continue
        key = (weight, problem.kind, tuple(problem.dims.items()), tuple(sorted(problem.params.items())))
        groups.setdefault(key, []).append(op)
    return {op: (key, len(ops)) for key, ops in groups.items() for op in ops}


def check_residency(kernels: list[tuple[KernelOp, P.Problem]], machine, overrides: dict[str, Mapping],
                    chosen: dict[str, Mapping]) -> None:
    """Checks that every kernel still fits LX next to the resident weights reserved across
    it (`mapping/residency.py`: from the first kernel of a group to its last). A group the
    dse strategy made resident goes back to its ordinary cost when something does not fit
    (the largest such group first); a pinned one fails the pass, naming the kernel."""
    from rapid_mlir.mapping.footprint import footprint
    from rapid_mlir.mapping.residency import reserved_bytes

    while True:
        spans: dict[tuple, list[int]] = {}
        for i, (kernel, problem) in enumerate(kernels):
            mapping = kernel.mapping.mapping
            if mapping.resident:
                spans.setdefault(residency_key(kernel), []).append(i)
        if not spans:
            return
        size = {key: reserved_bytes(kernels[ids[0]][1], kernels[ids[0]][0].mapping.mapping, machine)
                for key, ids in spans.items()}  # from a kernel of the group (not its loader)
        for ids in spans.values():  # a weight the kernel before prefetches is kept from there
            if ids[0] > 0 and kernels[ids[0] - 1][0].mapping.mapping.prefetch:
                ids.insert(0, ids[0] - 1)
        failure = None
        for i, (kernel, problem) in enumerate(kernels):
            own = residency_key(kernel) if kernel.mapping.mapping.resident else None
            live = [key for key, ids in spans.items() if ids[0] <= i <= ids[-1] and key != own]
            if not live:
                continue
            room = machine.lx_bytes - sum(size[k] for k in live)
            need = footprint(problem, kernel.mapping.mapping, machine).lx_bytes
            if need > room:
                failure = (kernel, live, f"its tiles need {need} bytes of LX and {max(room, 0)} are left")
                break
        if failure is None:
            return
        kernel, live, error = failure
        movable = [k for k in live if all(kernels[i][1].layer not in overrides for i in spans[k])]
        if not movable:
            raise PassFailedException(
                f"convert-nn-to-tile: layer '{kernel.layer.data}' does not fit LX next to the resident "
                f"weights kept across it ({sum(size[k] for k in live)} bytes per core, pinned): {error}")
        drop = max(movable, key=lambda k: (size[k], -spans[k][0]))
        for i in spans[drop]:
            kernel, problem = kernels[i]
            mapping = kernel.mapping.mapping
            if mapping.resident and residency_key(kernel) == drop:
                _set_mapping(kernel, dataclasses.replace(mapping, resident=()), chosen)
            else:  # the kernel that prefetched it
                _set_mapping(kernel, dataclasses.replace(mapping, prefetch=False), chosen)


def residency_key(kernel: KernelOp) -> tuple:
    """Kernels that share a resident weight: the same weight value and the same mapping
    (but `prefetch`, which is about the next kernel's weight)."""
    return (kernel.inputs[1], dataclasses.replace(kernel.mapping.mapping, prefetch=False).to_text())


def fusable_activation(nn_op: Operation, clip: bool = False) -> nn.ReluOp | nn.ClipOp | None:
    """The relu (or, after a matrix layer or with `clip`, the clip) that is the only user
    of the op's only result: it runs in the kernel's epilogue (on the SFU, as the
    accumulator is copied out) instead of as a layer of its own. SFU kernels
    (`EPILOGUE_OPS`) fuse a relu only; a residual add fused into a conv
    (`fused_residual`) is in the conv's epilogue, so a clip after it too."""
    if len(nn_op.results) != 1 or nn_op.results[0].uses.get_length() != 1:
        return None
    user = next(iter(nn_op.results[0].uses)).operation
    kinds = (nn.ReluOp, nn.ClipOp) if clip or isinstance(nn_op, MATRIX_OPS) else nn.ReluOp
    fusable = isinstance(user, kinds) and HOST_ATTR not in user.attributes
    return user if fusable and user.parent_block() is nn_op.parent_block() else None


def _wrap(nn_op: Operation, layer: str, mapping: Mapping, fuse: bool = True,
          residual: tuple[nn.AddOp, SSAValue] | None = None) -> KernelOp:
    """Moves `nn_op` (and, when `fuse`, a relu or clip it feeds) into a new kernel that
    takes its operands. With `residual` = (add, addend) (`fused_residual`): the add of the
    result and the addend, the kernel's last operand, and a relu or clip of the sum."""
    tail = [residual[0]] if residual is not None else []  # each op reads the one before
    epilogue = fusable_activation(tail[-1], clip=True) if tail else fusable_activation(nn_op) if fuse else None
    tail += [epilogue] if epilogue is not None else []
    final = tail[-1] if tail else nn_op
    count = len(nn_op.operands)
    operands = [*nn_op.operands, *([residual[1]] if residual is not None else [])]
    region, block = new_body([v.type for v in operands])
    kernel = KernelOp(layer, mapping, operands, region, [r.type for r in final.results])
    Rewriter.insert_op(kernel, _before(nn_op))
    for old, new in zip(list(final.results), kernel.outputs):
        old.replace_all_uses_with(new)
    nn_op.detach()
    nn_op.operands = list(block.args[:count])
    nn_op.attributes[LAYER_ATTR] = StringAttr(layer)
    block.add_op(nn_op)
    for op in tail:
        op.detach()
        block.add_op(op)
    if residual is not None:
        residual[0].operands = [nn_op.results[0], block.args[-1]]
    block.add_op(YieldOp(*final.results))
    return kernel


def fused_residual(nn_op: Operation) -> tuple[nn.AddOp, SSAValue] | None:
    """(the add, the other addend) when a conv2d's result only feeds an `nn.add` of a
    tensor of its shape computed before the conv (a residual connection) and the conv
    clamps nothing itself: the dse strategy runs the add (and a relu or clip after it)
    in the conv's epilogue, the addend loaded per output tile, instead of as a kernel of
    its own that reads both tensors back from DRAM."""
    if not isinstance(nn_op, nn.Conv2DOp) or HOST_ATTR in nn_op.attributes or nn_op.act_bounds() != (None, None):
        return None
    result = nn_op.results[0]
    if result.uses.get_length() != 1:
        return None
    add = next(iter(result.uses)).operation
    if not isinstance(add, nn.AddOp) or HOST_ATTR in add.attributes or add.parent_block() is not nn_op.parent_block():
        return None
    other = add.rhs if add.lhs is result else add.lhs
    if other is result or other.type != result.type:
        return None
    owner = other.owner
    if isinstance(owner, Operation) and owner.parent_block() is nn_op.parent_block() \
            and not owner.is_before_in_block(nn_op):
        return None  # computed after the conv: the kernel (placed at the conv) cannot read it
    return add, other


def _fits(problem: P.Problem, mapping: Mapping, machine) -> bool:
    """Whether a pinned `mapping` suits `problem` (a conv with a fused residual add): not
    a ring reduction, and legal with the residual tile (`space.is_legal`)."""
    from rapid_mlir.mapping.space import is_legal

    if any(mapping.cores.get(d, 1) > 1 for d in problem.reduction):
        return False  # a ring reduction: its owners would have to add the residual
    return is_legal(problem, mapping, machine)


def _dump(path: str, chosen: dict[str, Mapping]) -> None:
    """Writes the mapping file of `chosen` (layer name -> mapping, in program order)."""
    import json
    from pathlib import Path

    text = json.dumps({name: m.to_dict() for name, m in chosen.items()}, indent=1)
    try:
        Path(path).write_text(text + "\n")
    except OSError as e:
        raise PassFailedException(f"convert-nn-to-tile: cannot write the mappings to {path}: {e}") from None


def _before(op: Operation):
    from xdsl.rewriter import InsertPoint

    return InsertPoint.before(op)
