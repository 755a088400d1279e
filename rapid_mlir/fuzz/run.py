"""The fuzzer's oracles and campaign loop.

For each graph (see `generate`), and each machine preset:

1. the emulator's outputs match the reference interpreter within the fp16 tolerance
   (`rtol = 1e-2`, `atol = 1e-2` of the output's largest magnitude);
2. metamorphic: the outputs for different presets agree with each other, within the
   same tolerance;
3. the emulator's race, deadlock and bounds checks never fire (they raise from `run`);
4. no pass crashes or produces IR that fails verification. `compile_module` raising
   `PassFailedException` for a reported limitation is a *rejection*, counted apart with
   its message; a pass whose output does not verify, and any other exception, is a crash.

A failing case is saved to `OUT/case-SEED/` as `model.mlir` + `weights.npz` +
`inputs.npz` + `failure.txt`, replayable with `rapid-fuzz --replay OUT/case-SEED`.
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
from rapid_mlir.weights import WeightStore

DEFAULT_PRESETS = ("rapid-1c", "rapid-4c", "rapid-32c")
RTOL = 1e-2
ATOL_OF_SCALE = 1e-2

MISMATCH, CRASH, CHECK, REJECTED, INVALID = "mismatch", "crash", "check", "rejected", "invalid"
FAILURES = (MISMATCH, CRASH, CHECK)
"""The outcomes that are bugs (a rejection is a reported limitation; an invalid case is
one whose reference output is not finite, a fault of the generator, not the compiler)."""


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


def compare(got: np.ndarray, want: np.ndarray, scale: float) -> str | None:
    """None when `got` matches `want` within the fp16 tolerance, else what differs."""
    got = np.asarray(got, np.float64)
    want = np.asarray(want, np.float64)
    if got.shape != want.shape:
        return f"shape {got.shape} but expected {want.shape}"
    bad = ~(np.abs(got - want) <= RTOL * np.abs(want) + ATOL_OF_SCALE * (scale or 1.0))
    if not bad.any():
        return None
    i = np.unravel_index(int(np.argmax(np.abs(got - want) * bad)), want.shape)
    return (f"{int(bad.sum())}/{want.size} elements differ; worst at {tuple(int(k) for k in i)}: "
            f"{got[i]:.6g} vs {want[i]:.6g} (scale {scale:.3g})")


def check_case(module: ModuleOp, store: WeightStore, inputs: dict[str, np.ndarray],
               presets: Sequence[str], workdir: Path, name: str = "case",
               mappings: Sequence[str] = ()) -> Outcome:
    """Runs every oracle on one graph; `workdir` receives its weight file (the compiler
    reads weights from a file). `mappings` names pinned-mapping variants (of the first
    preset's mappings, `MAPPING_VARIANTS`) that must give the same outputs too."""
    from rapid_mlir.pipeline import compile_module
    from rapid_mlir.reference.interpreter import run as reference_run
    from rapid_mlir.runtime import load

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
    scales = {k: _scale(v) for k, v in expected.items()}
    results: dict[str, dict[str, np.ndarray]] = {}
    for preset in presets:
        out.presets_run.append(preset)
        try:
            program = compile_module(module.clone(), preset, weights=weights)
        except PassFailedException as e:
            kind = CRASH if "does not verify" in str(e) else REJECTED
            out.findings.append(Finding(kind, preset, str(e)))
            continue
        except Exception as e:  # noqa: BLE001 - any other exception is a compiler crash
            out.findings.append(Finding(CRASH, preset, _trace(e)))
            continue
        try:
            got = load(program).run(inputs, check_races=True).outputs
        except Exception as e:  # noqa: BLE001 - race, deadlock, bounds, or an emulator bug
            kind = CHECK if type(e).__name__.endswith(("RaceError", "DeadlockError", "OutOfBoundsError")) else CRASH
            out.findings.append(Finding(kind, preset, _trace(e)))
            continue
        results[preset] = got
        for key, want in expected.items():
            diff = compare(got[key], want, scales[key])
            if diff is not None:
                out.findings.append(Finding(MISMATCH, preset, f"output {key} vs reference: {diff}"))
    for variant in mappings:
        label = f"{presets[0]}+{variant}"
        out.presets_run.append(label)
        mapping_file = workdir / f"mapping-{variant}.json"
        try:
            workdir.mkdir(parents=True, exist_ok=True)
            mapping_file.write_text(json.dumps(pinned_mappings(module, presets[0], variant)))
            program = compile_module(module.clone(), presets[0], str(mapping_file), weights=weights)
        except PassFailedException as e:
            kind = CRASH if "does not verify" in str(e) else REJECTED
            out.findings.append(Finding(kind, label, str(e)))
            continue
        except Exception as e:  # noqa: BLE001
            out.findings.append(Finding(CRASH, label, _trace(e)))
            continue
        try:
            results[label] = load(program).run(inputs, check_races=True).outputs
        except Exception as e:  # noqa: BLE001
            kind = CHECK if type(e).__name__.endswith(("RaceError", "DeadlockError", "OutOfBoundsError")) else CRASH
            out.findings.append(Finding(kind, label, _trace(e)))
    # Metamorphic: every preset and mapping variant against the first preset that ran.
    ran = list(results)
    for other in ran[1:]:
        for key in expected:
            diff = compare(results[other][key], results[ran[0]][key], scales[key])
            if diff is not None:
                out.findings.append(Finding(MISMATCH, f"{other} vs {ran[0]}", f"output {key}: {diff}"))
    return out


MAPPING_VARIANTS = ("serial", "small-tiles")
"""Pinned-mapping variants of the fixed strategy's mappings (see `pinned_mappings`)."""


def pinned_mappings(module: ModuleOp, preset: str, variant: str) -> dict[str, dict]:
    """A mapping file (layer name -> mapping) that pins every device layer of `module`
    to a variant of the mapping the fixed strategy picks for `preset`: `serial` runs
    every layer on one core and one corelet with single-buffered tiles; `small-tiles`
    halves the LX tiles of the MPE layers (not below the L0 tile, nor kernel windows). The results must
    not change."""
    import dataclasses

    from rapid_mlir.dialects import make_context
    from rapid_mlir.dialects.rapid_tile import KernelOp
    from rapid_mlir.pipeline import passes

    module = module.clone()
    for p in passes(preset)[:3]:  # up to convert-nn-to-tile
        p.apply(make_context(), module)
    out = {}
    for op in module.walk():
        if not isinstance(op, KernelOp):
            continue
        m = op.mapping.mapping
        if variant == "serial":
            m = dataclasses.replace(m, cores={}, corelets={}, double_buffer=False)
        elif m.l0:  # an MPE layer (vector and SFU layers keep some dimensions whole)
            # (kernel windows stay whole: tiling them in LX is not lowered yet)
            m = dataclasses.replace(m, lx={d: v if d in ("kh", "kw") else max(m.l0.get(d, 1), -(-v // 2))
                                           for d, v in m.lx.items()})
        out[op.layer.data] = m.to_dict()
    return out


def _trace(e: BaseException) -> str:
    tb = traceback.extract_tb(e.__traceback__)
    where = f" (at {Path(tb[-1].filename).name}:{tb[-1].lineno})" if tb else ""
    return f"{type(e).__name__}: {e}{where}"


# -- saving and replaying ---------------------------------------------------------------

def save_case(case_dir: Path, module: ModuleOp, store: WeightStore, inputs: dict[str, np.ndarray],
              outcome: Outcome, presets: Sequence[str], seed: int | None,
              mappings: Sequence[str] = ()) -> None:
    """Writes a self-contained reproducer: `model.mlir`, `weights.npz`, `inputs.npz`, and
    `failure.txt` (what failed and the one-line replay command)."""
    from rapid_mlir.ir_io import module_text
    from rapid_mlir.tools.npz import write_npz

    case_dir.mkdir(parents=True, exist_ok=True)
    (case_dir / "model.mlir").write_text(module_text(module))
    if len(store):
        store.save(case_dir / WEIGHTS_FILE)
    write_npz(case_dir / "inputs.npz", inputs)
    (case_dir / "case.json").write_text(json.dumps({"seed": seed, "presets": list(presets),
                                                        "mappings": list(mappings)}) + "\n")
    lines = [f"replay: rapid-fuzz --replay {case_dir}"]
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
        return check_case(module, store, inputs, presets, Path(work), str(case_dir), saved.get("mappings", ()))


# -- a campaign -------------------------------------------------------------------------

@dataclass
class Summary:
    """The counts a campaign prints at the end."""

    graphs: int = 0
    ops: Counter = field(default_factory=Counter)
    presets: list[str] = field(default_factory=list)
    counts: Counter = field(default_factory=Counter)
    rejections: Counter = field(default_factory=Counter)
    failing: list[tuple[int, str, list[str]]] = field(default_factory=list)
    """(seed, saved directory, one line per finding) of every failing case."""
    seconds: float = 0.0

    def lines(self) -> list[str]:
        out = [f"graphs generated: {self.graphs} in {self.seconds:.1f} s",
               f"presets tried: {', '.join(self.presets)}",
               "ops covered: " + ", ".join(f"{k.removeprefix('nn.')} {v}" for k, v in sorted(self.ops.items())),
               f"mismatches: {self.counts[MISMATCH]}",
               f"crashes: {self.counts[CRASH]}",
               f"checks fired (race/deadlock/bounds): {self.counts[CHECK]}",
               f"rejections: {self.counts[REJECTED]}",
               f"invalid (reference not finite or refused): {self.counts[INVALID]}"]
        for msg, n in self.rejections.most_common():
            out.append(f"  rejected {n}x: {msg}")
        for seed, where, findings in self.failing:
            out.append(f"FAIL seed {seed}: rapid-fuzz --replay {where}")
            out += [f"  {f}" for f in findings]
        return out


def _rejection_key(message: str) -> str:
    """A rejection message without its layer names and numbers, so equal causes group."""
    first = message.strip().splitlines()[0] if message.strip() else ""
    first = re.sub(r"'[^']*'", "'…'", first)
    return re.sub(r"\d+", "N", first)[:200]


def campaign(seed: int = 0, cases: int | None = None, seconds: float | None = None,
             presets: Sequence[str] = DEFAULT_PRESETS, out_dir: str | Path = "fuzz-out",
             log=None, mappings: Sequence[str] = ()) -> Summary:
    """Generates and checks graphs of seeds `seed`, `seed + 1`, ... until `cases` graphs
    or `seconds` have passed; saves each failing case under `out_dir`. `mappings`: the
    pinned-mapping variants to check as well."""
    out_dir = Path(out_dir)
    summary = Summary(presets=list(presets) + [f"{presets[0]}+{v}" for v in mappings])
    start = time.monotonic()
    n = 0
    work = tempfile.TemporaryDirectory()
    while True:
        if cases is not None and n >= cases:
            break
        if seconds is not None and time.monotonic() - start >= seconds:
            break
        if cases is None and seconds is None and n >= 100:
            break
        case_seed = seed + n
        n += 1
        outcome, case = run_seed(case_seed, presets, Path(work.name), mappings)
        summary.graphs += 1
        summary.ops.update(case.ops if case else {})
        kinds = {f.kind for f in outcome.findings}
        for kind in kinds:
            summary.counts[kind] += 1
        for f in outcome.findings:
            if f.kind == REJECTED:
                summary.rejections[_rejection_key(f.message)] += 1
        if outcome.failed and case is not None:
            where = out_dir / f"case-{case_seed}"
            save_case(where, case.module, case.weights, case.inputs, outcome, presets, case_seed, mappings)
            summary.failing.append((case_seed, str(where), [f.line() for f in outcome.findings
                                                             if f.kind in FAILURES]))
            if log:
                log(f"seed {case_seed}: FAIL ({', '.join(sorted(kinds))}) -> {where}")
    work.cleanup()
    summary.seconds = time.monotonic() - start
    return summary


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
                         mappings)
    return outcome, case
