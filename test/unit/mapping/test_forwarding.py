"""Outputs kept in LX for the next layer (`mapping/forwarding.py`): the mapping clauses,
which pairs and mappings qualify, the cost model without the store and the load, the
dse strategy's pair decision, and the emulated program against the reference."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from rapid_mlir.cost import predict
from rapid_mlir.machine import load_machine
from rapid_mlir.mapping import dse, space
from rapid_mlir.mapping import problem as P
from rapid_mlir.mapping.forwarding import (
    can_consume,
    can_forward,
    check_pair,
    choose_pairs,
    flagged,
    keeps_output,
    pair_mappings,
    signature,
    takes_input,
)
from rapid_mlir.mapping.mapping import Mapping, MappingError

MACHINE = load_machine("rapid-4c")
C, H, O1, O2 = 16, 14, 32, 64
PRODUCER = P.conv2d("conv2", (1, C, H, H), (O1, C, 3, 3), (1, 1), (1, 1, 1, 1), (1, 1), 1)
CONSUMER = P.conv2d("conv3", (1, O1, H, H), (O2, O1, 1, 1), (1, 1), (0, 0, 0, 0), (1, 1), 1)
KEEP = ("cores(oh=2) corelets(ow=2) rows(oh,ow) cols(oc) simd(ic) order(n,g,oc,oh,ow,ic,kh,kw) "
        "lx(n=1,g=1,oc=32,oh=7,ow=7,ic=16,kh=3,kw=3) l0(oh=7,ow=7,oc=32,ic=16) double_buffer keep_output")
TAKE = ("cores(oh=2) corelets(ow=2) rows(oh,ow) cols(oc) simd(ic) order(n,g,oh,ow,oc,ic,kh,kw) "
        "lx(n=1,g=1,oc=32,oh=7,ow=7,ic=32,kh=1,kw=1) l0(oh=7,ow=7,oc=32,ic=32) double_buffer kept_input")


def test_the_clauses_round_trip_through_text_and_json():
    for text in (KEEP, TAKE, KEEP.replace("keep_output", "share_output")):
        m = Mapping.from_text(text)
        assert m.keep_output or m.share_output or m.kept_input
        assert Mapping.from_text(m.to_text()) == m == Mapping.from_dict(json.loads(m.to_json()))
    plain = Mapping.from_text(KEEP.replace(" keep_output", ""))
    assert "keep_output" not in plain.to_dict() and not plain.keep_output
    matmul = P.matmul("mm", 1, 4, 4, 4)
    with pytest.raises(MappingError, match="layer 'mm': keep_output is for conv2d layers, not matmul"):
        Mapping.from_text("rows(m) cols(n) simd(k) order(b,m,n,k) keep_output").validate(matmul)
    with pytest.raises(MappingError, match="keep_output \\(not stored\\) and share_output \\(stored too\\) exclude"):
        Mapping.from_text(KEEP + " share_output").validate(PRODUCER)


def test_only_a_1x1_conv_reading_the_whole_output_can_take_it():
    assert can_consume(CONSUMER) and can_forward(PRODUCER, CONSUMER)
    assert not can_consume(PRODUCER)  # 3x3: it needs its neighbours' rows
    strided = P.conv2d("s", (1, O1, H, H), (O2, O1, 1, 1), (2, 2), (0, 0, 0, 0), (1, 1), 1)
    assert not can_consume(strided)
    other = P.conv2d("o", (1, O1 + 1, H, H), (O2, O1 + 1, 1, 1), (1, 1), (0, 0, 0, 0), (1, 1), 1)
    assert not can_forward(PRODUCER, other)


def test_a_kept_tensor_is_every_corelets_whole_share_in_one_lx_tile():
    keep, take = Mapping.from_text(KEEP), Mapping.from_text(TAKE)
    assert keeps_output(PRODUCER, keep) and takes_input(CONSUMER, take)
    # Four corelets, each one 7 x 7 quarter of the image with all the channels.
    assert signature(PRODUCER, keep, "oc") == signature(CONSUMER, take, "ic")
    assert len(signature(PRODUCER, keep, "oc")) == 4
    check_pair(PRODUCER, keep, CONSUMER, take)
    stepped = dataclasses.replace(keep, lx={**keep.lx, "oc": 16}, l0={**keep.l0, "oc": 16})
    assert not keeps_output(PRODUCER, stepped)
    with pytest.raises(MappingError, match=r"layer 'conv2': keep_output needs every corelet to hold its whole "
                                           r"share in one LX tile, but lx\(oc=16\) steps through a share of 32"):
        check_pair(PRODUCER, stepped, CONSUMER, take)
    swapped = dataclasses.replace(take, cores={"ow": 2}, corelets={"oh": 2})
    with pytest.raises(MappingError, match="split the tensor differently"):
        check_pair(PRODUCER, keep, CONSUMER, swapped)
    split_oc = dataclasses.replace(take, corelets={"oc": 2}, lx={**take.lx, "ow": 14, "oc": 16},
                                   l0={**take.l0, "ow": 14, "oc": 16})
    assert signature(CONSUMER, split_oc, "ic") is None
    with pytest.raises(MappingError, match="the next layer splits its output channels"):
        check_pair(PRODUCER, keep, CONSUMER, split_oc)


def test_the_cost_model_leaves_out_the_kept_store_and_load():
    keep, take = Mapping.from_text(KEEP), Mapping.from_text(TAKE)
    stored = predict(PRODUCER, dataclasses.replace(keep, keep_output=False), MACHINE)
    kept = predict(PRODUCER, keep, MACHINE)
    assert stored.lx_to_dram_bytes == O1 * H * H * 2 and kept.lx_to_dram_bytes == 0
    assert kept.dram_to_lx_bytes == stored.dram_to_lx_bytes and kept.cycles < stored.cycles
    shared = predict(PRODUCER, dataclasses.replace(keep, keep_output=False, share_output=True), MACHINE)
    assert shared == stored  # kept and stored: the store stays
    loaded = predict(CONSUMER, dataclasses.replace(take, kept_input=False), MACHINE)
    taken = predict(CONSUMER, take, MACHINE)
    assert loaded.dram_to_lx_bytes - taken.dram_to_lx_bytes == O1 * H * H * 2  # the input, once per corelet
    assert taken.lx_to_dram_bytes == loaded.lx_to_dram_bytes and taken.cycles < loaded.cycles


def test_the_pair_search_offers_only_matching_legal_candidates_above_their_bound():
    producers = [m for m, _ in flagged(PRODUCER, list(space.candidates(PRODUCER, MACHINE)), "output")]
    assert producers and all(m.keep_output and keeps_output(PRODUCER, m) for m in producers)
    pair = pair_mappings(PRODUCER, CONSUMER, MACHINE, dse.default_cost, 1.0)
    pm, pc, cm, cc = pair.producer, pair.producer_cost, pair.consumer, pair.consumer_cost
    check_pair(PRODUCER, pm, CONSUMER, cm)
    assert pm.keep_output and cm.kept_input and space.is_legal(CONSUMER, cm, MACHINE)
    layout = signature(PRODUCER, pm, "oc")
    consumers = [m for m, sig in flagged(CONSUMER, list(space.candidates(CONSUMER, MACHINE)), "input")
                 if sig == layout]
    for m in consumers[:40]:
        check_pair(PRODUCER, pm, CONSUMER, m)
        assert dse.lower_bound(CONSUMER, m, MACHINE) <= predict(CONSUMER, m, MACHINE).cycles
    for m in producers[:40]:
        assert dse.lower_bound(PRODUCER, m, MACHINE) <= predict(PRODUCER, m, MACHINE).cycles
    assert (pc, cc) == (predict(PRODUCER, pm, MACHINE).cycles, predict(CONSUMER, cm, MACHINE).cycles)


def _pair_module(tmp_path, returned: bool = False):
    """conv2 (3x3, relu) -> conv3 (1x1, relu); with `returned`, conv2's output is a result too."""
    from rapid_mlir.dialects import nn
    from rapid_mlir.frontend.builder import GraphBuilder
    from rapid_mlir.ir_io import module_text

    g = GraphBuilder()
    x = g.input("x", [1, C, H, H])
    rng = np.random.default_rng(3)
    w1 = g.constant("w1", rng.standard_normal((O1, C, 3, 3)).astype(np.float32) / np.sqrt(9 * C))
    w2 = g.constant("w2", rng.standard_normal((O2, O1, 1, 1)).astype(np.float32) / np.sqrt(O1))
    a = g.add(nn.ReluOp(g.add(nn.Conv2DOp(x, w1, None, pads=(1, 1, 1, 1)), "conv2")))
    g.output("y", g.add(nn.ReluOp(g.add(nn.Conv2DOp(a, w2, None), "conv3"))))
    if returned:
        g.output("a", a)
    module, weights = g.finish("w.npz")
    weights.save(tmp_path / "w.npz")
    src = tmp_path / "pair.mlir"
    src.write_text(module_text(module))
    return src


def _rapidc(*args) -> int:
    from rapid_mlir.tools.rapidc import main as rapidc

    return rapidc([str(a) for a in args])


def test_dse_keeps_the_output_in_lx_and_it_runs_right_and_faster(tmp_path, capsys):
    from rapid_mlir.ir_io import read_module
    from rapid_mlir.pipeline import compile_module
    from rapid_mlir.reference.interpreter import run
    from rapid_mlir.reference.signature import find_entry, random_inputs, signature as entry_signature
    from rapid_mlir.runtime import load
    from rapid_mlir.weights import WeightStore

    src = _pair_module(tmp_path)
    dump = tmp_path / "maps.json"
    assert _rapidc(src, "--emit", "tile", "-o", tmp_path / "t.mlir", "--dump-mappings", dump, "--search-stats") == 0
    assert "/conv2 -> conv3: output kept in LX" in "/" + capsys.readouterr().err.split("dse ")[-1]
    maps = json.loads(dump.read_text())
    assert maps["conv2"].get("keep_output") and maps["conv3"].get("kept_input")
    ordinary = {name: {k: v for k, v in m.items() if k not in ("keep_output", "kept_input")}
                for name, m in maps.items()}
    pin = tmp_path / "ordinary.json"
    pin.write_text(json.dumps(ordinary))
    inputs = random_inputs(entry_signature(find_entry(read_module(str(src)))), 5)
    expected = run(read_module(str(src)), inputs, WeightStore.load(tmp_path / "w.npz"))["y"]
    cycles = {}
    for label, pins in (("kept", str(dump)), ("stored", str(pin))):
        program = compile_module(read_module(str(src)), "rapid-4c", pins, str(tmp_path / "w.npz"), strategy="fixed")
        result = load(program).run(inputs, check_races=True)
        np.testing.assert_allclose(result.outputs["y"], expected, rtol=0,
                                   atol=0.01 * float(np.abs(expected).max()))
        cycles[label] = result.cycles
    assert cycles["kept"] < cycles["stored"]
    # The model's two kernels against the emulated program (junctions add a few cycles).
    predicted = sum(predict(p, Mapping.from_dict(maps[p.layer]), MACHINE, bias=False).cycles
                    for p in (PRODUCER, CONSUMER))
    assert abs(predicted - cycles["kept"]) < 0.03 * cycles["kept"]


def test_an_output_another_op_reads_is_shared_and_cannot_be_pinned_kept(tmp_path, capsys):
    """conv2's output is also a result: dse keeps it in LX for conv3 and stores it too
    (`share_output`); `keep_output` (not stored) is refused."""
    from rapid_mlir.ir_io import read_module
    from rapid_mlir.pipeline import compile_module
    from rapid_mlir.reference.interpreter import run
    from rapid_mlir.reference.signature import find_entry, random_inputs, signature as entry_signature
    from rapid_mlir.runtime import load
    from rapid_mlir.weights import WeightStore

    src = _pair_module(tmp_path, returned=True)
    dump = tmp_path / "maps.json"
    assert _rapidc(src, "--emit", "tile", "-o", tmp_path / "t.mlir", "--dump-mappings", dump, "--search-stats") == 0
    assert "conv2 -> conv3: output shared in LX" in capsys.readouterr().err
    maps = json.loads(dump.read_text())
    assert maps["conv2"].get("share_output") and maps["conv3"].get("kept_input")
    assert not maps["conv2"].get("keep_output")
    inputs = random_inputs(entry_signature(find_entry(read_module(str(src)))), 5)
    expected = run(read_module(str(src)), inputs, WeightStore.load(tmp_path / "w.npz"))
    program = compile_module(read_module(str(src)), "rapid-4c", str(dump), str(tmp_path / "w.npz"), strategy="fixed")
    result = load(program).run(inputs, check_races=True)
    for name in ("y", "a"):
        np.testing.assert_allclose(result.outputs[name], expected[name], rtol=0,
                                   atol=0.01 * float(np.abs(expected[name]).max()))
    pin = tmp_path / "pin.json"
    pin.write_text(json.dumps({"conv2": Mapping.from_text(KEEP).to_dict(), "conv3": Mapping.from_text(TAKE).to_dict()}))
    capsys.readouterr()
    assert _rapidc(src, "--emit", "mem", "-o", tmp_path / "m.mlir", "--pin", pin) != 0
    err = capsys.readouterr().err
    assert ("layer 'conv2': keep_output: the output must be used by layer 'conv3' as its input and by nothing "
            "else (it is not stored to DRAM; share_output stores it as well)") in err and "Traceback" not in err
    assert not (tmp_path / "m.mlir").exists()


def test_the_pairs_taken_save_the_most_with_each_kernel_in_one():
    assert choose_pairs({}) == [] and choose_pairs({3: 1.0}) == [3]
    assert choose_pairs({0: 5.0, 1: 13.0, 2: 5.0}) == [1]  # a kernel in one pair at most
    assert choose_pairs({0: 5.0, 1: 3.0, 2: 5.0}) == [0, 2]
    assert choose_pairs({0: 1.0, 1: -2.0}) == [0]  # a loss is never taken
    assert choose_pairs({0: 5.0, 1: 10.0, 2: 5.0}) == [1]  # a tie: fewer pairs


def test_an_oc_split_output_feeds_an_ic_split_ring_consumer(tmp_path):
    """Each core keeps its quarter of the channels; the 1x1 conv reduces over them on the ring."""
    from rapid_mlir.ir_io import read_module
    from rapid_mlir.pipeline import compile_module
    from rapid_mlir.reference.interpreter import run
    from rapid_mlir.reference.signature import find_entry, random_inputs, signature as entry_signature
    from rapid_mlir.runtime import load
    from rapid_mlir.weights import WeightStore

    pm = next(m for m, _ in flagged(PRODUCER, list(space.candidates(PRODUCER, MACHINE)), "output")
              if m.cores == {"oc": 4})
    layout = signature(PRODUCER, pm, "oc")
    takers = [m for m, sig in flagged(CONSUMER, list(space.candidates(CONSUMER, MACHINE)), "input") if sig == layout]
    cm = dse.search_among(CONSUMER, MACHINE, takers).best
    assert cm.cores == {"ic": 4} and cm.kept_input
    check_pair(PRODUCER, pm, CONSUMER, cm)
    src = _pair_module(tmp_path)
    pin = tmp_path / "ring.json"
    pin.write_text(json.dumps({"conv2": pm.to_dict(), "conv3": cm.to_dict()}))
    inputs = random_inputs(entry_signature(find_entry(read_module(str(src)))), 7)
    expected = run(read_module(str(src)), inputs, WeightStore.load(tmp_path / "w.npz"))["y"]
    program = compile_module(read_module(str(src)), "rapid-4c", str(pin), str(tmp_path / "w.npz"), strategy="fixed")
    result = load(program).run(inputs, check_races=True)
    np.testing.assert_allclose(result.outputs["y"], expected, rtol=0, atol=0.01 * float(np.abs(expected).max()))
