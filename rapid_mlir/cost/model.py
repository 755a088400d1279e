"""`predict`: the cycles of one mapped conv2d or matmul layer, and why.

Pure maths on plain dataclasses (`Problem`, `Mapping`, `Machine`; no IR). Per corelet
of every core, `schedule.corelet_work` lists what the lowering emits (loads, MPE
instructions, epilogues, stores, with the tokens they wait for), and
`simulate.simulate` times all the corelets' lists together as the emulator runs them: a
double-buffered pipeline per corelet with its fill and drain (docs/costmodel.md), every
DMA transfer's bytes moving through the one DRAM bandwidth server of the chip, shared
equally at every moment by the transfers in flight. The layer ends when its slowest
corelet does, and takes at least its DRAM bytes at the chip's bandwidth.

A conv's `ic` or a matmul's `k` split over cores (a ring reduction) adds the ring
phase of `ring_reduction.py`: each core's partial sums go in f32 over the ring (shared
`ring_bytes_per_cycle`), the owners add them on the SFU and store their block.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, replace

from rapid_mlir.cost.schedule import QUEUE_SLOTS, FastBuilder, Op, corelet_regions, corelet_work, region_key
from rapid_mlir.cost.simulate import simulate
from rapid_mlir.machine import Machine
from rapid_mlir.mapping.mapping import Mapping
from rapid_mlir.mapping.problem import Problem

MPE_KINDS = ("conv2d", "matmul")


@dataclass(frozen=True)
class Prediction:
    """The predicted cycles of one layer and their breakdown (slowest corelet's engines)."""

    cycles: int
    """Predicted cycles of the layer, start to end."""
    mpe_cycles: int
    """Busy cycles of the busiest MPE (fill/drain included)."""
    sfu_cycles: int
    """Busy cycles of the busiest SFU."""
    dram_to_lx_bytes: int
    """Bytes loaded from DRAM by all cores."""
    lx_to_dram_bytes: int
    """Bytes stored to DRAM by all cores."""
    ring_bytes: int
    """Bytes over the ring (split reductions)."""
    dram_cycles: int
    """All DRAM bytes at the chip's bandwidth: a lower bound of the layer."""
    fill_cycles: int
    """From the start to the slowest corelet's first MPE instruction (its first loads)."""
    drain_cycles: int
    """From the slowest corelet's last MPE instruction to its end (epilogue, stores)."""
    bound: str
    """What bounds the layer: "mpe", "dram", "dma-latency" or "sfu"."""


def predict(problem: Problem, mapping: Mapping, machine: Machine, bias: bool = True,
            act: bool = True, _reference: bool = False, prefetch_bytes: int = 0) -> Prediction:
    """The predicted cycles of `problem` under `mapping` on `machine`: a conv2d or matmul
    (the MPE's layers); `bias` and `act` say whether the epilogue adds a bias and then
    applies an activation (two SFU instructions per output tile) or does one of them;
    `prefetch_bytes`: each core's corelet 0 also loads that many bytes of the next
    kernel's weight, first on its store queue (a `prefetch` mapping, `residency.py`).

    Corelets whose regions have equal sizes and padding (`schedule.region_key`) and equal
    queue sharing run equal schedules: each distinct one is built once and simulated
    once, standing for all its corelets (`simulate`'s `copies`). `_reference=True` builds
    every corelet's plain list (one operation per MPE instruction) and simulates them all
    one by one, for the tests: the results are bit-identical."""
    if problem.kind not in MPE_KINDS:
        raise ValueError(f"layer '{problem.layer}': predict models conv2d and matmul, not {problem.kind}")
    regions = corelet_regions(problem, mapping)
    ring_dims = [d for d in problem.reduction if mapping.cores.get(d, 1) > 1]
    per_core: dict[int, int] = {}
    for c, _, _, _ in regions:
        per_core[c] = per_core.get(c, 0) + 1
    lists: dict[tuple, list[Op]] = {}  # distinct schedule -> its operations
    placed = []  # (schedule key, placeholder -> real queue) per corelet
    for c, j, origin, sizes in regions:
        if per_core[c] == 1:
            queues = ("dma0", "dma1" if machine.dma_queues >= 2 else "dma0")
        else:
            queues = (f"dma{j}", f"dma{j}")
        shared = queues[0] == queues[1]
        prefetch = prefetch_bytes if j == 0 else 0
        key = (c, j) if _reference else (region_key(problem, mapping, origin, sizes), shared, prefetch)
        if key not in lists:
            if _reference:
                ops = corelet_work(problem, mapping, machine, origin, sizes, per_core[c] == 1, j,
                                   bias and not ring_dims, act, prefetch)
            else:
                slots = (QUEUE_SLOTS[0], QUEUE_SLOTS[0]) if shared else QUEUE_SLOTS
                ops = FastBuilder(problem, mapping, machine, origin, sizes, slots, bias and not ring_dims, act,
                                  prefetch).build()
            if ring_dims:  # partial sums leave ACC by one SFU copy each, with no store
                ops = _partial_sums_only(ops)
            lists[key] = ops
        placed.append((key, dict(zip(QUEUE_SLOTS, queues))))
    copies = Counter(key for key, _ in placed)
    once = dict(zip(lists, simulate(list(lists.values()), machine.dram_bytes_per_cycle, machine.scalar_cycles,
                                    [copies[k] for k in lists])))
    timings = [replace(once[key], busy={names.get(e, e): v for e, v in once[key].busy.items()})
               for key, names in placed]
    return _finish(problem, mapping, machine, bias, act, ring_dims, timings)


def _finish(problem: Problem, mapping: Mapping, machine: Machine, bias: bool, act: bool, ring_dims: list,
            timings: list) -> Prediction:
    """The prediction from the corelets' final timings (and the ring phase)."""
    rate = machine.dram_bytes_per_cycle
    slowest = max(range(len(timings)), key=lambda i: timings[i].end)
    t = timings[slowest]
    loads = sum(t.dram_bytes["load"] for t in timings)
    stores = sum(t.dram_bytes["store"] for t in timings)
    ring_bytes = ring_cycles = 0
    if ring_dims:
        ring_bytes, ring_cycles, stores = _ring_phase(problem, mapping, machine, bias, act)
    dram_cycles = math.ceil((loads + stores) / rate)
    cycles = max(t.end, dram_cycles) + ring_cycles + 2 * machine.scalar_cycles
    mpe = max(t.busy.get("mpe", 0.0) for t in timings)
    sfu = max(t.busy.get("sfu", 0.0) for t in timings)
    bound = _bound(t, mpe, sfu, dram_cycles, cycles)
    return Prediction(cycles=int(math.ceil(cycles)), mpe_cycles=int(mpe), sfu_cycles=int(sfu),
                      dram_to_lx_bytes=loads, lx_to_dram_bytes=stores, ring_bytes=ring_bytes,
                      dram_cycles=dram_cycles, fill_cycles=int(t.first_mpe),
                      drain_cycles=int(max(0.0, t.end - t.last_mpe_end)), bound=bound)


def _bound(t, mpe: float, sfu: float, dram_cycles: int, cycles: float) -> str:
    """The resource closest to the layer's cycles."""
    dma = max((v for e, v in t.busy.items() if e.startswith("dma")), default=0.0)
    if mpe >= max(dma, sfu, dram_cycles):
        return "mpe"
    if sfu >= max(dma, dram_cycles):
        return "sfu"
    return "dram" if dram_cycles >= 0.5 * dma else "dma-latency"


def _partial_sums_only(ops):
    """A ring reduction's first phase: the epilogue is one f32 copy, nothing is stored."""
    out, index = [], {}
    for i, op in enumerate(ops):
        if op.kind == "store" or (op.kind == "sfu" and op.deps == []):
            continue
        index[i] = len(out)
        op.deps = [index[d] for d in op.deps if d in index]
        out.append(op)
    return out


def _ring_phase(problem: Problem, mapping: Mapping, machine: Machine, bias: bool, act: bool):
    """(ring bytes, cycles, stored bytes) of the reduce-scatter and the owners' epilogue
    (`ring_reduction.py`): after a barrier every core sends its blocks over the ring; after
    another, each owner adds its `parts` slots (`parts - 1` SFU adds) while it loads its
    block's bias, then runs the epilogue and stores its block."""
    d = problem.dims
    parts = math.prod(mapping.cores.values())
    m, n = (d["m"], d["n"]) if problem.kind == "matmul" else (d["oc"], d["oh"] * d["ow"])
    d_of = {"m": m, "n": n}
    longer = max(m, n)
    block = -(-longer // parts)
    owners = -(-longer // block)
    block_elems = block * min(m, n)
    ring_bytes = owners * owners * block_elems * 4
    hops = max(1, machine.cores // 4)
    sync, rate = machine.scalar_cycles, machine.dram_bytes_per_cycle
    ring = hops * machine.ring_hop_cycles + math.ceil(ring_bytes / machine.ring_bytes_per_cycle)
    sfu_one = machine.sfu_latency_cycles + math.ceil(block_elems / machine.sfu_lanes)
    adds = (parts - 1) * sfu_one
    if bias:  # one value per column (matmul) or per row (conv): the block's share if the cut is along it
        along = "n" if problem.kind == "matmul" else "m"
        cut = "m" if m >= n else "n"  # `ring_reduction.owner_blocks`
        values = block if along == cut else d_of[along]
        adds = max(adds, machine.dram_latency_cycles + math.ceil(owners * values * 2 / rate) + sync)
    epilogue = (2 if bias and act else 1) * sfu_one
    stores = owners * block_elems * 2
    store = machine.dram_latency_cycles + math.ceil(stores / rate)
    return ring_bytes, ring + adds + sync + epilogue + sync + store + 4 * sync, stores
