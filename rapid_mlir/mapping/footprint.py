"""What a mapping asks of the machine's buffers, and whether it fits.

Pure maths on a `Problem` and a `Mapping` (no IR). `footprint` counts the bytes;
`check_fits` compares them with the `Machine` and raises `MappingError` naming the
layer, the buffer, the bytes needed and the bytes available. Both assume the mapping
passed `Mapping.validate(problem)`.

The rules, per buffer (extents absent from `lx(...)` or `l0(...)` count as 1):

- **LX** (per core, shared by the core's corelets). Each operand has one tile per
  corelet of `lx(d)` over the dims indexing it, of the operand's itemsize (f16 = 2 bytes).
  The conv2d input tile is the window its output tile reads, halo included:
  `(th - 1) * stride + (tkh - 1) * dilation + 1` rows for `th = lx(oh)`, `tkh = lx(kh)`
  (likewise columns), with `lx(ic)` channels.
  *Copies*: every corelet that gets work holds its own tiles of every operand (one copy
  per non-empty corelet part), as the lowering allocates them: also the tiles of an
  operand that the corelet split does not index (the input of `corelets(oc=2)`, the
  weights of `corelets(oh=2)`) are loaded by each corelet through its own DMA queue.
  (Sharing them would need the corelets to synchronise on one buffer.)
  *Buffers*: with `double_buffer`, an input tile that changes during the core's loops (a
  dim indexing it takes more than one LX step, `ceil(per-core extent / lx) > 1`) gets two
  buffers, so the next tile loads while this one is used; a tile loaded once gets one.
  The output tile of a conv2d or matmul is one buffer (each L0 tile of it is stored as
  soon as the SFU has written it; only the next LX tile's first epilogue waits for the
  last store).
- **L0 A** (per corelet): `m * k * 2` bytes, **L0 B**: `k * n * 2` bytes, where m, n, k
  are the products of `l0(d)` over the rows, cols and simd dims (one MPE instruction's
  A and B tiles, f16, as `isa_check` counts them).
- **ACC** (per corelet): `m * n * 4` bytes (f32), twice that with `double_buffer` (one
  tile drains while the next accumulates). When a reduction dim takes more than one LX
  step (`lx(ic) < ic`, `lx(k) < K`), the partial sums of the whole LX output tile live
  in ACC across those steps: one `m x n` slot per L0 tile of it, `prod(ceil(lx(d) /
  l0(d)) * l0(d))` over the rows and cols dims, times 4 bytes (not doubled).
- **Vector layers** (kind `vector`, the SFU alone): no L0 or ACC. Every corelet loads its
  own tiles (copies = the corelet parts that get work); `tile` and `window` operands are
  double-buffered when they change, `resident` ones hold the corelet's whole share of
  their dims (one buffer), `temp` ones one tile (one buffer: only the in-order SFU
  touches them). A `window` operand's `oh`, `ow` extents include the halo as for conv2d.
- **Copy layers** (kind `copy`, DMA alone) count as vector layers: their one `tile`
  operand is the LX tile every transfer passes through.
- **Ring reduction** (a matmul whose `k`, or a conv whose `ic`, is split over `P > 1`
  cores, `transforms/ring_reduction.py`; a conv's output is the matrix `M x N` =
  `oc x (oh * ow)`): besides the tiles above, every core holds the partial
  sums of the whole `M x N` output (`partial sums`, f32) and the receive buffer of its
  output block (`ring receive`, `P x block` f32, the block `ceil(E / P)` of the longer
  of `M`, `N` by the other), where `P` counts the cores that get a share of `k` (`ic`).
- **Cores and corelets**: the product of the `cores(...)` parts is at most
  `machine.cores`, that of the `corelets(...)` parts at most `corelets_per_core`.

`Footprint.mpe_utilization_bound` is the fraction of the MPE's rows x cols x SIMD lanes
one tile instruction keeps busy, `m / (ceil(m / rows) * rows)` times the same for n over
cols and k over simd: an upper bound on the MPE efficiency the mapping can reach.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from rapid_mlir.machine import Machine
from rapid_mlir.mapping.mapping import Mapping, MappingError
from rapid_mlir.mapping.problem import COPY, VECTOR, Operand, Problem

_DTYPES = {2: "f16", 4: "f32"}
_WINDOW = {"oh": ("kh", "stride_h", "dil_h"), "ow": ("kw", "stride_w", "dil_w")}


@dataclass(frozen=True)
class TileNeed:
    """One operand's LX tiles in one core."""

    operand: str
    shape: tuple[int, ...]
    """One corelet's tile, over the operand's dims (conv2d input: the window, halo included)."""
    itemsize: int
    """Bytes per element (2 for f16)."""
    copies: int
    """Distinct tiles a core holds: one per corelet working on a different part, else 1."""
    buffers: int
    """2 when double-buffered, else 1."""

    @property
    def bytes(self) -> int:
        """LX bytes of all copies and buffers of the tile."""
        return math.prod(self.shape) * self.itemsize * self.copies * self.buffers

    def describe(self) -> str:
        """`input tile (3x230x230 f16, double-buffered)`: leading extents of 1 dropped."""
        extents = list(self.shape)
        while len(extents) > 1 and extents[0] == 1:
            extents.pop(0)
        dtype = _DTYPES.get(self.itemsize, f"{self.itemsize}-byte")
        text = f"{'x'.join(map(str, extents))} {dtype}"
        if self.copies > 1:
            text += f", one for each of {self.copies} corelets"
        if self.buffers > 1:
            text += ", double-buffered"
        return f"{self.operand} tile ({text})"


@dataclass(frozen=True)
class Footprint:
    """The buffer needs of one layer's mapping (see the module docstring for the rules)."""

    layer: str
    tiles: tuple[TileNeed, ...]
    """The LX tiles of each operand, in the problem's operand order (then the ring
    reduction's buffers, when `k` is split over cores)."""
    lx_bytes: int
    """LX bytes per core: the sum of the tiles' bytes."""
    l0_a_bytes: int
    """L0 A bytes per corelet (one MPE instruction's A tile)."""
    l0_b_bytes: int
    """L0 B bytes per corelet (one MPE instruction's B tile)."""
    acc_bytes: int
    """ACC bytes per corelet (f32, doubled when double-buffered; the whole LX output
    tile when the reduction takes several LX steps)."""
    mpe_m: int
    """Products of the l0 extents over rows, cols and simd: one instruction's m, n, k."""
    mpe_n: int
    mpe_k: int
    mpe_utilization_bound: float
    """Fraction of the MPE's rows x cols x SIMD lanes one tile instruction keeps busy."""
    core_parts: int
    """Product of the `cores(...)` parts."""
    corelet_parts: int
    """Product of the `corelets(...)` parts."""
    acc_tiles: int = 1
    """L0 output tiles whose partial sums ACC holds across LX reduction steps (1 when the
    reduction takes one LX step)."""

    @property
    def lx_operands(self) -> dict[str, int]:
        """LX bytes per core of each operand (all copies and buffers)."""
        return {t.operand: t.bytes for t in self.tiles}

    def tile(self, operand: str) -> TileNeed:
        """The tile of the operand named `operand`."""
        for t in self.tiles:
            if t.operand == operand:
                return t
        raise KeyError(operand)


def footprint(problem: Problem, mapping: Mapping, machine: Machine) -> Footprint:
    """The bytes `mapping` needs in LX, L0 A, L0 B and ACC when running `problem`."""
    tiles = tuple(_tile_need(problem, mapping, op) for op in problem.operands) + _ring_needs(problem, mapping)
    if problem.kind in (VECTOR, COPY):  # the SFU alone, or DMA alone: no MPE tiles, no accumulator
        return Footprint(layer=problem.layer, tiles=tiles, lx_bytes=sum(t.bytes for t in tiles),
                         l0_a_bytes=0, l0_b_bytes=0, acc_bytes=0, mpe_m=0, mpe_n=0, mpe_k=0,
                         mpe_utilization_bound=0.0, core_parts=math.prod(mapping.cores.values()),
                         corelet_parts=math.prod(mapping.corelets.values()))
    m, n, k = (_l0_product(mapping, dims) for dims in (mapping.rows, mapping.cols, mapping.simd))
    utilization = (_fill(m, machine.mpe_rows) * _fill(n, machine.mpe_cols)
                   * _fill(k, machine.mpe_simd))
    acc_tiles = 1
    acc_bytes = m * n * 4 * (2 if mapping.double_buffer else 1)
    if any(_steps(problem, mapping, d) > 1 for d in problem.reduction):
        acc_tiles = math.prod(-(-mapping.lx.get(d, 1) // mapping.l0.get(d, 1))
                              for d in mapping.rows + mapping.cols)
        acc_bytes = acc_tiles * m * n * 4
    return Footprint(
        layer=problem.layer, tiles=tiles, lx_bytes=sum(t.bytes for t in tiles),
        l0_a_bytes=m * k * 2, l0_b_bytes=k * n * 2, acc_bytes=acc_bytes,
        mpe_m=m, mpe_n=n, mpe_k=k, mpe_utilization_bound=utilization,
        core_parts=math.prod(mapping.cores.values()),
        corelet_parts=math.prod(mapping.corelets.values()), acc_tiles=acc_tiles)


def check_fits(problem: Problem, mapping: Mapping, machine: Machine) -> Footprint:
    """The footprint of `mapping`; raises MappingError if it exceeds one of `machine`'s
    buffers or uses more cores or corelets than it has."""
    fp = footprint(problem, mapping, machine)
    where = f"layer '{problem.layer}'"
    if fp.core_parts > machine.cores:
        raise MappingError(f"{where}: cores({_kv(mapping.cores)}) splits the work into "
                           f"{fp.core_parts} parts but machine '{machine.name}' has "
                           f"{machine.cores} cores")
    if fp.corelet_parts > machine.corelets_per_core:
        raise MappingError(f"{where}: corelets({_kv(mapping.corelets)}) splits a core's work "
                           f"into {fp.corelet_parts} parts but a core of machine "
                           f"'{machine.name}' has {machine.corelets_per_core} corelets")
    if fp.corelet_parts > max(1, machine.dma_queues):
        raise MappingError(f"{where}: corelets({_kv(mapping.corelets)}) splits a core's work into "
                           f"{fp.corelet_parts} parts but each corelet needs a DMA queue of its own and "
                           f"machine '{machine.name}' has {machine.dma_queues}")
    rows, cols, simd = (_l0_text(mapping, d) for d in (mapping.rows, mapping.cols, mapping.simd))
    if fp.l0_a_bytes > machine.l0_a_bytes:
        raise MappingError(f"{where}: the MPE A tile ({fp.mpe_m}x{fp.mpe_k} f16: rows {rows} x "
                           f"simd {simd}) needs {fp.l0_a_bytes} bytes of L0 A but L0 A holds "
                           f"{machine.l0_a_bytes} bytes")
    if fp.l0_b_bytes > machine.l0_b_bytes:
        raise MappingError(f"{where}: the MPE B tile ({fp.mpe_k}x{fp.mpe_n} f16: simd {simd} x "
                           f"cols {cols}) needs {fp.l0_b_bytes} bytes of L0 B but L0 B holds "
                           f"{machine.l0_b_bytes} bytes")
    if fp.acc_bytes > machine.acc_bytes and fp.acc_tiles > 1:
        steps = ", ".join(d for d in problem.reduction if _steps(problem, mapping, d) > 1)
        raise MappingError(f"{where}: the partial sums of the LX output tile ({fp.acc_tiles} tiles of "
                           f"{fp.mpe_m}x{fp.mpe_n} f32: lx over rows {_lx_text(mapping, mapping.rows)} x "
                           f"cols {_lx_text(mapping, mapping.cols)}, kept across the LX steps of {steps}) "
                           f"need {fp.acc_bytes} bytes of ACC but ACC holds {machine.acc_bytes} bytes")
    if fp.acc_bytes > machine.acc_bytes:
        buffered = ", double-buffered" if mapping.double_buffer else ""
        raise MappingError(f"{where}: the accumulator tile ({fp.mpe_m}x{fp.mpe_n} f32: rows "
                           f"{rows} x cols {cols}{buffered}) needs {fp.acc_bytes} bytes of ACC "
                           f"but ACC holds {machine.acc_bytes} bytes")
    if fp.lx_bytes > machine.lx_bytes:
        raise MappingError(_lx_message(where, fp, machine))
    if mapping.resident:
        from rapid_mlir.mapping.residency import check_resident

        check_resident(problem, mapping)
    return fp


# Helpers ---------------------------------------------------------------------------------


def _tile_need(problem: Problem, mapping: Mapping, op: Operand) -> TileNeed:
    if problem.kind in (VECTOR, COPY):
        return _vector_tile_need(problem, mapping, op)
    window = problem.kind == "conv2d" and op.name == "input"
    shape = tuple(window_extent(problem, mapping, d) if window and d in _WINDOW
                  else mapping.lx.get(d, 1) for d in op.dims)
    varying = set(op.dims)
    if window:
        varying |= {_WINDOW[d][0] for d in op.dims if d in _WINDOW}
    copies = math.prod(_corelet_parts_used(problem, mapping, d) for d in mapping.corelets)
    changes = any(_steps(problem, mapping, d) > 1 for d in varying)
    # The output tile is one buffer: each L0 tile's epilogue writes its place in it and the
    # store takes it from there, so only the next LX tile's first epilogue waits for a store.
    buffers = 2 if mapping.double_buffer and changes and op.name != "output" else 1
    return TileNeed(op.name, shape, op.itemsize, copies, buffers)


def _ring_needs(problem: Problem, mapping: Mapping) -> tuple[TileNeed, ...]:
    """The ring reduction's f32 buffers (module docstring), none without a core split of
    k (a conv's ic)."""
    if problem.kind == "matmul":
        k, m, n = problem.dims["k"], problem.dims["m"] * problem.dims.get("b", 1), problem.dims["n"]
        parts = mapping.cores.get("k", 1)
    elif problem.kind == "conv2d":
        d = problem.dims
        k, m, n = d["ic"], d["n"] * d["g"] * d["oc"], d["oh"] * d["ow"]
        parts = mapping.cores.get("ic", 1)
    else:
        return ()
    if parts <= 1:
        return ()
    cores = -(-k // -(-k // parts))
    if cores <= 1:
        return ()
    block = -(-max(m, n) // cores)
    shape = (cores, block, n) if m >= n else (cores, m, block)
    return TileNeed("partial sums", (m, n), 4, 1, 1), TileNeed("ring receive", shape, 4, 1, 1)


def _vector_tile_need(problem: Problem, mapping: Mapping, op: Operand) -> TileNeed:
    """A vector layer's operand: every corelet holds its own tiles; resident operands
    hold the corelet's whole share, temps one tile (only the SFU touches them)."""
    if op.role == "resident":
        shape = tuple(mapping.per_corelet_extent(problem, d) for d in op.dims)
    elif op.role == "window":
        shape = tuple(window_extent(problem, mapping, d) if d in _WINDOW else mapping.lx.get(d, 1)
                      for d in op.dims)
    else:
        shape = tuple(mapping.lx.get(d, 1) for d in op.dims)
    copies = math.prod(_corelet_parts_used(problem, mapping, d) for d in mapping.corelets)
    changes = any(_steps(problem, mapping, d) > 1 for d in op.dims)
    streamed = op.role in ("tile", "window")
    buffers = 2 if streamed and mapping.double_buffer and changes else 1
    return TileNeed(op.name, shape, op.itemsize, copies, buffers)


def window_extent(problem: Problem, mapping: Mapping, dim: str) -> int:
    """Input rows (dim oh) or columns (ow) an output tile reads, halo included."""
    kernel, stride, dilation = _WINDOW[dim]
    out_tile, kernel_tile = mapping.lx.get(dim, 1), mapping.lx.get(kernel, 1)
    return ((out_tile - 1) * problem.params.get(stride, 1)
            + (kernel_tile - 1) * problem.params.get(dilation, 1) + 1)


def _steps(problem: Problem, mapping: Mapping, dim: str) -> int:
    """LX tiles a corelet steps through along `dim`."""
    return -(-mapping.per_corelet_extent(problem, dim) // mapping.lx.get(dim, 1))


def _corelet_parts_used(problem: Problem, mapping: Mapping, dim: str) -> int:
    """Corelet parts of `dim` that get work (parts beyond the extent get none)."""
    parts = mapping.corelets.get(dim, 1)
    if parts == 1:
        return 1
    core_extent = -(-problem.dims[dim] // mapping.cores.get(dim, 1))
    size = -(-core_extent // parts)
    return -(-core_extent // size)


def _l0_product(mapping: Mapping, dims: tuple[str, ...]) -> int:
    return math.prod(mapping.l0.get(d, 1) for d in dims)


def _fill(extent: int, lanes: int) -> float:
    """Fraction of `lanes` busy on average when `extent` is processed `lanes` at a time."""
    return extent / (-(-extent // lanes) * lanes)


def _kv(d: dict[str, int]) -> str:
    return ",".join(f"{k}={v}" for k, v in d.items())


def _lx_text(mapping: Mapping, dims: tuple[str, ...]) -> str:
    return "(" + ",".join(f"{d}={mapping.lx.get(d, 1)}" for d in dims) + ")"


def _l0_text(mapping: Mapping, dims: tuple[str, ...]) -> str:
    return "(" + ",".join(f"{d}={mapping.l0.get(d, 1)}" for d in dims) + ")"


def _lx_message(where: str, fp: Footprint, machine: Machine) -> str:
    listing = "; ".join(f"{t.describe()}: {t.bytes}" for t in fp.tiles)
    biggest = max(fp.tiles, key=lambda t: t.bytes)
    if biggest.bytes > machine.lx_bytes:
        return (f"{where}: the {biggest.describe()} needs {biggest.bytes} bytes of LX but LX "
                f"holds {machine.lx_bytes} bytes; the LX total is {fp.lx_bytes} bytes ({listing})")
    return (f"{where}: the tiles need {fp.lx_bytes} bytes of LX but LX holds "
            f"{machine.lx_bytes} bytes ({listing})")
