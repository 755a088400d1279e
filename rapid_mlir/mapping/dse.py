"""The `dse` strategy: search a layer's mapping space with a cost model, keep the best.

    result = search(problem, machine)            # cost: rapid_mlir.cost.predict(...).cycles
    result.best, result.best_cost, result.summary()

`search` enumerates the legal candidates of `space.candidates` (in their fixed order),
computes a cheap lower bound of each (`lower_bound`) and a cheap estimate
(`estimate`), and evaluates them in the order of the estimate with
`cost(problem, mapping, machine) -> float` (cycles, lower is better), keeping the best:
branch and bound. A candidate whose bound exceeds the best cost found is pruned (it
cannot beat it).

**Determinism.** The space is enumerated in a fixed order, candidates are visited in the
order of (estimate, position in the space), and ties in cost go to the earlier position;
the result is the argmin of (cost, position) over the space (what `exhaustive` returns),
provided the bound never exceeds the cost (the search counts the candidates where it
does, `bound_violations`; then a pruned candidate might have been better).

**Budget.** `budget_seconds` does not read a clock: it allows
`budget_seconds * EVALUATIONS_PER_SECOND` cost evaluations and
`budget_seconds * CANDIDATES_PER_SECOND` enumerated candidates (nominal rates, see
below), so the same inputs give the same mapping on any machine, however loaded. When a
budget stops the search early, the best so far is kept; `over_budget` counts the
candidates left unevaluated and `truncated` says the enumeration was cut. `seconds` is measured, for the statistics only.

**Lower bound.** The larger of (a) the MPE time of the busiest corelet (the one with
the largest share after the splits): the sum over its MPE instructions of
`mpe_fill_drain_cycles + ceil(m / rows) * ceil(n / cols) * ceil(k / simd)` (the ISA's
timing of `mpe.mm`), with the L0 tiles the mapping gives (ragged ones included; kernel
offsets and images are instructions of their own); and (b) the compulsory DRAM traffic (every operand read once, the output
written once, f16) at the whole chip's DRAM bandwidth. A cost model whose cycles count
at least the MPE's passes and the DRAM bytes at peak bandwidth never goes below it.

A space of one candidate is returned without calling the cost model.

**Infeasibility.** When no candidate fits, the result has no mapping and `explanation`
is `check_fits`' error for `space.smallest_mapping` (naming the layer, the tensor and the
buffer that overflows).
"""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, replace

from rapid_mlir.machine import Machine
from rapid_mlir.mapping import space
from rapid_mlir.mapping.footprint import window_extent
from rapid_mlir.mapping.mapping import Mapping, MappingError
from rapid_mlir.mapping.problem import Problem
from rapid_mlir.mapping.rotation import load_levels, rotated_level

Cost = Callable[[Problem, Mapping, Machine], float]
"""A cost model: the cycles (or any figure, lower is better) of a layer under a mapping."""

EVALUATIONS_PER_SECOND = 100
"""Cost evaluations a second of budget allows (a nominal rate, not measured)."""

CANDIDATES_PER_SECOND = 50_000
"""Candidates a second of budget allows to enumerate (a nominal rate, not measured)."""

DEFAULT_BUDGET = 1.0
"""Seconds of budget per layer unless told otherwise."""


def default_cost(problem: Problem, mapping: Mapping, machine: Machine) -> float:
    """`rapid_mlir.cost.predict(problem, mapping, machine).cycles`, imported when first used."""
    try:
        from rapid_mlir.cost import predict
    except ImportError as e:
        raise MappingError(f"layer '{problem.layer}': the dse strategy needs the cost model "
                           f"(rapid_mlir.cost.predict), which cannot be imported: {e}") from None
    return float(predict(problem, mapping, machine).cycles)


@dataclass(frozen=True)
class SearchResult:
    """The outcome of a search over one layer's mapping space."""

    layer: str
    best: Mapping | None
    """The cheapest candidate (None when nothing fits)."""
    best_cost: float | None
    """The cost of `best` (None when it was the only candidate: not evaluated)."""
    runner_up: Mapping | None
    """The cheapest other candidate evaluated (pruned ones are not known)."""
    runner_up_cost: float | None
    enumerated: int
    """Legal candidates enumerated."""
    evaluated: int
    """Candidates whose cost was computed."""
    pruned: int
    """Candidates skipped because their lower bound exceeds the best cost."""
    over_budget: int = 0
    """Enumerated candidates left unevaluated when the budget's evaluations ran out."""
    truncated: bool = False
    """The enumeration stopped at the budget's candidate limit (the rest of the space unseen)."""
    bound_violations: int = 0
    """Evaluated candidates whose cost came out below their lower bound."""
    seconds: float = 0.0
    """Wall-clock time of the search (statistics only: nothing depends on it)."""
    explanation: str | None = None
    """Why no candidate fits (the smallest tiling's check_fits error)."""
    cached: str | None = None
    """The earlier, identical layer whose search this result reuses."""

    def summary(self) -> str:
        """One line: `layer: N candidates, E evaluated, P pruned, ... s; best C vs runner-up R (+x%)`."""
        head = (f"{self.layer}: {self.enumerated} candidates, {self.evaluated} evaluated, "
                f"{self.pruned} pruned")
        if self.cached is not None:
            head += f" (the search of {self.cached}, reused)"
        if self.over_budget:
            head += f", {self.over_budget} over budget"
        if self.truncated:
            head += " (the space cut at the budget's candidate limit)"
        if self.bound_violations:
            head += f", {self.bound_violations} below their bound"
        head += f", {self.seconds:.2f} s"
        if self.best is None:
            return f"{head}; no mapping fits: {self.explanation}"
        if self.best_cost is None:
            return f"{head}; the only candidate, not evaluated"
        if self.runner_up_cost is None:
            return f"{head}; best {self.best_cost:.6g} (no runner-up)"
        margin = (self.runner_up_cost / self.best_cost - 1) * 100 if self.best_cost else 0.0
        return f"{head}; best {self.best_cost:.6g} vs runner-up {self.runner_up_cost:.6g} (+{margin:.1f}%)"


def search(problem: Problem, machine: Machine, cost: Cost | None = None,
           budget_seconds: float = DEFAULT_BUDGET, *, prune: bool = True,
           resident: tuple[str, ...] = ()) -> SearchResult:
    """The best mapping of a conv2d or matmul layer by branch and bound (module docstring);
    `prune=False` evaluates every candidate the budget allows. With `resident` (the
    weight operand, `residency.py`) the space is the candidates that load it once and
    reserve at most `residency.MAX_RESERVED_FRACTION` of LX for it, each with
    `resident(...)` set (their cost leaves the load out); None fits: no mapping, no
    explanation."""
    start = time.perf_counter()
    found, truncated = enumerate_space(problem, machine, budget_seconds)
    if resident:
        found = _resident_candidates(problem, machine, found, resident)
        if not found:
            return SearchResult(problem.layer, None, None, None, None, 0, 0, 0,
                                seconds=time.perf_counter() - start)
    if not found:
        return _infeasible(problem, machine, start)
    return search_among(problem, machine, found, cost, budget_seconds, prune=prune, truncated=truncated,
                        start=start)


def search_among(problem: Problem, machine: Machine, found: list[Mapping], cost: Cost | None = None,
                 budget_seconds: float = DEFAULT_BUDGET, *, prune: bool = True, truncated: bool = False,
                 start: float | None = None) -> SearchResult:
    """`search` over the candidates `found` (some of the space, in its order: e.g. those
    keeping an output in LX, `forwarding.py`); none: no mapping, no explanation."""
    start = time.perf_counter() if start is None else start
    cost = cost or default_cost
    if not found:
        return SearchResult(problem.layer, None, None, None, None, 0, 0, 0, seconds=time.perf_counter() - start)
    if len(found) == 1 and not truncated:  # nothing to compare: no cost model needed
        return SearchResult(problem.layer, found[0], None, None, None, 1, 0, 0,
                            seconds=time.perf_counter() - start)
    bounds = [lower_bound(problem, m, machine) for m in found]
    hints = [estimate(problem, m, machine, b) for m, b in zip(found, bounds)]
    visit = sorted(range(len(found)), key=lambda i: (hints[i], i))
    max_evaluations = max(1, int(budget_seconds * EVALUATIONS_PER_SECOND))
    ranked: list[tuple[float, int]] = []  # the two best (cost, index)
    evaluated = pruned = violations = over = 0
    for pos, i in enumerate(visit):
        if prune and ranked and (bounds[i], i) > ranked[0]:
            pruned += 1  # its bound says it cannot beat the best so far
            continue
        if evaluated == max_evaluations:
            rest = visit[pos:]
            hopeless = sum(1 for j in rest if prune and (bounds[j], j) > ranked[0])
            pruned, over = pruned + hopeless, len(rest) - hopeless
            break
        c = float(cost(problem, found[i], machine))
        evaluated += 1
        violations += c < bounds[i]
        ranked = sorted(ranked + [(c, i)])[:2]
    return _result(problem, found, ranked, len(found), evaluated, pruned, over, violations, start, truncated)


def cached_search(problem: Problem, machine: Machine, cost: Cost, budget_seconds: float,
                  cache: dict | None, resident: tuple[str, ...] = ()) -> SearchResult:
    """`search`, reusing the result of an identical layer (same kind, dims and params,
    machine, cost, budget and `resident`) from `cache` when given; a reused result says
    `cached`."""
    if cache is None:
        return search(problem, machine, cost, budget_seconds, resident=resident)
    key = (problem.kind, tuple(problem.dims.items()), tuple(sorted(problem.params.items())),
           machine.fingerprint(), cost, budget_seconds, resident)
    if key in cache:
        return replace(cache[key], layer=problem.layer, seconds=0.0, cached=cache[key].layer)
    cache[key] = search(problem, machine, cost, budget_seconds, resident=resident)
    return cache[key]


def exhaustive(problem: Problem, machine: Machine, cost: Cost | None = None) -> SearchResult:
    """Every candidate evaluated, no pruning and no budget: the reference `search` matches
    on small layers."""
    start = time.perf_counter()
    cost = cost or default_cost
    found = list(space.candidates(problem, machine))
    if not found:
        return _infeasible(problem, machine, start)
    ranked = sorted((float(cost(problem, m, machine)), i) for i, m in enumerate(found))[:2]
    return _result(problem, found, ranked, len(found), len(found), 0, 0, 0, start, False)


def lower_bound(problem: Problem, mapping: Mapping, machine: Machine) -> float:
    """A cheap lower bound of any sane cost model's cycles (module docstring)."""
    mpe = mpe_passes(problem, mapping, machine) + machine.mpe_fill_drain_cycles * mpe_instructions(problem, mapping)
    bound = max(mpe, compulsory_bytes(problem, in_lx(mapping)) / machine.dram_bytes_per_cycle)
    if not (set(mapping.cores) | set(mapping.corelets)) & set(problem.reduction):
        # Every output L0 tile of the busiest corelet: at least one SFU epilogue instruction,
        # and one store DMA paying the DRAM latency (a split reduction stores elsewhere).
        # (per distinct tile size with its count: at batch 16 a corelet has thousands of tiles)
        tiles = output_tile_sizes(problem, mapping)
        sfu = sum(count * (machine.sfu_latency_cycles + -(-size // machine.sfu_lanes))
                  for size, count in tiles.items())
        stores = 0 if mapping.keep_output else tiles.total() * machine.dram_latency_cycles
        bound = max(bound, sfu, stores)
    return bound


def output_tiles(problem: Problem, mapping: Mapping) -> list[int]:
    """The element count of every output L0 tile of the busiest corelet (rows x cols),
    once per point of the other output dims (images, groups, batches)."""
    return list(output_tile_sizes(problem, mapping).elements())


def output_tile_sizes(problem: Problem, mapping: Mapping) -> Counter:
    """`output_tiles` as element count -> number of tiles."""
    extent = {d: mapping.per_corelet_extent(problem, d) for d in problem.dims}
    spatial = mapping.rows + mapping.cols + mapping.simd
    sizes = Counter({1: math.prod(extent[d] for d in problem.dims
                                  if d not in problem.reduction and d not in spatial)})
    for d in mapping.rows + mapping.cols:
        tiles = _tile_sizes(extent[d], mapping.lx.get(d, 1), mapping.l0.get(d, 1))
        sizes = _combine(sizes, tiles)
    return sizes


def estimate(problem: Problem, mapping: Mapping, machine: Machine, bound: float,
             restart: bool = True) -> float:
    """A cheap guess of the cycles, to decide which candidates a budget evaluates first
    (never used to prune): the lower bound, or the DRAM time of the traffic the loop
    order causes (each operand tile reloaded at every step of the loops around it that do
    not index it; a conv input's tile is its window) if larger, or, single-buffered, the
    MPE time plus the loads' DRAM time if larger still (a step's loads wait for the
    previous step's work), plus a step overhead (a DMA latency per LX step, halved when
    double-buffered); with `restart`, where loads and stores share a queue and an
    LX output tile takes several reduction steps, also one step's share of the transfers
    per LX output tile after the first (the pipeline's restart after each tile's store)
    that the lowering does not rotate (`rotation.py`)."""
    extent = {d: mapping.per_corelet_extent(problem, d) for d in problem.dims}
    steps = {d: -(-extent[d] // mapping.lx.get(d, extent[d])) for d in problem.dims}
    loaded, stored = dram_traffic(problem, mapping)
    traffic = loaded + stored
    memory = max(traffic, compulsory_bytes(problem, in_lx(mapping))) / machine.dram_bytes_per_cycle
    overhead = machine.dram_latency_cycles * math.prod(steps.values()) / (2 if mapping.double_buffer else 1)
    split_reduction = (set(mapping.cores) | set(mapping.corelets)) & set(problem.reduction)
    reduction_steps = math.prod(steps[d] for d in problem.reduction)
    if restart and (math.prod(mapping.corelets.values()) > 1 or machine.dma_queues < 2) \
            and not split_reduction and reduction_steps > 1:
        # Loads and stores share each corelet's queue: an LX output tile's store waits for
        # its last products, and the next tile's first loads queue behind it, so each
        # output tile adds about one step's share of the transfers (a split reduction
        # stores nothing per tile; with one reduction step per tile the loads of the
        # next tile come before the store).
        # Rotated (`rotation.py`), only the first tile of each pass over the rotated level
        # restarts.
        total_steps = math.prod(steps.values())
        tiles = total_steps // reduction_steps
        levels = [d for d in mapping.order if steps.get(d, 1) > 1]
        inputs = {op.name: op.dims for op in problem.operands if op.name != "output"}
        inputs["bias"] = ("g", "oc") if problem.kind == "conv2d" else ("n",)  # assumed
        rotated = rotated_level(levels, problem.reduction, load_levels(levels, inputs), mapping.double_buffer,
                                reduction_steps)
        if rotated is not None:
            tiles //= steps[levels[rotated]]
        overhead += memory * (tiles - 1) / total_steps
    if not mapping.double_buffer:
        # One LX slot per operand: a step's loads wait for the previous step's work, so
        # they add to the MPE time instead of hiding behind it (the stores still overlap).
        mpe = mpe_passes(problem, mapping, machine) \
            + machine.mpe_fill_drain_cycles * mpe_instructions(problem, mapping)
        return max(bound, memory, mpe + loaded / machine.dram_bytes_per_cycle) + overhead
    return max(bound, memory) + overhead


def dram_traffic(problem: Problem, mapping: Mapping) -> tuple[int, int]:
    """(loaded, stored) DRAM bytes of all corelets as the loop order moves them: each
    operand's LX tile once per step of the loops around its innermost stepped dim (once
    in all when no dim of it steps; `_lx_tile_elements`); operands in LX (`in_lx`) not at all."""
    extent = {d: mapping.per_corelet_extent(problem, d) for d in problem.dims}
    steps = {d: -(-extent[d] // mapping.lx.get(d, extent[d])) for d in problem.dims}
    workers = math.prod(mapping.cores.values()) * math.prod(mapping.corelets.values())
    loaded = stored = 0
    skipped = in_lx(mapping)
    for op in problem.operands:
        if op.name in skipped:
            continue  # in LX already
        tile = _lx_tile_elements(problem, mapping, op, extent) * op.itemsize
        loads = math.prod(steps[d] for d in op.dims)
        inner = max((mapping.order.index(d) for d in op.dims if d in mapping.order and steps[d] > 1),
                    default=-1)
        if inner >= 0:
            loads *= math.prod(steps[d] for d in mapping.order[:inner] if d not in op.dims)
        if op.name == "output":
            stored += tile * loads * workers
        else:
            loaded += tile * loads * workers
    return loaded, stored


def mpe_instructions(problem: Problem, mapping: Mapping) -> int:
    """MPE instructions of the busiest corelet: one per L0 tile of every spatial group and
    every point of the other dims (each pays `mpe_fill_drain_cycles`)."""
    extent = {d: mapping.per_corelet_extent(problem, d) for d in problem.dims}
    spatial = set(mapping.rows + mapping.cols + mapping.simd)
    total = math.prod(extent[d] for d in problem.dims if d not in spatial)
    for d in spatial:
        total *= sum(_tile_sizes(extent[d], mapping.lx.get(d, 1), mapping.l0.get(d, 1)).values())
    return total


def mpe_passes(problem: Problem, mapping: Mapping, machine: Machine) -> int:
    """MPE array passes of the busiest corelet: the sum over its instructions of
    `ceil(m / rows) * ceil(n / cols) * ceil(k / simd)`."""
    extent = {d: mapping.per_corelet_extent(problem, d) for d in problem.dims}
    spatial = set(mapping.rows + mapping.cols + mapping.simd)
    total = math.prod(extent[d] for d in problem.dims if d not in spatial)  # n, g, kh, kw; b
    for dims, lanes in ((mapping.rows, machine.mpe_rows), (mapping.cols, machine.mpe_cols),
                        (mapping.simd, machine.mpe_simd)):
        sizes = Counter({1: 1})
        for d in dims:
            tiles = _tile_sizes(extent[d], mapping.lx.get(d, 1), mapping.l0.get(d, 1))
            sizes = _combine(sizes, tiles)
        total *= sum(count * -(-size // lanes) for size, count in sizes.items())
    return total


def in_lx(mapping: Mapping) -> tuple[str, ...]:
    """The operands (problem names) a mapping neither loads nor stores: the `resident`
    weight, a `kept_input`, a `keep_output` (`forwarding.py`)."""
    return (mapping.resident + (("input",) if mapping.kept_input else ())
            + (("output",) if mapping.keep_output else ()))


def compulsory_bytes(problem: Problem, resident: tuple[str, ...] = ()) -> int:
    """DRAM bytes every mapping moves at least: each operand once (f16), but the
    `resident` ones (in LX already)."""
    d = problem.dims
    if problem.kind == "conv2d":
        q = problem.params
        elements = (d["n"] * d["g"] * d["ic"] * q["in_h"] * q["in_w"]
                    + d["g"] * d["oc"] * d["ic"] * d["kh"] * d["kw"]
                    + d["n"] * d["g"] * d["oc"] * d["oh"] * d["ow"] * (2 if q.get("residual") else 1))
    else:
        elements = d["b"] * (d["m"] * d["k"] + d["k"] * d["n"] + d["m"] * d["n"])
    for op in problem.operands:
        if op.name in resident:
            elements -= math.prod(d[x] for x in op.dims)
    return 2 * elements


# Helpers ---------------------------------------------------------------------------------


def _lx_tile_elements(problem: Problem, mapping: Mapping, op, extent: dict[str, int]) -> int:
    """Elements of one LX tile of `op`; a conv input's tile is the window its output tile
    reads (stride and halo included), at most the image's rows and columns."""
    window = problem.kind == "conv2d" and op.name == "input"
    n = 1
    for d in op.dims:
        size = mapping.lx.get(d, extent[d])
        if window and d in ("oh", "ow"):
            size = min(window_extent(problem, mapping, d), problem.params["in_h" if d == "oh" else "in_w"])
        n *= size
    return n


def _combine(sizes: Counter, tiles: Counter) -> Counter:
    """Tile sizes (element count -> how many) of two dims together: every pair, with the
    counts of pairs of equal product added up (8 x 12 and 6 x 16 are two tiles of 96)."""
    out: Counter = Counter()
    for a, ca in sizes.items():
        for b, cb in tiles.items():
            out[a * b] += ca * cb
    return out


def _tile_sizes(extent: int, lx: int, l0: int) -> Counter:
    """How many L0 tiles of each size one dim of `extent` takes in LX tiles of `lx`."""
    out: Counter = Counter()
    full, rest = divmod(extent, lx)
    for size, count in ((lx, full), (rest, 1)):
        if size and count:
            inner, last = divmod(size, l0)
            out[l0] += inner * count
            if last:
                out[last] += count
    return out


def enumerate_space(problem: Problem, machine: Machine, budget_seconds: float) -> tuple[list[Mapping], bool]:
    """The candidates the budget allows to enumerate (`CANDIDATES_PER_SECOND`), and
    whether there are more."""
    limit = max(1, int(budget_seconds * CANDIDATES_PER_SECOND))
    found = []
    for m in space.candidates(problem, machine):
        if len(found) == limit:
            return found, True
        found.append(m)
    return found, False


def _resident_candidates(problem: Problem, machine: Machine, found: list[Mapping],
                         resident: tuple[str, ...]) -> list[Mapping]:
    """The candidates that can keep `resident` in LX, with `resident(...)` set."""
    from rapid_mlir.mapping.residency import MAX_RESERVED_FRACTION, check_resident, reserved_bytes

    out = []
    for m in found:
        m = replace(m, resident=resident)
        try:
            check_resident(problem, m)
        except MappingError:
            continue
        if reserved_bytes(problem, m, machine) <= MAX_RESERVED_FRACTION * machine.lx_bytes:
            out.append(m)
    return out


def _infeasible(problem: Problem, machine: Machine, start: float) -> SearchResult:
    smallest = space.smallest_mapping(problem, machine)
    try:
        space.check_legal(problem, smallest, machine)
        why = f"layer '{problem.layer}': no candidate of the mapping space fits"
    except MappingError as e:
        why = str(e)
    return SearchResult(problem.layer, None, None, None, None, 0, 0, 0,
                        seconds=time.perf_counter() - start, explanation=why)


def _result(problem: Problem, found: list[Mapping], ranked: list[tuple[float, int]], enumerated: int,
            evaluated: int, pruned: int, over_budget: int, violations: int, start: float,
            truncated: bool) -> SearchResult:
    (best_cost, best), second = ranked[0], ranked[1] if len(ranked) > 1 else (None, None)
    return SearchResult(problem.layer, found[best], best_cost,
                        found[second[1]] if second[1] is not None else None, second[0],
                        enumerated, evaluated, pruned, over_budget, truncated, violations,
                        time.perf_counter() - start)
