"""Per-layer profile from an emulator trace: hand-computed figures and a real run."""

import numpy as np
import pytest

from rapid_mlir.dialects import nn
from rapid_mlir.frontend.builder import GraphBuilder
from rapid_mlir.machine import load_machine
from rapid_mlir.pipeline import compile_module
from rapid_mlir.runtime import load
from rapid_mlir.runtime.profile import format_profile, layer_profile


def ev(name, start, cycles, origin=None, macs=None, **extra):
    args = {"start_cycle": start, "cycles": cycles, **extra}
    if origin is not None:
        args["origin"] = origin
    if macs is not None:
        args["macs"] = macs
    return {"ph": "X", "cat": "instruction", "name": name, "args": args}


def test_hand_computed_figures():
    machine = load_machine("rapid-1c")   # 1 core x 2 corelets, 2 DMA queues
    events = [
        ev("dma.copy", 0, 100, "conv", bytes=4096, over="dram"), ev("mpe.mm", 100, 50, "conv", macs=1000),
        ev("mpe.mma", 150, 50, "conv", macs=1000), ev("sfu.copy", 200, 10, "conv"),
        ev("barrier", 210, 5),                              # no origin: left out
        ev("sfu.relu", 300, 40, "act"), ev("dma.copy", 300, 20, "act", bytes=512, over="ring"),
        {"ph": "X", "cat": "stall", "name": "wait s1", "args": {"start_cycle": 0, "cycles": 9}},
    ]
    conv, act = layer_profile(events, machine)
    assert (conv.layer, conv.start, conv.end, conv.cycles) == ("conv", 0, 210, 210)
    assert conv.macs == 2000 and conv.instructions == 4
    assert conv.mpe_utilization == pytest.approx(2000 / (210 * machine.peak_macs_per_cycle))
    assert conv.mpe_busy == pytest.approx(100 / (210 * 2))
    assert conv.dma_busy == pytest.approx(100 / (210 * 2))
    assert conv.bound == "compute"
    assert (conv.dram_bytes, conv.ring_bytes, act.dram_bytes, act.ring_bytes) == (4096, 0, 0, 512)
    assert (act.cycles, act.macs, act.bound) == (40, 0, "sfu")
    table = format_profile([conv, act], 340)
    assert "conv" in table.splitlines()[1] and "61.8%" in table.splitlines()[1]


def test_layer_macs_add_up_to_the_emulator_total(tmp_path):
    rng = np.random.default_rng(0)
    g = GraphBuilder()
    x = g.input("x", [1, 4, 8, 8])
    y = g.add(nn.Conv2DOp(x, g.constant("w1", rng.standard_normal((8, 4, 3, 3))), pads=(1, 1, 1, 1)), "first")
    y = g.add(nn.Conv2DOp(y, g.constant("w2", rng.standard_normal((8, 8, 1, 1)))), "second")
    g.output("y", y)
    module, store = g.finish("w.npz")
    store.save(tmp_path / "w.npz")
    program = compile_module(module, "rapid-4c", weights=str(tmp_path / "w.npz"))
    device = load(program)
    result = device.run(seed=1, trace=True)
    rows = layer_profile(result.trace_events, device.machine)
    assert [r.layer for r in rows] == ["first", "second"]
    assert sum(r.macs for r in rows) == result.stats["macs"] == 8 * 8 * 8 * 4 * 9 + 8 * 8 * 8 * 8
    moved = result.stats["bytes"]
    assert sum(r.dram_bytes for r in rows) == moved["dram_to_lx"] + moved["lx_to_dram"]
    assert sum(r.ring_bytes for r in rows) == moved["lx_to_lx"]
    assert rows[0].end <= rows[1].start  # the second layer starts after the first has ended
    assert all(0 < r.cycles <= result.cycles for r in rows)
