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

Tile caps (below: "tile(E, c)"): the largest divisor of E up to the cap c, so tiles are
not ragged, unless that divisor is under half of `min(E, c)`; then `min(E, c)`.

conv2d (dims n, g, oc, oh, ow, ic, kh, kw):

- cores split oc, g, oh (candidates in that order); corelets split oh, oc.
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
  `lx(ic) = l0(ic)`; after that the layer does not fit.
- `order(n,g,oc,oh,ow,ic,kh,kw)`.

matmul (dims b, m, n, k):

- cores split n, m; corelets split m, n.
- `rows(m) cols(n) simd(k)`; `l0(m) = tile(E(m), 64)`, `l0(n) = tile(E(n), 64)`,
  `l0(k) = tile(E(k), 128)`, then halved to fit L0 as for conv2d.
- lx: `b = 1`; for a factor f of 4, then 2, then 1: `m = min(E(m), f * l0(m))`,
  `n = min(E(n), f * l0(n))`, and k whole if that fits LX, else the largest multiple of
  `l0(k)` below it that fits; the first f with a fitting k wins, else the layer does
  not fit.
- `order(b,m,n,k)`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from rapid_mlir.machine import Machine
from rapid_mlir.mapping.footprint import check_fits
from rapid_mlir.mapping.mapping import Mapping, MappingError
from rapid_mlir.mapping.problem import Problem

_L0_CAP = 64          # l0 cap of every dim but the matmul reduction
_L0_CAP_MATMUL_K = 128
_LX_FACTORS = (4, 2, 1)  # matmul: lx(m), lx(n) as multiples of the l0 tile


def fixed_mapping(problem: Problem, machine: Machine) -> Mapping:
    """The fixed strategy's mapping of `problem` on `machine` (rules in the module docstring)."""
    if problem.kind == "conv2d":
        mapping = _conv2d(problem, machine)
    elif problem.kind == "matmul":
        mapping = _matmul(problem, machine)
    else:
        raise MappingError(f"layer '{problem.layer}': no fixed mapping for a {problem.kind} layer")
    mapping.validate(problem)
    return mapping


def _conv2d(problem: Problem, machine: Machine) -> Mapping:
    dims = problem.dims
    cores = _split(dims, ("oc", "g", "oh"), machine.cores)
    core_extent = {d: -(-e // cores.get(d, 1)) for d, e in dims.items()}
    corelets = _split(core_extent, ("oh", "oc"), machine.corelets_per_core)
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
    corelets = _split(core_extent, ("m", "n"), machine.corelets_per_core)
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


# Helpers ---------------------------------------------------------------------------------


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
