"""The fuzzer's oracles and campaign loop.

For each graph (see `generate`), and each machine preset and mapping variant:

1. the emulator's outputs match the reference interpreter within the fp16 tolerance
   (`rtol = 1e-2`, `atol = 1e-2` of the output's largest magnitude); a larger
   difference that stays within a few times the graph's measured fp16 rounding spread
   (`sensitivity`) is counted as *explained*, not as a mismatch;
2. metamorphic: the outputs for different presets and pinned mapping variants
   (`mappings`) agree with each other, within the same tolerance;
3. the emulator's race, deadlock and bounds checks never fire (they raise from `run`);
4. no pass crashes or produces IR that fails verification. `compile_module` raising
   `PassFailedException` for a reported limitation is a *rejection*, counted apart with
   its message; a pass whose output does not verify, and any other exception, is a crash.

A failing case is shrunk (`shrink`) and saved to `OUT/case-SEED/` as `model.mlir` +
`weights.npz` + `inputs.npz` + `case.json` + `failure.txt` (the original under
`original/`), replayable with `rapid-fuzz --replay OUT/case-SEED`.
"""

from __future__ import annotations

import json
import re
import tempfile
import time
import traceback
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from xdsl.dialects.builtin import ModuleOp
from xdsl.utils.exceptions import PassFailedException

from rapid_mlir.fuzz.generate import WEIGHTS_FILE, Case, generate
from rapid_mlir.fuzz.mappings import VARIANTS as MAPPING_VARIANTS  # noqa: F401 - re-exported
from rapid_mlir.weights import WeightStore

DEFAULT_PRESETS = ("rapid-4c", "rapid-1c", "rapid-32c")
"""The first is the one the mapping variants are pinned on (it has cores to split over)."""
RTOL = 1e-2
ATOL_OF_SCALE = 1e-2

MISMATCH, CRASH, CHECK, REJECTED, INVALID = "mismatch", "crash", "check", "rejected", "invalid"
EXPLAINED = "explained"
FAILURES = (MISMATCH, CRASH, CHECK)
"""The outcomes that are bugs (a rejection is a reported limitation; an invalid case is
one whose reference output is not finite, a fault of the generator, not the compiler;
an explained difference is one within the graph's measured fp16 rounding spread)."""


@dataclass
class Finding:
    """One oracle that did not hold for one preset (or pair of presets)."""

    kind: str
    preset: str
    message: str

    def line(self) -> str:
        first = self.message.strip().splitlines()[0] if self.message.strip() else ""
        return f"{self.kind} on {self.preset}: {first[:300]}"


@dataclass
class Outcome:
    """Everything the oracles said about one case."""

    name: str
    findings: list[Finding] = field(default_factory=list)
    presets_run: list[str] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return any(f.kind in FAILURES for f in self.findings)


def _scale(want: np.ndarray) -> float:
    scale = float(np.abs(want).max()) if want.size else 0.0
    return scale or 1.0


def compare(got: np.ndarray, want: np.ndarray, scale: float, extra: np.ndarray | float = 0.0) -> str | None:
    """None when `got` matches `want` within the fp16 tolerance (plus `extra`, per
    element), else what differs."""
    got = np.asarray(got, np.float64)
    want = np.asarray(want, np.float64)
    if got.shape != want.shape:
        return f"shape {got.shape} but expected {want.shape}"
    bad = ~(np.abs(got - want) <= RTOL * np.abs(want) + ATOL_OF_SCALE * (scale or 1.0) + extra)
    if not bad.any():
        return None
    i = np.unravel_index(int(np.argmax(np.abs(got - want) * bad)), want.shape)
    return (f"{int(bad.sum())}/{want.size} elements differ; worst at {tuple(int(k) for k in i)}: "
            f"{got[i]:.6g} vs {want[i]:.6g} (scale {scale:.3g})")


def check_case(module: ModuleOp, store: WeightStore, inputs: dict[str, np.ndarray],
               presets: Sequence[str], workdir: Path, name: str = "case",
               mappings: Sequence[str] = (), mapping_seed: int = 0) -> Outcome:
    """Runs every oracle on one graph; `workdir` receives its weight file (the compiler
    reads weights from a file). `mappings` names pinned-mapping variants (of the first
    preset's mappings, see `fuzz.mappings`; `mapping_seed` draws the random one) that
    must give the same outputs too."""
    from rapid_mlir.fuzz.mappings import pinned_mappings
    from rapid_mlir.reference.interpreter import run as reference_run

    out = Outcome(name)
    weights = None
    if len(store):
        workdir.mkdir(parents=True, exist_ok=True)
        weights = str(workdir / WEIGHTS_FILE)
        store.save(weights)
    try:
        expected = reference_run(module.clone(), inputs, store)
    except Exception as e:  # noqa: BLE001 - the generator made a graph the reference refuses
        out.findings.append(Finding(INVALID, "reference", f"{type(e).__name__}: {e}"))
        return out
    if not all(np.isfinite(v).all() for v in expected.values()):
        out.findings.append(Finding(INVALID, "reference", "the reference output is not finite"))
        return out
    judge = _Judge(module, store, inputs, expected, out)
    results: dict[str, dict[str, np.ndarray]] = {}
    for preset in presets:
        got = _compile_and_run(module, preset, None, weights, inputs, preset, out)
        if got is None:
            continue
        results[preset] = got
        for key, want in expected.items():
            judge(got[key], want, key, preset, "vs reference")
    for variant in mappings:
        label = f"{presets[0]}+{variant}"
        mapping_file = workdir / f"mapping-{variant}.json"
        try:
            workdir.mkdir(parents=True, exist_ok=True)
            mapping_file.write_text(json.dumps(pinned_mappings(module, presets[0], variant, mapping_seed, weights)))
        except Exception as e:  # noqa: BLE001 - the mapping search itself failed
            out.presets_run.append(label)
            out.findings.append(Finding(CRASH, label, _trace(e)))
            continue
        got = _compile_and_run(module, presets[0], str(mapping_file), weights, inputs, label, out)
        if got is not None:
            results[label] = got
    # Metamorphic: every preset and mapping variant against the first preset that ran.
    ran = list(results)
    for other in ran[1:]:
        for key in expected:
            judge(results[other][key], results[ran[0]][key], key, f"{other} vs {ran[0]}", "", pair=True)
    return out


def _compile_and_run(module: ModuleOp, preset: str, mapping_file: str | None, weights: str | None,
                     inputs: dict[str, np.ndarray], label: str, out: Outcome) -> dict[str, np.ndarray] | None:
    """The outputs of `module` compiled for `preset` and emulated with the race checks
    on; None (and a finding in `out`) when a pass rejects or crashes or a check fires."""
    from rapid_mlir.pipeline import compile_module
    from rapid_mlir.runtime import load

    out.presets_run.append(label)
    try:
        program = compile_module(module.clone(), preset, mapping_file, weights=weights)
    except PassFailedException as e:
        kind = CRASH if "does not verify" in str(e) else REJECTED
        out.findings.append(Finding(kind, label, str(e)))
        return None
    except Exception as e:  # noqa: BLE001 - any other exception is a compiler crash
        out.findings.append(Finding(CRASH, label, _trace(e)))
        return None
    try:
        return load(program).run(inputs, check_races=True).outputs
    except Exception as e:  # noqa: BLE001 - race, deadlock, bounds, or an emulator bug
        kind = CHECK if type(e).__name__.endswith(("RaceError", "DeadlockError", "OutOfBoundsError")) else CRASH
        out.findings.append(Finding(kind, label, _trace(e)))
        return None


class _Judge:
    """Compares outputs; a difference beyond the fp16 tolerance is measured against the
    graph's fp16 rounding spread (computed once, on the first difference): within
    `SPREAD_MARGIN` times it, the difference is `explained`, else a mismatch."""

    def __init__(self, module, store, inputs, expected, out: Outcome):
        self.module, self.store, self.inputs, self.expected, self.out = module, store, inputs, expected, out
        self.scales = {k: _scale(v) for k, v in expected.items()}
        self.spread: dict[str, np.ndarray] | None = None

    def __call__(self, got, want, key: str, label: str, what: str, pair: bool = False) -> None:
        from rapid_mlir.fuzz.sensitivity import SPREAD_MARGIN, rounding_spread

        scale = self.scales[key]
        diff = compare(got, want, scale)
        if diff is None:
            return
        where = f"output {key}" + (f" {what}" if what else "")
        if np.shape(got) == np.shape(want):
            if self.spread is None:
                self.spread = rounding_spread(self.module, self.inputs, self.store, self.expected)
            # Two device results each carry their own rounding: twice the spread apart.
            spread = self.spread[key] * (2.0 if pair else 1.0)
            peak = float(spread.max()) if spread.size else 0.0
            if compare(got, want, scale, SPREAD_MARGIN * spread) is None:
                self.out.findings.append(Finding(
                    EXPLAINED, label, f"{where}: {diff}; within {SPREAD_MARGIN:g}x the fp16 rounding "
                                      f"spread (largest {peak:.3g}, {peak / scale:.2%} of the scale)"))
                return
            diff += f"; fp16 rounding spread at most {peak:.3g}"
        self.out.findings.append(Finding(MISMATCH, label, f"{where}: {diff}"))


def _trace(e: BaseException) -> str:
    tb = traceback.extract_tb(e.__traceback__)
    where = f" (at {Path(tb[-1].filename).name}:{tb[-1].lineno})" if tb else ""
    return f"{type(e).__name__}: {e}{where}"


# -- saving and replaying ---------------------------------------------------------------

def save_case(case_dir: Path, module: ModuleOp, store: WeightStore, inputs: dict[str, np.ndarray],
              outcome: Outcome, presets: Sequence[str], seed: int | None,
              mappings: Sequence[str] = (), choices: Sequence[int] | None = None,
              note: str = "") -> None:
    """Writes a self-contained reproducer: `model.mlir`, `weights.npz`, `inputs.npz`,
    `case.json` (seed, presets, mapping variants, choices) and `failure.txt` (what
    failed, and the one-line replay command)."""
    from rapid_mlir.ir_io import module_text
    from rapid_mlir.tools.npz import write_npz

    case_dir.mkdir(parents=True, exist_ok=True)
    (case_dir / "model.mlir").write_text(module_text(module))
    if len(store):
        store.save(case_dir / WEIGHTS_FILE)
    write_npz(case_dir / "inputs.npz", inputs)
    meta = {"seed": seed, "presets": list(presets), "mappings": list(mappings),
            "choices": None if choices is None else list(choices)}
    (case_dir / "case.json").write_text(json.dumps(meta) + "\n")
    lines = [f"replay: rapid-fuzz --replay {case_dir}"] + ([note] if note else [])
    lines += [f.line() for f in outcome.findings]
    lines += ["", "full messages:"] + [f"[{f.kind} {f.preset}] {f.message}" for f in outcome.findings]
    (case_dir / "failure.txt").write_text("\n".join(lines) + "\n")


def replay(case_dir: str | Path, presets: Sequence[str] | None = None) -> Outcome:
    """Runs the oracles again on a saved case."""
    from rapid_mlir.ir_io import read_module
    from rapid_mlir.tools.npz import read_npz
    from rapid_mlir.weights import store_for

    case_dir = Path(case_dir)
    module = read_module(case_dir / "model.mlir")
    store = store_for(module, case_dir / "model.mlir")
    inputs = read_npz(case_dir / "inputs.npz")
    meta = case_dir / "case.json"
    saved = json.loads(meta.read_text()) if meta.exists() else {}
    presets = presets or saved.get("presets", DEFAULT_PRESETS)
    with tempfile.TemporaryDirectory() as work:
        return check_case(module, store, inputs, presets, Path(work), str(case_dir), saved.get("mappings", ()),
                          saved.get("seed") or 0)


# -- a campaign -------------------------------------------------------------------------

@dataclass
class Summary:
    """The counts a campaign prints at the end."""

    graphs: int = 0
    ops: Counter = field(default_factory=Counter)
    presets: list[str] = field(default_factory=list)
    runs: int = 0
    """Compile-and-emulate runs (graph x preset or mapping variant)."""
    counts: Counter = field(default_factory=Counter)
    rejections: Counter = field(default_factory=Counter)
    failing: list[tuple[int, str, list[str]]] = field(default_factory=list)
    """(seed, saved directory, one line per finding) of every failing case."""
    explained: list[tuple[int, str]] = field(default_factory=list)
    """(seed, first line) of every case with a difference explained by fp16 rounding."""
    seconds: float = 0.0
    jobs: int = 1

    def lines(self) -> list[str]:
        out = [f"graphs generated: {self.graphs} in {self.seconds:.1f} s ({self.jobs} job(s))",
               f"presets and mappings tried: {', '.join(self.presets)} ({self.runs} compiled and emulated)",
               "ops covered: " + ", ".join(f"{k.removeprefix('nn.')} {v}" for k, v in sorted(self.ops.items())),
               f"mismatches: {self.counts[MISMATCH]}",
               f"crashes: {self.counts[CRASH]}",
               f"checks fired (race/deadlock/bounds): {self.counts[CHECK]}",
               f"rejections: {self.counts[REJECTED]}",
               f"invalid (reference not finite or refused): {self.counts[INVALID]}",
               f"differences explained by fp16 rounding: {self.counts[EXPLAINED]}"]
        for msg, n in self.rejections.most_common():
            out.append(f"  rejected {n}x: {msg}")
        for seed, line in self.explained[:20]:
            out.append(f"  explained, seed {seed}: {line}")
        for seed, where, findings in self.failing:
            out.append(f"FAIL seed {seed}: rapid-fuzz --replay {where}")
            out += [f"  {f}" for f in findings]
        return out


def _rejection_key(message: str) -> str:
    """A rejection message without its layer names and numbers, so equal causes group."""
    first = message.strip().splitlines()[0] if message.strip() else ""
    first = re.sub(r"'[^']*'", "'…'", first)
    return re.sub(r"\d+", "N", first)[:200]


PROGRESS_EVERY = 100
"""A campaign logs a progress line after this many graphs."""


@dataclass
class SeedReport:
    """What one seed's check sends back to the campaign (small: it crosses processes)."""

    seed: int
    ops: Counter
    runs: int
    kinds: set[str]
    rejections: list[str]
    explained: list[str]
    failing: list[str]
    saved: str | None = None
    log: str = ""


def campaign(seed: int = 0, cases: int | None = None, seconds: float | None = None,
             presets: Sequence[str] = DEFAULT_PRESETS, out_dir: str | Path = "fuzz-out",
             log=None, mappings: Sequence[str] = (), jobs: int = 1,
             shrink_seconds: float = 60.0, rotate: bool = False) -> Summary:
    """Generates and checks graphs of seeds `seed`, `seed + 1`, ... until `cases` graphs
    or `seconds` have passed (100 graphs when neither is given), `jobs` at a time;
    shrinks each failing case (for at most `shrink_seconds`) and saves it under
    `out_dir`. `mappings`: the pinned-mapping variants to check as well. With `rotate`,
    each graph runs on the first preset, one other preset and one mapping variant, in
    turn by seed (three runs per graph instead of all of them: a long campaign covers
    every combination with more graphs)."""
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

    out_dir = Path(out_dir)
    summary = Summary(presets=list(presets) + [f"{presets[0]}+{v}" for v in mappings], jobs=jobs)
    start = time.monotonic()
    if cases is None and seconds is None:
        cases = 100

    def more(n: int) -> bool:
        return (cases is None or n < cases) and (seconds is None or time.monotonic() - start < seconds)

    def args(s: int) -> tuple:
        ps, ms = tuple(presets), tuple(mappings)
        if rotate:
            ps = ps[:1] + ((ps[1:][s % len(ps[1:])],) if len(ps) > 1 else ())
            ms = ms[(s // 2) % len(ms):][:1] if ms else ()
        return (s, ps, str(out_dir), ms, shrink_seconds)

    n = 0
    if jobs <= 1:
        while more(n):
            _tally(summary, check_seed(*args(seed + n)), log)
            n += 1
    else:
        with ProcessPoolExecutor(jobs) as pool:
            running = set()
            while True:
                while more(n) and len(running) < 2 * jobs:
                    running.add(pool.submit(check_seed, *args(seed + n)))
                    n += 1
                if not running:
                    break
                done, running = wait(running, return_when=FIRST_COMPLETED)
                for f in done:
                    report = f.result()
                    _tally(summary, report, log)
    summary.seconds = time.monotonic() - start
    summary.failing.sort()
    summary.explained.sort()
    return summary


def _tally(summary: Summary, r: SeedReport, log) -> None:
    summary.graphs += 1
    summary.ops.update(r.ops)
    summary.runs += r.runs
    for kind in r.kinds:
        summary.counts[kind] += 1
    for msg in r.rejections:
        summary.rejections[_rejection_key(msg)] += 1
    summary.explained += [(r.seed, line) for line in r.explained[:1]]
    if r.failing:
        summary.failing.append((r.seed, r.saved or "", r.failing))
    if log and r.log:
        log(r.log)
    if log and summary.graphs % PROGRESS_EVERY == 0:
        log(f"{summary.graphs} graphs, {summary.runs} runs, {len(summary.failing)} failing, "
            f"{summary.counts[EXPLAINED]} explained, {summary.counts[REJECTED]} rejected")


def check_seed(seed: int, presets: Sequence[str], out_dir: str, mappings: Sequence[str] = (),
               shrink_seconds: float = 60.0) -> SeedReport:
    """Generates the graph of `seed`, runs the oracles on it and, when it fails, shrinks
    it and saves the reproducer (and the original) under `out_dir/case-SEED`."""
    with tempfile.TemporaryDirectory() as work:
        outcome, case = run_seed(seed, presets, Path(work), mappings)
        report = SeedReport(seed, case.ops if case else Counter(), len(outcome.presets_run),
                            {f.kind for f in outcome.findings},
                            [f.message for f in outcome.findings if f.kind == REJECTED],
                            [f.line() for f in outcome.findings if f.kind == EXPLAINED],
                            [f.line() for f in outcome.findings if f.kind in FAILURES])
        if not outcome.failed or case is None:
            return report
        where = Path(out_dir) / f"case-{seed}"
        save_case(where / "original", case.module, case.weights, case.inputs, outcome, presets, seed,
                  mappings, case.choices)
        try:
            small, small_outcome, note = _shrink_failure(case, outcome, presets, mappings, Path(work),
                                                         shrink_seconds)
        except Exception as e:  # noqa: BLE001 - a failing shrink must not lose the case
            small, small_outcome, note = case, outcome, f"not shrunk: {_trace(e)}"
        save_case(where, small.module, small.weights, small.inputs, small_outcome, presets, seed, mappings,
                  small.choices, note)
        report.saved = str(where)
        report.log = f"seed {seed}: FAIL ({', '.join(sorted(report.kinds))}) -> {where} ({note})"
        return report


def failure_signature(outcome: Outcome) -> set[tuple[str, str]]:
    """(kind, exception type or '') of each bug finding: what a shrunk case must keep."""
    sig = set()
    for f in outcome.findings:
        if f.kind in FAILURES:
            exc = f.message.split(":", 1)[0] if f.kind in (CRASH, CHECK) else ""
            sig.add((f.kind, exc))
    return sig


def _shrink_failure(case: Case, outcome: Outcome, presets: Sequence[str], mappings: Sequence[str],
                    work: Path, seconds: float) -> tuple[Case, Outcome, str]:
    """The shrunk case, its outcome, and a note on the shrinking."""
    from rapid_mlir.fuzz.shrink import shrink

    want = failure_signature(outcome)
    last: dict[int, Outcome] = {}

    def still_fails(candidate: Case) -> bool:
        o = check_case(candidate.module.clone(), candidate.weights, candidate.inputs, presets,
                       work / f"shrink-{len(last)}", "shrink", mappings, case.seed)
        last[id(candidate)] = o
        return bool(want & failure_signature(o))

    result = shrink(case, still_fails, seconds=seconds)
    small = result.case
    small_outcome = last.get(id(small), outcome)
    note = (f"shrunk from {result.ops_before} to {result.ops_after} ops in {result.tries} tries, "
            f"{result.seconds:.0f} s; the original is in original/")
    return small, small_outcome, note


def run_seed(seed: int, presets: Sequence[str], workdir: Path,
             mappings: Sequence[str] = ()) -> tuple[Outcome, Case | None]:
    """Generates the graph of `seed` and runs the oracles on it. A generator exception is
    reported as a crash of the case (the generator must only build valid graphs)."""
    try:
        case = generate(seed)
    except Exception as e:  # noqa: BLE001
        return Outcome(f"seed {seed}", [Finding(CRASH, "generator", _trace(e))]), None
    module = case.module.clone()
    outcome = check_case(module, case.weights, case.inputs, presets, workdir / f"seed-{seed}", f"seed {seed}",
                         mappings, seed)
    return outcome, case
