"""A short deterministic slice of the fuzzer (`make fuzz` runs the long campaign): a
fixed set of generated graphs, each compiled for two presets, emulated with the race
checks on, and compared with the reference and with each other. Also the fuzzer's own
plumbing: the tolerance, saving a failing case, and replaying it."""

import numpy as np

from rapid_mlir.fuzz.generate import generate
from rapid_mlir.fuzz.run import (CRASH, MAPPING_VARIANTS, MISMATCH, REJECTED, Finding, Outcome, campaign, compare,
                                 replay, save_case)
from rapid_mlir.tools.rapid_fuzz import main

SLICE_SEEDS = range(30)
SLICE_PRESETS = ("rapid-1c", "rapid-4c")


def test_fuzz_slice_finds_no_mismatch_and_no_crash(tmp_path):
    failing = []
    covered = set()
    for seed in SLICE_SEEDS:
        summary = campaign(seed, cases=1, presets=SLICE_PRESETS, out_dir=tmp_path)
        covered |= set(summary.ops)
        failing += [(seed, line) for _, _, lines in summary.failing for line in lines]
    assert failing == []
    assert len(covered) >= 25, sorted(covered)


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
    for line in ("graphs generated: 2", "presets tried: rapid-1c", "ops covered:", "mismatches: 0",
                 "crashes: 0", "rejections: 0"):
        assert line in out, out


def test_a_generator_crash_is_a_crash_not_a_pass(tmp_path, monkeypatch):
    import rapid_mlir.fuzz.run as run

    def broken(seed):
        raise RuntimeError("boom")

    monkeypatch.setattr(run, "generate", broken)
    summary = campaign(0, cases=1, presets=["rapid-1c"], out_dir=tmp_path)
    assert summary.counts[CRASH] == 1


def test_pinned_mapping_variants_agree(tmp_path):
    """The same graph with every layer pinned to a serial or a smaller-tiled variant of
    its mapping gives the same outputs (seed 3: gemms, batch norms, split, pad)."""
    summary = campaign(3, cases=1, presets=["rapid-4c"], out_dir=tmp_path, mappings=MAPPING_VARIANTS)
    assert summary.presets == ["rapid-4c", "rapid-4c+serial", "rapid-4c+small-tiles"]
    assert summary.failing == [] and summary.counts[REJECTED] == 0, summary.lines()
