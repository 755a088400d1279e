"""Elementwise groups (`transforms/elementwise_groups.py`, `sfu_group.py`; the dse strategy):
which ops join, the kernel's loop nest, and emulated programs against onnxruntime, numpy
and the same program with one kernel per op."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from rapid_mlir.dialects import nn

CELL = Path(__file__).parents[2] / "filecheck" / "inputs" / "lstm-cell.mlir"


def _cell():
    from rapid_mlir.ir_io import read_module
    from rapid_mlir.transforms.convert_nn_to_tile import defined_functions

    fn = defined_functions(read_module(str(CELL)))[0]
    ops = list(fn.body.block.ops)
    return fn, {op.attributes["nn.name"].data: op for op in ops if "nn.name" in op.attributes}, \
        {o: i for i, o in enumerate(ops)}


def test_an_lstm_step_is_one_group_with_its_inputs_and_outputs():
    from rapid_mlir.transforms.elementwise_groups import find_group, group_problem

    fn, ops, position = _cell()
    group = find_group(ops["t1.gates"], position)
    assert [op.attributes["nn.name"].data for op in group.ops] == [
        "t1.gates", "t1.gates.split", "t1.sigmoid", "t1.sigmoid.split", "t1.tanh", "t1.i_cand", "t1.f_c", "t1.c",
        "t1.c.tanh", "t1.h"]
    assert group.inputs == list(fn.body.block.args)
    assert group.outputs == [ops["t1.c"].results[0], ops["t1.h"].results[0]]
    problem = group_problem("t1.gates", group)
    assert problem.dims == {"m": 2} and problem.params == {"group": 1}
    # rows of f16: inputs 32, 32 and 8 wide; intermediates gates 32, sigmoid 24, and 8 for
    # tanh, i_cand, f_c, c.tanh; outputs c and h
    assert [(op.name, op.itemsize) for op in problem.operands] == [
        ("input0", 64), ("input1", 64), ("input2", 16), ("temp0", 64), ("temp1", 48), ("temp2", 16),
        ("temp3", 16), ("temp4", 16), ("temp5", 16), ("output0", 16), ("output1", 16)]


def test_an_op_reading_a_value_computed_after_the_head_stays_out():
    from rapid_mlir.frontend.builder import GraphBuilder
    from rapid_mlir.transforms.elementwise_groups import find_group

    _, ops, position = _cell()
    # From the sigmoid on, the candidate's tanh reads only a value from before the head: it
    # joins when i_cand reads it.
    group = find_group(ops["t1.sigmoid"], position)
    assert [op.attributes["nn.name"].data for op in group.ops] == [
        "t1.sigmoid", "t1.sigmoid.split", "t1.tanh", "t1.i_cand", "t1.f_c", "t1.c", "t1.c.tanh", "t1.h"]
    # A layer pinned on its own does not join (nor what needs it); nothing reads h: no group.
    group = find_group(ops["t1.gates"], position, lambda op: op is not ops["t1.c"])
    assert [op.attributes["nn.name"].data for op in group.ops][-3:] == ["t1.tanh", "t1.i_cand", "t1.f_c"]
    assert find_group(ops["t1.h"], position) is None
    assert find_group(ops["t1.gates.split"], position) is None  # a split does not head one
    # relu(x) + x @ w: the product is computed after the relu, so the add cannot join it.
    g = GraphBuilder()
    x, w = g.input("x", [4, 4]), g.input("w", [4, 4])
    r = g.add(nn.ReluOp(x))
    s = g.add(nn.AddOp(r, g.add(nn.MatmulOp(x, w))))
    g.output("y", g.add(nn.TanhOp(s)))
    module, _ = g.finish()
    block = next(iter(module.ops)).body.block
    assert find_group(r.owner, {o: i for i, o in enumerate(block.ops)}) is None


def test_broadcasts_other_axes_and_host_ops_do_not_join():
    from xdsl.dialects.builtin import UnitAttr

    from rapid_mlir.frontend.builder import GraphBuilder
    from rapid_mlir.transforms.elementwise_groups import member
    from rapid_mlir.transforms.host_lowering import HOST_ATTR

    g = GraphBuilder()
    x = g.input("x", [4, 6])
    row = g.input("row", [6])
    b = g.add(nn.AddOp(x, row))
    s = g.add_multi(nn.SplitOp(x, 0, [2, 2]))
    t = g.add_multi(nn.SplitOp(x, 1, [3, 3]))
    r = nn.ReluOp(x)
    r.attributes[HOST_ATTR] = UnitAttr()
    assert not member(r)                # runs on the host
    assert not member(b.owner)          # broadcasts row
    assert not member(s[0].owner)       # splits the rows
    assert member(t[0].owner)           # splits the last axis
    assert member(nn.TanhOp(x)) and member(nn.MulOp(x, x))


def _lstm(tmp_path, kind: str = "lstm", batch: int = 2):
    from rapid_mlir.models import sequence

    if kind == "lstm":
        model = sequence.lstm_lm(seed=0, batch=batch, seq=3, vocab=50, embed=8, hidden=8, layers=2)
    else:
        model = sequence.gru_classifier(seed=0, batch=batch, seq=3, features=6, hidden=8, classes=5)
    path = tmp_path / f"{kind}.onnx"
    path.write_bytes(model.SerializeToString())
    return model, path


def _run(module, machine, weights, feeds, **options):
    from rapid_mlir.pipeline import compile_module
    from rapid_mlir.runtime import load

    result = load(compile_module(module.clone(), machine, weights=weights, **options)).run(feeds, check_races=True)
    return result.outputs, result.cycles


@pytest.mark.parametrize("kind,machine", [("lstm", "rapid-1c"), ("lstm", "rapid-4c"), ("gru", "rapid-4c")])
def test_grouped_cells_run_right_and_faster_than_one_kernel_per_op(tmp_path, kind, machine):
    """dse groups each step's cell; the same mappings without the groups (the dump with
    the group heads' pins left out, replayed under fixed) give the same bits, more cycles."""
    from rapid_mlir.frontend.onnx import import_onnx
    from rapid_mlir.models import zoo
    from rapid_mlir.reference.onnx_export import run_onnxruntime

    model, _ = _lstm(tmp_path, kind)
    feeds = zoo.example_inputs(model, seed=1)
    expected = run_onnxruntime(model, feeds)
    module, store = import_onnx(model, weights_file="w.npz")
    weights = str(tmp_path / "w.npz")
    store.save(weights)
    dump = tmp_path / "dse.json"
    grouped, cycles = _run(module, machine, weights, feeds, dump_mappings=str(dump))
    maps = json.loads(dump.read_text())
    heads = [name for name, m in maps.items() if m.get("group")]
    assert len(heads) >= 3  # one per step and layer (or direction)
    alone = tmp_path / "alone.json"
    alone.write_text(json.dumps({name: m for name, m in maps.items() if name not in heads}))
    ungrouped, alone_cycles = _run(module, machine, weights, feeds, mapping_file=str(alone), strategy="fixed")
    for name, want in expected.items():
        np.testing.assert_allclose(grouped[name], want, rtol=0, atol=0.01 * float(np.abs(want).max()))
        np.testing.assert_array_equal(grouped[name], ungrouped[name])
    assert cycles < alone_cycles


@pytest.mark.parametrize("pin", [
    {"cores": {"m": 4}, "corelets": {}, "lx": {"m": 64}},    # 250 rows a core: 3 steps of 64 and 58
    {"cores": {}, "corelets": {"m": 2}, "lx": {"m": 96}},    # 500 a corelet: pairs of slots, a peeled one
])
def test_a_group_of_many_rows_steps_through_lx_on_every_core(tmp_path, pin):
    """sigmoid(a) * tanh(b) + a over 1000 x 24 rows, its first 16 columns clipped to
    [0, 1.5] and the other 8 stored as they are (a split part read with the row stride):
    loops, double-buffered slots and a ragged last step, against numpy."""
    from rapid_mlir.frontend.builder import GraphBuilder
    from rapid_mlir.ir_io import module_text, read_module
    from rapid_mlir.pipeline import compile_module
    from rapid_mlir.runtime import load

    g = GraphBuilder()
    a, b = g.input("a", [10, 100, 24]), g.input("b", [10, 100, 24])
    y = g.add(nn.AddOp(g.add(nn.MulOp(g.add(nn.SigmoidOp(a), "sig"), g.add(nn.TanhOp(b), "tanh")), "mul"), a), "sum")
    lo, hi = g.add_multi(nn.SplitOp(y, 2, [16, 8]), "halves")
    g.output("lo", g.add(nn.ClipOp(lo, 0.0, 1.5), "clip"))
    g.output("hi", hi)
    module, _ = g.finish()
    src = tmp_path / "g.mlir"
    src.write_text(module_text(module))
    mapping = {"rows": [], "cols": [], "simd": [], "order": ["m"], "l0": {}, "double_buffer": True, "group": True,
               **pin}
    pins = tmp_path / "pin.json"
    pins.write_text(json.dumps({"sig": mapping}))
    program = compile_module(read_module(str(src)), "rapid-4c", str(pins), strategy="fixed")
    rng = np.random.default_rng(3)
    feeds = {"a": rng.standard_normal((10, 100, 24)).astype(np.float32),
             "b": rng.standard_normal((10, 100, 24)).astype(np.float32)}
    out = load(program).run(feeds, check_races=True).outputs
    want = 1 / (1 + np.exp(-feeds["a"])) * np.tanh(feeds["b"]) + feeds["a"]
    np.testing.assert_allclose(out["lo"], np.clip(want[..., :16], 0, 1.5), rtol=0, atol=5e-3 * np.abs(want).max())
    np.testing.assert_allclose(out["hi"], want[..., 16:], rtol=0, atol=5e-3 * np.abs(want).max())


def test_the_dump_replays_the_groups_and_a_wrong_pin_is_refused(tmp_path, capsys):
    from rapid_mlir.tools.rapidc import main as rapidc

    _, path = _lstm(tmp_path)
    dump = tmp_path / "maps.json"
    assert rapidc([str(path), "-o", str(tmp_path / "dse.rasm"), "--dump-mappings", str(dump)]) == 0
    maps = json.loads(dump.read_text())
    assert maps["/rnn.l0/LSTM.t1.gates"]["group"] is True and "/rnn.l0/LSTM.t1.h" not in maps
    assert rapidc([str(path), "-o", str(tmp_path / "replay.rasm"), "--mapping", str(dump)]) == 0
    assert (tmp_path / "dse.rasm").read_text() == (tmp_path / "replay.rasm").read_text()
    wrong = tmp_path / "wrong.json"
    wrong.write_text(json.dumps({"/rnn.l0/LSTM.t1.h": maps["/rnn.l0/LSTM.t1.gates"]}))
    capsys.readouterr()
    assert rapidc([str(path), "-o", str(tmp_path / "wrong.rasm"), "--pin", str(wrong)]) != 0
    err = capsys.readouterr().err
    assert "layer '/rnn.l0/LSTM.t1.h': group, but no other elementwise op" in err
    assert "Traceback" not in err and not (tmp_path / "wrong.rasm").exists()
    maps = {"/rnn.l0/LSTM.t1.gates": {**maps["/rnn.l0/LSTM.t1.gates"], "group": False}}
    wrong.write_text(json.dumps(maps))  # a group's mapping without `group`: the add's own layer
    assert rapidc([str(path), "-o", str(tmp_path / "wrong.rasm"), "--pin", str(wrong)]) != 0
    assert "layer '/rnn.l0/LSTM.t1.gates': cores(m=...) names no dimension of the layer (dimensions: d0, d1)" in capsys.readouterr().err
