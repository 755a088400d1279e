"""Per-layer figures from an emulator trace: where the cycles of a network went.

Every instruction the compiler emits carries the name of the `nn` op it came from
(its origin), and the Chrome trace keeps it in each event's args, with the cycle it
started, its duration, and for MPE instructions the MACs it did. `layer_profile`
groups the executed instructions by origin:

- `start`, `end`: the first cycle any instruction of the layer started and the last
  cycle one ended, on any core; `cycles = end - start` (layers run one after the other,
  so these spans tile the run; instructions without an origin, such as the joins
  between layers, are left out).
- `macs`: multiply-accumulates done by the layer's MPE instructions;
  `mpe_utilization = macs / (cycles * machine.peak_macs_per_cycle)`.
- `mpe_busy`, `sfu_busy`, `dma_busy`: busy cycles of each engine kind, summed over all
  cores and corelets, divided by `cycles` times the number of such engines: the
  fraction of the span the engines were working.
- `dram_bytes`, `ring_bytes`: bytes the layer's DMA transfers moved to or from DRAM, and
  from one core's LX to another's over the ring (the trace's `bytes` of each transfer).
- `bound`: "compute" when the MPEs were busier than the DMA queues during the span,
  else "memory" (a layer with no MPE work is "sfu" when its SFUs were busier than its
  DMA queues).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class LayerProfile:
    """The figures of one layer (see the module docstring)."""

    layer: str
    start: int
    end: int
    macs: int = 0
    mpe_cycles: int = 0
    sfu_cycles: int = 0
    dma_cycles: int = 0
    instructions: int = 0
    mpe_utilization: float = 0.0
    mpe_busy: float = 0.0
    sfu_busy: float = 0.0
    dma_busy: float = 0.0
    dram_bytes: int = 0
    ring_bytes: int = 0

    @property
    def cycles(self) -> int:
        return self.end - self.start

    @property
    def bound(self) -> str:
        if self.mpe_cycles == 0:
            return "sfu" if self.sfu_busy > self.dma_busy else "memory"
        return "compute" if self.mpe_busy >= self.dma_busy else "memory"


def layer_profile(trace_events: list[dict], machine) -> list[LayerProfile]:
    """One `LayerProfile` per origin found in `trace_events`, in order of first start."""
    rows: dict[str, LayerProfile] = {}
    for e in trace_events:
        if e.get("cat") != "instruction":
            continue
        args = e["args"]
        origin = args.get("origin")
        if origin is None:
            continue
        start, dur = args["start_cycle"], args["cycles"]
        row = rows.get(origin)
        if row is None:
            row = rows[origin] = LayerProfile(origin, start, start + dur)
        row.start = min(row.start, start)
        row.end = max(row.end, start + dur)
        row.instructions += 1
        name = e["name"]
        if name.startswith("mpe."):
            row.mpe_cycles += dur
            row.macs += args.get("macs", 0)
        elif name.startswith("sfu."):
            row.sfu_cycles += dur
        elif name.startswith("dma."):
            row.dma_cycles += dur
            if args.get("over") == "ring":
                row.ring_bytes += args.get("bytes", 0)
            else:
                row.dram_bytes += args.get("bytes", 0)
    engines = machine.cores * machine.corelets_per_core
    queues = machine.cores * machine.dma_queues
    for row in rows.values():
        span = max(row.cycles, 1)
        row.mpe_utilization = row.macs / (span * machine.peak_macs_per_cycle)
        row.mpe_busy = row.mpe_cycles / (span * engines)
        row.sfu_busy = row.sfu_cycles / (span * engines)
        row.dma_busy = row.dma_cycles / (span * queues)
    return sorted(rows.values(), key=lambda r: (r.start, r.layer))


def format_profile(rows: list[LayerProfile], total_cycles: int) -> str:
    """The profile as a text table, one line per layer."""
    lines = [f"{'layer':<28} {'cycles':>10} {'share':>6} {'MACs':>12} {'MPE util':>8} {'MPE busy':>8} "
             f"{'DMA busy':>8}  bound"]
    for r in rows:
        share = r.cycles / total_cycles if total_cycles else 0.0
        lines.append(f"{r.layer[:28]:<28} {r.cycles:>10,} {share:>6.1%} {r.macs:>12,} {r.mpe_utilization:>8.1%} "
                     f"{r.mpe_busy:>8.1%} {r.dma_busy:>8.1%}  {r.bound}")
    return "\n".join(lines)
