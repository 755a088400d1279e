"""A residual add fused into a conv's epilogue (`convert_nn_to_tile.fused_residual`, the
dse strategy): which adds qualify, the problem and the cost model with the residual
operand, and the emulated program against the reference and the unfused baseline."""

from __future__ import annotations

import json

import numpy as np
import pytest

from rapid_mlir.cost import predict
from rapid_mlir.machine import load_machine
from rapid_mlir.mapping import dse
from rapid_mlir.mapping import problem as P
from rapid_mlir.mapping.mapping import Mapping

MACHINE = load_machine("rapid-4c")
C, H = 16, 14


def _block(tmp_path, *, later: bool = False, clamp: bool = False):
    """relu(conv2(relu(conv1(x))) + x); with `later`, the addend is computed after conv2
    (it cannot be fused); with `clamp`, conv2 clamps its own result (neither)."""
    from rapid_mlir.dialects import nn
    from rapid_mlir.frontend.builder import GraphBuilder
    from rapid_mlir.ir_io import module_text

    g = GraphBuilder()
    x = g.input("x", [1, C, H, H])
    rng = np.random.default_rng(4)
    w1, w2 = (g.constant(f"w{i}", rng.standard_normal((C, C, 3, 3)).astype(np.float32) / np.sqrt(9 * C))
              for i in (1, 2))
    b2 = g.constant("b2", rng.standard_normal(C).astype(np.float32))
    a = g.add(nn.ReluOp(g.add(nn.Conv2DOp(x, w1, None, pads=(1, 1, 1, 1)), "conv1")))
    y = g.add(nn.Conv2DOp(a, w2, b2, pads=(1, 1, 1, 1), **({"act_min": 0.0} if clamp else {})), "conv2")
    addend = g.add(nn.ReluOp(x)) if later else x
    g.output("y", g.add(nn.ReluOp(g.add(nn.AddOp(y, addend), "add"))))
    module, weights = g.finish("w.npz")
    weights.save(tmp_path / "w.npz")
    src = tmp_path / "block.mlir"
    src.write_text(module_text(module))
    return src


def _kernels(src, strategy: str = "dse") -> dict[str, list[str]]:
    """Kernel name -> the nn ops of its body, after convert-nn-to-tile."""
    from rapid_mlir.dialects.rapid_tile import KernelOp
    from rapid_mlir.ir_io import read_module
    from rapid_mlir.pipeline import nn_stage
    from rapid_mlir.transforms.convert_nn_to_tile import ConvertNnToTilePass

    module = read_module(str(src))
    nn_stage(module, "rapid-4c", str(src.parent / "w.npz"))
    ConvertNnToTilePass(machine="rapid-4c", strategy=strategy).apply(None, module)
    return {k.layer.data: [op.name for op in k.body.block.ops][:-1] for k in module.walk() if isinstance(k, KernelOp)}


def test_only_an_addend_computed_before_an_unclamped_conv_is_fused(tmp_path):
    fused = _kernels(_block(tmp_path))
    assert fused["conv2"] == ["nn.conv2d", "nn.add", "nn.relu"] and "add" not in fused
    assert _kernels(_block(tmp_path), "fixed")["add"] == ["nn.add", "nn.relu"]  # the baseline does not fuse
    assert _kernels(_block(tmp_path, later=True))["conv2"] == ["nn.conv2d"]
    assert _kernels(_block(tmp_path, clamp=True))["conv2"] == ["nn.conv2d"]


def test_the_residual_operand_costs_its_load_and_one_sfu_add_per_tile():
    plain = P.conv2d("c", (1, C, H, H), (C, C, 3, 3), (1, 1), (1, 1, 1, 1), (1, 1), 1)
    fused = P.with_residual(plain)
    assert P.with_residual(fused) is fused and fused.params["residual"] == 1
    assert [op.name for op in fused.operands][-1] == "residual" and plain.params.get("residual") is None
    mapping = dse.search(fused, MACHINE).best
    assert not any(mapping.cores.get(d, 1) > 1 for d in fused.reduction)  # no ring reduction offered
    a, b = predict(plain, mapping, MACHINE), predict(fused, mapping, MACHINE)
    assert b.dram_to_lx_bytes - a.dram_to_lx_bytes == C * H * H * 2  # the addend, once
    assert b.sfu_cycles > a.sfu_cycles and b.cycles >= a.cycles
    assert dse.compulsory_bytes(fused) - dse.compulsory_bytes(plain) == C * H * H * 2
    assert dse.lower_bound(fused, mapping, MACHINE) <= b.cycles


@pytest.mark.parametrize("machine", ["rapid-4c", "rapid-1c"])
def test_the_fused_block_runs_right_and_faster_than_the_baseline(tmp_path, machine):
    from rapid_mlir.ir_io import read_module
    from rapid_mlir.pipeline import compile_module
    from rapid_mlir.reference.interpreter import run
    from rapid_mlir.reference.signature import find_entry, random_inputs, signature
    from rapid_mlir.runtime import load
    from rapid_mlir.tools.rapidc import main as rapidc
    from rapid_mlir.weights import WeightStore

    src = _block(tmp_path)
    dump = tmp_path / "maps.json"
    assert rapidc([str(src), "--machine", machine, "--emit", "tile", "-o", str(tmp_path / "t.mlir"),
                   "--dump-mappings", str(dump)]) == 0
    inputs = random_inputs(signature(find_entry(read_module(str(src)))), 1)
    expected = run(read_module(str(src)), inputs, WeightStore.load(tmp_path / "w.npz"))["y"]
    cycles = {}
    for strategy in ("dse", "fixed"):
        pins = str(dump) if strategy == "dse" else None
        program = compile_module(read_module(str(src)), machine, pins, str(tmp_path / "w.npz"), strategy=strategy)
        result = load(program).run(inputs, check_races=True)
        np.testing.assert_allclose(result.outputs["y"], expected, rtol=0, atol=0.01 * float(np.abs(expected).max()))
        cycles[strategy] = result.cycles
    assert cycles["dse"] < cycles["fixed"]
    # The fused conv alone, emulated, against the model (bench/costmodel.py does this per zoo layer).
    from rapid_mlir.cost.harness import LayerSpec, emulate

    problem = P.conv2d("conv2", (1, C, H, H), (C, C, 3, 3), (1, 1), (1, 1, 1, 1), (1, 1), 1, residual=True)
    mapping = Mapping.from_dict(json.loads(dump.read_text())["conv2"])
    emulated = emulate(LayerSpec(problem, True, "relu"), mapping, machine)
    assert abs(predict(problem, mapping, load_machine(machine)).cycles - emulated) < 0.03 * emulated


def test_the_dumped_mappings_replay_the_fusion_and_a_wrong_pin_is_refused(tmp_path, capsys):
    """`residual_add` in the dumped mapping carries the decision: `--mapping dump.json` (the
    fixed strategy with every layer pinned) builds the dse program byte for byte."""
    from rapid_mlir.tools.rapidc import main as rapidc

    src = _block(tmp_path)
    dump = tmp_path / "maps.json"
    assert rapidc([str(src), "-o", str(tmp_path / "dse.rasm"), "--dump-mappings", str(dump)]) == 0
    assert json.loads(dump.read_text())["conv2"]["residual_add"] is True
    assert rapidc([str(src), "-o", str(tmp_path / "replay.rasm"), "--mapping", str(dump)]) == 0
    assert (tmp_path / "dse.rasm").read_text() == (tmp_path / "replay.rasm").read_text()
    maps = json.loads(dump.read_text())
    maps["conv1"]["residual_add"] = True  # conv1 feeds a relu, not an add
    wrong = tmp_path / "wrong.json"
    wrong.write_text(json.dumps(maps))
    capsys.readouterr()
    assert rapidc([str(src), "-o", str(tmp_path / "wrong.rasm"), "--pin", str(wrong)]) != 0
    err = capsys.readouterr().err
    assert "layer 'conv1': residual_add, but the layer's result does not only feed an nn.add" in err
    assert "Traceback" not in err and not (tmp_path / "wrong.rasm").exists()
