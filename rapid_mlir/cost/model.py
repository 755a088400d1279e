"""`predict`: the cycles of one mapped conv2d or matmul layer, and why.

Pure maths on plain dataclasses (`Problem`, `Mapping`, `Machine`; no IR). Per corelet
of every core, `schedule.corelet_work` lists what the lowering emits and
`schedule.run_schedule` times it as a double-buffered pipeline (docs/costmodel.md);
the layer ends when its slowest corelet does.

DRAM bandwidth is shared by every DMA queue of the chip that transfers at the same
time (the emulator's processor sharing). A queue q that keeps its transfers' bytes in
flight a fraction u_q of the layer sees, on average, `1 + sum(u_o, o != q)` transfers
at once, so its bytes move at `rate / share_q`; the shares and the schedule are solved
together by a few fixed-point rounds (starting from the queue alone). Queues of
different cores run the same code at about the same time, which this independence
assumption slightly underestimates, and bounds it: the chip can not move more than
`rate` bytes per cycle, so the layer takes at least `bytes / rate` cycles.

A conv's `ic` or a matmul's `k` split over cores (a ring reduction) adds the ring
phase of `ring_reduction.py`: each core's partial sums go in f32 over the ring (shared
`ring_bytes_per_cycle`), the owners add them on the SFU and store their block.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from rapid_mlir.cost.schedule import (
    QUEUE_SLOTS,
    Compiled,
    FastBuilder,
    corelet_regions,
    corelet_work,
    region_key,
    run_schedule,
    time_compiled,
)
from rapid_mlir.machine import Machine
from rapid_mlir.mapping.mapping import Mapping
from rapid_mlir.mapping.problem import Problem

MPE_KINDS = ("conv2d", "matmul")
_ROUNDS = 4


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
    queue sharing run equal schedules: each distinct one is built and compiled once, and
    timed once per distinct pair of queue rates; the shared-DRAM fixed point is the same
    arithmetic as `_predict_reference` (the plain per-corelet path, kept for the tests),
    with bit-identical results."""
    if _reference:
        return _predict_reference(problem, mapping, machine, bias, act, prefetch_bytes)
    if problem.kind not in MPE_KINDS:
        raise ValueError(f"layer '{problem.layer}': predict models conv2d and matmul, not {problem.kind}")
    regions = corelet_regions(problem, mapping)
    ring_dims = [d for d in problem.reduction if mapping.cores.get(d, 1) > 1]
    per_core: dict[int, int] = {}
    for c, _, _, _ in regions:
        per_core[c] = per_core.get(c, 0) + 1
    sync = machine.scalar_cycles
    built: dict[tuple, Compiled] = {}
    works = []  # (core, compiled, placeholder -> real queue)
    for c, j, origin, sizes in regions:
        if per_core[c] == 1:
            queues = ("dma0", "dma1" if machine.dma_queues >= 2 else "dma0")
        else:
            queues = (f"dma{j}", f"dma{j}")
        shared = queues[0] == queues[1]
        prefetch = prefetch_bytes if j == 0 else 0
        key = (region_key(problem, mapping, origin, sizes), shared, prefetch)
        w = built.get(key)
        if w is None:
            slots = (QUEUE_SLOTS[0], QUEUE_SLOTS[0]) if shared else QUEUE_SLOTS
            ops = FastBuilder(problem, mapping, machine, origin, sizes, slots, bias and not ring_dims, act,
                              prefetch).build()
            if ring_dims:  # partial sums leave ACC by one SFU copy each, with no store
                ops = _partial_sums_only(ops)
            w = built[key] = Compiled(ops, sync)
        works.append((c, w, dict(zip(QUEUE_SLOTS, queues))))
    rate = machine.dram_bytes_per_cycle
    share: dict[tuple[int, str], float] = {}
    timed: dict[tuple, object] = {}
    for _ in range(_ROUNDS):
        timings = []
        for c, w, names in works:
            rates = {q: rate / share.get((c, e), 1.0) for q, e in names.items()}
            tkey = (id(w), tuple(rates.items()), tuple(names.items()))
            t = timed.get(tkey)
            if t is None:
                t = timed[tkey] = time_compiled(w, rates, names)
            timings.append(t)
        makespan = max(t.end for t in timings) or 1.0
        duty: dict[tuple[int, str], float] = {}
        role: dict[tuple[int, str], frozenset] = {}
        for c, w, names in works:
            for q in w.duty_order:
                k = (c, names.get(q, q))
                terms = np.asarray(w.duty_bytes[q], dtype=np.float64) / rate / makespan
                acc = duty.get(k, 0.0)
                if k in duty:
                    terms = np.concatenate(([acc], terms))
                duty[k] = float(np.cumsum(terms)[-1])
                role[k] = role.get(k, frozenset()) | w.duty_kinds[q]
        before, share = share, {k: 1.0 + sum(_overlap(duty[k], duty[o], role[k] == role[o]) for o in duty if o != k)
                                for k in duty}
        if share == before:  # a fixed point: the remaining rounds would repeat this one
            break
    return _finish(problem, mapping, machine, bias, act, ring_dims, timings)


def _predict_reference(problem: Problem, mapping: Mapping, machine: Machine, bias: bool = True,
                       act: bool = True, prefetch_bytes: int = 0) -> Prediction:
    """`predict` the plain way: every corelet's schedule built and timed on its own."""
    if problem.kind not in MPE_KINDS:
        raise ValueError(f"layer '{problem.layer}': predict models conv2d and matmul, not {problem.kind}")
    regions = corelet_regions(problem, mapping)
    ring_dims = [d for d in problem.reduction if mapping.cores.get(d, 1) > 1]
    per_core: dict[int, int] = {}
    for c, _, _, _ in regions:
        per_core[c] = per_core.get(c, 0) + 1
    works = []
    for c, j, origin, sizes in regions:
        ops = corelet_work(problem, mapping, machine, origin, sizes, per_core[c] == 1, j,
                           bias and not ring_dims, act, prefetch_bytes if j == 0 else 0)
        if ring_dims:  # partial sums leave ACC by one SFU copy each, with no store
            ops = _partial_sums_only(ops)
        works.append((c, ops))
    rate = machine.dram_bytes_per_cycle
    share: dict[tuple[int, str], float] = {}
    for _ in range(_ROUNDS):
        timings = [run_schedule(ops, {e: rate / share.get((c, e), 1.0) for e in ("dma0", "dma1", "dma2", "dma3",
                                                                                  "dma4", "dma5", "dma6", "dma7")},
                                machine.scalar_cycles) for c, ops in works]
        makespan = max(t.end for t in timings) or 1.0
        duty: dict[tuple[int, str], float] = {}
        role: dict[tuple[int, str], frozenset] = {}
        for (c, ops), t in zip(works, timings):
            for op in ops:
                if op.nbytes:
                    key = (c, op.engine)
                    duty[key] = duty.get(key, 0.0) + op.nbytes / rate / makespan
                    role[key] = role.get(key, frozenset()) | {op.kind}
        share = {k: 1.0 + sum(_overlap(duty[k], duty[o], role[k] == role[o]) for o in duty if o != k)
                 for k in duty}
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


def _overlap(mine: float, other: float, same_role: bool) -> float:
    """The fraction of a queue's transfer time during which another queue transfers too:
    queues of the same role (loads, stores) on other corelets run the same code at the
    same time, so their transfers coincide as far as their duties allow; others are
    independent (the other's duty)."""
    mine, other = min(1.0, mine), min(1.0, other)
    if same_role:
        return min(1.0, other / mine) if mine > 0 else 0.0
    return other


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
    """(ring bytes, cycles, stored bytes) of the reduce-scatter and the owners' epilogue."""
    d = problem.dims
    parts = math.prod(mapping.cores.values())
    m, n = (d["m"], d["n"]) if problem.kind == "matmul" else (d["oc"], d["oh"] * d["ow"])
    longer = max(m, n)
    block = -(-longer // parts)
    owners = -(-longer // block)
    block_elems = block * min(m, n)
    ring_bytes = owners * owners * block_elems * 4
    hops = max(1, machine.cores // 4)
    ring = hops * machine.ring_hop_cycles + math.ceil(ring_bytes / machine.ring_bytes_per_cycle)
    sfu_one = machine.sfu_latency_cycles + math.ceil(block_elems / machine.sfu_lanes)
    sfu = (owners - 1 + 1 + (1 if bias and act else 0)) * sfu_one
    stores = owners * block_elems * 2
    store = machine.dram_latency_cycles + math.ceil(stores / machine.dram_bytes_per_cycle)
    return ring_bytes, ring + sfu + store + 4 * machine.scalar_cycles, stores
