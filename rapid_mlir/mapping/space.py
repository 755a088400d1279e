"""The mapping space of a conv2d or matmul layer: the legal candidates a search visits.

`candidates(problem, machine)` yields, in a fixed order, mappings that pass
`Mapping.validate`, `check_fits` and the lowering's own limits (docs/lowering.md,
`convert-tile-to-mem` for the MPE). The choices, outermost first:

1. **Work division** (`split_options`): one dim over the cores and one over a core's
   corelets (the lowering splits one dim per level), or none. conv2d: cores over `oc, g,
   oh, ow, n` and `ic` (the ring reduction: batch 1, one group and no fused residual add
   only), corelets over `oh, oc, ow, n, g`; matmul: cores over `n, m, k` (`k`: the ring reduction), corelets
   over `m, n`. Per dim, two part counts at most: as many workers as the extent allows
   (`ceil(E / ceil(E / W))` non-empty parts) and the largest divisor of E up to W (an
   even split, no code of its own for the last core). Corelets: at most
   `min(corelets_per_core, dma_queues)` (each corelet needs a DMA queue of its own).
2. **Spatial mapping** (`spatial_options`): `rows(oh,ow) cols(oc) simd(ic)` for conv2d,
   `rows(m) cols(n) simd(k)` for matmul; and for a conv with fewer input channels than
   SIMD lanes (a stem conv), kernel width > 1 and width dilation 1, also `rows(oh,ow)
   cols(oc) simd(kw,ic)`: the kernel's columns join the channels in the lanes
   (`conv_lowering.py`), with `kw` and `ic` whole in L0 and LX and `ic` never split.
   These are the assignments the lowering lowers (others fail in `convert-tile-to-mem`).
3. **L0 tiles** (one MPE instruction), from one corelet's extent E of each dim and the
   lanes it feeds (`mpe_rows`, `mpe_cols`, `mpe_simd`): the multiples of the lanes that
   are powers of two times the lanes or divisors of E, and E itself, up to
   `L0_LANE_FACTOR` times the lanes; when E is below the lanes, E alone (an l0 smaller
   than the array where the extent could fill it is dominated and never offered). The
   conv rows are the pairs `l0(oh) x l0(ow)`: `l0(ow)` from E(ow) and the powers-of-two
   multiples of the rows below it, `l0(oh)` from the powers of two and divisors of E(oh),
   with at least `mpe_rows` rows where the extent has them. Per group (rows, cols,
   simd) the `L0_CHOICES` largest sizes are kept (best lane fill first on ties), and
   the combinations must fit L0 A, L0 B and ACC.
4. **LX tiles**, per corelet: the whole extent and the powers-of-two multiples of the
   L0 tile below it, for every spatial dim (the reduction too: partial sums stay in
   ACC); `kh, kw` whole; `n, g, b` one per tile.
5. **Loop order** (which operand stays resident): every permutation of the output dims
   that take more than one LX step (the others' position changes nothing), the
   reduction dims innermost (the lowering requires a stepped reduction inside every
   stepped output dim).
6. **Double buffering**: on; off only for tiles that do not fit double-buffered (with
   the same tiles, a second buffer only removes waits).

The fixed strategy's mapping, when it fits, is always the first candidate (also where
none of the above fits: a layer so large that only tiles smaller than the MPE's lanes
fit), so a search is never worse than the baseline by its own cost model, and keeps
the baseline on a tie.

Sizes measured (`space_size`, 0.1 to 0.6 s each): a ResNet-50 3x3 conv (56x56x64 -> 64)
has 1,456 candidates on rapid-1c, 5,282 on rapid-4c and 2,604 on rapid-32c; its 1x1
64 -> 256 conv 5,288 and its 7x7x512 3x3 conv 1,150 on rapid-4c; a 1024^3 matmul 1,658. `smallest_mapping` is the tiling with the
smallest footprint, whose `check_fits` error explains a layer nothing fits.

Vector and copy layers have no space here: a search keeps their fixed mapping.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator
from dataclasses import replace

from rapid_mlir.machine import Machine
from rapid_mlir.mapping.footprint import check_fits
from rapid_mlir.mapping.mapping import Mapping, MappingError
from rapid_mlir.mapping.problem import Problem

KINDS = ("conv2d", "matmul")
"""The problem kinds with a mapping space (the MPE layers)."""

CORE_DIMS = {"conv2d": ("oc", "g", "oh", "ow", "n", "ic"), "matmul": ("n", "m", "k")}
"""Dims split over the cores, in the order they are tried (`ic`, `k`: ring reduction)."""

CORELET_DIMS = {"conv2d": ("oh", "oc", "ow", "n", "g"), "matmul": ("m", "n")}
"""Dims split over a core's corelets (never a reduction dim)."""

SPATIAL = {"conv2d": (("oh", "ow"), ("oc",), ("ic",)), "matmul": (("m",), ("n",), ("k",))}
"""rows, cols, simd: the spatial mapping the lowering lowers for every layer of a kind
(`spatial_options` adds `simd(kw,ic)` for convs with few channels)."""

ORDER = {"conv2d": ("n", "g", "oc", "oh", "ow", "ic", "kh", "kw"), "matmul": ("b", "m", "n", "k")}
"""The canonical loop order (output dims outermost, then the reduction)."""

WHOLE_DIMS = ("kh", "kw")
UNIT_DIMS = {"conv2d": ("n", "g"), "matmul": ("b",)}
"""Dims one per LX tile (images, groups, matrix batches)."""

L0_LANE_FACTOR = 16
"""An L0 extent is at most this many times the lanes of its group (rows, cols, simd)."""

L0_CHOICES = 2
"""L0 sizes kept per group (rows, cols, simd): the largest ones."""


def candidates(problem: Problem, machine: Machine) -> Iterator[Mapping]:
    """The legal mappings of a conv2d or matmul `problem` on `machine`, in a fixed
    order (module docstring); raises MappingError for another kind of layer."""
    if problem.kind not in KINDS:
        raise MappingError(f"layer '{problem.layer}': no mapping space for a {problem.kind} layer "
                           "(a search keeps the fixed mapping of vector and copy layers)")
    # The fixed strategy's mapping comes first: a search never does worse than the
    # baseline by its own cost model, and keeps it on ties (the earlier candidate wins).
    fixed = _fixed(problem, machine)
    if fixed is not None:
        yield fixed
    for rows, cols, simd in spatial_options(problem, machine):
        for cores, corelets in split_options(problem, machine):
            if len(simd) > 1 and "ic" in cores:
                continue  # simd(kw,ic) keeps ic whole
            base = Mapping(cores=cores, corelets=corelets, rows=rows, cols=cols, simd=simd,
                           order=ORDER[problem.kind])
            extent = {d: base.per_corelet_extent(problem, d) for d in problem.dims}
            for l0 in _l0_options(problem, machine, base, extent):
                for lx in _lx_options(problem, extent, l0, whole=simd if len(simd) > 1 else ()):
                    for order in _orders(problem, extent, lx):
                        found = _buffered(problem, machine, replace(base, l0=l0, lx=lx, order=order))
                        if found is not None and found != fixed:
                            yield found


def spatial_options(problem: Problem, machine: Machine) -> list[tuple[tuple[str, ...], ...]]:
    """(rows, cols, simd) assignments the lowering lowers for `problem` (module docstring)."""
    options = [SPATIAL[problem.kind]]
    if problem.kind == "conv2d" and folds_kernel_width(problem, machine):
        options.append((("oh", "ow"), ("oc",), ("kw", "ic")))
    return options


def folds_kernel_width(problem: Problem, machine: Machine) -> bool:
    """True when `simd(kw,ic)` is offered: fewer channels than lanes, a kernel wider than
    one column, width dilation 1, and kw x ic within `L0_LANE_FACTOR` times the lanes."""
    d = problem.dims
    return (d["ic"] < machine.mpe_simd and d["kw"] > 1 and problem.params.get("dil_w", 1) == 1
            and d["kw"] * d["ic"] <= L0_LANE_FACTOR * machine.mpe_simd)


def space_size(problem: Problem, machine: Machine) -> int:
    """How many candidates `candidates` yields."""
    return sum(1 for _ in candidates(problem, machine))


def split_options(problem: Problem, machine: Machine) -> list[tuple[dict[str, int], dict[str, int]]]:
    """(cores, corelets) pairs: one dim or none per level (module docstring)."""
    dims = problem.dims
    # the ring reduction: batch 1 and one group, and no fused residual add (the owners of
    # the combined blocks would have to add it)
    ring_ok = problem.kind == "matmul" or (dims["n"] == 1 and dims["g"] == 1
                                           and not problem.params.get("residual"))
    core_dims = tuple(d for d in CORE_DIMS[problem.kind]
                      if d not in problem.reduction or ring_ok)
    out = []
    for cores in _level(dims, core_dims, machine.cores):
        share = {d: -(-e // cores.get(d, 1)) for d, e in dims.items()}
        workers = min(machine.corelets_per_core, machine.dma_queues)
        for corelets in _level(share, CORELET_DIMS[problem.kind], workers):
            out.append((cores, corelets))
    return out


def smallest_mapping(problem: Problem, machine: Machine) -> Mapping:
    """The tiling with the smallest footprint on one core: L0 and LX tiles of one element
    (kernel windows whole), single-buffered; its `check_fits` error names the tensor and
    the buffer that make a layer infeasible."""
    rows, cols, simd = SPATIAL[problem.kind]
    lx = {d: (e if d in WHOLE_DIMS else 1) for d, e in problem.dims.items()}
    return Mapping(rows=rows, cols=cols, simd=simd, order=ORDER[problem.kind], lx=lx,
                   l0=dict.fromkeys(rows + cols + simd, 1), double_buffer=False)


def is_legal(problem: Problem, mapping: Mapping, machine: Machine) -> bool:
    """True when `mapping` passes validate, check_fits and the lowering's limits."""
    try:
        check_legal(problem, mapping, machine)
    except MappingError:
        return False
    return True


def check_legal(problem: Problem, mapping: Mapping, machine: Machine) -> None:
    """Raises the MappingError of the first check `mapping` fails."""
    mapping.validate(problem)
    check_fits(problem, mapping, machine)


# Helpers ---------------------------------------------------------------------------------


def _parts(extent: int, workers: int) -> int:
    """Non-empty parts of `extent` split over `workers` (`ceil(E / ceil(E / W))`)."""
    return -(-extent // -(-extent // workers))


def _level(extents: dict[str, int], dims: tuple[str, ...], workers: int) -> list[dict[str, int]]:
    """The splits of one level: none, then per dim the most parts and the largest even split."""
    out: list[dict[str, int]] = [{}]
    if workers < 2:
        return out
    for d in dims:
        e = extents[d]
        if e < 2:
            continue
        even = max(q for q in range(1, min(workers, e) + 1) if e % q == 0)
        for p in sorted({_parts(e, min(workers, e)), even}, reverse=True):
            if p > 1:
                out.append({d: p})
    return out


def _sizes(extent: int, lanes: int, cap: int) -> list[int]:
    """L0 sizes of one dim feeding `lanes` lanes, largest first (module docstring)."""
    if extent <= lanes:
        return [extent]
    top = min(extent, cap)
    out = {extent} if extent <= cap else set()
    out |= {lanes << i for i in range(top.bit_length()) if lanes << i <= top}
    out |= {d for d in range(lanes, top + 1, lanes) if extent % d == 0}
    return sorted(out, reverse=True)


def _fill(size: int, lanes: int) -> float:
    return size / (-(-size // lanes) * lanes)


def _best(options: list[dict[str, int]], dims: tuple[str, ...], lanes: int) -> list[dict[str, int]]:
    """The `L0_CHOICES` largest options of a group, the better lane fill first on ties."""
    def key(o):
        size = math.prod(o[d] for d in dims)
        return (-size, -_fill(size, lanes), tuple(-o[d] for d in dims))

    return sorted(options, key=key)[:L0_CHOICES]


def _group_options(problem: Problem, extent: dict[str, int], dims: tuple[str, ...], lanes: int,
                   ) -> list[dict[str, int]]:
    cap = L0_LANE_FACTOR * lanes
    if dims == ("kw", "ic"):  # the kernel's columns and the channels, whole
        return [{"kw": extent["kw"], "ic": extent["ic"]}]
    if len(dims) == 1:
        return [{dims[0]: s} for s in _sizes(extent[dims[0]], lanes, cap)[:L0_CHOICES]]
    outer, inner = dims  # conv rows: (oh, ow)
    total = extent[outer] * extent[inner]
    options = []
    inner_sizes = {extent[inner]} if extent[inner] <= cap else set()
    inner_sizes |= {lanes << i for i in range(cap.bit_length()) if lanes << i < min(extent[inner], cap + 1)}
    for wi in sorted(inner_sizes, reverse=True):
        eo = extent[outer]
        outer_sizes = {1 << i for i in range(eo.bit_length()) if 1 << i <= eo}
        outer_sizes |= {d for d in range(1, eo + 1) if eo % d == 0}
        for ho in sorted(outer_sizes, reverse=True):
            m = ho * wi
            if m > cap or (m < lanes and m < total):
                continue
            options.append({outer: ho, inner: wi})
    return _best(options, dims, lanes)


def _l0_options(problem: Problem, machine: Machine, base: Mapping, extent: dict[str, int]
                ) -> Iterator[dict[str, int]]:
    groups = [_group_options(problem, extent, dims, lanes) for dims, lanes in
              ((base.rows, machine.mpe_rows), (base.cols, machine.mpe_cols), (base.simd, machine.mpe_simd))]
    for r, c, s in itertools.product(*groups):
        m, n, k = (math.prod(g.values()) for g in (r, c, s))
        if m * k * 2 > machine.l0_a_bytes or k * n * 2 > machine.l0_b_bytes or m * n * 4 > machine.acc_bytes:
            continue
        yield r | c | s


def _lx_sizes(extent: int, tile: int) -> list[int]:
    """The whole extent and the powers-of-two multiples of the L0 tile below it."""
    out = {extent}
    step = tile
    while step < extent:
        out.add(step)
        step *= 2
    return sorted(out)


def _lx_options(problem: Problem, extent: dict[str, int], l0: dict[str, int],
                whole: tuple[str, ...] = ()) -> Iterator[dict[str, int]]:
    dims = list(problem.dims)
    choices = []
    for d in dims:
        if d in WHOLE_DIMS or d in whole:
            choices.append([extent[d]])
        elif d in UNIT_DIMS[problem.kind]:
            choices.append([1])
        else:
            choices.append(_lx_sizes(extent[d], l0.get(d, 1)))
    for sizes in itertools.product(*choices):
        yield dict(zip(dims, sizes))


def _orders(problem: Problem, extent: dict[str, int], lx: dict[str, int]) -> Iterator[tuple[str, ...]]:
    canonical = ORDER[problem.kind]
    outer = [d for d in canonical if d not in problem.reduction]
    stepped = [d for d in outer if lx[d] < extent[d]]
    still = [d for d in outer if d not in stepped]
    inner = tuple(d for d in canonical if d in problem.reduction)
    for perm in itertools.permutations(stepped):
        yield tuple(still) + perm + inner


def _fixed(problem: Problem, machine: Machine) -> Mapping | None:
    from rapid_mlir.mapping.fixed import fixed_mapping

    try:
        mapping = fixed_mapping(problem, machine)
    except MappingError:
        return None
    return mapping if is_legal(problem, mapping, machine) else None


def _buffered(problem: Problem, machine: Machine, mapping: Mapping) -> Mapping | None:
    """`mapping` double-buffered if that is legal, else single-buffered if that is, else None."""
    for double in (True, False):
        candidate = replace(mapping, double_buffer=double)
        if is_legal(problem, candidate, machine):
            return candidate
    return None
