"""Weights kept in LX across kernels: the cross-layer decision of the `dse` strategy.

Several layers can read the same weight tensor: a recurrent layer's steps (`decompose-rnn`
writes one `gemm(h_t, R^T)` per time step, all reading R), or a layer a model applies
twice. Each layer is its own kernel and, without help, reloads the weight from DRAM
every time; at batch 1 that reload is the whole cost of an LSTM step.

A mapping with `resident(rhs)` (matmul) or `resident(weight)` (conv2d) keeps that
operand in LX from the first kernel that reads it to the last, when the kernels read the
same weight under the same mapping:

- the operand must be *loaded once* by every corelet: no LX loop over a dim indexing it
  (`loads_once`), so its LX tile is the corelet's whole share;
- the first kernel loads it, the others find it in place (`convert-tile-to-mem`), in a
  region `rapid-mem-allocate` reserves at the top of LX for the whole span of kernels
  (`reserved_bytes` per core), so no kernel in between overwrites it;
- the cost model (`rapid_mlir.cost.predict`) of a resident mapping leaves the load out:
  it is the cost of every kernel but the first.

`convert-nn-to-tile{strategy=dse}` decides: for a group of `count` layers with the same
weight and loop nest it compares the best ordinary mapping (`count` times its cost)
with the best resident one (the first kernel's cost plus `count - 1` times the resident
cost), within `MAX_RESERVED_FRACTION` of LX, and checks every kernel in the span still
fits next to the reserved bytes (else the group stays ordinary).
"""

from __future__ import annotations

from dataclasses import dataclass

from rapid_mlir.mapping.mapping import Mapping, MappingError
from rapid_mlir.mapping.problem import Problem

WEIGHT_OPERAND = {"matmul": "rhs", "conv2d": "weight"}
"""The operand `resident(...)` may name, per layer kind."""

LOWERING_NAME = {"rhs": "b", "weight": "weight"}
"""The same operands as the lowering (`mpe_lowering.py`) and the cost model name them."""

MAX_RESERVED_FRACTION = 0.5
"""The most of a core's LX the dse strategy reserves for resident weights of one group."""


def lowering_names(mapping: Mapping) -> frozenset[str]:
    """The resident operands as the lowering and the cost model name them."""
    return frozenset(LOWERING_NAME.get(op, op) for op in mapping.resident)


def _operand_dims(problem: Problem, operand: str) -> tuple[str, ...]:
    return next(op.dims for op in problem.operands if op.name == operand)


def loads_once(problem: Problem, mapping: Mapping, operand: str) -> bool:
    """True when every corelet holds its whole share of `operand` in one LX tile (no LX
    step along a dim indexing it), so it loads it once per kernel."""
    from rapid_mlir.cost.schedule import corelet_regions

    dims = _operand_dims(problem, operand)
    for _, _, _, sizes in corelet_regions(problem, mapping):
        if any(mapping.lx.get(d, 1) < sizes[d] for d in dims):
            return False
    return True


def reserved_bytes(problem: Problem, mapping: Mapping, machine) -> int:
    """LX bytes per core the resident operands take (every corelet's tile, each aligned
    to a DMA stick as the allocator places it); the largest over the cores."""
    from rapid_mlir.cost.schedule import corelet_regions

    per_core: dict[int, int] = {}
    stick = machine.stick_bytes
    for core, _, _, sizes in corelet_regions(problem, mapping):
        for operand in mapping.resident:
            per_core[core] = per_core.get(core, 0) + -(-_tile_bytes(problem, mapping, operand, sizes) // stick) * stick
    return max(per_core.values(), default=0)


def _tile_bytes(problem: Problem, mapping: Mapping, operand: str, sizes: dict[str, int]) -> int:
    """Bytes (f16) of a corelet's LX tile of `operand` in a region of extents `sizes`."""
    elements = 1
    for d in _operand_dims(problem, operand):
        elements *= min(mapping.lx.get(d, 1), max(sizes[d], 1))
    return 2 * elements


def _splits_reduction(problem: Problem, mapping: Mapping) -> bool:
    """A reduction dim split over cores: the ring reduction's kernel."""
    return any(mapping.cores.get(d, 1) > 1 for d in problem.reduction)


def check_resident(problem: Problem, mapping: Mapping) -> None:
    """Rejects a `resident(...)` clause the lowering cannot honour, naming the layer."""
    where = f"layer '{problem.layer}'"
    for operand in mapping.resident:
        if WEIGHT_OPERAND.get(problem.kind) != operand:
            allowed = WEIGHT_OPERAND.get(problem.kind)
            raise MappingError(f"{where}: resident({operand}): only the weight operand "
                               f"({allowed or 'none for a ' + problem.kind + ' layer'}) can stay in LX")
        if _splits_reduction(problem, mapping):
            raise MappingError(f"{where}: resident({operand}) with a reduction split over cores (a ring "
                               "reduction) is not lowered")
        if not loads_once(problem, mapping, operand):
            dims = ", ".join(f"lx({d}={mapping.lx.get(d, 1)})" for d in _operand_dims(problem, operand))
            raise MappingError(f"{where}: resident({operand}) needs every corelet to hold its whole share "
                               f"of {operand} in one LX tile, but {dims} step through it")


def group_mapping(problem: Problem, machine, count: int, ordinary: Mapping, cost, budget: float,
                  cache: dict | None = None, stats: list | None = None,
                  loader: tuple[Problem, Mapping] | None = None) -> tuple[Mapping, bool]:
    """The mapping of `count` layers that read one weight with the same loop nest, and
    whether the kernel before the first of them (`loader`: its problem and mapping; it
    must be able to, `can_prefetch`) loads the weight. The cheapest of:

    - `ordinary` (the best mapping of one of them), `count` times its cost;
    - the best resident mapping, loaded by the first layer: the first kernel's ordinary
      cost plus `count - 1` times the resident cost (only when `count > 1`);
    - the same, prefetched by `loader`: what the prefetch adds to the loader's predicted
      cycles plus `count` times the resident cost.

    The resident search's result goes to `stats`."""
    from dataclasses import replace

    from rapid_mlir.cost import predict
    from rapid_mlir.mapping import dse

    operand = WEIGHT_OPERAND[problem.kind]
    if count == 1 and not _prefetch_may_pay(problem, machine, ordinary, cost, loader):
        return ordinary, False
    # Each resident candidate is charged its weight load, shared by the group's layers; a
    # single layer's search (a prefetch only) gets half the budget.
    result = dse.cached_search(problem, machine, Amortized(cost, count), budget if count > 1 else budget / 2,
                               cache, resident=(operand,))
    if result.best is None:
        return ordinary, False
    if stats is not None:
        stats.append(replace(result, layer=f"{result.layer} (resident {operand}, {count} layers)"))
    follower = cost(problem, result.best, machine)
    options = [(count * cost(problem, ordinary, machine), 0, ordinary, False)]
    if count > 1:
        leader = cost(problem, replace(result.best, resident=()), machine)
        options.append((leader + (count - 1) * follower, 1, result.best, False))
    if loader is not None and can_prefetch(*loader, problem, result.best):
        lp, lm = loader
        extra = (predict(lp, lm, machine, prefetch_bytes=reserved_bytes(problem, result.best, machine)).cycles
                 - predict(lp, lm, machine).cycles)
        options.append((extra + count * follower, 2, result.best, True))
    _, _, mapping, prefetched = min(options, key=lambda o: o[:2])
    return mapping, prefetched


@dataclass(frozen=True)
class Amortized:
    """The cost of a resident candidate plus its weight load (every core's share at the
    chip's DRAM bandwidth) divided among the `count` layers of its group: the resident
    search's objective (a value, so identical searches share `dse.cached_search`)."""

    cost: object
    count: int

    def __call__(self, problem: Problem, mapping: Mapping, machine) -> float:
        return (self.cost(problem, mapping, machine)
                + load_bytes(problem, mapping) / machine.dram_bytes_per_cycle / self.count)


def load_bytes(problem: Problem, mapping: Mapping) -> int:
    """DRAM bytes of the resident operands' loads, over every corelet of every core."""
    from rapid_mlir.cost.schedule import corelet_regions

    return sum(_tile_bytes(problem, mapping, operand, sizes)
               for _, _, _, sizes in corelet_regions(problem, mapping) for operand in mapping.resident)


def _prefetch_may_pay(problem: Problem, machine, ordinary: Mapping, cost, loader) -> bool:
    """A cheap screen before the resident search of a single layer: a loader exists, and
    the time its DRAM leaves free and the weight's DRAM time both exceed 5% of the
    layer's ordinary cost (else hiding the load cannot gain much)."""
    from rapid_mlir.cost import predict
    from rapid_mlir.mapping.dse import compulsory_bytes

    if loader is None:
        return False
    lp, lm = loader
    before = predict(lp, lm, machine)
    slack = before.cycles - before.dram_cycles
    weight = (compulsory_bytes(problem) - compulsory_bytes(problem, (WEIGHT_OPERAND[problem.kind],))) \
        / machine.dram_bytes_per_cycle
    return min(slack, weight) > 0.05 * cost(problem, ordinary, machine)


def can_prefetch(loader: Problem, loader_mapping: Mapping, problem: Problem, mapping: Mapping) -> bool:
    """Whether the kernel of `loader` can load `problem`'s weight for it: a conv2d or
    matmul without a reduction split over cores (the ring kernel), whose cores include
    every core the next layer's mapping uses (the loads are issued per core)."""
    from rapid_mlir.cost.schedule import corelet_regions

    if loader.kind not in WEIGHT_OPERAND:
        return False
    if _splits_reduction(loader, loader_mapping):
        return False
    mine = {c for c, _, _, _ in corelet_regions(loader, loader_mapping)}
    theirs = {c for c, _, _, _ in corelet_regions(problem, mapping)}
    return theirs <= mine
