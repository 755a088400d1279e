"""A short deterministic slice of the fuzzer (`make fuzz` runs the long campaign): a
fixed set of generated graphs, each compiled for several presets and mapping variants,
emulated with the race checks on, and compared with the reference and with each other.
Also the fuzzer's own plumbing: the tolerance and the fp16 rounding spread, shrinking,
saving a failing case and replaying it, parallel jobs."""

import numpy as np
import pytest

from rapid_mlir.dialects import nn
from rapid_mlir.fuzz.generate import generate
from rapid_mlir.fuzz.run import (CRASH, EXPLAINED, MAPPING_VARIANTS, MISMATCH, REJECTED, Finding, Outcome, campaign,
                                 check_case, compare, replay, save_case)
from rapid_mlir.tools.rapid_fuzz import main

SLICE_GRAPHS = 200
SLICE_SEED = 100_000


def test_fuzz_slice_finds_no_mismatch_and_no_crash(tmp_path):
    """A few hundred graphs, each on rapid-4c, one other preset and one mapping variant
    in turn (`rotate`), two at a time (CI has two cores)."""
    summary = campaign(SLICE_SEED, cases=SLICE_GRAPHS, presets=("rapid-4c", "rapid-1c", "rapid-32c"),
                       out_dir=tmp_path, mappings=MAPPING_VARIANTS, rotate=True, jobs=2, shrink_seconds=0)
    assert summary.graphs == SLICE_GRAPHS and summary.runs >= 3 * SLICE_GRAPHS - summary.counts[CRASH]
    assert summary.failing == [], "\n".join(summary.lines())
    assert summary.counts[REJECTED] == 0, "\n".join(summary.lines())
    every_op = {op.name for op in nn.NN.operations} - {"nn.constant", "nn.weight"}
    assert set(summary.ops) == every_op, every_op - set(summary.ops)


def test_compare_uses_the_fp16_tolerance():
    want = np.array([1.0, -2.0, 0.0])
    assert compare(want * (1 + 5e-3), want, 2.0) is None
    assert compare(np.array([1.0, -2.0, 0.015]), want, 2.0) is None  # atol = 1e-2 * scale
    assert "1/3 elements differ" in compare(np.array([1.0, -2.0, 0.05]), want, 2.0)
    assert "shape" in compare(want[:2], want, 2.0)


def test_a_saved_case_replays(tmp_path, capsys):
    case = generate(3)
    outcome = Outcome("seed 3", [Finding(MISMATCH, "rapid-1c", "output y vs reference: made up")])
    save_case(tmp_path / "case-3", case.module, case.weights, case.inputs, outcome, ["rapid-1c"], 3)
    assert (tmp_path / "case-3" / "failure.txt").read_text().startswith(
        f"replay: rapid-fuzz --replay {tmp_path / 'case-3'}")
    # The saved graph is a good one: replaying it finds nothing.
    assert not replay(tmp_path / "case-3").failed
    assert main(["--replay", str(tmp_path / "case-3")]) == 0
    assert "ok on rapid-1c" in capsys.readouterr().out


def test_the_command_prints_the_summary(tmp_path, capsys):
    assert main(["--seed", "7", "--cases", "2", "--machine", "rapid-1c", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    for line in ("graphs generated: 2", "presets and mappings tried: rapid-1c", "ops covered:", "mismatches: 0",
                 "crashes: 0", "rejections: 0", "differences explained by fp16 rounding:"):
        assert line in out, out


def test_a_generator_crash_is_a_crash_not_a_pass(tmp_path, monkeypatch):
    import rapid_mlir.fuzz.run as run

    def broken(seed):
        raise RuntimeError("boom")

    monkeypatch.setattr(run, "generate", broken)
    summary = campaign(0, cases=1, presets=["rapid-1c"], out_dir=tmp_path)
    assert summary.counts[CRASH] == 1


@pytest.mark.parametrize("seed", [3, 11, 41])
def test_pinned_mapping_variants_agree(tmp_path, seed):
    """The same graph with every layer pinned to a serial, a smaller-tiled or a random
    legal variant of its mapping gives the same outputs."""
    summary = campaign(seed, cases=1, presets=["rapid-4c"], out_dir=tmp_path, mappings=MAPPING_VARIANTS)
    assert summary.presets == ["rapid-4c", "rapid-4c+serial", "rapid-4c+small-tiles", "rapid-4c+random"]
    assert summary.failing == [] and summary.counts[REJECTED] == 0, summary.lines()


def test_random_mappings_are_legal_and_differ_from_the_fixed_ones():
    from rapid_mlir.fuzz.mappings import pinned_mappings
    from rapid_mlir.mapping.mapping import Mapping

    changed = 0
    for seed in range(12):
        module = generate(seed).module
        fixed = pinned_mappings(module, "rapid-4c", "small-tiles")
        rand = pinned_mappings(module, "rapid-4c", "random", seed)
        assert rand.keys() == fixed.keys()
        assert rand == pinned_mappings(module, "rapid-4c", "random", seed)  # seeded
        changed += sum(rand[k] != fixed[k] for k in rand)
        for m in rand.values():
            Mapping.from_dict(m)  # well formed (legality: convert-nn-to-tile checks it when compiling)
    assert changed > 10


def test_a_difference_within_the_fp16_rounding_spread_is_explained(tmp_path):
    """A sum of values that cancel: the float32 reference and the fp16 device differ by
    more than the fixed tolerance, and the graph's own rounding spread explains it."""
    from xdsl.dialects.builtin import ModuleOp

    from rapid_mlir.frontend.builder import GraphBuilder
    from rapid_mlir.dialects import nn
    from rapid_mlir.weights import WeightStore

    g = GraphBuilder()
    x = g.input("x", [64])
    g.output("y", g.add(nn.ReduceOp(x, "sum", [0], keepdims=True), name="s"))
    module, store = g.finish("weights.npz")
    assert isinstance(module, ModuleOp) and isinstance(store, WeightStore)
    rng = np.random.default_rng(0)
    big = rng.uniform(100, 200, 32).astype(np.float32)
    inputs = {"x": np.concatenate([big, -big + rng.uniform(-0.01, 0.01, 32).astype(np.float32)])}
    out = check_case(module, store, inputs, ["rapid-1c"], tmp_path)
    kinds = [f.kind for f in out.findings]
    assert EXPLAINED in kinds and MISMATCH not in kinds, out.findings
    assert "fp16 rounding spread" in next(f.message for f in out.findings if f.kind == EXPLAINED)


def test_a_real_difference_is_not_explained(tmp_path, monkeypatch):
    """A wrong result (here: one output element off by its own size) stays a mismatch,
    is shrunk, and saved with its original."""
    import rapid_mlir.fuzz.run as run

    real = run._compile_and_run

    def off_by_one(module, preset, mapping_file, weights, inputs, label, out):
        got = real(module, preset, mapping_file, weights, inputs, label, out)
        if got is not None and preset == "rapid-1c" and any(op.name == "nn.pad" for op in module.walk()):
            got = {k: v + 1.0 for k, v in got.items()}
        return got

    monkeypatch.setattr(run, "_compile_and_run", off_by_one)
    summary = campaign(3, cases=1, presets=["rapid-4c", "rapid-1c"], out_dir=tmp_path, shrink_seconds=30)
    assert summary.counts[MISMATCH] == 1 and summary.counts[EXPLAINED] == 0
    (seed, where, lines), = summary.failing
    assert seed == 3 and any("mismatch on rapid-1c" in line for line in lines)
    failure = (tmp_path / "case-3" / "failure.txt").read_text()
    assert "shrunk from 9 to" in failure and "mismatch on rapid-1c" in failure
    assert (tmp_path / "case-3" / "original" / "model.mlir").exists()
    small = (tmp_path / "case-3" / "model.mlir").read_text().count("nn.")
    assert small < (tmp_path / "case-3" / "original" / "model.mlir").read_text().count("nn.")


def test_parallel_jobs_give_the_same_summary(tmp_path):
    one = campaign(40, cases=4, presets=["rapid-1c"], out_dir=tmp_path / "a")
    two = campaign(40, cases=4, presets=["rapid-1c"], out_dir=tmp_path / "b", jobs=2)
    assert (one.graphs, one.ops, one.counts, one.runs) == (two.graphs, two.ops, two.counts, two.runs)


def test_rotation_runs_three_configurations_per_graph(tmp_path):
    summary = campaign(0, cases=3, presets=["rapid-4c", "rapid-1c", "rapid-32c"], out_dir=tmp_path,
                       mappings=MAPPING_VARIANTS, rotate=True)
    assert summary.runs == 9 and summary.failing == [], summary.lines()
