"""Mapping strategies compared on whole networks: `fixed` (the baseline) against `dse`.

    python bench/dse.py [--models alexnet,vgg16,resnet50,lstm_lm] [--batches 1,16]
                        [--machines rapid-1c,rapid-4c] [--size full|small] [--json bench/dse.json]

For every (network, batch, machine), compiles and emulates the zoo model (through
`bench/models.py`'s worker, one fresh process each, without race checks: this compares
cycles) under `fixed` and under `dse`, and prints: the emulated cycles of each, the
speed-up, the whole-network MPE utilisation, the network's time as a fraction of its
roofline bound, and the compile seconds of each (the difference is the search). At the
end, the geometric-mean speed-up. Both strategies' outputs are checked against
onnxruntime (max error as a fraction of the output scale) so that a fast wrong mapping
cannot win.

Then the optimality check (`--optimality`, on by default): on small layers (every distinct
conv and matmul layer of the small zoo models whose space has at most `--max-space`
candidates), the pruned, budgeted search against an exhaustive evaluation of the same
space with the same cost model: how far the chosen mapping's predicted cycles are from
the exhaustive minimum (goal: within 3%), and how many candidates each evaluated.

`--layers NETWORK` instead prints one configuration's per-layer table (`--batches`,
`--machines` and the last of `--strategies` give it) and its per-layer floor (every matrix
layer at its bound, the other layers and host calls as they ran: the most any per-layer
mapping search can reach; with `--strategies fixed`, fixed cycles over the floor are the
largest speed-up such a search can give): for every matrix layer, its cycles
against its own roofline bound (its MACs at the peak rate, or its compulsory bytes, each
operand once in fp16 -- a weight kept in LX across layers only in the first --, at the
DRAM bandwidth), and for the layers further than 15% from
it, the explanation the emulator's profile gives: the busiest engine; for the MPE how
full its arrays were; for the DMA queues the DRAM bytes moved against the compulsory
ones (and which operands the core split makes every core read) and whether those bytes
at the full DRAM bandwidth fill the layer's time (bandwidth-bound) or not (transfer
latency); for the SFU, epilogues; the other layers (SFU and DMA
kernels) with their cycles and bound.

The roofline bound of a network is max(MACs / peak MACs per cycle, bytes / DRAM bytes per
cycle), with bytes the least any schedule moves: the fp16 weights once, the input and the
output. Wall times on a shared machine are noisy; cycles are exact and deterministic.
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
MODELS_BENCH = REPO / "bench" / "models.py"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="alexnet,vgg16,resnet50,lstm_lm")
    parser.add_argument("--batches", default="1,16")
    parser.add_argument("--machines", default="rapid-1c,rapid-4c")
    parser.add_argument("--size", choices=("full", "small"), default="full")
    parser.add_argument("--strategies", default="fixed,dse", help="the baseline first")
    parser.add_argument("--json", default="bench/dse.json", help="where to write the rows ('' for none)")
    parser.add_argument("--no-networks", action="store_true", help="only the optimality check")
    parser.add_argument("--no-optimality", action="store_true", help="skip the optimality check")
    parser.add_argument("--layers", metavar="NETWORK", help="per-layer roofline table of one configuration")
    parser.add_argument("--max-space", type=int, default=3000, help="largest space the optimality "
                        "check searches exhaustively (default 3000)")
    args = parser.parse_args(argv)
    strategies = args.strategies.split(",")
    if args.layers:
        return _layer_report(args.layers, int(args.batches.split(",")[0]), args.machines.split(",")[0],
                             strategies[-1], args.size)
    rows, failed = [], False
    if args.no_networks:
        args.models = ""
    print(f"{'network':<13}{'batch':>6}  {'machine':<10}" + "".join(f"{s + ' cycles':>16}" for s in strategies)
          + f"{'speed-up':>10}" + "".join(f"{s + ' MPE':>11}" for s in strategies)
          + f"{'roofline':>10}" + "".join(f"{s + ' s':>9}" for s in strategies) + f"{'max err':>9}", flush=True)
    t_start = time.perf_counter()
    for name in filter(None, args.models.split(",")):
        for batch in (int(b) for b in args.batches.split(",")):
            for machine in args.machines.split(","):
                runs = {s: _run(name, batch, machine, s, args.size) for s in strategies}
                row = _row(name, batch, machine, runs, strategies)
                failed |= bool(row.get("error"))
                rows.append(row)
                print(_format(row, strategies), flush=True)
    speedups = [r["speedup"] for r in rows if r.get("speedup")]
    geomean = math.exp(sum(math.log(s) for s in speedups) / len(speedups)) if speedups else None
    if geomean is not None:
        print(f"geometric-mean speed-up of {strategies[-1]} over {strategies[0]}: {geomean:.2f}x "
              f"({len(speedups)} configurations)")
    optimality = [] if args.no_optimality else _optimality(args.machines.split(","), args.max_space)
    print(f"total wall time {time.perf_counter() - t_start:.0f} s")
    if args.json:
        Path(args.json).write_text(json.dumps({"rows": rows, "geomean_speedup": geomean, "size": args.size,
                                               "optimality": optimality}, indent=2) + "\n")
        print(f"wrote {args.json}")
    return 1 if failed else 0


def _optimality(machines: list[str], max_space: int) -> list[dict]:
    """The pruned search against the exhaustive one on the small zoo models' layers."""
    from rapid_mlir.machine import load_machine
    from rapid_mlir.mapping import dse, space

    print(f"\noptimality on small layers (spaces of at most {max_space} candidates): pruned search "
          "vs exhaustive, same cost model")
    print(f"{'layer':<34}{'machine':<10}{'space':>7}{'evaluated':>10}{'exhaustive':>11}{'search':>11}{'gap':>8}")
    out, seen = [], set()
    for machine_name in machines:
        machine = load_machine(machine_name)
        for problem in _small_layers():
            key = (machine_name, problem.kind, tuple(problem.dims.items()), tuple(sorted(problem.params.items())))
            if key in seen:
                continue
            seen.add(key)
            size = space.space_size(problem, machine)
            if size < 2 or size > max_space:
                continue
            full = dse.exhaustive(problem, machine)
            found = dse.search(problem, machine)
            gap = found.best_cost / full.best_cost - 1 if full.best_cost else 0.0
            out.append({"layer": problem.layer, "machine": machine_name, "space": size,
                        "evaluated": found.evaluated, "exhaustive": full.best_cost, "search": found.best_cost,
                        "gap": gap, "bound_violations": found.bound_violations})
            print(f"{problem.layer[:33]:<34}{machine_name:<10}{size:>7}{found.evaluated:>10}"
                  f"{full.best_cost:>11,.0f}{found.best_cost:>11,.0f}{100 * gap:>7.2f}%", flush=True)
    if out:
        worst = max(r["gap"] for r in out)
        print(f"{len(out)} layers: worst gap {100 * worst:.2f}% (goal: within 3%), mean "
              f"{100 * sum(r['gap'] for r in out) / len(out):.2f}%; the search evaluated "
              f"{sum(r['evaluated'] for r in out):,} of {sum(r['space'] for r in out):,} candidates; "
              f"{sum(r['bound_violations'] for r in out)} evaluated below their lower bound")
    return out


def _layer_report(name: str, batch: int, machine_name: str, strategy: str, size: str) -> int:
    """Prints every layer of one compiled network against its roofline bound."""
    from rapid_mlir.frontend.onnx import import_onnx
    from rapid_mlir.machine import load_machine
    from rapid_mlir.mapping.dse import compulsory_bytes
    from rapid_mlir.models import zoo
    from rapid_mlir.pipeline import compile_module, nn_stage
    from rapid_mlir.runtime import load
    from rapid_mlir.runtime.profile import layer_profile
    from rapid_mlir.mapping.mapping import Mapping
    from rapid_mlir.mapping.problem import with_residual
    from rapid_mlir.transforms.convert_nn_to_tile import (
        defined_functions,
        fused_residual,
        layer_names,
        layer_problem,
        weight_operand,
    )

    machine = load_machine(machine_name)
    model = zoo.build(name, size, seed=0, batch=batch)
    feeds = zoo.example_inputs(model, seed=1)
    module, store = import_onnx(model)
    with tempfile.TemporaryDirectory() as tmp:
        weights = str(Path(tmp) / "w.npz")
        store.save(weights)
        staged = module.clone()
        nn_stage(staged, machine_name, weights, tmp)
        problems, weight_of = {}, {}
        for fn in defined_functions(staged):
            for op, layer in layer_names(fn).items():
                p = layer_problem(op, layer)
                if p is not None and strategy == "dse" and fused_residual(op) is not None:
                    p = with_residual(p)  # the add runs in the conv's epilogue
                if p is not None and p.kind in ("conv2d", "matmul"):
                    problems[layer], weight_of[layer] = p, weight_operand(op)
        dumped = Path(tmp) / "mappings.json"
        program = compile_module(module, machine_name, weights=weights, strategy=strategy,
                                 dump_mappings=str(dumped))
        mappings = {name: Mapping.from_dict(m) for name, m in json.loads(dumped.read_text()).items()}
    loaded: set = set()  # weights kept in LX: the first layer of a group loads them, the others do not
    result = load(program).run(feeds, check_races=False, trace=True)
    profile = layer_profile(result.trace_events, load(program).machine)
    print(f"{name} ({size}, batch {batch}) on {machine_name}, {strategy}: {result.cycles:,} cycles")
    print(f"{'layer':<34}{'cycles':>11}{'roofline':>11}{'fraction':>9}  explanation")
    far = total = 0
    floor = result.cycles - sum(lp.cycles for lp in profile)  # outside any layer (host calls, junctions)
    for lp in profile:
        p = problems.get(lp.layer)
        if p is None:
            floor += lp.cycles
            print(f"{lp.layer[:33]:<34}{lp.cycles:>11,}{'-':>11}{'-':>9}  {lp.bound}-bound SFU/DMA layer "
                  f"(SFU busy {lp.sfu_busy:.0%}, DMA busy {lp.dma_busy:.0%})")
            continue
        resident = ()
        mapping = mappings.get(lp.layer)
        if mapping is not None and mapping.resident:
            key = (weight_of[lp.layer], mapping.to_text())
            resident = mapping.resident if key in loaded else ()
            loaded.add(key)
        if mapping is not None:  # a tensor kept in LX between two kernels crosses no DRAM
            resident += ("input",) * mapping.kept_input + ("output",) * mapping.keep_output
        bound = max(lp.macs / machine.peak_macs_per_cycle,
                    compulsory_bytes(p, resident) / machine.dram_bytes_per_cycle)
        fraction = bound / lp.cycles
        floor += min(bound, lp.cycles)
        total += 1
        why = ""
        if fraction < 1 / 1.15:
            far += 1
            if lp.mpe_busy >= max(lp.dma_busy, lp.sfu_busy):
                why = f"MPE busy {lp.mpe_busy:.0%} but the arrays {lp.mpe_utilization / max(lp.mpe_busy, 1e-9):.0%} full"
            elif lp.dma_busy >= lp.sfu_busy:
                why = _dma_explanation(lp, p, mapping, compulsory_bytes(p, resident), machine)
            else:
                why = f"SFU busy {lp.sfu_busy:.0%} (epilogues)"
        print(f"{lp.layer[:33]:<34}{lp.cycles:>11,}{bound:>11,.0f}{fraction:>8.0%}  {why}")
    print(f"{total - far} of {total} matrix layers within 15% of their roofline bound")
    print(f"per-layer floor: {floor:,.0f} cycles (every matrix layer at its bound, the other layers and the "
          f"host as they are): this network is {result.cycles / max(floor, 1):.2f}x from it")
    return 0


def _dma_explanation(lp, problem, mapping, need: int, machine) -> str:
    """Why a layer the DMA queues kept busiest is far from its bound: the DRAM bytes it
    moved against the compulsory ones (which operands its core split makes every core
    read, or else the tiling's re-reads), and whether those bytes at the full DRAM
    bandwidth fill the layer's time (bandwidth) or not (transfer latency)."""
    moved = lp.dram_bytes
    at_bandwidth = moved / machine.dram_bytes_per_cycle / max(lp.cycles, 1)
    text = f"DMA busy {lp.dma_busy:.0%}, moved {moved / 1e6:.2f} MB"
    if moved > 1.15 * need:
        split = set(mapping.cores) if mapping is not None else set()
        copies = math.prod(mapping.cores.values()) if mapping is not None else 1
        shared = [op.name for op in problem.operands
                  if op.name != "output" and copies > 1 and not split & set(op.dims)]
        why = (f"{' and '.join(shared)} read by each of {copies} cores" if shared
               else "operands re-read across LX tiles")
        text += f" = {moved / max(need, 1):.1f}x the {need / 1e6:.2f} MB compulsory ({why})"
    if lp.ring_bytes:
        text += f", {lp.ring_bytes / 1e6:.2f} MB over the ring"
    return text + (f"; at full DRAM bandwidth {at_bandwidth:.0%} of its time" + (
        ": bandwidth-bound" if at_bandwidth >= 0.85 else ", the rest transfer latency"))


def _small_layers():
    """The conv2d and matmul problems of every small zoo model, after the nn stage."""
    import tempfile as _tempfile

    from rapid_mlir.frontend.onnx import import_onnx
    from rapid_mlir.models import zoo
    from rapid_mlir.pipeline import nn_stage
    from rapid_mlir.transforms.convert_nn_to_tile import defined_functions, layer_names, layer_problem

    for name in zoo.MODELS:
        module, store = import_onnx(zoo.build(name, "small", seed=0))
        with _tempfile.TemporaryDirectory() as tmp:
            path = str(Path(tmp) / "w.npz")
            store.save(path)
            nn_stage(module, "rapid-4c", path, tmp)
        for fn in defined_functions(module):
            for op, layer in layer_names(fn).items():
                problem = layer_problem(op, layer)
                if problem is not None and problem.kind in ("conv2d", "matmul"):
                    yield problem


def _run(name: str, batch: int, machine: str, strategy: str, size: str) -> dict:
    """One row of bench/models.py for the configuration (its worker in a fresh process)."""
    with tempfile.TemporaryDirectory(prefix="rapid-bench-dse-") as tmp:
        out = Path(tmp) / "row.json"
        cmd = [sys.executable, str(MODELS_BENCH), "--models", name, "--batch", str(batch), "--machine", machine,
               "--size", size, "--strategy", strategy, "--no-race-check", "--json", str(out)]
        subprocess.run(cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        if not out.exists():
            return {"error": "bench/models.py wrote no row"}
        return json.loads(out.read_text())["rows"][0]


def _row(name: str, batch: int, machine: str, runs: dict[str, dict], strategies: list[str]) -> dict:
    from rapid_mlir.machine import load_machine

    row = {"network": name, "batch": batch, "machine": machine, "runs": runs}
    errors = [f"{s}: {r['error']}" for s, r in runs.items() if r.get("error")]
    if errors:
        row["error"] = "; ".join(errors)
        return row
    base, best = runs[strategies[0]], runs[strategies[-1]]
    row["speedup"] = base["cycles"] / best["cycles"]
    desc = load_machine(machine)
    compute = best["macs"] / desc.peak_macs_per_cycle
    # the least any schedule moves: fp16 weights once; the input and output are small beside them
    memory = 2 * best["params"] / (desc.dram_gbps / desc.clock_ghz)
    row["roofline_cycles"] = max(compute, memory)
    row["roofline_fraction"] = row["roofline_cycles"] / best["cycles"]
    row["max_rel_error"] = max(r["max_rel_error"] for r in runs.values())
    return row


def _format(row: dict, strategies: list[str]) -> str:
    head = f"{row['network']:<13}{row['batch']:>6}  {row['machine']:<10}"
    if row.get("error"):
        return head + "  FAILED: " + " ".join(row["error"].split())[:200]
    runs = row["runs"]
    return (head + "".join(f"{runs[s]['cycles']:>16,}" for s in strategies) + f"{row['speedup']:>9.2f}x"
            + "".join(f"{100 * runs[s]['mpe_utilization']:>10.1f}%" for s in strategies)
            + f"{100 * row['roofline_fraction']:>9.1f}%"
            + "".join(f"{runs[s]['compile_seconds']:>9.1f}" for s in strategies)
            + f"{row['max_rel_error']:>9.1e}")


if __name__ == "__main__":
    sys.exit(main())
