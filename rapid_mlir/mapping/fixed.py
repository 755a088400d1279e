"""The fixed mapping: the straightforward strategy that plays the part of hand tuning.

`fixed_mapping(problem, machine)` applies the rules below, always with double
buffering, and returns a mapping that passes `Mapping.validate` and `check_fits`, or
raises the `MappingError` of `check_fits` for the smallest tiling the rules allow. It is
the baseline a mapping search has to beat: it never tiles the kernel, never puts more
than one dim on the MPE's rows (matmul) or columns, and sizes tiles by fixed caps, not by
a cost model.

Work division (both kinds). A split of extent E over W workers takes
`ceil(E / ceil(E / W))` parts, so that no part is empty (E >= W gives about W parts; a
split into one part is left out). The cores split the first of the candidate dims whose
extent is a multiple of `machine.cores` (an even split), else the first whose extent is
at least `machine.cores`, or else the candidate with the largest extent (the first on
ties). The corelets do the same with `corelets_per_core` over the extents one core gets.
Uneven shares (the last core or corelet gets less) lower as they are: the last core runs
code of its own (`transforms/mpe_lowering.py`).

Tile caps (below: "tile(E, c)"): the largest divisor of E up to the cap c, so tiles are
not ragged, unless that divisor is under half of `min(E, c)`; then `min(E, c)` (the last
tile is ragged: a peeled step with its own sizes).

conv2d (dims n, g, oc, oh, ow, ic, kh, kw):

- cores split oc, g, oh (candidates in that order); corelets split oh, oc, over at most
  `dma_queues` corelets (each moves its tiles through its own DMA queue).
- `rows(oh,ow) cols(oc) simd(ic)`: an instruction computes output pixels x output
  channels, summing over input channels; kh and kw are looped over as shifted GEMMs
  accumulating into ACC, n and g are looped over.
- l0, from one corelet's extents E(d): `l0(ic) = tile(E(ic), 64)`, `l0(oc) = tile(E(oc), 64)`,
  `l0(ow) = tile(E(ow), 64)`, `l0(oh) = tile(E(oh), max(1, 64 // l0(ow)))` (about 64 output
  pixels); then, while L0 A, L0 B or ACC (double-buffered) overflows, the largest l0 extent
  among the dims of an overflowing buffer is halved (rounding down, at least 1).
- lx: `n = g = 1`, `kh, kw, ow` whole, `ic` whole, `oc = l0(oc)`, and `oh` whole if
  that fits LX, else the largest multiple of `l0(oh)` below it that fits. When even
  `lx(oh) = l0(oh)` does not fit, `lx(ic)` becomes the largest multiple of `l0(ic)` at
  most half of it (at least `l0(ic)`) and `oh` is searched again, until
  `lx(ic) = l0(ic)`; after that the layer does not fit. ("Fits" is `check_fits`: with
  `lx(ic) < ic` the partial sums of the whole LX output tile stay in ACC across the LX
  `ic` steps, which also bounds `lx(oh)`; each corelet holds its own input and weight
  tiles.)
- `order(n,g,oc,oh,ow,ic,kh,kw)`.

matmul (dims b, m, n, k):

- cores split n, m; corelets split m, n (at most `dma_queues` corelets).
- `rows(m) cols(n) simd(k)`; `l0(m) = tile(E(m), 64)`, `l0(n) = tile(E(n), 64)`,
  `l0(k) = tile(E(k), 128)`, then halved to fit L0 as for conv2d.
- lx: `b = 1`; for a factor f of 4, then 2, then 1: `m = min(E(m), f * l0(m))`,
  `n = min(E(n), f * l0(n))`, and k whole if that fits LX, else the largest multiple of
  `l0(k)` below it that fits (with `lx(k) < K` the f x f L0 tiles of the LX output tile
  stay in ACC across the k steps, so a large f may not fit); the first f with a fitting
  k wins, else the layer does not fit.
- `order(b,m,n,k)`.

vector (the SFU alone: elementwise, normalisation, pooling, softmax, reduce; see `problem`):

- the dims `problem.vector_whole_dims` names (reduced dims, pooled output rows and
  columns) stay whole and unsplit; the others are "free".
- cores split the first free dim (outermost first) that `machine.cores` divides, else the
  free dim with the largest divisor up to `machine.cores`, into that many parts: the
  cores run one program (SPMD), so every core's share must be the same.
- corelets split the free dims of one core's share like conv2d's (`_split`, uneven
  shares allowed: each corelet has its own code), over at most `dma_queues` corelets
  (each corelet moves its tiles through its own DMA queue); when no tiling fits with two
  corelets (each holds its own tiles), one corelet is tried.
- lx: whole dims whole; the free dims from the innermost out whole while the tile (the
  product of lx over all dims, reduced and window dims included) holds at most 16384
  elements, the first that does not fit `tile(E, rest of the cap)`, the ones outside it 1. When that does not fit LX (double-buffered), the cap
  is halved until it does, or the layer does not fit.
- no rows, cols, simd or l0 (no MPE); `order` is the dims in the problem's order.

copy (data movement: concat, split, transpose, pad; see `problem.copy`):

- cores split the first dim (outermost first) whose `problem.grain` (the gcd of the
  pieces' extents along it) `machine.cores` divides, else the dim with the largest
  divisor of its grain up to `machine.cores`: every core gets an equal share of every
  piece. No corelet split: one corelet alternates its LX tiles over the DMA queues (each
  queue loads and stores its own tiles, double-buffered).
- lx: every dim may be tiled (the pieces of a cut dim are tiled within themselves), from
  the innermost out as for vector layers, with the same cap, halved until it fits LX.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace

from rapid_mlir.machine import Machine
from rapid_mlir.mapping.footprint import check_fits
from rapid_mlir.mapping.mapping import Mapping, MappingError
from rapid_mlir.mapping.problem import COPY, VECTOR, Problem, vector_whole_dims

_L0_CAP = 64          # l0 cap of every dim but the matmul reduction
_L0_CAP_MATMUL_K = 128
_LX_FACTORS = (4, 2, 1)  # matmul: lx(m), lx(n) as multiples of the l0 tile
_VECTOR_TILE_CAP = 16384  # vector layers: elements of one LX tile (product of lx over all dims)


def fixed_mapping(problem: Problem, machine: Machine) -> Mapping:
    """The fixed strategy's mapping of `problem` on `machine` (rules in the module docstring)."""
    if problem.kind == "conv2d":
        mapping = _conv2d(problem, machine)
    elif problem.kind == "matmul":
        mapping = _matmul(problem, machine)
    elif problem.kind == VECTOR:
        mapping = _vector(problem, machine)
    elif problem.kind == COPY:
        mapping = _copy(problem, machine)
    else:
        raise MappingError(f"layer '{problem.layer}': no fixed mapping for a {problem.kind} layer")
    mapping.validate(problem)
    return mapping


def _conv2d(problem: Problem, machine: Machine) -> Mapping:
    dims = problem.dims
    cores = _split(dims, ("oc", "g", "oh"), machine.cores)
    core_extent = {d: -(-e // cores.get(d, 1)) for d, e in dims.items()}
    corelets = _split(core_extent, ("oh", "oc"), min(machine.corelets_per_core, machine.dma_queues))
    base = Mapping(cores=cores, corelets=corelets, rows=("oh", "ow"), cols=("oc",), simd=("ic",),
                   order=("n", "g", "oc", "oh", "ow", "ic", "kh", "kw"))
    extent = {d: base.per_corelet_extent(problem, d) for d in dims}

    l0 = {"oh": 1, "ow": _divisor(extent["ow"], _L0_CAP), "oc": _divisor(extent["oc"], _L0_CAP),
          "ic": _divisor(extent["ic"], _L0_CAP)}
    l0["oh"] = _divisor(extent["oh"], max(1, _L0_CAP // l0["ow"]))
    l0 = _shrink_l0(l0, base, machine)

    def build(oh: int, ic: int) -> Mapping:
        lx = {"n": 1, "g": 1, "oc": l0["oc"], "oh": oh, "ow": extent["ow"], "ic": ic,
              "kh": extent["kh"], "kw": extent["kw"]}
        return replace(base, lx={d: lx[d] for d in dims}, l0=dict(l0))

    ic = extent["ic"]
    while True:
        found = _largest_fitting(problem, machine, lambda oh, ic=ic: build(oh, ic),
                                 l0["oh"], extent["oh"])
        if found is not None:
            return found
        if ic <= l0["ic"]:
            return _no_fit(problem, machine, build(l0["oh"], l0["ic"]))
        ic = max(l0["ic"], -(-ic // 2) // l0["ic"] * l0["ic"])


def _matmul(problem: Problem, machine: Machine) -> Mapping:
    dims = problem.dims
    cores = _split(dims, ("n", "m"), machine.cores)
    core_extent = {d: -(-e // cores.get(d, 1)) for d, e in dims.items()}
    corelets = _split(core_extent, ("m", "n"), min(machine.corelets_per_core, machine.dma_queues))
    base = Mapping(cores=cores, corelets=corelets, rows=("m",), cols=("n",), simd=("k",),
                   order=("b", "m", "n", "k"))
    extent = {d: base.per_corelet_extent(problem, d) for d in dims}
    l0 = _shrink_l0({"m": _divisor(extent["m"], _L0_CAP), "n": _divisor(extent["n"], _L0_CAP),
                     "k": _divisor(extent["k"], _L0_CAP_MATMUL_K)}, base, machine)

    def build(factor: int, k: int) -> Mapping:
        lx = {"b": 1, "m": min(extent["m"], factor * l0["m"]),
              "n": min(extent["n"], factor * l0["n"]), "k": k}
        return replace(base, lx={d: lx[d] for d in dims}, l0=dict(l0))

    for factor in _LX_FACTORS:
        found = _largest_fitting(problem, machine, lambda k, f=factor: build(f, k),
                                 l0["k"], extent["k"])
        if found is not None:
            return found
    return _no_fit(problem, machine, build(1, l0["k"]))


def _vector(problem: Problem, machine: Machine) -> Mapping:
    dims = problem.dims
    whole = set(vector_whole_dims(problem))
    free = tuple(d for d in dims if d not in whole)
    cores = _even_split(dims, free, machine.cores)
    core_extent = {d: e // cores.get(d, 1) for d, e in dims.items()}
    workers = min(machine.corelets_per_core, machine.dma_queues)
    corelets = _split(core_extent, free, workers) if free and workers > 1 else {}
    found = _vector_tiles(problem, machine, Mapping(cores=cores, corelets=corelets, order=tuple(dims)), free)
    if found is None and corelets:  # one corelet holds half the tiles of two
        found = _vector_tiles(problem, machine, Mapping(cores=cores, order=tuple(dims)), free)
    return found


def _copy(problem: Problem, machine: Machine) -> Mapping:
    grain = {d: problem.grain.get(d, e) for d, e in problem.dims.items()}
    cores = _even_split(grain, tuple(problem.dims), machine.cores)
    return _vector_tiles(problem, machine, Mapping(cores=cores, order=tuple(problem.dims)), tuple(problem.dims))


def _vector_tiles(problem: Problem, machine: Machine, base: Mapping, free: tuple[str, ...]) -> Mapping | None:
    """`base` with the largest capped LX tiles that fit (vector rules), else None (raises
    the MappingError of the smallest tiling when `base` has no corelet split)."""
    dims = problem.dims
    whole = [d for d in dims if d not in free]
    extent = {d: base.per_corelet_extent(problem, d) for d in dims}
    per_free = math.prod(extent[d] for d in whole)

    def build(cap: int) -> Mapping:
        lx = {d: extent[d] for d in whole}
        count, tiling = per_free, True
        for d in reversed(free):
            if not tiling:
                lx[d] = 1
            elif count * extent[d] <= cap:
                lx[d] = extent[d]
            else:
                lx[d] = _divisor(extent[d], max(1, cap // count))
                tiling = False
            count *= lx[d]
        return replace(base, lx={d: lx[d] for d in dims})

    cap = _VECTOR_TILE_CAP
    while not _fits(problem, machine, build(cap)):
        if cap == 1:
            return None if base.corelets else _no_fit(problem, machine, build(1))
        cap //= 2
    return build(cap)


# Helpers ---------------------------------------------------------------------------------


def _even_split(extents: dict[str, int], candidates: tuple[str, ...], workers: int) -> dict[str, int]:
    """Split one dim into equal parts over up to `workers`: the first candidate that
    `workers` divides, else the one with the largest divisor up to `workers`."""
    best, parts = None, 1
    for d in candidates:
        p = max(q for q in range(1, min(workers, extents[d]) + 1) if extents[d] % q == 0)
        if p > parts:
            best, parts = d, p
        if p == workers:
            break
    return {best: parts} if best is not None else {}


def _divisor(extent: int, cap: int) -> int:
    """The tile for an extent: the largest divisor of it up to `cap` (so tiles are never
    ragged), unless that is under half the cap, then simply `min(extent, cap)`."""
    best = max(d for d in range(1, min(extent, cap) + 1) if extent % d == 0)
    return best if 2 * best >= min(extent, cap) else min(extent, cap)


def _split(extents: dict[str, int], candidates: tuple[str, ...], workers: int) -> dict[str, int]:
    """Split one dim over `workers` (the first candidate as big as `workers`, else the
    biggest), into as many non-empty parts as the workers allow; {} when one part."""
    # An even split first (every worker gets the same share: no ragged tiles), then the
    # first candidate as big as `workers`, else the biggest.
    dim = next((d for d in candidates if extents[d] >= workers and extents[d] % workers == 0), None)
    if dim is None:
        dim = next((d for d in candidates if extents[d] >= workers), None)
    if dim is None:
        dim = max(candidates, key=lambda d: extents[d])
    size = -(-extents[dim] // min(workers, extents[dim]))
    parts = -(-extents[dim] // size)
    return {dim: parts} if parts > 1 else {}


def _shrink_l0(l0: dict[str, int], base: Mapping, machine: Machine) -> dict[str, int]:
    """Halve the largest l0 extent of an overflowing L0 A, L0 B or ACC until all fit."""
    l0 = dict(l0)

    def product(dims: tuple[str, ...]) -> int:
        out = 1
        for d in dims:
            out *= l0[d]
        return out

    while True:
        m, n, k = product(base.rows), product(base.cols), product(base.simd)
        over = [dims for dims, need, have in (
            (base.rows + base.simd, m * k * 2, machine.l0_a_bytes),
            (base.simd + base.cols, k * n * 2, machine.l0_b_bytes),
            (base.rows + base.cols, m * n * 4 * 2, machine.acc_bytes)) if need > have]
        if not over:
            return l0
        largest = max(over[0], key=lambda d: l0[d])
        if l0[largest] == 1:
            return l0  # cannot shrink further; check_fits will say what overflows
        l0[largest] //= 2


def _largest_fitting(problem: Problem, machine: Machine, make: Callable[[int], Mapping],
                     step: int, whole: int) -> Mapping | None:
    """make(v) for the largest fitting v among `whole` and the multiples of `step` below
    it (so that LX tiles hold whole L0 tiles), or None.

    make(whole) is tried first: a whole-extent tile is loaded once and single-buffered,
    so it may fit where smaller ones do not. Below it every tile is double-buffered and
    the need grows with v, so a binary search finds the largest fitting multiple.
    """
    if _fits(problem, machine, make(whole)):
        return make(whole)
    lo, hi = 1, (whole - 1) // step  # multiples lo * step .. hi * step
    if hi < lo or not _fits(problem, machine, make(step)):
        return None
    while lo < hi:  # invariant: make(lo * step) fits
        mid = (lo + hi + 1) // 2
        if _fits(problem, machine, make(mid * step)):
            lo = mid
        else:
            hi = mid - 1
    return make(lo * step)


def _fits(problem: Problem, machine: Machine, mapping: Mapping) -> bool:
    try:
        check_fits(problem, mapping, machine)
    except MappingError:
        return False
    return True


def _no_fit(problem: Problem, machine: Machine, smallest: Mapping) -> Mapping:
    """Raise check_fits' error for the smallest tiling the rules allow."""
    try:
        check_fits(problem, smallest, machine)
    except MappingError as e:
        raise MappingError(f"{e}; the fixed mapping cannot tile it smaller than "
                           f"'{smallest.to_text()}'") from None
    return smallest  # unreachable: the caller found that it does not fit
