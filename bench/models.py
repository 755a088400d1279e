"""The model zoo on the device: one row per model, from ONNX to emulated cycles.

    python bench/models.py [--models alexnet,vgg16,...] [--size full|small] [--machine rapid-4c]
                           [--batch 1] [--seed 0] [--json bench/models.json] [--jobs N]
                           [--dram-gib G] [--timeout S] [--no-race-check] [--no-graph-passes]
                           [--strategy fixed|dse] [-v]

For every model of `rapid_mlir.models.zoo` (default: all, full size): builds it with
weights from `--seed`, imports it (`import_onnx`), compiles it for the machine
(`compile_module`), runs it on the emulator with race checks on, on the inputs
`zoo.example_inputs(model, seed + 1)`, and compares the outputs with onnxruntime's.

Columns: MACs (G), parameters (M), compile seconds (import + compile, ONNX in, program
out), static instructions, emulated cycles, latency at the machine's clock (ms), MPE
utilisation, emulation wall seconds, max |device - onnxruntime| over the outputs as a
fraction of each output's largest magnitude (fp16 storage gives about 1e-3 on the full
models; above 2e-2 is a bug), and for classifiers the fraction of the batch whose top-1
class agrees. The table is printed as rows complete; the JSON file holds the rows, the
machine, the git commit and the date.

Each model runs in a fresh subprocess (at most `--jobs` at once, default 1), so that the
gigabytes a full model takes are returned after it; a model that fails (or exceeds
`--timeout`) shows its error in its row without stopping the others, and the exit
status is then 1. A model whose weights do not fit the machine's DRAM (VGG-16: 277 MB
of fp16 weights, the presets have 256 MiB) runs on a derived machine with more DRAM
(`--dram-gib`, or automatically the next whole GiB), and its row says so.

Wall times on a shared machine are noisy: compare ratios across runs.
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
ROW_PREFIX = "@@row "
"""A worker's result line on its stdout: the prefix, then the row as one JSON object."""

COLUMNS = [
    # (header, width, row key, format)
    ("model", 13, "model", "{}"),
    ("GMACs", 8, "macs", "{:.3g}"),
    ("Mparams", 7, "params", "{:.3g}"),
    ("compile s", 9, "compile_seconds", "{:.1f}"),
    ("instrs", 8, "static_instructions", "{:,}"),
    ("cycles", 12, "cycles", "{:,}"),
    ("latency ms", 10, "latency_ms", "{:.3f}"),
    ("MPE %", 6, "mpe_utilization", "{:.1f}"),
    ("emulate s", 9, "emulation_seconds", "{:.1f}"),
    ("err/scale", 9, "max_rel_error", "{:.1e}"),
    ("top-1", 5, "top1_agreement", "{:.0%}"),
    ("RSS GB", 6, "peak_rss_bytes", "{:.1f}"),
]
"""The table's columns; a row lacking a key (failed stage, not a classifier) shows '-'."""

SCALE = {"macs": 1e-9, "params": 1e-6, "mpe_utilization": 100.0, "peak_rss_bytes": 1e-9}


# ---------------------------------------------------------------------------
# The parent: schedule one worker per model, print and collect the rows
# ---------------------------------------------------------------------------


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", help="comma-separated zoo names (default: all)")
    parser.add_argument("--size", choices=("full", "small"), default="full")
    parser.add_argument("--machine", default="rapid-4c", help="machine preset or file (default rapid-4c)")
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0, help="seed of the weights; the inputs use seed + 1")
    parser.add_argument("--json", default="bench/models.json", help="where to write the rows "
                        "(default bench/models.json; '' for none)")
    parser.add_argument("--jobs", type=int, default=1, help="models run at once, each in its own process")
    parser.add_argument("--dram-gib", type=float, help="run every model on the machine with this much DRAM "
                        "(default: the machine's own, or the next whole GiB for a model that needs more)")
    parser.add_argument("--timeout", type=float, default=0, help="seconds per model before it is stopped "
                        "(default: none)")
    parser.add_argument("--no-race-check", action="store_true", help="emulate without the race checks")
    parser.add_argument("--no-graph-passes", action="store_true", help="compile without the nn graph "
                        "optimisations (compile_module(optimize=False))")
    parser.add_argument("--strategy", default="dse", help="the mapping strategy (convert-nn-to-tile's: "
                        "dse, fixed; default dse)")
    parser.add_argument("-v", "--verbose", action="store_true", help="show each model's progress on stderr")
    parser.add_argument("--worker", help=argparse.SUPPRESS)  # internal: run one model, print its row
    args = parser.parse_args(argv)
    if args.worker:
        return _worker(args)

    from rapid_mlir.models import zoo

    names = [n.strip() for n in args.models.split(",") if n.strip()] if args.models else list(zoo.MODELS)
    unknown = [n for n in names if n not in zoo.ZOO]
    if unknown:
        parser.error(f"unknown model {', '.join(unknown)}; the zoo has: {', '.join(zoo.MODELS)}")
    if args.jobs < 1:
        parser.error("--jobs must be at least 1")

    print(f"model zoo ({args.size}, batch {args.batch}, seed {args.seed}) on {args.machine}, "
          f"{len(names)} models, {args.jobs} at a time", flush=True)
    print(_header(), flush=True)
    rows_by_name: dict[str, dict] = {}
    t_start = time.perf_counter()
    for row in _run_workers(names, args):
        rows_by_name[row["model"]] = row
        print(_format_row(row), flush=True)
    rows = [rows_by_name[n] for n in names]
    print(f"total wall time {time.perf_counter() - t_start:.1f} s", flush=True)

    failed = [r for r in rows if r.get("error")]
    for r in failed:
        print(f"{r['model']}: FAILED ({r.get('stage', '?')}): {r['error']}", file=sys.stderr)
    if args.json:
        out = Path(args.json)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps({
            "machine": args.machine, "size": args.size, "batch": args.batch, "seed": args.seed,
            "race_check": not args.no_race_check, "graph_passes": not args.no_graph_passes,
            "strategy": args.strategy,
            "git_commit": _git("rev-parse", "HEAD"),
            "git_dirty": bool(_git("--no-optional-locks", "status", "--porcelain", "--untracked-files=no")),
            "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"), "rows": rows,
        }, indent=2) + "\n")
        print(f"wrote {out}", flush=True)
    return 1 if failed else 0


def _run_workers(names: list[str], args):
    """Runs one worker process per model, at most `args.jobs` at once; yields each row as
    its worker ends (a row with an error when the worker failed, crashed or timed out)."""
    tmp_dir = tempfile.TemporaryDirectory(prefix="rapid-bench-models-")
    tmp = Path(tmp_dir.name)
    pending = list(names)
    running: list[tuple[str, subprocess.Popen, float, Path, Path]] = []
    try:
        while pending or running:
            while pending and len(running) < args.jobs:
                name = pending.pop(0)
                out, err = tmp / f"{name}.out", tmp / f"{name}.err"
                cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", name, "--size", args.size,
                       "--machine", args.machine, "--batch", str(args.batch), "--seed", str(args.seed)]
                if args.dram_gib:
                    cmd += ["--dram-gib", str(args.dram_gib)]
                if args.no_race_check:
                    cmd.append("--no-race-check")
                if args.no_graph_passes:
                    cmd.append("--no-graph-passes")
                cmd += ["--strategy", args.strategy]
                if args.verbose:
                    cmd.append("--verbose")
                with open(out, "wb") as fo, open(err, "wb") as fe:
                    proc = subprocess.Popen(cmd, stdout=fo, stderr=None if args.verbose else fe,
                                            stdin=subprocess.DEVNULL, cwd=REPO)
                running.append((name, proc, time.perf_counter(), out, err))
            time.sleep(0.05)
            for item in list(running):
                name, proc, started, out, err = item
                elapsed = time.perf_counter() - started
                if proc.poll() is None:
                    if args.timeout and elapsed > args.timeout:
                        proc.kill()
                        proc.wait()
                        running.remove(item)
                        yield {"model": name, "stage": "timeout", "wall_seconds": elapsed,
                               "error": f"stopped after {args.timeout:g} s (--timeout)"}
                    continue
                running.remove(item)
                yield _collect(name, proc.returncode, elapsed, out, err)
    finally:
        for _, proc, *_ in running:  # interrupted: stop our own workers
            proc.kill()
            proc.wait()
        tmp_dir.cleanup()


def _collect(name: str, returncode: int, elapsed: float, out: Path, err: Path) -> dict:
    """The row a finished worker printed, or one describing its crash."""
    row = None
    for line in out.read_text(errors="replace").splitlines():
        if line.startswith(ROW_PREFIX):
            row = json.loads(line[len(ROW_PREFIX):])
    if row is None:
        tail = err.read_text(errors="replace").strip().splitlines()[-5:] if err.exists() else []
        how = f"killed by signal {-returncode}" if returncode < 0 else f"exit status {returncode}"
        if returncode == -9:
            how += " (out of memory?)"
        row = {"model": name, "stage": "worker", "error": f"the worker process ended without a row ({how})"
               + (": " + " | ".join(tail) if tail else "")}
    row["wall_seconds"] = elapsed
    return row


def _header() -> str:
    cells = [f"{h:<{w}}" if i == 0 else f"{h:>{w}}" for i, (h, w, _, _) in enumerate(COLUMNS)]
    return "  ".join(cells) + "  note"


def _format_row(row: dict) -> str:
    cells = []
    for i, (_, width, key, fmt) in enumerate(COLUMNS):
        value = row.get(key)
        text = "-" if value is None else fmt.format(value * SCALE.get(key, 1))
        cells.append(f"{text:<{width}}" if i == 0 else f"{text:>{width}}")
    notes = list(row.get("notes", []))
    if row.get("error"):
        error = " ".join(str(row["error"]).split())
        notes.append(f"FAILED in {row.get('stage', '?')}: {error[:160]}{'...' if len(error) > 160 else ''}")
    return "  ".join(cells) + ("  " + "; ".join(notes) if notes else "")


def _git(*args: str) -> str | None:
    try:
        done = subprocess.run(["git", *args], cwd=REPO, check=False, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


# ---------------------------------------------------------------------------
# The worker: one model, one row
# ---------------------------------------------------------------------------


def _worker(args) -> int:
    """Builds, compiles, emulates and checks one model; prints its row (ROW_PREFIX + JSON)
    as the last line of stdout; exit status 1 when a stage failed."""
    row: dict = {"model": args.worker, "size": args.size, "batch": args.batch, "seed": args.seed,
                 "machine": args.machine, "notes": [], "stage": "setup"}
    try:
        _measure(args, row)
    except BaseException as e:  # any failure becomes the row's error
        if isinstance(e, KeyboardInterrupt):
            raise
        row["error"] = f"{type(e).__name__}: {e}"
        if os.environ.get("RAPID_BENCH_TRACEBACK"):
            import traceback

            traceback.print_exc()
    row["peak_rss_bytes"] = _peak_rss()
    print(ROW_PREFIX + json.dumps(row), flush=True)
    return 1 if row.get("error") else 0


def _log(args, message: str) -> None:
    if args.verbose:
        print(f"[{args.worker}] {message}", file=sys.stderr, flush=True)


def _measure(args, row: dict) -> None:
    from rapid_mlir.pipeline import compile_module

    compile_options = {"strategy": args.strategy}
    row["strategy"] = args.strategy
    if args.no_graph_passes:
        import inspect

        if "optimize" not in inspect.signature(compile_module).parameters:
            raise TypeError("--no-graph-passes: this compile_module has no 'optimize' option")
        compile_options["optimize"] = False
        row["notes"].append("no graph passes")
    with tempfile.TemporaryDirectory(prefix=f"rapid-bench-{args.worker}-") as tmp:
        _measure_in(args, row, Path(tmp), compile_options)


def _measure_in(args, row: dict, tmp: Path, compile_options: dict) -> None:
    import numpy as np

    from rapid_mlir.frontend.onnx import import_onnx
    from rapid_mlir.machine import load_machine
    from rapid_mlir.models import zoo
    from rapid_mlir.pipeline import compile_module
    from rapid_mlir.reference.onnx_export import run_onnxruntime
    from rapid_mlir.runtime import load

    entry = zoo.ZOO[args.worker]

    row["stage"] = "build"
    t = time.perf_counter()
    model = zoo.build(args.worker, args.size, seed=args.seed, batch=args.batch)
    row["build_seconds"] = time.perf_counter() - t
    row["macs"] = zoo.macs(model)  # of the whole batch
    row["params"] = zoo.parameters(model)
    _log(args, f"built in {row['build_seconds']:.1f} s: {row['params'] / 1e6:.2f} M parameters, "
         f"{row['macs'] / 1e9:.3f} GMACs")

    row["stage"] = "onnxruntime"
    feeds = zoo.example_inputs(model, seed=args.seed + 1)
    t = time.perf_counter()
    expected = run_onnxruntime(model, feeds)
    row["onnxruntime_seconds"] = time.perf_counter() - t

    machine = load_machine(args.machine)
    machine_spec = args.machine
    if args.dram_gib:
        machine_spec = _bigger_dram(machine, int(args.dram_gib * 2**30), tmp, row, unit=2**20)
    else:
        # fp16 weights plus a quarter for activations: enough to tell VGG-16 from the rest
        # without a failed compile; a misestimate is caught below and retried.
        estimate = int(2 * row["params"] * 1.25)
        if estimate > machine.dram_bytes:
            machine_spec = _bigger_dram(machine, estimate, tmp, row)

    row["stage"] = "import"
    t = time.perf_counter()
    module, store = import_onnx(model, weights_file="weights.npz")
    weights = tmp / "weights.npz"
    store.save(weights)
    row["import_seconds"] = time.perf_counter() - t
    del model, store

    row["stage"] = "compile"
    pristine = module.clone()
    t = time.perf_counter()
    try:
        program = compile_module(module, machine_spec, weights=str(weights), **compile_options)
    except Exception as e:  # DRAM too small despite the estimate: once more with enough
        need = _dram_needed(str(e))
        if need is None or args.dram_gib:
            raise
        row["notes"].append(f"retried after: {' '.join(str(e).split())[:120]}")
        machine_spec = _bigger_dram(machine, need, tmp, row)
        module = pristine
        t = time.perf_counter()
        program = compile_module(module, machine_spec, weights=str(weights), **compile_options)
    del module, pristine
    row["compile_seconds"] = row["import_seconds"] + time.perf_counter() - t
    row["static_instructions"] = program.instruction_count()
    _log(args, f"compiled in {row['compile_seconds']:.1f} s: {row['static_instructions']:,} instructions")

    row["stage"] = "emulate"
    t = time.perf_counter()
    device = load(program)
    result = device.run(feeds, check_races=not args.no_race_check)
    row["emulation_seconds"] = time.perf_counter() - t
    stats = result.stats
    row["cycles"] = result.cycles
    row["clock_ghz"] = stats["clock_ghz"]
    row["latency_ms"] = stats["time_us"] / 1000.0
    row["mpe_utilization"] = stats["mpe_utilization"]
    row["device_macs"] = stats["macs"]
    row["executed_instructions"] = stats["instructions"]
    row["race_check"] = not args.no_race_check
    _log(args, f"emulated in {row['emulation_seconds']:.1f} s: {row['cycles']:,} cycles")

    row["stage"] = "compare"
    errors = {}
    for name, want in expected.items():
        got = result.outputs[name]
        if got.shape != want.shape:
            raise ValueError(f"output '{name}' has shape {list(got.shape)}, onnxruntime's {list(want.shape)}")
        scale = float(np.abs(want).max()) or 1.0
        errors[name] = float(np.abs(got - want).max()) / scale
    row["rel_errors"] = errors
    row["max_rel_error"] = max(errors.values())
    if entry.classifier:
        first = next(iter(expected))
        row["top1_agreement"] = float(np.mean(result.outputs[first].argmax(-1) == expected[first].argmax(-1)))
    del row["stage"]


def _bigger_dram(machine, need: int, tmp: Path, row: dict, unit: int = 2**30) -> str:
    """A machine file for `machine` with DRAM for `need` bytes, rounded up to a multiple of
    `unit`; records it in the row."""
    dram = max(1, math.ceil(need / unit)) * unit
    size = f"{dram // 2**30}g" if dram % 2**30 == 0 else f"{dram // 2**20}m"
    name = f"{machine.name}-dram{size}"
    values = machine.to_dict()
    values.update(name=name, dram_bytes=dram)
    path = tmp / f"{name}.json"
    path.write_text(json.dumps(values))
    row["machine"] = name
    row["dram_bytes"] = dram
    row["notes"].append(f"on {name}: {machine.name} with {_human(dram)} of DRAM instead of "
                        f"{_human(machine.dram_bytes)}")
    return str(path)


def _human(n: int) -> str:
    return f"{n / 2**30:g} GiB" if n % 2**30 == 0 else f"{n / 2**20:g} MiB"


def _dram_needed(message: str) -> int | None:
    """The bytes in convert-mem-to-isa's 'the program's tensors need N bytes of DRAM'."""
    import re

    found = re.search(r"need (\d+) bytes of DRAM", message)
    return int(found.group(1)) if found else None


def _peak_rss() -> int | None:
    try:
        import resource
    except ImportError:
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024  # bytes on macOS, KiB on Linux


if __name__ == "__main__":
    sys.exit(main())
