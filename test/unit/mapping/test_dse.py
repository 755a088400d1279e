"""The `dse` strategy: the mapping space (every candidate legal), the branch-and-bound search
(deterministic, equal to the exhaustive argmin, its bound a bound), infeasibility
explained, mapping files round-tripped through rapidc, and layers mapped by the search
computing the reference's results on the emulator.

The searches use `toy_cost`, not the cost model (`rapid_mlir.cost`), so these tests do
not depend on it: the MPE passes plus fill/drain per instruction of the busiest corelet,
against the DRAM traffic of its tiles (each operand reloaded for every step of the
stepped loops outside the innermost loop over its dims), plus a fixed cost per LX step.
"""

import dataclasses
import json
import math

import numpy as np
import pytest

from rapid_mlir.machine import load_machine
from rapid_mlir.mapping import dse, space
from rapid_mlir.mapping import problem as P
from rapid_mlir.mapping.mapping import MappingError, load_mapping_file
from rapid_mlir.transforms.convert_nn_to_tile import choose_mapping

MACHINES = ["rapid-1c", "rapid-4c", "rapid-32c"]

PROBLEMS = {
    "conv3x3": P.conv2d("conv3x3", (1, 16, 14, 14), (24, 16, 3, 3), (1, 1), (1, 1, 1, 1), (1, 1), 1),
    "conv-s2-batch2": P.conv2d("conv-s2-batch2", (2, 8, 9, 11), (12, 8, 3, 3), (2, 2), (1, 1, 1, 1), (1, 1), 1),
    "conv-groups": P.conv2d("conv-groups", (1, 16, 10, 10), (16, 8, 3, 3), (1, 1), (1, 1, 1, 1), (1, 1), 2),
    "conv1x1": P.conv2d("conv1x1", (1, 40, 8, 8), (20, 40, 1, 1), (1, 1), (0, 0, 0, 0), (1, 1), 1),
    "matmul": P.matmul("matmul", 1, 24, 20, 40),
    "dense": P.matmul("dense", 1, 4, 70, 300),
}
SMALL = ["conv3x3", "conv1x1", "matmul", "dense"]


def toy_cost(problem, mapping, machine) -> float:
    """A cost with the shape of a real one (module docstring); never below `dse.lower_bound`."""
    extent = {d: mapping.per_corelet_extent(problem, d) for d in problem.dims}
    steps = {d: -(-extent[d] // mapping.lx.get(d, 1)) for d in problem.dims}
    passes = dse.mpe_passes(problem, mapping, machine)
    instructions = math.prod(  # L0 tiles of the busiest corelet, times the non-spatial dims
        -(-extent[d] // mapping.lx.get(d, 1)) * -(-mapping.lx.get(d, 1) // mapping.l0.get(d, 1))
        if d in mapping.l0 else extent[d] for d in problem.dims)
    compute = passes + machine.mpe_fill_drain_cycles * instructions
    traffic = 0
    cores = math.prod(mapping.cores.values()) * math.prod(mapping.corelets.values())
    for op in problem.operands:
        tile = math.prod(mapping.lx.get(d, 1) for d in op.dims) * op.itemsize
        loads = math.prod(steps[d] for d in op.dims)
        inner = max((mapping.order.index(d) for d in op.dims if steps[d] > 1), default=-1)
        loads *= math.prod(steps[d] for d in mapping.order[:inner] if d not in op.dims)
        traffic += tile * loads * cores
    traffic = max(traffic, dse.compulsory_bytes(problem))
    memory = traffic / machine.dram_bytes_per_cycle
    overhead = 50 * math.prod(steps.values()) * (1 if mapping.double_buffer else 2)
    tiles = dse.output_tiles(problem, mapping)  # an epilogue and a store per output tile
    epilogue = sum(machine.sfu_latency_cycles + -(-t // machine.sfu_lanes) for t in tiles)
    stores = len(tiles) * machine.dram_latency_cycles
    return max(compute, memory, epilogue, stores) + overhead


# -- the space ---------------------------------------------------------------------------------


@pytest.mark.parametrize("machine", MACHINES)
@pytest.mark.parametrize("name", list(PROBLEMS))
def test_every_candidate_is_legal_and_distinct(name, machine):
    problem, desc = PROBLEMS[name], load_machine(machine)
    found = list(space.candidates(problem, desc))
    assert found, "the space of a small layer is not empty"
    for m in found:
        space.check_legal(problem, m, desc)  # validate, check_fits, one DMA queue per corelet
        assert m.rows + m.cols + m.simd == sum(space.SPATIAL[problem.kind], ())
        assert len([p for p in m.cores.values() if p > 1]) <= 1 and len(m.corelets) <= 1
        assert not set(m.corelets) & set(problem.reduction)
        if problem.kind == "conv2d":
            assert m.lx["kh"] == problem.dims["kh"] and m.lx["n"] == m.lx["g"] == 1
            assert "ic" not in m.cores or problem.dims["n"] == problem.dims["g"] == 1
    assert len(set(found)) == len(found)


def test_the_space_of_a_resnet_conv_is_thousands_not_millions():
    conv = P.conv2d("res3x3", (1, 64, 56, 56), (64, 64, 3, 3), (1, 1), (1, 1, 1, 1), (1, 1), 1)
    assert 1000 <= space.space_size(conv, load_machine("rapid-4c")) <= 50_000


def test_vector_layers_have_no_space_and_keep_the_fixed_mapping():
    from rapid_mlir.mapping.fixed import fixed_mapping

    relu = P.elementwise("relu", (1, 8, 4, 4), [(1, 8, 4, 4)])
    with pytest.raises(MappingError, match="keeps the fixed mapping"):
        next(space.candidates(relu, load_machine("rapid-4c")))
    chosen = choose_mapping(relu, load_machine("rapid-4c"), "dse", {}, cost=toy_cost)
    assert chosen == fixed_mapping(relu, load_machine("rapid-4c"))


# -- the search --------------------------------------------------------------------------------


@pytest.mark.parametrize("machine", MACHINES)
@pytest.mark.parametrize("name", SMALL)
def test_pruned_search_finds_the_exhaustive_argmin(name, machine):
    problem, desc = PROBLEMS[name], load_machine(machine)
    pruned = dse.search(problem, desc, toy_cost, budget_seconds=100.0)
    full = dse.exhaustive(problem, desc, toy_cost)
    assert pruned.best == full.best and pruned.best_cost == full.best_cost
    assert pruned.enumerated == full.enumerated == pruned.evaluated + pruned.pruned
    assert pruned.bound_violations == 0 and pruned.over_budget == 0


@pytest.mark.parametrize("name", SMALL)
def test_the_lower_bound_is_a_lower_bound(name):
    problem, desc = PROBLEMS[name], load_machine("rapid-4c")
    for m in space.candidates(problem, desc):
        assert dse.lower_bound(problem, m, desc) <= toy_cost(problem, m, desc)


def test_pruning_prunes():
    conv = P.conv2d("res3x3", (1, 64, 28, 28), (64, 64, 3, 3), (1, 1), (1, 1, 1, 1), (1, 1), 1)
    result = dse.search(conv, load_machine("rapid-32c"), toy_cost, budget_seconds=100.0)
    assert result.pruned > result.evaluated


def test_search_is_deterministic():
    problem, desc = PROBLEMS["conv3x3"], load_machine("rapid-4c")
    a, b = (dse.search(problem, desc, toy_cost, budget_seconds=0.05) for _ in range(2))
    assert dataclasses.replace(a, seconds=0) == dataclasses.replace(b, seconds=0)
    assert a.runner_up is not None and a.best_cost <= a.runner_up_cost


def test_the_budget_counts_evaluations_not_seconds():
    problem, desc = PROBLEMS["conv3x3"], load_machine("rapid-4c")
    tiny = dse.search(problem, desc, toy_cost, budget_seconds=1 / dse.EVALUATIONS_PER_SECOND, prune=False)
    assert tiny.evaluated == 1 and tiny.over_budget == tiny.enumerated - 1
    assert tiny.truncated and tiny.enumerated == dse.CANDIDATES_PER_SECOND // dse.EVALUATIONS_PER_SECOND
    assert tiny.runner_up is None and "no runner-up" in tiny.summary()


def test_summary_line():
    result = dse.search(PROBLEMS["matmul"], load_machine("rapid-4c"), toy_cost)
    line = result.summary()
    assert line.startswith("matmul: ") and "candidates" in line and "pruned" in line and " s; best " in line
    assert "\n" not in line


def test_identical_layers_share_a_search():
    cache: dict = {}
    desc = load_machine("rapid-4c")
    first = dse.cached_search(PROBLEMS["matmul"], desc, toy_cost, 1.0, cache)
    again = dse.cached_search(dataclasses.replace(PROBLEMS["matmul"], layer="twin"), desc, toy_cost, 1.0, cache)
    assert again.best == first.best and again.layer == "twin" and "reused" in again.summary()


def test_the_default_cost_is_the_cost_model_or_a_clear_error():
    problem, desc = PROBLEMS["matmul"], load_machine("rapid-1c")
    mapping = next(space.candidates(problem, desc))
    try:
        from rapid_mlir.cost import predict  # noqa: F401
    except ImportError:
        with pytest.raises(MappingError, match="needs the cost model"):
            dse.default_cost(problem, mapping, desc)
    else:
        assert dse.default_cost(problem, mapping, desc) > 0


# -- infeasibility --------------------------------------------------------------------------------


def test_a_layer_nothing_fits_names_the_tensor_and_the_buffer():
    tiny = dataclasses.replace(load_machine("rapid-1c"), lx_bytes=64 * 1024)
    huge = P.conv2d("huge", (1, 1, 200, 200), (1, 1, 200, 200), (1, 1), (0, 0, 0, 0), (1, 1), 1)
    result = dse.search(huge, tiny, toy_cost)
    assert result.best is None and result.enumerated == 0
    assert "layer 'huge'" in result.explanation and "input tile (200x200 f16)" in result.explanation
    assert "bytes of LX" in result.explanation and "no mapping fits" in result.summary()
    with pytest.raises(MappingError, match="input tile .* bytes of LX .* the dse strategy found no mapping"):
        choose_mapping(huge, tiny, "dse", {}, cost=toy_cost)


# -- the pass, rapidc, mapping files -----------------------------------------------------------------

CONV = """
func.func @main(%x: tensor<1x16x14x14xf32> {nn.name = "x"}, %w: tensor<24x16x3x3xf32> {nn.name = "w"}) -> (tensor<1x24x14x14xf32> {nn.name = "y"}) {
  %y = nn.conv2d %x, %w strides [1, 1] pads [1, 1, 1, 1] dilations [1, 1] groups 1 {nn.name = "conv"} : (tensor<1x16x14x14xf32>, tensor<24x16x3x3xf32>) -> tensor<1x24x14x14xf32>
  %r = nn.relu %y : tensor<1x24x14x14xf32>
  func.return %r : tensor<1x24x14x14xf32>
}
"""
MM = """
func.func @main(%a: tensor<24x40xf32> {nn.name = "a"}, %b: tensor<40x20xf32> {nn.name = "b"}) -> (tensor<24x20xf32> {nn.name = "y"}) {
  %y = nn.matmul %a, %b {nn.name = "mm"} : (tensor<24x40xf32>, tensor<40x20xf32>) -> tensor<24x20xf32>
  %s = nn.sigmoid %y : tensor<24x20xf32>
  func.return %s : tensor<24x20xf32>
}
"""


@pytest.fixture
def toy_model(monkeypatch):
    """The toy cost in place of the cost model (choose_mapping reads `dse.default_cost`)."""
    monkeypatch.setattr(dse, "default_cost", toy_cost)


@pytest.mark.parametrize("text, machine", [(CONV, "rapid-4c"), (MM, "rapid-1c"), (MM, "rapid-32c")])
def test_dse_mapped_layers_match_the_reference(toy_model, text, machine):
    from rapid_mlir.backend.isa_ir import module_to_program
    from rapid_mlir.ir_io import parse_module
    from rapid_mlir.pipeline import passes, run_passes
    from rapid_mlir.reference.interpreter import run
    from rapid_mlir.reference.signature import find_entry, random_inputs, signature
    from rapid_mlir.runtime import load

    pipeline = [dataclasses.replace(p, strategy="dse") if p.name == "convert-nn-to-tile" else p
                for p in passes(machine)]
    module = parse_module(text)
    run_passes(module, pipeline)
    program = module_to_program(module)
    inputs = random_inputs(signature(find_entry(parse_module(text))), 0)
    expected = run(parse_module(text), inputs)["y"]
    result = load(program).run(inputs, check_races=True)
    scale = float(np.abs(expected).max()) + 1.0
    np.testing.assert_allclose(result.outputs["y"], expected, rtol=0, atol=0.02 * scale)


def test_dumped_mappings_feed_back_to_the_same_program(toy_model, tmp_path, capsys):
    from rapid_mlir.tools.rapidc import main as rapidc

    src = tmp_path / "conv.mlir"
    src.write_text(CONV)
    dumped, first, again = tmp_path / "maps.json", tmp_path / "a.rbin", tmp_path / "b.rbin"
    assert rapidc([str(src), "-o", str(first), "--mapping", "dse", "--dump-mappings", str(dumped),
                   "--search-stats"]) == 0
    stats = capsys.readouterr().err
    assert "dse conv: " in stats and "candidates" in stats and "runner-up" in stats
    maps = load_mapping_file(dumped)
    assert list(maps) == ["conv"]  # the relu joined the conv's kernel
    assert rapidc([str(src), "-o", str(again), "--mapping", str(dumped)]) == 0
    assert first.read_bytes() == again.read_bytes()
    # The dump of a pinned compilation is the pin itself.
    redumped = tmp_path / "again.json"
    assert rapidc([str(src), "-o", str(again), "--mapping", "dse", "--pin", str(dumped),
                   "--dump-mappings", str(redumped)]) == 0
    assert json.loads(redumped.read_text()) == json.loads(dumped.read_text())
    assert first.read_bytes() == again.read_bytes()


def test_fixed_mappings_dump_too(tmp_path):
    from rapid_mlir.mapping.fixed import fixed_mapping
    from rapid_mlir.tools.rapidc import main as rapidc

    src = tmp_path / "mm.mlir"
    src.write_text(MM)
    dumped = tmp_path / "maps.json"
    assert rapidc([str(src), "--emit", "tile", "--machine", "rapid-1c", "--mapping", "fixed",
                   "--dump-mappings", str(dumped)]) == 0
    maps = load_mapping_file(dumped)
    assert list(maps) == ["mm", "sigmoid_0"]
    assert maps["mm"] == fixed_mapping(P.matmul("mm", 1, 24, 20, 40), load_machine("rapid-1c"))


@pytest.mark.parametrize("argv, message", [
    (["--mapping", "dse", "--pin", "nothere.json"], "--pin: nothere.json is not an existing JSON file"),
    (["--budget", "0"], "must be positive"),
    (["--emit", "nn", "--dump-mappings", "x.json"], "stops before the mappings are chosen"),
])
def test_rapidc_option_errors(tmp_path, capsys, argv, message):
    from rapid_mlir.tools.rapidc import main as rapidc

    src = tmp_path / "mm.mlir"
    src.write_text(MM)
    assert rapidc([str(src), *argv]) == 1
    assert message in capsys.readouterr().err


def test_the_estimate_counts_a_pipeline_restart_per_output_tile():
    """Two corelets (loads and stores on one queue each), two LX output tiles of four
    reduction steps each: the restart term is one step's share of the DRAM time per
    output tile after the first. Per corelet: lhs 8x16 tiles loaded 8 times (2,048 B), rhs
    16x16 loaded 8 times (4,096 B), output 8x16 twice (512 B); two corelets: 13,312 B.
    Single-buffered: double-buffered, the lowering rotates the output tiles (rotation.py)
    and only the first restarts."""
    from rapid_mlir.mapping.mapping import Mapping

    desc = load_machine("rapid-1c")
    problem = P.matmul("m", 1, 32, 16, 64)
    mapping = Mapping(corelets={"m": 2}, rows=("m",), cols=("n",), simd=("k",), order=("b", "m", "n", "k"),
                      lx={"b": 1, "m": 8, "n": 16, "k": 16}, l0={"m": 8, "n": 8, "k": 16}, double_buffer=False)
    bound = dse.lower_bound(problem, mapping, desc)
    memory = 13312 / desc.dram_bytes_per_cycle
    restart = dse.estimate(problem, mapping, desc, bound) - dse.estimate(problem, mapping, desc, bound, False)
    assert restart == pytest.approx(memory * (2 - 1) / 8)
    # one output tile, a split reduction, separate load and store queues, or rotated: no restart
    for other in (dataclasses.replace(mapping, lx={"b": 1, "m": 16, "n": 16, "k": 16}),
                  dataclasses.replace(mapping, corelets={"k": 2}),
                  dataclasses.replace(mapping, corelets={}),
                  dataclasses.replace(mapping, double_buffer=True)):
        b = dse.lower_bound(problem, other, desc)
        assert dse.estimate(problem, other, desc, b) == dse.estimate(problem, other, desc, b, False)


def test_mpe_passes_count_every_tile_pair_even_of_equal_size():
    """oh 14 in L0 tiles of 8 and 6, ow 28 in LX tiles of 16 and 12: the four row tiles
    hold 128, 96, 96 and 72 outputs (two of 96), 16 + 12 + 12 + 9 = 49 passes of 8 rows."""
    from rapid_mlir.mapping.mapping import Mapping

    desc = load_machine("rapid-1c")
    problem = P.conv2d("c", (1, 8, 14, 28), (8, 8, 1, 1), (1, 1), (0, 0, 0, 0), (1, 1), 1)
    mapping = Mapping(rows=("oh", "ow"), cols=("oc",), simd=("ic",), order=tuple(problem.dims),
                      lx={"n": 1, "g": 1, "oc": 8, "oh": 14, "ow": 16, "ic": 8, "kh": 1, "kw": 1},
                      l0={"oh": 8, "ow": 16, "oc": 8, "ic": 8})
    assert dse.mpe_passes(problem, mapping, desc) == 49
    assert sorted(dse.output_tiles(problem, mapping)) == [72 * 8, 96 * 8, 96 * 8, 128 * 8]


def test_the_estimate_of_a_single_buffered_mapping_adds_its_loads_to_the_mpe_time():
    """With one LX slot a step's loads wait for the previous step's work. One corelet, 32 x
    16 x 1024 in LX tiles of 8 x 16 x 256: 1,024 MPE passes in 512 instructions, 16 LX
    steps; loads lhs 16 x 4,096 B and rhs 16 x 8,192 B, stores 4 x 256 B of output."""
    from rapid_mlir.mapping.mapping import Mapping

    desc = load_machine("rapid-1c")
    problem = P.matmul("m", 1, 32, 16, 1024)
    single = Mapping(rows=("m",), cols=("n",), simd=("k",), order=("b", "m", "n", "k"),
                     lx={"b": 1, "m": 8, "n": 16, "k": 256}, l0={"m": 8, "n": 8, "k": 16}, double_buffer=False)
    mpe = 1024 + 512 * desc.mpe_fill_drain_cycles
    loads, memory = 196608 / desc.dram_bytes_per_cycle, 197632 / desc.dram_bytes_per_cycle
    bound = dse.lower_bound(problem, single, desc)
    assert bound == mpe
    assert dse.estimate(problem, single, desc, bound) == pytest.approx(
        mpe + loads + 16 * desc.dram_latency_cycles)
    double = dataclasses.replace(single, double_buffer=True)
    assert dse.estimate(problem, double, desc, bound) == pytest.approx(
        max(bound, memory) + 8 * desc.dram_latency_cycles)


@pytest.mark.parametrize("kernel, stride, pad, in_hw, traffic", [
    # 3x3 over 8x8: two LX steps of 4 rows read 6 input rows each (halo), all 8 columns
    # (10 with the halo, but the image has 8): 2 x 768 B; the weight (no stepped dim) once.
    (3, 1, 1, 8, (2 * 8 * 6 * 8 * 2 + 8 * 8 * 9 * 2, 2 * 8 * 4 * 8 * 2)),
    # 1x1 stride 2 over 16x16: 4 output rows read 7 input rows, 8 columns read 15.
    (1, 2, 0, 16, (2 * 8 * 7 * 15 * 2 + 8 * 8 * 2, 2 * 8 * 4 * 8 * 2)),
])
def test_dram_traffic_counts_a_conv_input_tile_as_its_window(kernel, stride, pad, in_hw, traffic):
    from rapid_mlir.mapping.mapping import Mapping

    problem = P.conv2d("c", (1, 8, in_hw, in_hw), (8, 8, kernel, kernel), (stride, stride), (pad,) * 4, (1, 1), 1)
    assert problem.dims["oh"] == problem.dims["ow"] == 8
    mapping = Mapping(rows=("oh", "ow"), cols=("oc",), simd=("ic",), order=tuple(problem.dims),
                      lx={"n": 1, "g": 1, "oc": 8, "oh": 4, "ow": 8, "ic": 8, "kh": kernel, "kw": kernel},
                      l0={"oh": 4, "ow": 8, "oc": 8, "ic": 8})
    assert dse.dram_traffic(problem, mapping) == traffic
