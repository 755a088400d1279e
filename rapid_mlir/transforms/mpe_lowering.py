"""MPE kernels for `convert-tile-to-mem`: a matrix product or a convolution under its
mapping becomes `rapid_mem` code (docs/lowering.md, section 4, "the general algorithm").

The layer-independent part lives here (`MpePlan`, `MpeEmitter`), with matrix products
(`matmul_kernel`); `conv_lowering.py` adds convolutions. The code is at tile granularity
and every instruction has static sizes:

- **Splits.** `cores(d=P)` gives every core `S = ceil(E / P)` of `d` (the cores with
  work: `ceil(E / S)`), `corelets(e=Q)` a core's share likewise. A core's start along `d`
  is `core * S`: the `core` coefficient of the accesses (SPMD). Cores whose code would
  differ (the last core of an uneven split holds less; along an image's rows, the first
  and last cores' input windows are padded) get their own `rapid_mem.corelet` regions
  (`cores F to L`), so a kernel has one region per corelet for each run of cores with the
  same sizes and padding ("core classes", usually one, at most a few).
- **LX steps.** Per region, the dims of `order(...)` that take more than one LX step are
  loops, outermost first. Steps along a dim are grouped into runs of equal code: the same
  size, the same halo padding of the input window (conv `oh`, `ow`) and, for the
  reduction dim, first (overwrite) / middle / last (epilogue). A run is a
  `rapid_mem.loop`, a run of one step is a peeled step with its own static sizes: a
  ragged last tile, the first and last rows of an image with their DMA pads, the first
  and last LX reduction steps.
- **Loads.** An input operand is loaded at the innermost LX loop over a dim indexing it
  (before the loops when none does). With `double_buffer` such a loop is unrolled by two
  over two LX slots (loads of both slots, then the work on each: the second slot loads
  while the MPE works on the first), an odd step peeled; carried "free" tokens order a
  reload after the last instruction that read the slot (the last MPE, or the last SFU
  for the bias).
- **Reduction across LX steps** (`lx(ic) < ic`, `lx(k) < K`): the accumulator holds every
  L0 tile of the LX output tile (one ACC slot each) across the LX reduction loop; the
  first step overwrites (`mpe` without accumulate), the last one takes each finished
  tile out of ACC (the SFU epilogue) and stores it. With one reduction step the L0
  tiles share one ACC tile, or, with `double_buffer`, two that alternate along the
  innermost L0 dim with several tiles (its loop unrolled by two, an odd tile peeled), so
  that a tile's MPEs do not wait for the previous tile's epilogue, only for the one
  before it (carried "acc free" tokens per slot).
- **Rotation** (`mapping/rotation.py`). With the reduction in an even number of
  double-buffered LX steps, the level just outside it (no operand loading there) is
  rotated: after an LX output tile's last-step loads come the next tile's first-step
  loads (slot 0, free since the step before the last), so they run under the last
  step's MPEs and queue before its stores; the next tile's first step works on them
  (carried tokens "pf" + operand). The first tile's first loads are a prologue; a run of
  more than two steps is a loop of all but its last step, the last step peeled (it
  prefetches the next run's first step, or nothing at the level's end).
- **Kept tensors** (`MpePlan.keep`, `mapping/forwarding.py`): a `keep_output` kernel's
  LX output tile (every corelet's whole share) carries a resident key and is not
  stored (`share_output`: stored as well); a `kept_input` kernel's input tile carries
  the same key and is not loaded.
- **L0 tiles.** Inside an LX tile, loops over the L0 tiles of the output dims (the last,
  ragged tile peeled); per L0 tile one MPE instruction per reduction step (conv: kernel
  offset x `ic` tile, the shifted GEMMs; matmul: `k` tile), unrolled in the loop body;
  then the SFU epilogue (ACC -> LX f16, bias, fused activation: `Epilogue`) into the
  tile's place in the LX output tile (one buffer for the whole LX tile, so an epilogue
  does not wait for the previous tile's store; only the next LX tile's first one waits
  for the last store) and the store of the tile.
- **Loop depth.** When the nest would be deeper than the machine's `loop_depth`, the
  levels with the fewest iterations are unrolled (each step emitted with static offsets).

A matmul's `k` or a conv's `ic` split over cores is combined over the ring
(`ring_reduction.py`: each region's L0 tiles leave ACC as f32 partial sums,
`MpeEmitter.partial_sums`).

Limits (reported with "not lowered yet"): splits of a reduction dim over corelets, or of
a conv's `kh`/`kw` over cores, splits of more than one dim per level, tiling `kh`/`kw`
in LX, `lx(n)` or `lx(g)` above 1, and a reduction dim outside a non-reduction loop in
`order(...)`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from xdsl.dialects.builtin import (
    ArrayAttr,
    FloatAttr,
    IntegerAttr,
    StringAttr,
    UnitAttr,
    f16,
    f32,
    i64,
)
from xdsl.ir import Block, Region, SSAValue

from rapid_mlir.dialects import rapid_mem as M
from rapid_mlir.mapping.mapping import Mapping
from rapid_mlir.mapping.rotation import load_levels, rotated_level
from rapid_mlir.transforms.convert_tile_to_mem import TileLoweringError
from rapid_mlir.transforms.sfu_layers import F32_MAX


def fail(layer: str, msg: str):
    raise TileLoweringError(f"layer '{layer}': {msg}")




@dataclass(frozen=True)
class Epilogue:
    """The activation the SFU applies to a finished output tile as it leaves ACC (after the
    bias, and after the `residual` tensor is added when the kernel fuses a residual add):
    none (`copy`), `relu`, or `clip` to the immediates `imms` = (lo, hi)."""

    kind: str = "copy"
    imms: tuple[float, ...] = ()
    residual: bool = False

    @staticmethod
    def clamp(lo: float | None, hi: float | None, residual: bool = False) -> Epilogue:
        """The epilogue clamping to [lo, hi] (None: unbounded): `sfu.relu` for [0, inf),
        else `sfu.clip` (an absent bound is the largest finite fp32 value)."""
        if lo is None and hi is None:
            return Epilogue(residual=residual)
        if lo == 0.0 and hi is None:
            return Epilogue("relu", residual=residual)
        return Epilogue("clip", (-F32_MAX if lo is None else lo, F32_MAX if hi is None else hi), residual)

    @property
    def activates(self) -> bool:
        return self.kind != "copy"

    def emit(self, block: Block, operands, accesses, after) -> SSAValue:
        """The epilogue's SFU instruction from `operands[1]` to `operands[0]`."""
        return MpeEmitter._sfu(block, self.kind, operands, accesses, after, self.imms)


# ---------------------------------------------------------------------------
# Affine element offsets
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Aff:
    """`const + core * c + sum(coef * i)` over the core index c and enclosing loops i."""

    const: int = 0
    core: int = 0
    loops: tuple[tuple[str, int], ...] = ()

    def __add__(self, other: Aff | int) -> Aff:
        other = other if isinstance(other, Aff) else Aff(other)
        loops = dict(self.loops)
        for label, coef in other.loops:
            loops[label] = loops.get(label, 0) + coef
        return Aff(self.const + other.const, self.core + other.core,
                   tuple((k, v) for k, v in loops.items() if v))

    __radd__ = __add__

    def __mul__(self, k: int) -> Aff:
        return Aff(self.const * k, self.core * k, tuple((l, c * k) for l, c in self.loops if c * k))

    __rmul__ = __mul__


def access(dims, offset: Aff | int = 0, pads=None) -> M.AccessAttr:
    """The rapid_mem access of `dims` ((size, stride) pairs) at an affine offset."""
    offset = offset if isinstance(offset, Aff) else Aff(offset)
    pads = pads if pads is not None and any(p != (0, 0) for p in pads) else None
    return M.AccessAttr(dims, offset.const, offset.core, dict(offset.loops), pads)


# ---------------------------------------------------------------------------
# The plan: splits, core classes, LX steps
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Window:
    """An output dim read through a window of the input (conv `oh` with `kh`, `ow` with `kw`)."""

    extent: int     # input rows (columns)
    stride: int
    dilation: int
    kernel: int     # kernel rows (columns), whole in LX
    pad: int        # padding before the first input row

    def rows(self, size: int) -> int:
        """Input rows (halo included) of `size` output rows."""
        return (size - 1) * self.stride + (self.kernel - 1) * self.dilation + 1

    def pads(self, start: int, size: int) -> tuple[int, int]:
        """Padding rows (before, after) of the window of output rows [start, start + size)."""
        first, rows = start * self.stride - self.pad, self.rows(size)
        lo = min(rows, max(0, -first))
        hi = min(rows - lo, max(0, first + rows - self.extent))
        return lo, hi


@dataclass(frozen=True)
class Step:
    """One LX step along a dim of a region: its offset from the region's start, its size,
    the padding of its input window, and what else makes its code differ (`key`)."""

    offset: int
    size: int
    pads: tuple[int, int] = (0, 0)
    key: tuple = ()


@dataclass
class Run:
    """Consecutive steps with the same code: a loop (count > 1) or a peeled step."""

    first: int      # index of the first step
    count: int
    offset: int     # of the first step
    size: int
    pads: tuple[int, int]
    key: tuple


@dataclass
class RegionPlan:
    """The work of one corelet on a run of cores: per dim its start (affine in the core
    index) and extent, and its LX steps."""

    corelet: int
    cores: tuple[int, int]          # first and last core (inclusive)
    start: dict[str, Aff]
    size: dict[str, int]
    steps: dict[str, list[Step]]
    queue: int = 0
    store_queue: int = 0


class MpePlan:
    """A layer's loop nest under its mapping, resolved into regions (core classes x
    corelets) with their LX steps. `dims` are the extents in the problem's order,
    `operands` the input operands with the dims indexing them (for the level of their
    loads), `windows` the output dims read through an input window."""

    def __init__(self, layer: str, mapping: Mapping, dims: dict[str, int], reduction: tuple[str, ...],
                 operands: dict[str, tuple[str, ...]], windows: dict[str, Window], machine,
                 rows: tuple[str, ...], cols: tuple[str, ...], simd: tuple[str, ...] | list[tuple[str, ...]],
                 ring: tuple[str, ...] = ()):
        self.layer, self.mapping, self.dims, self.reduction = layer, mapping, dims, reduction
        self.ring = ring  # reduction dims whose core split the caller combines (ring_reduction.py)
        self.operands, self.windows, self.machine = operands, windows, machine
        simds = simd if isinstance(simd, list) else [simd]  # the SIMD assignments the caller lowers
        if (mapping.rows, mapping.cols) != (rows, cols) or mapping.simd not in simds:
            fail(layer, f"only rows({','.join(rows)}) cols({','.join(cols)}) "
                        f"{' or '.join('simd(' + ','.join(s_) + ')' for s_ in simds)} mappings are lowered yet")
        self.core_dim, self.core_parts = self._split(mapping.cores, "cores")
        self.corelet_dim, self.corelet_parts = self._split(mapping.corelets, "corelets")
        self.lx = {d: mapping.lx.get(d, 1) for d in dims}
        self.l0 = {d: mapping.l0.get(d, 1) for d in dims}
        self.order = tuple(mapping.order) if sorted(mapping.order) == sorted(dims) else tuple(dims)
        self.double_buffer = mapping.double_buffer
        self.resident: dict[str, tuple[str, bool]] = {}
        """Operand -> (key, loads it): a weight kept in LX across kernels (`keep_resident`)."""
        self.kept: dict[str, str] = {}
        """"output" or the MPE's first input -> key: a tensor kept in LX from this kernel
        for the next one, or found there (`keep`)."""
        self.kept_stored = False
        """A kept output is stored to DRAM as well (other layers read it)."""
        self._check_order()
        self.regions = self._regions()
        self.cores = max(r.cores[1] for r in self.regions) + 1
        self.corelets = max(r.corelet for r in self.regions) + 1
        if self.corelets > 1 and machine.dma_queues < self.corelets:
            fail(layer, f"{self.corelets} corelets need one DMA queue each but the machine has "
                        f"{machine.dma_queues}")
        for region in self.regions:
            lone = sum(1 for r in self.regions if r.cores == region.cores) == 1
            region.queue = 0 if lone else region.corelet
            region.store_queue = 1 if lone and machine.dma_queues >= 2 else region.queue

    def keep_resident(self, operand: str, key: str, load: bool) -> MpePlan:
        """Keeps `operand` (loaded once per corelet) in LX under `key` across the kernels
        that share it (`mapping/residency.py`): this kernel loads it when `load`, else
        finds it where an earlier kernel with the same key left it."""
        if operand not in self.operands:
            fail(self.layer, f"resident: the layer has no operand {operand}")
        self.resident[operand] = (key, load)
        return self

    def keep(self, operand: str, key: str, stored: bool = False) -> MpePlan:
        """Keeps the output (`operand` "output": every corelet's whole share; not stored
        unless `stored`) in LX under `key` for the next kernel, or finds the input operand
        there (`mapping/forwarding.py`); one buffer per corelet, at one offset on every core."""
        self.kept[operand] = key
        self.kept_stored = self.kept_stored or (operand == "output" and stored)
        return self

    def _split(self, split: dict[str, int], clause: str) -> tuple[str | None, int]:
        parts = {d: p for d, p in split.items() if p > 1}
        if len(parts) > 1:
            fail(self.layer, f"{clause}({', '.join(f'{d}={p}' for d, p in parts.items())}) splits more than "
                             "one dim; splitting several dims over the same level is not lowered yet")
        dim, count = next(iter(parts.items()), (None, 1))
        if dim in self.reduction and not (dim in self.ring and clause == "cores"):
            fail(self.layer, f"{clause}({dim}={count}) splits a reduction dim; combining partial sums "
                             "across cores or corelets (a ring reduction) is not lowered yet")
        return dim, count

    def _check_order(self) -> None:
        stepped = [d for d in self.reduction if self.lx[d] < self.dims[d]]
        outer = [d for d in self.order if d not in self.reduction]
        for d in stepped:
            late = [o for o in outer if self.order.index(o) > self.order.index(d)]
            if late:
                fail(self.layer, f"order(...) puts the reduction dim {d} (lx({d}={self.lx[d]}) < {self.dims[d]}) "
                                 f"outside {late[0]}; partial sums of several output tiles across LX "
                                 "reduction steps are not lowered yet")

    # -- regions ----------------------------------------------------------------------

    def _shares(self, extent: int, parts: int) -> list[tuple[int, int]]:
        """(start, size) of the non-empty parts of `extent` split into `parts`."""
        size = -(-extent // parts)
        return [(s, min(size, extent - s)) for s in range(0, extent, size)]

    def _regions(self) -> list[RegionPlan]:
        core_shares = self._shares(self.dims[self.core_dim], self.core_parts) if self.core_dim else [(0, 0)]
        step = core_shares[1][0] if len(core_shares) > 1 else 0
        per_core = []
        for start, size in core_shares:
            extent = dict(self.dims)
            origin = dict.fromkeys(self.dims, 0)
            if self.core_dim:
                extent[self.core_dim], origin[self.core_dim] = size, start
            corelets = []
            if self.corelet_dim:
                for j, (s, z) in enumerate(self._shares(extent[self.corelet_dim], self.corelet_parts)):
                    corelets.append((j, s, z))
            else:
                corelets.append((0, 0, 0))
            shapes = []
            for j, s, z in corelets:
                sizes, offsets = dict(extent), dict.fromkeys(self.dims, 0)
                if self.corelet_dim:
                    sizes[self.corelet_dim], offsets[self.corelet_dim] = z, s
                absolute = {d: origin[d] + offsets[d] for d in self.dims}
                steps = {d: self._steps(d, absolute[d], sizes[d]) for d in self.dims}
                shapes.append((j, offsets, sizes, steps))
            per_core.append(shapes)
        # Runs of cores with the same code ("core classes").
        regions: list[RegionPlan] = []
        first = 0
        for c in range(1, len(per_core) + 1):
            if c < len(per_core) and _signature(per_core[c]) == _signature(per_core[first]):
                continue
            for j, offsets, sizes, steps in per_core[first]:
                start = {d: Aff(offsets[d], step if d == self.core_dim else 0) for d in self.dims}
                regions.append(RegionPlan(j, (first, c - 1), start, sizes, steps))
            first = c
        return regions

    def _steps(self, dim: str, start: int, size: int) -> list[Step]:
        """The LX steps of [start, start + size) along `dim` (absolute start: for padding)."""
        tile = min(self.lx[dim], size)
        steps = []
        count = -(-size // tile)
        for i in range(count):
            offset = i * tile
            z = min(tile, size - offset)
            pads = self.windows[dim].pads(start + offset, z) if dim in self.windows else (0, 0)
            key: tuple = ()
            if dim in self.reduction and count > 1:
                key = (i == 0, i == count - 1)
            if dim in self.windows and sum(pads) == self.windows[dim].rows(z):
                key = ("all padding", i)  # never in a loop: its (unused) source offset is static
            steps.append(Step(offset, z, pads, key))
        return steps


def _signature(shapes) -> tuple:
    return tuple((j, tuple(sorted(sizes.items())),
                  tuple((d, tuple((s.offset, s.size, s.pads, s.key) for s in steps[d])) for d in sorted(steps)))
                 for j, _, sizes, steps in shapes)


def runs(steps: list[Step]) -> list[Run]:
    """Consecutive steps with equal size, padding and key, equally spaced."""
    out: list[Run] = []
    for i, s in enumerate(steps):
        last = out[-1] if out else None
        if last is not None and (s.size, s.pads, s.key) == (last.size, last.pads, last.key):
            last.count += 1
        else:
            out.append(Run(i, 1, s.offset, s.size, s.pads, s.key))
    return out


# ---------------------------------------------------------------------------
# The emitter
# ---------------------------------------------------------------------------


@dataclass
class Pos:
    """The current tile along a dim: its start (affine), size and input-window padding."""

    start: Aff
    size: int
    pads: tuple[int, int] = (0, 0)


class MpeEmitter:
    """Builds one region's code (see the module docstring). Subclasses give the layer's
    operands, layouts and accesses:

    - `MPE_A`, `MPE_B`: the operands the MPE reads; `BIAS`: the bias operand's name,
      `RESIDUAL` the fused residual add's (its LX tile has the output tile's layout);
      `L0_DIMS`: the output dims tiled by L0 loops, outermost first;
    - `lx_shape(op)`: an operand's LX buffer for the full tiles `self.tile`;
    - `load(op)`: (DRAM source access, LX destination access) at the positions `self.at`;
    - `reduction_steps()`: the MPE instructions of one L0 tile, as opaque steps;
    - `mpe_accesses(step, acc_offset)`: (c, a, b) at the L0 positions `self.at0`;
    - `acc_tile()`: the ACC tile shape (one L0 tile); `out_tile()`: the LX output tile
      shape (the whole LX tile of the output, f16, each L0 tile at its place);
    - `epilogue_accesses(acc_offset)`: (LX dst, ACC src, bias) and `store_access()`:
      (DRAM dst, LX src) of the current L0 tile.
    """

    MPE_A = "a"
    MPE_B = "b"
    BIAS = "bias"
    RESIDUAL = "residual"
    SFU_INPUTS = (BIAS, RESIDUAL)
    """The operands the epilogue reads (the SFU), not the MPE."""
    L0_DIMS: tuple[str, ...] = ()

    def __init__(self, plan: MpePlan, region: RegionPlan, dram: dict[str, SSAValue], output: SSAValue,
                 block: Block, epilogue: Epilogue):
        self.p, self.r, self.block, self.epilogue = plan, region, block, epilogue
        self.dram, self.output = dram, output
        self.part: SSAValue | None = None  # set: partial sums go to this f32 LX buffer (ring_reduction.py)
        self.inputs = [op for op in plan.operands if op in dram]
        self.tile = {d: min(plan.lx[d], region.size[d]) for d in plan.dims}
        self.t0 = {d: min(plan.l0[d], self.tile[d]) for d in plan.dims}
        self.levels = [d for d in plan.order if len(region.steps[d]) > 1]
        self.runs = {d: runs(region.steps[d]) for d in self.levels}
        red = [d for d in self.levels if d in plan.reduction]
        self.red_dim = red[0] if red else None
        self.multi = self.red_dim is not None  # partial sums across LX steps
        self.load_level = load_levels(self.levels, {op: plan.operands[op] for op in self.inputs})
        self.slots = {op: 2 if plan.double_buffer and self.load_level[op] >= 0 else 1 for op in self.inputs}
        self.rotate = self._rotated()
        self.next_pos: Pos | None = None  # the next LX output tile along the rotated level
        self.at: dict[str, Pos] = {}
        for d in plan.dims:
            s = region.steps[d][0]
            self.at[d] = Pos(region.start[d] + s.offset, s.size, s.pads)
        self.at0: dict[str, tuple[Aff, int]] = {}
        self.red_first = self.red_last = True
        self.pending_mpe: list[SSAValue] = []
        self.pending_sfu: list[SSAValue] = []
        # one reduction step, double-buffered: two ACC tiles alternate (module docstring)
        self.pingpong = plan.double_buffer and not self.multi and any(
            self.tile[d] > self.t0[d] for d in self.L0_DIMS)  # else one L0 tile per LX tile: one ACC tile
        self.acc_slot, self.pp_dim = 0, None
        self.keys = self._keys()
        self.unrolled = self._unrolled()

    def partial_sums(self, part: SSAValue) -> MpeEmitter:
        """For a ring reduction (`ring_reduction.py`): each finished L0 tile's partial sums
        go in f32 to their place in `part` (the whole output), with no bias, activation or
        store (the owner of the output block applies those after combining)."""
        self.part = part
        self.inputs = [op for op in self.inputs if op != self.BIAS]
        self.rotate = self._rotated()
        self.keys = self._keys()
        return self

    def _rotated(self) -> int | None:
        """The level whose LX output tiles are rotated (`mapping/rotation.py`), or None."""
        steps = len(self.r.steps[self.red_dim]) if self.multi else 0
        return rotated_level(self.levels, self.p.reduction, {op: self.load_level[op] for op in self.inputs},
                             self.p.double_buffer, steps)

    def _keys(self) -> list[str]:
        """The tokens the loops carry: each LX slot's "free", the last MPE, the last SFU
        ("acc"), the last store ("out"), with `pingpong` each ACC tile's "free", and with a
        rotation the next tile's first loads ("pf" + operand)."""
        return ([f"{op}{s}" for op in self.inputs for s in range(self.slots[op])] + ["mpe", "acc", "out"]
                + (["acc0", "acc1"] if self.pingpong else [])
                + ([f"pf{op}" for op in self._red_loads()] if self.rotate is not None else []))

    def _red_loads(self) -> list[str]:
        """The operands loaded at every LX reduction step."""
        return [op for op in self.inputs if self.load_level[op] == len(self.levels) - 1] if self.multi else []

    # -- structure ----------------------------------------------------------------------

    def _iterations(self, level: str) -> int:
        """The most iterations a loop of this level runs (1: no hardware loop)."""
        if level in self.runs:
            i = self.levels.index(level)
            if i == self.rotate:  # a loop of all but the last step of a run (`_rotated_level`)
                return max(r.count - 1 if r.count > 2 else 1 for r in self.runs[level])
            per = self._per(i)
            return max(r.count // per for r in self.runs[level])
        dim = level[:-1]
        pairs = dim == self._pingpong_dim(self.tile)  # a loop of pairs (two ACC tiles)
        return self.tile[dim] // self.t0[dim] // (2 if pairs else 1)

    def _pingpong_dim(self, sizes: dict[str, int]) -> str | None:
        """With `pingpong`, the L0 dim the two ACC tiles alternate along in an LX tile of
        `sizes`: the innermost with several L0 tiles (None: one L0 tile, one ACC tile)."""
        several = [d for d in self.L0_DIMS if -(-sizes[d] // self.t0[d]) > 1]
        return several[-1] if self.pingpong and several else None

    def _unrolled(self) -> set[str]:
        """Levels unrolled so that the loops nest at most `loop_depth` deep: those with
        the fewest iterations."""
        levels = self.levels + [f"{d}i" for d in self.L0_DIMS]
        looping = sorted((lv for lv in levels if self._iterations(lv) > 1), key=self._iterations)
        excess = len(looping) - self.p.machine.loop_depth
        return set(looping[:max(0, excess)])

    def _per(self, i: int) -> int:
        """Steps per loop iteration at level i: 2 when a double-buffered operand loads there."""
        return 2 if any(self.slots[op] == 2 and self.load_level[op] == i for op in self.inputs) else 1

    def add(self, block: Block, op):
        block.add_op(op)
        return op

    def alloc(self, shape, elem, space) -> SSAValue:
        return self.add(self.block, M.AllocOp.build(result_types=[M.BufferType(tuple(shape), elem, space)])).buffer

    def emit(self) -> None:
        self.lx = {op: [self.alloc(self.lx_shape(op), f16, M.MemSpace.LX) for _ in range(self.slots[op])]
                   for op in self.inputs}
        self.lx_out = self.part if self.part is not None else self.alloc(self.out_tile(), f16, M.MemSpace.LX)
        tile = self.acc_tile()
        self.acc_slots = math.prod(-(-self.tile[d] // self.t0[d]) for d in self.L0_DIMS) if self.multi else 1
        if self.pingpong:
            self.acc_slots = 2
        self.acc = self.alloc(((self.acc_slots,) if self.acc_slots > 1 or self.multi else ()) + tuple(tile),
                              f32, M.MemSpace.ACC)
        self.acc_elems = math.prod(tile)
        ready = self.add(self.block, M.ReadyOp.build(result_types=[M.TokenType()])).token
        st = dict.fromkeys(self.keys, ready)
        self.cur: dict[str, tuple[int, SSAValue]] = {}
        for op, (key, _) in self.p.resident.items():
            if op not in self.inputs or self.load_level[op] >= 0:
                fail(self.p.layer, f"resident: operand {op} is not loaded once by every corelet (an LX "
                                   "loop steps through it), so it cannot stay in LX across kernels")
            self.lx[op][0].owner.resident = StringAttr(f"{key}/corelet{self.r.corelet}/cores"
                                                       f"{self.r.cores[0]}-{self.r.cores[1]}")
        self._kept()
        for op in [o for o in self.inputs if self.load_level[o] < 0]:  # loaded once
            if (op in self.p.resident and not self.p.resident[op][1]) or op in self.p.kept:
                self.cur[op] = (0, ready)  # an earlier kernel left it in LX
                continue
            token = self._dma(self.block, self.lx[op][0], *self._load_pair(op), [])
            self.cur[op] = (0, token)
            (self.pending_sfu if op in self.SFU_INPUTS else self.pending_mpe).append(token)
        self._level(self.block, 0, st)

    def _kept(self) -> None:
        """Marks the buffers of tensors kept in LX between kernels (`MpePlan.keep`)."""
        for op, key in self.p.kept.items():
            if op == "output":
                stepped = [d for d in self.levels if d not in self.p.reduction]
                if stepped or self.part is not None:
                    fail(self.p.layer, "keep_output: a corelet's share of the output takes several LX tiles "
                                       f"(along {', '.join(stepped) or 'the ring'}), so it cannot stay in LX")
                buffer = self.lx_out
            else:
                if op not in self.inputs or self.load_level[op] >= 0:
                    fail(self.p.layer, f"kept_input: a corelet's share of {op} takes several LX tiles, so it "
                                       "cannot be the tile the kernel before kept")
                buffer = self.lx[op][0]
            buffer.owner.resident = StringAttr(f"{key}/corelet{self.r.corelet}")

    def _loop(self, block: Block, label: str, count: int, st: dict) -> tuple[M.LoopOp, Block, dict]:
        body = Block(arg_types=[M.TokenType()] * len(self.keys))
        loop = M.LoopOp.build(operands=[[st[k] for k in self.keys]],
                              result_types=[[M.TokenType()] * len(self.keys)],
                              properties={"label": StringAttr(label), "count": IntegerAttr(count, i64)},
                              regions=[Region(body)])
        block.add_op(loop)
        return loop, body, dict(zip(self.keys, body.args))

    def _close(self, loop: M.LoopOp, body: Block, st: dict) -> dict:
        """Ends the loop body with `next` of the state; the state after the loop. A token
        the body hands on unchanged stays the loop's initial value (not its result), so
        that loops around this one hand it on unchanged too."""
        body.add_op(M.NextOp.build(operands=[[st[k] for k in self.keys]]))
        return {k: init if st[k] is arg else out
                for k, init, arg, out in zip(self.keys, loop.inits, body.args, loop.outs)}

    # -- LX levels ----------------------------------------------------------------------

    def _level(self, block: Block, i: int, st: dict) -> dict:
        if i == len(self.levels):
            return self._lx_tile(block, st)
        if i == self.rotate:
            return self._rotated_level(block, i, st)
        dim, per = self.levels[i], self._per(i)
        tile = self.tile[dim]
        start = self.r.start[dim]
        for run in self.runs[dim]:
            if run.count == 1 or dim in self.unrolled:
                for j in range(run.count):
                    pos = Pos(start + (run.offset + j * tile), run.size, run.pads)
                    st = self._steps(block, i, [(pos, run.first + j)], run, st)
                continue
            pairs = run.count // per
            loop, body, bst = self._loop(block, dim, pairs, st)
            step = Aff(loops=((dim, per * tile),))
            group = [(Pos(start + (run.offset + s * tile) + step, run.size, run.pads), run.first + s)
                     for s in range(per)]
            st = self._close(loop, body, self._steps(body, i, group, run, bst))
            for j in range(pairs * per, run.count):
                pos = Pos(start + (run.offset + j * tile), run.size, run.pads)
                st = self._steps(block, i, [(pos, run.first + j)], run, st)
        return st

    def _rotated_level(self, block: Block, i: int, st: dict) -> dict:
        """The rotated level (`mapping/rotation.py`): each LX output tile's last reduction
        step is preceded by the loads of the next tile's first one (`next_pos`), the
        first tile's by a prologue. A run of more than two steps is a loop of all but its
        last step (whose next tile is the loop's next iteration), then the last step
        peeled (its next tile is the next run's first step, or none)."""
        dim, tile, start = self.levels[i], self.tile[self.levels[i]], self.r.start[self.levels[i]]
        all_runs = self.runs[dim]
        for r, run in enumerate(all_runs):
            def pos(j: int, run: Run = run) -> Pos:
                return Pos(start + (run.offset + j * tile), run.size, run.pads)

            if r == 0:  # the prologue: the first tile's first loads
                self.at[dim] = pos(0)
                st = self._prefetch(block, st)
            following = None
            if r + 1 < len(all_runs):
                nxt = all_runs[r + 1]
                following = Pos(start + nxt.offset, nxt.size, nxt.pads)
            peeled = range(run.count)
            if run.count > 2 and dim not in self.unrolled:
                loop, body, bst = self._loop(block, dim, run.count - 1, st)
                here = pos(0)
                here = Pos(here.start + Aff(loops=((dim, tile),)), here.size, here.pads)
                self.next_pos = Pos(here.start + tile, here.size, here.pads)
                st = self._close(loop, body, self._steps(body, i, [(here, run.first)], run, bst))
                peeled = range(run.count - 1, run.count)
            for j in peeled:
                self.next_pos = pos(j + 1) if j + 1 < run.count else following
                st = self._steps(block, i, [(pos(j), run.first + j)], run, st)
        self.next_pos = None
        return st

    def _prefetch(self, block: Block, st: dict) -> dict:
        """The loads of the first reduction step of the LX output tile at the current
        positions (slot 0, after the MPE that last read it), as tokens "pf" + operand."""
        st = dict(st)
        here = self.at[self.red_dim]
        first = self.r.steps[self.red_dim][0]
        self.at[self.red_dim] = Pos(self.r.start[self.red_dim] + first.offset, first.size, first.pads)
        waited: set[SSAValue] = set()
        for op in self._red_loads():
            free = st[f"{op}0"]
            st[f"pf{op}"] = self._dma(block, self.lx[op][0], *self._load_pair(op), [] if free in waited else [free])
            waited.add(free)
        self.at[self.red_dim] = here
        return st

    def _steps(self, block: Block, i: int, group, run: Run, st: dict) -> dict:
        """Loads of every step of `group` (one or two), then the work of each; with a
        rotation, the first reduction step's loads are the prefetched ones and the next
        tile's come after the last step's."""
        dim = self.levels[i]
        loads = [op for op in self.inputs if self.load_level[op] == i]
        tokens = []
        waited: set[SSAValue] = set()  # the queue is in order: one wait per "free" token suffices
        rotated = self.rotate is not None and dim == self.red_dim
        for pos, index in group:
            self.at[dim] = pos
            loaded = {}
            if rotated and index == 0:
                tokens.append({op: st[f"pf{op}"] for op in loads})
                continue
            for op in loads:
                free = st[f"{op}{index % self.slots[op]}"]
                loaded[op] = self._dma(block, self.lx[op][index % self.slots[op]], *self._load_pair(op),
                                       [] if free in waited else [free])
                waited.add(free)
            tokens.append(loaded)
        if rotated and group[-1][1] == len(self.r.steps[dim]) - 1 and self.next_pos is not None:
            outer = self.levels[self.rotate]
            here = self.at[outer]
            self.at[outer] = self.next_pos
            st = self._prefetch(block, st)
            self.at[outer] = here
        for (pos, index), loaded in zip(group, tokens):
            self.at[dim] = pos
            if dim == self.red_dim:
                self.red_first, self.red_last = run.key
            for op, token in loaded.items():
                self.cur[op] = (index % self.slots[op], token)
                (self.pending_sfu if op in self.SFU_INPUTS else self.pending_mpe).append(token)
            st = self._level(block, i + 1, st)
            for op in loads:
                st[f"{op}{index % self.slots[op]}"] = st["acc" if op in self.SFU_INPUTS else "mpe"]
        return st

    def _load_pair(self, op: str):
        """(LX destination access, DRAM buffer, DRAM source access) of `op`'s current tile."""
        src, dst = self.load(op)
        return dst, self.dram[op], src

    # -- L0 tiles -----------------------------------------------------------------------

    def _lx_tile(self, block: Block, st: dict) -> dict:
        """One LX tile: its L0 tiles. Each L0 tile has its own place in the LX output tile,
        so only the first epilogue of an LX tile waits for a store (the previous LX tile's
        last one)."""
        if self.multi and self.red_first:
            self.pending_mpe.append(st["acc"])  # every ACC slot drained (the last SFU of the previous tile)
        if self.red_last:
            self.pending_sfu.append(st["out"])
        self.pp_dim = self._pingpong_dim({d: self.at[d].size for d in self.L0_DIMS})
        self.acc_slot = 0
        return self._l0(block, 0, st)

    def _l0(self, block: Block, j: int, st: dict) -> dict:
        if j == len(self.L0_DIMS):
            return self._tile(block, st)
        dim = self.L0_DIMS[j]
        label, t0 = f"{dim}i", self.t0[dim]
        full, rest = divmod(self.at[dim].size, t0)
        per = 2 if dim == self.pp_dim else 1  # tiles per iteration: one per ACC tile
        done = 0
        if full // per > 1 and label not in self.unrolled:
            loop, body, bst = self._loop(block, label, full // per, st)
            for s in range(per):
                self.at0[dim] = (Aff(loops=((label, per),)) + s, t0)
                self._alternate(dim, s)
                bst = self._l0(body, j + 1, bst)
            st = self._close(loop, body, bst)
            done = full // per * per
        for index in range(done, full):
            self.at0[dim] = (Aff(index), t0)
            self._alternate(dim, index)
            st = self._l0(block, j + 1, st)
        if rest:
            self.at0[dim] = (Aff(full), rest)
            self._alternate(dim, full)
            st = self._l0(block, j + 1, st)
        return st

    def _alternate(self, dim: str, index: int) -> None:
        """The L0 tile at `index` along `dim` uses ACC tile `index % 2` when the two
        alternate along `dim`."""
        if dim == self.pp_dim:
            self.acc_slot = index % 2

    def rel(self, dim: str) -> Aff:
        """The current L0 tile's start within the LX tile along `dim`."""
        return self.at0[dim][0] * self.t0[dim]

    def _acc_offset(self) -> Aff:
        if self.pingpong:
            return Aff(self.acc_slot * self.acc_elems)
        if not self.multi:
            return Aff()
        index = Aff()
        for d in self.L0_DIMS:
            index = index * -(-self.tile[d] // self.t0[d]) + self.at0[d][0]
        return index * self.acc_elems

    def _tile(self, block: Block, st: dict) -> dict:
        """One L0 output tile: its MPE instructions, then (last reduction step) the epilogue."""
        st = dict(st)
        acc_offset = self._acc_offset()
        a, b = self.lx[self.MPE_A][self.cur[self.MPE_A][0]], self.lx[self.MPE_B][self.cur[self.MPE_B][0]]
        for n, step in enumerate(self.reduction_steps()):
            after = []
            if n == 0:
                after, self.pending_mpe = self.pending_mpe, []
                if self.pingpong:
                    after.append(st[f"acc{self.acc_slot}"])  # the last tile that used this ACC tile has left it
                elif not self.multi:
                    after.append(st["acc"])  # the previous tile has left the accumulator
                after = _latest(after)
            c_acc, a_acc, b_acc = self.mpe_accesses(step, acc_offset)
            props = {"c_access": c_acc, "a_access": a_acc, "b_access": b_acc}
            if n or not self.red_first:
                props["accumulate"] = UnitAttr()
            op = self.add(block, M.MpeOp.build(operands=[self.acc, a, b, after], result_types=[M.TokenType()],
                                               properties=props))
            st["mpe"] = op.token
        if not self.red_last:
            return st
        dst, src, bias = self.epilogue_accesses(acc_offset)
        after, self.pending_sfu = [st["mpe"], *self.pending_sfu], []
        if self.part is not None:  # a partial sum: to its place in the whole output, in f32, no store
            st["acc"] = self._sfu(block, "copy", [self.part, self.acc], [self.store_access()[0], src], after)
            if self.pingpong:
                st[f"acc{self.acc_slot}"] = st["acc"]
            return st
        st["acc"] = self._epilogue(block, dst, src, bias, after)
        if self.pingpong:
            st[f"acc{self.acc_slot}"] = st["acc"]
        if "output" in self.p.kept and not self.p.kept_stored:  # it stays in LX for the next kernel
            return st
        out_dst, out_src = self.store_access()
        st["out"] = self._dma(block, self.output, out_dst, self.lx_out, out_src, [st["acc"]],
                              queue=self.r.store_queue)
        return st

    def _epilogue(self, block: Block, dst, src, bias, after) -> SSAValue:
        """ACC -> LX output tile: a copy or the fused activation (relu, clip), or the bias
        added (broadcast by `bias`'s zero strides), then with a fused residual add the
        residual tile added (it has the output tile's layout: `dst`), and then the
        activation in place."""
        residual = self.RESIDUAL in self.cur
        if self.BIAS not in self.cur and not residual:
            return self.epilogue.emit(block, [self.lx_out, self.acc], [dst, src], after)
        if self.BIAS in self.cur:
            lx_bias = self.lx[self.BIAS][self.cur[self.BIAS][0]]
            token = self._sfu(block, "add", [self.lx_out, self.acc, lx_bias], [dst, src, bias], after)
        else:
            token = self._sfu(block, "copy", [self.lx_out, self.acc], [dst, src], after)
        if residual:
            lx_res = self.lx[self.RESIDUAL][self.cur[self.RESIDUAL][0]]
            token = self._sfu(block, "add", [self.lx_out, self.lx_out, lx_res], [dst, dst, dst], [token])
        if self.epilogue.activates:
            token = self.epilogue.emit(block, [self.lx_out, self.lx_out], [dst, dst], [token])
        return token

    @staticmethod
    def _sfu(block: Block, kind: str, operands, accesses, after, imms=()) -> SSAValue:
        op = M.SfuOp.build(operands=[operands, after], result_types=[M.TokenType()],
                           properties={"kind": StringAttr(kind), "access_list": ArrayAttr(accesses),
                                       "imms": ArrayAttr([FloatAttr(float(v), f32) for v in imms])})
        block.add_op(op)
        return op.token

    def _dma(self, block: Block, dst, dst_access, src, src_access, after, queue: int | None = None) -> SSAValue:
        op = M.DmaOp.build(operands=[dst, src, [a for a in after if a is not None]], result_types=[M.TokenType()],
                           properties={"queue": IntegerAttr(self.r.queue if queue is None else queue, i64),
                                       "dst_access": dst_access, "src_access": src_access})
        block.add_op(op)
        return op.token

    # -- hooks --------------------------------------------------------------------------

    def lx_shape(self, op: str) -> tuple[int, ...]:
        raise NotImplementedError

    def load(self, op: str):
        raise NotImplementedError

    def reduction_steps(self) -> list:
        raise NotImplementedError

    def mpe_accesses(self, step, acc_offset: Aff):
        raise NotImplementedError

    def acc_tile(self) -> tuple[int, ...]:
        raise NotImplementedError

    def out_tile(self) -> tuple[int, ...]:
        raise NotImplementedError

    def epilogue_accesses(self, acc_offset: Aff):
        raise NotImplementedError

    def store_access(self):
        raise NotImplementedError


def _latest(tokens: list[SSAValue]) -> list[SSAValue]:
    """The tokens to wait for: a DMA queue runs in order, so of the transfers listed on one
    queue (in program order) the last implies the others; `ready` needs no wait."""
    last: dict[int, SSAValue] = {}
    out = []
    for t in tokens:
        if isinstance(t.owner, M.ReadyOp):
            continue
        if isinstance(t.owner, M.DmaOp):
            last[t.owner.queue.value.data] = t
        else:
            out.append(t)
    return out + list(last.values())


def resident_loads(plan: MpePlan, make, buffers: list[SSAValue], operand: str) -> list[tuple]:
    """Per region of the plan, the load of `operand` (loaded once): (region, LX buffer
    shape, LX destination access, DRAM source access). A kernel that prefetches the next
    kernel's resident weight issues these (`convert_tile_to_mem`)."""
    out = []
    for region in plan.regions:
        emitter = make(region, Block(), buffers)
        if emitter.load_level.get(operand, 0) >= 0:
            fail(plan.layer, f"prefetch: operand {operand} is not loaded once by every corelet")
        src, dst = emitter.load(operand)
        out.append((region, emitter.lx_shape(operand), dst, src))
    return out


def build_kernel(plan: MpePlan, make: Callable[[RegionPlan, Block], MpeEmitter], buffers: list[SSAValue]
                 ) -> M.KernelOp:
    """The rapid_mem kernel: one `rapid_mem.corelet` region per region of the plan (with
    its core range when it does not run on every core)."""
    body = Block(arg_types=[b.type for b in buffers])
    for region in plan.regions:
        block = Block()
        make(region, block, body.args).emit()
        props = {"index": IntegerAttr(region.corelet, i64)}
        if region.cores != (0, plan.cores - 1):
            props |= {"first_core": IntegerAttr(region.cores[0], i64), "last_core": IntegerAttr(region.cores[1], i64)}
        body.add_op(M.CoreletOp.build(properties=props, regions=[Region(block)]))
    return M.KernelOp.build(operands=[buffers],
                            properties={"layer": StringAttr(plan.layer), "cores": IntegerAttr(plan.cores, i64),
                                        "corelets": IntegerAttr(plan.corelets, i64)},
                            regions=[Region(body)])


# ---------------------------------------------------------------------------
# Matrix products
# ---------------------------------------------------------------------------


class MatmulEmitter(MpeEmitter):
    """`C[m, n] = A[m, k] B[k, n]` (+ bias[n]); B is `[n][k]` with `trans_b` (a dense
    layer's weight, read through a transposed view of its LX tile)."""

    L0_DIMS = ("m", "n")

    def __init__(self, *args, trans_b: bool = False, shape=(1, 1, 1)):
        super().__init__(*args)
        self.trans_b = trans_b
        self.M, self.N, self.K = shape

    def lx_shape(self, op: str) -> tuple[int, ...]:
        t = self.tile
        return {"a": (t["m"], t["k"]), "b": (t["n"], t["k"]) if self.trans_b else (t["k"], t["n"]),
                "bias": (t["n"],)}[op]

    def load(self, op: str):
        at, t = self.at, self.tile
        m, n, k = at["m"], at["n"], at["k"]
        if op == "a":
            return access(((m.size, self.K), (k.size, 1)), m.start * self.K + k.start), \
                access(((m.size, t["k"]), (k.size, 1)))
        if op == "bias":
            return access(((n.size, 1),), n.start), access(((n.size, 1),))
        if self.trans_b:
            return access(((n.size, self.K), (k.size, 1)), n.start * self.K + k.start), \
                access(((n.size, t["k"]), (k.size, 1)))
        return access(((k.size, self.N), (n.size, 1)), k.start * self.N + n.start), \
            access(((k.size, t["n"]), (n.size, 1)))

    def reduction_steps(self) -> list:
        size, tk = self.at["k"].size, self.t0["k"]
        return [(k0, min(tk, size - k0)) for k0 in range(0, size, tk)]

    def mpe_accesses(self, step, acc_offset: Aff):
        (k0, tk), t = step, self.tile
        (_, tm), (_, tn) = self.at0["m"], self.at0["n"]
        m0, n0 = self.rel("m"), self.rel("n")
        a = access(((1, 0), (tm, t["k"]), (tk, 1)), m0 * t["k"] + k0)
        if self.trans_b:
            b = access(((tk, 1), (tn, t["k"])), n0 * t["k"] + k0)
        else:
            b = access(((tk, t["n"]), (tn, 1)), k0 * t["n"] + n0)
        c = access(((1, 0), (tm, self.t0["n"]), (tn, 1)), acc_offset)
        return c, a, b

    def acc_tile(self) -> tuple[int, ...]:
        return self.t0["m"], self.t0["n"]

    def out_tile(self) -> tuple[int, ...]:
        return self.tile["m"], self.tile["n"]

    def epilogue_accesses(self, acc_offset: Aff):
        (_, tm), (_, tn) = self.at0["m"], self.at0["n"]
        out = access(((tm, self.tile["n"]), (tn, 1)), self.rel("m") * self.tile["n"] + self.rel("n"))
        src = access(((tm, self.t0["n"]), (tn, 1)), acc_offset)
        return out, src, access(((tm, 0), (tn, 1)), self.rel("n"))

    def store_access(self):
        (_, tm), (_, tn) = self.at0["m"], self.at0["n"]
        m0, n0 = self.rel("m"), self.rel("n")
        return (access(((tm, self.N), (tn, 1)), (self.at["m"].start + m0) * self.N + self.at["n"].start + n0),
                access(((tm, self.tile["n"]), (tn, 1)), m0 * self.tile["n"] + n0))


def matmul_kernel(layer: str, mapping: Mapping, mnk, buffers: list[SSAValue], machine, epilogue: Epilogue,
                  trans_b: bool = False, resident: tuple[str, bool] | None = None, plan_only: bool = False):
    """The rapid_mem kernel of a matrix product on DRAM buffers (a, b[, bias], c);
    `resident` = (key, loads it) keeps b in LX across kernels (`MpePlan.keep_resident`).
    `plan_only`: (plan, make), for `resident_loads`, instead of the kernel."""
    m, n, k = mnk
    operands = {"a": ("m", "k"), "b": ("k", "n"), "bias": ("n",)}
    plan = MpePlan(layer, mapping, {"b": 1, "m": m, "n": n, "k": k}, ("k",), operands, {}, machine,
                   ("m",), ("n",), ("k",), ring=("k",))
    if resident is not None:
        plan.keep_resident("b", *resident)
    names = ["a", "b", "bias"][:len(buffers) - 1]

    def make(region, block, args):
        return MatmulEmitter(plan, region, dict(zip(names, args)), args[-1], block, epilogue,
                             trans_b=trans_b, shape=(m, n, k))

    if plan_only:
        return plan, make
    if plan.core_dim == "k" and plan.cores > 1:
        from rapid_mlir.transforms.ring_reduction import ring_kernel

        return ring_kernel(plan, make, buffers, (m, n), "bias" in names, epilogue)
    return build_kernel(plan, make, buffers)
