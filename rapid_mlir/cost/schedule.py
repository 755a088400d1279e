"""The schedule one corelet runs for a mapped conv2d or matmul, as plain numbers.

Pure maths (no IR): from a `Problem`, a `Mapping` and a `Machine`, `corelet_work`
lists, in program order, the operations the lowering (`transforms/mpe_lowering.py`,
`conv_lowering.py`) emits for one corelet of one core -- DMA loads of LX tiles, MPE
instructions, SFU epilogues, DMA stores -- each with its engine, its duration terms and
the earlier operations it waits for (the tokens of the lowering). `simulate.simulate`
then times them as the emulator does: every engine runs its operations in program
order, an operation starts when its engine is free and its dependences are done. That
list schedule *is* the double-buffered pipeline with its fill and drain (docs/costmodel.md):
with two LX slots the next step's loads wait only for the MPE that last read their slot,
with one they wait for the current step's MPEs, and stores and epilogues overlap the
next tiles' products.

What it mirrors of the lowering:
- LX steps: per dim of `order` its steps (ragged last one), grouped into runs of equal
  code (size, halo padding, first/last reduction step); a loop level where a
  double-buffered operand loads handles steps in pairs (both loads, then both works).
- An operand loads at the innermost stepped level over a dim indexing it (once, first,
  when none does); its slot is the step index mod 2 when double-buffered.
- L0 tiles over the output dims; per tile one MPE per reduction step (conv: kh x kw x
  ic tiles; with `simd(kw,ic)` kh instructions of k = kw x ic), then, at the last LX
  reduction step, the SFU epilogue (bias add and/or
  activation, one or two instructions) and one store; with the reduction in one LX step
  the next tile's first MPE waits for the epilogue of the tile before (one ACC tile),
  or, double-buffered, for the last epilogue that read its ACC tile (two alternate along
  the innermost L0 dim with several tiles); the first epilogue of an LX tile waits for
  the previous LX tile's last store.
- Rotation (`mapping/rotation.py`): at the rotated level, an LX output tile's last
  reduction step's loads are followed by the next tile's first-step loads (slot 0),
  which that step then works on.
- Queues: a lone corelet loads on queue 0 and stores on queue 1; two corelets each use
  their own queue for both.
- A `resident(...)` weight (`mapping/residency.py`) is not loaded: an earlier kernel left
  it in LX. A `prefetch` mapping's corelet 0 first loads the next kernel's weight on its
  store queue (`predict(prefetch_bytes=...)`). A `kept_input` is not loaded and a
  `keep_output` not stored (`mapping/forwarding.py`): the output stays in LX for the
  next kernel.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field

from rapid_mlir.mapping.mapping import Mapping
from rapid_mlir.mapping.problem import Problem
from rapid_mlir.mapping.residency import lowering_names
from rapid_mlir.mapping.rotation import load_levels, rotated_level

LOAD, STORE, MPE, SFU = "load", "store", "mpe", "sfu"

_TILE_ADDI = 2
"""Address-register updates (`addi`) per L0 tile on the MPE stream (A or B, and ACC)."""


@dataclass
class Op:
    """One operation of a corelet's schedule."""

    engine: str
    """`dma0`, `dma1`, `mpe` or `sfu`."""
    kind: str
    """LOAD, STORE, MPE or SFU."""
    cycles: int = 0
    """Compute cycles (MPE, SFU); for a DMA its fixed latency."""
    nbytes: int = 0
    """DMA bytes crossing the DRAM interface."""
    deps: list[int] = field(default_factory=list)
    """Indices of earlier operations it waits for."""


@dataclass(frozen=True)
class Layout:
    """The conv2d or matmul specifics of the lowering: which dims are rows, cols and simd,
    which are output dims tiled by L0 loops, and each input operand's dims."""

    l0_dims: tuple[str, ...]
    reduction: str
    operands: dict[str, tuple[str, ...]]
    window: dict[str, tuple[str, str, str, str, str]]


CONV = Layout(("oh", "ow", "oc"), "ic",
              {"input": ("n", "g", "ic", "oh", "ow"), "weight": ("g", "oc", "ic", "kh", "kw"), "bias": ("g", "oc")},
              {"oh": ("kh", "stride_h", "dil_h", "pad_t", "in_h"), "ow": ("kw", "stride_w", "dil_w", "pad_l", "in_w")})
MATMUL = Layout(("m", "n"), "k", {"a": ("b", "m", "k"), "b": ("b", "k", "n"), "bias": ("n",)}, {})


CONV_RESIDUAL = Layout(CONV.l0_dims, CONV.reduction,
                       {**CONV.operands, "residual": ("n", "g", "oc", "oh", "ow")}, CONV.window)
"""A conv2d with a fused residual add: the residual tile is loaded like the bias, for the SFU."""

SFU_OPERANDS = ("bias", "residual")
"""Operands the epilogue (the SFU) reads, not the MPE."""


def layout(problem: Problem) -> Layout:
    """The lowering's view of a conv2d or matmul problem."""
    if problem.kind == "conv2d":
        return CONV_RESIDUAL if problem.params.get("residual") else CONV
    return MATMUL


def shares(extent: int, parts: int) -> list[tuple[int, int]]:
    """(start, size) of the non-empty parts of `extent` split into `parts` (ceil shares)."""
    size = -(-extent // max(parts, 1))
    return [(s, min(size, extent - s)) for s in range(0, extent, size)]


def tiles(extent: int, tile: int) -> list[int]:
    """Sizes of the tiles of `extent` by `tile` (the last one ragged)."""
    tile = max(1, min(tile, extent))
    return [min(tile, extent - s) for s in range(0, extent, tile)]


def _split(split: dict[str, int]) -> tuple[str | None, int]:
    parts = {d: p for d, p in split.items() if p > 1}
    return next(iter(parts.items()), (None, 1))


def corelet_regions(problem: Problem, mapping: Mapping) -> list[tuple[int, int, dict, dict]]:
    """(core, corelet, origin, sizes) of every corelet with work: its absolute start and
    extent along each dim."""
    core_dim, core_parts = _split(mapping.cores)
    let_dim, let_parts = _split(mapping.corelets)
    out = []
    core_shares = shares(problem.dims[core_dim], core_parts) if core_dim else [(0, 0)]
    for c, (cs, cz) in enumerate(core_shares):
        sizes, origin = dict(problem.dims), dict.fromkeys(problem.dims, 0)
        if core_dim:
            sizes[core_dim], origin[core_dim] = cz, cs
        let_shares = shares(sizes[let_dim], let_parts) if let_dim else [(0, 0)]
        for j, (ls, lz) in enumerate(let_shares):
            s, o = dict(sizes), dict(origin)
            if let_dim:
                s[let_dim], o[let_dim] = lz, origin[let_dim] + ls
            out.append((c, j, o, s))
    return out


def window_rows(problem: Problem, dim: str, start: int, size: int) -> int:
    """Input rows (cols) of a conv output step `[start, start + size)` along `dim` that
    lie inside the image (the halo included, the padding excluded)."""
    k, stride, dil, pad, extent = (problem.params[p] if p in problem.params else problem.dims[p]
                                   for p in CONV.window[dim])
    first = start * stride - pad
    rows = (size - 1) * stride + (k - 1) * dil + 1
    return max(0, min(first + rows, extent) - max(first, 0))


def _pads_key(problem: Problem, dim: str, start: int, size: int) -> tuple:
    k, stride, dil, pad, extent = (problem.params[p] if p in problem.params else problem.dims[p]
                                   for p in CONV.window[dim])
    first = start * stride - pad
    rows = (size - 1) * stride + (k - 1) * dil + 1
    return (max(0, -first), max(0, first + rows - extent))


class _Builder:
    """Builds one corelet's operation list (see the module docstring)."""

    def __init__(self, problem: Problem, mapping: Mapping, machine, origin: dict, sizes: dict,
                 queues: tuple[str, str], bias: bool, act: bool, prefetch: int = 0):
        self.p, self.m, self.mc = problem, mapping, machine
        self.lay = layout(problem)
        self.origin, self.sizes = origin, sizes
        self.load_q, self.store_q = queues
        # bias add or copy, then the residual add, then the activation (in place); without
        # either, the activation is applied as ACC is copied out
        residual = bool(problem.params.get("residual"))
        self.sfu_ops = 1 + (1 if residual else 0) + (1 if act and (bias or residual) else 0)
        self.lx = {d: min(mapping.lx.get(d, 1), max(sizes[d], 1)) for d in problem.dims}
        self.l0 = {d: mapping.l0.get(d, 1) for d in problem.dims}
        order = mapping.order if sorted(mapping.order) == sorted(problem.dims) else tuple(problem.dims)
        self.levels = [d for d in order if len(tiles(sizes[d], self.lx[d])) > 1]
        inputs = {op: dims for op, dims in self.lay.operands.items() if op != "bias" or bias}
        self.inputs = inputs
        self.load_level = load_levels(self.levels, inputs)
        self.slots = {op: 2 if mapping.double_buffer and lvl >= 0 else 1 for op, lvl in self.load_level.items()}
        red = [d for d in problem.reduction if d in self.levels]
        self.multi = bool(red)
        # one reduction step, double-buffered: two ACC tiles alternate along the innermost
        # L0 dim with several tiles; a tile's first MPE waits for the epilogue that last
        # read its ACC tile
        self.pingpong = mapping.double_buffer and not self.multi
        self.acc_free: list[int | None] = [None, None]
        self.rotate = rotated_level(self.levels, problem.reduction, self.load_level, mapping.double_buffer,
                                    len(tiles(sizes[self.levels[-1]], self.lx[self.levels[-1]])) if red else 0)
        self.next_step: tuple[int, int] | None = None  # the next LX output tile along the rotated level
        self.prefetched: list[tuple[str, int]] | None = None  # its first reduction step's loads, issued
        self.ops: list[Op] = []
        self.at = {d: (origin[d], tiles(sizes[d], self.lx[d])[0]) for d in problem.dims}  # (abs start, size)
        self.free = {(op, s): None for op in inputs for s in range(2)}
        self.pending_mpe: list[int] = []
        self.pending_sfu: list[int] = []
        self.last_mpe = self.last_sfu = self.last_store = None
        self.red_first = self.red_last = True
        self.prefetch = prefetch  # bytes of the next kernel's weight this corelet loads first

    def add(self, op: Op) -> int:
        op.deps = [d for d in op.deps if d is not None]
        self.ops.append(op)
        return len(self.ops) - 1

    # -- sizes ---------------------------------------------------------------------------

    def load_bytes(self, op: str) -> int:
        dims = self.inputs[op]
        if self.p.kind == "conv2d" and op == "input":
            n = self.at["ic"][1]
            for d in ("oh", "ow"):
                n *= window_rows(self.p, d, *self.at[d])
            return n * 2
        return math.prod(self.at[d][1] if d in self.at else 1 for d in dims) * 2

    def load(self, op: str, index: int) -> int:
        slot = index % self.slots[op]
        lat = self.mc.dram_latency_cycles
        i = self.add(Op(self.load_q, LOAD, lat, self.load_bytes(op), [self.free[(op, slot)]]))
        (self.pending_sfu if op in SFU_OPERANDS else self.pending_mpe).append(i)
        return i

    def _group_loads(self, dim: str, loads: list[str], group, ntiles: int) -> list[list[tuple[str, int]]]:
        """The loads of each step of `group` (queued now; the MPE picks them up when it
        works on the step): a rotated LX output tile's first reduction step takes those
        the previous tile prefetched, and after the last step's loads come the next
        tile's first ones (`rotated_level`)."""
        loaded = []
        for index, start, z in group:
            self.at[dim] = (start, z)
            if index == 0 and self.prefetched is not None and dim in self.p.reduction:
                loaded.append(self.prefetched)
                self.prefetched = None
                continue
            loaded.append([(op, self.load(op, index)) for op in loads])
            for op, j in loaded[-1]:
                (self.pending_sfu if op in SFU_OPERANDS else self.pending_mpe).remove(j)
        if (self.rotate is not None and self.next_step is not None and dim in self.p.reduction
                and group[-1][0] == ntiles - 1):
            outer = self.levels[self.rotate]
            here = self.at[outer]
            self.at[outer], self.at[dim] = self.next_step, (self.origin[dim], min(self.lx[dim], self.sizes[dim]))
            self.prefetched = [(op, self.load(op, 0)) for op in loads]
            for op, j in self.prefetched:
                (self.pending_sfu if op in SFU_OPERANDS else self.pending_mpe).remove(j)
            self.at[outer], self.at[dim] = here, (group[-1][1], group[-1][2])
        return loaded

    # -- the loop nest -------------------------------------------------------------------

    def build(self) -> list[Op]:
        if self.prefetch:  # the next kernel's weight, first on the store queue (`mapping.prefetch`)
            self.add(Op(self.store_q, LOAD, self.mc.dram_latency_cycles, self.prefetch, []))
        resident = lowering_names(self.m) | ({"input"} if self.m.kept_input else set())
        for op, lvl in self.load_level.items():
            if lvl < 0 and op not in resident:  # a resident weight (a kept input) is in LX already
                self.load(op, 0)
        self.level(0)
        return self.ops

    def runs(self, dim: str):
        """Runs of equal code along `dim`: lists of (step index, abs start, size)."""
        sizes = tiles(self.sizes[dim], self.lx[dim])
        out, start = [], self.origin[dim]
        for i, z in enumerate(sizes):
            key: tuple = (z,)
            if dim in self.lay.window and self.p.kind == "conv2d":
                key += _pads_key(self.p, dim, start, z)
            if dim in self.p.reduction and len(sizes) > 1:
                key += (i == 0, i == len(sizes) - 1)
            if out and out[-1][0] == key:
                out[-1][1].append((i, start, z))
            else:
                out.append((key, [(i, start, z)]))
            start += z
        return [steps for _, steps in out]

    def level(self, i: int) -> None:
        if i == len(self.levels):
            self.lx_tile()
            return
        dim = self.levels[i]
        loads = [op for op, lvl in self.load_level.items() if lvl == i]
        per = 2 if any(self.slots[op] == 2 for op in loads) else 1
        ntiles = len(tiles(self.sizes[dim], self.lx[dim]))
        steps = [s for run in self.runs(dim) for s in run]
        for run in self.runs(dim):
            groups = [run[j:j + per] for j in range(0, len(run) // per * per, per)]
            groups += [[s] for s in run[len(run) // per * per:]]
            for group in groups:
                loaded = self._group_loads(dim, loads, group, ntiles)
                for (index, start, z), ld in zip(group, loaded):
                    self.at[dim] = (start, z)
                    if i == self.rotate:
                        self.next_step = steps[index + 1][1:] if index + 1 < len(steps) else None
                    for op, j in ld:
                        (self.pending_sfu if op in SFU_OPERANDS else self.pending_mpe).append(j)
                    if dim in self.p.reduction:
                        self.red_first, self.red_last = index == 0, index == ntiles - 1
                    self.level(i + 1)
                    for op, _ in ld:
                        self.free[(op, index % self.slots[op])] = self.last_sfu if op in SFU_OPERANDS else self.last_mpe

    def lx_tile(self) -> None:
        if self.multi and self.red_first:
            self.pending_mpe.append(self.last_sfu)
        if self.red_last:
            self.pending_sfu.append(self.last_store)
        ranges = [tiles(self.at[d][1], self.l0[d]) for d in self.lay.l0_dims]
        red = self.reduction_tiles()
        for t, slot in _l0_tiles(self.lay.l0_dims, ranges):
            self.tile(t, red, slot)

    def reduction_tiles(self) -> list[int]:
        """The k of each MPE instruction of one L0 output tile."""
        k = tiles(self.at[self.lay.reduction][1], self.l0[self.lay.reduction])
        if self.p.kind == "conv2d" and "kw" in self.m.simd:  # simd(kw,ic): one instruction per kernel row
            return [self.p.dims["kw"] * self.at["ic"][1]] * self.p.dims["kh"]
        if self.p.kind == "conv2d":
            return k * (self.p.dims["kh"] * self.p.dims["kw"])
        return k

    def tile(self, t: dict, red: list[int], slot: int = 0) -> None:
        mc = self.mc
        if self.p.kind == "conv2d":
            m, n = t["oh"] * t["ow"], t["oc"]
        else:
            m, n = t["m"], t["n"]
        for j, k in enumerate(red):
            deps = []
            if j == 0:
                deps, self.pending_mpe = self.pending_mpe, []
                if not self.multi:
                    deps = deps + [self.acc_free[slot] if self.pingpong else self.last_sfu]
            deps.append(self.last_mpe)
            passes = -(-m // mc.mpe_rows) * -(-n // mc.mpe_cols) * -(-k // mc.mpe_simd)
            # the first instruction of a tile also pays the address updates (addi) of the L0 loop
            extra = _TILE_ADDI * mc.scalar_cycles if j == 0 else 0
            self.last_mpe = self.add(Op("mpe", MPE, mc.mpe_fill_drain_cycles + passes + extra, 0, deps))
        if not self.red_last:
            return
        deps, self.pending_sfu = [self.last_mpe, *self.pending_sfu], []
        for _ in range(self.sfu_ops):
            self.last_sfu = self.add(Op("sfu", SFU, mc.sfu_latency_cycles + -(-m * n // mc.sfu_lanes), 0,
                                        deps + [self.last_sfu]))
            deps = []
        self.acc_free[slot] = self.last_sfu
        if not self.m.keep_output:  # a kept output stays in LX for the next kernel
            self.last_store = self.add(Op(self.store_q, STORE, mc.dram_latency_cycles, m * n * 2,
                                          [self.last_sfu]))


class FastBuilder(_Builder):
    """`_Builder` with each L0 tile's MPE instructions as one operation: only the first
    waits for other engines and only the last is waited for (by the next tile, the
    epilogue, the slot's next load), the others follow on the MPE back to back, so one
    operation of their summed cycles times the same (`simulate`'s start, end and busy
    cycles of the MPE are sums of integers). For `predict`'s fast path only."""

    def __init__(self, *args, **kw):
        super().__init__(*args, **kw)
        self._runs: dict[str, list] = {}
        self._shapes: dict[tuple, tuple[list, list[int]]] = {}
        self._mpe_cycles: dict[tuple, int] = {}
        self._bytes: dict[tuple, int] = {}
        self._plans: dict[int, tuple] = {}

    def runs(self, dim: str):
        r = self._runs.get(dim)
        if r is None:
            r = self._runs[dim] = super().runs(dim)
        return r

    def load_bytes(self, op: str) -> int:
        at = self.at
        if op == "input" and self.p.kind == "conv2d":  # the window's position matters
            key = (op, at["ic"][1], at["oh"], at["ow"])
        else:
            key = (op, *(at[d][1] for d in self.inputs[op] if d in at))
        n = self._bytes.get(key)
        if n is None:
            n = self._bytes[key] = super().load_bytes(op)
        return n

    def _plan(self, i: int):
        """Level `i`'s loop, precomputed: its dim, loads, groups of steps, step count."""
        plan = self._plans.get(i)
        if plan is None:
            dim = self.levels[i]
            loads = [op for op, lvl in self.load_level.items() if lvl == i]
            per = 2 if any(self.slots[op] == 2 for op in loads) else 1
            groups = []
            for run in self.runs(dim):
                groups += [run[j:j + per] for j in range(0, len(run) // per * per, per)]
                groups += [[st] for st in run[len(run) // per * per:]]
            plan = self._plans[i] = (dim, loads, groups, len(tiles(self.sizes[dim], self.lx[dim])),
                                     dim in self.p.reduction)
        return plan

    def level(self, i: int) -> None:
        if i == len(self.levels):
            self.lx_tile()
            return
        dim, loads, groups, ntiles, is_red = self._plan(i)
        at, slots, free = self.at, self.slots, self.free
        for group in groups:
            loaded = self._group_loads(dim, loads, group, ntiles)
            for (index, start, z), ld in zip(group, loaded):
                at[dim] = (start, z)
                if i == self.rotate:
                    self.next_step = groups[index + 1][0][1:] if index + 1 < len(groups) else None
                for op, j in ld:
                    (self.pending_sfu if op in SFU_OPERANDS else self.pending_mpe).append(j)
                if is_red:
                    self.red_first, self.red_last = index == 0, index == ntiles - 1
                self.level(i + 1)
                for op, _ in ld:
                    free[(op, index % slots[op])] = self.last_sfu if op in SFU_OPERANDS else self.last_mpe

    def lx_tile(self) -> None:
        if self.multi and self.red_first:
            self.pending_mpe.append(self.last_sfu)
        if self.red_last:
            self.pending_sfu.append(self.last_store)
        key = tuple(self.at[d][1] for d in self.lay.l0_dims) + (self.at[self.lay.reduction][1],)
        got = self._shapes.get(key)
        if got is None:
            ranges = [tiles(self.at[d][1], self.l0[d]) for d in self.lay.l0_dims]
            got = self._shapes[key] = (_l0_tiles(self.lay.l0_dims, ranges), self.reduction_tiles())
        shapes, red = got
        for t, slot in shapes:
            self.tile(t, red, slot)

    def tile(self, t: dict, red: list[int], slot: int = 0) -> None:
        mc = self.mc
        if self.p.kind == "conv2d":
            m, n = t["oh"] * t["ow"], t["oc"]
        else:
            m, n = t["m"], t["n"]
        ck = (m, n, len(red), red[0], red[-1])  # `red`: one reduction size's tiles, repeated
        cycles = self._mpe_cycles.get(ck)
        if cycles is None:
            rc = -(-m // mc.mpe_rows) * -(-n // mc.mpe_cols)
            cycles = sum(mc.mpe_fill_drain_cycles + rc * -(-k // mc.mpe_simd) for k in red)
            cycles = self._mpe_cycles[ck] = cycles + _TILE_ADDI * mc.scalar_cycles
        deps, self.pending_mpe = self.pending_mpe, []
        if not self.multi:
            deps = deps + [self.acc_free[slot] if self.pingpong else self.last_sfu]
        deps.append(self.last_mpe)
        self.last_mpe = self.add(Op("mpe", MPE, cycles, 0, deps))
        if not self.red_last:
            return
        deps, self.pending_sfu = [self.last_mpe, *self.pending_sfu], []
        for _ in range(self.sfu_ops):
            self.last_sfu = self.add(Op("sfu", SFU, mc.sfu_latency_cycles + -(-m * n // mc.sfu_lanes), 0,
                                        deps + [self.last_sfu]))
            deps = []
        self.acc_free[slot] = self.last_sfu
        if not self.m.keep_output:  # a kept output stays in LX for the next kernel
            self.last_store = self.add(Op(self.store_q, STORE, mc.dram_latency_cycles, m * n * 2,
                                          [self.last_sfu]))


def _l0_tiles(dims: tuple[str, ...], ranges: list[list[int]]) -> list[tuple[dict, int]]:
    """(sizes, ACC tile) of an LX tile's L0 tiles in program order, `ranges` the tile
    sizes along each of `dims`; the ACC tile (0 or 1, when two alternate) is the index
    along the innermost dim with several tiles, mod 2 (`mpe_lowering`)."""
    several = [i for i, r in enumerate(ranges) if len(r) > 1]
    return [(dict(zip(dims, shape)), index[several[-1]] % 2 if several else 0)
            for index, shape in zip(itertools.product(*(range(len(r)) for r in ranges)),
                                    itertools.product(*ranges))]


def corelet_work(problem: Problem, mapping: Mapping, machine, origin: dict, sizes: dict, lone: bool,
                 corelet: int, bias: bool = True, act: bool = True, prefetch: int = 0) -> list[Op]:
    """The operations of one corelet, in program order (module docstring); `prefetch`:
    bytes of the next kernel's weight it loads first on its store queue."""
    if lone:
        queues = ("dma0", "dma1" if machine.dma_queues >= 2 else "dma0")
    else:
        queues = (f"dma{corelet}", f"dma{corelet}")
    return _Builder(problem, mapping, machine, origin, sizes, queues, bias, act, prefetch).build()


@dataclass
class Timing:
    """When a corelet's schedule ends and what kept each engine busy (`simulate`)."""

    end: float
    busy: dict[str, float]
    first_mpe: float
    last_mpe_end: float
    dram_bytes: dict[str, int]


# -- the fast path (`predict`): one list per distinct corelet schedule ------------------------

QUEUE_SLOTS = ("Q0", "Q1")
"""Placeholder queue names a shared schedule is built with: its load and store queues
(one name when they are the same queue); `predict` maps them onto the real ones."""


def region_key(problem: Problem, mapping: Mapping, origin: dict, sizes: dict) -> tuple:
    """What of a corelet's region its operation list depends on: its sizes and, for a
    conv, per LX step along `oh`/`ow`, the halo padding and the input rows inside the
    image (the only uses of the origin). Regions with equal keys have equal schedules."""
    key: tuple = tuple(sizes.items())
    if problem.kind == "conv2d":
        for d in CONV.window:
            start, steps = origin[d], []
            for z in tiles(sizes[d], min(mapping.lx.get(d, 1), max(sizes[d], 1))):
                steps.append((z, _pads_key(problem, d, start, z), window_rows(problem, d, start, z)))
                start += z
            key += (tuple(steps),)
    return key
