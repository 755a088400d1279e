"""Outputs kept in LX for the next layer: the other cross-layer decision of `dse`.

Every layer is its own kernel and, without help, stores its output to DRAM for the next
kernel to load again. When a conv2d's output feeds a 1x1 convolution (stride 1, no
padding, one group) in the very next kernel, and both split the work the same way, each
corelet's share of the output is exactly the consumer corelet's share of its input, with
the same layout ([channels][rows][columns]). Then:

- the producer's mapping has `keep_output`: every corelet holds its whole share of the
  output in one LX tile (no LX step along n, g, oc, oh or ow: `keeps_output`); the
  epilogues write it there and nothing is stored to DRAM; when other layers read the
  output too (a ResNet block's output: the next block's 1x1 conv and its residual
  add), `share_output` keeps it and stores it as well;
- the consumer's mapping has `kept_input`: every corelet holds its whole share of the
  input in one LX tile (`takes_input`), which it finds where the producer left it, and
  loads nothing;
- every corelet's share is the same part of the tensor in both (`signature`): the same
  split of the image, or the producer's output channels split over cores as the
  consumer's input channels (its ring reduction, `ring_reduction.py`); the consumer does
  not split its own output channels (each corelet would need all input channels);
- `convert-tile-to-mem` gives the two buffers one key per corelet
  (`rapid_mem.alloc resident "fn/kept/<producer>/corelet j"`) and `rapid-mem-allocate`
  one offset at the top of LX for both kernels; the junction between the kernels (every
  stream of every core finished) orders the producer's epilogues before the consumer's
  products.

`pair_mappings` searches the two: for each of the few most promising layouts both can
have, the producer among its candidates that keep their output in that layout and the
consumer among those that take it. `convert-nn-to-tile{strategy=dse}` predicts every
pair's saving over the two layers' ordinary best and takes the pairs of adjacent
kernels with the largest total saving, each kernel in one pair at most
(`choose_pairs`). In ResNet-50 those are the bottleneck's 3x3 conv feeding its 1x1
expansion, and a block's output (`share_output`) feeding the next block's first 1x1 conv.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from rapid_mlir.mapping.mapping import Mapping, MappingError
from rapid_mlir.mapping.problem import Problem

OUTPUT_DIMS = ("n", "g", "oc", "oh", "ow")
"""The dims of a conv2d's output (an LX step along one of them splits the kept tile)."""

INPUT_DIMS = ("n", "g", "ic", "oh", "ow")
"""The dims indexing a conv2d's input tile."""


def can_consume(problem: Problem) -> bool:
    """A conv2d whose input tile is its output's pixels: 1x1, stride 1, no padding, one group."""
    if problem.kind != "conv2d":
        return False
    q, d = problem.params, problem.dims
    return (d["kh"] == d["kw"] == d["g"] == 1 and q["stride_h"] == q["stride_w"] == 1
            and q["pad_t"] == q["pad_l"] == q["pad_b"] == q["pad_r"] == 0)


def can_forward(producer: Problem, consumer: Problem) -> bool:
    """Whether `consumer` can read `producer`'s output from LX (the shapes agree)."""
    if producer.kind != "conv2d" or not can_consume(consumer) or producer.dims["g"] != 1:
        return False
    p, c = producer.dims, consumer.dims
    return (p["n"], p["oc"], p["oh"], p["ow"]) == (c["n"], c["ic"], c["oh"], c["ow"])


def _splits_reduction(problem: Problem, mapping: Mapping, cores: bool = True) -> bool:
    """A reduction dim split over corelets, or (`cores`) over cores."""
    return any((cores and mapping.cores.get(d, 1) > 1) or mapping.corelets.get(d, 1) > 1
               for d in problem.reduction)


def _whole(problem: Problem, mapping: Mapping, dims: tuple[str, ...]) -> str | None:
    """None when every corelet holds its whole share of `dims` in one LX tile (one image),
    else what steps: `lx(d=t)` against the share."""
    from rapid_mlir.cost.schedule import corelet_regions

    for _, _, _, sizes in corelet_regions(problem, mapping):
        if sizes["n"] > 1:
            return f"a corelet's share holds {sizes['n']} images (LX tiles hold one)"
        for d in dims:
            if mapping.lx.get(d, 1) < sizes[d]:
                return f"lx({d}={mapping.lx.get(d, 1)}) steps through a share of {sizes[d]}"
    return None


def keeps_output(problem: Problem, mapping: Mapping) -> bool:
    """Every corelet's share of the output is one LX tile (and no ring reduction)."""
    return (problem.kind == "conv2d" and not _splits_reduction(problem, mapping)
            and _whole(problem, mapping, OUTPUT_DIMS) is None)


def takes_input(problem: Problem, mapping: Mapping) -> bool:
    """Every corelet's share of the input is one LX tile in the [ic][rows][cols] layout
    (not `simd(kw,ic)`'s); `ic` may be split over cores (a ring reduction), not over
    corelets."""
    return (can_consume(problem) and "kw" not in mapping.simd and not _splits_reduction(problem, mapping, False)
            and _whole(problem, mapping, INPUT_DIMS) is None)


def signature(problem: Problem, mapping: Mapping, channels: str) -> tuple | None:
    """The layout of every corelet's share of the forwarded tensor: per (core, corelet),
    the image and the start and extent of its `channels` (the producer's `oc`, the
    consumer's `ic`: a consumer splitting `ic` over cores, a ring reduction, takes a
    producer's `oc` split), rows and columns; None when the consumer splits its `oc`
    (every corelet would need all the channels of its pixels, kept by several)."""
    from rapid_mlir.cost.schedule import corelet_regions

    if channels == "ic" and any(split.get("oc", 1) > 1 for split in (mapping.cores, mapping.corelets)):
        return None
    out = []
    for core, corelet, origin, sizes in corelet_regions(problem, mapping):
        out.append((core, corelet, origin["n"], origin[channels], sizes[channels], origin["oh"], sizes["oh"],
                    origin["ow"], sizes["ow"]))
    return tuple(sorted(out))


def check_pair(producer: Problem, pm: Mapping, consumer: Problem, cm: Mapping) -> None:
    """Raises MappingError naming the layer when `pm`'s kept output is not exactly what
    `cm` takes (`convert-tile-to-mem` checks every pair before lowering it)."""
    head = f"layer '{producer.layer}': keep_output for layer '{consumer.layer}'"
    if not can_forward(producer, consumer):
        raise MappingError(f"{head}: the next layer must be a 1x1 conv2d (stride 1, no padding, one group) "
                           "reading this output, and this layer a conv2d of one group")
    for problem, mapping, dims, flag, where in ((producer, pm, OUTPUT_DIMS, "keep_output", "cores or corelets"),
                                                (consumer, cm, INPUT_DIMS, "kept_input", "corelets")):
        if _splits_reduction(problem, mapping, flag == "keep_output"):
            raise MappingError(f"layer '{problem.layer}': {flag} with a reduction dim split over {where} "
                               "is not lowered")
        why = _whole(problem, mapping, dims)
        if why is not None:
            raise MappingError(f"layer '{problem.layer}': {flag} needs every corelet to hold its whole share "
                               f"in one LX tile, but {why}")
    if "kw" in cm.simd:
        raise MappingError(f"layer '{consumer.layer}': kept_input needs the [ic][rows][cols] input layout, "
                           "not simd(kw,ic)'s")
    mine, theirs = signature(producer, pm, "oc"), signature(consumer, cm, "ic")
    if mine is None or theirs is None:
        raise MappingError(f"{head}: the next layer splits its output channels, so each of its corelets "
                           "would need every input channel of its pixels")
    if mine != theirs:
        raise MappingError(f"{head}: the two layers split the tensor differently over cores and corelets "
                           f"(cores({_kv(pm.cores)}) corelets({_kv(pm.corelets)}) against "
                           f"cores({_kv(cm.cores)}) corelets({_kv(cm.corelets)}))")


def _kv(split: dict[str, int]) -> str:
    return ",".join(f"{d}={p}" for d, p in split.items())


def flagged(problem: Problem, found: list[Mapping], role: str, stored: bool = False) -> list[tuple[Mapping, tuple]]:
    """(mapping, layout) of the candidates `found` that keep their output in LX (`role`
    "output": `keeps_output`, with `keep_output` set, or `share_output` when `stored`)
    or take their input from there ("input": `takes_input`, with `kept_input` set), in
    their order; `signature` is worked out once per split."""
    from rapid_mlir.cost.schedule import corelet_regions

    test, flag, channels = ((keeps_output, "share_output" if stored else "keep_output", "oc") if role == "output"
                            else (takes_input, "kept_input", "ic"))
    memo: dict[str, tuple | None] = {}
    out = []
    for m in found:
        split = _kv(m.cores) + "|" + _kv(m.corelets)
        if split not in memo:
            # every corelet's share holds one image, else no candidate of the split can keep it
            one = all(sizes["n"] == 1 for _, _, _, sizes in corelet_regions(problem, m))
            memo[split] = signature(problem, m, channels) if one else None
        if memo[split] is not None and test(problem, m):
            out.append((replace(m, **{flag: True}), memo[split]))
    return out


MAX_LAYOUTS = 6
"""Layouts a pair search tries besides the producer's favourite (those with the lowest
summed lower bounds)."""


@dataclass(frozen=True)
class Pair:
    """The outcome of `pair_mappings`: the two mappings, their costs, the two searches of
    the winning layout and the seconds of the whole pair search."""

    producer: Mapping
    producer_cost: float
    consumer: Mapping
    consumer_cost: float
    searches: tuple
    layouts: int
    seconds: float


def pair_mappings(producer: Problem, consumer: Problem, machine, cost, budget: float,
                  cache: dict | None = None, stored: bool = False) -> Pair | None:
    """The best forwarding pair of mappings (`stored`: the producer's with `share_output`,
    its output read by other layers too, else `keep_output`), or None when no pair fits. Of the layouts
    (`signature`) both layers can have, it tries that of the producer's best candidate
    among all of them, then the first `MAX_LAYOUTS` others by the sum of their best lower
    bounds (`dse.lower_bound`): for each, the producer is searched among its candidates
    that keep their output in that layout and the consumer among those taking it (each
    search with `budget`; every space enumerated once), and the pair of the lowest
    summed cost wins (ties: the earlier layout). `cache` (a dict the caller keeps)
    reuses the result of an identical pair of layers."""
    key = ("forwarding pair", *(_identity(p) for p in (producer, consumer)), machine.fingerprint(), cost, budget,
           stored)
    if cache is not None and key in cache:
        found = cache[key]
        return None if found is None else replace(found, seconds=0.0)
    found = _pair_search(producer, consumer, machine, cost, budget, stored)
    if cache is not None:
        cache[key] = found
    return found


def _identity(problem: Problem) -> tuple:
    return problem.kind, tuple(problem.dims.items()), tuple(sorted(problem.params.items()))


def _pair_search(producer: Problem, consumer: Problem, machine, cost, budget: float, stored: bool) -> Pair | None:
    import time

    from rapid_mlir.mapping import dse

    start = time.perf_counter()
    if min(producer.dims["n"], consumer.dims["n"]) > machine.corelets:
        return None  # some corelet holds several images: no LX tile holds its share
    pools: list[dict[tuple, list[Mapping]]] = []
    bounds: list[dict[tuple, float]] = []
    for problem, role in ((producer, "output"), (consumer, "input")):
        found, _ = dse.enumerate_space(problem, machine, budget)
        pool: dict[tuple, list[Mapping]] = {}
        best: dict[tuple, float] = {}
        for m, sig in flagged(problem, found, role, stored):
            pool.setdefault(sig, []).append(m)
            bound = dse.lower_bound(problem, m, machine)
            best[sig] = min(bound, best.get(sig, bound))
        pools.append(pool)
        bounds.append(best)
    common = sorted(set(bounds[0]) & set(bounds[1]), key=lambda sig: (bounds[0][sig] + bounds[1][sig], sig))
    if not common:
        return None
    # First the layout of the producer's best candidate among all it could keep (the
    # bounds miss what the model sees: DMA latency, overlap), then the best bounded ones.
    everyone = [m for sig in common for m in pools[0][sig]]
    favourite = dse.search_among(producer, machine, everyone, cost, budget).best
    layouts = [signature(producer, favourite, "oc")]
    layouts += [sig for sig in common if sig not in layouts][:MAX_LAYOUTS]
    best = None
    for layout in layouts:
        first = dse.search_among(producer, machine, pools[0][layout], cost, budget)
        second = dse.search_among(consumer, machine, pools[1][layout], cost, budget)
        if first.best is None or second.best is None:
            continue
        pc, cc = float(cost(producer, first.best, machine)), float(cost(consumer, second.best, machine))
        if best is None or pc + cc < best[0]:
            best = (pc + cc, first, second, pc, cc)
    if best is None:
        return None
    _, first, second, pc, cc = best
    return Pair(first.best, pc, second.best, cc, (first, second), len(layouts), time.perf_counter() - start)


def choose_pairs(savings: dict[int, float]) -> list[int]:
    """The pairs to take, given the saving of each candidate pair `i` (kernels i and
    i + 1): those with the largest total saving such that no kernel is in two pairs
    (a maximum-weight matching on a path: dynamic programming), in order; ties keep
    fewer, earlier pairs."""
    if not savings:
        return []
    kernels = max(savings) + 2
    best = [(0.0, ())] * (kernels + 1)  # best[k]: over the kernels 0..k-1
    for k in range(2, kernels + 1):
        skip = best[k - 1]
        take = best[k - 2]
        if k - 2 in savings and savings[k - 2] > 0:
            take = (take[0] + savings[k - 2], take[1] + (k - 2,))
            best[k] = take if take[0] > skip[0] else skip
        else:
            best[k] = skip
    return list(best[kernels][1])
